"""The default ``lake`` connection: one DuckDB session over the lake and other sources.

Every dataset under the lake folder becomes a view named after its layer and folder
(``silver.invoices``); PostgreSQL connections (Odoo's database) and DuckDB files are
attached read-only under their connection names the first time a query mentions them,
so ``SELECT ... FROM odoo.public.account_move JOIN gold.balances ...`` works in one query.

DuckDB cannot download extensions here; they come from their PyPI wheels, pinned to
DuckDB's exact version.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import duckdb

LAYERS = ("bronze", "silver", "gold")
EXTENSION_WHEELS = {
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load_extension(db: duckdb.DuckDBPyConnection, name: str) -> None:
    module = importlib.import_module(EXTENSION_WHEELS[name])
    path = next(Path(module.__file__).parent.glob(f"extensions/*/{name}.duckdb_extension"))
    db.execute(f"LOAD {_literal(str(path))}")


def _parquet_datasets(folder: Path) -> dict[str, Path]:
    """Sub-folders (or single files) holding Parquet data, by dataset name."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        name = entry.name.removesuffix(".parquet")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        if entry.is_file() and entry.suffix == ".parquet":
            found[name] = entry
        elif entry.is_dir() and not entry.name.startswith((".", "_")):
            found[name] = entry
    return found


class LakeSession:
    """A DuckDB connection that knows the lake's datasets and the other sources."""

    def __init__(self, location: str | None, sources: dict[str, Any]) -> None:
        self.location = Path(location) if location else None
        self.sources = sources  # connection name -> settings (postgres / duckdb kinds)
        self.db = duckdb.connect(":memory:")
        self._views: dict[str, Path] = {}
        self._attached: set[str] = set()
        self._extensions: set[str] = set()
        self.refresh_views()

    def _ensure_extension(self, name: str) -> None:
        if name not in self._extensions:
            load_extension(self.db, name)
            self._extensions.add(name)

    def refresh_views(self) -> list[str]:
        """Create views for datasets that appeared since the last look; return all names."""
        if self.location is None:
            return []
        for layer in ("main", *LAYERS):
            folder = self.location if layer == "main" else self.location / layer
            for name, path in _parquet_datasets(folder).items():
                if layer == "main" and name in LAYERS:
                    continue
                qualified = f"{layer}.{name}"
                if self._views.get(qualified) == path:
                    continue
                pattern = str(path) if path.is_file() else f"{path}/**/*.parquet"
                if path.is_dir() and not any(path.rglob("*.parquet")):
                    continue
                self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(layer)}")
                self.db.execute(
                    f"CREATE OR REPLACE VIEW {_quote(layer)}.{_quote(name)} AS SELECT * FROM "
                    f"read_parquet({_literal(pattern)}, hive_partitioning = true, "
                    "union_by_name = true)"
                )
                self._views[qualified] = path
        self._bare_names()
        return sorted(self._views)

    def _bare_names(self) -> None:
        """A dataset whose name is unique across layers is queryable by that name alone."""
        layers_of: dict[str, list[str]] = {}
        for qualified in self._views:
            layer, name = qualified.split(".", 1)
            layers_of.setdefault(name, []).append(layer)
        for name, layers in layers_of.items():
            if len(layers) == 1 and layers[0] != "main":
                self.db.execute(
                    f"CREATE OR REPLACE VIEW main.{_quote(name)} AS "
                    f"SELECT * FROM {_quote(layers[0])}.{_quote(name)}"
                )

    def attach_mentioned(self, query: str) -> None:
        """Attach the sources a query names (``name.``) that are not attached yet."""
        for name, settings in self.sources.items():
            if name in self._attached or not re.search(rf"\b{re.escape(name)}\s*\.", query):
                continue
            self.attach(name, settings)

    def attach(self, name: str, settings: Any) -> None:
        alias = _quote(name)
        if settings.kind == "duckdb":
            if settings.path == ":memory:":
                return
            self.db.execute(f"ATTACH {_literal(settings.path)} AS {alias} (READ_ONLY)")
        elif settings.kind == "postgres":
            self._ensure_extension("postgres_scanner")
            # The password goes into a DuckDB secret, which duckdb_secrets() redacts;
            # an ATTACH string would show it in duckdb_databases().
            secret = _quote(f"wb_{name}")
            parts = [
                "TYPE postgres",
                f"HOST {_literal(settings.host)}",
                f"PORT {int(settings.port)}",
                f"DATABASE {_literal(settings.database)}",
                f"USER {_literal(settings.user)}",
            ]
            if settings.password is not None:
                parts.append(f"PASSWORD {_literal(settings.password.get_secret_value())}")
            self.db.execute(f"CREATE OR REPLACE SECRET {secret} ({', '.join(parts)})")
            self.db.execute(f"ATTACH '' AS {alias} (TYPE postgres, SECRET {secret}, READ_ONLY)")
        else:
            return
        self._attached.add(name)
