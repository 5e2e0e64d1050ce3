"""Connections saved before 8a656f3 with a password typed into their URL: the metadata
DB held it in clear (and so every backup of it). Migration 0018 moves it into the
encrypted secret when the workbench starts.

The rows are written directly into a real metadata DB at revision 0017, as the older
version stored them: a SQLAlchemy URL with libpq's ``?password=`` to a real PostgreSQL
(scram: the password is needed), an Odoo URL with ``user:pw@``, and an OCR service's URL
with ``user:pw@`` (a kind with no password field: it keeps it, still loads, is shown
masked, and ``workbench doctor`` names it to be saved again). Then a real jupyter-server
starts the workbench on that home.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from alembic import command
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tests.support.processes import base_env, run_workbench
from tests.support.servers import workbench_server
from tests.ui.principals import GROUP, HeaderPrincipalProvider, as_user
from workbench_server.connections import ConnectionService
from workbench_server.core import Workbench
from workbench_server.db import make_engine
from workbench_server.db.migrate import _alembic_config
from workbench_server.principal import Principal
from workbench_server.secrets import SecretBox
from workbench_server.settings import WorkbenchSettings

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
ALICE = Principal(name="alice", groups=frozenset({GROUP}))
ODOO_PASSWORD = "odoo-pw-from-2025"
OCR_PASSWORD = "ocr-basic-auth-pw"
OCR_TOKEN = "ocr-bearer-token"


@pytest.fixture
def pg_password(pg_conninfo: str) -> str:
    return urlsplit(pg_conninfo).password


@pytest.fixture
def old_home(home: Path, pg_conninfo: str) -> Path:
    """A home whose metadata DB an older version (revision 0017) left with URL passwords."""
    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()  # the secrets key, as the older version made it
    engine = make_engine(settings.db_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0017")
    engine.dispose()
    pg = urlsplit(pg_conninfo)
    box = SecretBox(settings.workbench_home.secrets_key)
    rows = [
        (
            "old_pg",
            "sqlalchemy",
            {
                "url": f"postgresql+psycopg://{pg.username}@{pg.hostname}:{pg.port}{pg.path}"
                f"?password={quote(pg.password)}&connect_timeout=10"
            },
            None,
        ),
        (
            "old_odoo",
            "odoo",
            {
                "url": f"http://ledger:{ODOO_PASSWORD}@127.0.0.1:9/",
                "database": "books",
                "login": "ledger",
                "protocol": "xmlrpc",
                "models": [],
            },
            None,
        ),
        (
            "old_ocr",
            "ocr",
            {"engine": "http", "url": f"http://scanner:{OCR_PASSWORD}@127.0.0.1:9/ocr"},
            {"token": OCR_TOKEN},
        ),
    ]
    db = sqlite3.connect(settings.workbench_home.metadata_db)
    with db:
        for name, kind, config, secrets in rows:
            db.execute(
                "INSERT INTO connections (name, kind, description, owner, shared_groups, "
                "config, secret, secret_names, builtin, created_at, updated_at) VALUES "
                "(?, ?, '', 'alice', ?, ?, ?, ?, 0, '2025-11-02 10:00:00.000000', "
                "'2025-11-02 10:00:00.000000')",
                (
                    name,
                    kind,
                    json.dumps([GROUP]),
                    json.dumps(config),
                    box.seal(secrets or {}),
                    json.dumps(sorted(secrets or {})),
                ),
            )
    db.close()
    # Its owner keeps it private (as a DB outside the home, e.g. WORKBENCH_DB_URL, must be).
    settings.workbench_home.metadata_db.chmod(0o600)
    return home


@pytest.fixture
def jp_server_config(old_home: Path):
    return workbench_server(old_home, principal_provider_class=PROVIDER)


async def _call(port, base, auth, method, path, user, body=None):
    response = await AsyncHTTPClient().fetch(
        HTTPRequest(
            f"http://127.0.0.1:{port}{base}workbench/api/{path}",
            method=method,
            headers={**auth, **as_user(user), "Content-Type": "application/json"},
            body=json.dumps(body) if body is not None else ("" if method == "POST" else None),
            request_timeout=60,
        ),
        raise_error=False,
    )
    return response.code, response.body.decode()


def _stored(home: Path) -> bytes:
    """Every byte of the metadata DB's files (its WAL too), as a backup would copy them.

    Read by another process: closing a file of the DB here would drop the POSIX locks
    the server (in this process) holds on it."""
    files = [str(home / "metadata.db"), str(home / "metadata.db-wal")]
    return subprocess.run(["cat", *files], capture_output=True, timeout=30, check=False).stdout


def _configs(workbench: Workbench) -> dict[str, str]:
    with workbench.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, config FROM connections").all()
    return {
        name: json.dumps(config) if not isinstance(config, str) else config for name, config in rows
    }


async def test_passwords_stored_in_urls_by_an_older_version_leave_the_metadata_db(
    jp_serverapp,
    http_server_client,
    jp_http_port,
    jp_base_url,
    jp_auth_header,
    old_home,
    pg_password,
    request,
) -> None:
    auth = dict(jp_auth_header)
    # The server started (and migrated) the DB: the moved passwords are no longer in it.
    workbench = Workbench(WorkbenchSettings.from_env(old_home))
    request.addfinalizer(workbench.close)
    configs = _configs(workbench)
    assert "password" not in configs["old_pg"] and pg_password not in configs["old_pg"]
    assert ODOO_PASSWORD not in configs["old_odoo"]
    stored = _stored(old_home)
    assert b"old_pg" in stored  # the read did read the DB
    # The copy the migration leaves beside it still holds them (docs/permissions.md): it
    # is no more readable than the DB was (it was the umask's 0644).
    [backup] = old_home.glob("metadata.db.bak-0017-*")
    assert ODOO_PASSWORD.encode() in backup.read_bytes()
    assert backup.stat().st_mode & 0o777 == 0o600
    assert pg_password.encode() not in stored
    assert quote(pg_password).encode() not in stored
    assert ODOO_PASSWORD.encode() not in stored
    service = ConnectionService(workbench, ALICE)
    pg = service.resolve("old_pg")
    assert pg.password.get_secret_value() == pg_password
    assert "password" not in pg.url
    odoo = service.resolve("old_odoo")
    assert odoo.password.get_secret_value() == ODOO_PASSWORD
    assert str(odoo.url) == "http://127.0.0.1:9/"
    # The OCR service's URL has nowhere secret to keep its password: it still loads as
    # it did, token and all.
    ocr = service.resolve("old_ocr")
    assert ocr.url.password == OCR_PASSWORD
    assert ocr.token.get_secret_value() == OCR_TOKEN

    # The connection still connects: the real PostgreSQL asks for the password.
    code, body = await _call(
        jp_http_port, jp_base_url, auth, "POST", "connections/old_pg/test", "alice"
    )
    assert code == 200, body
    assert json.loads(body)["ok"] is True, body

    # Nobody is shown a password: not alice, not bob she shares them with.
    for path in (
        "connections",
        "connections/old_pg",
        "connections/old_odoo",
        "connections/old_ocr",
    ):
        for user in ("alice", "bob"):
            code, body = await _call(jp_http_port, jp_base_url, auth, "GET", path, user)
            assert code == 200, (path, user, body)
            for secret in (pg_password, quote(pg_password), ODOO_PASSWORD, OCR_PASSWORD, OCR_TOKEN):
                assert secret not in body, (path, user)
    code, body = await _call(jp_http_port, jp_base_url, auth, "GET", "connections/old_ocr", "bob")
    assert json.loads(body)["settings"]["url"] == "http://scanner:***set***@127.0.0.1:9/ocr"

    # Saving it so again is refused, naming the field; without the password it is saved.
    fixed = {"settings": {"url": "http://127.0.0.1:9/ocr"}}
    code, body = await _call(
        jp_http_port,
        jp_base_url,
        auth,
        "PATCH",
        "connections/old_ocr",
        "alice",
        {"settings": {"url": f"http://scanner:{OCR_PASSWORD}@127.0.0.1:9/ocr"}},
    )
    assert code == 400 and "url: no password in the URL" in body, (code, body)

    # doctor names the connection to save again, and only it.
    doctor = run_workbench("doctor", env=base_env(old_home))
    line = next(x for x in doctor.stdout.splitlines() if " connections " in x)
    assert line.startswith("FAIL") and "'old_ocr' (ocr: url)" in line, doctor.stdout
    assert "old_pg" not in line and "old_odoo" not in line
    assert OCR_PASSWORD not in doctor.stdout + doctor.stderr

    code, body = await _call(
        jp_http_port, jp_base_url, auth, "PATCH", "connections/old_ocr", "alice", fixed
    )
    assert code == 200, body
    assert OCR_PASSWORD not in _configs(workbench)["old_ocr"]
    doctor = run_workbench("doctor", env=base_env(old_home))
    line = next(x for x in doctor.stdout.splitlines() if " connections " in x)
    assert line.startswith("ok"), doctor.stdout


def test_the_move_on_a_postgresql_metadata_db(tmp_path: Path, pg_conninfo: str) -> None:
    """The same migration on a real PostgreSQL metadata DB (JSON columns, no SQLite
    pragmas), with no server: an older version's rows, then the core starts."""
    import sqlalchemy as sa

    settings = WorkbenchSettings.from_env(tmp_path / "home", db_url=pg_conninfo)
    settings.workbench_home.prepare()
    engine = make_engine(settings.db_url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0017")
    table = sa.table(
        "connections",
        *(sa.column(c) for c in ("name", "kind", "description", "owner", "builtin")),
        sa.column("shared_groups", sa.JSON()),
        sa.column("config", sa.JSON()),
        sa.column("secret_names", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = sa.func.now()
    with engine.begin() as conn:
        superset = {"url": f"http://admin:{ODOO_PASSWORD}@127.0.0.1:9/", "user": "admin"}
        embed = {"url": f"http://k:{OCR_PASSWORD}@127.0.0.1:9/v1", "model": "m"}
        for name, kind, config in (
            ("old_superset", "superset", superset),
            ("old_embed", "embedding", embed),
        ):
            conn.execute(
                table.insert().values(
                    name=name, kind=kind, description="", owner="alice", builtin=False,
                    shared_groups=[], config=config, secret_names=[], created_at=now,
                    updated_at=now,
                )
            )  # fmt: skip
    engine.dispose()
    workbench = Workbench(settings)
    try:
        with workbench.engine.connect() as conn:
            stored = dict(conn.execute(sa.select(table.c.name, table.c.config)).all())
        assert stored["old_superset"]["url"] == "http://127.0.0.1:9/"
        assert OCR_PASSWORD in stored["old_embed"]["url"]  # nowhere to move it: as it was
        service = ConnectionService(workbench, ALICE)
        assert service.resolve("old_superset").password.get_secret_value() == ODOO_PASSWORD
        assert service.resolve("old_embed").url.password == OCR_PASSWORD
        assert service.get("old_embed").settings["url"] == "http://k:***set***@127.0.0.1:9/v1"
    finally:
        workbench.close()
