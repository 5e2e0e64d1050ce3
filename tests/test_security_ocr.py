"""The same receipt uploaded by two users, over a real jupyter-server, the real offline
OCR engine and the Odoo stand-in.

A document is known by its SHA-256, and one seen before is answered from silver. When
bob sent a file byte for byte identical to one alice had sent, he got her result back:
her document's fields, her Odoo expense, uploaded by alice, and his copy was never
processed. A non-admin sees only their own documents (the review queue's rule), so bob
is now told the document was already submitted by someone else, without whom, what was
read or what was made of it; nothing is claimed twice in Odoo. An admin, who sees every
document, still gets the known result. The lake's inbox, read by a second user, answers
others' documents the same way.
"""

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


async def _post(jp_fetch, path: str, body: bytes, params: dict, user: str | None):
    headers = as_user(user) if user else {}
    try:
        response = await jp_fetch(
            "workbench", "api", "ocr", path, method="POST", body=body, params=params,
            headers=headers,
        )  # fmt: skip
    except HTTPClientError as exc:
        return exc.code, exc.response.body.decode()
    return response.code, response.body.decode()


async def test_a_second_user_is_not_given_the_first_ones_document(
    jp_fetch, odoo, tmp_path: Path
) -> None:
    server, url = odoo
    connection = {"name": "erp", "shared_groups": ["finance"], "settings": server.settings()}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(connection))
    employee = str(expense_setup(url))
    vendor = demo_vendors(url)[1]
    clean, smudged = generate_receipts(tmp_path / "r", [vendor], count=2, seed=9191)
    odoo_api = OdooClient(OdooConfig.model_validate(server.settings()))
    params = {"odoo": "erp", "employee_id": employee}
    receipt = clean.path.read_bytes()

    code, body = await _post(
        jp_fetch, "documents", receipt, {**params, "filename": "alice.png"}, "alice"
    )
    created = json.loads(body)
    assert code == 201 and created["status"] == "created", body
    expenses = odoo_api.execute_kw("hr.expense", "search_count", [[]])

    code, body = await _post(
        jp_fetch, "documents", receipt, {**params, "filename": "bob.png"}, "bob"
    )
    assert code == 409, body
    message = json.loads(body)["message"]
    assert "already submitted by someone else" in message, message
    assert "bob.png" in message
    for hers in ("alice", str(created["odoo_expense_id"]), str(clean.total), vendor.name):
        assert hers not in body, (hers, body)
    assert odoo_api.execute_kw("hr.expense", "search_count", [[]]) == expenses  # not twice

    # One of alice's that waits in review: bob learns nothing of it either.
    smudged.distortions[:] = ["smudged"]
    buffer = io.BytesIO()
    render_receipt(smudged, random.Random(5), FONTS[2]).save(buffer, "PNG")
    code, body = await _post(
        jp_fetch, "documents", buffer.getvalue(), {**params, "filename": "s.png"}, "alice"
    )
    assert code == 201 and json.loads(body)["status"] == "review", body
    code, body = await _post(
        jp_fetch, "documents", buffer.getvalue(), {**params, "filename": "s.png"}, "bob"
    )
    assert code == 409 and "alice" not in body and "review" not in body, body

    # alice sending hers again, and an admin (who sees every document), get the result.
    code, body = await _post(
        jp_fetch, "documents", receipt, {**params, "filename": "again.png"}, "alice"
    )
    assert code == 200 and json.loads(body)["odoo_expense_id"] == created["odoo_expense_id"]
    code, body = await _post(
        jp_fetch, "documents", receipt, {**params, "filename": "admin.png"}, None
    )
    assert code == 200 and json.loads(body)["uploaded_by"] == "alice", body


async def test_the_inbox_read_by_another_user_shows_nothing_of_the_first_ones(
    jp_fetch, odoo, home: Path
) -> None:
    from workbench_server.lake import Lake
    from workbench_server.settings import WorkbenchSettings

    server, url = odoo
    connection = {"name": "erp", "shared_groups": ["finance"], "settings": server.settings()}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(connection))
    inbox = Path(Lake.default(WorkbenchSettings.from_env(home)).location.root) / "inbox/receipts"
    vendor = demo_vendors(url)[4]
    (receipt,) = generate_receipts(inbox, [vendor], count=1, seed=777)
    params = {"odoo": "erp", "employee_id": str(expense_setup(url))}

    code, body = await _post(jp_fetch, "inbox", b"", params, "alice")
    (first,) = json.loads(body)
    assert code == 200 and first["status"] == "created" and first["uploaded_by"] == "alice"
    code, body = await _post(jp_fetch, "inbox", b"", params, "bob")
    (seen,) = json.loads(body)
    assert code == 200 and seen["seen_before"], body
    assert seen["reason"] == "already submitted by someone else", seen
    # Nor what became of it (an expense made, waiting for review, rejected): 'withheld'.
    assert seen["status"] == "withheld", seen
    assert seen["uploaded_by"] is None and seen["odoo_expense_id"] is None
    assert seen["fields"]["total"] is None and seen["fields"]["vendor"] is None
    assert "alice" not in body and str(receipt.total) not in body, body
