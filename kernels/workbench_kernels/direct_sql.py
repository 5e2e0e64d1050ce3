"""Plain queries on a lake, run without jupysql's per-query machinery.

For every ``%sql`` jupysql parses the line's options with argparse (even when the line is
empty), renders the text with jinja, splits and re-formats it with sqlparse, sets
``python_scan_all_frames`` on a fresh cursor before the query, and builds a prettytable
of the first rows before anything is shown. For a one-row query that is most of its
time. The forms people type most on a lake (``%sql lake SELECT ...``, ``%%sql lake``,
and ``%%sql`` or ``%sql SELECT ...`` on the current lake) with nothing for jupysql to
act on are run here instead: rendered the same way (``{{variable}}``), on a cursor of the
lake's DuckDB connection (``python_scan_all_frames`` set once for the connection), and
returned as jupysql's own ``ResultSet`` (a subclass that makes its table text when it is
shown), honouring jupysql's settings (autopandas, autopolars, autolimit, displaylimit,
displaycon, feedback, style).

Anything else is jupysql's, exactly as before: options (``--save``, ``--with``, ...),
``<<`` assignment, several statements, a connection string, a ``BEGIN``, a query that uses
a saved snippet, ``column_local_vars``. ``%config WorkbenchSqlMagics.direct = False``
sends everything to jupysql.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sql import display
from sql.connection import ConnectionManager, DBAPIConnection
from sql.run.resultset import ResultSet, _statement_is_select
from sql.run.run import select_df_type

from . import fast_paths

# Set for the whole connection, so that each query's cursor has it: DuckDB finds a
# DataFrame named in a query among the notebook's variables (jupysql sets it per cursor).
SCAN_ALL_FRAMES = "SET GLOBAL python_scan_all_frames = true"
PREPARED = "_workbench_scans_all_frames"  # marks a jupysql connection set up so
SPARE = "_workbench_spare_cursor"  # a jupysql connection's cursor no result needs any more
LEADING_COMMENTS = re.compile(r"(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)


class LakeResultSet(ResultSet):
    """jupysql's ``ResultSet``, whose table text is made when it is first shown.

    jupysql fills a prettytable with the first rows as they are fetched, whether the
    result is shown or not (a loop over queries, a result assigned to a variable). Here
    the rows are kept as jupysql keeps them, and the table is made from them when
    ``repr``, ``str`` or the HTML view asks for it: the same text.

    jupysql also keeps every result set in a list on its connection for as long as the
    connection lives (comparing each new one with all of them, rows and all); a DuckDB
    connection needs none of that, so this one is never put on the list.

    It is built as jupysql's ``ResultSet.__init__`` builds one, attribute for attribute,
    for what the lake's connection always is (jupysql's ``DBAPIConnection`` on a DuckDB
    cursor): the cursor is read as it is, without the per-access checks jupysql's
    ``sqlaproxy`` makes for other drivers (MSSQL re-opening closed results, DuckDB
    through SQLAlchemy re-running an outdated one), which do not apply to a cursor of its
    own. Per one-row query that was a fifth of what the kernel adds to DuckDB's time.

    A query's cursor serves the next query once every row of it has been read (a
    one-row result as soon as it is made, a longer one when it is read to its end):
    making a DuckDB cursor (a session of its own) and dropping it cost more, on a cold
    one-row query, than everything else the kernel does. Only a query's (``SELECT``,
    ``FROM``, ``WITH``, ``PIVOT``: what jupysql re-runs for ``.DataFrame()``) is handed
    on, so a ``SET``, a ``USE`` or a ``CREATE TEMP TABLE`` stays in a session of its own
    as with jupysql, and a result not read to its end keeps its cursor (its rows are
    still there to read). A result whose cursor went on gets a cursor again if it needs
    one (``.DataFrame()`` re-runs its query, as jupysql does)."""

    def __init__(
        self, cursor: Any, config: Any, statement: str, conn: Any, reusable: bool = False
    ) -> None:
        self._closed = False
        self._config = config
        self._statement = statement
        self._sqlaproxy = cursor
        self._conn = conn
        self._reusable = reusable
        self._dialect = "duckdb"  # conn._get_sqlglot_dialect() of a DuckDB connection
        self._is_dbapi_results = True  # a DuckDB cursor has a description
        description = cursor.description
        self._keys = [column[0] for column in description] if description is not None else []
        self._field_names = None
        self._results = []
        self.__dict__["_table"] = None  # made when shown (_pretty_table)
        self._mark_fetching_as_done = False
        # As jupysql: two rows tell whether there are more (one with autolimit 1).
        if config.autolimit == 1:
            self.fetchmany(size=1)
            self._done_fetching()
        else:
            self.fetchmany(size=2)
        self._finished_init = True

    @property
    def sqlaproxy(self) -> Any:
        cursor = self._sqlaproxy
        if cursor is None:  # handed on to a later query once every row was read
            cursor = self._sqlaproxy = _cursor(self._conn)
        return cursor

    def fetchmany(self, size: int) -> None:
        if self._mark_fetching_as_done:
            return
        before = len(self._results)
        super().fetchmany(size)
        if len(self._results) - before < size:  # the cursor has no more rows
            self._hand_on()

    def fetchall(self) -> None:
        if self._mark_fetching_as_done:
            return
        super().fetchall()
        self._hand_on()

    def _hand_on(self) -> None:
        """Give this query's cursor to the next query: every row has been read."""
        if self._reusable and self._sqlaproxy is not None:
            vars(self._conn)[SPARE] = self._sqlaproxy
            self._sqlaproxy = None

    def __iter__(self) -> Any:
        self.fetchall()
        return iter(self._results)

    def close(self) -> None:
        if self._sqlaproxy is not None:
            self._sqlaproxy.close()
        self._closed = True

    def _init_table(self) -> None:
        self.field_names  # noqa: B018 - the column names, read while the cursor has them
        return None

    @property
    def _pretty_table(self) -> Any:
        table = self.__dict__.get("_table")
        if table is None:
            table = ResultSet._init_table(self)
            limit = self._config.displaylimit
            table.add_rows(self._results if limit == 0 else self._results[:limit])
            self.__dict__["_table"] = table
        return table

    @_pretty_table.setter
    def _pretty_table(self, table: Any) -> None:
        self.__dict__["_table"] = table

    def _extend_results(self, elements: list[Any]) -> None:
        if self.__dict__.get("_table") is None:
            self._results.extend(elements)  # in the table when it is made
        else:
            super()._extend_results(elements)


