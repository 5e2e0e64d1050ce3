"""Merge a discovery into the catalog in one transaction, recording what changed.

Discovered fields are replaced; curated ones (description, tags, steward, certified)
are never touched. A table or column that disappeared is marked dropped, not deleted,
so its curated metadata and history survive (and come back if it reappears). The first
scan of a connection records no "added" history: everything is new then. Besides added,
dropped and retyped columns, history records what a re-scan found described anew: a
relabelled Odoo field, a new comment or help, a changed key or nullability
(``<field>_changed`` with the old and new value).

Catalogs hold hundreds of thousands of columns, so this works in bulk: the existing
rows are read as plain tuples (with a fingerprint of their discovered fields), compared
in memory, and only what changed is written, with one executemany per kind of change.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ..db.models import CatalogChange, CatalogColumn, CatalogTable
from ..errors import ConflictError
from .discovered import Discovery, FoundColumn, FoundTable
from .snapshot import mark_changed

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
    "company_dependent",
    "selection",
    "module",
    "auto_tags",
)


# Described fields whose change a re-scan records as history (the type has its own entry).
TRACKED_TABLE_FIELDS = ("label", "comment", "odoo_model")
TRACKED_COLUMN_FIELDS = (
    "label",
    "comment",
    "help",
    "nullable",
    "references",
    "relation",
    "odoo_type",
    "company_dependent",
)


def _shown(value: object) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return None if value is None else str(value)


@dataclass
class MergeStats:
    tables: int = 0
    columns: int = 0
    changes: dict[str, int] = field(default_factory=dict)

    def count(self, change: str) -> None:
        self.changes[change] = self.changes.get(change, 0) + 1


_TABLE_VALUES = attrgetter(*TABLE_FIELDS)
_COLUMN_VALUES = attrgetter("name", *COLUMN_FIELDS)


def digest(values: object) -> str:
    # Pickles of plain values (str, int, bool, None, lists, insertion-ordered dicts) in a
    # fixed protocol are stable, and several times cheaper to make than their repr. (A
    # value shared by reference pickles differently from an equal copy; at worst that
    # makes an unchanged entry look changed, which costs a comparison, never a wrong row.)
    return hashlib.blake2b(pickle.dumps(values, protocol=4), digest_size=16).hexdigest()


def column_fingerprint(column: FoundColumn) -> str:
    return digest(_COLUMN_VALUES(column))


def table_fingerprint(table: FoundTable) -> str:
    """The table's discovered fields and all of its columns': equal means nothing to do."""
    return digest((_TABLE_VALUES(table), [_COLUMN_VALUES(c) for c in table.columns]))


def _values(found: FoundTable | FoundColumn, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(found, name) for name in fields}


def merge(
    session: Session,
    connection_id: int,
    scan_id: int,
    found: Discovery,
    first_scan: bool,
    only: set[tuple[str, str]] | None = None,
) -> MergeStats:
    """Merge ``found`` into the connection's catalog; with ``only``, a discovery of just
    those ``(schema, name)`` tables: the others are left as they are."""
    now = datetime.now(UTC)
    stats = MergeStats(tables=len(found.tables))
    changes: list[dict[str, Any]] = []

    def record(table_id: int, change: str, column: str | None = None, **values: Any) -> None:
        changes.append(
            {
                "table_id": table_id,
                "scan_id": scan_id,
                "change": change,
                "column": column,
                "old": values.get("old"),
                "new": values.get("new"),
                "at": now,
            }
        )
        stats.count(change)

    def record_described(
        table_id: int,
        column: str | None,
        old: tuple[Any, ...],
        found: object,
        fields: tuple[str, ...],
    ) -> None:
        for name, before in zip(fields, old, strict=True):
            after = getattr(found, name)
            if before != after and not (before in (None, "") and after in (None, "")):
                record(table_id, f"{name}_changed", column, old=_shown(before), new=_shown(after))

    T, C = CatalogTable, CatalogColumn
    described = [getattr(T, name) for name in TRACKED_TABLE_FIELDS]
    existing = {}
    old_described: dict[tuple[str, str], tuple[Any, ...]] = {}
    for id_, schema, name, print_, dropped, *before in session.execute(
        select(T.id, T.schema_name, T.name, T.fingerprint, T.dropped_at, *described).where(
            T.connection_id == connection_id
        )
    ):
        if only is not None and (schema, name) not in only:
            continue
        existing[(schema, name)] = (id_, print_, dropped)
        old_described[(schema, name)] = tuple(before)

    # Tables: insert the new ones (their ids are needed for their columns), update the rest.
    new_tables = [t for t in found.tables if t.key not in existing]
    if new_tables:
        rows = [
            {
                "connection_id": connection_id,
                "schema_name": t.schema,
                "name": t.name,
                **_values(t, TABLE_FIELDS),
                "fingerprint": t.signature or table_fingerprint(t),
                "tags": [],
                "certified": False,
                "usage_count": 0,
                "first_seen": now,
                "last_seen": now,
                "updated_at": now,
            }
            for t in new_tables
        ]
        for id_, schema, name in session.execute(
            insert(T).returning(T.id, T.schema_name, T.name, sort_by_parameter_order=True), rows
        ):
            existing[(schema, name)] = (id_, "", None)
            if not first_scan:
                record(id_, "table_added")
    new_keys = {t.key for t in new_tables}
    table_updates: list[dict[str, Any]] = []
    column_inserts: list[dict[str, Any]] = []
    column_updates: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    # Tables whose fingerprint (own fields and all columns) is unchanged need no more work
    # than "seen now"; only the others have their columns read and compared.
    to_compare: list[tuple[FoundTable, int, bool]] = []
    for table in found.tables:
        seen.add(table.key)
        table_id, old_print, dropped = existing[table.key]
        is_new = table.key in new_keys
        if table.unchanged:
            if is_new or dropped is not None or table.signature != old_print:
                raise ConflictError("the catalog changed during the scan; scan again")
            stats.columns += table.column_count
            continue
        stats.columns += len(table.columns)
        new_print = table.signature or table_fingerprint(table)
        if is_new:
            to_compare.append((table, table_id, True))
            continue
        if new_print == old_print and dropped is None:
            continue
        update_row: dict[str, Any] = {"id": table_id, "updated_at": now, "fingerprint": new_print}
        update_row.update(_values(table, TABLE_FIELDS))
        if dropped is not None:
            update_row["dropped_at"] = None
            record(table_id, "table_restored")
        else:
            record_described(table_id, None, old_described[table.key], table, TRACKED_TABLE_FIELDS)
        table_updates.append(update_row)
        to_compare.append((table, table_id, False))
    columns_of = _columns_of(
        session, [table_id for _, table_id, is_new in to_compare if not is_new]
    )
    for table, table_id, is_new in to_compare:
        old_columns = dict(columns_of.get(table_id, {}))
        for column in table.columns:
            print_ = column_fingerprint(column)
            old = old_columns.pop(column.name, None)
            if old is None:
                column_inserts.append(
                    {
                        "table_id": table_id,
                        "name": column.name,
                        **_values(column, COLUMN_FIELDS),
                        "fingerprint": print_,
                        "tags": [],
                    }
                )
                if not is_new:
                    record(table_id, "column_added", column.name, new=column.data_type)
                continue
            column_id, old_type, old_column_print, column_dropped, before = old
            if old_column_print == print_ and column_dropped is None:
                continue
            values: dict[str, Any] = {"id": column_id, **_values(column, COLUMN_FIELDS)}
            values["fingerprint"], values["dropped_at"] = print_, None
            column_updates.append(values)
            if column_dropped is not None:
                record(table_id, "column_restored", column.name, new=column.data_type)
                continue
            if old_type != column.data_type:
                record(table_id, "type_changed", column.name, old=old_type, new=column.data_type)
            record_described(table_id, column.name, before, column, TRACKED_COLUMN_FIELDS)
        for name, (column_id, old_type, _, column_dropped, _) in old_columns.items():
            if column_dropped is None:
                column_updates.append({"id": column_id, "dropped_at": now})
                record(table_id, "column_dropped", name, old=old_type)
    for key, (table_id, _, dropped) in existing.items():
        if key not in seen and dropped is None:
            table_updates.append({"id": table_id, "dropped_at": now, "updated_at": now})
            record(table_id, "table_dropped")

    _bulk_update(session, T, table_updates)
    # Every table still there was seen now (dropped ones keep when they were last seen).
    seen_now = update(T).where(T.connection_id == connection_id, T.dropped_at.is_(None))
    if only is not None:
        seen_now = seen_now.where(T.id.in_([table_id for table_id, _, _ in existing.values()]))
    session.execute(seen_now.values(last_seen=now).execution_options(synchronize_session=False))
    if column_inserts:
        session.execute(insert(C), column_inserts)
    _bulk_update(session, C, column_updates)
    if changes:
        session.execute(insert(CatalogChange), changes)
    mark_changed(session)  # every process's search takes the change in
    return stats


OldColumn = tuple[int, str, str, "datetime | None", tuple[Any, ...]]


def _columns_of(session: Session, table_ids: list[int]) -> dict[int, dict[str, OldColumn]]:
    """Columns of the tables as stored: id, type, fingerprint, when dropped, and the
    values of TRACKED_COLUMN_FIELDS."""
    C = CatalogColumn
    described = [getattr(C, name) for name in TRACKED_COLUMN_FIELDS]
    out: dict[int, dict[str, OldColumn]] = {}
    for start in range(0, len(table_ids), 500):
        for id_, table_id, name, type_, print_, dropped, *before in session.execute(
            select(
                C.id, C.table_id, C.name, C.data_type, C.fingerprint, C.dropped_at, *described
            ).where(C.table_id.in_(table_ids[start : start + 500]))
        ):
            out.setdefault(table_id, {})[name] = (id_, type_, print_, dropped, tuple(before))
    return out


def _bulk_update(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """ORM bulk UPDATE by primary key, one executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        session.execute(update(model), group)
