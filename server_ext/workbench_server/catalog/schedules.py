"""Scans through the worker: a Temporal Schedule per connection, or one scan now.

The schedule ``catalog-scan-NAME`` starts ``CatalogScanWorkflow`` for the connection;
Temporal does the timing and skips a firing while the previous scan still runs. Only
the connection's owner and admins may schedule its scans.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import select
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

from workbench_pipelines.plan import CATALOG_SCAN_WORKFLOW, CatalogScanRequest
from workbench_pipelines.spec_cron import cron_problem, timezone_problem

from ..connections.service import usable_by
from ..db.models import Connection
from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ..principal import Principal

if TYPE_CHECKING:
    from ..core import Workbench


class ScanSchedule(BaseModel):
    connection: str
    cron: str
    timezone: str
    paused: bool = False
    next_runs: list[datetime] = []


CRON_NOTE = ", cron: "


def scan_schedule_id(name: str) -> str:
    return f"catalog-scan-{name}"


def _owned(workbench: Workbench, principal: Principal, name: str, change: bool) -> Connection:
    with workbench.sessions() as session:
        row = session.scalar(select(Connection).where(Connection.name == name))
    if row is None or not usable_by(principal, row):
        raise NotFoundError(f"no connection named {name!r}")
    if change and not principal.may_change(row.owner):
        raise PermissionDeniedError(
            f"only the owner of {name!r} or an admin may schedule its catalog scans"
        )
    return row


async def set_scan_schedule(
    workbench: Workbench, principal: Principal, name: str, cron: str, timezone: str = "UTC"
) -> ScanSchedule:
    _owned(workbench, principal, name, change=True)
    problem = cron_problem(cron) or timezone_problem(timezone)
    if problem:
        raise InvalidInputError(problem)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            CATALOG_SCAN_WORKFLOW,
            CatalogScanRequest(connection=name),
            id=scan_schedule_id(name),
            task_queue=workbench.settings.task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=timezone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=f"catalog scan of {name}{CRON_NOTE}{cron}"),
    )
    client = await workbench.temporal_client()
    handle = client.get_schedule_handle(scan_schedule_id(name))
    try:
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        await client.create_schedule(scan_schedule_id(name), schedule)
    return await get_scan_schedule(workbench, principal, name)


async def get_scan_schedule(workbench: Workbench, principal: Principal, name: str) -> ScanSchedule:
    _owned(workbench, principal, name, change=False)
    client = await workbench.temporal_client()
    try:
        described = await client.get_schedule_handle(scan_schedule_id(name)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(f"connection {name!r} has no scan schedule") from None
        raise
    spec = described.schedule.spec
    # The server turns cron strings into calendars; the note keeps the text we were given.
    note = described.schedule.state.note or ""
    return ScanSchedule(
        connection=name,
        cron=note.partition(CRON_NOTE)[2] or (spec.cron_expressions or [""])[0],
        timezone=spec.time_zone_name or "UTC",
        paused=described.schedule.state.paused,
        next_runs=list(described.info.next_action_times[:3]),
    )


async def delete_scan_schedule(workbench: Workbench, principal: Principal, name: str) -> None:
    _owned(workbench, principal, name, change=True)
    client = await workbench.temporal_client()
    try:
        await client.get_schedule_handle(scan_schedule_id(name)).delete()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError(f"connection {name!r} has no scan schedule") from None
        raise


async def start_scan(workbench: Workbench, principal: Principal, name: str) -> str:
    """Start one scan on the worker and return its workflow id (the request returns now)."""
    _owned(workbench, principal, name, change=False)
    client = await workbench.temporal_client()
    workflow_id = f"catalog-scan-{name}-{uuid.uuid4().hex[:12]}"
    await client.start_workflow(
        CATALOG_SCAN_WORKFLOW,
        CatalogScanRequest(connection=name),
        id=workflow_id,
        task_queue=workbench.settings.task_queue,
    )
    return workflow_id
