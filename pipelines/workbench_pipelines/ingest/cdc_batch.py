"""A micro-batch of replicated changes as bronze rows (``mode: cdc``, see :mod:`.cdc`).

Values arrive as the UTF-8 bytes of their text forms; Arrow makes them text column by
column and DuckDB casts them to exactly the types the extract gives the same columns
(the postgres scanner's description of the same select). An unchanged TOASTed value
takes the key's value before it, from the batch or from bronze. The audit columns are
the extract's, with ``_lsn`` and ``_committed_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from workbench_server.errors import InvalidInputError
from workbench_server.sql_text import quote_identifier as qi
from workbench_server.sql_text import quote_literal as ql

from . import extract_sql as q
from . import pgoutput

if TYPE_CHECKING:
    from workbench_server.lake import Lake

    from ..spec_steps import ExtractTable
    from . import watermarks
    from .sources import Column, Shape


@dataclass
class Table:
    """One replicated table: its spec, its shape as bronze keeps it, how far bronze is."""

    spec: ExtractTable
    shape: Shape
    keys: list[str]
    languages: list[str]
    done: int = 0  # the last LSN bronze holds of this source's changes
    mark: watermarks.Mark | None = None
    # Columns bronze holds that the source no longer sends (dropped, or left out of the
    # step's columns:): a change that lacks one keeps the key's value before, as an
    # unchanged TOASTed value does, so the merge never writes NULL over silver's.
    carried: list[Column] = field(default_factory=list)
    # New columns whose values the rows unchanged since hold at the source (a default,
    # a table rewrite: nothing streamed): read for them once bronze has what came before.
    fill: list[str] = field(default_factory=list)
    # The pending changes, in parallel lists (no object per change for the garbage
    # collector to walk): columns, values (a decoded tuple, or the message holding the
    # tuple from byte 6 on), op, LSN of the commit, commit time.
    layouts: list[tuple[str, ...]] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    lsns: list[int] = field(default_factory=list)
    commits: list[datetime | None] = field(default_factory=list)

    def add(
        self, layout: tuple[str, ...], values: Any, op: str, lsn: int, committed: datetime | None
    ) -> None:
        self.layouts.append(layout)
        self.values.append(values)
        self.ops.append(op)
        self.lsns.append(lsn)
        self.commits.append(committed)

    def clear(self) -> None:
        for part in (self.layouts, self.values, self.ops, self.lsns, self.commits):
            part.clear()

    @property
    def bronze(self) -> str:
        return self.spec.bronze


# The op of an update that changed the key, kept until bronze's rows are made (where it
# is ``u``): its unchanged TOASTed values are the old key's, the change just before it.
MOVED = "m"


def bronze_rows(
    db: duckdb.DuckDBPyConnection,
    lake: Lake,
    source: str,
    run_id: str,
    table: Table,
    base: datetime,
) -> pa.Table:
    """The table's pending changes as bronze rows: typed as the extract types them,
    unchanged TOASTed values filled, audited (``_extracted_at`` from ``base`` on, a
    microsecond per change)."""
    shape = table.shape
    if table.carried:
        shape = replace(shape, columns=[*shape.columns, *table.carried])
    names = [c.name for c in shape.columns]
    index = {n: i for i, n in enumerate(names)}
    count = len(table.ops)
    columns: list[Any] = [[None] * count for _ in names]
    unchanged: dict[str, Any] = {}
    layouts = set(table.layouts)
    decoded = None
    if len(layouts) == 1 and all(type(v) is bytes for v in table.values):
        (layout,) = layouts
        decoded = pgoutput.columns(table.values, 6, len(layout))
    if decoded is not None:  # as usual: every change with the same columns, decoded at once
        for name, (array, flags) in zip(layout, decoded, strict=True):
            if name in index:
                columns[index[name]] = array
                if flags is not None:
                    unchanged[name] = flags
        for name in names:
            if name not in layout:  # not sent (dropped, or added after): the value before
                unchanged[name] = [op != "d" for op in table.ops]
    else:  # a column came or went within the batch, or a key changed: one by one
        for row, (layout, values) in enumerate(zip(table.layouts, table.values, strict=True)):
            if type(values) is bytes:
                values = pgoutput.tuple_at(values, 6)
            for name, value in zip(layout, values, strict=True):
                i = index.get(name)
                if i is None:
                    continue
                if value is pgoutput.UNCHANGED:
                    unchanged.setdefault(name, [False] * count)[row] = True
                else:
                    columns[i][row] = value
            for name in names:
                if name not in layout and table.ops[row] != "d":
                    unchanged.setdefault(name, [False] * count)[row] = True
    ops, lsns, commits = table.ops, table.lsns, table.commits
    # Text forms arrive as UTF-8 bytes: checked and made text by Arrow, column-wise.
    arrays = {
        n: (c if isinstance(c, pa.Array) else pa.array(c, pa.large_binary())).cast(
            pa.large_string()
        )
        for n, c in zip(names, columns, strict=True)
    }
    arrays.update({f"_wb_u{index[n]}": pa.array(v, pa.bool_()) for n, v in unchanged.items()})
    arrays["_op"] = pa.array(ops, pa.string())
    arrays["_lsn"] = pa.array(lsns, pa.int64())
    arrays["_committed_at"] = pa.array(commits, pa.timestamp("us", tz="UTC"))
    arrays["_wb_seq"] = pa.array(range(count), pa.int64())
    incoming = pa.table(arrays)
    db.register("wb_cdc_in", incoming)
    try:
        extra = ", ".join(
            [
                "_op",
                "_lsn",
                "_committed_at",
                "_wb_seq",
                *(f"_wb_u{index[n]}" for n in unchanged),
            ]
        )
        db.execute(
            "CREATE OR REPLACE TEMP TABLE wb_cdc_typed AS " + typed_sql(shape, "wb_cdc_in", extra)
        )
    except duckdb.Error as exc:
        raise InvalidInputError(f"{table.bronze}: {first_line(exc)}") from None
    finally:
        db.unregister("wb_cdc_in")
    if unchanged:
        fill_toasted(db, lake, source, table, [n for n in names if n in unchanged], index)
    company = f"c.{qi(shape.company)}" if shape.company else "NULL"
    audit = ", ".join(
        [
            f"{ql(run_id)} AS _run_id",
            f"TIMESTAMPTZ {ql(base.isoformat())} + to_microseconds(c._wb_seq) AS _extracted_at",
            f"{ql(source)} AS _source",
            f"CASE c._op WHEN {ql(MOVED)} THEN 'u' ELSE c._op END AS _op",
            f"CAST({company} AS BIGINT) AS _company_id",
            f"DATE {ql(base.date().isoformat())} AS _extracted_on",
            "c._lsn AS _lsn",
            "c._committed_at AS _committed_at",
        ]
    )
    sql = (
        f"SELECT {q.row_columns(shape, table.languages)}, {audit} "
        "FROM wb_cdc_typed c ORDER BY c._wb_seq"
    )
    return db.execute(sql).to_arrow_table()


def fill_toasted(
    db: duckdb.DuckDBPyConnection,
    lake: Lake,
    source: str,
    table: Table,
    columns: list[str],
    index: dict[str, int],
) -> None:
    """Unchanged TOASTed values: the key's value before, in this batch or in bronze. An
    update that changed the key (``MOVED``) takes the old key's, which the change just
    before it (the old key's ``d``) names."""
    keys = table.keys
    # Each row's key to look its values up by: its own, or a moved row's old key.
    looked = [f"_wb_k{j}" for j in range(len(keys))]
    db.execute(
        "CREATE OR REPLACE TEMP TABLE wb_cdc_typed AS SELECT *, "
        + ", ".join(
            f"CASE WHEN _op = {ql(MOVED)} THEN lag({qi(k)}) OVER (ORDER BY _wb_seq) "
            f"ELSE {qi(k)} END AS {lk}"
            for k, lk in zip(keys, looked, strict=True)
        )
        + " FROM wb_cdc_typed"
    )
    same = " AND ".join(f"p.{qi(k)} = t.{lk}" for k, lk in zip(keys, looked, strict=True))
    flagged = " OR ".join(f"_wb_u{index[c]}" for c in columns)
    previous = None
    held: set[str] = set()
    if lake.exists(table.bronze):
        scan = lake.scan_sql(table.bronze, lake.version(table.bronze))
        held = {r[0] for r in db.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    if held & set(columns):  # (a column new to bronze has no value before there)
        key_list = ", ".join(f"b.{qi(k)}" for k in keys)
        values = ", ".join(
            f"arg_max(b.{qi(c)}, b._extracted_at) AS {qi(c)}" for c in columns if c in held
        )
        on = " AND ".join(f"b.{qi(k)} = w.{lk}" for k, lk in zip(keys, looked, strict=True))
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE wb_cdc_prev AS SELECT {key_list}, {values} "
            f"FROM {scan} b SEMI JOIN (SELECT * FROM wb_cdc_typed WHERE {flagged}) w ON {on} "
            f"WHERE b._source = {ql(source)} AND b._op <> 'd' GROUP BY {key_list}"
        )
        previous = "wb_cdc_prev"
    for column in columns:
        flag, c = f"_wb_u{index[column]}", qi(column)
        earlier = f"{same} AND p._wb_seq < t._wb_seq AND p._op <> 'd'"
        in_batch = (
            f"(SELECT p.{c} FROM wb_cdc_typed p WHERE {earlier} "
            f"AND NOT coalesce(p.{flag}, false) ORDER BY p._wb_seq DESC LIMIT 1)"
        )
        before = (
            f"(SELECT p.{c} FROM {previous} p WHERE {same})"
            if previous and column in held
            else "NULL"
        )
        # The value before is the last one sent for the key (an unchanged value is the
        # same as the one before it), else bronze's. Rows whose key has an earlier row
        # still unfilled wait for it (a moved key updated again in the same batch): a
        # pass per such link, at most one per row.
        ready = f"NOT EXISTS (SELECT 1 FROM wb_cdc_typed p WHERE {earlier} AND p.{flag})"
        for _ in range(len(table.ops)):
            (left,) = db.execute(
                f"UPDATE wb_cdc_typed t SET {c} = coalesce({in_batch}, {before}), "
                f"{flag} = false WHERE {flag} AND {ready}"
            ).fetchone()
            if not left:
                break
        db.execute(f"UPDATE wb_cdc_typed SET {c} = NULL, {flag} = false WHERE {flag}")


def typed_sql(shape: Shape, relation: str, extra: str = "") -> str:
    """Text values of ``relation`` cast to the shape's (the extract's) types."""
    parts = []
    for column in shape.columns:
        c = qi(column.name)
        kind = column.type.upper()
        if kind in ("VARCHAR", "TEXT"):
            parts.append(c)
        elif kind == "BLOB":  # bytea's text is \x and hex digits
            parts.append(f"from_hex(substr({c}, 3)) AS {c}")
        else:
            parts.append(f"CAST({c} AS {column.type}) AS {c}")
    return f"SELECT {', '.join(parts)}{', ' + extra if extra else ''} FROM {relation}"


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
