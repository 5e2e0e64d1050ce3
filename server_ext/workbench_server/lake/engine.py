"""DuckDB, the lake's read engine: a connection that reads Delta tables with ``delta_scan``.

DuckDB cannot download extensions here; ``delta`` and ``httpfs`` come from their PyPI
wheels, pinned to DuckDB's exact version, and are loaded from the wheel's file.
"""

from __future__ import annotations

import importlib
import threading
from functools import cache
from pathlib import Path

import duckdb

from ..errors import ConfigurationError
from ..sql_text import quote_literal
from .location import LakeLocation

MAX_DATABASES = 16  # lakes whose DuckDB database is kept (a server serves a few)
_databases: dict[tuple[str, str | None], duckdb.DuckDBPyConnection] = {}
_lock = threading.Lock()
EXTENSION_WHEELS = {
    "delta": "duckdb_extension_delta",
    "httpfs": "duckdb_extension_httpfs",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
}


@cache
def extension_path(name: str) -> str:
    """The extension file shipped by ``name``'s wheel."""
    try:
        module = importlib.import_module(EXTENSION_WHEELS[name])
        return str(next(Path(module.__file__).parent.glob(f"extensions/*/{name}.duckdb_extension")))
    except (ImportError, StopIteration, KeyError):
        raise ConfigurationError(
            f"DuckDB's {name} extension is missing: pip install "
            f"{EXTENSION_WHEELS.get(name, name).replace('_', '-')}=={duckdb.__version__}"
        ) from None


def load_extension(db: duckdb.DuckDBPyConnection, name: str) -> None:
    db.execute(f"LOAD {quote_literal(extension_path(name))}")


def connect(
    location: LakeLocation, db: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that reads ``location``'s Delta tables: ``db`` set up for it,
    or a new cursor on this process's database for the lake.

    Loading the delta extension costs about a third of a second per database, more than
    most reads: one database per lake is kept (with its S3 secret), and each caller gets
    a cursor of its own (its temporary tables and registrations stay its own). Close it
    when done; the database stays.
    """
    if db is not None:
        _prepare(db, location)
        return db
    key = (location.root, location.duckdb_secret())
    with _lock:
        parent = _databases.pop(key, None)
        if parent is None:
            parent = duckdb.connect(":memory:")
            _prepare(parent, location)
        _databases[key] = parent  # most recently used last
        while len(_databases) > MAX_DATABASES:
            # Not closed: a cursor of it may be reading; it goes with its last cursor.
            _databases.pop(next(iter(_databases)))
        return parent.cursor()


def _prepare(db: duckdb.DuckDBPyConnection, location: LakeLocation) -> None:
    load_extension(db, "delta")
    secret = location.duckdb_secret()
    if secret is not None:
        load_extension(db, "httpfs")
        db.execute(secret)


def scan_sql(location: LakeLocation, table: str, version: int | None = None) -> str:
    """The SQL that reads ``table`` (as of ``version``): ``delta_scan('<uri>'[, version => v])``."""
    uri = quote_literal(location.uri(table))
    if version is None:
        return f"delta_scan({uri})"
    return f"delta_scan({uri}, version => {int(version)})"
