"""Match an extracted receipt in Odoo and make its ``hr.expense``, through the external API.

Matching: the vendor's partner by VAT id, else by name (exact, then fuzzy with spaces
ignored, since OCR drops them); the employee; the expense product (a product whose
template ``can_be_expensed``, chosen by the receipt's line descriptions).
Idempotency: an expense made from a document carries it as an ``ir.attachment`` whose
``checksum`` is the file's SHA-1 (Odoo's own field), so the same file found again is the
same expense; a different file with the same vendor, date and amount is reported as a
duplicate and not created.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz, process

from ..connections.odoo import OdooClient
from ..errors import ConflictError, InvalidInputError

__all__ = ["ExpenseDraft", "Matches", "countries", "create_expense", "find_by_checksum", "match"]

FUZZY_MIN = 88
MAX_PARTNERS = 5000


@dataclass
class Matches:
    """What the receipt matched in Odoo; None where nothing did."""

    partner_id: int | None = None
    partner_name: str | None = None
    partner_by: str | None = None  # vat, name or fuzzy
    partner_score: float = 0.0
    employee_id: int | None = None
    product_id: int | None = None
    duplicate_of: int | None = None  # an expense with the same vendor, date and amount


@dataclass
class ExpenseDraft:
    """The values of the expense to create, and the document to attach."""

    name: str
    date: date
    total: Decimal
    taxes: Decimal | None
    currency: str
    employee_id: int
    product_id: int
    partner_name: str
    filename: str
    content: bytes
    sha1: str
    mimetype: str
    reference: str  # the workbench's document id, written into the expense's notes


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def match_partner(
    client: OdooClient, vat: str | None, vendor: str | None
) -> tuple[int, str, str, float] | None:
    """(id, name, how, score) of the vendor's partner, or None."""
    if vat and len(digits := re.sub(r"\D", "", vat)) >= 5:
        # Tax ids are stored as typed ("DE 123 456 789", "12-3456789"): narrow by the last
        # digits, then compare without spaces, dots and dashes.
        found = client.execute_kw(
            "res.partner", "search_read", [[["vat", "ilike", digits[-5:]]]],
            {"fields": ["name", "vat", "is_company"], "limit": 50},
        )  # fmt: skip
        same = [p for p in found if p.get("vat") and _norm(str(p["vat"])) == _norm(vat)]
        # a company and its contacts share the tax id: the company is the vendor
        companies = [p for p in same if p.get("is_company")] or same
        if len(companies) == 1:
            return int(companies[0]["id"]), str(companies[0]["name"]), "vat", 1.0
    if not vendor:
        return None
    found = client.execute_kw(
        "res.partner", "search_read", [[["name", "=ilike", vendor.strip()]]],
        {"fields": ["name"], "limit": 2},
    )  # fmt: skip
    if len(found) == 1:
        return int(found[0]["id"]), str(found[0]["name"]), "name", 1.0
    companies = client.execute_kw(
        "res.partner", "search_read", [[["is_company", "=", True]]],
        {"fields": ["name"], "limit": MAX_PARTNERS},
    )  # fmt: skip
    choices = {int(p["id"]): _norm(str(p["name"])) for p in companies if p.get("name")}
    best = process.extractOne(_norm(vendor), choices, scorer=fuzz.ratio)
    if best is None or best[1] < FUZZY_MIN:
        return None
    partner_id = int(best[2])
    name = next(str(p["name"]) for p in companies if int(p["id"]) == partner_id)
    return partner_id, name, "fuzzy", round(best[1] / 100, 4)


def match_employee(
    client: OdooClient, work_email: str | None, employee_id: int | None
) -> int | None:
    """The employee the expense is for: the configured id, else by work e-mail."""
    if employee_id is not None:
        found = client.execute_kw("hr.employee", "search", [[["id", "=", employee_id]]])
        return employee_id if found else None
    if work_email:
        found = client.execute_kw(
            "hr.employee", "search", [[["work_email", "=ilike", work_email]]], {"limit": 2}
        )
        if len(found) == 1:
            return int(found[0])
    return None


