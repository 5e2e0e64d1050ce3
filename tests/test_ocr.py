"""Receipts to Odoo expenses (issue 17, must-show 2): OCR on a generated set of receipts
and bills, partners matched, expenses made once with their documents attached, and the
review queue for what the flow is not sure of.

The receipts are rendered with real fonts to PNG, JPEG, scanned PDF and text PDF, some
rotated, skewed or noisy; the real RapidOCR engine reads each file once per module.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from tests.support.ocr_setup import CachedEngine, demo_vendors, expense_setup, writable_odoo
from tests.support.receipts import FONTS, Receipt, Vendor, generate_receipts, render_receipt
from workbench_server.connections.kinds import OcrConfig, OdooConfig
from workbench_server.connections.odoo import OdooClient
from workbench_server.errors import ConflictError, InvalidInputError
from workbench_server.lake.location import LakeLocation
from workbench_server.lake.tables import open_table
from workbench_server.ocr import flow
from workbench_server.ocr.engines import HttpOcrEngine
from workbench_server.ocr.extract import extract_fields

COUNT = 24


@pytest.fixture(scope="module")
def odoo(pg_cluster):
    with writable_odoo(pg_cluster) as (server, url):
        yield server, url


@pytest.fixture(scope="module")
def receipts(odoo, tmp_path_factory) -> list[Receipt]:
    _server, url = odoo
    return generate_receipts(tmp_path_factory.mktemp("receipts"), demo_vendors(url), COUNT)


@pytest.fixture(scope="module")
def engine() -> CachedEngine:
    return CachedEngine()


def _client(server) -> OdooClient:
    return OdooClient(OdooConfig.model_validate(server.settings()))


def _rpc(server, model: str, method: str, *args, **kwargs):
    return _client(server).execute_kw(model, method, list(args), kwargs)


def test_totals_and_dates_are_read_exactly(receipts, engine):
    """>= 95% of totals and dates exact, over every form and distortion."""
    assert {r.form for r in receipts} == {"png", "jpeg", "pdf-scan", "pdf-text"}
    assert {"rotated", "skewed", "noisy"} <= {d for r in receipts for d in r.distortions}
    totals = dates = vats = 0
    misses = []
    for r in receipts:
        fields = extract_fields(engine.read(r.path.read_bytes(), r.path.name))
        totals += fields.total == r.total
        dates += fields.date == r.date
        vats += r.vendor.vat is None or fields.vat == r.vendor.vat.replace(" ", "")
        if fields.total != r.total or fields.date != r.date:
            misses.append((r.path.name, r.distortions, fields.total, r.total, fields.date, r.date))
        assert isinstance(fields.total, Decimal | None)
    assert totals / len(receipts) >= 0.95, misses
    assert dates / len(receipts) >= 0.95, misses
    assert vats / len(receipts) >= 0.9


def test_expenses_are_created_once_with_their_documents(odoo, receipts, engine, tmp_path):
    server, url = odoo
    client = _client(server)
    settings = flow.FlowSettings(employee_id=expense_setup(url))
    lake = LakeLocation(str(tmp_path / "lake"))
    before = _rpc(server, "hr.expense", "search_count", [])

    outcomes = [
        flow.process_document(lake, r.path.read_bytes(), r.path.name, engine, client, settings)
        for r in receipts
    ]
    created = [o for o in outcomes if o.status == "created"]
    # partners matched: by VAT, or by name for the vendor without one
    matched = [
        o for o, r in zip(outcomes, receipts, strict=True) if o.partner_id == r.vendor.partner_id
    ]
    assert len(matched) / len(receipts) >= 0.95, [(o.filename, o.reason) for o in outcomes]
    assert len(created) / len(receipts) >= 0.9, [(o.filename, o.reason) for o in outcomes]
    assert _rpc(server, "hr.expense", "search_count", []) == before + len(created)

    # each expense: the receipt's amount and date, with the very file attached
    by_name = {r.path.name: r for r in receipts}
    for o in created:
        r = by_name[o.filename]
        [expense] = _rpc(
            server,
            "hr.expense",
            "read",
            [o.odoo_expense_id],
            fields=["date", "total_amount_currency", "employee_id", "product_id"],
        )
        assert expense["date"] == r.date.isoformat()
        assert Decimal(str(expense["total_amount_currency"])) == r.total
        assert expense["employee_id"][0] == settings.employee_id and expense["product_id"]
        [attachment] = _rpc(
            server,
            "ir.attachment",
            "search_read",
            [["res_model", "=", "hr.expense"], ["res_id", "=", o.odoo_expense_id]],
            fields=["name", "datas", "checksum", "mimetype"],
        )
        content = r.path.read_bytes()
        assert base64.b64decode(attachment["datas"]) == content
        assert attachment["checksum"] == hashlib.sha1(content, usedforsecurity=False).hexdigest()
        assert attachment["name"] == r.path.name

    # the same documents again (one under another name): no new expense, same ids
    calls = engine.calls
    again = [
        flow.process_document(
            lake,
            r.path.read_bytes(),
            f"copy-{r.path.name}",
            engine,
            client,
            settings,
            source="inbox",
        )
        for r in receipts[:6]
    ]
    assert engine.calls == calls, "a document seen before is not read again"
    assert [o.odoo_expense_id for o in again] == [o.odoo_expense_id for o in outcomes[:6]]
    assert all(o.seen_before for o in again)
    assert _rpc(server, "hr.expense", "search_count", []) == before + len(created)

    # bronze keeps file, hash and raw OCR; silver the fields and the Odoo ids (lineage)
    bronze = open_table(lake, flow.BRONZE).to_pyarrow_table().to_pylist()
    assert len(bronze) == len(receipts)
    first = next(b for b in bronze if b["file_name"] == receipts[0].path.name)
    assert first["content"] == receipts[0].path.read_bytes()
    assert first["document_id"] == hashlib.sha256(first["content"]).hexdigest()
    assert json.loads(first["ocr"])["lines"]
    silver = {
        s["document_id"]: s for s in open_table(lake, flow.SILVER).to_pyarrow_table().to_pylist()
    }
    assert len(silver) == len(receipts)
    row = silver[first["document_id"]]
    assert (
        row["total"] == receipts[0].total and row["odoo_expense_id"] == outcomes[0].odoo_expense_id
    )
    assert json.loads(row["confidence"])["total"] > 0.9


def test_a_rescan_of_a_receipt_is_a_duplicate_not_a_second_expense(
    odoo, receipts, engine, tmp_path
):
    server, url = odoo
    client = _client(server)
    settings = flow.FlowSettings(employee_id=expense_setup(url))
    lake = LakeLocation(str(tmp_path / "lake"))
    # a receipt of its own (the module's set is already in Odoo): a clean PNG
    [original] = generate_receipts(tmp_path / "one", demo_vendors(url)[:1], count=1, seed=123)
    first = flow.process_document(
        lake, original.path.read_bytes(), original.path.name, engine, client, settings
    )
    assert first.status == "created"
    count = _rpc(server, "hr.expense", "search_count", [])
    # the same paper scanned again: other bytes, same vendor, date and amount
    rescan = io.BytesIO()
    Image.open(original.path).convert("RGB").save(rescan, "JPEG", quality=88)
    second = flow.process_document(lake, rescan.getvalue(), "rescan.jpg", engine, client, settings)
    assert second.status == "review" and "same vendor, date and amount" in (second.reason or "")
    assert _rpc(server, "hr.expense", "search_count", []) == count


def test_a_low_confidence_receipt_waits_for_review_then_goes_through(odoo, engine, tmp_path):
    server, url = odoo
    client = _client(server)
    settings = flow.FlowSettings(employee_id=expense_setup(url))
    lake = LakeLocation(str(tmp_path / "lake"))
    vendor = demo_vendors(url, with_vat=7)[-1]
    [receipt] = generate_receipts(tmp_path / "faint", [vendor], count=1, seed=99)
    # a stain over the total: the amount is no longer read with confidence
    receipt.distortions.append("smudged")
    image = render_receipt(receipt, random.Random(1), FONTS[0])
    faint = io.BytesIO()
    image.save(faint, "PNG")
    count = _rpc(server, "hr.expense", "search_count", [])

    waiting = flow.process_document(lake, faint.getvalue(), "faint.png", engine, client, settings)
    assert waiting.status == "review", waiting
    assert "low confidence or missing" in (waiting.reason or "")
    assert [o.document_id for o in flow.review_queue(lake)] == [waiting.document_id]
    assert _rpc(server, "hr.expense", "search_count", []) == count

    with pytest.raises(InvalidInputError, match="cannot edit"):
        flow.approve(lake, client, settings, waiting.document_id, {"odoo_expense_id": 1}, "rev")
    edits = {
        "vendor": vendor.name,
        "vat": vendor.vat,
        "date": receipt.date.isoformat(),
        "total": str(receipt.total),
        "currency": receipt.currency,
    }
    done = flow.approve(lake, client, settings, waiting.document_id, edits, "reviewer")
    assert done.status == "created" and done.partner_id == vendor.partner_id
    assert _rpc(server, "hr.expense", "search_count", []) == count + 1
    assert flow.review_queue(lake) == []
    with pytest.raises(ConflictError, match="not waiting for review"):
        flow.reject(lake, waiting.document_id, "too late", "reviewer")


def test_unknown_vendor_is_rejected_by_a_person(odoo, engine, tmp_path):
    server, url = odoo
    settings = flow.FlowSettings(employee_id=expense_setup(url))
    lake = LakeLocation(str(tmp_path / "lake"))
    stranger = Vendor("Zephyr Quantum Bakery Oy", "FI99999999")
    [receipt] = generate_receipts(tmp_path / "s", [stranger], count=1, seed=5)
    data = receipt.path.read_bytes()
    waiting = flow.process_document(
        lake, data, receipt.path.name, engine, _client(server), settings
    )
    assert waiting.status == "review" and "no partner" in (waiting.reason or "")
    rejected = flow.reject(lake, waiting.document_id, "private purchase", "reviewer")
    assert rejected.status == "rejected" and rejected.reason == "private purchase"
    assert flow.review_queue(lake) == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.txt", b"hello", "only PDF, PNG and JPEG"),
        ("broken.png", b"\x89PNG not really", "not a readable image"),
        ("broken.pdf", b"%PDF-1.4 nonsense", "not a readable PDF"),
        ("empty.jpg", b"", "empty"),
    ],
)
def test_bad_documents_are_refused_with_their_name(name, data, message, tmp_path, engine):
    lake = LakeLocation(str(tmp_path / "lake"))
    with pytest.raises(InvalidInputError, match=message) as caught:
        flow.process_document(lake, data, name, engine, None, flow.FlowSettings())  # type: ignore[arg-type]
    assert name in str(caught.value) or message == "empty"
    assert not (tmp_path / "lake").exists(), "nothing half-written"


def test_the_company_ocr_service_over_http(receipts):
    """The ``http`` engine: the document goes as JSON (base64), lines come back at a
    configured path with 0-100 scores."""
    seen: list[dict] = []

    class Service(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"auth": self.headers.get("Authorization"), **body})
            reply = {
                "result": {
                    "blocks": [
                        {"content": "Acme Ltd", "score": 97},
                        {"content": "TOTAL EUR 12.50", "score": 88},
                    ]
                }
            }
            payload = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        settings = OcrConfig(
            engine="http",
            url=f"http://127.0.0.1:{httpd.server_address[1]}/ocr",
            token="s3cret",
            body="json",
            lines_path="result.blocks",
            text_field="content",
            confidence_field="score",
            confidence_scale=100,
        )
        data = receipts[0].path.read_bytes()
        result = HttpOcrEngine(settings).read(data, receipts[0].path.name)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert seen[0]["auth"] == "Bearer s3cret"
    assert base64.b64decode(seen[0]["document"]) == data
    assert [(line.text, line.confidence) for line in result.lines] == [
        ("Acme Ltd", 0.97),
        ("TOTAL EUR 12.50", 0.88),
    ]
    fields = extract_fields(result)
    assert fields.total == Decimal("12.50") and fields.currency == "EUR"
    assert "s3cret" not in repr(settings)


def test_the_odoo_stand_in_creates_only_on_writable_models(odoo):
    """The stand-in's create() (used above) checks like Odoo's ORM and is opt-in."""
    from workbench_server.connections.odoo import OdooError

    server, _url = odoo
    with pytest.raises(OdooError, match="read-only"):
        _rpc(server, "res.partner", "create", {"name": "Nope"})
    with pytest.raises(OdooError, match="Employee"):
        _rpc(server, "hr.expense", "create", {"name": "no employee"})
    with pytest.raises(OdooError, match="Invalid field"):
        _rpc(server, "ir.attachment", "create", {"name": "x", "nonsense": 1})
