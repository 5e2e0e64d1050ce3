"""Connections: secrets encrypted and never shown, ownership, rotation, self-tests."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from tests.support.postgres import postgres_settings
from workbench_server.connections import ConnectionCreate, ConnectionService, ConnectionUpdate
from workbench_server.connections.probes import probe
from workbench_server.connections.service import rotate_secrets
from workbench_server.core import Workbench
from workbench_server.db.models import Connection
from workbench_server.errors import ConflictError, NotFoundError, PermissionDeniedError
from workbench_server.principal import Principal
from workbench_server.secrets import pending_key_path

ALICE = Principal(name="alice", groups=frozenset({"finance"}))
BOB = Principal(name="bob", groups=frozenset({"ops"}))
CAROL = Principal(name="carol", groups=frozenset({"finance"}))
ADMIN = Principal(name="root", admin=True)


def pg_spec(url: str, name: str = "odoo", **overrides: object) -> ConnectionCreate:
    return ConnectionCreate(name=name, settings=postgres_settings(url, **overrides))


def test_secret_is_encrypted_at_rest_and_masked(workbench: Workbench, pg_conninfo: str) -> None:
    password = urlsplit(pg_conninfo).password
    created = ConnectionService(workbench, ALICE).create(pg_spec(pg_conninfo))
    assert created.settings["password"] == "***set***"
    assert password not in created.model_dump_json()
    with workbench.sessions() as session:
        row = session.scalar(select(Connection).where(Connection.name == "odoo"))
    assert "password" not in row.config
    assert password.encode() not in row.secret
    db_bytes = (workbench.settings.home / "metadata.db").read_bytes()
    assert password.encode() not in db_bytes
    resolved = ConnectionService(workbench, ALICE).resolve("odoo")
    assert resolved.password.get_secret_value() == password
    assert password not in repr(resolved) and password not in str(resolved)


def test_update_without_secret_keeps_it(workbench: Workbench, pg_conninfo: str) -> None:
    service = ConnectionService(workbench, ALICE)
    password = urlsplit(pg_conninfo).password
    service.create(pg_spec(pg_conninfo))
    service.update("odoo", ConnectionUpdate(settings={"port": urlsplit(pg_conninfo).port}))
    service.update("odoo", ConnectionUpdate(settings={"password": "***set***"}, description="d"))
    assert service.resolve("odoo").password.get_secret_value() == password
    assert service.get("odoo").description == "d"
    cleared = service.update("odoo", ConnectionUpdate(settings={"password": None}))
    assert cleared.settings["password"] is None
    assert service.resolve("odoo").password is None


def test_invalid_update_changes_nothing(workbench: Workbench, pg_conninfo: str) -> None:
    service = ConnectionService(workbench, ALICE)
    service.create(pg_spec(pg_conninfo))
    before = service.get("odoo")
    with pytest.raises(ValidationError) as info:
        service.update("odoo", ConnectionUpdate(settings={"port": 70000}, description="x"))
    assert "port" in str(info.value)
    assert service.get("odoo") == before


def test_only_owner_groups_and_admins_see_a_connection(
    workbench: Workbench, pg_conninfo: str
) -> None:
    ConnectionService(workbench, ALICE).create(pg_spec(pg_conninfo, name="private"))
    shared = pg_spec(pg_conninfo, name="shared")
    shared.shared_groups = ["finance"]
    ConnectionService(workbench, ALICE).create(shared)

    assert [c.name for c in ConnectionService(workbench, BOB).list()] == []
    with pytest.raises(NotFoundError, match="no connection named 'private'"):
        ConnectionService(workbench, BOB).resolve("private")
    assert [c.name for c in ConnectionService(workbench, CAROL).list()] == ["shared"]
    assert ConnectionService(workbench, CAROL).resolve("shared").password is not None
    with pytest.raises(PermissionDeniedError, match="belongs to alice"):
        ConnectionService(workbench, CAROL).delete("shared")
    assert {c.name for c in ConnectionService(workbench, ADMIN).list()} == {"private", "shared"}
    ConnectionService(workbench, ADMIN).delete("private")
    # A name held by a connection bob may not see is refused without saying so.
    with pytest.raises(ConflictError) as taken:
        ConnectionService(workbench, BOB).create(pg_spec(pg_conninfo, name="shared"))
    assert str(taken.value) == "the name 'shared' is not available; choose another"
    with pytest.raises(ConflictError, match="already exists \\(alice's\\)"):
        ConnectionService(workbench, CAROL).create(pg_spec(pg_conninfo, name="shared"))
    assert [c.may_change for c in ConnectionService(workbench, CAROL).list()] == [False]
    assert [c.may_change for c in ConnectionService(workbench, ALICE).list()] == [True]


def test_rotation_reencrypts_without_loss(workbench: Workbench, pg_conninfo: str) -> None:
    service = ConnectionService(workbench, ALICE)
    password = urlsplit(pg_conninfo).password
    service.create(pg_spec(pg_conninfo))
    key_file = workbench.settings.home / "secrets.key"
    old_key = key_file.read_bytes()
    assert rotate_secrets(workbench) == 1
    assert key_file.read_bytes() != old_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not pending_key_path(key_file).exists()
    fresh = Workbench(workbench.settings)
    assert ConnectionService(fresh, ALICE).resolve("odoo").password.get_secret_value() == password


def test_interrupted_rotation_still_decrypts(
    workbench: Workbench, pg_conninfo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = ConnectionService(workbench, ALICE)
    service.create(pg_spec(pg_conninfo))
    from workbench_server import secrets

    def crash(_path: Path) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(secrets, "finish_rotation", crash)
    with pytest.raises(OSError, match="power cut"):
        rotate_secrets(workbench)
    # Rows are under the new key, which exists only as secrets.key.new: still readable.
    fresh = Workbench(workbench.settings)
    assert ConnectionService(fresh, ALICE).resolve("odoo").password is not None
    monkeypatch.undo()
    assert rotate_secrets(fresh) == 1
    assert ConnectionService(Workbench(fresh.settings), ALICE).resolve("odoo").password


def _probe(workbench: Workbench, name: str, timeout: float = 10.0):
    settings = ConnectionService(workbench, ALICE).resolve(name)
    return asyncio.run(probe(name, settings, timeout))


def test_probe_reports_version_and_latency(workbench: Workbench, pg_conninfo: str) -> None:
    ConnectionService(workbench, ALICE).create(pg_spec(pg_conninfo))
    result = _probe(workbench, "odoo")
    assert result.ok, result.message
    assert result.server_version.startswith("PostgreSQL ")
    assert result.latency_ms > 0


@pytest.fixture
def silent_port() -> int:
    """A port that accepts TCP connections and never says anything."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("case", ["password", "database", "refused", "host", "timeout"])
