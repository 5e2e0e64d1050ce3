"""``/workbench/api/sla/at-risk``: pipelines whose SLA an upstream pipeline's trouble
puts at risk, among those the caller may see."""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import TypeAdapter

from ..pipelines.registry import PipelineRegistry
from ..sla.risk import SlaRiskOut, visible_risks
from .base import WorkbenchHandler


class AtRiskHandler(WorkbenchHandler):
    auth_resource = "workbench.pipelines"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        def find() -> list[SlaRiskOut]:
            visible = PipelineRegistry(self.workbench, self.principal).visible_ids()
            return visible_risks(self.workbench, visible)

        risks = await asyncio.to_thread(find)
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[SlaRiskOut]).dump_json(risks))


ROUTES = [("sla/at-risk", AtRiskHandler)]
