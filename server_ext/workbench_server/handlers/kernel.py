"""REST for workbench kernels: the connections (with credentials) a kernel may use.

Kernels cannot log in like a browser. The server extension gives the kernels it starts
a token of their own (``WORKBENCH_KERNEL_TOKEN`` in their environment, never on a
command line or in a file); this route accepts only that token, and answers only with
the connections the server's user may use. The browser token does not work here, and
this token works nowhere else. In the hub's workbench service there are no kernels: user
servers call these routes for their kernels with their user's hub token instead.
"""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import allow_unauthenticated
from tornado.web import HTTPError

from ..connections.kernel_access import (
    KernelSql,
    KernelUsage,
    UsableQuery,
    bearer_token,
    catalog_lake_writes,
    kernel_bootstrap,
    record_kernel_sql,
    record_kernel_usage,
    usable_connections,
)
from ..lineage.export import export_configured
from .base import WorkbenchHandler


class KernelRouteHandler(WorkbenchHandler):
    auth_resource = "workbench.kernel"

    def check_xsrf_cookie(self) -> None:
        """No cookie authenticates here: the kernel token comes in a header a browser
        never adds on its own, so cross-site requests cannot use it."""

    def _check_kernel_token(self) -> str | None:
        """The id of the kernel of this server making the request, or 403.

        In the hub's workbench service (no kernels of its own) user servers pass their
        kernels' calls on with their user's hub token instead; None there."""
        kernels = self.settings["workbench_kernels"]
        if kernels is None:
            # The service's identity provider has checked the user server's hub token.
            if self.current_user is None:
                raise HTTPError(403, "a JupyterHub API token of a user server is required")
            return None
        kernel_id = kernels.kernel_of_token(
            bearer_token(self.request.headers.get("Authorization", ""))
        )
        if kernel_id is None:
            raise HTTPError(403, "a workbench kernel token is required")
        return kernel_id

    async def _notebook_of(self, kernel_id: str) -> str | None:
        """The path (in this server's folder) of the notebook whose kernel this is."""
        for session in await self.serverapp.session_manager.list_sessions():
            if (session.get("kernel") or {}).get("id") == kernel_id:
                return session.get("path")
        return None


class KernelConnectionsHandler(KernelRouteHandler):
    # Authenticated by the kernel token instead of Jupyter's login.
    @allow_unauthenticated
    async def get(self) -> None:
        self._check_kernel_token()
        self.set_header("Cache-Control", "no-store")
        self.write_json(kernel_bootstrap(self.workbench, self.principal))


class KernelUsableHandler(KernelRouteHandler):
    """Whether the kernel's user may still use the connections it is about to use."""

    @allow_unauthenticated
    async def post(self) -> None:
        self._check_kernel_token()
        query = UsableQuery.model_validate_json(self.request.body or b"{}")
        names = await asyncio.to_thread(
            usable_connections, self.workbench, self.principal, query.names
        )
        self.set_header("Cache-Control", "no-store")
        self.write_json({"usable": names})


class KernelUsageHandler(KernelRouteHandler):
    """Tables a kernel's query read, counted for search ranking."""

    @allow_unauthenticated
    async def post(self) -> None:
        self._check_kernel_token()
        usage = KernelUsage.model_validate_json(self.request.body or b"{}")
        await asyncio.to_thread(record_kernel_usage, self.workbench, self.principal, usage)
        self.set_status(204)
        self.finish()


class KernelLineageHandler(KernelRouteHandler):
    """Statements a kernel ran that write data: their lineage, job = the notebook."""

    @allow_unauthenticated
    async def post(self) -> None:
        kernel_id = self._check_kernel_token()
        item = KernelSql.model_validate_json(self.request.body or b"{}")
        item.job = await self._job(kernel_id, item.job)

        principal = self.principal

        def record() -> None:
            recorded = record_kernel_sql(self.workbench, principal, item)
            if recorded is not None:
                catalog_lake_writes(self.workbench, principal, recorded)
            if recorded is not None and export_configured(self.workbench.settings):
                from ..lineage.openlineage import emit_statement, emitter_of

                emit_statement(emitter_of(self.workbench), item.job, recorded, item.sql)

        await asyncio.to_thread(record)
        self.set_status(204)
        self.finish()

    async def _job(self, kernel_id: str | None, claimed: str) -> str:
        """The lineage job of a kernel's statement, decided here, never by the kernel:
        ``notebook:<path>`` of the kernel's notebook on this server (under the user's
        name, ``notebook:<user>/<path>``, when they administer nothing: whose notebook it
        is decides who reads its path in lineage); in the hub's service, the path a user
        server claims, under its user's name."""
        if kernel_id is not None:
            path = await self._notebook_of(kernel_id)
            if path and not self.principal.admin:
                return f"notebook:{self.principal.name}/{path.lstrip('/')}"
            return f"notebook:{path}" if path else "kernel"
        path = claimed.removeprefix("notebook:") if claimed.startswith("notebook:") else ""
        return f"notebook:{self.principal.name}/{path.lstrip('/')}" if path else "kernel"


ROUTES = [
    ("kernel/connections", KernelConnectionsHandler),
    ("kernel/connections/usable", KernelUsableHandler),
    ("kernel/usage", KernelUsageHandler),
    ("kernel/lineage", KernelLineageHandler),
]
