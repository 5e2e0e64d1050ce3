"""Lake maintenance on the worker: a Temporal Schedule per lake, or one run now.

The schedule ``lake-maintenance`` (the default lake) or ``lake-maintenance-NAME`` (a
lake connection) starts the ``workbench.LakeMaintenance`` workflow, which optimizes then
vacuums every Delta table of the lake with each layer's retention; Temporal does the
timing and skips a firing while the previous run still goes. The default lake is every
user's: only admins schedule it. A lake connection's schedule is its owner's (or an
admin's), and maintenance runs as the owner.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

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

from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ..principal import Principal
from .location import DEFAULT_LAKE
from .models import LAKE_MAINTENANCE_WORKFLOW, LakeMaintenanceRequest

if TYPE_CHECKING:
    from ..core import Workbench

CRON_NOTE = ", cron: "


class MaintenanceSchedule(BaseModel):
    lake: str
    cron: str
    timezone: str
    paused: bool = False
    next_runs: list[datetime] = []


def schedule_id(lake: str | None) -> str:
    return "lake-maintenance" if lake in (None, DEFAULT_LAKE) else f"lake-maintenance-{lake}"


def _request(
    workbench: Workbench, principal: Principal, lake: str | None, change: bool
) -> LakeMaintenanceRequest:
    """What the worker runs for ``lake``, once ``principal`` may see (and, if ``change``,
    schedule) it."""
    if lake in (None, DEFAULT_LAKE):
        if change and not principal.admin:
            raise PermissionDeniedError(
                "the default lake is every user's: only an admin may schedule its maintenance"
            )
        return LakeMaintenanceRequest(lake=None)
    from sqlalchemy import select

    from ..connections.service import usable_by
    from ..db.models import Connection

    with workbench.sessions() as session:
        row = session.scalar(select(Connection).where(Connection.name == lake))
    if row is None or not usable_by(principal, row) or row.kind != "lake":
        raise NotFoundError(f"no lake connection named {lake!r}")
    if change and not principal.may_change(row.owner):
        raise PermissionDeniedError(
            f"only the owner of {lake!r} or an admin may schedule its maintenance"
        )
    return LakeMaintenanceRequest(lake=lake, owner=row.owner)


async def set_maintenance_schedule(
    workbench: Workbench,
    principal: Principal,
    lake: str | None,
    cron: str,
    timezone: str = "UTC",
) -> MaintenanceSchedule:
    request = _request(workbench, principal, lake, change=True)
    problem = cron_problem(cron) or timezone_problem(timezone)
    if problem:
        raise InvalidInputError(problem)
    sid = schedule_id(lake)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            LAKE_MAINTENANCE_WORKFLOW,
            request,
            id=sid,
            task_queue=workbench.settings.task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=timezone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=f"maintenance of lake {lake or DEFAULT_LAKE}{CRON_NOTE}{cron}"),
    )
    client = await workbench.temporal_client()
    handle = client.get_schedule_handle(sid)
    try:
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        await client.create_schedule(sid, schedule)
    return await get_maintenance_schedule(workbench, principal, lake)


async def get_maintenance_schedule(
    workbench: Workbench, principal: Principal, lake: str | None
) -> MaintenanceSchedule:
    _request(workbench, principal, lake, change=False)
    client = await workbench.temporal_client()
    try:
        described = await client.get_schedule_handle(schedule_id(lake)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(
                f"lake {lake or DEFAULT_LAKE!r} has no maintenance schedule"
            ) from None
        raise
    note = described.schedule.state.note or ""
    spec = described.schedule.spec
    return MaintenanceSchedule(
        lake=lake or DEFAULT_LAKE,
        cron=note.partition(CRON_NOTE)[2] or (spec.cron_expressions or [""])[0],
        timezone=spec.time_zone_name or "UTC",
        paused=described.schedule.state.paused,
        next_runs=list(described.info.next_action_times[:3]),
    )


async def delete_maintenance_schedule(
    workbench: Workbench, principal: Principal, lake: str | None
) -> None:
    _request(workbench, principal, lake, change=True)
    client = await workbench.temporal_client()
    try:
        await client.get_schedule_handle(schedule_id(lake)).delete()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(
                f"lake {lake or DEFAULT_LAKE!r} has no maintenance schedule"
            ) from None
        raise


async def start_maintenance(
    workbench: Workbench,
    principal: Principal,
    lake: str | None,
    tables: list[str] | None = None,
) -> str:
    """Start one maintenance run on the worker now; its workflow id."""
    request = _request(workbench, principal, lake, change=True)
    request = request.model_copy(update={"tables": tables})
    client = await workbench.temporal_client()
    workflow_id = f"{schedule_id(lake)}-{uuid.uuid4().hex[:12]}"
    await client.start_workflow(
        LAKE_MAINTENANCE_WORKFLOW,
        request,
        id=workflow_id,
        task_queue=workbench.settings.task_queue,
    )
    return workflow_id
