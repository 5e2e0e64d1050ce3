"""Business flows of the demo period: customer invoices and credit notes, vendor bills, bank
transactions, month-end entries, as Odoo 17 posts them.

Amounts are integer cents until rows are written (then exact two-place Decimals), so every
entry balances to the cent. Documents are created in business order (an invoice, then the
payment that settles it weeks later); ids and names are given later in date order.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import cast

from .odoo_master import PURCHASE_TAX, SALE_TAX, TAX_RATE_PERCENT, US_COUNTRY_ID, Master
from .odoo_moves import Line, Move

Item = tuple[int, int, int, int]  # product id, quantity, unit price in cents, discount %
_REASONS = ("Damaged goods", "Wrong quantity invoiced", "Pricing error", "Duplicate invoice")


def month_end(day: date) -> date:
    """Last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def workday(day: date, first: date, last: date) -> date:
    """``day`` moved off a weekend, staying within ``first``..``last`` when possible."""
    if day.weekday() < 5:
        return day
    monday = day + timedelta(days=7 - day.weekday())
    friday = day - timedelta(days=day.weekday() - 4)
    return monday if monday <= last else friday if friday >= first else day


@dataclass
class Ledger:
    """Collects moves; its helpers do what Odoo does when a user posts or pays a document."""

    m: Master
    moves: list[Move] = field(default_factory=list)
    matchings: int = 0
    tax: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # month -> [out, in]
    loan: int = 7_300_000
    sheets: list[dict[str, object]] = field(default_factory=list)  # hr_expense_sheet rows
    expenses: list[dict[str, object]] = field(default_factory=list)  # hr_expense rows
    # (open line, counter line, cents): each settle, as Odoo's account_partial_reconcile
    partials: list[tuple[Line, Line, int]] = field(default_factory=list)

    def account(self, code: str) -> int:
        """Account id by code."""
        return self.m.account[code]

    def day_in(self, first: date, last: date) -> date:
        """A random working day between ``first`` and ``last``."""
        offset = self.m.rng.randrange((last - first).days + 1)
        return workday(first + timedelta(days=offset), first, last)

    def post(
        self, journal: str, move_type: str, day: date, lines: list[Line], **kw: object
    ) -> Move:
        """Record a move; ``kw`` are :class:`Move` fields (state defaults to posted)."""
        created = self.m.stamp(day)
        written = created + timedelta(minutes=self.m.rng.randint(1, 240))
        move = Move(len(self.moves), journal, move_type, day, lines, created, written)
        for key, value in kw.items():
            setattr(move, key, value)
        self.moves.append(move)
        if move.state == "posted":  # remembered for the monthly sales-tax settlement
            month = self.tax.setdefault((day.year, day.month), [0, 0])
            month[0] -= sum(ln.balance for ln in lines if ln.tax_line == SALE_TAX)
            month[1] += sum(ln.balance for ln in lines if ln.tax_line == PURCHASE_TAX)
        return move

    def settle(self, open_line: Line, counter: Line, amount: int, *moves: Move) -> None:
        """Reconcile ``amount`` cents of ``open_line`` with ``counter`` (fully consumed)."""
        self.matchings += 1
        left = open_line.open_amount() - (amount if open_line.balance > 0 else -amount)
        open_line.residual, counter.residual = left, 0
        open_line.matching = counter.matching = f"{'P' if left else 'A'}{self.matchings}"
        self.partials.append((open_line, counter, amount))
        latest = max(move.written for move in moves)
        for move in moves:
            move.written = latest

    def document_state(self, day: date) -> str:
        """Most documents are posted; recent ones may be drafts; a few are cancelled."""
        rng = self.m.rng
        if ((self.m.end - day).days < 10 and rng.random() < 0.35) or rng.random() < 0.01:
            return "draft"
        return "cancel" if rng.random() < 0.02 else "posted"

    def bank(self, day: date, account: str, amount: int, ref: str, **kw: object) -> Move:
        """A bank transaction (BNK1) of ``amount`` cents, negative when money goes out,
        booked against ``account``."""
        partner = cast("int | None", kw.get("partner"))
        lines = [
            Line(self.account("101401"), amount, ref, partner),
            Line(self.account(account), -amount, ref, partner),
        ]
        return self.post("BNK1", "entry", day, lines, ref=ref, **kw)

    def pay(self, doc: Move, day: date, amount: int, ref: str) -> None:
        """Settle ``amount`` cents of an invoice, bill or receipt through the bank."""
        term = doc.term_line()
        incoming = term.balance > 0
        code = "121000" if incoming else "211000"
        signed = amount if incoming else -amount
        payment = self.bank(day, code, signed, ref, partner=doc.partner, target=doc)
        self.settle(term, payment.lines[1], amount, doc, payment)

    def document_lines(self, partner: int, items: list[Item], sale: bool, due: date) -> list[Line]:
        """Product, tax and payment-term lines of an invoice or bill; partners abroad are
        not charged US sales tax."""
        m, sign = self.m, -1 if sale else 1
        taxed = m.partner(partner)["country_id"] == US_COUNTRY_ID
        lines: list[Line] = []
        for product, qty, price, discount in items:
            name, _price, code, _type = m.products[product]
            subtotal = (qty * price * (100 - discount) + 50) // 100
            tax = (subtotal * TAX_RATE_PERCENT + 50) // 100 if taxed else 0
            line = Line(self.account(code), sign * subtotal, name, partner, product=product)
            line.quantity, line.price_unit, line.discount = qty, price, discount
            line.subtotal, line.total = subtotal, subtotal + tax
            lines.append(line)
        untaxed = sum(line.subtotal or 0 for line in lines)
        total_tax = sum(line.total or 0 for line in lines) - untaxed
        return self.closing_lines(lines, partner, sale, total_tax, due)

    def closing_lines(
        self, lines: list[Line], partner: int, sale: bool, tax: int, due: date
    ) -> list[Line]:
        """Append the tax line (if any) and the receivable/payable line to ``lines``."""
        sign = -1 if sale else 1
        untaxed = sum(line.subtotal or 0 for line in lines)
        if tax:
            tax_id, code = (SALE_TAX, "251000") if sale else (PURCHASE_TAX, "131000")
            line = Line(self.account(code), sign * tax, "15%", partner, "tax", tax_line=tax_id)
            line.tax_base = untaxed
            lines.append(line)
        code = "121000" if sale else "211000"
        total = -sign * (untaxed + tax)
        lines.append(Line(self.account(code), total, "{self}", partner, "payment_term"))
        lines[-1].maturity = due
        return lines


