"""REST /workbench/api/catalog over a real jupyter-server and a real Odoo-shaped database."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.postgres import postgres_settings
from tests.support.servers import workbench_server


@pytest.fixture
def jp_server_config(home):
    return workbench_server(home)


async def _json(jp_fetch, *path: str, **kwargs):
    response = await jp_fetch("workbench", "api", "catalog", *path, **kwargs)
    return json.loads(response.body)


async def _error(jp_fetch, *path: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "catalog", *path, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


async def test_scan_browse_search_and_curate(jp_fetch, odoo_db: str) -> None:
    body = {"name": "odoo", "settings": postgres_settings(odoo_db)}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(body))
    # The default lake is every user's source (the built-in connection `lake`).
    lake, source = await _json(jp_fetch, "sources")
    assert (lake["connection"], lake["kind"], lake["scannable"]) == ("lake", "lake", True)
    assert (source["connection"], source["tables"], source["last_scan"]) == ("odoo", 0, None)

    scan = await _json(jp_fetch, "sources", "odoo", "scans", method="POST", body=b"")
    assert scan["status"] == "succeeded" and scan["stats"]["odoo"] is True
    _, source = await _json(jp_fetch, "sources")
    assert source["tables"] == scan["stats"]["tables"] > 10

    page = await _json(jp_fetch, "tables", params={"connection": "odoo", "limit": "5"})
    assert page["total"] == source["tables"] and len(page["items"]) == 5
    assert page["items"][0]["schema"] == "public"

    found = await _json(jp_fetch, "search", params={"q": "journal items"})
    first = found["hits"][0]["table"]
    assert first["name"] == "account_move_line" and first["label"] == "Journal Item"
    detail = await _json(jp_fetch, "tables", str(first["id"]))
    partner = next(c for c in detail["columns"] if c["name"] == "partner_id")
    assert (partner["label"], partner["references"]) == ("Partner", "public.res_partner.id")

    edited = await _json(
        jp_fetch,
        "tables",
        str(first["id"]),
        method="PATCH",
        body=json.dumps({"description": "Every debit and credit", "tags": ["ledger"]}),
    )
    assert edited["description"] == "Every debit and credit"
    await _json(
        jp_fetch,
        "tables",
        str(first["id"]),
        "columns",
        "balance",
        method="PATCH",
        body=json.dumps({"description": "debit - credit", "tags": ["Amount"]}),
    )
    # Curated words are searchable at once; facets count them.
    by_tag = await _json(jp_fetch, "search", params={"q": "ledger", "tag": "ledger"})
    assert [h["table"]["name"] for h in by_tag["hits"]] == ["account_move_line"]
    assert by_tag["facets"]["tag"]["ledger"] == 1

    preview = await _json(jp_fetch, "tables", str(first["id"]), "preview", params={"limit": "3"})
    assert len(preview["rows"]) == 3 and preview["notes"] == ["first 3 rows"]
    assert preview["columns"][0] == {"name": "id", "type": "integer", "masked": False}

    assert await _error(jp_fetch, "tables", "999999") == (404, "no catalog table 999999")
    code, message = await _error(
        jp_fetch, "tables", str(first["id"]), method="PATCH", body=json.dumps({"tags": ["a b"]})
    )
    assert code == 400 and "tag 'a b'" in message
    code, message = await _error(jp_fetch, "search", params={"q": "x", "color": "red"})
    assert code == 400 and "color: filter by one of" in message
    with pytest.raises(HTTPClientError) as info:  # the reason phrase is the status's own
        await jp_fetch("workbench", "api", "catalog", "tables", "999999")
    assert json.loads(info.value.response.body)["reason"] == "Not Found"
    # JupyterLab's cache buster ("?1732...=") is no facet.
    busted = await _json(jp_fetch, "search", params={"q": "journal", "1764100000000": ""})
    assert busted["hits"]


async def test_scan_of_unreachable_source_is_a_502_naming_the_cause(jp_fetch, odoo_db) -> None:
    settings = postgres_settings(odoo_db, host="no-such-host.invalid")
    body = {"name": "gone", "settings": settings}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(body))
    code, message = await _error(jp_fetch, "sources", "gone", "scans", method="POST", body=b"")
    assert code == 502
    assert message.startswith("cannot scan connection 'gone': host not found")
    [scan] = await _json(jp_fetch, "sources", "gone", "scans")
    assert scan["status"] == "failed" and scan["error"] == message
    code, message = await _error(jp_fetch, "sources", "nope", "scans", method="POST", body=b"")
    assert (code, message) == (404, "no connection named 'nope'")
