"""Read-only SQL for agents: one parsed query, bounded in rows, bytes and time.

A statement is parsed (sqlglot, the parser lineage already uses), never matched with
regular expressions: exactly one statement, a query (``SELECT``, a set operation,
``WITH ... SELECT``) and nothing inside it that writes, locks or creates (a data-modifying
``WITH``, ``SELECT ... INTO``, ``FOR UPDATE``). Anything else is refused before a source
is touched. The source then enforces it again:

- **the lake**: each table the query names must be a lake table the caller may see in
  the catalog (``layer.name``, or ``connection.layer.name`` for another lake connection);
  its Delta table is handed to a fresh in-memory DuckDB with external access turned off,
  as an Arrow dataset. The query can read those tables and nothing else: no files, URLs,
  extensions or other databases of the server, whatever functions it calls.
- **pii**: for a caller who may not see a connection's pii values (not its owner, an
  admin or in ``pii-readers``), each table the query reads is replaced by a subquery
  with its pii-tagged columns masked, as previews mask them: whatever the query does
  with those columns, it sees the mask. A table the catalog does not know cannot be
  masked and is refused for such a caller.
- **PostgreSQL connections**: a read-only transaction with a statement timeout, as the
  catalog's previews run.
- **DuckDB files**: opened read-only with external access off (the catalog's untrusted
  open), interrupted past the time bound.

Rows and bytes are cut as previews cut them (:func:`..catalog.preview.fill_rows`).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlglot import errors as sqlglot_errors
from sqlglot import exp, parse

from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from ..catalog import CatalogService

MAX_ROWS = 1000
MAX_BYTES = 1_000_000
MAX_SECONDS = 30.0
MAX_SQL_CHARS = 100_000
# What a DuckDB query (the lake's sandbox, a DuckDB file) may hold in memory, in the
# server's process, with no spilling to disk: past it the query fails with DuckDB's
# "Out of Memory Error" (DuckDB's default is 80 % of the machine's memory).
MAX_MEMORY = "1GB"
DUCKDB_BOUNDS = {"memory_limit": MAX_MEMORY, "max_temp_directory_size": "0GB"}

# Nodes that change data, the schema, the session or the transaction, wherever they sit.
WRITES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "TruncateTable",
        "Command",
        "Copy",
        "Into",
        "Lock",
        "Set",
        "Pragma",
        "Use",
        "Attach",
        "Detach",
        "Transaction",
        "Commit",
        "Rollback",
        "Grant",
        "Revoke",
        "LoadData",
        "Cache",
        "Uncache",
        "Refresh",
        "Analyze",
    )
    if hasattr(exp, name)
)


# PostgreSQL functions that a read-only transaction still runs: they act outside the
# query (signal or end other sessions, take locks, notify, reload, reset statistics),
# change the session (set_config), read the server's files or other databases
# (pg_read_file, lo_*, dblink), or run SQL given as text (query_to_xml('select email
# ...')), which this check cannot see and pii masks cannot reach. Refused for everyone.
PG_REFUSED_FUNCTIONS = frozenset(
    {
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_notify",
        "set_config",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_stat_file",
    }
)
PG_REFUSED_PREFIXES = (
    "pg_advisory_",
    "pg_try_advisory_",
    "pg_stat_reset",
    "pg_ls_",
    "pg_read_",
    "pg_file_",
    "pg_switch_",
    "pg_create_",
    "pg_drop_",
    "pg_replication_",
    "pg_logical_",
    "pg_backup_",
    "pg_log_",
    "lo_",
    "dblink",
)
# pg_catalog's views that hold the tables' values: column statistics (most common values,
# histogram bounds) and other sessions' SQL text (Odoo's "... WHERE email = '...'"): not
# for a caller who may not see the pii columns among them.
PG_STATISTICS = frozenset(
    {
        "pg_stats",
        "pg_statistic",
        "pg_stats_ext",
        "pg_stats_ext_exprs",
        "pg_statistic_ext_data",
        "pg_stat_activity",
    }
)
PG_STATISTICS_FUNCTIONS = frozenset({"pg_stat_get_activity"})


def _refused_pg_function(name: str) -> bool:
    name = name.lower()
    return (
        name in PG_REFUSED_FUNCTIONS
        or name.startswith(PG_REFUSED_PREFIXES)
        or "_to_xml" in name  # query_to_xml, table_to_xml, cursor_to_xml, schema_..., ...
    )


@dataclass
class QueryResult:
    """What a read-only query returned, cut to the bounds, with notes on any cut."""

    source: str
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "columns": self.columns,
            "rows": self.rows,
            "row_count": len(self.rows),
            "notes": self.notes,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def read_only_query(sql: str, dialect: str) -> exp.Query:
    """The one query ``sql`` holds, parsed; :class:`InvalidInputError` for text that is
    not one statement, :class:`PermissionDeniedError` for one that is not read-only."""
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInputError(f"sql: at most {MAX_SQL_CHARS:,} characters")
    try:
        statements = [s for s in parse(sql, read=dialect) if s is not None]
    except sqlglot_errors.SqlglotError as exc:
        first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise InvalidInputError(
            f"sql: the statement could not be parsed as {dialect} SQL ({first})"
        ) from None
    if len(statements) != 1:
        raise InvalidInputError(
            f"sql: give exactly one statement (found {len(statements)}); run them one by one"
        )
    (statement,) = statements
    if not isinstance(statement, exp.Query):
        raise PermissionDeniedError(
            f"only read-only queries (SELECT, WITH ... SELECT, UNION) are run; "
            f"this statement is {statement.key.upper()}, which may write"
        )
    for node in statement.walk():
        if isinstance(node, WRITES):
            raise PermissionDeniedError(
                f"only read-only queries are run; this one contains {node.key.upper()}, "
                "which writes, locks or changes the session"
            )
        if dialect == "postgres" and isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            if _refused_pg_function(name):
                raise PermissionDeniedError(
                    f"only read-only queries are run; {name.lower()}() acts outside the query "
                    "(other sessions, locks, settings, server files or SQL given as text) and "
                    "is not run: query the tables themselves"
                )
    return statement


def called_functions(query: exp.Expression) -> set[str]:
    """The names of the functions ``query`` calls, lower-cased."""
    return {
        (f.name if isinstance(f, exp.Anonymous) else f.sql_name()).lower()
        for f in query.find_all(exp.Func)
    }


def refuse_defined(query: exp.Expression, defined: set[str]) -> None:
    """For a caller who may not see pii: a function defined in the database (a macro, a
    SQL function) reads its tables inside itself, where the masks do not reach."""
    found = sorted(called_functions(query) & defined)
    if found:
        raise PermissionDeniedError(
            f"{', '.join(found)}() is defined in the database and reads its tables where "
            "pii masks do not reach; for a caller who may not see pii only built-in "
            "functions run: query the tables themselves"
        )


def _ctes(query: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}


def _pii_columns(detail: Any) -> tuple[list[str], set[str]]:
    """A catalog table's current columns in order, and those tagged pii."""
    columns = [c for c in detail.columns if c.dropped_at is None]
    return [c.name for c in columns], {c.name for c in columns if "pii" in {*c.tags, *c.auto_tags}}


