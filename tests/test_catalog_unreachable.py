"""What the catalog says when a source cannot be reached, as a user reads it in the panel:
which server, and why (REST over a real jupyter-server and a real PostgreSQL)."""

from __future__ import annotations

import json
import socket

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.postgres import postgres_settings
from tests.support.servers import workbench_server


@pytest.fixture
def jp_server_config(home):
    return workbench_server(home)


async def _error(jp_fetch, *path: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "catalog", *path, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


async def test_a_refused_connection_names_the_server_in_scan_and_preview(
    jp_fetch, odoo_db: str
) -> None:
    """libpq's refusal is two lines, the server first, then a tab-indented hint; the scan
    and the preview kept only the hint ("Is the server running on that host...?"), so the
    panel said neither which host nor which port."""
    settings = postgres_settings(odoo_db)
    body = {"name": "ledger", "settings": settings}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(body))
    response = await jp_fetch(
        "workbench", "api", "catalog", "sources", "ledger", "scans", method="POST", body=b""
    )
    assert json.loads(response.body)["status"] == "succeeded"
    tables = json.loads(
        (
            await jp_fetch("workbench", "api", "catalog", "tables", params={"connection": "ledger"})
        ).body
    )["items"]
    table_id = next(t["id"] for t in tables if t["name"] == "res_partner")

    port = _closed_port()
    moved = {"settings": {**settings, "port": port}}
    await jp_fetch(
        "workbench", "api", "connections", "ledger", method="PATCH", body=json.dumps(moved)
    )
    code, message = await _error(jp_fetch, "sources", "ledger", "scans", method="POST", body=b"")
    assert code == 502
    assert message.startswith(
        "cannot scan connection 'ledger': connection refused: connection to server at"
    ), message
    assert f'"127.0.0.1", port {port}' in message, message
    assert "\t" not in message and "\n" not in message

    code, message = await _error(jp_fetch, "tables", str(table_id), "preview")
    assert code == 502
    assert message.startswith(
        "cannot preview a table of 'ledger': connection refused: connection to server at"
    ), message
    assert f'"127.0.0.1", port {port}' in message, message
    assert "\t" not in message and "\n" not in message
