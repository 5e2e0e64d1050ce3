"""Master data of the demo company: currencies, countries, the company, its chart of
accounts, journals, taxes and products, and the :class:`Master` holder they live in.

Rows are kept as dicts until the end because posting journal entries still updates some
of them (partner ranks and write dates), as Odoo does when an invoice is posted.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import cast

from .odoo_reference import (
    ACCOUNTS,
    COUNTRIES,
    CURRENCIES,
    JOURNALS,
    PRODUCTS,
)

COMPANY_ID = 1
USD = 1
US_COUNTRY_ID = 1  # COUNTRIES lists the United States first
SALE_TAX, PURCHASE_TAX = 1, 2
TAX_RATE_PERCENT = 15  # the generic chart's default sale and purchase tax


def cents(amount: int) -> Decimal:
    """Integer cents as an exact two-place Decimal (NUMERIC(16,2))."""
    return Decimal(amount).scaleb(-2)


def trans(text: str) -> str:
    """Odoo 16+ translatable value (stored as jsonb) holding English only."""
    return json.dumps({"en_US": text}, ensure_ascii=False, sort_keys=True)


@dataclass
class Master:
    """Master data rows plus the lookups the ledger needs."""

    rng: random.Random
    start: date
    end: date
    rows: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    account: dict[str, int] = field(default_factory=dict)  # code -> id
    reconcilable: set[int] = field(default_factory=set)  # account ids matched by payments
    journal: dict[str, int] = field(default_factory=dict)  # code -> id
    customers: list[int] = field(default_factory=list)
    customer_weight: list[int] = field(default_factory=list)
    payment_days: dict[int, int] = field(default_factory=dict)  # partner -> term in days
    vendors: list[int] = field(default_factory=list)
    vendor_products: dict[int, list[int]] = field(default_factory=dict)
    # (vendor, label, account code, amount in cents, taxed) billed every month
    recurring: list[tuple[int, str, str, int, bool]] = field(default_factory=list)
    # product id -> (name, unit price in cents, account code, product type)
    products: dict[int, tuple[str, int, str, str]] = field(default_factory=dict)
    sale_products: list[int] = field(default_factory=list)
    purchase_products: list[int] = field(default_factory=list)
    expense_products: dict[str, int] = field(default_factory=dict)  # default code -> id
    salary: dict[int, int] = field(default_factory=dict)  # employee id -> cents per month
    xmlids: list[tuple[str, str, str, int]] = field(default_factory=list)

    def add(self, table: str, **values: object) -> dict[str, object]:
        """Append a row with the next id and return it (it may still be updated)."""
        rows = self.rows.setdefault(table, [])
        row: dict[str, object] = {"id": len(rows) + 1, **values}
        rows.append(row)
        return row

    def partner(self, partner_id: int) -> dict[str, object]:
        """The res_partner row with this id."""
        return self.rows["res_partner"][partner_id - 1]

    def stamp(self, day: date) -> datetime:
        """A timestamp during working hours on ``day``."""
        return datetime.combine(day, time(8)) + timedelta(minutes=self.rng.randrange(600))

    def audit(self, low: int, high: int) -> dict[str, object]:
        """create/write stamps between ``low`` and ``high`` days before the demo period."""
        created = self.stamp(self.start - timedelta(days=self.rng.randint(low, high)))
        return {"create_date": created, "write_date": created}


def row_id(row: dict[str, object]) -> int:
    """The id of a row built by :meth:`Master.add`."""
    return cast(int, row["id"])


def _ean13(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(12)]
    check = -sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10
    return "".join(map(str, digits)) + str(check)


def add_currencies_and_countries(m: Master) -> None:
    for name, full, symbol, position, unit, subunit, active in CURRENCIES:
        row = m.add(
            "res_currency",
            name=name,
            full_name=full,
            symbol=symbol,
            rounding=Decimal("0.010000"),
            decimal_places=2,
            active=active,
            position=position,
            currency_unit_label=trans(unit),
            currency_subunit_label=trans(subunit),
            **m.audit(1000, 1100),
        )
        m.xmlids.append(("base", "res.currency", name, row_id(row)))
    currency = {r["name"]: r["id"] for r in m.rows["res_currency"]}
    for code, (name, phone, cur, vat_label, *_rest) in COUNTRIES.items():
        row = m.add(
            "res_country",
            name=trans(name),
            code=code,
            currency_id=currency[cur],
            phone_code=phone,
            vat_label=trans(vat_label) if vat_label else None,
            zip_required=True,
            state_required=code in ("US", "CA", "MX"),
            **m.audit(1000, 1100),
        )
        m.xmlids.append(("base", "res.country", code.lower(), row_id(row)))


def add_accounting(m: Master) -> None:
    audit = m.audit(900, 900)
    company = m.add(
        "res_company",
        name="Blue Heron Trading Co.",
        partner_id=1,
        currency_id=USD,
        sequence=10,
        email="info@blueheron.example.com",
        phone="+1 512-555-0100",
        vat="12-3456789",
        active=True,
        account_fiscal_country_id=1,
        # A calendar fiscal year; the years before the data's first are locked.
        fiscalyear_last_day=31,
        fiscalyear_last_month="12",
        fiscalyear_lock_date=date(m.start.year - 1, 12, 31),
        **audit,
    )
    m.xmlids.append(("base", "res.company", "main_company", COMPANY_ID))
    for line in ACCOUNTS.strip().splitlines():
        code, kind, name = line.split(" ", 2)
        account_type = kind.rstrip("*")
        group = "off_balance" if account_type == "off_balance" else account_type.split("_")[0]
        row = m.add(
            "account_account",
            name=trans(name),
            code=code,
            account_type=account_type,
            internal_group=group,
            reconcile=kind.endswith("*"),
            deprecated=False,
            non_trade=False,
            include_initial_balance=group in ("asset", "liability", "equity")
            and account_type != "equity_unaffected",
            company_id=COMPANY_ID,
            **audit,
        )
        m.account[code] = row_id(row)
        if kind.endswith("*"):
            m.reconcilable.add(m.account[code])
    company["account_journal_suspense_account_id"] = m.account["101402"]
    company["account_journal_payment_debit_account_id"] = m.account["101403"]
    company["account_journal_payment_credit_account_id"] = m.account["101404"]
    for code, name, jtype, default, suspense, refund_seq, payment_seq in JOURNALS:
        row = m.add(
            "account_journal",
            name=trans(name),
            code=code,
            type=jtype,
            active=True,
            sequence=10 + len(m.journal),
            default_account_id=m.account.get(default or ""),
            suspense_account_id=m.account.get(suspense or ""),
            company_id=COMPANY_ID,
            refund_sequence=refund_seq,
            payment_sequence=payment_seq,
            **audit,
        )
        m.journal[code] = row_id(row)
    for use, name in (("sale", "15%"), ("purchase", "15%"), ("sale", "0% Exempt")):
        rate = Decimal(TAX_RATE_PERCENT if name == "15%" else 0).quantize(Decimal("0.0001"))
        m.add(
            "account_tax",
            name=trans(name),
            type_tax_use=use,
            amount_type="percent",
            amount=rate,
            description=trans(name),
            price_include=False,
            active=True,
            sequence=1,
            company_id=COMPANY_ID,
            **audit,
        )


def add_products(m: Master) -> None:
    for line in PRODUCTS.strip().splitlines():
        code, kind, ptype, price, account, name = line.split(" ", 5)
        audit = m.audit(300, 800)
        row = m.add(
            "product_template",
            name=trans(name),
            sequence=1,
            type=ptype,
            default_code=code,
            list_price=Decimal(price) if kind == "s" else Decimal("0.00"),
            sale_ok=kind == "s",
            purchase_ok=kind != "s",
            can_be_expensed=kind == "e",
            active=True,
            **audit,
        )
        pid = row_id(row)
        barcode = _ean13(m.rng) if ptype == "consu" else None
        m.add(
            "product_product",
            product_tmpl_id=pid,
            default_code=code,
            barcode=barcode,
            active=True,
            **audit,
        )
        m.products[pid] = (name, int(Decimal(price) * 100), account, ptype)
        if kind == "s":
            m.sale_products.append(pid)
        elif kind == "p":
            m.purchase_products.append(pid)
        else:
            m.expense_products[code] = pid
