"""Apply the shipped Alembic migrations on start, backing up a SQLite file first."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from ..errors import ConfigurationError

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _backup_sqlite(engine: Engine, revision: str) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    source = Path(database)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = source.with_name(f"{source.name}.bak-{revision}-{stamp}")
    # The online backup API copies a consistent snapshot even while others have it open.
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def upgrade_to_head(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns that revision."""
    head = head_revision()
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise ConfigurationError(
            f"cannot open the metadata DB {engine.url.render_as_string()}: {exc.orig}"
        ) from exc
    if current == head:
        return head
    if current is not None and engine.dialect.name == "sqlite":
        backup = _backup_sqlite(engine, current)
        log.info("Backed up metadata DB to %s before migrating", backup)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log.info("Metadata DB migrated from %s to %s", current, head)
    return head
