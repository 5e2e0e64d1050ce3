"""Carrying out ``%sql`` statements on lake tables through the lake library.

Each statement is one Delta commit (one new version, recording the notebook and user or
the pipeline run's step as its writer); a statement that fails commits nothing. The
query of a CREATE, INSERT or MERGE runs in the kernel's DuckDB session, exactly as
written, and streams to the writer as Arrow batches, its types kept (DECIMAL stays
DECIMAL). DELETE and UPDATE are delta-rs's, on the table's files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb

from workbench_server.errors import WorkbenchError
from workbench_server.sql_text import quote_identifier as _qi

from .lake_sql import (
    CreateTable,
    DeleteFrom,
    InsertInto,
    LakeStatement,
    MergeInto,
    Refused,
    UpdateSet,
    lineage_sql,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench_server.lake import WriteResult, WriterInfo

    from .lake_session import LakeSession

BATCH_ROWS = 64 * 1024
_INTERRUPTED = "INTERRUPT Error: Interrupted!"
# DuckDB types a Delta table cannot hold, and what they are written as: unsigned integers
# widen (delta-rs would wrap them into the signed type of the same width), the others
# become what Delta has.
DELTA_TYPES = {
    "utinyint": "SMALLINT",
    "usmallint": "INTEGER",
    "uinteger": "BIGINT",
    "ubigint": "DECIMAL(20,0)",
    "uhugeint": "DECIMAL(38,0)",
    "timestamp_ns": "TIMESTAMP",
    "timestamp_ms": "TIMESTAMP",
    "timestamp_s": "TIMESTAMP",
    "time": "VARCHAR",
    "time with time zone": "VARCHAR",
    "interval": "VARCHAR",
    "union": "VARCHAR",
    "bignum": "VARCHAR",
    "varint": "VARCHAR",
}


class LakeWriteError(Exception):
    """A lake statement that cannot be carried out; ``str()`` says why and what to do."""


class LakeWrites:
    """Writes lake tables from SQL statements planned by :mod:`.lake_sql`."""

    def __init__(self, session: LakeSession, writer: Callable[[], WriterInfo]) -> None:
        self.session = session
        self.writer = writer
        self._merged: list[tuple[str, str]] | None = None  # the last MERGE's columns
        self._names: dict[str, str] = {}  # a table as written -> the lake's own name

    def lineage(self, statement: LakeStatement) -> str | None:
        """SQL for the lineage of ``statement``, once :meth:`run` has written it."""
        statement = self._named(statement)
        return lineage_sql(statement, self._merged if isinstance(statement, MergeInto) else None)

    def name_of(self, table: str) -> str:
        """The lake's own name of ``table`` as a statement wrote it (``gold.Positive``
        for ``gold.positive``), once :meth:`run` has written it."""
        return self._names.get(table, table)

    def _named(self, statement: LakeStatement) -> LakeStatement:
        table = getattr(statement, "table", None)
        if table is None or self._names.get(table, table) == table:
            return statement
        return dataclasses.replace(statement, table=self._names[table])

    def _resolve(self, statement: LakeStatement) -> LakeStatement:
        """The statement on the lake's table of that name in any case: DuckDB's names
        are not case sensitive, so ``gold.positive`` and ``gold.Positive`` are one view,
        and a write must go to the table that view reads rather than make another."""
        table = getattr(statement, "table", None)
        if not table or isinstance(statement, Refused):
            return statement
        lake = self.session.lake
        if not lake.exists(table):
            same = [t.table for t in lake.tables() if t.table.lower() == table.lower()]
            if same:
                self._names[table] = same[0]
        return self._named(statement)

    @property
    def db(self) -> duckdb.DuckDBPyConnection:
        return self.session.db

    def run(self, statement: LakeStatement) -> WriteResult | None:
        """Carry out ``statement``; None when there was nothing to do (IF NOT EXISTS)."""
        if isinstance(statement, Refused):
            raise LakeWriteError(statement.message)
        self.session.ensure_delta()
        statement = self._resolve(statement)
        handler = {
            CreateTable: self._create,
            InsertInto: self._insert,
            DeleteFrom: self._delete,
            UpdateSet: self._update,
            MergeInto: self._merge,
        }[type(statement)]
        try:
            return handler(statement)
        except (LakeWriteError, WorkbenchError):
            raise
        except Exception as exc:
            # The query's own error (DuckDB's, also when it stopped the stream half-way);
            # where it points is in SQL this module wrapped the query in.
            raise LakeWriteError(f"{statement.table}: {_first_line(exc)}") from None
        finally:
            self.session.refresh_views(force=True)

    # -- each statement ---------------------------------------------------------------
    def _create(self, s: CreateTable) -> WriteResult | None:
        lake = self.session.lake
        exists = lake.exists(s.table)
        if exists and s.if_not_exists:
            return None
        if exists and not s.replace:
            raise LakeWriteError(
                f"{s.table} already exists in {lake.name}: CREATE OR REPLACE TABLE writes a new "
                "version in its place, INSERT INTO adds rows"
            )
        if s.query is not None:
            relation = self._query(s.query, s.table)
        else:
            relation = self._empty(s.columns_sql or "", s.table)
        return self._streamed(
            relation,
            lambda rows: lake.write(
                s.table,
                rows,
                mode="overwrite" if exists else "append",
                partition_by=list(s.partition_by) or None,
                writer=self.writer(),
            ),
        )

    def _insert(self, s: InsertInto) -> WriteResult:
        target = self._target(s.table)
        relation = self._query(s.query, s.table)
        given = relation.columns
        if s.by_name:
            unknown = [c for c in given if c not in target]
            if unknown:
                raise LakeWriteError(f"{s.table} has no column {unknown[0]!r}")
            sources = {c: i for i, c in enumerate(given)}
        else:
            names = list(s.columns) if s.columns is not None else list(target)
            unknown = [c for c in names if c not in target]
            if unknown:
                raise LakeWriteError(f"{s.table} has no column {unknown[0]!r}")
            if len(names) != len(given):
                raise LakeWriteError(
                    f"{s.table}: {len(names)} column(s) to insert, but the query gives {len(given)}"
                )
            sources = {c: i for i, c in enumerate(names)}
        aliases = ", ".join(f"_wb_{i}" for i in range(len(given)))
        select = ", ".join(
            f"CAST({'_wb_' + str(sources[c]) if c in sources else 'NULL'} AS {t}) AS {_qi(c)}"
            for c, t in target.items()
        )
        rows = self._query(f"SELECT {select} FROM ({s.query}) AS _wb_q({aliases})", s.table)
        return self._streamed(
            rows,
            lambda data: self.session.lake.write(
                s.table, data, mode="append", writer=self.writer()
            ),
        )

    def _delete(self, s: DeleteFrom) -> WriteResult:
        self._target(s.table, check=s.check)
        with _evaluated_by_delta_rs():
            return self.session.lake.delete(s.table, s.where, writer=self.writer())

    def _update(self, s: UpdateSet) -> WriteResult:
        target = self._target(s.table, check=s.check, values=s.checks)
        unknown = [c for c in s.values if c not in target]
        if unknown:
            raise LakeWriteError(f"{s.table} has no column {unknown[0]!r}")
        with _evaluated_by_delta_rs():
            return self.session.lake.update(s.table, s.values, s.where, writer=self.writer())

    def _merge(self, s: MergeInto) -> WriteResult:
        from workbench_server.lake import DeleteMarker

        target = self._target(s.table)
        source = self._query(s.source, s.table)
        given = set(source.columns)
        alias = _qi(s.alias)
        pairs = list(s.keys)
        if not s.delete_only:
            written = s.columns if s.columns is not None else tuple(target)
            key_names = {t for t, _ in pairs}
            pairs += [(c, c) for c in written if c not in key_names]
        self._merged = pairs
        select = []
        for column, from_source in pairs:
            if column not in target:
                raise LakeWriteError(f"{s.table} has no column {column!r}")
            if from_source not in given:
                raise LakeWriteError(
                    f"{s.table}: the MERGE's source has no column {from_source!r} "
                    f"(it has {', '.join(source.columns)})"
                )
            select.append(f"CAST({alias}.{_qi(from_source)} AS {target[column]}) AS {_qi(column)}")
        marker = None
        if s.delete_only:
            marker = DeleteMarker(column="_wb_delete", value="d")
            select.append("'d' AS _wb_delete")
        elif s.delete_marker is not None:
            column, value = s.delete_marker
            marker = DeleteMarker(column=column, value=value)
            if column not in {c for c, _ in pairs}:
                select.append(f"{alias}.{_qi(column)} AS {_qi(column)}")
        rows = self._query(f"SELECT {', '.join(select)} FROM ({s.source}) AS {alias}", s.table)
        return self._streamed(
            rows,
            lambda data: self.session.lake.write(
                s.table,
                data,
                mode="merge",
                keys=[t for t, _ in s.keys],
                delete_marker=marker,
                writer=self.writer(),
            ),
        )

    # -- helpers ----------------------------------------------------------------------
    def _streamed(
        self, relation: duckdb.DuckDBPyRelation, write: Callable[[Any], WriteResult]
    ) -> WriteResult:
        """``write`` of ``relation``'s rows streamed. A query that fails in one of DuckDB's
        threads may reach the writer as another thread's "INTERRUPT Error: Interrupted!"
        instead of its cause (seen once in CI on a loaded machine): the query is then run
        again on one thread, reading only, for the error to say what is wrong. Nothing
        was written either way."""
        try:
            return write(arrow_stream(relation))
        except Exception as exc:
            if _INTERRUPTED not in str(exc):
                raise
            cause = self._cause(relation)
            if cause is None:
                raise
            raise cause from None

    def _cause(self, relation: duckdb.DuckDBPyRelation) -> BaseException | None:
        """The error ``relation`` raises when run on one thread (None if it runs, or is
        rows already read: a table made empty by CREATE TABLE's column list)."""
        if not isinstance(relation, duckdb.DuckDBPyRelation):
            return None
        try:
            (threads,) = self.db.execute("SELECT current_setting('threads')").fetchone()
            self.db.execute("SET threads TO 1")
        except duckdb.Error:
            return None
        try:
            for _ in relation.to_arrow_reader(BATCH_ROWS):
                pass
        except Exception as exc:  # DuckDB's, through Arrow's reader (OSError)
            return exc if _INTERRUPTED not in str(exc) else None
        finally:
            self.db.execute(f"SET threads TO {int(threads)}")
        return None

    def _query(self, query: str, table: str) -> duckdb.DuckDBPyRelation:
        """``query`` as a relation of this session (bound now: its errors come first)."""
        relation = self.db.sql(query)
        if relation is None:
            raise LakeWriteError(f"{table}: {query[:60]!r} is not a query")
        return relation

    def _empty(self, columns_sql: str, table: str) -> pa.Table:
        """No rows, with the columns of ``(column definitions)`` as DuckDB types them."""
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE _wb_new_table {columns_sql}")
        try:
            return arrow_stream(self.db.sql("SELECT * FROM _wb_new_table")).read_all()
        finally:
            self.db.execute("DROP TABLE IF EXISTS _wb_new_table")

    def _target(
        self, table: str, check: str | None = None, values: dict[str, str] | None = None
    ) -> dict[str, str]:
        """The table's columns and DuckDB types now; ``check`` (a condition) and
        ``values`` (expressions) bound against them first, for DuckDB's clear errors."""
        lake = self.session.lake
        if not lake.exists(table):
            try:
                self.session.check_changeable(table)  # a team table, in team mode
            except WorkbenchError as exc:
                raise LakeWriteError(str(exc)) from None
            lake.version(table)  # says it is a Parquet dataset, if it is one
            raise LakeWriteError(
                f"no lake table {table} in {lake.name}: CREATE TABLE {table} AS ... makes it"
            )
        scan = self.session.table_sql(table)
        current = self.db.sql(f"SELECT * FROM {scan} LIMIT 0")
        if check is not None or values:
            exprs = ", ".join(f"{v} AS {_qi(k)}" for k, v in (values or {}).items()) or "1"
            where = f" WHERE {check}" if check else ""
            self.db.sql(f"SELECT {exprs} FROM {scan}{where} LIMIT 0").fetchall()
        return {c: str(t) for c, t in zip(current.columns, current.types, strict=True)}


def arrow_stream(data: Any) -> pa.RecordBatchReader | pa.Table:
    """``data`` as Arrow a Delta table can hold: a DuckDB relation's types mapped
    (DELTA_TYPES) and streamed in batches, times with a zone in UTC (delta-rs takes no
    other zone; the instants are the same)."""
    import pyarrow as pa

    if isinstance(data, duckdb.DuckDBPyRelation):
        casts = {
            c: DELTA_TYPES[t.id]
            for c, t in zip(data.columns, data.types, strict=True)
            if t.id in DELTA_TYPES
        }
        if casts:
            data = data.project(
                ", ".join(
                    f"CAST({_qi(c)} AS {casts[c]}) AS {_qi(c)}" if c in casts else _qi(c)
                    for c in data.columns
                )
            )
        data = data.to_arrow_reader(BATCH_ROWS)
    schema = data.schema
    fields = [
        f.with_type(pa.timestamp(f.type.unit, "UTC"))
        if pa.types.is_timestamp(f.type) and f.type.tz not in (None, "UTC")
        else f
        for f in schema
    ]
    utc = pa.schema(fields, metadata=schema.metadata)
    return data if utc == schema else data.cast(utc)


def describe(table: str, result: WriteResult | None, lake: str) -> str:
    """One line about a write: ``silver.x: version 3 in lake (12 rows added)``."""
    if result is None:
        return f"{table}: exists in {lake}, nothing written"
    if result.operation == "NONE":
        return f"{table}: nothing to change (still version {result.version} in {lake})"
    counts = [
        f"{n} {what}"
        for n, what in (
            (result.rows_added, "added"),
            (result.rows_updated, "updated"),
            (result.rows_removed, "removed"),
        )
        if n
    ]
    rows = f" (rows: {', '.join(counts)})" if counts else " (no rows changed)"
    return f"{table}: version {result.version} in {lake}{rows}"


@contextmanager
def _evaluated_by_delta_rs() -> Iterator[None]:
    """DuckDB has bound the statement; what delta-rs could not evaluate gets a hint."""
    from workbench_server.errors import InvalidInputError

    try:
        yield
    except InvalidInputError as exc:
        raise LakeWriteError(
            f"{exc} (delta-rs evaluates DELETE and UPDATE on lake tables: columns, literals "
            "and common SQL functions; for more, MERGE INTO ... USING (SELECT ...) AS s)"
        ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
