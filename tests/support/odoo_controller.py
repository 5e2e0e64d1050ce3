"""A controller's own Odoo 17-shaped books for the month-end close, every story written out
by hand (tests/test_close_controller.py): data the generated fixtures of odoo_close.py do
not have.

Company 1 (EUR, calendar year; period lock 2026-01-31): a USD invoice with tax paid at
another rate into a USD bank account with its exchange difference, a credit note reversing
an invoice, an invoice paid in two periods, a payment dated in February reconciled in
March, an entry posted into locked January after the lock, a JPY invoice (rounding 1), a
GBP bill half paid with its partial's exchange difference, a draft and a cancelled
invoice, a cash rounding line, an unreconciled bank statement line. Company 2 (GBP, fiscal
year ending 31 March): an earlier year's result to carry, a USD invoice converted through
EUR rates, no entry in February 2026.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal as D

import psycopg

from tests.support.odoo_close import ACCOUNT_16_17, ACCOUNT_18, COMMON, COMPANY, LOCKS

STAMP = datetime(2026, 4, 30, 18, 0)
CHART = [  # key, code, name, type, reconcile, currency key
    ("recv", "121000", "Receivable", "asset_receivable", True, None),
    ("pay", "211000", "Payable", "liability_payable", True, None),
    ("bank", "101401", "Bank", "asset_cash", False, None),
    ("bank_usd", "101410", "Bank USD", "asset_cash", False, 2),
    ("susp", "101402", "Bank Suspense", "asset_current", False, None),
    ("rcpt", "101403", "Outstanding Receipts", "asset_current", True, None),
    ("pmts", "101404", "Outstanding Payments", "asset_current", True, None),
    ("tax_out", "251000", "Tax Payable", "liability_current", False, None),
    ("tax_in", "131000", "Tax Receivable", "asset_current", False, None),
    ("accrued", "212000", "Accrued Liabilities", "liability_current", False, None),
    ("income", "400000", "Sales", "income", False, None),
    ("rounding", "442000", "Cash Rounding", "income_other", False, None),
    ("fx_gain", "441000", "FX Gain", "income_other", False, None),
    ("fx_loss", "641000", "FX Loss", "expense", False, None),
    ("expense", "600000", "Expenses", "expense", False, None),
    ("equity", "110000", "Capital", "equity", False, None),
    ("earn", "999999", "Undistributed Profits", "equity_unaffected", False, None),
]
GROUP = {
    "asset_receivable": "asset",
    "asset_cash": "asset",
    "asset_current": "asset",
    "liability_payable": "liability",
    "liability_current": "liability",
    "income": "income",
    "income_other": "income",
    "expense": "expense",
    "equity": "equity",
    "equity_unaffected": "equity",
}
EUR, USD, GBP, JPY = 1, 2, 3, 4
RATES = [  # shared rates: units per 1 EUR
    (date(2025, 1, 1), USD, D("1.08")),
    (date(2025, 12, 1), USD, D("1.10")),
    (date(2026, 1, 31), USD, D("1.05")),
    (date(2026, 2, 10), USD, D("1.12")),
    (date(2026, 2, 27), USD, D("1.20")),
    (date(2025, 1, 1), GBP, D("0.85")),
    (date(2026, 2, 1), GBP, D("0.87")),
    (date(2025, 12, 1), JPY, D("160.5")),
    (date(2026, 2, 20), JPY, D("158.0")),
]


class Book:
    def __init__(self, db, company, currency, acc, journals):
        self.db, self.company, self.currency, self.acc, self.j = (
            db,
            company,
            currency,
            acc,
            journals,
        )
        self.n = 0

    def move(
        self, day, journal, kind, lines, partner=None, state="posted", created=None, name=None
    ):
        """lines: (account key, balance, partner, amount_currency or None, currency or None,
        due, display_type)"""
        self.n += 1
        name = name or (
            f"C{self.company}/{journal}/{day:%Y%m}/{self.n:03d}" if state != "draft" else "/"
        )
        total = sum((b for _, b, *_ in lines if b > 0), D(0))
        mid = self.db.execute(
            "INSERT INTO account_move (name, date, state, move_type, journal_id, company_id, "
            "partner_id, currency_id, amount_total, create_date, write_date) VALUES "
            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (
                name,
                day,
                state,
                kind,
                self.j[journal],
                self.company,
                partner,
                self.currency,
                total,
                created or STAMP,
                created or STAMP,
            ),
        ).fetchone()[0]
        ids = []
        for account, bal, line_partner, ac, cur, due, disp in (
            (ln + (None,) * (7 - len(ln))) for ln in lines
        ):
            cur = cur or self.currency
            ac = bal if ac is None else ac
            ids.append(
                self.db.execute(
                    "INSERT INTO account_move_line (move_id, move_name, date, date_maturity, "
                    "parent_state, journal_id, company_id, company_currency_id, account_id, "
                    "partner_id, currency_id, name, display_type, debit, credit, balance, "
                    "amount_currency, amount_residual, amount_residual_currency, reconciled, "
                    "create_date, write_date) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                    "%s,%s,%s,%s,%s,false,%s,%s) RETURNING id",
                    (
                        mid,
                        name,
                        day,
                        due,
                        state,
                        self.j[journal],
                        self.company,
                        self.currency,
                        self.acc[account],
                        line_partner or partner,
                        cur,
                        name,
                        disp or "product",
                        max(bal, D(0)),
                        max(-bal, D(0)),
                        bal,
                        ac,
                        bal if self.acc_reconcilable(account) else 0,
                        ac if self.acc_reconcilable(account) else 0,
                        created or STAMP,
                        created or STAMP,
                    ),
                ).fetchone()[0]
            )
        assert sum(ln[1] for ln in lines) == 0, (name, lines)
        return mid, ids

    def acc_reconcilable(self, key):
        return key in ("recv", "pay", "rcpt", "pmts")

    def reconcile(
        self, debit_line, credit_line, amount, ac_debit=None, ac_credit=None, created=None
    ):
        max_date = self.db.execute(
            "SELECT max(date) FROM account_move_line WHERE id IN (%s, %s)",
            (debit_line, credit_line),
        ).fetchone()[0]
        ac_debit = amount if ac_debit is None else ac_debit
        ac_credit = amount if ac_credit is None else ac_credit
        self.db.execute(
            "INSERT INTO account_partial_reconcile (debit_move_id, credit_move_id, amount, "
            "debit_amount_currency, credit_amount_currency, company_id, max_date, create_date, "
            "write_date) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                debit_line,
                credit_line,
                amount,
                ac_debit,
                ac_credit,
                self.company,
                max_date,
                created or STAMP,
                created or STAMP,
            ),
        )
        for line, sign, ac in ((debit_line, -1, ac_debit), (credit_line, 1, ac_credit)):
            self.db.execute(
                "UPDATE account_move_line SET amount_residual = amount_residual + %s, "
                "amount_residual_currency = amount_residual_currency + %s WHERE id = %s",
                (sign * amount, sign * ac, line),
            )
        self.db.execute(
            "UPDATE account_move_line SET reconciled = (amount_residual = 0 AND "
            "amount_residual_currency = 0) WHERE id IN (%s, %s)",
            (debit_line, credit_line),
        )


def build(url: str, version: str = "17.0") -> None:
    """The books as Odoo ``version`` (16.0, 17.0 or 18.0) stores them. 18 keeps the code in
    code_store (one account per company here) and has sale and purchase lock dates (set
    where 16 and 17 have the period lock date) instead of a period lock date."""
    major = version.split(".")[0]
    with psycopg.connect(url) as db:
        db.execute(COMMON)
        db.execute(COMPANY.format(locks=LOCKS[version]))
        db.execute(ACCOUNT_18 if major == "18" else ACCOUNT_16_17)
        db.execute(
            "INSERT INTO ir_module_module (name, state, latest_version, write_date) "
            "VALUES ('base','installed',%s,%s),('account','installed',%s,%s)",
            (f"{major}.0.1.3", STAMP, f"{major}.0.1.2", STAMP),
        )
        for cid, name, rounding in (
            (EUR, "EUR", "0.01"),
            (USD, "USD", "0.01"),
            (GBP, "GBP", "0.01"),
            (JPY, "JPY", "1"),
        ):
            db.execute(
                "INSERT INTO res_currency (id, name, symbol, rounding, decimal_places, "
                "active, write_date) VALUES (%s,%s,%s,%s,%s,true,%s)",
                (cid, name, name, D(rounding), 0 if name == "JPY" else 2, STAMP),
            )
        for day, cur, rate in RATES:
            db.execute(
                "INSERT INTO res_currency_rate (name, rate, currency_id, company_id, "
                "write_date) VALUES (%s,%s,%s,NULL,%s)",
                (day, rate, cur, STAMP),
            )
        partners = {}
        for key in (
            "Co1",
            "Co2",
            "Alpha GmbH",
            "Beta SARL",
            "Gamma BV",
            "Delta KK",
            "Epsilon SL",
            "Old Client",
            "Supplier One",
            "Supplier Two",
            "Foxtrot Ltd",
            "Golf Inc",
        ):
            partners[key] = db.execute(
                "INSERT INTO res_partner (name, is_company, active, write_date) VALUES "
                "(%s,true,true,%s) RETURNING id",
                (key, STAMP),
            ).fetchone()[0]
        books = {}
        for company, cname, cur, fy_month, locks in (
            (
                1,
                "Controller Calendar SA",
                EUR,
                "12",
                (date(2026, 1, 31), date(2025, 12, 31), date(2026, 1, 31)),
            ),
            (2, "March Year Ltd", GBP, "3", (None, date(2025, 3, 31), None)),
        ):
            acc = {}
            for key, code, name, kind, rec, acur in CHART:
                if major == "18":
                    acc[key] = db.execute(
                        "INSERT INTO account_account (name, code_store, account_type, "
                        "internal_group, reconcile, currency_id, deprecated, write_date) "
                        "VALUES (%s,%s,%s,%s,%s,%s,false,%s) RETURNING id",
                        (
                            json.dumps({"en_US": name}),
                            json.dumps({str(company): code}),
                            kind,
                            GROUP[kind],
                            rec,
                            acur,
                            STAMP,
                        ),
                    ).fetchone()[0]
                    db.execute(
                        "INSERT INTO account_account_res_company_rel VALUES (%s, %s)",
                        (acc[key], company),
                    )
                    continue
                acc[key] = db.execute(
                    "INSERT INTO account_account (name, code, company_id, account_type, "
                    "internal_group, include_initial_balance, reconcile, currency_id, deprecated, "
                    "write_date) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,false,%s) RETURNING id",
                    (
                        json.dumps({"en_US": name}),
                        code,
                        company,
                        kind,
                        GROUP[kind],
                        GROUP[kind] not in ("income", "expense"),
                        rec,
                        acur,
                        STAMP,
                    ),
                ).fetchone()[0]
            lock_columns = "period_lock_date, fiscalyear_lock_date, tax_lock_date"
            if major == "18":
                lock_columns = "sale_lock_date, fiscalyear_lock_date, tax_lock_date"
            db.execute(
                "INSERT INTO res_company (id, name, partner_id, currency_id, active, "
                f"fiscalyear_last_day, fiscalyear_last_month, {lock_columns}, parent_path, "
                "account_journal_suspense_account_id, account_journal_payment_debit_account_id, "
                "account_journal_payment_credit_account_id, write_date) VALUES "
                "(%s,%s,%s,%s,true,31,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    company,
                    cname,
                    partners[f"Co{company}"],
                    cur,
                    fy_month,
                    *locks,
                    f"{company}/",
                    acc["susp"],
                    acc["rcpt"],
                    acc["pmts"],
                    STAMP,
                ),
            )
            if major == "18":
                db.execute("UPDATE res_company SET purchase_lock_date = sale_lock_date")
            journals = {}
            for code, kind, default, susp in (
                ("INV", "sale", "income", None),
                ("BILL", "purchase", "expense", None),
                ("BNK", "bank", "bank", "susp"),
                ("USDB", "bank", "bank_usd", "susp"),
                ("MISC", "general", None, None),
                ("EXCH", "general", None, None),
            ):
                journals[code] = db.execute(
                    "INSERT INTO account_journal (name, code, type, company_id, "
                    "default_account_id, suspense_account_id, active, create_date, write_date) "
                    "VALUES (%s,%s,%s,%s,%s,%s,true,%s,%s) RETURNING id",
                    (
                        json.dumps({"en_US": code}),
                        code,
                        kind,
                        company,
                        acc.get(default),
                        acc.get(susp),
                        STAMP,
                        STAMP,
                    ),
                ).fetchone()[0]
            books[company] = Book(db, company, cur, acc, journals)
        p = partners
        b = books[1]
        # ---- company 1, FY 2025 ----
        b.move(
            date(2025, 12, 1), "MISC", "entry", [("bank", D("100000")), ("equity", D("-100000"))]
        )
        _, old = b.move(
            date(2025, 12, 15),
            "INV",
            "out_invoice",
            [
                ("recv", D("1210.00"), None, None, None, date(2026, 1, 14)),
                ("income", D("-1000.00")),
                ("tax_out", D("-210.00")),
            ],
            p["Old Client"],
        )
        _, bill1 = b.move(
            date(2025, 12, 20),
            "BILL",
            "in_invoice",
            [
                ("pay", D("-605.00"), None, None, None, date(2026, 1, 19)),
                ("expense", D("500.00")),
                ("tax_in", D("105.00")),
            ],
            p["Supplier One"],
        )
        # ---- January 2026 ----
        _, pb1 = b.move(
            date(2026, 1, 10),
            "BNK",
            "entry",
            [("pay", D("605.00")), ("bank", D("-605.00"))],
            p["Supplier One"],
        )
        b.reconcile(pb1[0], bill1[0], D("605.00"))
        _, usd_inv = b.move(
            date(2026, 1, 10),
            "INV",
            "out_invoice",
            [
                ("recv", D("1100.00"), None, D("1210.00"), USD, date(2026, 2, 9)),
                ("income", D("-909.09"), None, D("-1000.00"), USD),
                ("tax_out", D("-190.91"), None, D("-210.00"), USD),
            ],
            p["Alpha GmbH"],
        )
        _, invb = b.move(
            date(2026, 1, 20),
            "INV",
            "out_invoice",
            [
                ("recv", D("500.00"), None, None, None, date(2026, 2, 19)),
                ("income", D("-413.22")),
                ("tax_out", D("-86.78")),
            ],
            p["Beta SARL"],
        )
        _, invc = b.move(
            date(2026, 1, 5),
            "INV",
            "out_invoice",
            [
                ("recv", D("2000.00"), None, None, None, date(2026, 2, 4)),
                ("income", D("-1652.89")),
                ("tax_out", D("-347.11")),
            ],
            p["Gamma BV"],
        )
        _, pc1 = b.move(
            date(2026, 1, 25),
            "BNK",
            "entry",
            [("bank", D("800.00")), ("recv", D("-800.00"))],
            p["Gamma BV"],
        )
        b.reconcile(invc[0], pc1[1], D("800.00"))
        # posted into January after January was locked (created 10 Feb)
        b.move(
            date(2026, 1, 28),
            "MISC",
            "entry",
            [("expense", D("120.00")), ("accrued", D("-120.00"))],
            created=datetime(2026, 2, 10, 9, 0),
        )
        b.move(
            date(2026, 1, 15),
            "INV",
            "out_invoice",
            [
                ("recv", D("76.92"), None, D("12345"), JPY, date(2026, 1, 15)),
                ("income", D("-76.92"), None, D("-12345"), JPY),
            ],
            p["Delta KK"],
        )
        _, gbp_bill = b.move(
            date(2026, 1, 18),
            "BILL",
            "in_invoice",
            [
                ("pay", D("-1000.00"), None, D("-850.00"), GBP, date(2026, 3, 19)),
                ("expense", D("1000.00"), None, D("850.00"), GBP),
            ],
            p["Supplier Two"],
        )
        # ---- February 2026 ----
        _, usd_pay = b.move(
            date(2026, 2, 10),
            "USDB",
            "entry",
            [
                ("bank_usd", D("1080.36"), None, D("1210.00"), USD),
                ("recv", D("-1080.36"), None, D("-1210.00"), USD),
            ],
            p["Alpha GmbH"],
        )
        b.reconcile(usd_inv[0], usd_pay[1], D("1080.36"), D("1210.00"), D("1210.00"))
        _, exch = b.move(
            date(2026, 2, 10),
            "EXCH",
            "entry",
            [("fx_loss", D("19.64"), None, D("0"), USD), ("recv", D("-19.64"), None, D("0"), USD)],
            p["Alpha GmbH"],
        )
        b.reconcile(usd_inv[0], exch[1], D("19.64"), D("0"), D("0"))
        _, credit_note = b.move(
            date(2026, 2, 5),
            "INV",
            "out_refund",
            [
                ("recv", D("-500.00"), None, None, None, date(2026, 2, 5)),
                ("income", D("413.22")),
                ("tax_out", D("86.78")),
            ],
            p["Beta SARL"],
        )
        b.reconcile(invb[0], credit_note[0], D("500.00"))
        _, pc2 = b.move(
            date(2026, 2, 15),
            "BNK",
            "entry",
            [("bank", D("1200.00")), ("recv", D("-1200.00"))],
            p["Gamma BV"],
        )
        b.reconcile(invc[0], pc2[1], D("1200.00"))
        _, inve = b.move(
            date(2026, 2, 10),
            "INV",
            "out_invoice",
            [
                ("recv", D("750.00"), None, None, None, date(2026, 3, 12)),
                ("income", D("-619.83")),
                ("tax_out", D("-130.17")),
            ],
            p["Alpha GmbH"],
        )
        _, pe = b.move(
            date(2026, 2, 27),
            "BNK",
            "entry",
            [("bank", D("750.00")), ("recv", D("-750.00"))],
            p["Alpha GmbH"],
        )
        b.reconcile(inve[0], pe[1], D("750.00"), created=datetime(2026, 3, 5, 10, 0))
        _, invf = b.move(
            date(2026, 2, 15),
            "INV",
            "out_invoice",
            [("recv", D("300.00"), None, None, None, date(2026, 2, 15)), ("income", D("-300.00"))],
            p["Delta KK"],
        )
        b.move(
            date(2026, 2, 20),
            "INV",
            "out_invoice",
            [("recv", D("999.00")), ("income", D("-999.00"))],
            p["Beta SARL"],
            state="draft",
        )
        b.move(
            date(2026, 2, 21),
            "INV",
            "out_invoice",
            [("recv", D("444.00")), ("income", D("-444.00"))],
            p["Beta SARL"],
            state="cancel",
        )
        b.move(
            date(2026, 2, 12),
            "INV",
            "out_invoice",
            [
                ("recv", D("100.00"), None, None, None, date(2026, 3, 14)),
                ("income", D("-82.60")),
                ("tax_out", D("-17.35")),
                ("rounding", D("-0.05"), None, None, None, None, "rounding"),
            ],
            p["Epsilon SL"],
        )
        _, pold = b.move(
            date(2026, 2, 20),
            "BNK",
            "entry",
            [("bank", D("1210.00")), ("recv", D("-1210.00"))],
            p["Old Client"],
        )
        b.reconcile(old[0], pold[1], D("1210.00"))
        _, gpay = b.move(
            date(2026, 2, 15),
            "BNK",
            "entry",
            [
                ("pay", D("488.51"), None, D("425.00"), GBP),
                ("bank", D("-488.51"), None, D("-425.00"), GBP),
            ],
            p["Supplier Two"],
        )
        b.reconcile(gpay[0], gbp_bill[0], D("488.51"), D("425.00"), D("425.00"))
        _, gex = b.move(
            date(2026, 2, 15),
            "EXCH",
            "entry",
            [("pay", D("11.49"), None, D("0"), GBP), ("fx_gain", D("-11.49"), None, D("0"), GBP)],
            p["Supplier Two"],
        )
        b.reconcile(gex[0], gbp_bill[0], D("11.49"), D("0"), D("0"))
        stmt_move, _ = b.move(
            date(2026, 2, 25), "BNK", "entry", [("bank", D("50.00")), ("susp", D("-50.00"))]
        )
        db.execute(
            "INSERT INTO account_bank_statement_line (move_id, payment_ref, amount, "
            "currency_id, is_reconciled, write_date) VALUES (%s,'unknown deposit',50,1,"
            "false,%s)",
            (stmt_move, STAMP),
        )
        # ---- March 2026 ----
        _, pf = b.move(
            date(2026, 3, 3),
            "BNK",
            "entry",
            [("bank", D("300.00")), ("recv", D("-300.00"))],
            p["Delta KK"],
        )
        b.reconcile(invf[0], pf[1], D("300.00"))
        b.move(
            date(2026, 3, 10),
            "INV",
            "out_invoice",
            [("recv", D("400.00"), None, None, None, date(2026, 4, 9)), ("income", D("-400.00"))],
            p["Epsilon SL"],
        )

        # ---- company 2 (GBP, fiscal year ending 31 March) ----
        c = books[2]
        c.move(date(2025, 1, 2), "MISC", "entry", [("bank", D("20000")), ("equity", D("-20000"))])
        _, i0 = c.move(
            date(2025, 2, 10),
            "INV",
            "out_invoice",
            [("recv", D("700.00")), ("income", D("-700.00"))],
            p["Foxtrot Ltd"],
        )
        _, p0 = c.move(
            date(2025, 2, 20),
            "BNK",
            "entry",
            [("bank", D("700.00")), ("recv", D("-700.00"))],
            p["Foxtrot Ltd"],
        )
        c.reconcile(i0[0], p0[1], D("700.00"))
        _, i1 = c.move(
            date(2025, 6, 10),
            "INV",
            "out_invoice",
            [("recv", D("1000.00")), ("income", D("-1000.00"))],
            p["Foxtrot Ltd"],
        )
        _, p1 = c.move(
            date(2025, 7, 1),
            "BNK",
            "entry",
            [("bank", D("1000.00")), ("recv", D("-1000.00"))],
            p["Foxtrot Ltd"],
        )
        c.reconcile(i1[0], p1[1], D("1000.00"))
        c.move(
            date(2025, 9, 15), "MISC", "entry", [("expense", D("300.00")), ("bank", D("-300.00"))]
        )
        # 550 USD at 1.20 USD and 0.87 GBP per EUR: 398.75 GBP
        c.move(
            date(2026, 3, 10),
            "INV",
            "out_invoice",
            [
                ("recv", D("398.75"), None, D("550.00"), USD, date(2026, 4, 9)),
                ("income", D("-398.75"), None, D("-550.00"), USD),
            ],
            p["Golf Inc"],
        )
        c.move(
            date(2026, 4, 5),
            "INV",
            "out_invoice",
            [("recv", D("200.00"), None, None, None, date(2026, 5, 5)), ("income", D("-200.00"))],
            p["Foxtrot Ltd"],
        )
        c.move(date(2026, 4, 20), "MISC", "entry", [("expense", D("80.00")), ("bank", D("-80.00"))])


def month_end(period: str) -> date:
    start = date.fromisoformat(period + "-01")
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def trial_balance(url: str, company: int, period: str, fy_start: date) -> dict[str, list[D]]:
    """Per account code: opening, debit, credit, closing of ``period``, computed in
    PostgreSQL from the posted items: balance-sheet accounts open with everything before
    the month, income and expense with the fiscal year's items, and earlier years' result
    sits in the undistributed profits account."""
    start, end = date.fromisoformat(period + "-01"), month_end(period)
    with psycopg.connect(url) as db:
        found = db.execute(
            """
            WITH l AS (
              SELECT l.*,
                     coalesce(to_jsonb(a) ->> 'code', to_jsonb(a) -> 'code_store' ->> %(key)s)
                       AS code,
                     coalesce((to_jsonb(a) ->> 'include_initial_balance')::boolean,
                              a.internal_group NOT IN ('income', 'expense')) AS bs
              FROM account_move_line l JOIN account_account a ON a.id = l.account_id
              WHERE l.company_id = %(c)s AND l.parent_state = 'posted' AND l.date <= %(end)s)
            SELECT code,
              coalesce(sum(balance) FILTER (WHERE date < %(start)s AND (bs OR date >= %(fy)s)), 0),
              coalesce(sum(debit) FILTER (WHERE date >= %(start)s), 0),
              coalesce(sum(credit) FILTER (WHERE date >= %(start)s), 0),
              coalesce(sum(balance) FILTER (WHERE bs OR date >= %(fy)s), 0)
            FROM l GROUP BY code
            """,
            {"c": company, "key": str(company), "end": end, "start": start, "fy": fy_start},
        ).fetchall()
        carried = db.execute(
            "SELECT coalesce(sum(l.balance), 0) FROM account_move_line l JOIN account_account a "
            "ON a.id = l.account_id WHERE l.company_id = %s AND l.parent_state = 'posted' "
            "AND NOT coalesce((to_jsonb(a) ->> 'include_initial_balance')::boolean, "
            "a.internal_group NOT IN ('income', 'expense')) AND l.date < %s",
            (company, fy_start),
        ).fetchone()[0]
    balances = {code: list(values) for code, *values in found}
    earnings = balances.setdefault("999999", [D(0)] * 4)
    earnings[0] += carried
    earnings[3] += carried
    return balances


def open_items(url: str, company: int, period: str) -> dict[int, D]:
    """Receivable and payable items open at the end of ``period`` (by line id): each
    posted item less the partial reconciliations dated (max_date) by then."""
    with psycopg.connect(url) as db:
        found = db.execute(
            """
            SELECT l.id, l.balance
              + coalesce((SELECT sum(amount) FROM account_partial_reconcile r
                          WHERE r.credit_move_id = l.id AND r.max_date <= %(end)s), 0)
              - coalesce((SELECT sum(amount) FROM account_partial_reconcile r
                          WHERE r.debit_move_id = l.id AND r.max_date <= %(end)s), 0)
            FROM account_move_line l JOIN account_account a ON a.id = l.account_id
            WHERE l.company_id = %(c)s AND l.parent_state = 'posted' AND l.date <= %(end)s
              AND a.account_type IN ('asset_receivable', 'liability_payable')
            """,
            {"c": company, "end": month_end(period)},
        ).fetchall()
    return {line: amount for line, amount in found if amount != 0}