def match_product(client: OdooClient, descriptions: list[str]) -> int | None:
    """An expensable product, the closest to the receipt's line descriptions."""
    templates = client.execute_kw(
        "product.template", "search_read", [[["can_be_expensed", "=", True]]],
        {"fields": ["name"], "limit": 500},
    )  # fmt: skip
    if not templates:
        return None
    chosen = templates[0]
    text = " ".join(descriptions)
    if text:
        best = process.extractOne(
            text, {int(t["id"]): str(t["name"]) for t in templates}, scorer=fuzz.partial_ratio
        )
        if best is not None and best[1] >= 60:
            chosen = next(t for t in templates if int(t["id"]) == int(best[2]))
    variants = client.execute_kw(
        "product.product", "search", [[["product_tmpl_id", "=", int(chosen["id"])]]], {"limit": 1}
    )
    return int(variants[0]) if variants else None


def find_by_checksum(client: OdooClient, sha1: str) -> int | None:
    """The expense a file with this SHA-1 is already attached to, if any."""
    found = client.execute_kw(
        "ir.attachment", "search_read",
        [[["res_model", "=", "hr.expense"], ["checksum", "=", sha1]]],
        {"fields": ["res_id"], "limit": 1},
    )  # fmt: skip
    return int(found[0]["res_id"]) if found and found[0].get("res_id") else None


def find_duplicate(client: OdooClient, partner_name: str, day: date, total: Decimal) -> int | None:
    """An expense of the same vendor, date and amount (another scan of the same receipt)."""
    found = client.execute_kw(
        "hr.expense", "search",
        [[["date", "=", day.isoformat()], ["total_amount_currency", "=", float(total)],
          ["description", "ilike", f"Vendor: {partner_name}"]]],
        {"limit": 1},
    )  # fmt: skip
    return int(found[0]) if found else None


def match(
    client: OdooClient,
    fields: Any,
    *,
    work_email: str | None = None,
    employee_id: int | None = None,
) -> Matches:
    """Everything the receipt's ``fields`` (an :class:`~.models.Extracted`) match."""
    out = Matches()
    partner = match_partner(client, fields.vat, fields.vendor)
    if partner is not None:
        out.partner_id, out.partner_name, out.partner_by, out.partner_score = partner
    out.employee_id = match_employee(client, work_email, employee_id)
    out.product_id = match_product(client, [str(line["description"]) for line in fields.lines])
    if out.partner_name and fields.date and fields.total is not None:
        out.duplicate_of = find_duplicate(client, out.partner_name, fields.date, fields.total)
    return out


def countries(
    client: OdooClient, vat: str | None, vendor: str | None, employee_id: int | None
) -> tuple[str | None, str | None]:
    """(the vendor's country, the employee's company's country) as ISO codes, None where
    Odoo does not know: what tells a date like 03/04/2026 apart when the receipt does not."""
    partners: dict[str, int] = {}
    if found := match_partner(client, vat, vendor):
        partners["vendor"] = found[0]
    if employee_id is not None:
        employee = client.execute_kw(
            "hr.employee", "read", [[employee_id]], {"fields": ["company_id"]}
        )
        if employee and employee[0].get("company_id"):
            company = client.execute_kw(
                "res.company", "read", [[employee[0]["company_id"][0]]], {"fields": ["partner_id"]}
            )
            if company and company[0].get("partner_id"):
                partners["company"] = int(company[0]["partner_id"][0])
    if not partners:
        return None, None
    read = client.execute_kw(
        "res.partner", "read", [sorted(set(partners.values()))], {"fields": ["country_id"]}
    )
    country_of = {int(p["id"]): p["country_id"][0] for p in read if p.get("country_id")}
    codes = {}
    if country_of:
        found = client.execute_kw(
            "res.country", "read", [sorted(set(country_of.values()))], {"fields": ["code"]}
        )
        codes = {int(c["id"]): str(c["code"]) for c in found if c.get("code")}

    def code(role: str) -> str | None:
        country = country_of.get(partners.get(role, 0))
        return codes.get(country) if country is not None else None

    return code("vendor"), code("company")


