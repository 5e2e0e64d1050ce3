"""REST /workbench/api/connections and the `workbench connection` commands."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlsplit

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench, workbench_argv
from tests.support.servers import workbench_server


@pytest.fixture
def jp_server_config(home):
    return workbench_server(home)


def _body(url: str, name: str = "odoo", **overrides: object) -> bytes:
    settings = postgres_settings(url, **overrides)
    return json.dumps(
        {"name": name, "description": "Odoo production", "settings": settings}
    ).encode()


async def _error(jp_fetch, *path: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*path, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


async def test_crud_and_test_over_rest(jp_fetch, pg_conninfo: str) -> None:
    password = urlsplit(pg_conninfo).password
    created = await jp_fetch(
        "workbench", "api", "connections", method="POST", body=_body(pg_conninfo)
    )
    assert created.code == 201
    assert password not in created.body.decode()
    assert json.loads(created.body)["settings"]["password"] == "***set***"

    listed = json.loads((await jp_fetch("workbench", "api", "connections")).body)
    assert [c["name"] for c in listed] == ["odoo"]

    patched = await jp_fetch(
        "workbench",
        "api",
        "connections",
        "odoo",
        method="PATCH",
        body=json.dumps({"description": "renamed"}).encode(),
    )
    assert json.loads(patched.body)["description"] == "renamed"

    # Settings come back under the names they are sent with (`schema`, a Python keyword
    # clash on the server), so what a client reads it can send back.
    rescoped = await jp_fetch(
        "workbench",
        "api",
        "connections",
        "odoo",
        method="PATCH",
        body=json.dumps({"settings": {"schema": "accounting"}}).encode(),
    )
    assert json.loads(rescoped.body)["settings"]["schema"] == "accounting"
    again = json.loads((await jp_fetch("workbench", "api", "connections", "odoo")).body)
    assert again["settings"]["schema"] == "accounting" and "schema_" not in again["settings"]

    tested = json.loads(
        (
            await jp_fetch(
                "workbench", "api", "connections", "odoo", "test", method="POST", body=b""
            )
        ).body
    )
    assert tested["ok"] is True and tested["server_version"].startswith("PostgreSQL")

    deleted = await jp_fetch("workbench", "api", "connections", "odoo", method="DELETE")
    assert deleted.code == 204
    code, message = await _error(jp_fetch, "workbench", "api", "connections", "odoo")
    assert (code, message) == (404, "no connection named 'odoo'")


async def test_bad_input_is_a_clear_400_and_stores_nothing(jp_fetch, pg_conninfo: str) -> None:
    code, message = await _error(
        jp_fetch,
        "workbench",
        "api",
        "connections",
        method="POST",
        body=_body(pg_conninfo, port=99999),
    )
    assert code == 400 and "settings.postgres.port" in message
    code, message = await _error(
        jp_fetch,
        "workbench",
        "api",
        "connections",
        method="POST",
        body=_body(pg_conninfo, name="Bad Name"),
    )
    assert code == 400 and message.startswith("invalid request: name:")
    code, message = await _error(
        jp_fetch, "workbench", "api", "connections", method="POST", body=b"{not json"
    )
    assert code == 400
    assert json.loads((await jp_fetch("workbench", "api", "connections")).body) == []
    await jp_fetch("workbench", "api", "connections", method="POST", body=_body(pg_conninfo))
    code, message = await _error(
        jp_fetch, "workbench", "api", "connections", method="POST", body=_body(pg_conninfo)
    )
    assert (code, message) == (409, "a connection named 'odoo' already exists (yours)")


def test_cli_add_list_test_remove(tmp_path, pg_conninfo: str) -> None:
    env = base_env(tmp_path / "home")
    parts = urlsplit(pg_conninfo)
    sets = [
        "--set",
        f"host={parts.hostname}",
        "--set",
        f"port={parts.port}",
        "--set",
        f"database={parts.path.lstrip('/')}",
        "--set",
        f"user={parts.username}",
    ]

    refused = run_workbench(
        "connection",
        "add",
        "odoo",
        "--kind",
        "postgres",
        *sets,
        "--set",
        f"password={parts.password}",
        env=env,
    )
    assert refused.returncode == 1
    assert "password may not be given on the command line" in refused.stderr

    added = subprocess.run(
        workbench_argv("connection", "add", "odoo", "--kind", "postgres", *sets, "--secrets-stdin"),
        input=f"password={parts.password}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    listed = run_workbench("connection", "list", env=env)
    assert "odoo" in listed.stdout and parts.password not in listed.stdout
    shown = run_workbench("connection", "show", "odoo", env=env)
    assert json.loads(shown.stdout)["settings"]["password"] == "***set***"
    tested = run_workbench("connection", "test", "odoo", env=env)
    assert tested.returncode == 0 and "PostgreSQL" in tested.stdout
    rotated = run_workbench("secrets", "rotate", env=env)
    assert "re-encrypted 1 connection secret(s)" in rotated.stdout
    assert run_workbench("connection", "test", "odoo", env=env).returncode == 0
    removed = run_workbench("connection", "remove", "odoo", "--yes", env=env)
    assert removed.returncode == 0
    missing = run_workbench("connection", "test", "odoo", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "workbench: error: no connection named 'odoo'"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            "erp --kind postgres --set hots=db --set database=d".split(),
            "workbench: error: connection 'erp': host is required (--set host=...); user is "
            "required (--set user=...); 'hots' is not a field of a postgres connection (host, "
            "port, database, user, password, sslmode, schema)",
        ),
        (
            ["ERP 2", "--kind", "postgres", "--set", "host=db"],
            "workbench: error: connection name 'ERP 2': use lower-case letters, digits and _, "
            "starting with a letter (it becomes a %sql alias)",
        ),
        (
            "erp --kind postgres --set host=h --set database=d --set user=u --set port=x".split(),
            "workbench: error: connection 'erp': port: input should be a valid integer, "
            "unable to parse string as an integer",
        ),
    ],
)
def test_cli_add_mistakes_are_one_line(tmp_path, args: list[str], expected: str) -> None:
    """The CLI promises one line for a user's mistake: pydantic's report was a traceback,
    and it quoted what was typed (a secret, for a mistyped field name)."""
    added = run_workbench("connection", "add", *args, env=base_env(tmp_path / "home"))
    assert added.returncode == 1
    assert added.stderr.strip() == expected
    assert "Traceback" not in added.stderr and added.stdout == ""


def test_cli_add_help_lists_the_fields_of_each_kind(tmp_path) -> None:
    shown = run_workbench("connection", "add", "--help", env=base_env(tmp_path / "home"))
    assert shown.returncode == 0
    fields = {
        line.split()[0]: line.split(None, 1)[1]
        for line in shown.stdout.split("Fields of each kind")[1].splitlines()[1:]
        if line.strip()
    }
    assert fields["postgres"] == (
        "host*, port=5432, database*, user*, password (secret), sslmode=prefer, schema"
    )
    assert set(fields) == {
        "postgres",
        "odoo",
        "duckdb",
        "lake",
        "sqlalchemy",
        "superset",
        "ocr",
        "embedding",
    }
    assert "secret_access_key (secret)" in fields["lake"]
    assert fields["superset"] == "url*, user*, password (secret)"
