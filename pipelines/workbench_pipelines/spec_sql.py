"""What a declarative step names outside the spec, checked when the pipeline is
validated: a sql step's query, and the connections steps read and write.

A sql step holds one query (``SELECT``, ``WITH ... SELECT``, ``FROM ...``) whose result
the step writes to its target table. DuckDB's own parser checks it, so what validates is
what runs; the lake tables it reads (``layer.name``, the names the lake session gives
them) are found with sqlglot, as lineage finds them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .spec_checks import Loc
from .spec_steps import step_kind
from .spec_types import LAYERS, MAX_SQL_CHARS


def query_problem(sql: str) -> str | None:
    """Why ``sql`` is not one query DuckDB can parse, or None."""
    import duckdb

    if not sql.strip():
        return "the query is empty"
    try:
        with duckdb.connect() as db:
            statements = db.extract_statements(sql)
    except duckdb.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        where = next((line for line in lines if line.startswith("LINE ")), "")
        reason = lines[0] if lines else type(exc).__name__
        return f"the query does not parse: {reason}" + (
            f" ({where.split(':')[0].lower()} of the query)" if where else ""
        )
    if len(statements) != 1:
        return (
            f"the query has {len(statements)} statements: a sql step runs one query "
            "(SELECT ...) and writes its result to the target"
        )
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        return (
            f"a sql step runs one query (SELECT ...), not {kind}: the step itself writes "
            "its result to the target with the step's mode"
        )
    return None


def lake_tables_read(sql: str) -> list[str]:
    """The lake tables (``layer.name``) the query names, in the order it names them.

    ``lake.silver.x`` and ``silver.x`` are the same table; CTE names are not tables.
    """
    return list(_lake_tables_read(sql))


@functools.lru_cache(maxsize=256)
def _lake_tables_read(sql: str) -> tuple[str, ...]:
    # Kept per process: a worker parses the same steps' queries every run (sqlglot takes
    # 0.05-0.3 s for one of the close's queries on a loaded machine; a sql step asks twice).
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return ()
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    found: dict[str, None] = {}
    for table in tree.find_all(exp.Table):
        if table.db in LAYERS and table.name and not (not table.db and table.name in ctes):
            found.setdefault(f"{table.db}.{table.name}")
    return tuple(found)


def read_sql_file(path: Path) -> tuple[str | None, str | None]:
    """(the file's text, None), or (None, why it cannot be used)."""
    try:
        if path.stat().st_size > MAX_SQL_CHARS * 4:
            return None, f"is larger than {MAX_SQL_CHARS * 4 // 1024} KB"
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, "is not UTF-8 text"
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if len(text) > MAX_SQL_CHARS:
        return None, f"has more than {MAX_SQL_CHARS:,} characters"
    return text, None


def sql_file_problems(data: Any, folder: Path | None) -> list[tuple[Loc, str]]:
    """Problems of the sql steps' queries: inline ones always, files under ``folder``
    (not looked at when it is None)."""
    steps = data.get("steps") if isinstance(data, Mapping) else None
    problems: list[tuple[Loc, str]] = []
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, Mapping) or step_kind(step) != "sql":
            continue
        queries = step.get("queries")
        if isinstance(queries, list):
            for j, query in enumerate(queries):
                if isinstance(query, Mapping):
                    problems += _query_problems(query, folder, ("steps", i, "queries", j))
        else:
            problems += _query_problems(step, folder, ("steps", i))
    return problems


def _query_problems(query: Mapping, folder: Path | None, at: Loc) -> list[tuple[Loc, str]]:
    """Problems of one query (``sql`` inline or ``file``) of a sql step, located at ``at``."""
    problems: list[tuple[Loc, str]] = []
    inline, file = query.get("sql"), query.get("file")
    if isinstance(inline, str) and len(inline) <= MAX_SQL_CHARS:
        problem = query_problem(inline)
        if problem:
            problems.append(((*at, "sql"), problem))
    if folder is None or not isinstance(file, str) or "\0" in file:
        return problems
    if file.startswith("/") or ".." in file.replace("\\", "/").split("/"):
        return problems  # the model reports such paths
    path = folder / file
    if not path.is_file():
        problems.append(((*at, "file"), f"SQL file {file!r} does not exist (looked for {path})"))
        return problems
    text, reason = read_sql_file(path)
    problem = f"SQL file {file!r} {reason}" if reason else query_problem(text or "")
    if problem:
        if not reason:
            problem = f"{file}: {problem}"
        problems.append(((*at, "file"), problem))
    return problems


SOURCE_KINDS = ("postgres", "odoo", "sqlalchemy")
DEFAULT_LAKE = "lake"  # the installation's lake: every user's, no connection needed


def connection_problems(data: Any, connections: Mapping[str, str]) -> list[tuple[Loc, str]]:
    """Connections named by declarative steps that are not among ``connections`` (those
    the deployer may use, name -> kind), or not of a kind the step reads or writes."""
    steps = data.get("steps") if isinstance(data, Mapping) else None
    usable = ", ".join(sorted(connections)) or "none"
    problems: list[tuple[Loc, str]] = []
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, Mapping) or step_kind(step) == "notebook":
            continue
        wanted = [("lake", ("lake",))]
        if step_kind(step) == "extract":
            wanted.append(("source", SOURCE_KINDS))
        if step_kind(step) == "publish":
            wanted.append(("to", ("superset",)))
        if step_kind(step) == "odoo_lock":
            wanted.append(("connection", ("odoo",)))
        if step_kind(step) == "ocr_inbox":
            wanted.extend([("odoo", ("odoo",)), ("ocr", ("ocr",))])
        if step_kind(step) == "rag":
            wanted.append(("embedding", ("embedding",)))
        for field, kinds in wanted:
            name = step.get(field)
            if not isinstance(name, str) or (field == "lake" and name == DEFAULT_LAKE):
                continue
            kind = connections.get(name)
            if kind is None:
                message = f"no connection named {name!r} that you may use (yours: {usable})"
            elif kind not in kinds:
                takes = {
                    "lake": "a lake connection",
                    "to": "a superset connection",
                    "embedding": "an embedding connection",
                    "connection": "an odoo connection",
                    "odoo": "an odoo connection",
                    "ocr": "an ocr connection",
                }
                message = f"connection {name!r} is a {kind} connection; {field} takes " + (
                    takes.get(field, "postgres, odoo or sqlalchemy")
                )
            else:
                continue
            problems.append((("steps", i, field), message))
    return problems
