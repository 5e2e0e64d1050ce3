"""SCD type 2: what a source snapshot changes in a dimension, as the rows of one merge.

The staged rows (computed in DuckDB against the dimension's current rows at the version
the merge starts from) are those that change something:

- a new key: a row to insert (merge key set, nothing matches);
- a changed key: the same row twice, once to close the current one (merge key set, it
  matches) and once to insert the new one (merge key NULL, nothing can match);
- a key missing from the snapshot: a row to close its current one.

Unchanged keys are not staged, so a snapshot that changed 1% of a dimension rewrites
only the files holding that 1%.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from ..errors import InvalidInputError
from ..sql_text import quote_identifier as _qi
from . import engine
from .location import LakeLocation
from .models import TableName
from .sources import Source

SCD2_COLUMNS = ("valid_from", "valid_to", "is_current")


def staged_changes(
    location: LakeLocation,
    table: TableName,
    version: int,
    source: Source,
    keys: Sequence[str],
    tracked: Sequence[str] | None,
    as_of: datetime,
) -> pa.Table:
    """The merge source for :func:`~.writes.write_scd2` (see the module's docstring)."""
    columns = list(source.schema.names)
    tracked = [c for c in (tracked or columns) if c not in keys]
    db = engine.connect(location)
    try:
        db.execute("SET TimeZone = 'UTC'")
        db.register("_wb_source", source.open())
        db.execute("CREATE TEMP TABLE snap AS SELECT * FROM _wb_source")
        db.unregister("_wb_source")
        key_list = ", ".join(_qi(k) for k in keys)
        duplicated = db.execute(
            f"SELECT count(*) FROM (SELECT {key_list} FROM snap GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
        if duplicated:
            raise InvalidInputError(
                f"{table}: the snapshot has {duplicated} key(s) ({', '.join(keys)}) on more "
                "than one row; an SCD2 snapshot holds one row per key"
            )
        db.execute(
            "CREATE TEMP TABLE cur AS SELECT * EXCLUDE (valid_from, valid_to, is_current), "
            f"true AS _wb_present FROM {engine.scan_sql(location, str(table), version)} "
            "WHERE is_current"
        )
        current = [c for (c,) in db.execute("SELECT name FROM pragma_table_info('cur')").fetchall()]
        if sorted(current) != sorted([*columns, "_wb_present"]):
            raise InvalidInputError(
                f"{table}: the snapshot's columns ({', '.join(columns)}) are not the "
                f"dimension's ({', '.join(c for c in current if c != '_wb_present')})"
            )
        on = " AND ".join(f"s.{_qi(k)} = c.{_qi(k)}" for k in keys)
        if tracked:
            before = ", ".join(f"s.{_qi(c)}" for c in tracked)
            after = ", ".join(f"c.{_qi(c)}" for c in tracked)
            changed = f"row({before}) IS DISTINCT FROM row({after})"
        else:
            changed = "false"
        merge_keys = ", ".join(f"s.{_qi(k)} AS {_qi('_wb_mk_' + k)}" for k in keys)
        no_keys = ", ".join(f"NULL AS {_qi('_wb_mk_' + k)}" for k in keys)
        cur_keys = ", ".join(f"c.{_qi(k)} AS {_qi('_wb_mk_' + k)}" for k in keys)
        snap_of_cur = ", ".join(f"c.{_qi(c)}" for c in columns)
        stamp = "CAST($as_of AS TIMESTAMPTZ) AS _wb_as_of, CAST(NULL AS TIMESTAMPTZ) AS _wb_open"
        query = f"""
            SELECT s.*, {merge_keys}, {stamp},
                   c._wb_present IS NOT NULL AS _wb_close, c._wb_present IS NULL AS _wb_insert
            FROM snap s LEFT JOIN cur c ON {on}
            WHERE c._wb_present IS NULL OR {changed}
            UNION ALL BY NAME
            SELECT s.*, {no_keys}, {stamp}, false AS _wb_close, true AS _wb_insert
            FROM snap s JOIN cur c ON {on}
            WHERE {changed}
            UNION ALL BY NAME
            SELECT {snap_of_cur}, {cur_keys}, {stamp}, true AS _wb_close, false AS _wb_insert
            FROM cur c WHERE NOT EXISTS (SELECT 1 FROM snap s WHERE {on})
        """
        staged = db.execute(query, {"as_of": as_of}).to_arrow_table()
    except duckdb.Error as exc:
        raise InvalidInputError(f"{table}: SCD2 staging failed: {exc}") from None
    finally:
        db.close()
    # Keep the snapshot's exact types (DuckDB may widen some) for the merge.
    names = [*columns, *(c for c in staged.schema.names if c not in columns)]
    fields = []
    for name in names:
        if name in columns:
            fields.append(source.schema.field(name))
        elif name.startswith("_wb_mk_"):
            fields.append(pa.field(name, source.schema.field(name.removeprefix("_wb_mk_")).type))
        else:
            fields.append(staged.schema.field(name))
    return staged.select(names).cast(pa.schema(fields))
