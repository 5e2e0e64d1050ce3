"""The workbench in one kernel: what is there at start, and what waits for first use.

Every pipeline step and every notebook pays for the kernel's start before its first
cell, and most cells need neither jupysql (with SQLAlchemy, pandas and sqlglot), nor the
user's connections (a request to the workbench), nor the lake's DuckDB session. So a
kernel starts with only this module of the workbench's loaded, and:

- ``%workbench`` and ``%odoo``, which fetch the connections when they first need them;
- stand-ins for jupysql's magics (``%sql`` and ``%%sql``, ``%jupysql``, ``%sqlplot``,
  ``%sqlcmd``, ``%sqlrender``): the first one used loads jupysql, the workbench's
  ``%sql`` over it and the connections, makes the ``lake`` the current connection,
  and hands its line (and cell) to the real magic, which has taken the stand-in's place;
- ``%config``, ``%load_ext`` and ``%reload_ext`` load the same first when their line is
  about jupysql (``%config SqlMagic.autopandas = True``, ``%config`` alone, ``%load_ext
  sql``), so they act as they did when jupysql was loaded at start;
- ``lake_root`` is set when the connections are fetched, and before the first cell that
  names it runs;
- ``from workbench_kernels import lake`` fetches the connections at its first use;
- SQL handed to DuckDB from Python is watched from the moment ``duckdb`` is imported
  (after_import.py, duckdb_capture.py).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from functools import wraps
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    line_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)

from .after_import import when_imported

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .registry import KernelConnections

LAKE_ROOT = "lake_root"
# %config lines about jupysql's classes or the workbench's %sql (or none: %config alone
# lists every class).
JUPYSQL_CLASSES = re.compile(r"^\s*$|\b(Sql(Magic|PlotMagic|CmdMagic)|WorkbenchSqlMagics)\b")
_current: KernelExtension | None = None


def current() -> KernelExtension | None:
    """The extension of this kernel, if the workbench extension is loaded in it."""
    return _current


class KernelExtension:
    """What the workbench adds to one kernel's shell, each part loaded when first used."""

    def __init__(self, shell: InteractiveShell) -> None:
        self.shell = shell
        self._connections: KernelConnections | None = None
        self._sql_ready = False
        self._guarded: dict[str, Any] = {}  # line magic name -> the original

    def install(self) -> None:
        """What a kernel gets at start: cheap registrations, nothing imported or fetched."""
        global _current
        from .magics import WorkbenchMagics
        from .odoo_magic import OdooMagics

        connections = cast("KernelConnections", _FirstUse(self))
        self.shell.register_magics(WorkbenchMagics(self.shell, connections))
        self.shell.register_magics(OdooMagics(self.shell, connections))
        self.shell.register_magics(JupysqlStandIns(self.shell, self))
        self._guard("config", lambda line: JUPYSQL_CLASSES.search(line) is not None)
        self._guard("load_ext", lambda line: "sql" in line.split())
        self._guard("reload_ext", lambda line: "sql" in line.split())
        self.shell.events.register("pre_run_cell", self._before_cell)
        when_imported("duckdb", self._watch_duckdb)
        _current = self

    def connections(self) -> KernelConnections:
        """This kernel's connections, fetched from the workbench at the first call (which
        sets ``lake_root``); ``from workbench_kernels import lake`` asks for them here."""
        if self._connections is None:
            from .registry import KernelConnections

            connections = KernelConnections()
            connections.refresh()
            self._connections = connections
            if connections.lake_location:
                # SQL writes lake datasets with it: COPY (...) TO '{{lake_root}}/silver/x.parquet'.
                self.shell.push({LAKE_ROOT: connections.lake_location}, interactive=False)
        return self._connections

    def load_sql(self) -> None:
        """jupysql, the workbench's ``%sql`` over it, and the lake as current connection."""
        if self._sql_ready:
            return
        from IPython.utils.capture import capture_output

        with capture_output() as said:
            self.shell.extension_manager.load_extension("sql")  # not the guarded %load_ext
        _to_log(said)
        from .exact_results import install as exact_results
        from .fast_paths import install
        from .registry import LAKE, WorkbenchConnectionError
        from .sql_magic import WorkbenchSqlMagics

        install()  # jupysql's per-query parsing, memoised (same results)
        exact_results()  # DECIMAL columns as Decimal in DataFrames, shown in fixed point
        jupysql = self.shell.magics_manager.registry["SqlMagic"]
        connections = self.connections()
        self.shell.register_magics(WorkbenchSqlMagics(self.shell, connections, jupysql))
        for name in ONE_LINE_ERRORS:
            _errors_in_one_line(self.shell, name, connections)
        self._sql_ready = True
        for name, original in self._guarded.items():
            self.shell.magics_manager.magics["line"][name] = original
        if connections.unavailable is None:
            from sql.connection import ConnectionManager

            try:
                connections.register(LAKE)
            except WorkbenchConnectionError as exc:
                raise UsageError(str(exc)) from None
            ConnectionManager.current = ConnectionManager.connections[LAKE]

    def _guard(self, name: str, about_sql: Callable[[str], bool]) -> None:
        """Line magic ``name`` loads jupysql first when its line is about it."""
        original = self.shell.find_line_magic(name)  # IPython's own, imported if lazy
        if original is None:
            return

        @wraps(original)
        def guarded(line: str) -> Any:
            if about_sql(line):
                self.load_sql()
            return original(line)

        self._guarded[name] = original
        self.shell.magics_manager.magics["line"][name] = guarded

    def _before_cell(self, info: Any) -> None:
        if self._connections is None and LAKE_ROOT in (getattr(info, "raw_cell", None) or ""):
            self.connections()

    def _watch_duckdb(self, module: ModuleType) -> None:
        from .duckdb_capture import DuckDBCapture

        DuckDBCapture(_report_duckdb_sql).install(self.shell)


