"""File-backed connections stay inside the data roots (issue 15, item 8).

The built-in ``demo_odoo`` could be PATCHed to any file and a preview then read it. Now a
DuckDB file, a lake folder or a SQLite URL must resolve (links followed) below one of
the admin's data roots: checked when a connection is saved, and again at every open by
the service, where a link swapped in meanwhile is refused too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select
from tornado.httpclient import HTTPClientError

from tests.support.servers import workbench_server
from workbench_server.connections.data_roots import (
    DataRoots,
    OutsideDataRootsError,
    default_data_roots,
)
from workbench_server.connections.egress import EgressPolicy, pin
from workbench_server.connections.kinds import DuckDBConfig, LakeConfig, SqlAlchemyConfig

# --- the rule --------------------------------------------------------------------------


@pytest.fixture
def roots(tmp_path: Path) -> DataRoots:
    home = tmp_path / "home"
    for folder in ("demo", "lake", "hub"):
        (home / folder).mkdir(parents=True)
    (tmp_path / "users" / "alice").mkdir(parents=True)
    (tmp_path / "users" / "bob").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    entries = (str(home / "demo"), str(home / "lake"), str(tmp_path / "users" / "{username}"))
    return DataRoots((*entries, str(tmp_path)), home)


def test_paths_must_resolve_below_a_root(roots: DataRoots, tmp_path: Path) -> None:
    home = roots.home
    only_home = DataRoots(roots.entries[:3], home)  # without tmp_path, which holds all
    assert roots.resolve(str(home / "demo" / "x.duckdb"), what="c") == home / "demo" / "x.duckdb"
    for checked, refused, words in (
        (only_home, "/etc/passwd", "outside the folders connections may use"),
        (only_home, str(tmp_path / "outside" / "x.duckdb"), "outside"),
        (only_home, str(home / "demo" / ".." / ".." / "outside" / "x.duckdb"), "outside"),
        (roots, "relative.duckdb", "must be an absolute path"),
        (roots, "/tmp/x\x00y", "NUL"),
        # The home's own files: not through a root (tmp_path) that contains the home.
        (roots, str(home / "metadata.db"), "outside"),
        (roots, str(home / "hub" / "jupyterhub.sqlite"), "outside"),
    ):
        with pytest.raises(OutsideDataRootsError, match=words):
            checked.resolve(refused, what="c")
    # A link inside a root to a file outside every root is refused; the message names it.
    link = home / "demo" / "innocent.duckdb"
    link.symlink_to(tmp_path / "outside" / "x.duckdb")
    with pytest.raises(OutsideDataRootsError, match=r"innocent\.duckdb is outside"):
        only_home.resolve(str(link), what="connection 'x': path")


def test_a_username_root_is_each_owner_own(roots: DataRoots, tmp_path: Path) -> None:
    only_users = DataRoots(roots.entries[:3], roots.home)
    alices = tmp_path / "users" / "alice" / "ledger.duckdb"
    assert only_users.resolve(str(alices), what="c", owner="alice") == alices
    with pytest.raises(OutsideDataRootsError, match="users/bob"):
        only_users.resolve(str(alices), what="c", owner="bob")
    # At open time the owner is the one whose folder the saved path names: a link there
    # into bob's folder is refused, while alice's own files are read.
    assert only_users.resolve(str(alices), what="c") == alices
    (tmp_path / "users" / "alice" / "to_bob.duckdb").symlink_to(tmp_path / "users" / "bob" / "x")
    with pytest.raises(OutsideDataRootsError):
        only_users.resolve(str(tmp_path / "users" / "alice" / "to_bob.duckdb"), what="c")


def test_pin_confines_every_file_backed_kind(roots: DataRoots, tmp_path: Path) -> None:
    policy = EgressPolicy(data_roots=DataRoots(roots.entries[:3], roots.home))
    refused = [
        DuckDBConfig(path="/etc/passwd"),
        LakeConfig(location="/etc"),
        SqlAlchemyConfig(url="sqlite:////etc/passwd"),
        SqlAlchemyConfig(url=f"duckdb:///{roots.home}/metadata.db"),
    ]
    for cfg in refused:
        with pytest.raises(OutsideDataRootsError, match="connection 'c'"):
            pin("c", cfg, policy)
    inside = roots.home / "lake" / "silver"
    inside.mkdir()
    linked = roots.home / "lake" / "current"
    linked.symlink_to(inside)
    pinned = pin("c", LakeConfig(location=str(linked)), policy)
    assert pinned.location == str(inside)  # what is opened is what was checked
    assert pin("c", DuckDBConfig(), policy).path == ":memory:"


def test_default_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    home = tmp_path / "home"
    own = [str(home / "demo"), str(home / "lake")]
    monkeypatch.setenv("WORKBENCH_MODE", "team")  # user servers in containers
    assert default_data_roots(home) == own
    monkeypatch.setenv("WORKBENCH_SPAWNER", "local")  # team mode without Docker
    monkeypatch.setenv("WORKBENCH_HUB_USERS_DIR", "/srv/users")
    monkeypatch.setenv("WORKBENCH_HUB_STATE_DIR", "/srv/hub")
    root = os.geteuid() == 0
    users = "/srv/users/{username}" if root else "/srv/hub/users/{username}"
    assert default_data_roots(home) == [*own, users]
    monkeypatch.delenv("WORKBENCH_MODE")
    monkeypatch.delenv("WORKBENCH_SPAWNER")
    local = [str(Path.home()), str(home / "hub" / "users" / "{username}")]
    assert default_data_roots(home) == [*own, *(["/srv/users/{username}"] if root else local)]


# --- through a real server ---------------------------------------------------------------


@pytest.fixture
def jp_server_config(home: Path):
    return workbench_server(home)


async def _call(jp_fetch, *path: str, **kwargs) -> tuple[int, dict | list]:
    try:
        response = await jp_fetch("workbench", "api", *path, **kwargs)
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)
    return response.code, json.loads(response.body) if response.body else {}


@pytest.fixture
def outside_copy(tmp_path: Path, workbench) -> Path:
    """A real DuckDB file outside every data root: a copy of the demo's."""
    from workbench_server.bootstrap import ensure_demo

    ensure_demo(workbench)
    demo = workbench.settings.workbench_home.demo_dir / "odoo_demo.duckdb"
    (tmp_path / "elsewhere").mkdir()
    copy = tmp_path / "elsewhere" / "copy.duckdb"
    shutil.copy(demo, copy)
    return copy


