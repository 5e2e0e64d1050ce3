"""The default ``lake`` connection: one DuckDB session over the lake and other sources.

Every dataset under the lake folder becomes a view named after its layer and folder
(``silver.invoices``); PostgreSQL connections (Odoo's database) and DuckDB files are
attached read-only under their connection names the first time a query mentions them,
so ``SELECT ... FROM odoo.public.account_move JOIN gold.balances ...`` works in one query.
PostgreSQL's unconstrained ``numeric`` (Odoo's amounts) reads as DECIMAL, never DOUBLE
(lake_postgres.py).

DuckDB cannot download extensions here; they come from their PyPI wheels, pinned to
DuckDB's exact version.
"""

from __future__ import annotations

import getpass
import importlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from workbench_server.lake_layout import LAYERS, dataset_key
from workbench_server.sql_text import quote_identifier as _quote
from workbench_server.sql_text import quote_literal as _literal

from .lake_postgres import attach_postgres, detach_postgres

S3_RELIST_SECONDS = 30
EXTENSION_WHEELS = {
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}


def load_extension(db: duckdb.DuckDBPyConnection, name: str) -> None:
    module = importlib.import_module(EXTENSION_WHEELS[name])
    path = next(Path(module.__file__).parent.glob(f"extensions/*/{name}.duckdb_extension"))
    db.execute(f"LOAD {_literal(str(path))}")


