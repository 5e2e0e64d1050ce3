"""Maintenance: compact small files (optimize) and delete files old versions no longer
need (vacuum), keeping each layer's retention (:mod:`.settings`).

A table that fails is reported with its reason and the others go on: one broken table
must not stop the nightly maintenance of the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..errors import WorkbenchError
from . import writes
from .location import LakeLocation
from .models import MaintenanceResult, TableName, WriterInfo
from .settings import LakeSettings
from .tables import list_tables

log = logging.getLogger(__name__)


def delta_tables(location: LakeLocation, names: Iterable[str] | None = None) -> list[TableName]:
    """The named tables, or every Delta table of the lake."""
    if names is not None:
        return [TableName.parse(n) for n in names]
    return [TableName.parse(t.table) for t in list_tables(location) if t.format == "delta"]


def optimize(
    location: LakeLocation, table: TableName | str, writer: WriterInfo | None = None
) -> MaintenanceResult:
    """Compact ``table``'s small files into larger ones (a new version, same rows)."""
    table = TableName.parse(table)
    writer = writer or WriterInfo.from_env(tool="maintenance")
    try:
        version, added, removed = writes.compact(location, table, writer=writer)
    except WorkbenchError as exc:
        return MaintenanceResult(table=str(table), operation="optimize", error=str(exc))
    return MaintenanceResult(
        table=str(table),
        operation="optimize",
        version=version,
        files_added=added,
        files_removed=removed,
    )


def vacuum(
    location: LakeLocation,
    table: TableName | str,
    settings: LakeSettings | None = None,
    writer: WriterInfo | None = None,
) -> MaintenanceResult:
    """Delete the files of ``table`` that no version younger than its layer's retention
    needs (and files of failed writes older than that)."""
    table = TableName.parse(table)
    settings = settings or LakeSettings.from_env()
    writer = writer or WriterInfo.from_env(tool="maintenance")
    days = settings.retention(table.layer)
    try:
        version, deleted = writes.vacuum_files(
            location, table, retention_hours=max(1, round(days * 24)), writer=writer
        )
    except WorkbenchError as exc:
        return MaintenanceResult(
            table=str(table), operation="vacuum", retention_days=days, error=str(exc)
        )
    return MaintenanceResult(
        table=str(table),
        operation="vacuum",
        version=version,
        files_removed=deleted,
        retention_days=days,
    )


def maintain(
    location: LakeLocation,
    tables: Iterable[str] | None = None,
    *,
    do_optimize: bool = True,
    do_vacuum: bool = True,
    settings: LakeSettings | None = None,
    writer: WriterInfo | None = None,
) -> list[MaintenanceResult]:
    """Optimize then vacuum each table (every Delta table of the lake by default)."""
    settings = settings or LakeSettings.from_env()
    writer = writer or WriterInfo.from_env(tool="maintenance")
    results = []
    for table in delta_tables(location, tables):
        if do_optimize:
            results.append(optimize(location, table, writer))
        if do_vacuum:
            results.append(vacuum(location, table, settings, writer))
    for result in results:
        if result.error:
            log.warning(
                "lake %s: %s of %s failed: %s",
                location.name,
                result.operation,
                result.table,
                result.error,
            )
    return results
