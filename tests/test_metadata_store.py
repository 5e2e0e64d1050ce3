"""Migrations run on SQLite and on a real PostgreSQL, and match the ORM models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from workbench_server.db import current_revision, head_revision, make_engine, upgrade_to_head
from workbench_server.db.models import Base, Connection, Setting
from workbench_server.errors import ConfigurationError


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    return request.getfixturevalue("pg_conninfo")


def test_upgrade_creates_schema_that_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    assert upgrade_to_head(engine) == head_revision()
    assert current_revision(engine) == head_revision()
    assert {"connections", "workbench_settings"} <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    engine.dispose()


def test_upgrade_is_idempotent_and_keeps_data(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade_to_head(engine)
    with Session(engine) as session:
        session.add(Setting(key="k", value={"a": 1}))
        session.add(Connection(name="c1", kind="duckdb", owner="me", config={"path": ":memory:"}))
        session.commit()
    upgrade_to_head(make_engine(db_url))
    with Session(engine) as session:
        assert session.scalar(select(Connection.name)) == "c1"
        assert session.get(Setting, "k").value == {"a": 1}
    engine.dispose()


def test_postgres_url_uses_psycopg3(pg_conninfo: str) -> None:
    engine = make_engine(pg_conninfo)
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_unreachable_database_is_one_clear_error(pg_cluster) -> None:
    url = pg_cluster.url("postgres").replace(pg_cluster.password, "wrong-password")
    with pytest.raises(ConfigurationError, match="cannot open the metadata DB"):
        upgrade_to_head(make_engine(url))


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be SQLite or PostgreSQL"):
        make_engine("mysql://x@localhost/db")


def test_head_constant_matches_alembic() -> None:
    from workbench_server.db.migrate import alembic_head_revision

    assert head_revision() == alembic_head_revision()


def test_sqlite_is_backed_up_before_a_migration(tmp_path: Path) -> None:
    from alembic import command

    from workbench_server.db.migrate import _alembic_config

    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    engine = make_engine(url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with Session(engine) as session:
        session.add(Setting(key="kept", value=1))
        session.commit()
    upgrade_to_head(engine)
    backups = list(tmp_path.glob("metadata.db.bak-0001-*"))
    assert len(backups) == 1
    assert current_revision(make_engine(f"sqlite:///{backups[0]}")) == "0001"
    with Session(engine) as session:
        assert session.get(Setting, "kept").value == 1
