"""What changed between two versions of a table, by key: rows added, removed, changed.

Computed in DuckDB over two ``delta_scan``s of the same table. Keys default to those
the table's last keyed write (merge, SCD2) recorded in its commit. A changed row lists
the columns whose values differ (NULL-safe), before and after.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import duckdb

from ..errors import InvalidInputError, NotFoundError
from ..sql_text import quote_identifier as _qi
from . import engine
from .history import versions
from .location import LakeLocation
from .models import MAX_LISTED, ChangedRow, TableDiff, TableName
from .reads import resolve_version

KEYS_LOOKBACK = 200  # versions searched for the keys a write recorded


def recorded_keys(location: LakeLocation, table: TableName | str) -> list[str] | None:
    """The keys of the table's most recent keyed write (merge, SCD2), if any."""
    for version in versions(location, table, limit=KEYS_LOOKBACK):
        if version.keys:
            return version.keys
    return None


def diff(
    location: LakeLocation,
    table: TableName | str,
    from_version: int,
    to_version: int,
    keys: Sequence[str] | None = None,
    limit: int = 50,
) -> TableDiff:
    """Rows added, removed and changed by ``keys`` from ``from_version`` to ``to_version``
    (at most ``limit`` of each listed; the counts are complete)."""
    table = TableName.parse(table)
    limit = max(0, min(limit, MAX_LISTED))
    for version in (from_version, to_version):
        resolve_version(location, table, version)
    keys = list(keys or recorded_keys(location, table) or [])
    if not keys:
        raise InvalidInputError(
            f"{table}: no keys recorded by its writes; name the columns that identify a row "
            "(keys=[...] in Python, --key in the CLI, key= in REST)"
        )
    db = engine.connect(location)
    try:
        db.execute("SET TimeZone = 'UTC'")
        db.execute(f"CREATE TEMP VIEW a AS SELECT * FROM {_scan(location, table, from_version)}")
        db.execute(f"CREATE TEMP VIEW b AS SELECT * FROM {_scan(location, table, to_version)}")
        before = _columns(db, "a")
        after = _columns(db, "b")
        for key in keys:
            if key not in before or key not in after:
                raise InvalidInputError(f"{table}: no column {key!r} in both versions to diff by")
        common = [c for c in after if c in before and c not in keys]
        on = " AND ".join(f"a.{_qi(k)} IS NOT DISTINCT FROM b.{_qi(k)}" for k in keys)
        differs = (
            f"row({', '.join(f'a.{_qi(c)}' for c in common)}) IS DISTINCT FROM "
            f"row({', '.join(f'b.{_qi(c)}' for c in common)})"
            if common
            else "false"
        )
        added_sql = f"SELECT b.* FROM b WHERE NOT EXISTS (SELECT 1 FROM a WHERE {on})"
        removed_sql = f"SELECT a.* FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE {on})"
        key_cols = ", ".join(f"a.{_qi(k)}" for k in keys)
        pairs = ", ".join(
            f"a.{_qi(c)} AS {_qi('_wb_a_' + c)}, b.{_qi(c)} AS {_qi('_wb_b_' + c)}" for c in common
        )
        changed_sql = (
            f"SELECT {key_cols}{', ' + pairs if pairs else ''} FROM a JOIN b ON {on} "
            f"WHERE {differs}"
        )
        counts = db.execute(
            f"SELECT (SELECT count(*) FROM ({added_sql})), (SELECT count(*) FROM ({removed_sql})),"
            f" (SELECT count(*) FROM ({changed_sql}))"
        ).fetchone()
        order = ", ".join(_qi(k) for k in keys)
        added_rows = _rows(db, f"{added_sql} ORDER BY {order} LIMIT {limit}")
        removed_rows = _rows(db, f"{removed_sql} ORDER BY {order} LIMIT {limit}")
        changed_rows = [
            _changed(row, keys, common)
            for row in _rows(db, f"{changed_sql} ORDER BY {order} LIMIT {limit}")
        ]
    except duckdb.IOException as exc:
        raise NotFoundError(
            f"{table}: a version can no longer be read (files vacuumed after the layer's "
            f"retention): {str(exc).splitlines()[0][:200]}"
        ) from None
    except duckdb.Error as exc:
        raise InvalidInputError(f"{table}: {str(exc).splitlines()[0][:300]}") from None
    finally:
        db.close()
    return TableDiff(
        table=str(table),
        from_version=from_version,
        to_version=to_version,
        keys=keys,
        added=counts[0],
        removed=counts[1],
        changed=counts[2],
        columns_added=[c for c in after if c not in before],
        columns_removed=[c for c in before if c not in after],
        added_rows=added_rows,
        removed_rows=removed_rows,
        changed_rows=changed_rows,
        limit=limit,
    )


def _scan(location: LakeLocation, table: TableName, version: int) -> str:
    return engine.scan_sql(location, str(table), version)


def _columns(db: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    return [row[0] for row in db.execute(f"DESCRIBE {view}").fetchall()]


def _rows(db: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    # Through Arrow: DuckDB's own Python values need pytz for TIMESTAMPTZ.
    rows = db.execute(sql).to_arrow_table().to_pylist()
    return [{name: _plain(value) for name, value in row.items()} for row in rows]


def _changed(row: dict[str, Any], keys: list[str], common: list[str]) -> ChangedRow:
    before, after = {}, {}
    for column in common:
        old, new = row[f"_wb_a_{column}"], row[f"_wb_b_{column}"]
        if old != new:
            before[column], after[column] = old, new
    return ChangedRow(key={k: row[k] for k in keys}, before=before, after=after)


def _plain(value: Any) -> Any:
    """A value as JSON shows it exactly: decimals as text (``"431623.85"``), times ISO."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
