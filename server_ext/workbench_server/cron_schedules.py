"""Temporal Schedules that start one workflow on a cron, as the core keeps them for
catalog scans and lake maintenance: put (create or replace), read back, delete.

Temporal turns a cron string into calendars; the schedule's note keeps the text we were
given so it reads back as written.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
)
from temporalio.service import RPCError, RPCStatusCode

from workbench_pipelines.spec_cron import cron_problem, timezone_problem

from .errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from .core import Workbench

CRON_NOTE = ", cron: "


class CronSchedule(BaseModel):
    cron: str
    timezone: str
    paused: bool = False
    next_runs: list[datetime] = []


async def put_cron_schedule(
    workbench: Workbench,
    schedule_id: str,
    workflow: str,
    request: Any,
    cron: str,
    timezone: str,
    what: str,
) -> None:
    """Start ``workflow`` with ``request`` on ``cron`` (skipping a firing while the last
    one runs); ``what`` names the job in the schedule's note."""
    # Named as a pipeline file's schedule names them: which field, and what is wrong.
    if problem := cron_problem(cron):
        raise InvalidInputError(f"cron: bad cron expression {cron!r}: {problem}")
    if problem := timezone_problem(timezone):
        raise InvalidInputError(f"timezone: {problem}")
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            workflow, request, id=schedule_id, task_queue=workbench.settings.task_queue
        ),
        spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=timezone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=f"{what}{CRON_NOTE}{cron}"),
    )
    client = await workbench.temporal_client()
    try:
        await client.get_schedule_handle(schedule_id).update(
            lambda _: ScheduleUpdate(schedule=schedule)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        await client.create_schedule(schedule_id, schedule)


async def read_cron_schedule(workbench: Workbench, schedule_id: str, missing: str) -> CronSchedule:
    """The schedule as it was put; :class:`NotFoundError` saying ``missing`` if none."""
    client = await workbench.temporal_client()
    try:
        described = await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(missing) from None
        raise
    spec = described.schedule.spec
    note = described.schedule.state.note or ""
    return CronSchedule(
        cron=note.partition(CRON_NOTE)[2] or (spec.cron_expressions or [""])[0],
        timezone=spec.time_zone_name or "UTC",
        paused=described.schedule.state.paused,
        next_runs=list(described.info.next_action_times[:3]),
    )


async def delete_cron_schedule(workbench: Workbench, schedule_id: str, missing: str) -> None:
    client = await workbench.temporal_client()
    try:
        await client.get_schedule_handle(schedule_id).delete()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(missing) from None
        raise
