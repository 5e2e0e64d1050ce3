"""Catalog scans run by the worker: on a schedule, or on demand without holding a request.

A scan runs in a thread while the activity heartbeats, so a worker that dies mid-scan
is noticed within the heartbeat timeout and the scan is retried on another worker. The
scan acts for the connection's owner (the person who may read it), never as an admin.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from workbench_server.db.models import Connection
from workbench_server.errors import WorkbenchError
from workbench_server.principal import Principal

from .plan import CatalogScanRequest, CatalogScanResult

if TYPE_CHECKING:
    from workbench_server.core import Workbench

HEARTBEAT_EVERY_S = 5.0


class CatalogActivities:
    def __init__(self, workbench: Workbench) -> None:
        self.workbench = workbench

    def _scan(self, request: CatalogScanRequest, retry: bool) -> CatalogScanResult:
        from workbench_server.catalog import CatalogService

        with self.workbench.sessions() as session:
            owner = session.scalar(
                select(Connection.owner).where(Connection.name == request.connection)
            )
        if owner is None:
            raise ApplicationError(
                f"no connection named {request.connection!r}", non_retryable=True
            )
        # A retry means the previous attempt's worker is gone: its scan row is interrupted.
        retry_of = datetime.now(UTC) if retry else None
        result = CatalogService(self.workbench, Principal(name=owner)).scan(
            request.connection, interrupted_before=retry_of
        )
        return CatalogScanResult(
            scan_id=result.id,
            status=result.status,
            tables=result.stats.get("tables", 0),
            columns=result.stats.get("columns", 0),
            changes=result.stats.get("changes", {}),
        )

    @activity.defn(name="workbench.catalog_scan")
    async def catalog_scan(self, request: CatalogScanRequest) -> CatalogScanResult:
        retry = activity.info().attempt > 1
        job = asyncio.ensure_future(asyncio.to_thread(self._scan, request, retry))
        while not job.done():
            activity.heartbeat()
            await asyncio.wait({job}, timeout=HEARTBEAT_EVERY_S)
        try:
            return job.result()
        except WorkbenchError as exc:  # a clear, one-line reason: the scan row has it too
            raise ApplicationError(str(exc), type=type(exc).__name__) from None
