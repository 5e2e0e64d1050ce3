"""First-start setup: the demo dataset is generated once and registered as demo_odoo."""

from __future__ import annotations

from pathlib import Path

import duckdb
from sqlalchemy import delete, select

from workbench_server.bootstrap import DEMO_CONNECTION, ensure_demo
from workbench_server.catalog import CatalogService
from workbench_server.core import Workbench
from workbench_server.db.models import Connection
from workbench_server.principal import local_principal


def test_demo_is_generated_once_and_registered(workbench: Workbench, home: Path) -> None:
    note = ensure_demo(workbench)
    assert note is not None and DEMO_CONNECTION in note
    with workbench.sessions() as session:
        connection = session.scalar(select(Connection).where(Connection.name == DEMO_CONNECTION))
    assert connection is not None and connection.kind == "duckdb" and connection.builtin
    path = Path(connection.config["path"])
    with duckdb.connect(str(path), read_only=True) as db:
        posted = db.execute("SELECT count(*) FROM account_move WHERE state = 'posted'").fetchone()
    assert posted[0] > 1000
    # The demo is in the catalog from the first start: searchable, with Odoo's labels.
    hits = CatalogService(workbench, local_principal()).search("journal items").hits
    assert (hits[0].table.connection, hits[0].table.name) == (DEMO_CONNECTION, "account_move_line")
    mtime = path.stat().st_mtime_ns
    assert ensure_demo(workbench) is None  # second start: nothing regenerated
    assert path.stat().st_mtime_ns == mtime


def test_a_deleted_demo_connection_stays_deleted(workbench: Workbench, home: Path) -> None:
    ensure_demo(workbench)
    with workbench.sessions.begin() as session:
        session.execute(delete(Connection).where(Connection.name == DEMO_CONNECTION))
    assert ensure_demo(workbench) is None
    with workbench.sessions() as session:
        assert session.scalar(select(Connection.name)) is None


def test_a_lost_demo_file_is_regenerated(workbench: Workbench, home: Path) -> None:
    ensure_demo(workbench)
    (home / "demo" / "odoo_demo.duckdb").unlink()
    assert ensure_demo(workbench) is not None
    assert (home / "demo" / "odoo_demo.duckdb").exists()
