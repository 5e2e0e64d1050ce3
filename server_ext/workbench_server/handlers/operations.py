"""``/workbench/api/operations/summary``: the Operations view's figures, over the
pipelines the caller may see."""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..operations.runs import Window
from ..operations.summary import summary
from ..pipelines.registry import PipelineRegistry
from .base import WorkbenchHandler


class OperationsSummaryHandler(WorkbenchHandler):
    auth_resource = "workbench.pipelines"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        window = Window.parse(self.get_query_argument("window", "7d"))
        principal = self.principal
        visible = await asyncio.to_thread(PipelineRegistry(self.workbench, principal).visible_ids)
        metrics = self.settings.get("workbench_metrics")
        report = await summary(
            self.workbench,
            window,
            visible,
            user=principal.name,
            admin=principal.admin,
            collector=getattr(metrics, "task_queue", None),
            timeout=self.settings["workbench_health_timeout"],
        )
        self.write_json(report)


ROUTES = [("operations/summary", OperationsSummaryHandler)]
