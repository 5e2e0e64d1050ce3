"""Odoo 16-, 17- and 18-shaped databases for the month-end close, and an independent
computation of open receivables and payables to check the close against.

The tables are those the close reads, with each version's stored columns as its models
declare them (odoo/addons/account/models/*.py, odoo/addons/base/models/res_company.py):

- 16 and 17: ``account_account.code`` (varchar), ``company_id`` and a stored
  ``include_initial_balance``; ``res_company.period_lock_date``, ``fiscalyear_lock_date``
  and ``tax_lock_date``.
- 18: ``account_account.code_store`` (company-dependent jsonb, ``{"<company id>": code}``),
  the many2many ``company_ids`` in ``account_account_res_company_rel``, no stored
  ``include_initial_balance`` (computed from ``internal_group``); ``res_company`` adds
  ``hard_lock_date``, ``sale_lock_date`` and ``purchase_lock_date`` and drops
  ``period_lock_date``.

The data: two companies, one on the calendar year (EUR) and one whose fiscal year ends on
31 March (USD), with invoices, bills, payments reconciled later (some partly), draft
entries, a foreign-currency (GBP) invoice a month and GBP rates (``RATES``),
unreconciled bank lines, from January 2025 to November 2026. Small: a few hundred
journal items.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

VERSIONS = ("16.0", "17.0", "18.0")
FIRST = date(2025, 1, 1)
LAST = date(2026, 11, 30)
CENT = Decimal("0.01")
JOURNALS_AT = datetime(2026, 12, 1, 8, 0)  # when the journals were made, as Odoo stamps rows

COMMON = """
CREATE TABLE ir_module_module (
  id serial PRIMARY KEY, name varchar NOT NULL, state varchar, latest_version varchar,
  create_date timestamp, write_date timestamp);
CREATE TABLE res_currency (
  id serial PRIMARY KEY, name varchar NOT NULL, symbol varchar, rounding numeric,
  decimal_places int, active boolean, create_date timestamp, write_date timestamp);
CREATE TABLE res_currency_rate (
  id serial PRIMARY KEY, name date NOT NULL, rate numeric, currency_id int NOT NULL,
  company_id int, create_date timestamp, write_date timestamp);
CREATE TABLE res_partner (
  id serial PRIMARY KEY, name varchar, ref varchar, company_id int, is_company boolean,
  active boolean, vat varchar, create_date timestamp, write_date timestamp);
CREATE TABLE account_journal (
  id serial PRIMARY KEY, name jsonb NOT NULL, code varchar NOT NULL, type varchar NOT NULL,
  company_id int NOT NULL, default_account_id int, suspense_account_id int, currency_id int,
  active boolean, create_date timestamp, write_date timestamp);
CREATE TABLE account_move (
  id serial PRIMARY KEY, name varchar, ref varchar, date date NOT NULL, state varchar NOT NULL,
  move_type varchar NOT NULL, journal_id int NOT NULL, company_id int, partner_id int,
  currency_id int NOT NULL, amount_total numeric, create_date timestamp,
  write_date timestamp);
CREATE TABLE account_move_line (
  id serial PRIMARY KEY, move_id int NOT NULL, move_name varchar, date date,
  date_maturity date, parent_state varchar, journal_id int, company_id int, company_currency_id int,
  account_id int, partner_id int, currency_id int NOT NULL, name varchar,
  display_type varchar, debit numeric, credit numeric, balance numeric,
  amount_currency numeric, amount_residual numeric, amount_residual_currency numeric,
  reconciled boolean, full_reconcile_id int, create_date timestamp, write_date timestamp);
CREATE TABLE account_partial_reconcile (
  id serial PRIMARY KEY, debit_move_id int NOT NULL, credit_move_id int NOT NULL,
  full_reconcile_id int, exchange_move_id int, debit_currency_id int, credit_currency_id int,
  amount numeric, debit_amount_currency numeric, credit_amount_currency numeric,
  company_id int, max_date date, create_date timestamp, write_date timestamp);
CREATE TABLE account_bank_statement_line (
  id serial PRIMARY KEY, move_id int NOT NULL, statement_id int, sequence int,
  payment_ref varchar, partner_id int, currency_id int, foreign_currency_id int,
  amount numeric, amount_currency numeric, amount_residual double precision,
  is_reconciled boolean, internal_index varchar, create_date timestamp, write_date timestamp);
