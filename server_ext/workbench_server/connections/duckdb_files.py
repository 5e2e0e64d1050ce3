"""Opening a DuckDB file that a user named, with nothing outside that file reachable.

A DuckDB file is not just data: its views and macros are SQL that runs when they are
read, and that SQL can call ``read_text('/any/file')``, ``read_csv``, ``glob``,
``ATTACH``, ``COPY`` or httpfs URLs. Run inside the workbench service, that would read
the service's own files (the hub's cookie secret, the secrets key) or reach its network
for whoever registered the connection. Every server-side open of such a file (catalog
scans and previews, connection tests) goes through :func:`open_untrusted_duckdb`:
read-only, external access off, no extension installed or loaded behind the scenes, and
the configuration locked so that SQL in the file cannot turn any of it back on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

UNTRUSTED_CONFIG: dict[str, Any] = {
    # No file, directory or URL but the database's own (and its .wal/.tmp, which DuckDB
    # allows by itself): read_text/read_csv/glob/ATTACH/COPY/INSTALL fail with a
    # PermissionException.
    "enable_external_access": False,
    # Neither fetch nor load postgres_scanner, httpfs... on first use of their functions.
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    # Last word: `SET enable_external_access = true` (or RESET) in SQL is refused.
    "lock_configuration": True,
}


def open_untrusted_duckdb(path: str, **bounds: Any) -> duckdb.DuckDBPyConnection:
    """``path`` opened read-only with external access off and the configuration locked.

    ``:memory:`` gives a fresh in-memory database (it cannot be read-only, and holds
    nothing a user put there). ``bounds`` are more settings, set before the lock (e.g.
    ``memory_limit``). Raises ``duckdb.Error`` as ``duckdb.connect`` does.
    """
    import duckdb

    config = {**bounds, **UNTRUSTED_CONFIG}
    return duckdb.connect(path, read_only=path != ":memory:", config=config)


def reads_outside(exc: BaseException) -> bool:
    """True if ``exc`` is DuckDB refusing a file, URL or extension outside the database."""
    import duckdb

    return isinstance(exc, duckdb.PermissionException)
