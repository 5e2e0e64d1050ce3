"""Merge a discovery into the catalog in one transaction, recording what changed.

Discovered fields are replaced; curated ones (description, tags, steward, certified)
are never touched. A table or column that disappeared is marked dropped, not deleted,
so its curated metadata and history survive (and come back if it reappears). The first
scan of a connection records no "added" history: everything is new then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import CatalogChange, CatalogColumn, CatalogTable
from .discovered import Discovery, FoundColumn, FoundTable

TABLE_FIELDS = (
    "kind",
    "layer",
    "row_estimate",
    "size_bytes",
    "comment",
    "label",
    "odoo_model",
    "module",
    "auto_tags",
    "extra",
)
COLUMN_FIELDS = (
    "position",
    "data_type",
    "nullable",
    "default",
    "primary_key",
    "references",
    "comment",
    "label",
    "help",
    "odoo_type",
    "relation",
    "selection",
    "module",
    "auto_tags",
)


@dataclass
class MergeStats:
    tables: int = 0
    columns: int = 0
    changes: dict[str, int] = field(default_factory=dict)

    def count(self, change: str) -> None:
        self.changes[change] = self.changes.get(change, 0) + 1


def merge(
    session: Session, connection_id: int, scan_id: int, found: Discovery, first_scan: bool
) -> MergeStats:
    now = datetime.now(UTC)
    stats = MergeStats(tables=len(found.tables))
    existing = {
        (t.schema_name, t.name): t
        for t in session.scalars(
            select(CatalogTable).where(CatalogTable.connection_id == connection_id)
        )
    }
    columns_of: dict[int, dict[str, CatalogColumn]] = {}
    if existing:
        for column in session.scalars(
            select(CatalogColumn).where(
                CatalogColumn.table_id.in_([t.id for t in existing.values()])
            )
        ):
            columns_of.setdefault(column.table_id, {})[column.name] = column

    def record(table: CatalogTable, change: str, column: str | None = None, **values: str | None):
        session.add(
            CatalogChange(
                table_id=table.id, scan_id=scan_id, change=change, column=column, at=now, **values
            )
        )
        stats.count(change)

    for found_table in found.tables:
        row = existing.pop(found_table.key, None)
        is_new = row is None
        if row is None:
            row = CatalogTable(
                connection_id=connection_id,
                schema_name=found_table.schema,
                name=found_table.name,
                first_seen=now,
                tags=[],
                usage_count=0,
                certified=False,
            )
            session.add(row)
        changed = _assign(row, found_table, TABLE_FIELDS)
        row.last_seen = now
        session.flush()  # an id for new tables and their history
        if is_new and not first_scan:
            record(row, "table_added")
        if row.dropped_at is not None:
            row.dropped_at = None
            record(row, "table_restored")
            changed = True
        stats.columns += len(found_table.columns)
        if _merge_columns(session, row, found_table, columns_of.get(row.id, {}), is_new, record):
            changed = True
        if changed or is_new:
            row.updated_at = now
    for row in existing.values():
        if row.dropped_at is None:
            row.dropped_at = now
            row.updated_at = now
            record(row, "table_dropped")
    return stats


def _assign(row: object, found: object, fields: tuple[str, ...]) -> bool:
    changed = False
    for name in fields:
        value = getattr(found, name)
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _merge_columns(
    session: Session,
    table: CatalogTable,
    found: FoundTable,
    existing: dict[str, CatalogColumn],
    table_is_new: bool,
    record,
) -> bool:
    changed = False
    remaining = dict(existing)
    for found_column in found.columns:
        column = remaining.pop(found_column.name, None)
        if column is None:
            column = CatalogColumn(table_id=table.id, name=found_column.name, tags=[])
            session.add(column)
            if not table_is_new:
                record(table, "column_added", found_column.name, new=found_column.data_type)
            changed = True
        else:
            if column.dropped_at is not None:
                column.dropped_at = None
                record(table, "column_restored", found_column.name, new=found_column.data_type)
                changed = True
            if column.data_type != found_column.data_type:
                record(
                    table,
                    "type_changed",
                    found_column.name,
                    old=column.data_type,
                    new=found_column.data_type,
                )
        if _assign(column, found_column, COLUMN_FIELDS):
            changed = True
    for column in remaining.values():
        if column.dropped_at is None:
            column.dropped_at = datetime.now(UTC)
            record(table, "column_dropped", column.name, old=column.data_type)
            changed = True
    return changed


__all__ = ["FoundColumn", "MergeStats", "merge"]
