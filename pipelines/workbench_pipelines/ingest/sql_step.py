"""The sql step: one query over lake tables, its result written to the target table.

The query runs in a DuckDB session of its own in which each lake table it names
(``silver.account_move``, or ``lake.silver.account_move``) is a view of that table as of
its version when the step started: the versions recorded as read are exactly what the
query saw, and reading them back reproduces the output. The session is locked before
the query runs: it reaches no file, folder or URL but the lake's, loads no extension and
cannot change that (the query is the pipeline owner's code, run inside the worker).
Parameters are bound (``$company``), never pasted into the SQL; in ``replace_where`` (a
predicate the lake evaluates, not DuckDB) they become quoted literals. The view
``pinned_versions`` (table_name, version, run_id) lists the tables the query pinned, so a
query can record the versions it used.
"""

from __future__ import annotations

import re
from decimal import Decimal
from itertools import pairwise

import duckdb

from workbench_server.errors import InvalidInputError, PermissionDeniedError
from workbench_server.lake import Lake
from workbench_server.sql_text import quote_identifier as qi
from workbench_server.sql_text import quote_literal as ql

from ..spec_sql import lake_tables_read
from ..spec_steps import ONE_QUERY_FIELDS, SqlQuery, SqlStep
from ..spec_types import untag_decimals
from .context import StepContext, as_result, require_table
from .lineage import query_lineage
from .session import step_session
from .streams import counted

PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
RESERVED = ("memory", "temp", "system", "main")  # DuckDB's own catalog names


def run_sql(ctx: StepContext) -> None:
    spec = _spec(ctx)
    lake = ctx.lake(spec.lake)
    pending: list[SqlQuery] = []
    for query in spec.all_queries:
        if ctx.attempt > 1 and lake.exists(query.target):  # an earlier attempt's commit?
            done = lake.written_by(query.target, ctx.run_id, ctx.step_id)
            if done:
                ctx.wrote(lake, as_result(query.target, done[0]))
                ctx.log(f"{query.target}: written by an earlier attempt of this run")
                continue
        pending.append(query)
    if not pending:
        return
    with step_session(lake, ctx.progress, private=True) as db:
        session = _Session(
            ctx, lake, db, several=spec.queries is not None, alias=_names_lake(lake, pending)
        )
        for query in pending:
            session.run(query)


def _spec(ctx: StepContext) -> SqlStep:
    """The step as the plan gives it: each query inlined (``sql``; ``file`` names where
    it came from)."""
    config = {k: v for k, v in ctx.config.items() if v is not None}
    if "queries" in config:
        config = {k: v for k, v in config.items() if k not in ONE_QUERY_FIELDS}
        config["queries"] = [
            {k: v for k, v in query.items() if v is not None and k != "file"}
            for query in config["queries"]
        ]
    else:
        config.pop("file", None)
        config.setdefault("sql", "")
    return SqlStep.model_validate({**config, "id": ctx.step_id, "kind": "sql", "parameters": {}})


