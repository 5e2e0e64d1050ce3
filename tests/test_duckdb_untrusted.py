"""A user's DuckDB file is read inside the service with nothing outside it reachable.

The attack of issue 14: a DuckDB connection whose file holds a view over
``read_text('/any/file')``; a catalog preview ran that view inside the service and sent
back the file (the hub's cookie secret, the secrets key). Scans, previews and connection
tests now open such files read-only with external access off and the configuration
locked, and a preview of such a view is refused without a byte of the file.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import duckdb
import pytest
from tornado.httpclient import HTTPClientError

from workbench_server.connections.duckdb_files import open_untrusted_duckdb


@pytest.fixture
def jp_server_config(home, tmp_path):
    return {
        "ServerApp": {"jpserver_extensions": {"workbench_server": True}},
        # The users' files of these tests are in tmp_path (test_data_roots: which folders).
        "WorkbenchApp": {"home": str(home), "data_roots": [str(tmp_path)]},
    }


@pytest.fixture
def secret(tmp_path: Path) -> str:
    """A file of the service's that no user may read (think: the hub's cookie secret)."""
    value = f"cookie-secret-{uuid.uuid4().hex}"
    (tmp_path / "service-only").mkdir()
    (tmp_path / "service-only" / "cookie_secret").write_text(value)
    return value


@pytest.fixture
def user_file(tmp_path: Path, secret: str) -> Path:
    """What a user could hand the service: a table, and views that read outside the file."""
    path = tmp_path / "mine.duckdb"
    target = tmp_path / "service-only" / "cookie_secret"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE ledger AS SELECT 1 AS id, 'rent' AS label, 120.5 AS amount")
        con.execute(f"CREATE VIEW leak AS SELECT content FROM read_text('{target}')")
        con.execute(f"CREATE VIEW listing AS SELECT file FROM glob('{target.parent}/*')")
    return path


async def _call(jp_fetch, *path: str, **kwargs) -> tuple[int, dict | list]:
    """(status, JSON body) of a workbench API call, errors included."""
    try:
        response = await jp_fetch("workbench", "api", *path, **kwargs)
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)
    return response.code, json.loads(response.body) if response.body else {}


async def test_a_view_reading_a_service_file_is_never_previewed(
    jp_fetch, user_file: Path, secret: str, tmp_path: Path
) -> None:
    bodies: list[str] = []

    async def call(*path: str, **kwargs) -> tuple[int, dict | list]:
        code, body = await _call(jp_fetch, *path, **kwargs)
        bodies.append(json.dumps(body))
        return code, body

    settings = {"kind": "duckdb", "path": str(user_file), "read_only": True}
    code, _ = await call(
        "connections", method="POST", body=json.dumps({"name": "mine", "settings": settings})
    )
    assert code == 201

    code, scan = await call("catalog", "sources", "mine", "scans", method="POST", body=b"")
    assert (code, scan["status"]) == (201, "succeeded"), scan
    code, page = await call("catalog", "tables", params={"connection": "mine"})
    ids = {t["name"]: t["id"] for t in page["items"]}
    assert set(ids) == {"ledger", "leak", "listing"}

    code, ledger = await call("catalog", "tables", str(ids["ledger"]), "preview")
    assert code == 200 and ledger["rows"] == [[1, "rent", "120.5"]]

    for view in ("leak", "listing"):
        code, refused = await call("catalog", "tables", str(ids[view]), "preview")
        assert code == 403, refused
        assert refused["message"] == (
            f"main.{view} reads files, URLs or databases outside its DuckDB file, which "
            "previews do not allow; query it from a notebook instead"
        )

    code, tested = await call("connections", "mine", "test", method="POST", body=b"")
    assert code == 200 and tested["ok"] and tested["server_version"].startswith("DuckDB")

    assert not [body for body in bodies if secret in body or "cookie_secret" in body]


async def test_a_connection_test_never_creates_a_users_file(jp_fetch, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "new.duckdb"
    path.parent.mkdir()
    body = {"name": "fresh", "settings": {"kind": "duckdb", "path": str(path)}}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(body))
    code, tested = await _call(jp_fetch, "connections", "fresh", "test", method="POST", body=b"")
    assert code == 200 and tested["ok"], tested
    assert "new file" in tested["message"]
    assert not path.exists() and list(path.parent.iterdir()) == []


def test_sql_inside_the_file_cannot_turn_external_access_back_on(
    user_file: Path, secret: str
) -> None:
    with open_untrusted_duckdb(str(user_file)) as con:
        assert con.execute("SELECT count(*) FROM ledger").fetchone() == (1,)
        for statement in (
            "SET enable_external_access = true",
            "RESET enable_external_access",
            "SET lock_configuration = false",
            "SET autoload_known_extensions = true",
        ):
            with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
                con.execute(statement)
        for statement in (
            "SELECT * FROM leak",
            f"ATTACH '{user_file.parent / 'other.duckdb'}' AS other",
            f"COPY ledger TO '{user_file.parent / 'out.csv'}'",
            "LOAD postgres_scanner",
            "INSTALL httpfs",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(statement)
    assert not (user_file.parent / "other.duckdb").exists()
    assert not (user_file.parent / "out.csv").exists()


def test_a_sqlalchemy_file_url_is_opened_read_only_and_never_created(
    tmp_path: Path, user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.setenv("WORKBENCH_DATA_ROOTS", str(tmp_path))  # where the files are

    from workbench_server.connections.kinds import SqlAlchemyConfig
    from workbench_server.connections.probes import probe

    missing = tmp_path / "nowhere.db"
    result = asyncio.run(probe("s", SqlAlchemyConfig(url=f"sqlite:///{missing}")))
    assert (result.ok, result.reason) == (False, "not_found")
    assert not missing.exists()
    duck = asyncio.run(probe("d", SqlAlchemyConfig(url=f"duckdb:///{user_file}")))
    assert duck.ok and duck.server_version.startswith("DuckDB")