"""

COMPANY = """
CREATE TABLE res_company (
  id serial PRIMARY KEY, name varchar NOT NULL, partner_id int NOT NULL, currency_id int NOT NULL,
  active boolean, fiscalyear_last_day int NOT NULL, fiscalyear_last_month varchar NOT NULL,
  {locks}, account_journal_suspense_account_id int,
  account_journal_payment_debit_account_id int, account_journal_payment_credit_account_id int,
  create_date timestamp, write_date timestamp);
"""
LOCKS = {  # and, from 17, branches (parent_id, parent_path)
    "16.0": "period_lock_date date, fiscalyear_lock_date date, tax_lock_date date",
    "17.0": "period_lock_date date, fiscalyear_lock_date date, tax_lock_date date, "
    "parent_id int, parent_path varchar",
    "18.0": "fiscalyear_lock_date date, tax_lock_date date, sale_lock_date date, "
    "purchase_lock_date date, hard_lock_date date, parent_id int, parent_path varchar",
}
ACCOUNT_16_17 = """
CREATE TABLE account_account (
  id serial PRIMARY KEY, name jsonb NOT NULL, code varchar(64) NOT NULL, company_id int NOT NULL,
  account_type varchar NOT NULL, internal_group varchar, include_initial_balance boolean,
  reconcile boolean, currency_id int, deprecated boolean, create_date timestamp,
  write_date timestamp);
"""
ACCOUNT_18 = """
CREATE TABLE account_account (
  id serial PRIMARY KEY, name jsonb NOT NULL, code_store jsonb, account_type varchar NOT NULL,
  internal_group varchar, reconcile boolean, currency_id int, deprecated boolean,
  create_date timestamp, write_date timestamp);
CREATE TABLE account_account_res_company_rel (
  account_account_id int NOT NULL, res_company_id int NOT NULL,
  PRIMARY KEY (account_account_id, res_company_id));