def masked(source: exp.Expression, columns: list[str], pii: set[str], alias: str) -> exp.Expression:
    """``(SELECT a, CASE WHEN b IS NULL THEN NULL ELSE '•••' END AS b, ... FROM source) AS
    alias``: the table as a caller who may not see its pii columns sees it, for any query
    over it (a filter or join on a masked column sees the mask, never the value)."""
    from ..catalog.previewing import MASK

    selects: list[exp.Expression] = []
    for name in columns:
        column = exp.column(name, quoted=True)
        if name in pii:
            hidden = exp.Case(
                ifs=[
                    exp.If(this=exp.Is(this=column.copy(), expression=exp.Null()), true=exp.Null())
                ],
                default=exp.Literal.string(MASK),
            )
            selects.append(exp.alias_(hidden, name, quoted=True))
        else:
            selects.append(column)
    return exp.select(*selects).from_(source).subquery(exp.to_identifier(alias, quoted=True))


def mask_pii(
    catalog: CatalogService, connection: Any, query: exp.Query, default_schema: str
) -> int:
    """For a caller who may not see ``connection``'s pii values: every table the query
    reads becomes :func:`masked` from the catalog's columns. A table the catalog does not
    know cannot be masked, so it is refused (scan the connection first). The number of
    tables masked."""
    if catalog.access.may_see_pii(connection):
        return 0
    for function in query.find_all(exp.Anonymous):
        if function.name.lower() in PG_STATISTICS_FUNCTIONS:
            raise PermissionDeniedError(
                f"{function.name.lower()}() shows other sessions' SQL, with the values they "
                "name, pii among them, which you may not see; query the tables themselves"
            )
    ctes, count = _ctes(query), 0
    for table in list(query.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier):
            raise PermissionDeniedError(
                "table functions are not run for a caller who may not see this connection's "
                "pii columns; query its tables by name"
            )
        if not table.db and table.name.lower() in ctes:
            continue
        schema = table.db or default_schema
        if schema.lower() in ("pg_catalog", "information_schema"):
            if table.name.lower() in PG_STATISTICS:
                raise PermissionDeniedError(
                    f"{schema}.{table.name} holds values of the tables' columns (statistics, "
                    "sessions' SQL), pii among them, which you may not see; query the tables "
                    "themselves"
                )
            continue
        try:
            detail = catalog.find(connection.name, schema, table.name)
        except NotFoundError:
            raise PermissionDeniedError(
                f"{schema}.{table.name} is not in the catalog of {connection.name!r}, so its pii "
                "columns cannot be masked for you; ask the owner to scan the connection"
            ) from None
        columns, pii = _pii_columns(detail)
        if pii:
            plain = exp.Table(this=table.this.copy(), db=table.args.get("db"))
            table.replace(masked(plain, columns, pii, table.alias or table.name))
            count += 1
    return count