class LakeSession:
    """A DuckDB connection that knows the lake's datasets and the other sources."""

    def __init__(
        self, location: str | None, sources: dict[str, Any], storage: Any | None = None
    ) -> None:
        """``storage`` is the lake connection's settings (keys, endpoint) for S3 lakes."""
        self.location = location.rstrip("/") if location else None
        self.sources = sources  # connection name -> settings (postgres / duckdb kinds)
        self.db = duckdb.connect(":memory:")
        self._views: dict[str, str] = {}
        self._attached: set[str] = set()
        self._extensions: set[str] = set()
        self.storage = storage
        self._bare: dict[str, str] = {}
        self._seen: object = object()  # matches no signature: the first refresh always runs
        self._said_unreadable = False
        self.refresh_views()

    def _ensure_extension(self, name: str) -> None:
        if name not in self._extensions:
            load_extension(self.db, name)
            self._extensions.add(name)

    def refresh_views(self, force: bool = False) -> list[str]:
        """Create views for datasets that appeared since the last look; return all names.

        This runs before every query, so it first compares a cheap signature of the lake
        (folder modification times; for S3 a 30-second clock) and does nothing when it
        is unchanged. Replacing a view is not free: DuckDB re-reads Parquet footers.
        """
        signature = self._signature()
        if not force and signature == self._seen:
            return sorted(self._views)
        for (layer, name), pattern in self._discover().items():
            qualified = f"{layer}.{name}"
            if self._views.get(qualified) == pattern:
                continue
            self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(layer)}")
            self.db.execute(
                f"CREATE OR REPLACE VIEW {_quote(layer)}.{_quote(name)} AS SELECT * FROM "
                f"read_parquet({_literal(pattern)}, hive_partitioning = true, "
                "union_by_name = true)"
            )
            self._views[qualified] = pattern
        self._bare_names()
        self._seen = signature
        return sorted(self._views)

    def _signature(self) -> object:
        if self.location is None:
            return None
        if self.location.startswith("s3://"):
            return int(time.monotonic() // S3_RELIST_SECONDS)
        stamps = []
        root = Path(self.location)
        # The root, the layers, and each dataset folder: a new dataset, a new partition
        # or a first file in an empty dataset folder changes one of these.
        for folder in (root, *(root / layer for layer in LAYERS)):
            try:
                stamps.append((folder.name, folder.stat().st_mtime_ns))
                stamps.extend(
                    (entry.path, entry.stat().st_mtime_ns)
                    for entry in os.scandir(folder)
                    if entry.is_dir()
                )
            except OSError:
                stamps.append((folder.name, None))
        return tuple(stamps)

    def _discover(self) -> dict[tuple[str, str], str]:
        """(layer, dataset) -> the glob of its Parquet files, local folder or S3 alike."""
        if self.location is None:
            return {}
        if self.location.startswith("s3://"):
            self._ensure_s3()
            files = [
                row[0]
                for row in self.db.execute(
                    "SELECT file FROM glob(?)", [f"{self.location}/**/*.parquet"]
                ).fetchall()
            ]
        else:
            root = Path(self.location)
            try:
                files = [str(p) for p in root.rglob("*.parquet")] if root.is_dir() else []
            except PermissionError:
                # A hub's users run as accounts of their own, which may not read the
                # workbench's own lake folder: no lake tables here, said once.
                if not self._said_unreadable:
                    self._said_unreadable = True
                    print(
                        f"workbench: the lake folder {root} cannot be read by this account "
                        f"({getpass.getuser()}); its tables are not available in this kernel",
                        file=sys.stderr,
                    )
                files = []
        found: dict[tuple[str, str], str] = {}
        for file in sorted(files):
            relative = file[len(self.location) + 1 :].split("/")
            key = dataset_key(relative)
            if key is None:
                continue
            single = len(relative) == (2 if key[0] != "main" else 1)
            base = "/".join([self.location, *relative[: 1 if key[0] == "main" else 2]])
            found[key] = file if single else f"{base}/**/*.parquet"
        return found

    def _ensure_s3(self) -> None:
        """An S3 secret scoped to the lake's bucket, from the lake connection's settings."""
        if "s3" in self._extensions:
            return
        self._ensure_extension("httpfs")
        parts = ["TYPE s3", f"SCOPE {_literal(self.location)}"]
        cfg = self.storage
        if cfg is not None:
            if cfg.access_key_id:
                parts.append(f"KEY_ID {_literal(cfg.access_key_id)}")
            if cfg.secret_access_key is not None:
                parts.append(f"SECRET {_literal(cfg.secret_access_key.get_secret_value())}")
            parts.append(f"REGION {_literal(cfg.region or 'us-east-1')}")
            if cfg.endpoint_url is not None:
                endpoint = urlsplit(str(cfg.endpoint_url))
                parts += [
                    f"ENDPOINT {_literal(endpoint.netloc)}",
                    "URL_STYLE 'path'",
                    f"USE_SSL {'true' if endpoint.scheme == 'https' else 'false'}",
                ]
        self.db.execute(f"CREATE OR REPLACE SECRET wb_lake ({', '.join(parts)})")
        self._extensions.add("s3")

    def _bare_names(self) -> None:
        """A dataset whose name is unique across layers is queryable by that name alone."""
        layers_of: dict[str, list[str]] = {}
        for qualified in self._views:
            layer, name = qualified.split(".", 1)
            layers_of.setdefault(name, []).append(layer)
        for name, layers in layers_of.items():
            unique = layers[0] if len(layers) == 1 and layers[0] != "main" else None
            if self._bare.get(name) == unique:
                continue
            if unique is None:
                self.db.execute(f"DROP VIEW IF EXISTS main.{_quote(name)}")
                self._bare.pop(name, None)
                continue
            self.db.execute(
                f"CREATE OR REPLACE VIEW main.{_quote(name)} AS "
                f"SELECT * FROM {_quote(unique)}.{_quote(name)}"
            )
            self._bare[name] = unique

    def attach_mentioned(self, query: str) -> None:
        """Attach the sources a query names (``name.``) that are not attached yet."""
        for name in self.mentioned(query):
            if name not in self._attached:
                self.attach(name, self.sources[name])

    def detach(self, name: str) -> None:
        """Drop source ``name`` (its secret too) if it is attached."""
        if name not in self._attached:
            return
        self._attached.discard(name)
        detach_postgres(self.db, name)  # also right for DuckDB files: drops what exists

    def mentioned(self, query: str) -> list[str]:
        """The sources a query names (``name.``)."""
        return [n for n in self.sources if re.search(rf"\b{re.escape(n)}\s*\.", query)]

    def attach(self, name: str, settings: Any) -> None:
        alias = _quote(name)
        if settings.kind == "duckdb":
            if settings.path == ":memory:":
                return
            self.db.execute(f"ATTACH {_literal(settings.path)} AS {alias} (READ_ONLY)")
        elif settings.kind == "postgres":
            self._ensure_extension("postgres_scanner")
            attach_postgres(self.db, name, settings)
        else:
            return
        self._attached.add(name)