# jupysql's magics besides %sql: their errors from the database or a missing optional
# package (matplotlib for %sqlplot) reached the user as raw tracebacks, and on a lake they
# did not see tables written since the kernel's last %sql.
ONE_LINE_ERRORS = ("sqlcmd", "sqlplot")
# jupysql's refusal of %sqlcmd tables/columns on a connection that is not SQLAlchemy's.
SQLALCHEMY_ONLY = "is only supported with SQLAlchemy connections"


def _errors_in_one_line(shell: InteractiveShell, name: str, connections: Any) -> None:
    """jupysql's line magic ``name`` on the lake's current tables (as ``%sql`` sees them),
    its errors one line naming the connection, as ``%sql``'s are; jupysql's own usage
    errors (already one line) pass as they are."""
    real = shell.magics_manager.magics["line"].get(name)
    if real is None:
        return

    @wraps(real)
    def one_line(*args: Any, **kwargs: Any) -> Any:
        from sql.connection import ConnectionManager

        alias = getattr(ConnectionManager.current, "alias", None)
        lake = None
        try:
            lake = connections.lake_session(alias) if alias else None
            if lake is not None:
                lake.refresh_views()  # what %sql does before each query
            return real(*args, **kwargs)
        except Exception as exc:
            if lake is not None and SQLALCHEMY_ONLY in str(exc):
                # jupysql lists tables and columns of SQLAlchemy connections only; the
                # lake is DuckDB's own connection. Say what works instead.
                command = (args[0] if args else "").split()[:1] or ["tables"]
                raise UsageError(
                    f"%{name} {command[0]} on connection {alias!r}: jupysql answers it only "
                    "on a PostgreSQL or other SQLAlchemy connection (after %sql NAME); on "
                    "the lake, %sql SHOW ALL TABLES lists its tables and %sql DESCRIBE "
                    "silver.x a table's columns"
                ) from None
            if isinstance(exc, UsageError) or hasattr(exc, "_render_traceback_"):
                raise
            from .registry import error_message

            where = f" on connection {alias!r}" if alias else ""
            raise UsageError(f"%{name}{where}: {error_message(exc)}") from None

    shell.magics_manager.magics["line"][name] = one_line


def _report_duckdb_sql(sql: str) -> None:
    """SQL handed to DuckDB from Python counts for lineage like %sql does."""
    from .registry import LAKE
    from .usage import REPORTER

    REPORTER.note_write(LAKE, sql, "duckdb")


def _to_log(said: Any) -> None:
    """What jupysql says while it loads (a missing ``toml``, settings read from a file)
    goes to the kernel's log, as it did when it loaded at start, not into a cell."""
    text = said.stdout + said.stderr
    for output in said.outputs:
        text += output.data.get("text/plain", "") + "\n"
    if text.strip():
        print(text.rstrip(), file=sys.__stderr__)


class _FirstUse:
    """Stands for the kernel's connections until something uses them."""

    def __init__(self, extension: KernelExtension) -> None:
        self._extension = extension

    def __getattr__(self, name: str) -> Any:
        return getattr(self._extension.connections(), name)


@magics_class
class JupysqlStandIns(Magics):
    """jupysql's magics (and the workbench's ``%sql``) before the first is used."""

    def __init__(self, shell: InteractiveShell, extension: KernelExtension) -> None:
        super().__init__(shell)
        self.extension = extension

    def _run(self, name: str, line: str, cell: str | None = None, local_ns: Any = None) -> Any:
        self.extension.load_sql()
        kind = "line" if cell is None else "cell"
        real = self.shell.magics_manager.magics[kind].get(name)
        if real is None or getattr(real, "__self__", None) is self:
            raise UsageError(f"%{name}: jupysql did not load; see the kernel's log")
        args = (line,) if cell is None else (line, cell)
        kwargs = {"local_ns": local_ns} if getattr(real, "needs_local_scope", False) else {}
        return real(*args, **kwargs)

    @no_var_expand
    @needs_local_scope
    @line_cell_magic
    def sql(self, line: str = "", cell: str | None = None, local_ns: Any = None) -> Any:
        """Run SQL: ``%sql [connection] QUERY`` or ``%%sql [connection]`` + query lines."""
        return self._run("sql", line, cell, local_ns)

    @no_var_expand
    @needs_local_scope
    @line_cell_magic
    def jupysql(self, line: str = "", cell: str | None = None, local_ns: Any = None) -> Any:
        """jupysql's own ``%sql`` (loaded at first use: ``%jupysql --help``)."""
        return self._run("jupysql", line, cell, local_ns)

    @no_var_expand
    @line_magic
    def sqlplot(self, line: str) -> Any:
        """jupysql's plots (loaded at first use: ``%sqlplot --help``)."""
        return self._run("sqlplot", line)

    @no_var_expand
    @line_magic
    def sqlcmd(self, line: str) -> Any:
        """jupysql's commands (loaded at first use: ``%sqlcmd --help``)."""
        return self._run("sqlcmd", line)

    @line_magic
    def sqlrender(self, line: str) -> Any:
        """jupysql's ``%sqlrender`` (loaded at first use: ``%sqlrender --help``)."""
        return self._run("sqlrender", line)
