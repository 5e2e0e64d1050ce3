"""Receipts a controller made herself (issue 17), in layouts the generated ones do not have:
a German hardware store's (``USt-IdNr:``, ``Summe EUR``, comma decimals, ``dd.mm.yyyy``),
a Dutch lunch (``BTW nr``, an ISO date, the euro sign), a US car rental (``Sales tax``,
``AMOUNT DUE USD``, thousands separators). The real RapidOCR engine reads them and drops
spaces as it does on real scans (``Date2026-02-17``, ``Salestax8.25%``); the expenses are
made in the Odoo stand-in, whose company keeps its books in USD.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.support.ocr_setup import CachedEngine, expense_setup, writable_odoo
from workbench_server.connections.kinds import OdooConfig
from workbench_server.connections.odoo import OdooClient
from workbench_server.errors import InvalidInputError
from workbench_server.lake.location import LakeLocation
from workbench_server.ocr import flow
from workbench_server.ocr.extract import extract_fields

FONTS = "/usr/share/fonts/truetype/"
HARDWARE = [
    ("Iron Labs AG", ""),
    ("Hauptstrasse 5, 80331 Muenchen", ""),
    ("USt-IdNr: DE636383989", ""),
    ("Datum: 13.02.2026", ""),
    ("Beleg Nr 4711", ""),
    ("", ""),
    ("Kabel 2 x 12,50", "25,00"),
    ("Schrauben 1 x 13,32", "13,32"),
    ("", ""),
    ("Subtotal", "38,32"),
    ("MwSt 19%", "7,28"),
    ("Summe EUR", "45,60"),
]
LUNCH = [
    ("Bright Foods B.V.", ""),
    ("Damrak 1, Amsterdam", ""),
    ("BTW nr NL192496024B01", ""),
    ("Date 2026-02-17", ""),
    ("", ""),
    ("Lunch menu 3 x 18,50", "55,50"),
    ("Subtotal", "55,50"),
    ("VAT 9%", "5,00"),
    ("TOTAL", "€ 60,50"),
]
RENTAL = [
    ("Golden Motors LLC", ""),
    ("500 Main St, Austin TX", ""),
    ("Invoice date: 2026-02-20", ""),
    ("", ""),
    ("Car rental 3 x 400.00", "1,200.00"),
    ("Subtotal", "1,200.00"),
    ("Sales tax 8.25%", "99.00"),
    ("AMOUNT DUE USD", "1,299.00"),
]


def render(rows, font: str, kind: str = "PNG") -> bytes:
    face = ImageFont.truetype(FONTS + font, 28)
    image = Image.new("L", (820, 60 + 45 * len(rows)), 255)
    draw = ImageDraw.Draw(image)
    for n, (left, right) in enumerate(rows):
        y = 30 + 45 * n
        if left:
            draw.text((40, y), left, font=face, fill=15)
        if right:
            draw.text((780 - draw.textlength(right, font=face), y), right, font=face, fill=15)
    out = io.BytesIO()
    image.convert("RGB").save(out, kind, quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def odoo(pg_cluster):
    with writable_odoo(pg_cluster) as (server, url):
        yield server, url


@pytest.fixture(scope="module")
def engine() -> CachedEngine:
    return CachedEngine()


def test_receipts_are_read_through_the_spaces_ocr_drops(engine) -> None:
    """The engine reads "USt-IdNr:DE636383989", "BTWnrNL192496024B01", "Date2026-02-17"
    and "Salestax8.25%": the tax ids came out as None and "NRNL192496024B01", the date
    as None (the receipt went to review) and the sales tax was not seen (the expense was
    made with no tax)."""
    found = {
        name: extract_fields(engine.read(render(rows, font, kind), name))
        for name, rows, font, kind in (
            ("baumarkt.png", HARDWARE, "dejavu/DejaVuSans.ttf", "PNG"),
            ("lunch.jpg", LUNCH, "liberation/LiberationSerif-Regular.ttf", "JPEG"),
            ("rental.png", RENTAL, "liberation/LiberationMono-Regular.ttf", "PNG"),
        )
    }
    read = {name: (f.vat, f.date, f.total, f.taxes, f.currency) for name, f in found.items()}
    assert read == {
        "baumarkt.png": (
            "DE636383989",
            date(2026, 2, 13),
            Decimal("45.60"),
            Decimal("7.28"),
            "EUR",
        ),
        "lunch.jpg": ("NL192496024B01", date(2026, 2, 17), Decimal("60.50"), Decimal("5.00"), None),
        "rental.png": (None, date(2026, 2, 20), Decimal("1299.00"), Decimal("99.00"), "USD"),
    }
    # lines + taxes = total: the rental's total is as sure as its tax now
    assert found["rental.png"].confidence["total"] >= 0.99


def test_a_receipt_in_another_currency_is_left_for_odoo_to_convert(odoo, engine, tmp_path) -> None:
    server, url = odoo
    client = OdooClient(OdooConfig.model_validate(server.settings()))
    settings = flow.FlowSettings(employee_id=expense_setup(url))
    lake = LakeLocation(str(tmp_path / "lake"))

    def read(model: str, ids: list[int], fields: list[str]) -> dict:
        return client.execute_kw(model, "read", [ids], {"fields": fields})[0]

    usd = client.execute_kw("res.company", "read", [[1]], {"fields": ["currency_id"]})[0]
    assert usd["currency_id"][1] == "USD"  # the stand-in's company books in USD
    before = client.execute_kw("hr.expense", "search_count", [[]])
    money = ["total_amount_currency", "total_amount", "tax_amount", "currency_id"]

    # A German receipt in EUR: its tax id after "USt-IdNr:" (it read "NR"), booked in EUR
    # and left for Odoo to convert: the flow gave Odoo 45.60 as the USD amount too.
    hardware = render(HARDWARE, "dejavu/DejaVuSans.ttf")
    done = flow.process_document(lake, hardware, "baumarkt.png", engine, client, settings)
    assert done.status == "created", done
    fields = done.fields
    assert (fields.vendor, fields.vat, fields.date) == (
        "Iron Labs AG",
        "DE636383989",
        date(2026, 2, 13),
    )
    assert (fields.total, fields.taxes, fields.currency) == (
        Decimal("45.60"),
        Decimal("7.28"),
        "EUR",
    )
    expense = read("hr.expense", [done.odoo_expense_id], money)
    assert expense["currency_id"][1] == "EUR"
    assert Decimal(str(expense["total_amount_currency"])) == Decimal("45.60")
    assert expense["total_amount"] in (None, False, 0)  # Odoo's to convert, not 45.60 USD
    assert expense["tax_amount"] in (None, False, 0)

    # A US rental in the company's own currency: its sales tax ("Salestax8.25%" once read)
    # checks the total, and the company-currency amounts are the receipt's.
    rental = render(RENTAL, "liberation/LiberationMono-Regular.ttf")
    done = flow.process_document(lake, rental, "rental.png", engine, client, settings)
    assert done.status == "created", done
    assert (done.fields.total, done.fields.taxes, done.fields.currency) == (
        Decimal("1299.00"),
        Decimal("99.00"),
        "USD",
    )
    expense = read("hr.expense", [done.odoo_expense_id], money)
    assert expense["currency_id"][1] == "USD"
    assert Decimal(str(expense["total_amount"])) == Decimal("1299.00")
    assert Decimal(str(expense["tax_amount"])) == Decimal("99.00")

    # The Dutch lunch: date and tax id read through the dropped spaces ("Date2026-02-17",
    # "BTWnrNL..."); the euro sign is lost by the OCR, so it waits for a person, for
    # its currency only.
    lunch = render(LUNCH, "liberation/LiberationSerif-Regular.ttf", "JPEG")
    waiting = flow.process_document(lake, lunch, "lunch.jpg", engine, client, settings)
    assert waiting.status == "review"
    assert waiting.reason == "low confidence or missing: currency"
    assert (waiting.fields.date, waiting.fields.vat) == (date(2026, 2, 17), "NL192496024B01")

    # A person corrects it: a mistyped amount is named with what was typed (it was
    # pydantic's dump: "1 validation error for Extracted ... errors.pydantic.dev"), then
    # the currency given makes the expense, with the document attached.
    with pytest.raises(InvalidInputError) as refused:
        flow.approve(lake, client, settings, waiting.document_id, {"total": "60,5O"}, "carol")
    assert str(refused.value) == ("lunch.jpg: total '60,5O': input should be a valid decimal")
    done = flow.approve(lake, client, settings, waiting.document_id, {"currency": "EUR"}, "carol")
    assert done.status == "created" and done.reviewed_by == "carol"
    expense = read("hr.expense", [done.odoo_expense_id], money)
    assert Decimal(str(expense["total_amount_currency"])) == Decimal("60.50")
    assert expense["currency_id"][1] == "EUR"
    attached = client.execute_kw(
        "ir.attachment", "search_read",
        [[["res_model", "=", "hr.expense"], ["res_id", "=", done.odoo_expense_id]]],
        {"fields": ["name", "file_size"]},
    )  # fmt: skip
    assert [(a["name"], a["file_size"]) for a in attached] == [("lunch.jpg", len(lunch))]

    # The same file again under another name: the same expense, no second one.
    again = flow.process_document(lake, hardware, "scan-2.png", engine, client, settings)
    assert again.seen_before
    assert client.execute_kw("hr.expense", "search_count", [[]]) == before + 3


REFUND = [
    ("Iron Labs AG", ""),
    ("Hauptstrasse 5, 80331 Muenchen", ""),
    ("USt-IdNr: DE636383989", ""),
    ("Datum: 16.02.2026", ""),
    ("RETOURE / Gutschrift", ""),
    ("", ""),
    ("Kabel 1 x -12,50", "-12,50"),
    ("Subtotal", "-12,50"),
    ("MwSt 19%", "-2,38"),
    ("Summe EUR", "-14,88"),
]


def test_a_refund_receipt_is_not_paid_back_as_an_expense(odoo, engine, tmp_path) -> None:
    """A returned cable's credit slip (-14.88): its minus was dropped, and the flow made an
    expense of +14.88 by itself, with every field sure."""
    server, url = odoo
    client = OdooClient(OdooConfig.model_validate(server.settings()))
    settings = flow.FlowSettings(employee_id=expense_setup(url))
    before = client.execute_kw("hr.expense", "search_count", [[]])
    refund = render(REFUND, "dejavu/DejaVuSans.ttf")
    outcome = flow.process_document(
        LakeLocation(str(tmp_path / "lake")), refund, "gutschrift.png", engine, client, settings
    )
    assert (outcome.fields.total, outcome.fields.taxes) == (Decimal("-14.88"), Decimal("-2.38"))
    assert outcome.status == "review" and outcome.odoo_expense_id is None
    assert outcome.reason == (
        "total -14.88 is not an amount to pay back (a refund or credit note?)"
    )
    assert client.execute_kw("hr.expense", "search_count", [[]]) == before