def customer_invoices(led: Ledger, first: date, last: date, share: float) -> None:
    """About 50 customer invoices a month, their payments, and a few full credit notes."""
    m, rng = led.m, led.m.rng
    partners = m.rows["res_partner"]
    since = {p: cast(datetime, partners[p - 1]["create_date"]).date() for p in m.customers}
    eligible = [(p, w) for p, w in zip(m.customers, m.customer_weight, strict=True)]
    eligible = [(p, w) for p, w in eligible if since[p] <= last]
    for _ in range(round(rng.randint(45, 58) * share)):
        partner = rng.choices([p for p, _ in eligible], [w for _, w in eligible])[0]
        day = max(led.day_in(first, last), since[partner])
        items = []
        for product in rng.sample(
            m.sale_products, rng.choices((1, 2, 3, 4, 5), (20, 30, 25, 15, 10))[0]
        ):
            price = m.products[product][1]
            qty = rng.randint(1, 4) if price > 50_000 else rng.randint(1, 20)
            items.append((product, qty, price, rng.choice((0,) * 8 + (5, 10))))
        due = day + timedelta(days=m.payment_days[partner])
        lines = led.document_lines(partner, items, True, due)
        state = led.document_state(day)
        po = f"PO-{rng.randint(10000, 99999)}" if rng.random() < 0.3 else None
        inv = led.post("INV", "out_invoice", day, lines, state=state, partner=partner, ref=po)
        inv.invoice_date, inv.due, inv.payment_reference = day, due, "{self}"
        if state != "posted":
            continue
        total = inv.term_line().balance
        refund_day = workday(day + timedelta(days=rng.randint(2, 25)), day, m.end)
        if rng.random() < 0.07 and refund_day <= m.end:
            ref = f"Reversal of: {{target}}, {rng.choice(_REASONS)}"
            mirror = [line.mirrored() for line in lines]
            refund = led.post("INV", "out_refund", refund_day, mirror, prefix="RINV", ref=ref)
            refund.partner, refund.target, refund.reversed_entry = partner, inv, inv
            refund.invoice_date = refund.due = refund_day
            inv.reversed = True
            led.settle(inv.term_line(), refund.term_line(), total, inv, refund)
            continue
        pay_day = workday(max(due + timedelta(days=rng.randint(-10, 20)), day), day, m.end)
        if rng.random() < 0.95 and pay_day <= m.end:
            amount = total * rng.randint(30, 80) // 100 if rng.random() < 0.07 else total
            led.pay(inv, pay_day, amount, f"{partners[partner - 1]['name']} {{target}}")


