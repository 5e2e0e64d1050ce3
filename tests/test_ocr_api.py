"""REST /workbench/api/ocr over a real jupyter-server: an upload becomes an Odoo expense
once; a receipt the flow is unsure of waits in the review queue, seen by its uploader and
the admins only, until an admin approves it (issue 17, OCR -> Odoo expenses)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.ocr_setup import demo_vendors, expense_setup, writable_odoo
from tests.support.receipts import FONTS, generate_receipts, render_receipt
from tests.support.servers import workbench_server
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_server.connections.kinds import OdooConfig
from workbench_server.connections.odoo import OdooClient

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"


@pytest.fixture(scope="module")
def odoo(pg_cluster):
    with writable_odoo(pg_cluster) as (server, url):
        yield server, url


@pytest.fixture
def jp_server_config(home: Path, tmp_path: Path):
    return workbench_server(home, data_roots=[str(tmp_path)], principal_provider_class=PROVIDER)


async def _call(jp_fetch, *path: str, **kwargs):
    response = await jp_fetch("workbench", "api", "ocr", *path, **kwargs)
    return response.code, (json.loads(response.body) if response.body[:1] in b"[{" else response)


async def _error(jp_fetch, *path: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "ocr", *path, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


async def test_upload_review_and_approve_over_rest(jp_fetch, odoo, tmp_path: Path) -> None:
    server, url = odoo
    connection = {"name": "erp", "shared_groups": ["finance"], "settings": server.settings()}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(connection))
    employee = str(expense_setup(url))
    vendor = demo_vendors(url)[2]
    clean, smudged = generate_receipts(tmp_path / "r", [vendor], count=2, seed=4242)
    odoo_api = OdooClient(OdooConfig.model_validate(server.settings()))
    count = odoo_api.execute_kw("hr.expense", "search_count", [[]])
    params = {"odoo": "erp", "employee_id": employee}

    code, created = await _call(
        jp_fetch,
        "documents",
        method="POST",
        body=clean.path.read_bytes(),
        params={**params, "filename": clean.path.name},
        headers=as_user("bob"),
    )
    assert code == 201 and created["status"] == "created", created
    assert created["fields"]["total"] == str(clean.total)
    code, again = await _call(
        jp_fetch,
        "documents",
        method="POST",
        body=clean.path.read_bytes(),
        params={**params, "filename": "again.png"},
    )
    assert code == 200 and again["odoo_expense_id"] == created["odoo_expense_id"]
    assert odoo_api.execute_kw("hr.expense", "search_count", [[]]) == count + 1

    # a stained total: into the review queue
    smudged.distortions[:] = ["smudged"]
    buffer = io.BytesIO()
    render_receipt(smudged, random.Random(3), FONTS[2]).save(buffer, "PNG")
    code, waiting = await _call(
        jp_fetch,
        "documents",
        method="POST",
        body=buffer.getvalue(),
        params={**params, "filename": "stained.png"},
        headers=as_user("bob"),
    )
    assert code == 201 and waiting["status"] == "review", waiting
    doc = waiting["document_id"]
    assert [
        d["document_id"] for d in (await _call(jp_fetch, "review", headers=as_user("bob")))[1]
    ] == [doc]
    assert (await _call(jp_fetch, "review", headers=as_user("carol")))[1] == []
    assert (await _error(jp_fetch, "documents", doc, "file", headers=as_user("carol")))[0] == 404
    _code, file = await _call(jp_fetch, "documents", doc, "file")
    assert file.body == buffer.getvalue() and file.headers["Content-Type"] == "image/png"
    assert file.headers["X-Content-Type-Options"] == "nosniff"

    # the uploader may not approve their own expense; an admin does, with the right total
    fields = {"fields": {"total": str(smudged.total), "date": smudged.date.isoformat()}}
    code, message = await _error(
        jp_fetch,
        "documents",
        doc,
        "approve",
        method="POST",
        body=json.dumps(fields),
        params=params,
        headers=as_user("bob"),
    )
    assert code == 403 and "administrator" in message
    code, done = await _call(
        jp_fetch, "documents", doc, "approve", method="POST", body=json.dumps(fields), params=params
    )
    assert (
        done["status"] == "created"
        and done["reviewed_by"]
        and done["fields"]["total"] == str(smudged.total)
    )
    assert odoo_api.execute_kw("hr.expense", "search_count", [[]]) == count + 2
    assert (await _call(jp_fetch, "review"))[1] == []


async def test_an_ocr_connection_chooses_the_engine(jp_fetch, odoo, tmp_path: Path) -> None:
    """An ``ocr`` connection: the offline engine tests fine and reads an upload; another
    kind of connection is refused by name."""
    server, url = odoo
    for body in (
        {"name": "erp", "settings": server.settings()},
        {"name": "scanner", "settings": {"kind": "ocr", "engine": "rapidocr"}},
    ):
        await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(body))
    tested = await jp_fetch(
        "workbench", "api", "connections", "scanner", "test", method="POST", body=b""
    )
    result = json.loads(tested.body)
    assert result["ok"] and "rapidocr-onnxruntime 1.4.4" in result["server_version"], result
    [receipt] = generate_receipts(tmp_path / "r", demo_vendors(url)[4:5], count=1, seed=555)
    params = {"odoo": "erp", "ocr": "scanner", "employee_id": str(expense_setup(url))}
    code, done = await _call(
        jp_fetch,
        "documents",
        method="POST",
        body=receipt.path.read_bytes(),
        params={**params, "filename": receipt.path.name},
    )
    assert code == 201 and done["status"] == "created", done
    code, message = await _error(
        jp_fetch,
        "documents",
        method="POST",
        body=b"x",
        params={**params, "ocr": "erp", "filename": "a.png"},
    )
    assert code == 400 and "'erp' is not an OCR connection" in message


@pytest.mark.parametrize(
    ("params", "body", "status", "message"),
    [
        ({"filename": "notes.txt", "odoo": "erp"}, b"x", 400, "only PDF, PNG and JPEG"),
        ({"filename": "a.png"}, b"x", 400, "odoo: the name of the Odoo connection"),
        ({"filename": "a/b.png", "odoo": "erp"}, b"x", 400, "filename"),
        ({"filename": "a.png", "odoo": "nosuch"}, b"\x89PNG", 404, "nosuch"),
    ],
)
async def test_bad_uploads_say_what_is_wrong(jp_fetch, params, body, status, message) -> None:
    code, text = await _error(jp_fetch, "documents", method="POST", body=body, params=params)
    assert code == status and message in text


async def test_the_lake_inbox_is_read_once(jp_fetch, odoo, home: Path, tmp_path: Path) -> None:
    """Files dropped into the lake's inbox/receipts/ folder become expenses; a second scan
    reads nothing again and makes nothing twice."""
    from workbench_server.lake import Lake
    from workbench_server.settings import WorkbenchSettings

    server, url = odoo
    connection = {"name": "erp", "settings": server.settings()}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(connection))
    inbox = Path(Lake.default(WorkbenchSettings.from_env(home)).location.root) / "inbox/receipts"
    vendor = demo_vendors(url)[3]
    receipts = generate_receipts(inbox, [vendor], count=2, seed=31337)
    (inbox / "notes.txt").write_text("not a receipt")
    params = {"odoo": "erp", "employee_id": str(expense_setup(url))}

    _code, first = await _call(jp_fetch, "inbox", method="POST", body=b"", params=params)
    assert [(o["filename"], o["status"]) for o in first] == [
        (r.path.name, "created") for r in receipts
    ], first
    _code, second = await _call(jp_fetch, "inbox", method="POST", body=b"", params=params)
    assert all(o["seen_before"] for o in second) and len(second) == 2
    assert [o["odoo_expense_id"] for o in second] == [o["odoo_expense_id"] for o in first]
