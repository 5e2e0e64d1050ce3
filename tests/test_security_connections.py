"""A connection's password, typed into its URL, read by another user of the team on a
real jupyter-server (users told apart by the test provider's header).

Secrets are write-only: the password field is never shown. People paste whole URLs,
though: libpq's ``?password=`` in a SQLAlchemy URL, ``https://user:pw@host`` for
Superset or Odoo. alice shares such connections with her group; bob, who may use them,
must not read her password in the connections list, the connection, or the catalog's
sources; the password still works (it moved into the encrypted secret).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tests.support.servers import workbench_server
from tests.ui.principals import GROUP, HeaderPrincipalProvider, as_user
from workbench_server.connections import ConnectionService
from workbench_server.principal import Principal

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
ALICE = Principal(name="alice", groups=frozenset({GROUP}))
PASSWORD = "hunter2-in-the-url"

CONNECTIONS = {
    "alice_pg_url": {
        "kind": "sqlalchemy",
        "url": f"postgresql+psycopg://ledger@127.0.0.1:9/books?password={PASSWORD}&sslmode=disable",
    },
    "alice_superset": {
        "kind": "superset",
        "url": f"http://admin:{PASSWORD}@127.0.0.1:9",
        "user": "admin",
    },
    "alice_odoo": {
        "kind": "odoo",
        "url": f"http://ledger:{PASSWORD}@127.0.0.1:9",
        "database": "books",
        "login": "ledger",
    },
}


@pytest.fixture
def jp_server_config(home: Path):
    return workbench_server(home, principal_provider_class=PROVIDER)


async def _call(port, base, auth, method, path, user, body=None):
    headers = {**auth, **as_user(user), "Content-Type": "application/json"}
    response = await AsyncHTTPClient().fetch(
        HTTPRequest(
            f"http://127.0.0.1:{port}{base}workbench/api/{path}",
            method=method,
            headers=headers,
            body=json.dumps(body) if body is not None else None,
            request_timeout=60,
        ),
        raise_error=False,
    )
    return response.code, response.body.decode()


async def test_a_password_typed_into_a_url_is_kept_secret_from_those_it_is_shared_with(
    jp_serverapp, http_server_client, jp_http_port, jp_base_url, jp_auth_header, workbench
) -> None:
    auth = dict(jp_auth_header)
    for name, settings in CONNECTIONS.items():
        code, body = await _call(
            jp_http_port,
            jp_base_url,
            auth,
            "POST",
            "connections",
            "alice",
            {"name": name, "settings": settings, "shared_groups": [GROUP]},
        )
        assert code == 201, body
        assert PASSWORD not in body, body  # not even echoed to alice
    for path in ("connections", *(f"connections/{n}" for n in CONNECTIONS), "catalog/sources"):
        for user in ("alice", "bob"):
            code, body = await _call(jp_http_port, jp_base_url, auth, "GET", path, user)
            assert code == 200, (path, user, body)
            assert PASSWORD not in body, (path, user, body)
    code, body = await _call(jp_http_port, jp_base_url, auth, "GET", "connections", "bob")
    shown = {c["name"]: c for c in json.loads(body)}
    assert set(CONNECTIONS) <= set(shown)  # bob does use them
    # The password was not lost: it is the connection's (encrypted) secret now, which the
    # drivers get, and the rest of the URL is as typed.
    resolved = ConnectionService(workbench, ALICE).resolve("alice_pg_url")
    assert resolved.password.get_secret_value() == PASSWORD
    assert resolved.url == "postgresql+psycopg://ledger@127.0.0.1:9/books?sslmode=disable"
    superset = ConnectionService(workbench, ALICE).resolve("alice_superset")
    assert superset.password.get_secret_value() == PASSWORD
    assert str(superset.url) == "http://127.0.0.1:9/"
    odoo = ConnectionService(workbench, ALICE).resolve("alice_odoo")
    assert odoo.password.get_secret_value() == PASSWORD
    assert PASSWORD not in json.dumps(odoo.public())
