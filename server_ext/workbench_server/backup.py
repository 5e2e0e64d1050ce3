"""Back up a workbench home into one archive, and restore it into an empty home.

An archive (``.tar.gz``, written with mode 0600: it holds the secrets key) contains

- the metadata DB: a SQLite file copied with SQLite's online backup API (consistent
  while the workbench runs), or for PostgreSQL a ``pg_dump`` custom-format dump;
- ``secrets.key``, without which no stored secret can be read again;
- the deployed pipeline versions (``pipelines/``), the run artifacts (``runs/``: executed
  notebooks and logs; ``--no-runs`` leaves them out) and the demo data (``demo/``);
- the Temporal dev server's database when it has one (schedules live there), copied
  the same way as SQLite;
- ``manifest.json``: what is in it, from which home, at which schema revision.

The lake is data, not metadata: back it up with the storage it lives on.

Restoring refuses a home that already has a metadata DB or a key (nothing is ever
overwritten), unpacks everything, rewrites the paths the metadata DB keeps (pipeline
snapshots, run artifacts, DuckDB files in the old home) to the new home, and migrates
the schema if the archive is older than this version.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, make_url, text

from ._version import __version__
from .db import make_engine, upgrade_to_head
from .db.migrate import current_revision
from .errors import ConfigurationError, InvalidInputError
from .settings import WorkbenchSettings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_DB = "metadata.db"
PG_DUMP = "metadata.pgdump"
TEMPORAL_DB = "temporal/temporal.db"
FOLDERS = ("pipelines", "runs", "demo")
# Configuration kept in the home: the built-in alert engine's rules and channels.
HOME_FILES = ("alerts.yaml",)
# Columns that hold absolute paths into the home (rewritten on restore).
PATH_COLUMNS = (
    ("pipeline_versions", "snapshot_dir"),
    ("step_runs", "output_notebook"),
    ("step_runs", "log_file"),
    ("connections", "config"),  # JSON: a DuckDB connection's file
)


@dataclass
class BackupResult:
    archive: Path
    size_bytes: int
    manifest: dict


def _sqlite_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        found = str(candidates[-1]) if candidates else None
    if found is None:
        raise ConfigurationError(f"{name} is needed to back up a PostgreSQL metadata DB")
    return found


def _pg_env(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq arguments and environment for a SQLAlchemy URL (the password never in argv)."""
    parsed = make_url(url)
    args = ["--dbname", parsed.database or "", "--host", parsed.host or "127.0.0.1"]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    return args, env


