"""Deterministic generation of the whole Odoo-shaped demo dataset, in memory.

Everything is drawn from one ``random.Random(seed)`` in a fixed order, and every timestamp
is derived from the data's own dates (never from the clock), so the same seed, months and
end date always give identical rows -- :meth:`OdooDemoDataset.fingerprint` proves it.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import cast

from .odoo_expenses import expense_reports
from .odoo_ledger import (
    Ledger,
    customer_invoices,
    month_end,
    month_end_entries,
    opening_and_adjustments,
    vendor_bills,
)
from .odoo_master import Master, add_accounting, add_currencies_and_countries, add_products
from .odoo_moves import move_rows
from .odoo_partners import add_employees, add_partners
from .odoo_schema import TABLES, metadata_rows, to_row

DEFAULT_END_DATE = date(2026, 10, 31)

Row = tuple[object, ...]


@dataclass(frozen=True)
class OdooDemoDataset:
    """The generated tables: for each table name, its rows as tuples in column order."""

    seed: int
    months: int
    start_date: date
    end_date: date
    tables: Mapping[str, Iterable[Row]]

    def row_counts(self) -> dict[str, int]:
        """Number of rows per table, in schema order."""
        return {t.name: sum(1 for _ in self.tables[t.name]) for t in TABLES}

    def fingerprint(self) -> str:
        """SHA-256 over every row of every table: equal fingerprints mean identical data."""
        digest = hashlib.sha256()
        for table in TABLES:
            digest.update(table.name.encode())
            for row in self.tables[table.name]:
                digest.update(repr(row).encode())
        return digest.hexdigest()


def first_month(end: date, months: int) -> date:
    """First day of the earliest of ``months`` calendar months ending with ``end``'s month."""
    index = end.year * 12 + end.month - months
    return date(index // 12, index % 12 + 1, 1)


def build_dataset(
    seed: int = 17, months: int = 12, end_date: date | None = None
) -> OdooDemoDataset:
    """Generate the demo dataset: ``months`` calendar months of accounting ending with
    ``end_date``'s month (default 2026-10-31); nothing is dated after ``end_date``."""
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    end = end_date or DEFAULT_END_DATE
    start = first_month(end, months)
    master = Master(random.Random(seed), start, end)  # noqa: S311 -- reproducibility, not secrecy
    add_currencies_and_countries(master)
    add_accounting(master)
    add_products(master)
    add_partners(master)
    add_employees(master)

    ledger = Ledger(master)
    opening_and_adjustments(ledger)
    first = start
    while first <= end:
        last = min(month_end(first), end)
        share = (last.day - first.day + 1) / month_end(first).day  # a partial last month
        customer_invoices(ledger, first, last, share)
        vendor_bills(ledger, first, last, share)
        expense_reports(ledger, first, last)
        month_end_entries(ledger, first)
        first = last + timedelta(days=1)
    master.rows["hr_expense_sheet"] = ledger.sheets
    master.rows["hr_expense"] = ledger.expenses

    # Rows become tuples only now: posting updated partners (ranks, write dates).
    moves = move_rows(master, ledger.moves, ledger.partials)
    tables: dict[str, list[Row]] = {
        name: [to_row(name, **row) for row in rows] for name, rows in master.rows.items()
    }
    tables.update(moves)
    installed = datetime.combine(start - timedelta(days=1100), time(9))
    tables.update(metadata_rows(master.xmlids, installed))
    tables["ir_module_module"] = _modules(installed)
    tables["res_currency_rate"] = _rates(tables["res_currency"], start, installed)
    _check_balanced(tables["account_move_line"])
    return OdooDemoDataset(seed, months, start, end, {t.name: tables[t.name] for t in TABLES})


# The installed modules (the base module's version is the Odoo version, as the month-end
# close reads it): (name, name shown, latest_version, application)
MODULES = (
    ("base", "Base", "17.0.1.3", False),
    ("product", "Products & Pricelists", "17.0.1.2", False),
    ("account", "Invoicing", "17.0.1.2", True),
    ("hr", "Employees", "17.0.1.1", True),
    ("hr_expense", "Expenses", "17.0.2.0", True),
)
# Units of each active currency per US dollar, the company's currency (Odoo's rate).
RATES = {"USD": Decimal("1.000000"), "EUR": Decimal("0.920000")}


def _modules(installed: datetime) -> list[Row]:
    return [
        to_row(
            "ir_module_module",
            id=i,
            name=name,
            shortdesc=json.dumps({"en_US": label}),
            author="Odoo S.A.",
            state="installed",
            latest_version=version,
            application=application,
            create_date=installed,
            write_date=installed,
        )
        for i, (name, label, version, application) in enumerate(MODULES, start=1)
    ]


def _rates(currencies: list[Row], start: date, installed: datetime) -> list[Row]:
    """One rate per active currency, from the data's first day, for the company."""
    columns = next(t for t in TABLES if t.name == "res_currency").column_names
    id_at, name_at, active_at = (columns.index(c) for c in ("id", "name", "active"))
    rows: list[Row] = []
    for currency in currencies:
        if currency[active_at] and currency[name_at] in RATES:
            rows.append(
                to_row(
                    "res_currency_rate",
                    id=len(rows) + 1,
                    name=start,
                    rate=RATES[cast(str, currency[name_at])],
                    currency_id=currency[id_at],
                    company_id=1,
                    create_date=installed,
                    write_date=installed,
                )
            )
    return rows


def _check_balanced(lines: list[Row]) -> None:
    """Fail loudly if any entry does not balance: that would be a generator bug."""
    columns = next(t for t in TABLES if t.name == "account_move_line").column_names
    move_at, balance_at = columns.index("move_id"), columns.index("balance")
    totals: dict[object, Decimal] = {}
    for line in lines:
        totals[line[move_at]] = totals.get(line[move_at], Decimal(0)) + cast(
            Decimal, line[balance_at]
        )
    unbalanced = [move for move, total in totals.items() if total != 0]
    if unbalanced:
        raise AssertionError(f"demo generator produced unbalanced moves: {unbalanced[:5]}")
