"""Apply the shipped Alembic migrations on start, backing up a SQLite file first."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# The newest revision in migrations/versions. Kept here so that the common case — the
# schema is already current — costs one query and no Alembic import at start-up; a test
# checks it against Alembic's own idea of the head.
HEAD_REVISION = "0018"

# Arbitrary but fixed key for pg_advisory_lock, so concurrent starts migrate one at a time.
PG_MIGRATION_LOCK = 0x5742_4D49_4752  # "WBMIGR"


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    return HEAD_REVISION


def alembic_head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations between processes starting at the same time."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_MIGRATION_LOCK})


def _backup_sqlite(engine: Engine, revision: str) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    source = Path(database)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = source.with_name(f"{source.name}.bak-{revision}-{stamp}")
    # Made no more readable than the DB (sqlite would make it by the umask, often 0644):
    # it keeps what the migration may take out of the DB, such as passwords (0018).
    mode = stat.S_IMODE(source.stat().st_mode) & 0o666
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    os.chmod(target, mode)  # the DB's own, whatever the umask did to os.open's
    # The online backup API copies a consistent snapshot even while others have it open.
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def upgrade_to_head(engine: Engine, secrets_key: Path | None = None) -> str:
    """Bring the schema to the newest revision; returns that revision.

    ``secrets_key`` is the installation's key, for revisions that move data into the
    connections' encrypted secrets (0018: passwords typed into URLs)."""
    head = head_revision()
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise ConfigurationError(
            f"cannot open the metadata DB {engine.url.render_as_string()}: {exc.orig}"
        ) from exc
    if current == head:
        return head
    with _migration_lock(engine):
        current = current_revision(engine)  # another process may have just done it
        if current == head:
            return head
        if current is not None and engine.dialect.name == "sqlite":
            backup = _backup_sqlite(engine, current)
            log.info("Backed up metadata DB to %s before migrating", backup)
        from alembic import command

        cfg = _alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            cfg.attributes["secrets_key"] = secrets_key
            command.upgrade(cfg, "head")
        if engine.dialect.name == "sqlite":
            # Pages a migration rewrote reach the file now, over their old contents (0018
            # zeroes passwords it moves out of URLs), and the WAL keeps no copy of them.
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    log.info("Metadata DB migrated from %s to %s", current, head)
    return head
