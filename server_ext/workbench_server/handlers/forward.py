"""Hub modes: a user server forwards ``/workbench/api/*`` to the hub's workbench service.

Under JupyterHub the core (metadata DB, secrets key, Temporal client) runs once, as the
hub-managed workbench service (``workbench_hub.service``); a user server holds none of
it. Every request is passed on with this server's own hub API token, which the service
resolves with the hub to this server's user and groups: whoever may use this server acts
as its owner, exactly as the kernels started here do. The lab panels call the same URLs
as in local mode and notice nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import tornado.web
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..errors import NotFoundError, SourceUnavailableError
from .base import WorkbenchHandler
from .kernel import KernelRouteHandler

# Headers of the service's answer that the browser or kernel needs to see.
PASSED_HEADERS = ("Content-Type", "Cache-Control", "Content-Disposition")
WITH_BODY = ("POST", "PUT", "PATCH")


@dataclass(frozen=True)
class ServiceForwarder:
    """Where the workbench service is and how this server proves whose it is."""

    url: str  # the service's base URL, ending in "/"
    hub_token: str
    timeout: float

    async def forward(self, handler: tornado.web.RequestHandler, path: str) -> None:
        if any(part in ("", ".", "..") for part in path.split("/")[:-1]) or "\\" in path:
            # Only workbench routes go on: no way out of /workbench/api/ on the service.
            raise NotFoundError(f"no workbench route {path!r}")
        request = handler.request
        target = f"{self.url}workbench/api/{path}"
        if request.query:
            target += f"?{request.query}"
        headers = {"Authorization": f"token {self.hub_token}"}
        if "Content-Type" in request.headers:
            headers["Content-Type"] = request.headers["Content-Type"]
        try:
            answer = await AsyncHTTPClient().fetch(
                HTTPRequest(
                    target,
                    method=request.method or "GET",
                    headers=headers,
                    body=request.body if request.method in WITH_BODY else None,
                    request_timeout=self.timeout,
                    follow_redirects=False,
                    allow_nonstandard_methods=True,
                ),
                raise_error=False,
            )
        except (HTTPClientError, OSError) as exc:  # refused, reset, timed out
            raise SourceUnavailableError(
                f"the workbench service at {self.url} did not answer ({exc}); "
                "ask the hub's administrator to check the service 'workbench'"
            ) from None
        if answer.code == 599:  # tornado's code for "no HTTP answer at all"
            raise SourceUnavailableError(
                f"the workbench service at {self.url} did not answer ({answer.error})"
            )
        handler.set_status(answer.code, answer.reason)
        for name in PASSED_HEADERS:
            if name in answer.headers:
                handler.set_header(name, answer.headers[name])
        handler.finish(answer.body if answer.code != 204 else None)


class ForwardHandler(WorkbenchHandler):
    """Every workbench route, for the browser user of this server."""

    async def _forward(self, path: str) -> None:
        await self.settings["workbench_service"].forward(self, path)

    @tornado.web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._forward(path)

    @tornado.web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self._forward(path)

    @tornado.web.authenticated
    @authorized
    async def patch(self, path: str) -> None:
        await self._forward(path)

    @tornado.web.authenticated
    @authorized
    async def delete(self, path: str) -> None:
        await self._forward(path)


class KernelForwardHandler(KernelRouteHandler):
    """The kernel routes, for kernels of this server (their token, not a login)."""

    @allow_unauthenticated
    async def get(self, path: str) -> None:
        self._check_kernel_token()
        await self.settings["workbench_service"].forward(self, path)

    @allow_unauthenticated
    async def post(self, path: str) -> None:
        self._check_kernel_token()
        await self.settings["workbench_service"].forward(self, path)


ROUTES = [
    (r"(?P<path>kernel/.*)", KernelForwardHandler),
    (r"(?P<path>.*)", ForwardHandler),
]
