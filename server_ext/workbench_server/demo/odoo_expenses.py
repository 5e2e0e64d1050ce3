"""Employee expenses (``hr_expense``) grouped in monthly expense reports
(``hr_expense_sheet``), posted as purchase receipts and reimbursed through the bank, the
way Odoo 17's Expenses app does it for expenses paid by the employee.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import cast

from .odoo_ledger import Ledger, workday
from .odoo_master import COMPANY_ID, USD, cents
from .odoo_moves import Line
from .odoo_reference import COUNTRIES

# product code: label templates, low and high amount in cents (kilometres for mileage)
_KINDS = {
    "FOOD": ("Lunch with {customer}|Team dinner|Client breakfast meeting", 1_200, 9_500),
    "TRANS_ACC": ("Hotel in {city}|Flight to {city}|Taxi to the airport", 3_000, 80_000),
    "COMM": ("Mobile phone bill {month}", 2_500, 8_000),
    "MIL": ("Mileage to {customer}", 20, 320),
    "GIFT": ("Gift for {customer}", 2_000, 15_000),
    "EXP_GEN": ("Parking|Office supplies|Conference ticket", 1_000, 30_000),
}
_CITIES = [city.split(":")[0] for c in COUNTRIES.values() for city in c[7].split("|")]


Expense = tuple[dict[str, object], int, int]  # hr_expense row, total in cents, account id


def _expense(led: Ledger, employee: dict[str, object], day: date) -> Expense:
    """One expense of a random kind, not yet attached to a report."""
    m, rng = led.m, led.m.rng
    code = rng.choice(list(_KINDS))
    templates, low, high = _KINDS[code]
    product = m.expense_products[code]
    _name, rate, account_code, _type = m.products[product]
    customer = m.partner(rng.choice(m.customers))["name"]
    label = rng.choice(templates.split("|")).format(
        customer=customer, city=rng.choice(_CITIES), month=day.strftime("%B")
    )
    quantity, price = (rng.randint(low, high), rate) if rate else (1, rng.randint(low, high))
    total, account = quantity * price, led.account(account_code)
    created = m.stamp(day)
    row: dict[str, object] = {
        "id": len(led.expenses) + 1,
        "name": label,
        "date": day,
        "employee_id": employee["id"],
        "product_id": product,
        "quantity": cents(quantity * 100),
        "price_unit": cents(price),
        "total_amount_currency": cents(total),
        "total_amount": cents(total),
        "tax_amount": cents(0),
        "currency_id": USD,
        "company_id": COMPANY_ID,
        "account_id": account,
        "state": "draft",
        "payment_mode": "own_account",
        "create_date": created,
        "write_date": created,
    }
    led.expenses.append(row)
    return row, total, account


def expense_reports(led: Ledger, first: date, last: date) -> None:
    """About a third of the staff file a report each month; managers approve it within a
    week, accounting posts it and the bank reimburses the employee a few days later."""
    m, rng = led.m, led.m.rng
    for employee in m.rows["hr_employee"]:
        if rng.random() >= 0.3:
            continue
        count = rng.randint(1, 4)
        days = sorted(led.day_in(first, last) for _ in range(count))
        items = [_expense(led, employee, day) for day in days]
        approved = datetime.combine(days[-1] + timedelta(days=rng.randint(1, 6)), time(15))
        total = sum(cents_total for _row, cents_total, _account in items)
        name = str(items[0][0]["name"]) if count == 1 else f"{first:%B %Y} expenses"
        created = m.stamp(days[-1])
        sheet: dict[str, object] = {
            "id": len(led.sheets) + 1,
            "name": name,
            "employee_id": employee["id"],
            "department_id": employee["department_id"],
            "company_id": COMPANY_ID,
            "currency_id": USD,
            "payment_state": "not_paid",
            "payment_mode": "own_account",
            "total_amount": cents(total),
            "untaxed_amount": cents(total),
            "total_tax_amount": cents(0),
            "amount_residual": cents(total),
            "journal_id": m.journal["BILL"],
            "create_date": created,
            "write_date": created,
        }
        led.sheets.append(sheet)
        if rng.random() < 0.04:
            sheet["state"], state = "cancel", "refused"
        elif approved.date() > m.end:  # still waiting for a manager
            submitted = rng.random() < 0.5
            sheet["state"], state = ("submit", "submitted") if submitted else ("draft", "reported")
        else:
            state = _post_sheet(led, sheet, employee, items, approved)
            sheet["write_date"] = approved
        for row, _total, _account in items:
            row.update(sheet_id=sheet["id"], state=state, write_date=sheet["write_date"])
    if last == m.end:  # a few receipts not reported yet at the end of the period
        for employee in rng.sample(m.rows["hr_employee"], 4):
            _expense(led, employee, led.day_in(first, last))


def _post_sheet(
    led: Ledger,
    sheet: dict[str, object],
    employee: dict[str, object],
    items: list[Expense],
    approved: datetime,
) -> str:
    """Post the approved report as a purchase receipt, reimburse it if the date allows,
    and return the state its expenses end up in."""
    rng, day = led.m.rng, approved.date()
    partner = cast(int, employee["work_contact_id"])
    lines = []
    for row, total, account in items:
        line = Line(account, total, f"{employee['name']}: {row['name']}", partner)
        line.product, line.expense = cast(int, row["product_id"]), cast(int, row["id"])
        line.subtotal = line.total = total
        lines.append(line)
    lines = led.closing_lines(lines, partner, False, 0, day)
    receipt = led.post("BILL", "in_receipt", day, lines, partner=partner, ref=sheet["name"])
    receipt.invoice_date, receipt.due = day, day
    receipt.expense_sheet = cast(int, sheet["id"])
    sheet.update(state="post", accounting_date=day, approval_date=approved)
    pay_day = workday(day + timedelta(days=rng.randint(2, 10)), day, led.m.end)
    if pay_day > led.m.end:
        return "approved"
    led.pay(receipt, pay_day, -lines[-1].balance, f"Expense reimbursement {employee['name']}")
    sheet.update(state="done", payment_state="paid", amount_residual=cents(0))
    return "done"