def statement(text: str, jupysql: Any, namespace: Callable[[], dict[str, Any]]) -> str | None:
    """The one statement jupysql would run for ``text`` (a cell's body, or what follows
    the connection's name), or None when jupysql must handle it. ``namespace`` gives the
    variables ``{{name}}`` is filled from."""
    if "<<" in text or jupysql.column_local_vars:
        return None
    words = text.split(None, 1)
    if not words:
        return None
    head = words[0]
    # jupysql takes these as a connection string or a DSN section (sql/parse.py).
    if "@" in head or "://" in head or "$" in head or head.startswith("["):
        return None
    sql = fast_paths.render(text, namespace() if "{" in text or "\r" in text else {})
    store = jupysql._store
    if len(store) and store.infer_dependencies(sql, None):
        return None  # jupysql writes the CTE of the snippets it uses
    # jupysql strips comments with sqlparse (a few milliseconds for a text not seen
    # before); DuckDB reads them itself. Only leading ones are taken off: the statement
    # must start with its first word (jupysql tells a SELECT by it, for a DataFrame).
    sql = sql[LEADING_COMMENTS.match(sql).end() :].rstrip()  # type: ignore[union-attr]
    body = sql[:-1] if sql.endswith(";") else sql
    if not body.strip() or ";" in body:
        return None
    if body.split(None, 1)[0].lower() == "begin":
        return None  # jupysql refuses transactions, with its own words
    return sql


def lake_connection(alias: str, db: Any) -> Any:
    """jupysql's current connection if it is ``alias`` on the DuckDB connection ``db``."""
    current = ConnectionManager.current
    if (
        isinstance(current, DBAPIConnection)
        and current.alias == alias
        and current._connection is db
    ):
        return current
    return None


def _cursor(conn: Any) -> Any:
    """A cursor of the DuckDB connection behind ``conn``: the one a read query handed
    on, else a new one."""
    return vars(conn).pop(SPARE, None) or conn._connection.cursor()


def run(conn: Any, sql: str, jupysql: Any) -> Any:
    """Run ``sql`` on jupysql connection ``conn`` as jupysql would, without its parsing."""
    db = conn._connection
    if not getattr(conn, PREPARED, False):
        db.execute(SCAN_ALL_FRAMES)
        setattr(conn, PREPARED, True)
    feedback = jupysql.feedback
    if feedback >= 1 and jupysql.displaycon:
        display.message(f"Running query in {conn.alias!r}")
    cursor = _cursor(conn)
    cursor.execute(sql)
    if conn._requires_manual_commit:
        db.commit()
    if feedback >= 1 and cursor.rowcount > 0:
        display.message_success(f"{cursor.rowcount} rows affected.")
    result = LakeResultSet(cursor, jupysql, sql, conn, _statement_is_select(sql))
    return select_df_type(result, jupysql)
