"""``/workbench/metrics``: the server's Prometheus metrics, for the scrape token only.

Not under jupyter-server's own ``/metrics`` (that one is jupyter-server's, behind a
Jupyter login). A Prometheus server holds no Jupyter or hub login: this route asks for
the scrape token instead, and the scrape token opens no other route.
"""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from prometheus_client import CONTENT_TYPE_LATEST

from ..metrics.exposition import UNAUTHORIZED, exposition
from ..metrics.queries import KERNEL_QUERY_TIMINGS_PATH, QueryTimings, observe
from ..metrics.query_log import record
from .kernel import KernelRouteHandler

PATH = "workbench/metrics"


class MetricsHandler(ExtensionHandlerMixin, JupyterHandler):
    """Prometheus' text format, for a bearer of the scrape token."""

    @allow_unauthenticated
    async def get(self) -> None:
        token = self.settings.get("workbench_scrape_token")
        if token is None:
            self.set_status(503)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(
                "metrics are off: the scrape token could not be read (the server log says why)\n"
            )
            return
        if not token.allows(self.request.headers.get("Authorization")):
            # 403 like every other workbench route refused to an anonymous caller.
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(UNAUTHORIZED)
            return
        metrics = self.settings["workbench_metrics"]
        await metrics.refresh()
        # The DB part is cached, but a cache refresh is a query: off the event loop.
        body = await asyncio.to_thread(exposition, metrics.registry)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


ROUTES = [(PATH, MetricsHandler)]


class KernelQueryTimingsHandler(KernelRouteHandler):
    """``%sql`` timings a kernel of this server reports (its kernel token, not a login)."""

    @allow_unauthenticated
    async def post(self) -> None:
        self._check_kernel_token()
        report = QueryTimings.model_validate_json(self.request.body or b"{}")
        observe(report)
        # For the built-in engine's SlowQueries rule too (it has no Prometheus to ask).
        await asyncio.to_thread(record, self.workbench, report)
        self.set_status(204)
        self.finish()


# Under /workbench/api/, beside the other kernel routes.
API_ROUTES = [
    (KERNEL_QUERY_TIMINGS_PATH.removeprefix("/workbench/api/"), KernelQueryTimingsHandler)
]
