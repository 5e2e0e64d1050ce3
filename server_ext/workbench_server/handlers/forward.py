"""Hub modes: a user server forwards ``/workbench/api/*`` to the hub's workbench service.

Under JupyterHub the core (metadata DB, secrets key, Temporal client) runs once, as the
hub-managed workbench service (``workbench_hub.service``); a user server holds none of
it. Every request is passed on with this server's own hub API token, which the service
resolves with the hub to this server's user and groups: whoever may use this server acts
as its owner, exactly as the kernels started here do. The lab panels call the same URLs
as in local mode and notice nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import tornado.web
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..connections.kernel_access import KernelSql
from ..errors import InvalidInputError, NotFoundError, SourceUnavailableError
from ..pipelines.bundle import MAX_BUNDLE_BYTES, PipelineBundle
from .base import WorkbenchHandler
from .kernel import KernelRouteHandler
from .pipelines import FileRef, PipelineBaseHandler, ValidateHandler

# Headers of the service's answer that the browser or kernel needs to see.
PASSED_HEADERS = ("Content-Type", "Cache-Control", "Content-Disposition", "Retry-After")
WITH_BODY = ("POST", "PUT", "PATCH")


def _without_tokens(query: str) -> str:
    """The query without ``token=``: the browser's token for this server is no business
    of the service (which knows this server by its hub token) and must not reach it."""
    if "token" not in query:
        return query
    kept = [part for part in query.split("&") if part.partition("=")[0] != "token"]
    return "&".join(kept)


@dataclass(frozen=True)
class ServiceForwarder:
    """Where the workbench service is and how this server proves whose it is."""

    url: str  # the service's base URL, ending in "/"
    hub_token: str
    timeout: float

    async def forward(
        self, handler: tornado.web.RequestHandler, path: str, body: bytes | None = None
    ) -> None:
        """Pass the request on (with ``body``, JSON, instead of the request's if given)."""
        if any(part in ("", ".", "..") for part in path.split("/")[:-1]) or "\\" in path:
            # Only workbench routes go on: no way out of /workbench/api/ on the service.
            raise NotFoundError(f"no workbench route {path!r}")
        request = handler.request
        target = f"{self.url}workbench/api/{path}"
        query = _without_tokens(request.query)
        if query:
            target += f"?{query}"
        headers = {"Authorization": f"token {self.hub_token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        elif "Content-Type" in request.headers:
            headers["Content-Type"] = request.headers["Content-Type"]
        if body is None and request.method in WITH_BODY:
            body = request.body
        try:
            answer = await AsyncHTTPClient().fetch(
                HTTPRequest(
                    target,
                    method=request.method or "GET",
                    headers=headers,
                    body=body,
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

    max_body_bytes = MAX_BUNDLE_BYTES  # the service bounds each route's body itself

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
    async def put(self, path: str) -> None:
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
        kernel_id = self._check_kernel_token()
        body = None
        if path == "kernel/lineage" and kernel_id is not None:
            # The job is the kernel's notebook as this server knows it, not the kernel's say.
            item = KernelSql.model_validate_json(self.request.body or b"{}")
            notebook = await self._notebook_of(kernel_id)
            item.job = f"notebook:{notebook}" if notebook else "kernel"
            body = item.model_dump_json().encode()
        await self.settings["workbench_service"].forward(self, path, body)


class DeployHandler(PipelineBaseHandler):
    """Deploy a pipeline file of this server's folder: the service cannot read it, so the
    file and its notebooks go to it as a bundle, once they are known to be valid."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        ref = FileRef.model_validate_json(self.request.body or b"{}")
        if ref.path is None:
            raise InvalidInputError("path: the pipeline file to deploy is required")
        # Off the event loop: checking reads the YAML and every notebook.
        bundle = await asyncio.to_thread(PipelineBundle.of, self._file(ref.path), ref.path)
        body = FileRef(bundle=bundle).model_dump_json(exclude_none=True).encode()
        await self.settings["workbench_service"].forward(self, "pipelines/deploy", body)


ROUTES = [
    (r"(?P<path>kernel/.*)", KernelForwardHandler),
    # Pipeline files live in this server's folder: checked here, deployed as a bundle.
    ("pipelines/validate", ValidateHandler),
    ("pipelines/deploy", DeployHandler),
    (r"(?P<path>.*)", ForwardHandler),
]
