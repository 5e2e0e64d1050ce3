"""Lake maintenance run by the worker: optimize then vacuum a lake's Delta tables.

Started by a Temporal Schedule (``workbench lake schedule``) or on demand. The work runs
in a thread while the activity heartbeats, so a worker that dies mid-run is noticed and
the run is retried elsewhere; optimize and vacuum are safe to run again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.common import RetryPolicy
    from temporalio.exceptions import ApplicationError

    from workbench_server.lake.models import (
        LAKE_MAINTENANCE_WORKFLOW,
        LakeMaintenanceRequest,
        LakeMaintenanceResult,
    )

if TYPE_CHECKING:
    from workbench_server.core import Workbench

HEARTBEAT_EVERY_S = 5.0


class LakeMaintenanceActivities:
    def __init__(self, workbench: Workbench) -> None:
        self.workbench = workbench

    def _maintain(self, request: LakeMaintenanceRequest) -> LakeMaintenanceResult:
        from workbench_server.lake import Lake, WriterInfo
        from workbench_server.lake.maintenance import maintain
        from workbench_server.principal import Principal

        if request.lake is None:
            lake = Lake.default(self.workbench.settings)
        else:  # as the connection's owner, who may use it
            lake = Lake.of(self.workbench, Principal(name=request.owner or ""), request.lake)
        info = activity.info()
        writer = WriterInfo(
            run_id=info.workflow_id, step="maintenance", attempt=info.attempt, tool="maintenance"
        )
        return LakeMaintenanceResult(
            results=maintain(
                lake.location,
                request.tables,
                do_optimize=request.optimize,
                do_vacuum=request.vacuum,
                settings=lake.settings,
                writer=writer,
            )
        )

    @activity.defn(name="workbench.lake_maintenance")
    async def lake_maintenance(self, request: LakeMaintenanceRequest) -> LakeMaintenanceResult:
        from workbench_server.errors import WorkbenchError

        job = asyncio.ensure_future(asyncio.to_thread(self._maintain, request))
        while not job.done():
            activity.heartbeat()
            await asyncio.wait({job}, timeout=HEARTBEAT_EVERY_S)
        try:
            return job.result()
        except WorkbenchError as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__) from None


@workflow.defn(name=LAKE_MAINTENANCE_WORKFLOW)
class LakeMaintenanceWorkflow:
    """Maintain one lake; a run cut short by a dead worker is retried."""

    @workflow.run
    async def run(self, request: LakeMaintenanceRequest) -> LakeMaintenanceResult:
        return await workflow.execute_activity(
            "workbench.lake_maintenance",
            request,
            result_type=LakeMaintenanceResult,
            start_to_close_timeout=timedelta(hours=6),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                maximum_attempts=3,
                initial_interval=timedelta(seconds=60),
                non_retryable_error_types=["NotFoundError", "InvalidInputError"],
            ),
        )
