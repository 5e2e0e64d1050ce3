"""Times in the metadata store come back in UTC with their zone, on SQLite too.

SQLite keeps no zone: a row's times were answered as ``...Z`` when it was created and
without a zone on every later read, which browsers take for local time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench_server.db import make_engine, upgrade_to_head
from workbench_server.db.models import Connection, Run


def test_times_read_back_from_sqlite_are_utc_with_a_zone(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    upgrade_to_head(engine)
    paris = timezone(timedelta(hours=1))
    with Session(engine) as session:
        session.add(
            Connection(
                name="c1",
                kind="duckdb",
                owner="me",
                config={},
                created_at=datetime(2024, 1, 31, 7, 0, tzinfo=paris),
            )
        )
        session.commit()
    with Session(engine) as session:
        row = session.scalar(select(Connection))
        assert row is not None
        # Stored as the same instant, in UTC, and read back with the zone.
        assert row.created_at == datetime(2024, 1, 31, 6, 0, tzinfo=UTC)
        assert row.created_at.utcoffset() == timedelta(0)
        assert row.updated_at.tzinfo is not None
        as_json = TypeAdapter(datetime).dump_json(row.created_at).decode()
        assert as_json == '"2024-01-31T06:00:00Z"'
        # Compared in SQL with an aware time, as the services do.
        later = datetime(2024, 1, 31, 6, 30, tzinfo=UTC)
        assert session.scalar(select(Connection).where(Connection.created_at < later))
    engine.dispose()


def test_nullable_times_stay_null(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'metadata.db'}")
    upgrade_to_head(engine)
    assert Run.__table__.c.finished_at.type.process_result_value(None, None) is None
    engine.dispose()
