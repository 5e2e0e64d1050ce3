"""``%sql`` / ``%%sql`` on top of jupysql, with workbench connections as aliases.

jupysql runs the SQL. This layer adds what it lacks: the alias-first line form
``%sql odoo SELECT ...`` (jupysql would send ``odoo SELECT ...`` to the database),
connections created on first use from the workbench's list (refreshed when a name is
unknown, so a connection added later needs no kernel restart), lake views kept current,
statements that write lake tables (``CREATE TABLE silver.x AS ...``, INSERT, DELETE,
UPDATE, MERGE on ``layer.name``) carried out through the lake library (lake_sql.py,
lake_writes.py), one-line errors that name the connection, and plain lake queries run
without jupysql's per-query parsing (direct_sql.py).
"""

from __future__ import annotations

import re
import time
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)
from sql.connection import ConnectionManager
from traitlets import Bool

from workbench_server.lake_layout import LAYERS

from . import direct_sql
from .lake_session import LakeSession
from .lake_sql import Passthrough, Statement, plan
from .lake_writes import LakeWrites, describe
from .registry import LAKE, KernelConnections, WorkbenchConnectionError, error_message
from .timings import TIMER
from .usage import REPORTER, tables_in

# First words of SQL statements: a line starting with one of them names no connection.
SQL_WORDS = frozenset(
    "select with insert update delete create drop alter show describe summarize pragma "
    "explain copy attach detach from values set reset begin commit rollback call table "
    "use install load export import checkpoint vacuum analyze truncate merge grant revoke "
    "comment pivot unpivot prepare execute deallocate".split()
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LAYER_NAMES = re.compile(rf"\b({'|'.join(LAYERS)})\s*\.", re.I)
JUPYSQL = object()  # what _direct returns for a query that is jupysql's to run


@magics_class
class WorkbenchSqlMagics(Magics):
    """Replaces jupysql's ``sql`` magic with one that understands workbench aliases."""

    direct = Bool(
        True,
        config=True,
        help="Run plain queries on a lake (no options, one statement) on its DuckDB "
        "connection without jupysql's per-query parsing, returning the same ResultSet; "
        "False sends every query through jupysql.",
    )

    def __init__(self, shell: Any, connections: KernelConnections, jupysql: Any) -> None:
        super().__init__(shell)
        self.connections = connections
        self.jupysql = jupysql

    def _alias(self, line: str) -> tuple[str | None, str]:
        """(alias named by the first word, the rest of the line)."""
        first, _, rest = line.strip().partition(" ")
        if not first or not IDENTIFIER.fullmatch(first) or first.lower() in SQL_WORDS:
            return None, line
        if rest.lstrip().startswith("<<"):  # `%%sql name <<`: jupysql's assignment
            return None, line
        if self.connections.knows(first) or first in ConnectionManager.connections:
            return first, rest
        self.connections.refresh()  # maybe added since this kernel started
        if self.connections.knows(first):
            return first, rest
        self._refuse_if_unavailable()
        names = ", ".join(sorted({LAKE, *self.connections.settings})) or "none"
        raise UsageError(f"no connection named {first!r}; you can use: {names}")

    def _refuse_if_unavailable(self) -> None:
        """Outside a workbench there is no connection: say why (not jupysql's words)."""
        if self.connections.unavailable:
            raise UsageError(f"%sql: {self.connections.unavailable}")

    # As jupysql's own: ``{{name}}`` is jinja's (IPython's expansion made it ``{name}``).
    @no_var_expand
    @needs_local_scope
    @line_cell_magic
    def sql(self, line: str = "", cell: str | None = None, local_ns: Any = None) -> Any:
        """Run SQL: ``%sql [connection] QUERY`` or ``%%sql [connection]`` + query lines."""
        alias, rest = self._alias(line)
        # A query that names its connection runs there and leaves the notebook's current
        # connection (the lake) as it was; only `%sql NAME` alone switches to NAME.
        one_off = alias is not None and bool((rest if cell is None else cell).strip())
        if one_off and cell is None:
            # The alias-first line form becomes jupysql's cell form.
            line, cell = alias, rest
        target = alias or self._current_alias()
        if target is None:
            self._refuse_if_unavailable()
        query = cell if cell is not None else line
        lake = (
            self.connections.lake_session(target) if self.connections.knows(target or "") else None
        )
        try:
            # Rights are checked at every use: unsharing stops this kernel at once.
            used = [n for n in (alias, target) if n]
            self.connections.check(used + (lake.mentioned(query) if lake is not None else []))
            if alias is not None and self.connections.knows(alias):
                self.connections.register(alias)
        except WorkbenchConnectionError as exc:
            raise UsageError(str(exc)) from None
        statements = None
        if lake is not None:
            try:
                lake.refresh_views()
                self._look_again_for_new_tables(lake, query)
                lake.attach_mentioned(query)
                statements = plan(self._rendered(query, local_ns))
            except Exception as exc:
                raise UsageError(f"connection {target!r}: {error_message(exc)}") from None
        previous = self._current()
        if one_off:
            # Run on the alias without asking jupysql to switch to it: it would say
            # "Switching to connection", and this layer switches back right after. What
            # follows the alias on a cell's line is jupysql's (`--save x`, `x <<`).
            ConnectionManager.current = ConnectionManager.connections.get(alias, previous)
            line = "" if line.strip() == alias else rest
        started = time.perf_counter()
        try:
            if statements is not None:
                options = line if cell is not None else ""
                result = self._run_on_lake(target or LAKE, lake, statements, options, local_ns)
            else:
                result = self._direct(target, lake, line, cell, local_ns)
                if result is JUPYSQL:
                    result = self.jupysql.execute(line, cell or "", local_ns)
        except KeyboardInterrupt:
            # Kernel > Interrupt: psycopg has cancelled the statement on the server; the
            # transaction it leaves aborted is rolled back here, or the next query on the
            # connection would print jupysql's rollback warning. One line, as the lake's
            # interrupted query gives (DuckDB's own error), not IPython's long traceback.
            _roll_back(ConnectionManager.current)
            where = f"connection {target!r}" if target is not None else "%sql"
            raise UsageError(f"{where}: query interrupted") from None
        except Exception as exc:  # jupysql's own errors are UsageErrors of many lines
            where = f"connection {target!r}" if target is not None else "%sql"
            message = error_message(exc)
            explained = (
                lake.explain_overflow(query, message) or lake.explain_denied(message)
                if lake is not None
                else None
            )
            raise UsageError(explained or f"{where}: {message}") from None
        finally:
            # Timings and usage are for the workbench that started this kernel (none in
            # a bare IPython): asked once per query, not by each.
            reporting = REPORTER.enabled
            if reporting and (one_off or alias is None):  # `%sql NAME` alone runs nothing
                TIMER.note(query, self._kind(target), time.perf_counter() - started)
            if one_off and previous is not None:
                ConnectionManager.current = previous
        if reporting and statements is None:
            self._note_usage(target, self._rendered(query, local_ns))
        return result

    def _direct(
        self,
        target: str | None,
        lake: LakeSession | None,
        line: str,
        cell: str | None,
        local_ns: dict[str, Any] | None,
    ) -> Any:
        """The result of a plain lake query run by direct_sql.py, or JUPYSQL when the
        query is jupysql's to run (options on the line, anything direct_sql declines)."""
        if not self.direct or lake is None or target is None:
            return JUPYSQL
        if cell is not None:
            if line.strip():
                return JUPYSQL  # options for jupysql (`%%sql lake --save x`)
            text = cell
        elif "-" in line or len(line.split()) < 2:
            return JUPYSQL  # options or a comment in the line, or a lone word
        else:
            text = line
        conn = direct_sql.lake_connection(target, lake.db)
        if conn is None:
            return JUPYSQL

        def namespace() -> dict[str, Any]:
            return {**self.shell.user_ns, **(local_ns or {})}

        sql = direct_sql.statement(text, self.jupysql, namespace)
        if sql is None:
            return JUPYSQL
        return direct_sql.run(conn, sql, self.jupysql)

    def _run_on_lake(
        self,
        target: str,
        lake: LakeSession,
        statements: list[Statement],
        options: str,
        local_ns: Any,
    ) -> Any:
        """Run a cell that writes lake tables, statement by statement: the writes through
        the lake library (one version each), the others in DuckDB through jupysql (the
        last one's result is the cell's)."""
        writes = LakeWrites(lake, lambda: self.connections.writer_info("sql"))
        result = None
        for number, statement in enumerate(statements, start=1):
            if isinstance(statement, Passthrough):
                result = self.jupysql.execute(options, statement.text, local_ns)
                self._note_usage(target, statement.text)
                continue
            written = writes.run(statement)
            print(describe(writes.name_of(statement.table), written, target))
            self._note_usage(target, statement.text, writes=False)
            lineage = writes.lineage(statement)
            written_now = written is not None and written.operation != "NONE"
            if lineage is not None and written_now and lake.records_lineage:
                REPORTER.note_write(target, lineage, "duckdb")
            result = None if number == len(statements) else result
        return result

    def _look_again_for_new_tables(self, lake: LakeSession, query: str) -> None:
        """An S3 lake is listed every 30 s: look now when the query names a lake table
        this kernel does not know yet (made by another kernel or a pipeline since)."""
        if not lake.is_s3 or not LAYER_NAMES.search(query):
            return
        named = {f"{s}.{n}" for _, s, n in tables_in(query, "duckdb") if s in LAYERS}
        if any(not lake.knows(table) for table in named):
            lake.refresh_views(force=True)

    def _rendered(self, query: str, local_ns: dict[str, Any] | None) -> str:
        """The SQL as jupysql ran it: ``{{variable}}`` filled in from the notebook."""
        if "{{" not in query:
            return query
        try:
            from jinja2 import Template

            return Template(query).render({**self.shell.user_ns, **(local_ns or {})})
        except Exception:  # jupysql has reported this already, if it is wrong
            return query

    def _note_usage(self, target: str | None, query: str, writes: bool = True) -> None:
        """Count the catalog tables the query read (for search ranking); never raises.
        The query is parsed for its tables when the report is made, not here."""
        if not REPORTER.enabled:
            return
        try:
            settings = self.connections.settings
            own = settings.get(target or "")
            dialect = "postgres" if own is not None and own.kind == "postgres" else "duckdb"

            def find_tables() -> list[tuple[str, str | None, str]]:
                keys = []
                for catalog, schema, name in tables_in(query, dialect):
                    if catalog is not None and catalog in settings:  # a source on a lake
                        keys.append((catalog, schema, name))
                    elif catalog is None and own is not None:
                        keys.append((target or "", schema, name))
                return keys

            REPORTER.note_query(find_tables)
            if writes and (own is not None or target == LAKE):
                REPORTER.note_write(target or LAKE, query, dialect)
        except Exception:  # noqa: S110 - usage is a hint; the query has succeeded
            pass

    def _kind(self, target: str | None) -> str | None:
        """The kind of the connection a query ran on (``lake`` for the lake)."""
        own = self.connections.settings.get(target or "")
        return own.kind if own is not None else "lake" if target == LAKE else None

    @staticmethod
    def _current() -> Any:
        return ConnectionManager.current

    def _current_alias(self) -> str | None:
        current = self._current()
        return getattr(current, "alias", None) if current is not None else None


def _roll_back(connection: Any) -> None:
    """Roll back what an interrupted query left open on a jupysql connection (a
    SQLAlchemy one; the lake's DuckDB has nothing to undo). Never raises: the connection
    may be gone, and jupysql still rolls back on the next query's error."""
    engine_connection = getattr(connection, "_connection", None)
    try:
        if engine_connection is not None and hasattr(engine_connection, "rollback"):
            engine_connection.rollback()
    except Exception:  # noqa: S110 - best effort, see above
        pass
