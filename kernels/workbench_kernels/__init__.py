"""IPython extension loaded by the workbench kernel spec (``--ext workbench_kernels``).

It loads jupysql, makes every connection the user may use available under its name
(``%sql odoo SELECT ...``), makes the DuckDB ``lake`` connection the default (whose
``CREATE TABLE silver.x AS ...`` and other writes to ``layer.name`` tables write Delta
tables), adds ``%workbench`` and ``%odoo``, and sets up ``from workbench_kernels import
lake`` (lake.py) for writes and time travel from Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


def load_ipython_extension(shell: InteractiveShell) -> None:
    from .magics import WorkbenchMagics
    from .registry import LAKE, KernelConnections
    from .sql_magic import WorkbenchSqlMagics

    shell.run_line_magic("load_ext", "sql")
    from .fast_paths import install

    install()  # jupysql's per-query parsing, memoised (same results)
    jupysql = shell.magics_manager.registry["SqlMagic"]
    connections = KernelConnections()
    connections.refresh()
    if connections.lake_location:
        # SQL writes lake datasets with it: COPY (...) TO '{{lake_root}}/silver/x.parquet'.
        shell.push({"lake_root": connections.lake_location}, interactive=False)
    from . import lake

    lake.install(connections)  # `from workbench_kernels import lake` in the notebook
    shell.register_magics(WorkbenchMagics(shell, connections))
    shell.register_magics(WorkbenchSqlMagics(shell, connections, jupysql))
    try:
        from .odoo_magic import OdooMagics

        shell.register_magics(OdooMagics(shell, connections))
    except ImportError:  # pragma: no cover - shipped together
        pass
    # SQL handed to DuckDB from Python counts for lineage like %sql does.
    from .duckdb_capture import DuckDBCapture
    from .usage import REPORTER

    DuckDBCapture(lambda sql: REPORTER.note_write(LAKE, sql, "duckdb")).install(shell)
    if connections.unavailable is None:
        from sql.connection import ConnectionManager

        connections.register(LAKE)
        ConnectionManager.current = ConnectionManager.connections[LAKE]


def unload_ipython_extension(shell: InteractiveShell) -> None:
    # IPython has no public way to remove magics; leaving them registered is harmless.
    return None