def run_on_lake(
    catalog: CatalogService, query: exp.Query, limit: int, max_bytes: int, timeout_s: float
) -> QueryResult:
    """``query`` over the lake tables it names, each checked against the caller's catalog."""
    import duckdb

    from ..catalog.default_lake import lake_location
    from ..catalog.preview import Preview, fill_rows
    from .lake_tables import open_delta_dataset

    started = time.perf_counter()
    ctes = _ctes(query)
    datasets: dict[str, Any] = {}
    named: dict[tuple[str, str, str], tuple[str, list[str], set[str]]] = {}
    for table in list(query.find_all(exp.Table)):
        if isinstance(table.this, exp.GenerateSeries):
            continue  # range() and generate_series(): numbers, nothing read
        if not isinstance(table.this, exp.Identifier):
            # Others could read the sandbox's own tables by name (query_table('…')),
            # around the masks, or list them (duckdb_views()).
            raise PermissionDeniedError(
                "lake queries read lake tables by name (layer.name) and may use range() or "
                f"generate_series(); table functions such as {table.this.sql()[:40]} are "
                "not run"
            )
        if not table.db and not table.catalog and table.name.lower() in ctes:
            continue
        if not table.db:
            raise InvalidInputError(
                f"sql: name lake tables as layer.name (e.g. silver.{table.name}), "
                f"not {table.name!r} alone"
            )
        key = (table.catalog or "lake", table.db, table.name)
        if key not in named:
            found = catalog.find(*key)  # NotFoundError for a table the caller may not see
            connection = catalog.access.connection(found.connection)
            if connection.kind != "lake":
                raise InvalidInputError(
                    f"sql: {'.'.join(key)} is a table of {connection.kind} connection "
                    f"{connection.name!r}; query it with connection={connection.name!r}"
                )
            location = lake_location(catalog.access, connection)
            columns, pii = _pii_columns(found)
            hidden = set() if catalog.access.may_see_pii(connection) else pii
            named[key] = (f"__wb_t{len(named)}", columns, hidden)
            datasets[named[key][0]] = open_delta_dataset(location, table.db, table.name)
        registered, columns, hidden = named[key]
        alias = table.alias or table.name
        if hidden:
            table.replace(masked(exp.to_table(registered), columns, hidden, alias))
        else:
            table.replace(
                exp.Table(
                    this=exp.to_identifier(registered),
                    alias=exp.TableAlias(this=exp.to_identifier(alias)),
                )
            )
    sql = query.sql(dialect="duckdb")
    out = Preview(columns=[], rows=[])
    db = duckdb.connect(
        ":memory:", config={"enable_external_access": False, "threads": 2, **DUCKDB_BOUNDS}
    )
    try:
        for name, dataset in datasets.items():
            db.register(name, dataset)
        timer = threading.Timer(timeout_s, db.interrupt)
        timer.start()
        try:
            result = db.execute(sql)
            out.columns = [(d[0], str(d[1]).lower()) for d in result.description or []]
            fill_rows(out, iter(lambda: result.fetchmany(200), []), limit, max_bytes)
        except duckdb.InterruptException:
            out.notes.append(f"stopped: the query did not finish within {timeout_s:g} s")
        except duckdb.OutOfMemoryException as exc:
            raise InvalidInputError(_out_of_memory(exc)) from None
        except duckdb.Error as exc:
            raise InvalidInputError(f"sql: {_first_line(exc)}") from None
        finally:
            timer.cancel()
    finally:
        db.close()
    return _result("lake", out, started)


def run_on_postgres(
    cfg: Any,
    query: exp.Query,
    limit: int,
    max_bytes: int,
    timeout_s: float,
    source: str,
    builtin_only: bool = False,
) -> QueryResult:
    """``query`` in a read-only transaction with a statement timeout, through a server-side
    cursor: rows are fetched a few at a time as the bounds allow, so a result of any size
    costs the server no more than the rows it answers (a client-side cursor would receive
    all of it first)."""
    import psycopg

    from ..catalog.preview import Preview

    started = time.perf_counter()
    out = Preview(columns=[], rows=[])
    with psycopg.connect(**cfg.psycopg_kwargs("workbench-agent", timeout_s)) as conn:
        conn.read_only = True
        cur = conn.cursor(name="workbench_agent_query")
        try:
            _on_postgres(conn, cur, query, limit, max_bytes, timeout_s, builtin_only, out)
        finally:
            cur.close()  # after the rollback that ended it: no CLOSE to send
    return _result(source, out, started)


