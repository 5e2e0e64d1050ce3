"""``/workbench/api/sla/at-risk``: pipelines whose SLA an upstream pipeline's trouble
puts at risk, among those the caller may see; ``/workbench/api/sla/datasets``: the
freshness SLAs of datasets, declared by the pipelines the caller may see."""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import TypeAdapter

from ..errors import InvalidInputError
from ..pipelines.registry import PipelineRegistry
from ..sla.freshness import STATUSES, DatasetSlaOut, visible_freshness
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


class DatasetsHandler(WorkbenchHandler):
    """Each dataset's freshness SLA: its last write, age, status (ok, at_risk, missed),
    deadline and misses; ``?status=`` keeps one status."""

    auth_resource = "workbench.pipelines"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        status = self.get_query_argument("status", None)
        if status is not None and status not in STATUSES:
            raise InvalidInputError(f"status: one of {', '.join(STATUSES)}")

        def find() -> list[DatasetSlaOut]:
            visible = PipelineRegistry(self.workbench, self.principal).visible_ids()
            return visible_freshness(self.workbench, visible, status)  # type: ignore[arg-type]

        found = await asyncio.to_thread(find)
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[DatasetSlaOut]).dump_json(found))


ROUTES = [("sla/at-risk", AtRiskHandler), ("sla/datasets", DatasetsHandler)]