def test_probe_says_why_it_failed(
    workbench: Workbench, pg_conninfo: str, case: str, silent_port: int
) -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed_port = free.getsockname()[1]
    free.close()
    overrides = {
        "password": {"password": "wrong"},
        "database": {"database": "no_such_db"},
        "refused": {"port": closed_port},
        "host": {"host": "no-such-host.invalid"},
        "timeout": {"port": silent_port},
    }[case]
    ConnectionService(workbench, ALICE).create(pg_spec(pg_conninfo, **overrides))
    result = _probe(workbench, "odoo", timeout=3)
    expected = {
        "password": "authentication_failed",
        "database": "database_not_found",
        "refused": "connection_refused",
        "host": "host_not_found",
        "timeout": "timeout",
    }[case]
    assert not result.ok
    assert result.reason == expected, result.message
    assert result.message.startswith("connection 'odoo': ")
    assert "\n" not in result.message
    assert urlsplit(pg_conninfo).password not in result.message
    if case == "refused":  # it names the server and says what happened, then libpq's hint
        assert result.message == (
            f"connection 'odoo': cannot connect to PostgreSQL at 127.0.0.1:{closed_port}: "
            "connection refused (is the server running on that host and accepting TCP/IP "
            "connections?)"
        )


def test_probe_other_kinds(
    workbench: Workbench, tmp_path: Path, pg_cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.odoo_server import running_odoo
    from workbench_server.demo import build_dataset, write_postgres

    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(tmp_path))  # the lake folders below
    workbench.settings = workbench.settings.model_copy(update={"data_roots": [str(tmp_path)]})

    service = ConnectionService(workbench, ALICE)
    lake = tmp_path / "lake"
    lake.mkdir()
    service.create(ConnectionCreate(name="files", settings={"kind": "lake", "location": str(lake)}))
    service.create(
        ConnectionCreate(
            name="gone", settings={"kind": "lake", "location": str(tmp_path / "missing")}
        )
    )
    service.create(ConnectionCreate(name="mem", settings={"kind": "duckdb"}))
    assert _probe(workbench, "files").ok
    assert _probe(workbench, "mem").server_version.startswith("DuckDB")
    assert _probe(workbench, "gone").reason == "not_found"
    with pg_cluster.fresh_database() as url, running_odoo(url) as odoo:
        write_postgres(url, build_dataset(months=1))
        service.create(ConnectionCreate(name="erp", settings=odoo.settings()))
        json_rpc = odoo.settings(password=odoo.password, protocol="jsonrpc")
        service.create(ConnectionCreate(name="erp_json", settings=json_rpc))
        service.create(ConnectionCreate(name="erp_bad", settings=odoo.settings(password="nope")))
        assert _probe(workbench, "erp").server_version == "Odoo 17.0"
        assert _probe(workbench, "erp_json").ok
        bad = _probe(workbench, "erp_bad")
        assert (bad.ok, bad.reason) == (False, "authentication_failed")
        assert "nope" not in bad.message


def test_probe_s3_lake(workbench: Workbench, s3_endpoint: str) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="k",
        aws_secret_access_key="s",
        region_name="us-east-1",
    ).create_bucket(Bucket="lake1")
    service = ConnectionService(workbench, ALICE)
    base = {
        "kind": "lake",
        "endpoint_url": s3_endpoint,
        "access_key_id": "k",
        "secret_access_key": "s",
    }
    service.create(ConnectionCreate(name="s3", settings={**base, "location": "s3://lake1/x"}))
    service.create(ConnectionCreate(name="nobucket", settings={**base, "location": "s3://lake2/x"}))
    ok = _probe(workbench, "s3")
    assert ok.ok and ok.server_version == f"S3 bucket at {s3_endpoint}/"
    missing = _probe(workbench, "nobucket")
    assert (missing.ok, missing.reason) == (False, "not_found")
    assert "lake2" in missing.message
