"""Watermarks of incremental work, kept in the metadata DB per source table and target.

An extract keeps, per (lake, bronze table, connection, source table), the largest cursor
value (``write_date``) and id it has read and when it last compared keys for deletes; a
merge keeps, per (lake, silver table, bronze table), the bronze version it merged. Each
is written after the lake commit it describes: a step that dies in between reads the
same rows again, which the next write recognises (rows already in bronze, rows not newer
than silver's), so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from workbench_server.db.models import IngestWatermark, RunTable

if TYPE_CHECKING:
    from workbench_server.core import Workbench

    from .context import TableAccess


@dataclass(frozen=True)
class Mark:
    """Where incremental work on one source table stands."""

    cursor_value: datetime | None = None
    cursor_id: int | None = None
    version: int | None = None
    deletes_checked_at: datetime | None = None


def _key(kind: str, lake: str, target: str, source: str, source_table: str):
    return (
        IngestWatermark.kind == kind,
        IngestWatermark.lake == lake,
        IngestWatermark.target == target,
        IngestWatermark.source == source,
        IngestWatermark.source_table == source_table,
    )


def load(
    workbench: Workbench, kind: str, lake: str, target: str, source: str, source_table: str
) -> Mark | None:
    with workbench.sessions() as session:
        row = session.scalar(
            select(IngestWatermark).where(*_key(kind, lake, target, source, source_table))
        )
        if row is None:
            return None
        return Mark(row.cursor_value, row.cursor_id, row.version, row.deletes_checked_at)


def load_sources(
    workbench: Workbench, kind: str, lake: str, target: str, source_table: str
) -> dict[str, Mark]:
    """Every source's mark of ``kind`` for one target and source table, by source."""
    with workbench.sessions() as session:
        rows = session.scalars(
            select(IngestWatermark).where(
                IngestWatermark.kind == kind,
                IngestWatermark.lake == lake,
                IngestWatermark.target == target,
                IngestWatermark.source_table == source_table,
            )
        )
        return {
            r.source: Mark(r.cursor_value, r.cursor_id, r.version, r.deletes_checked_at)
            for r in rows
        }


def forget(
    workbench: Workbench, kind: str, lake: str, target: str, source: str, source_table: str
) -> None:
    """Drop one mark: the next run starts that source table over."""
    from sqlalchemy import delete

    with workbench.sessions.begin() as session:
        session.execute(
            delete(IngestWatermark).where(*_key(kind, lake, target, source, source_table))
        )


def save(
    workbench: Workbench,
    kind: str,
    lake: str,
    target: str,
    source: str,
    source_table: str,
    mark: Mark,
    run_id: str,
    accesses: list[TableAccess] | None = None,
    attempt: tuple[str, int] | None = None,
) -> None:
    """Store ``mark``; with ``accesses`` (and the attempt's ``(step, number)``), record
    the table versions in the run history in the same transaction."""
    with workbench.sessions.begin() as session:
        row = session.scalar(
            select(IngestWatermark).where(*_key(kind, lake, target, source, source_table))
        )
        if row is None:
            row = IngestWatermark(
                kind=kind, lake=lake, target=target, source=source, source_table=source_table
            )
            session.add(row)
        row.cursor_value, row.cursor_id = mark.cursor_value, mark.cursor_id
        row.version, row.deletes_checked_at = mark.version, mark.deletes_checked_at
        row.run_id = run_id
        if accesses and attempt is not None:
            record_tables(session, run_id, attempt[0], attempt[1], accesses)


def record_tables(
    session, run_id: str, step_id: str, attempt: int, accesses: list[TableAccess]
) -> None:
    """Upsert the attempt's table versions (one row per table and access). The attempt's
    rows are read in one query: a step saves after each table, with every access so far,
    and a query per access made an eleven-table merge ask about 130 times."""
    rows = {
        (row.lake, row.table_name, row.access): row
        for row in session.scalars(
            select(RunTable).where(
                RunTable.run_id == run_id,
                RunTable.step_id == step_id,
                RunTable.attempt == attempt,
            )
        )
    }
    for access in accesses:
        row = rows.get((access.lake, access.table, access.access))
        if row is None:
            row = RunTable(
                run_id=run_id,
                step_id=step_id,
                attempt=attempt,
                lake=access.lake,
                table_name=access.table,
                access=access.access,
            )
            session.add(row)
            rows[(access.lake, access.table, access.access)] = row
        row.version, row.operation = access.version, access.operation
        row.rows_added, row.rows_updated = access.rows_added, access.rows_updated
        row.rows_removed = access.rows_removed


def record_all(workbench: Workbench, run_id: str, step_id: str, attempt: int, accesses) -> None:
    with workbench.sessions.begin() as session:
        record_tables(session, run_id, step_id, attempt, accesses)