def vendor_bills(led: Ledger, first: date, last: date, share: float) -> None:
    """Monthly rent, utilities and telecom bills plus 20-30 purchase bills, mostly paid."""
    m, rng = led.m, led.m.rng
    month = first.strftime("%B %Y")
    bills: list[tuple[int, date, list[Line], str]] = []
    for n, (vendor, label, code, amount, taxed) in enumerate(m.recurring):
        day = workday(first + timedelta(days=2 * n), first, last)
        if day <= last:
            amount = amount or rng.randint(30_000, 70_000)
            line = Line(led.account(code), amount, f"{label} {month}", vendor, quantity=1)
            line.price_unit, line.subtotal = amount, amount
            line.total = amount + ((amount * TAX_RATE_PERCENT + 50) // 100 if taxed else 0)
            lines = led.closing_lines([line], vendor, False, line.total - amount, day)
            bills.append((vendor, day, lines, "posted"))
    for _ in range(round(rng.randint(22, 30) * share)):
        vendor = rng.choice(m.vendors)
        day = led.day_in(first, last)
        items = []
        for product in m.vendor_products[vendor]:
            base = m.products[product][1]
            qty = rng.randint(5, 60) if base < 10_000 else rng.randint(1, 3)
            items.append((product, qty, base * rng.randint(90, 110) // 100, 0))
        due = day + timedelta(days=30)
        lines = led.document_lines(vendor, items, False, due)
        bills.append((vendor, day, lines, led.document_state(day)))
    for vendor, day, lines, state in bills:
        name = str(m.partner(vendor)["name"])
        ref = "".join(word[0] for word in name.split()[:2]) + f"-{rng.randint(1000, 99999)}"
        bill = led.post("BILL", "in_invoice", day, lines, state=state, partner=vendor, ref=ref)
        due = lines[-1].maturity or day
        bill.invoice_date, bill.due, bill.payment_reference = day, due, ref
        pay_day = workday(max(due - timedelta(days=rng.randint(0, 7)), day), day, m.end)
        if state == "posted" and rng.random() < 0.97 and pay_day <= m.end:
            led.pay(bill, pay_day, -bill.term_line().balance, f"{name} {ref}")


def month_end_entries(led: Ledger, first: date) -> None:
    """Loan instalment, payroll, depreciation, bank fees and the sales-tax settlement."""
    m, rng = led.m, led.m.rng
    last = month_end(first)
    month = first.strftime("%B %Y")
    loan_day = workday(first.replace(day=15), first, last)
    if loan_day <= m.end:
        interest = led.loan * 5 // 1000  # 6 % a year on the outstanding principal
        led.loan -= 150_000
        lines = [
            Line(led.account("292000"), 150_000, f"Loan repayment {month}"),
            Line(led.account("680000"), interest, f"Loan interest {month}"),
            Line(led.account("101401"), -150_000 - interest, f"Loan instalment {month}"),
        ]
        led.post("BNK1", "entry", loan_day, lines, ref=f"Loan instalment {month}")
    if last > m.end:  # the month is not over yet: no closing entries
        return
    day = workday(last, first, last)
    gross = sum(m.salary.values())
    taxes = gross * 765 // 10_000  # employer payroll taxes, 7.65 %
    entries = {
        f"Payroll {month}": [("630000", gross), ("630100", taxes), ("221000", -gross - taxes)],
        f"Depreciation {month}": [("650000", 125_000), ("159000", -125_000)],
    }
    collected, paid = led.tax.get((first.year, first.month), [0, 0])
    net = collected - paid
    due = "252000" if net > 0 else "132000"
    entries[f"Tax settlement {month}"] = [("251000", collected), ("131000", -paid), (due, -net)]
    for ref, amounts in entries.items():
        lines = [Line(led.account(code), amount, ref) for code, amount in amounts if amount]
        if lines:  # a month without taxed documents needs no settlement
            led.post("MISC", "entry", day, lines, ref=ref)
        if ref.startswith("Payroll"):
            led.bank(day, "221000", -gross - taxes, f"Salaries {month}")
    led.bank(day, "620000", -rng.randint(2_500, 6_000), f"Bank fees {month}")
    tax_day = workday(last + timedelta(days=20), last, last + timedelta(days=30))
    if net > 0 and tax_day <= m.end:
        led.bank(tax_day, "252000", -net, f"Sales tax payment {month}")


def opening_and_adjustments(led: Ledger) -> None:
    """Opening balances on the first day, plus a cancelled and two draft misc entries."""
    m = led.m
    opening = {"151100": 6_000_000, "151200": 4_500_000, "101401": 18_000_000}
    opening |= {"159000": -1_200_000, "301000": -20_000_000, "292000": -led.loan}
    lines = [Line(led.account(code), amount, "Opening balance") for code, amount in opening.items()]
    led.post("MISC", "entry", m.start, lines, ref="Opening Journal Entry")
    for state, day, ref, amount in (
        ("cancel", m.start + (m.end - m.start) / 2, "Reclassification (duplicate)", 80_000),
        ("draft", m.end, "Accrual: audit fees", 450_000),
        ("draft", m.end, "Accrual: consulting fees", 120_000),
    ):
        lines = [
            Line(led.account("617000"), amount, ref),
            Line(led.account("201000"), -amount, ref),
        ]
        led.post("MISC", "entry", workday(day, m.start, m.end), lines, state=state, ref=ref)