def _currency_id(client: OdooClient, code: str) -> int:
    found = client.execute_kw(
        "res.currency", "search", [[["name", "=", code]]], {"context": {"active_test": False}}
    )
    if not found:
        raise InvalidInputError(f"currency {code!r} is not in Odoo (res.currency)")
    return int(found[0])


def _company_id(client: OdooClient, employee_id: int) -> int:
    found = client.execute_kw("hr.employee", "read", [[employee_id]], {"fields": ["company_id"]})
    if not found or not found[0].get("company_id"):
        raise InvalidInputError(f"employee {employee_id} has no company in Odoo")
    return int(found[0]["company_id"][0])


def _company_currency_id(client: OdooClient, company_id: int) -> int | None:
    found = client.execute_kw("res.company", "read", [[company_id]], {"fields": ["currency_id"]})
    currency = found[0].get("currency_id") if found else None
    return int(currency[0]) if currency else None


def create_expense(client: OdooClient, draft: ExpenseDraft) -> tuple[int, int, bool]:
    """(expense id, attachment id, created): the expense for ``draft`` with its document
    attached; an expense that already carries this file is returned, not made again."""
    existing = find_by_checksum(client, draft.sha1)
    if existing is not None:
        attachment = client.execute_kw(
            "ir.attachment", "search",
            [[["res_model", "=", "hr.expense"], ["checksum", "=", draft.sha1]]], {"limit": 1},
        )  # fmt: skip
        return existing, int(attachment[0]), False
    duplicate = find_duplicate(client, draft.partner_name, draft.date, draft.total)
    if duplicate is not None:
        raise ConflictError(
            f"{draft.filename}: expense {duplicate} already has {draft.partner_name},"
            f" {draft.date.isoformat()}, {draft.total} {draft.currency}"
        )
    # Odoo's API takes money as floats; the Decimal is exact to the cent, and so is the float's
    # decimal repr, which is what Odoo rounds by the currency's precision.
    currency_id = _currency_id(client, draft.currency)
    company_id = _company_id(client, draft.employee_id)
    values: dict[str, Any] = {
        "name": draft.name,
        "date": draft.date.isoformat(),
        "employee_id": draft.employee_id,
        "product_id": draft.product_id,
        "quantity": 1,
        "price_unit": float(draft.total),
        "total_amount_currency": float(draft.total),
        "currency_id": currency_id,
        "company_id": company_id,
        "payment_mode": "own_account",
        "state": "draft",
        "description": f"Vendor: {draft.partner_name}\nDocument: {draft.reference}",
    }
    if currency_id == _company_currency_id(client, company_id):
        # total_amount and tax_amount are in the company's currency (Odoo 17). A receipt in
        # another currency leaves them to Odoo, which converts total_amount_currency at its
        # rate of the expense's date: given the receipt's figure, Odoo took it as the
        # company-currency amount and booked the expense at a rate of 1 (45.60 EUR as 45.60 USD).
        values["total_amount"] = float(draft.total)
        values["tax_amount"] = float(draft.taxes) if draft.taxes is not None else 0.0
    expense_id = client.execute_kw("hr.expense", "create", [values])
    attachment_id = client.execute_kw(
        "ir.attachment",
        "create",
        [
            {
                "name": draft.filename,
                "type": "binary",
                "datas": base64.b64encode(draft.content).decode(),
                "res_model": "hr.expense",
                "res_id": int(expense_id),
                "mimetype": draft.mimetype,
                "checksum": draft.sha1,
                "file_size": len(draft.content),
            }
        ],
    )
    return int(expense_id), int(attachment_id), True
