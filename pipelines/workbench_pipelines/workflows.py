"""Workflow definitions. Workflows are deterministic: all I/O happens in activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import WorkerInfo, ping


@workflow.defn(name="workbench.Ping")
class PingWorkflow:
    """Round trip through a worker: used to check that the run engine works end to end."""

    @workflow.run
    async def run(self) -> WorkerInfo:
        return await workflow.execute_activity(ping, start_to_close_timeout=timedelta(seconds=10))