def _on_postgres(
    conn: Any,
    cur: Any,
    query: exp.Query,
    limit: int,
    max_bytes: int,
    timeout_s: float,
    builtin_only: bool,
    out: Any,
) -> None:
    import psycopg

    from ..catalog.preview import fill_rows

    def batches() -> Any:
        # As many rows as the limit asks in one FETCH (at most 100); a short batch is the
        # last: no FETCH that only learns the end.
        size = min(limit, 100)
        while True:
            rows = cur.fetchmany(size)
            if rows:
                yield rows
            if len(rows) < size:
                return

    with conn.transaction(force_rollback=True):
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout_s * 1000)}",)
        )
        if builtin_only and (names := sorted(called_functions(query))):
            # Functions of the database's schemas, not of an extension (unaccent...).
            refuse_defined(
                query,
                {
                    row[0]
                    for row in conn.execute(
                        "SELECT DISTINCT lower(p.proname) FROM pg_proc p"
                        " JOIN pg_namespace n ON n.oid = p.pronamespace"
                        " WHERE lower(p.proname) = ANY(%s)"
                        " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                        " AND NOT EXISTS (SELECT 1 FROM pg_depend d"
                        "  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid"
                        "  AND d.deptype = 'e')",
                        (names,),
                    )
                },
            )
        # Each FETCH is a statement of its own: the whole answer is bounded here.
        timer = threading.Timer(timeout_s, conn.cancel_safe)
        timer.start()
        try:
            cur.execute(query.sql(dialect="postgres"))
            types = {
                row[0]: row[1]
                for row in conn.execute(
                    "SELECT oid, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(%s)",
                    ([d.type_code for d in cur.description or []],),
                )
            }
            out.columns = [(d.name, types.get(d.type_code, "?")) for d in cur.description or []]
            fill_rows(out, batches(), limit, max_bytes)
        except psycopg.errors.QueryCanceled:
            out.notes.append(f"stopped: the query did not finish within {timeout_s:g} s")
        except psycopg.errors.ReadOnlySqlTransaction:
            raise PermissionDeniedError(
                "the database refused: the query tried to write in a read-only transaction"
            ) from None
        except psycopg.Error as exc:
            raise InvalidInputError(f"sql: {_first_line(exc)}") from None
        finally:
            timer.cancel()


def run_on_duckdb_file(
    cfg: Any,
    query: exp.Query,
    limit: int,
    max_bytes: int,
    timeout_s: float,
    source: str,
    builtin_only: bool = False,
) -> QueryResult:
    """``query`` on a user's DuckDB file, opened read-only with external access off."""
    import duckdb

    from ..catalog.preview import Preview, fill_rows
    from ..connections.duckdb_files import open_untrusted_duckdb, reads_outside

    started = time.perf_counter()
    out = Preview(columns=[], rows=[])
    with open_untrusted_duckdb(cfg.path, **DUCKDB_BOUNDS) as con:
        if builtin_only and called_functions(query):
            macros = (
                "SELECT DISTINCT lower(function_name) FROM duckdb_functions() WHERE NOT internal"
            )
            refuse_defined(query, {row[0] for row in con.execute(macros).fetchall()})
        timer = threading.Timer(timeout_s, con.interrupt)
        timer.start()
        try:
            result = con.execute(query.sql(dialect="duckdb"))
            out.columns = [(d[0], str(d[1]).lower()) for d in result.description or []]
            fill_rows(out, iter(lambda: result.fetchmany(200), []), limit, max_bytes)
        except duckdb.InterruptException:
            out.notes.append(f"stopped: the query did not finish within {timeout_s:g} s")
        except duckdb.OutOfMemoryException as exc:
            raise InvalidInputError(_out_of_memory(exc)) from None
        except duckdb.Error as exc:
            if reads_outside(exc):
                raise PermissionDeniedError(
                    "the query reads files, URLs or databases outside the DuckDB file"
                ) from None
            raise InvalidInputError(f"sql: {_first_line(exc)}") from None
        finally:
            timer.cancel()
    return _result(source, out, started)


def _result(source: str, out: Any, started: float) -> QueryResult:
    return QueryResult(
        source=source,
        columns=[{"name": n, "type": t} for n, t in out.columns],
        rows=out.rows,
        notes=list(out.notes),
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _out_of_memory(exc: BaseException) -> str:
    return (
        f"sql: the query needs more than the {MAX_MEMORY} of memory a query may hold "
        f"({_first_line(exc)}); aggregate, filter or limit inside the query"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    # No paths of the server in an answer: the lake's files are named by table.
    return (text[0] if text else type(exc).__name__)[:300].replace(os.sep + os.sep, os.sep)
