"""DuckDB, the lake's read engine: a connection that reads Delta tables with ``delta_scan``.

DuckDB cannot download extensions here; ``delta`` and ``httpfs`` come from their PyPI
wheels, pinned to DuckDB's exact version, and are loaded from the wheel's file.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

import duckdb

from ..errors import ConfigurationError
from ..sql_text import quote_literal
from .location import LakeLocation

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


def connect(location: LakeLocation, db: duckdb.DuckDBPyConnection | None = None):
    """A DuckDB connection (new, or ``db``) that reads ``location``'s Delta tables."""
    db = db if db is not None else duckdb.connect(":memory:")
    load_extension(db, "delta")
    secret = location.duckdb_secret()
    if secret is not None:
        load_extension(db, "httpfs")
        db.execute(secret)
    return db


def scan_sql(location: LakeLocation, table: str, version: int | None = None) -> str:
    """The SQL that reads ``table`` (as of ``version``): ``delta_scan('<uri>'[, version => v])``."""
    uri = quote_literal(location.uri(table))
    if version is None:
        return f"delta_scan({uri})"
    return f"delta_scan({uri}, version => {int(version)})"
