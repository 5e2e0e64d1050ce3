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

import duckdb

from workbench_server.errors import InvalidInputError, PermissionDeniedError
from workbench_server.lake import Lake
from workbench_server.sql_text import quote_identifier as qi
from workbench_server.sql_text import quote_literal as ql

from ..spec_sql import lake_tables_read
from ..spec_steps import SqlStep
from .context import StepContext, as_result, require_table
from .lineage import query_lineage
from .session import step_session
from .streams import counted

PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
RESERVED = ("memory", "temp", "system", "main")  # DuckDB's own catalog names


def run_sql(ctx: StepContext) -> None:
    spec = SqlStep.model_validate(
        {**ctx.config, "id": ctx.step_id, "kind": "sql", "file": None, "parameters": {}}
    )
    sql = str(ctx.config.get("sql") or "")
    lake = ctx.lake(spec.lake)
    ctx.progress.table = spec.target
    if ctx.attempt > 1 and lake.exists(spec.target):  # an earlier attempt's commit?
        done = lake.written_by(spec.target, ctx.run_id, ctx.step_id)
        if done:
            ctx.wrote(lake, as_result(spec.target, done[0]))
            ctx.log(f"{spec.target}: written by an earlier attempt of this run")
            return
    with step_session(lake, ctx.progress, private=True) as db:
        schema = _pin_tables(ctx, lake, db, sql)
        _lock(db, lake)
        used = set(PARAMETER.findall(sql))
        values = {k: v for k, v in ctx.parameters.items() if k in used}
        try:
            reader = db.execute(sql, values or None).to_arrow_reader(64 * 1024)
        except duckdb.PermissionException as exc:
            raise PermissionDeniedError(
                f"sql step {ctx.step_id}: the query may read lake tables only ({_first(exc)})"
            ) from None
        except duckdb.Error as exc:
            raise InvalidInputError(f"sql step {ctx.step_id}: {_first(exc)}") from None
        result = lake.write(
            spec.target,
            counted(reader, ctx.progress),
            mode=spec.mode,
            keys=spec.keys,
            partition_by=spec.partition_by,
            replace_where=_bind(spec.replace_where, ctx.parameters, ctx.step_id),
            writer=ctx.writer,
        )
    ctx.wrote(lake, result)
    query_lineage(ctx, lake, spec.target, sql, schema)
    read = ", ".join(f"{t.table} v{t.version}" for t in ctx.tables if t.access == "read")
    ctx.log(
        f"{read or 'no lake table'} -> {spec.target} ({spec.mode}): version {result.version}, "
        f"{result.rows_added} row(s) added, {result.rows_removed or 0} removed"
    )
    ctx.stats[spec.target] = {"version": result.version, "rows_added": result.rows_added}


def _pin_tables(
    ctx: StepContext, lake: Lake, db: duckdb.DuckDBPyConnection, sql: str
) -> dict[str, dict[str, dict[str, str]]]:
    """A view per lake table the query names, as of its version now; their columns."""
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for table in lake_tables_read(sql):
        version = require_table(lake, table, f"sql step {ctx.step_id}")
        ctx.read(lake, table, version)
        layer, name = table.split(".")
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(layer)}")
        db.execute(
            f"CREATE VIEW {qi(layer)}.{qi(name)} AS SELECT * FROM {lake.scan_sql(table, version)}"
        )
        schema.setdefault(layer, {})[name] = {}
    # The views' columns as bound when they were made (a DESCRIBE per view would read
    # each table's Delta log once more).
    for layer, name, column, kind in db.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = 'memory' ORDER BY schema_name, table_name, column_index"
    ).fetchall():
        if name in schema.get(layer, {}):
            schema[layer][name][column] = kind
    pinned = [(t.table, t.version) for t in ctx.tables if t.access == "read"]
    db.execute(
        "CREATE TEMP TABLE pinned_versions (table_name VARCHAR, version BIGINT, run_id VARCHAR)"
    )
    if pinned:
        db.executemany(
            "INSERT INTO pinned_versions VALUES (?, ?, ?)",
            [(table, version, ctx.run_id) for table, version in pinned],
        )
    # lake.silver.x (the kernel's name for the default lake's tables) is the same table.
    if schema and lake.name not in RESERVED:
        db.execute(f"ATTACH ':memory:' AS {qi(lake.name)}")
        for layer, tables in schema.items():
            db.execute(f"CREATE SCHEMA {qi(lake.name)}.{qi(layer)}")
            for name in tables:
                db.execute(
                    f"CREATE VIEW {qi(lake.name)}.{qi(layer)}.{qi(name)} AS "
                    f"SELECT * FROM memory.{qi(layer)}.{qi(name)}"
                )
    return schema


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
        value = values[name]
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        return ql(str(value))

    return PARAMETER.sub(literal, predicate)


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
