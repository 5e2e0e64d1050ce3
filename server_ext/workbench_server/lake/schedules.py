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
from typing import TYPE_CHECKING

from ..cron_schedules import (
    CronSchedule,
    delete_cron_schedule,
    put_cron_schedule,
    read_cron_schedule,
)
from ..errors import NotFoundError, PermissionDeniedError
from ..principal import Principal
from .location import DEFAULT_LAKE
from .models import LAKE_MAINTENANCE_WORKFLOW, LakeMaintenanceRequest

if TYPE_CHECKING:
    from ..core import Workbench


class MaintenanceSchedule(CronSchedule):
    lake: str


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
    await put_cron_schedule(
        workbench,
        schedule_id(lake),
        LAKE_MAINTENANCE_WORKFLOW,
        request,
        cron,
        timezone,
        f"maintenance of lake {lake or DEFAULT_LAKE}",
    )
    return await get_maintenance_schedule(workbench, principal, lake)


async def get_maintenance_schedule(
    workbench: Workbench, principal: Principal, lake: str | None
) -> MaintenanceSchedule:
    _request(workbench, principal, lake, change=False)
    found = await read_cron_schedule(workbench, schedule_id(lake), _missing(lake))
    return MaintenanceSchedule(lake=lake or DEFAULT_LAKE, **found.model_dump())


async def delete_maintenance_schedule(
    workbench: Workbench, principal: Principal, lake: str | None
) -> None:
    _request(workbench, principal, lake, change=True)
    await delete_cron_schedule(workbench, schedule_id(lake), _missing(lake))


def _missing(lake: str | None) -> str:
    return f"lake {lake or DEFAULT_LAKE!r} has no maintenance schedule"


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
