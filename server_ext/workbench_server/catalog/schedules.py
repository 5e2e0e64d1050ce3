"""Scans through the worker: a Temporal Schedule per connection, or one scan now.

The schedule ``catalog-scan-NAME`` starts ``CatalogScanWorkflow`` for the connection;
Temporal does the timing and skips a firing while the previous scan still runs. Only
the connection's owner and admins may schedule its scans.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select

from workbench_pipelines.plan import CATALOG_SCAN_WORKFLOW, CatalogScanRequest

from ..connections.service import usable_by
from ..cron_schedules import (
    CronSchedule,
    delete_cron_schedule,
    put_cron_schedule,
    read_cron_schedule,
)
from ..db.models import Connection
from ..errors import NotFoundError, PermissionDeniedError
from ..principal import Principal

if TYPE_CHECKING:
    from ..core import Workbench


class ScanSchedule(CronSchedule):
    connection: str


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
    await put_cron_schedule(
        workbench,
        scan_schedule_id(name),
        CATALOG_SCAN_WORKFLOW,
        CatalogScanRequest(connection=name),
        cron,
        timezone,
        f"catalog scan of {name}",
    )
    return await get_scan_schedule(workbench, principal, name)


async def get_scan_schedule(workbench: Workbench, principal: Principal, name: str) -> ScanSchedule:
    _owned(workbench, principal, name, change=False)
    found = await read_cron_schedule(
        workbench, scan_schedule_id(name), f"connection {name!r} has no scan schedule"
    )
    return ScanSchedule(connection=name, **found.model_dump())


async def delete_scan_schedule(workbench: Workbench, principal: Principal, name: str) -> None:
    _owned(workbench, principal, name, change=True)
    await delete_cron_schedule(
        workbench, scan_schedule_id(name), f"connection {name!r} has no scan schedule"
    )


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