def _pg_run(tool: str, url: str, *args: str) -> None:
    """Run pg_dump or pg_restore against ``url``; its last error line if it fails."""
    connect, env = _pg_env(url)
    done = subprocess.run(
        [_pg_tool(tool), *connect, *args], env=env, capture_output=True, text=True, timeout=3600
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        raise ConfigurationError(f"{tool} failed: {lines[-1]}")


def backup(settings: WorkbenchSettings, archive: Path, include_runs: bool = True) -> BackupResult:
    home = settings.workbench_home
    if not home.secrets_key.exists():
        raise InvalidInputError(f"{home.root} has no secrets key: nothing to back up")
    engine = make_engine(settings.db_url)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    postgres = settings.db_url.startswith("postgresql")
    manifest = {
        "format": FORMAT,
        "workbench": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "home": str(home.root),
        "schema_revision": revision,
        "metadata_db": PG_DUMP if postgres else SQLITE_DB,
        "contents": [],
    }
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="workbench-backup-") as staging_dir:
        staging = Path(staging_dir)
        if postgres:
            _pg_run("pg_dump", settings.db_url, "--format=custom", "--file", str(staging / PG_DUMP))
        else:
            _sqlite_copy(home.metadata_db, staging / SQLITE_DB)
        manifest["contents"].append(manifest["metadata_db"])
        shutil.copy2(home.secrets_key, staging / "secrets.key")
        manifest["contents"].append("secrets.key")
        if home.temporal_db.exists():
            _sqlite_copy(home.temporal_db, staging / TEMPORAL_DB)
            manifest["contents"].append(TEMPORAL_DB)
        for name in HOME_FILES:
            if (home.root / name).is_file():
                shutil.copy2(home.root / name, staging / name)
                manifest["contents"].append(name)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        # Written under another name and renamed: never a half-written archive.
        partial = archive.with_name(f".{archive.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for entry in sorted(staging.iterdir()):
                tar.add(entry, arcname=entry.name)
            for folder in FOLDERS:
                if folder == "runs" and not include_runs:
                    continue
                if (home.root / folder).is_dir():
                    tar.add(home.root / folder, arcname=folder)
                    manifest["contents"].append(f"{folder}/")
        os.replace(partial, archive)
    return BackupResult(archive=archive, size_bytes=archive.stat().st_size, manifest=manifest)


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
            raise InvalidInputError(f"the archive has an unsafe entry: {member.name!r}")
        members.append(member)
    return members


def restore(archive: Path, settings: WorkbenchSettings) -> dict:
    """Unpack ``archive`` into the (empty) home of ``settings``; returns its manifest."""
    home = settings.workbench_home
    if not archive.is_file():
        raise InvalidInputError(f"no backup archive at {archive}")
    if home.secrets_key.exists() or home.metadata_db.exists():
        raise InvalidInputError(
            f"{home.root} already holds a workbench (metadata DB or key): restore into an "
            "empty home, so that nothing is overwritten"
        )
    try:
        tar = tarfile.open(archive, mode="r:gz")
    except (tarfile.TarError, OSError) as exc:
        raise InvalidInputError(f"{archive} is not a workbench backup: {exc}") from None
    with tar:
        try:
            manifest = json.load(tar.extractfile(MANIFEST))  # type: ignore[arg-type]
        except (KeyError, ValueError):
            raise InvalidInputError(f"{archive} is not a workbench backup (no manifest)") from None
        if manifest.get("format") != FORMAT:
            raise InvalidInputError(f"backup format {manifest.get('format')} is not supported")
        members = _safe_members(tar)
        home.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="restore-", dir=home.root) as staging_dir:
            staging = Path(staging_dir)
            tar.extractall(staging, members=members, filter="data")
            _load_metadata(staging, manifest, settings)
            for folder in FOLDERS:
                if (staging / folder).is_dir():
                    shutil.copytree(staging / folder, home.root / folder, dirs_exist_ok=True)
            if (staging / TEMPORAL_DB).exists():
                home.temporal_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(staging / TEMPORAL_DB, home.temporal_db)
            for name in HOME_FILES:
                if (staging / name).is_file():
                    shutil.copy2(staging / name, home.root / name)
            # The key last: a home with a key and no DB would look restored.
            shutil.copy2(staging / "secrets.key", home.secrets_key)
            os.chmod(home.secrets_key, 0o600)
    home.prepare()
    engine = make_engine(settings.db_url)
    try:
        _rewrite_paths(engine, manifest["home"], str(home.root))
        upgrade_to_head(engine, home.secrets_key)
    finally:
        engine.dispose()
    return manifest


def _load_metadata(staging: Path, manifest: dict, settings: WorkbenchSettings) -> None:
    if manifest["metadata_db"] == SQLITE_DB:
        if settings.db_url.startswith("postgresql"):
            raise InvalidInputError(
                "this backup holds a SQLite metadata DB; restore it into a "
                "home that uses SQLite (unset WORKBENCH_DB_URL)"
            )
        shutil.copy2(staging / SQLITE_DB, settings.workbench_home.metadata_db)
        return
    if not settings.db_url.startswith("postgresql"):
        raise InvalidInputError(
            "this backup holds a PostgreSQL metadata DB; set WORKBENCH_DB_URL to an empty "
            "PostgreSQL database to restore it"
        )
    _pg_run("pg_restore", settings.db_url, "--no-owner", "--exit-on-error", str(staging / PG_DUMP))


def _rewrite_paths(engine: Engine, old_home: str, new_home: str) -> None:
    if old_home == new_home:
        return
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for table, column in PATH_COLUMNS:  # fixed names, not input
            value = f"{column}::text" if postgres else column
            new = f"replace({value}, :old, :new)" + (
                "::json" if postgres and column == "config" else ""
            )
            conn.execute(
                text(f"UPDATE {table} SET {column} = {new} WHERE {value} LIKE :pattern"),
                {"old": old_home + "/", "new": new_home + "/", "pattern": f"%{old_home}/%"},
            )