class _Session:
    """The step's DuckDB session: a view per lake table its queries name, made when a
    query first names it (as of its version then), and made again at the new version
    once a query of the step has written it, so a query reads what the ones before it
    wrote. The session is locked once the first query's views are made."""

    def __init__(
        self,
        ctx: StepContext,
        lake: Lake,
        db: duckdb.DuckDBPyConnection,
        *,
        several: bool,
        alias: bool,
    ) -> None:
        self.ctx, self.lake, self.db = ctx, lake, db
        self.several = several  # errors name the query's target
        self.pinned: dict[str, int] = {}  # table -> the version its view reads
        self.columns: dict[str, dict[str, str]] = {}  # table -> its view's columns
        self.layers: set[str] = set()
        self.locked = False
        self.alias = alias  # lake.silver.x is silver.x (made only when a query says so)
        if self.alias:
            db.execute(f"ATTACH ':memory:' AS {qi(lake.name)}")

    def run(self, query: SqlQuery) -> None:
        ctx, lake, db = self.ctx, self.lake, self.db
        sql = query.sql or ""
        ctx.progress.table = query.target
        schema = self._pin(lake_tables_read(sql))
        if not self.locked:
            _lock(db, lake)
            self.locked = True
        used = set(PARAMETER.findall(sql))
        # A decimal parameter binds as a Decimal: DuckDB's DECIMAL, never DOUBLE.
        values = {k: untag_decimals(v) for k, v in ctx.parameters.items() if k in used}
        try:
            reader = db.execute(sql, values or None).to_arrow_reader(64 * 1024)
        except duckdb.PermissionException as exc:
            raise PermissionDeniedError(
                f"sql step {ctx.step_id}: the query may read lake tables only ({_first(exc)})"
            ) from None
        except duckdb.Error as exc:
            which = f" (the query writing {query.target})" if self.several else ""
            raise InvalidInputError(f"sql step {ctx.step_id}{which}: {_first(exc)}") from None
        result = lake.write(
            query.target,
            counted(reader, ctx.progress),
            mode=query.mode,
            keys=query.keys,
            partition_by=query.partition_by,
            replace_where=_bind(query.replace_where, ctx.parameters, ctx.step_id),
            # A query that gained a column (a template's new version) replaces its own
            # partition with it; the other partitions' rows read NULL there.
            schema_mode="merge" if query.replace_where else None,
            writer=ctx.writer,
        )
        ctx.wrote(lake, result)
        read = ", ".join(f"{t} v{self.pinned[t]}" for t in lake_tables_read(sql))
        self.pinned.pop(query.target, None)  # a later query reads it as written now
        query_lineage(ctx, lake, query.target, sql, schema)
        ctx.log(
            f"{read or 'no lake table'} -> {query.target} ({query.mode}): version "
            f"{result.version}, {result.rows_added} row(s) added, "
            f"{result.rows_removed or 0} removed"
        )
        ctx.stats[query.target] = {"version": result.version, "rows_added": result.rows_added}

    def _pin(self, tables: list[str]) -> dict[str, dict[str, dict[str, str]]]:
        """A view per table the query names (new ones as of their version now), the
        ``pinned_versions`` view of them, and their columns by layer."""
        ctx, lake, db = self.ctx, self.lake, self.db
        fresh = [t for t in tables if t not in self.pinned]
        for table in fresh:
            version = require_table(lake, table, f"sql step {ctx.step_id}")
            ctx.read(lake, table, version)
            layer, name = table.split(".")
            if layer not in self.layers:
                db.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(layer)}")
                if self.alias:
                    db.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(lake.name)}.{qi(layer)}")
                self.layers.add(layer)
            db.execute(
                f"CREATE OR REPLACE VIEW {qi(layer)}.{qi(name)} AS "
                f"SELECT * FROM {lake.scan_sql(table, version)}"
            )
            if self.alias:
                db.execute(
                    f"CREATE OR REPLACE VIEW {qi(lake.name)}.{qi(layer)}.{qi(name)} AS "
                    f"SELECT * FROM memory.{qi(layer)}.{qi(name)}"
                )
            self.pinned[table] = version
            self.columns[table] = {}
        if fresh:
            # The views' columns as bound when they were made (a DESCRIBE per view would
            # read each table's Delta log once more).
            for layer, name, column, kind in db.execute(
                "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                "WHERE database_name = 'memory' ORDER BY schema_name, table_name, column_index"
            ).fetchall():
                if f"{layer}.{name}" in fresh:
                    self.columns[f"{layer}.{name}"][column] = kind
        db.execute(
            "CREATE OR REPLACE TEMP TABLE pinned_versions "
            "(table_name VARCHAR, version BIGINT, run_id VARCHAR)"
        )
        if tables:  # one insert (an executemany was a statement per table)
            db.execute(
                "INSERT INTO pinned_versions VALUES " + ", ".join("(?, ?, ?)" for _ in tables),
                [value for table in tables for value in (table, self.pinned[table], ctx.run_id)],
            )
        schema: dict[str, dict[str, dict[str, str]]] = {}
        for table in tables:
            layer, name = table.split(".")
            schema.setdefault(layer, {})[name] = dict(self.columns[table])
        return schema


def _names_lake(lake: Lake, queries: list[SqlQuery]) -> bool:
    """Whether a query names a table with the lake's name before it (``lake.silver.x``):
    then each pinned table gets that second view too. Most name ``silver.x`` only, and
    the second views cost about as much as the first (each binds the table's view again,
    reading its Delta log). Told by DuckDB's own tokenizer, so the name in a comment or
    a string does not count; a column or alias so named makes them for nothing."""
    if lake.name in RESERVED:
        return False
    return any(_names(query.sql or "", lake.name.lower()) for query in queries)


_WORD = re.compile(r'"((?:[^"]|"")*)"|[^\s."]+')
_NAMES = (duckdb.token_type.identifier, duckdb.token_type.keyword)


def _names(sql: str, name: str) -> bool:
    """Whether ``name`` followed by a dot is in ``sql``, outside comments and strings."""
    try:
        tokens = duckdb.tokenize(sql)
    except duckdb.Error:
        return True  # unsure: the second views are made, as before
    for (start, kind), (after, following) in pairwise(tokens):
        if kind in _NAMES and following == duckdb.token_type.operator and sql[after] == ".":
            word = _WORD.match(sql, start)
            if word is not None:
                text = word.group(1).replace('""', '"') if word.group(1) is not None else word[0]
                if text.lower() == name:
                    return True
    return False


def _lock(db: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Nothing outside the lake reachable from now on, and no way back."""
    root = lake.location.root.rstrip("/") + "/"
    db.execute(f"SET allowed_directories = [{ql(root)}]")
    db.execute("SET enable_external_access = false")
    db.execute("SET lock_configuration = true")


def _bind(predicate: str | None, values: dict, step_id: str) -> str | None:
    """``replace_where`` with each ``$name`` replaced by its parameter as a literal."""
    if predicate is None:
        return None

    def literal(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise InvalidInputError(
                f"sql step {step_id}: replace_where names ${name}, which is not a parameter"
            )
        value = untag_decimals(values[name])
        if value is None:
            return "NULL"
        if isinstance(value, Decimal):
            return format(value, "f")  # an exact DECIMAL literal (1E+3 would be DOUBLE)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        return ql(str(value))

    return PARAMETER.sub(literal, predicate)


# The database's own suggestion for a mistyped name, kept on the error's one line:
# DuckDB's "Candidate bindings: ..." and "Did you mean ...?".
HINTS = ("Candidate bindings:", "Did you mean")


def _first(exc: BaseException) -> str:
    """The error's first line, and the hints the database gave below it."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    hints = [" ".join(line.split())[:300] for line in lines[1:] if line.startswith(HINTS)]
    return " ".join([lines[0][:300], *hints])
