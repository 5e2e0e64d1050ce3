"""SQL that notebook code hands to DuckDB from Python, for lineage.

``duckdb.sql(...)``, ``duckdb.execute(...)`` and ``con.execute(...)`` on connections the
notebook itself opens are seen through DuckDB's own query log (``enable_logging``).
After each cell that succeeded, the statements logged since the last look are reported
like ``%sql`` ones, in the lake's context: a file written inside the lake is that lake
dataset. Connections that libraries open for themselves (jupysql, the workbench's lake
session) are not watched, so nothing is reported twice. A failed cell reports nothing.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from typing import Any

import duckdb

# Literal SQL (no parameters): DuckDB logs every statement, these two included.
READ_LOG = "SELECT context_id, message FROM duckdb_logs WHERE type = 'QueryLog' ORDER BY context_id"
TRUNCATE_LOG = "CALL truncate_duckdb_logs()"
OWN = {READ_LOG, TRUNCATE_LOG}


class DuckDBCapture:
    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report
        self._watched: list[Callable[[], duckdb.DuckDBPyConnection | None]] = []
        self._raw_connect: Callable[..., duckdb.DuckDBPyConnection] | None = None

    def install(self, shell: Any) -> None:
        """Watch the default connection and those the notebook opens from now on."""
        raw = self._raw_connect = duckdb.connect
        capture = self

        def connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
            connection = raw(*args, **kwargs)
            if sys._getframe(1).f_globals.get("__name__") == "__main__":  # notebook code
                capture.watch(connection)
            return connection

        connect.__doc__, connect.__wrapped__ = raw.__doc__, raw  # type: ignore[attr-defined]
        duckdb.connect = connect
        # duckdb.sql() and friends: a connection that lives as long as the process, but
        # whose Python object is made anew on each default_connection() call.
        self.watch(duckdb.default_connection(), strong=True)
        shell.events.register("post_run_cell", self.collect)

    def uninstall(self, shell: Any) -> None:
        if self._raw_connect is not None:
            duckdb.connect = self._raw_connect
            self._raw_connect = None
        try:
            shell.events.unregister("post_run_cell", self.collect)
        except ValueError:
            pass
        self._watched.clear()

    def watch(self, connection: duckdb.DuckDBPyConnection, strong: bool = False) -> None:
        """Log what ``connection`` runs; held weakly, so the notebook still closes it by
        dropping it (and releases the database file)."""
        try:
            connection.execute("CALL enable_logging('QueryLog')")
        except duckdb.Error:  # a read-only or closed database: nothing to watch
            return
        self._watched.append((lambda: connection) if strong else weakref.ref(connection))

    def collect(self, result: Any = None) -> None:
        """Report what the watched connections ran in the last cell (if it succeeded)."""
        succeeded = result is None or getattr(result, "success", True)
        alive, statements = [], []
        for ref in self._watched:
            connection = ref()
            if connection is None:
                continue
            try:
                rows = connection.execute(READ_LOG).fetchall()
                connection.execute(TRUNCATE_LOG)
            except duckdb.Error:  # closed since: forget it
                continue
            alive.append(ref)
            statements += [s for _, s in rows if s and s.strip() not in OWN]
        self._watched = alive
        if succeeded:  # connections to one file share one log: each statement once
            for statement in dict.fromkeys(statements):
                self.report(statement)