"""

# (key, code, name, account_type, reconcile)
CHART = [
    ("receivable", "121000", "Account Receivable", "asset_receivable", True),
    ("payable", "211000", "Account Payable", "liability_payable", True),
    ("bank", "101401", "Bank", "asset_cash", False),
    ("suspense", "101402", "Bank Suspense Account", "asset_current", False),
    ("receipts", "101403", "Outstanding Receipts", "asset_current", True),
    ("payments", "101404", "Outstanding Payments", "asset_current", True),
    ("income", "400000", "Product Sales", "income", False),
    ("expense", "600000", "Expenses", "expense", False),
    ("equity", "110000", "Capital", "equity", False),
    ("earnings", "999999", "Undistributed Profits/Losses", "equity_unaffected", False),
]
GROUP = {
    "asset_receivable": "asset",
    "asset_cash": "asset",
    "asset_current": "asset",
    "liability_payable": "liability",
    "income": "income",
    "expense": "expense",
    "equity": "equity",
    "equity_unaffected": "equity",
}
# company id -> (name, currency id, fiscal year's last day, last month)
COMPANIES = {1: ("Calendar Year SA", 1, 31, "12"), 2: ("April Year Inc", 2, 31, "3")}

# Odoo's rates (res_currency_rate): units of the currency per 1 company currency, for one
# company or (company_id NULL) for all: (date, currency id, company id, rate). Company 2's
# own GBP and USD rates come before the shared ones, whatever their dates.
RATES = [
    (date(2025, 1, 1), 3, None, Decimal("0.85")),
    (date(2026, 1, 20), 3, None, Decimal("0.86")),
    (date(2026, 2, 1), 3, None, Decimal("0.9")),
    (date(2026, 11, 15), 3, None, Decimal("0.85")),
    (date(2025, 1, 1), 2, None, Decimal("1.08")),
    (date(2025, 1, 1), 3, 2, Decimal("0.8")),
    (date(2026, 4, 10), 3, 2, Decimal("0.825")),
    (date(2026, 5, 1), 3, 2, Decimal("0.7")),
    (date(2025, 1, 1), 2, 2, Decimal("1.0")),
]


def build_close_source(url: str, version: str, seed: int = 17, last: date = LAST) -> None:
    """Create the close's tables in the (empty) database at ``url`` as Odoo ``version``
    stores them, and fill them with entries from January 2025 to ``last``."""
    if version not in VERSIONS:
        raise ValueError(f"no Odoo {version} shape (known: {', '.join(VERSIONS)})")
    rng = random.Random(seed)
    with psycopg.connect(url, autocommit=False) as db:
        db.execute(COMMON)
        db.execute(COMPANY.format(locks=LOCKS[version]))
        db.execute(ACCOUNT_18 if version == "18.0" else ACCOUNT_16_17)
        _fill(db, version, rng, last)
        db.commit()


def _fill(db: psycopg.Connection, version: str, rng: random.Random, last: date) -> None:
    stamp = datetime(2026, 12, 1, 8, 0)
    db.execute(
        "INSERT INTO ir_module_module (name, state, latest_version, write_date) VALUES "
        "('base', 'installed', %s, %s), ('account', 'installed', %s, %s)",
        (f"{version}.1.3", stamp, f"{version}.1.2", stamp),
    )
    db.execute(
        "INSERT INTO res_currency (id, name, symbol, rounding, decimal_places, active, "
        "write_date) VALUES (1, 'EUR', '€', 0.01, 2, true, %s), (2, 'USD', '$', 0.01, 2, "
        "true, %s), (3, 'GBP', '£', 0.01, 2, true, %s)",
        (stamp, stamp, stamp),
    )
    db.cursor().executemany(
        "INSERT INTO res_currency_rate (name, rate, currency_id, company_id, write_date) "
        "VALUES (%s, %s, %s, %s, %s)",
        [(day, rate, currency, company, stamp) for day, currency, company, rate in RATES],
    )
    partners = {}
    for company in COMPANIES:
        name = COMPANIES[company][0]
        partners[company] = db.execute(
            "INSERT INTO res_partner (name, is_company, active, write_date) "
            "VALUES (%s, true, true, %s) RETURNING id",
            (name, stamp),
        ).fetchone()[0]
    customers = [
        db.execute(
            "INSERT INTO res_partner (name, is_company, active, write_date) VALUES "
            "(%s, true, true, %s) RETURNING id",
            (f"Partner {i}", stamp),
        ).fetchone()[0]
        for i in range(6)
    ]
    accounts: dict[int, dict[str, int]] = {1: {}, 2: {}}
    if version == "18.0":
        for key, code, name, kind, reconcile in CHART:
            # One account for both companies, a code for each (the second's differs).
            codes = {"1": code, "2": str(int(code) + 1)}
            account = db.execute(
                "INSERT INTO account_account (name, code_store, account_type, internal_group, "
                "reconcile, deprecated, write_date) VALUES (%s, %s, %s, %s, %s, false, %s) "
                "RETURNING id",
                (
                    json.dumps({"en_US": name}),
                    json.dumps(codes),
                    kind,
                    GROUP[kind],
                    reconcile,
                    stamp,
                ),
            ).fetchone()[0]
            for company in COMPANIES:
                accounts[company][key] = account
                db.execute(
                    "INSERT INTO account_account_res_company_rel VALUES (%s, %s)",
                    (account, company),
                )
    else:
        for company in COMPANIES:
            for key, code, name, kind, reconcile in CHART:
                code_of = code if company == 1 else str(int(code) + 1)
                accounts[company][key] = db.execute(
                    "INSERT INTO account_account (name, code, company_id, account_type, "
                    "internal_group, include_initial_balance, reconcile, deprecated, "
                    "write_date) VALUES (%s, %s, %s, %s, %s, %s, %s, false, %s) RETURNING id",
                    (
                        json.dumps({"en_US": name}),
                        code_of,
                        company,
                        kind,
                        GROUP[kind],
                        GROUP[kind] not in ("income", "expense"),
                        reconcile,
                        stamp,
                    ),
                ).fetchone()[0]
    locks = {
        "16.0": ("period_lock_date", "fiscalyear_lock_date", "tax_lock_date"),
        "17.0": ("period_lock_date", "fiscalyear_lock_date", "tax_lock_date"),
        "18.0": (
            "fiscalyear_lock_date",
            "tax_lock_date",
            "sale_lock_date",
            "purchase_lock_date",
            "hard_lock_date",
        ),
    }[version]
    for company, (name, currency, day, month) in COMPANIES.items():
        acc = accounts[company]
        lock_values = [date(2025, 12, 31) if company == 1 else date(2026, 3, 31)] * len(locks)
        db.execute(
            f"INSERT INTO res_company (id, name, partner_id, currency_id, active, "
            f"fiscalyear_last_day, fiscalyear_last_month, {', '.join(locks)}, "
            "account_journal_suspense_account_id, account_journal_payment_debit_account_id, "
            "account_journal_payment_credit_account_id, write_date) VALUES "
            f"(%s, %s, %s, %s, true, %s, %s, {', '.join(['%s'] * len(locks))}, %s, %s, %s, %s)",
            (
                company,
                name,
                partners[company],
                currency,
                day,
                month,
                *lock_values,
                acc["suspense"],
                acc["receipts"],
                acc["payments"],
                stamp,
            ),
        )
    if version != "16.0":
        db.execute("UPDATE res_company SET parent_path = id || '/'")
    for company in COMPANIES:
        _company_entries(db, rng, company, accounts[company], customers, stamp, last)


def _journal(db, company: int, code: str, kind: str, account: int | None, suspense=None) -> int:
    return db.execute(
        "INSERT INTO account_journal (name, code, type, company_id, default_account_id, "
        "suspense_account_id, active, create_date, write_date) "
        "VALUES (%s, %s, %s, %s, %s, %s, true, %s, %s) RETURNING id",
        (
            json.dumps({"en_US": code}),
            code,
            kind,
            company,
            account,
            suspense,
            JOURNALS_AT,
            JOURNALS_AT,
        ),
    ).fetchone()[0]


def _company_entries(
    db, rng, company: int, acc: dict[str, int], customers, stamp, last: date
) -> None:
    currency = COMPANIES[company][1]
    sale = _journal(db, company, "INV", "sale", acc["income"])
    purchase = _journal(db, company, "BILL", "purchase", acc["expense"])
    bank = _journal(db, company, "BNK1", "bank", acc["bank"], acc["suspense"])
    misc = _journal(db, company, "MISC", "general", None)
    counter = {"n": 0}

    def move(day, journal, kind, lines, state="posted", partner=None, foreign=None, due=None):
        # due: the receivable/payable lines' date_maturity (NULL otherwise, as on Odoo's
        # payment lines here: the close then ages them by their date)
        counter["n"] += 1
        name = f"C{company}/{day:%Y}/{counter['n']:05d}" if state == "posted" else "/"
        total = sum((d for _, d, _, _ in lines), Decimal(0))
        move_id = db.execute(
            "INSERT INTO account_move (name, date, state, move_type, journal_id, company_id, "
            "partner_id, currency_id, amount_total, write_date) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (name, day, state, kind, journal, company, partner, currency, total, stamp),
        ).fetchone()[0]
        ids = []
        for account, debit, credit, line_partner in lines:
            balance = debit - credit
            cur, amount_currency = currency, balance
            if foreign is not None:
                cur, rate = foreign
                amount_currency = (balance * rate).quantize(CENT)
            ids.append(
                db.execute(
                    "INSERT INTO account_move_line (move_id, move_name, date, date_maturity, "
                    "parent_state, journal_id, company_id, company_currency_id, account_id, "
                    "partner_id, currency_id, name, display_type, debit, credit, balance, "
                    "amount_currency, amount_residual, amount_residual_currency, reconciled, "
                    "write_date) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    "'product', %s, %s, %s, %s, %s, %s, false, %s) RETURNING id",
                    (
                        move_id,
                        name,
                        day,
                        due if account in (acc["receivable"], acc["payable"]) else None,
                        state,
                        journal,
                        company,
                        currency,
                        account,
                        line_partner or partner,
                        cur,
                        name,
                        debit,
                        credit,
                        balance,
                        amount_currency,
                        balance,
                        amount_currency,
                        stamp,
                    ),
                ).fetchone()[0]
            )
        return move_id, ids

    def reconcile(debit_line: int, credit_line: int, amount: Decimal, when: date) -> None:
        max_date = db.execute(
            "SELECT max(date) FROM account_move_line WHERE id IN (%s, %s)",
            (debit_line, credit_line),
        ).fetchone()[0]
        db.execute(
            "INSERT INTO account_partial_reconcile (debit_move_id, credit_move_id, amount, "
            "debit_amount_currency, credit_amount_currency, company_id, max_date, "
            "create_date, write_date) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (debit_line, credit_line, amount, amount, amount, company, max_date, when, stamp),
        )
        for line, sign in ((debit_line, -1), (credit_line, 1)):
            db.execute(
                "UPDATE account_move_line SET amount_residual = amount_residual + %s, "
                "amount_residual_currency = amount_residual_currency + %s, "
                "reconciled = (amount_residual + %s = 0) WHERE id = %s",
                (sign * amount, sign * amount, sign * amount, line),
            )

    def money(low: int, high: int) -> Decimal:
        return Decimal(rng.randint(low * 100, high * 100)) / 100

    # Payment terms of invoices and bills (due date = date + days; None leaves date_maturity
    # NULL), drawn from their own generator so the entries themselves stay as they were.
    terms = random.Random(1000 + company)

    def due(day: date) -> date | None:
        days = terms.choice((None, 0, 15, 30, 45, 60))
        return None if days is None else day + timedelta(days=days)

    capital = Decimal("50000.00")
    move(FIRST, misc, "entry", [(acc["bank"], capital, 0, None), (acc["equity"], 0, capital, None)])
    month = FIRST
    while month <= last:
        for partner in customers:
            day = month + timedelta(days=rng.randint(0, 25))
            amount = money(100, 4000)
            _, (receivable, _) = move(
                day,
                sale,
                "out_invoice",
                [(acc["receivable"], amount, 0, partner), (acc["income"], 0, amount, partner)],
                partner=partner,
                due=due(day),
            )
            paid = rng.random()
            if paid < 0.8:  # paid 0-70 days later (some after the month's end), some in part
                pay_day = min(day + timedelta(days=rng.randint(0, 70)), last)
                part = amount if paid < 0.6 else (amount / 2).quantize(CENT)
                _, (_, credit) = move(
                    pay_day,
                    bank,
                    "entry",
                    [(acc["bank"], part, 0, partner), (acc["receivable"], 0, part, partner)],
                    partner=partner,
                )
                reconcile(receivable, credit, part, pay_day)
            cost = money(50, 2500)
            _, (_, payable) = move(
                day,
                purchase,
                "in_invoice",
                [(acc["expense"], cost, 0, partner), (acc["payable"], 0, cost, partner)],
                partner=partner,
                due=due(day),
            )
            if rng.random() < 0.7:
                pay_day = min(day + timedelta(days=rng.randint(5, 50)), last)
                _, (debit, _) = move(
                    pay_day,
                    bank,
                    "entry",
                    [(acc["payable"], cost, 0, partner), (acc["bank"], 0, cost, partner)],
                    partner=partner,
                )
                reconcile(debit, payable, cost, pay_day)
        # A draft invoice, a foreign-currency invoice and an unreconciled bank line.
        day = min(month + timedelta(days=rng.randint(0, 25)), last)
        draft = money(10, 99)
        move(
            day,
            sale,
            "out_invoice",
            [(acc["receivable"], draft, 0, customers[0]), (acc["income"], 0, draft, None)],
            state="draft",
            partner=customers[0],
        )
        usd = money(100, 900)
        move(
            day,
            sale,
            "out_invoice",
            [(acc["receivable"], usd, 0, customers[1]), (acc["income"], 0, usd, None)],
            partner=customers[1],
            foreign=(3, Decimal("0.85")),
        )
        received = money(5, 60)
        bank_move, _ = move(
            day,
            bank,
            "entry",
            [(acc["bank"], received, 0, None), (acc["suspense"], 0, received, None)],
        )
        db.execute(
            "INSERT INTO account_bank_statement_line (move_id, payment_ref, currency_id, amount, "
            "amount_residual, is_reconciled, write_date) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (bank_move, f"transfer {day}", currency, received, float(received), False, stamp),
        )
        month = (month + timedelta(days=32)).replace(day=1)


def open_items_at(url: str, company: int, account_type: str, end: date) -> dict[Any, Decimal]:
    """Open amount per partner of ``account_type`` accounts at ``end``: each posted item's
    balance less what partial reconciliations dated (max_date) by ``end`` matched."""
    accounts = "account_account"
    with psycopg.connect(url) as db:
        rows = db.execute(
            f"""
            SELECT l.partner_id,
                   sum(l.balance
                       - coalesce((SELECT sum(p.amount) FROM account_partial_reconcile p
                                   WHERE p.debit_move_id = l.id AND p.max_date <= %(end)s), 0)
                       + coalesce((SELECT sum(p.amount) FROM account_partial_reconcile p
                                   WHERE p.credit_move_id = l.id AND p.max_date <= %(end)s), 0))
            FROM account_move_line l JOIN {accounts} a ON a.id = l.account_id
            WHERE l.company_id = %(company)s AND l.parent_state = 'posted'
              AND l.date <= %(end)s AND a.account_type = %(kind)s
            GROUP BY l.partner_id
            """,
            {"end": end, "company": company, "kind": account_type},
        ).fetchall()
    return {partner: total for partner, total in rows if total != 0}


BUCKETS = ("not_due", "days_1_30", "days_31_60", "days_61_90", "over_90")


def ageing_at(url: str, company: int, end: date) -> dict[tuple[str, Any], dict[str, Decimal]]:
    """AR/AP ageing at ``end``, in Python: each posted receivable/payable item's open amount
    (its balance less the partial reconciles dated (max_date) by ``end``, read as rows and
    summed here in Decimal) into a bucket by days past its due date (``date_maturity``, else
    its date) at ``end``; per (account type, partner) the buckets and their total."""
    with psycopg.connect(url) as db:
        items = db.execute(
            "SELECT l.id, a.account_type, l.partner_id, l.balance, l.date, l.date_maturity "
            "FROM account_move_line l JOIN account_account a ON a.id = l.account_id "
            "WHERE l.company_id = %s AND l.parent_state = 'posted' AND l.date <= %s "
            "AND a.account_type IN ('asset_receivable', 'liability_payable')",
            (company, end),
        ).fetchall()
        partials = db.execute(
            "SELECT debit_move_id, credit_move_id, amount, max_date FROM account_partial_reconcile"
        ).fetchall()
    matched: dict[int, Decimal] = {}
    for debit_line, credit_line, amount, max_date in partials:
        if max_date <= end:
            matched[debit_line] = matched.get(debit_line, Decimal(0)) - amount
            matched[credit_line] = matched.get(credit_line, Decimal(0)) + amount
    ageing: dict[tuple[str, Any], dict[str, Decimal]] = {}
    for line, kind, partner, balance, day, maturity in items:
        open_amount = balance + matched.get(line, Decimal(0))
        if open_amount == 0:
            continue
        late = (end - (maturity or day)).days
        bucket = BUCKETS[
            0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
        ]
        row = ageing.setdefault((kind, partner), dict.fromkeys((*BUCKETS, "total"), Decimal(0)))
        row[bucket] += open_amount
        row["total"] += open_amount
    return ageing


def ledger_balances(url: str, company: int, end: date, since: date | None = None) -> dict:
    """Posted balance per account id of ``company`` from ``since`` (or the start) to ``end``."""
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT account_id, sum(balance) FROM account_move_line WHERE company_id = %s "
            "AND parent_state = 'posted' AND date <= %s AND date >= %s GROUP BY account_id",
            (company, end, since or date(1900, 1, 1)),
        ).fetchall()
    return dict(rows)


def register_company_model(url: str, version: str) -> None:
    """``ir_model`` rows for ``res.company`` as ``version`` declares its lock dates, so the
    Odoo stand-in (tests/support/odoo_server.py) serves the close's database over RPC."""
    columns = [column.split()[0] for column in LOCKS[version].split(", ")]
    locks = [name for name in columns if name.endswith("_lock_date")]
    fields = [
        ("name", "char", "Company Name", True),
        ("currency_id", "many2one", "Currency", True),
        ("fiscalyear_last_day", "integer", "Fiscalyear Last Day", True),
        *[(name, "date", name.replace("_", " ").title(), False) for name in locks],
    ]
    with psycopg.connect(url, autocommit=False) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS ir_model (id serial PRIMARY KEY, model varchar NOT NULL,"
            ' name jsonb, "order" varchar);'
            "CREATE TABLE IF NOT EXISTS ir_model_fields (id serial PRIMARY KEY, model varchar,"
            " name varchar, ttype varchar, field_description jsonb, help jsonb, relation varchar,"
            " required boolean, readonly boolean, store boolean, translate boolean);"
            "CREATE TABLE IF NOT EXISTS ir_model_fields_selection (id serial PRIMARY KEY,"
            " field_id int, value varchar, name jsonb, sequence int)"
        )
        db.execute(
            'INSERT INTO ir_model (model, name, "order") VALUES '
            "('res.company', '{\"en_US\": \"Companies\"}', 'sequence, name'), "
            "('res.currency', '{\"en_US\": \"Currency\"}', 'name')"
        )
        for name, ttype, label, required in fields:
            db.execute(
                "INSERT INTO ir_model_fields (model, name, ttype, field_description, relation, "
                "required, readonly, store, translate) VALUES ('res.company', %s, %s, %s, %s, "
                "%s, false, true, false)",
                (
                    name,
                    ttype,
                    json.dumps({"en_US": label}),
                    "res.currency" if ttype == "many2one" else None,
                    required,
                ),
            )
        db.execute(
            "INSERT INTO ir_model_fields (model, name, ttype, field_description, required, "
            "readonly, store, translate) VALUES ('res.currency', 'name', 'char', "
            '\'{"en_US": "Currency"}\', true, false, true, false)'
        )
        db.commit()