async def test_the_demo_cannot_be_pointed_outside_the_roots(
    jp_fetch, workbench, outside_copy: Path
) -> None:
    for path in (str(outside_copy), "/etc/passwd"):
        code, answer = await _call(
            jp_fetch,
            "connections",
            "demo_odoo",
            method="PATCH",
            body=json.dumps({"settings": {"path": path}}),
        )
        assert code == 400, answer
        assert "outside the folders connections may use" in answer["message"]
        assert "connection 'demo_odoo': path" in answer["message"]
    for settings in (
        {"kind": "duckdb", "path": str(outside_copy)},
        {"kind": "lake", "location": str(outside_copy.parent)},
        {"kind": "sqlalchemy", "url": f"sqlite:///{outside_copy}"},
    ):
        code, answer = await _call(
            jp_fetch,
            "connections",
            method="POST",
            body=json.dumps({"name": "sneaky", "settings": settings}),
        )
        assert code == 400 and "outside" in answer["message"], answer
    # Inside the notebook folder (a root with one user) and the demo folder: fine.
    code, answer = await _call(
        jp_fetch,
        "connections",
        method="POST",
        body=json.dumps({"name": "fine", "settings": {"kind": "duckdb", "path": ":memory:"}}),
    )
    assert code == 201, answer


async def test_a_stored_path_outside_the_roots_is_refused_at_every_open(
    jp_fetch, workbench, outside_copy: Path
) -> None:
    from workbench_server.db.models import CatalogTable, Connection

    # As if saved before the roots existed, or the roots changed since.
    with workbench.sessions.begin() as session:
        row = session.scalar(select(Connection).where(Connection.name == "demo_odoo"))
        row.config = {**row.config, "path": str(outside_copy)}
        table_id = session.scalars(select(CatalogTable.id)).first()
    code, tested = await _call(
        jp_fetch, "connections", "demo_odoo", "test", method="POST", body=b""
    )
    assert code == 200 and tested["ok"] is False and tested["reason"] == "denied", tested
    assert "outside the folders" in tested["message"]
    code, answer = await _call(jp_fetch, "catalog", "tables", str(table_id), "preview")
    assert code == 403 and "outside the folders" in answer["message"], answer
    assert "rows" not in answer
    code, answer = await _call(
        jp_fetch, "catalog", "sources", "demo_odoo", "scans", method="POST", body=b""
    )
    assert code in (403, 502) and "outside the folders" in answer["message"], answer


async def test_a_link_swapped_in_after_saving_is_refused(jp_fetch, workbench, tmp_path) -> None:
    demo_dir = workbench.settings.workbench_home.demo_dir
    demo_dir.mkdir(parents=True, exist_ok=True)
    mine = demo_dir / "mine.duckdb"
    with duckdb.connect(str(mine)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    code, _ = await _call(
        jp_fetch,
        "connections",
        method="POST",
        body=json.dumps({"name": "mine", "settings": {"kind": "duckdb", "path": str(mine)}}),
    )
    assert code == 201
    code, tested = await _call(jp_fetch, "connections", "mine", "test", method="POST", body=b"")
    assert tested["ok"] is True, tested
    secret = tmp_path / "secret.duckdb"
    mine.rename(secret)
    mine.symlink_to(secret)
    code, tested = await _call(jp_fetch, "connections", "mine", "test", method="POST", body=b"")
    assert tested["ok"] is False and tested["reason"] == "denied", tested
