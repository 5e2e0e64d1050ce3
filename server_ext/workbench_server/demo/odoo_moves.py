"""Journal entries in memory (:class:`Move`, :class:`Line`) and their ``account_move`` /
``account_move_line`` rows, with the totals, residuals and payment states Odoo 17 stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import cast

from .odoo_master import COMPANY_ID, USD, Master, cents
from .odoo_schema import to_row

Row = tuple[object, ...]
# Documents whose totals come from product/tax lines; the sign makes *_signed columns
# positive for money coming in (customer invoices), negative otherwise, as in Odoo.
_DOCUMENT_SIGN = {"out_invoice": 1, "out_refund": -1, "in_invoice": -1, "in_receipt": -1}


@dataclass(slots=True)
class Line:
    """A journal item; amounts in cents, ``balance`` positive for a debit."""

    account: int
    balance: int
    name: str = ""
    partner: int | None = None
    display_type: str = "product"
    product: int | None = None
    quantity: int | None = None
    price_unit: int | None = None
    discount: int = 0
    subtotal: int | None = None
    total: int | None = None
    tax_line: int | None = None
    tax_base: int = 0
    maturity: date | None = None
    expense: int | None = None
    residual: int | None = None  # None until reconciled: the whole balance is open
    matching: str | None = None

    def open_amount(self) -> int:
        """What is still to be matched, in cents (signed like the balance)."""
        return self.balance if self.residual is None else self.residual

    def mirrored(self) -> Line:
        """The same line with the opposite sign, as a credit note reverses it."""
        return replace(self, balance=-self.balance, residual=None, matching=None)


@dataclass(slots=True, eq=False)
class Move:
    """A journal entry. ``ref`` and line names may hold ``{self}`` / ``{target}``, replaced
    by this move's and the settled document's final names once sequences are assigned."""

    key: int
    journal: str
    move_type: str
    date: date
    lines: list[Line]
    created: datetime
    written: datetime
    state: str = "posted"
    prefix: str = ""  # sequence prefix when it differs from the journal code (RINV)
    partner: int | None = None
    ref: str | None = None
    invoice_date: date | None = None
    due: date | None = None
    payment_reference: str | None = None
    target: Move | None = None
    reversed_entry: Move | None = None
    expense_sheet: int | None = None
    reversed: bool = False
    id: int = 0
    name: str = "/"
    number: int | None = field(default=None)

    def term_line(self) -> Line:
        """The receivable/payable line of an invoice, bill or receipt."""
        return next(line for line in self.lines if line.display_type == "payment_term")


def _number(moves: list[Move]) -> list[Move]:
    """Ids in date order; names from per-prefix yearly sequences (drafts stay ``/``)."""
    ordered = sorted(moves, key=lambda move: (move.date, move.key))
    counters: dict[tuple[str, int], int] = {}
    for move_id, move in enumerate(ordered, start=1):
        move.id = move_id
        if move.state != "draft":
            prefix = move.prefix or move.journal
            key = (prefix, move.date.year)
            counters[key] = move.number = counters.get(key, 0) + 1
            move.name = f"{prefix}/{move.date.year}/{move.number:05d}"
    return ordered


def _update_partners(m: Master, move: Move) -> None:
    """Posting an invoice or bill bumps the partner's rank (and so its write date)."""
    if move.state != "posted" or move.partner is None:
        return
    rank = {"out_invoice": "customer_rank", "out_refund": "customer_rank"}.get(move.move_type)
    if move.move_type == "in_invoice":
        rank = "supplier_rank"
    if rank:
        partner = m.partner(move.partner)
        partner[rank] = cast(int, partner[rank]) + 1
        partner["write_date"] = max(cast(datetime, partner["write_date"]), move.written)


def move_rows(
    m: Master, moves: list[Move], partials: list[tuple[Line, Line, int]] = ()
) -> dict[str, list[Row]]:
    """``account_move``, ``account_move_line``, ``account_partial_reconcile`` (the
    ``partials`` of posted entries) and ``account_bank_statement_line`` (one per posted
    bank entry, each matched: the demo books none on the suspense account) rows."""
    move_table: list[Row] = []
    line_table: list[Row] = []
    statement_table: list[Row] = []
    placed: dict[int, tuple[int, Move]] = {}  # id(line) -> (its row id, its move)
    journals = m.journal
    open_item_accounts = {m.account["121000"], m.account["211000"]}
    for move in _number(moves):
        names = {"self": move.name, "target": move.target.name if move.target else ""}
        ref = move.ref.format(**names) if move.ref else None
        _update_partners(m, move)
        sign = _DOCUMENT_SIGN.get(move.move_type)
        for seq, line in enumerate(move.lines, start=1):
            open_item = line.account in m.reconcilable
            residual = line.open_amount() if open_item else 0
            if move.state != "posted" and open_item:
                residual = line.balance
            placed[id(line)] = (len(line_table) + 1, move)
            line_table.append(
                to_row(
                    "account_move_line",
                    id=len(line_table) + 1,
                    move_id=move.id,
                    move_name=move.name,
                    date=move.date,
                    ref=ref,
                    parent_state=move.state,
                    journal_id=journals[move.journal],
                    company_id=COMPANY_ID,
                    company_currency_id=USD,
                    account_id=line.account,
                    sequence=seq * 10,
                    name=line.name.format(**names),
                    quantity=cents(line.quantity * 100) if line.quantity is not None else None,
                    price_unit=cents(line.price_unit or 0),
                    discount=cents(line.discount * 100),
                    debit=cents(max(line.balance, 0)),
                    credit=cents(max(-line.balance, 0)),
                    balance=cents(line.balance),
                    amount_currency=cents(line.balance),
                    amount_residual=cents(residual),
                    amount_residual_currency=cents(residual),
                    price_subtotal=None if line.subtotal is None else cents(line.subtotal),
                    price_total=None if line.total is None else cents(line.total),
                    currency_id=USD,
                    partner_id=line.partner,
                    product_id=line.product,
                    tax_line_id=line.tax_line,
                    tax_base_amount=cents(line.tax_base),
                    display_type=line.display_type,
                    date_maturity=line.maturity,
                    reconciled=open_item and residual == 0 and move.state == "posted",
                    matching_number=line.matching if move.state == "posted" else None,
                    expense_id=line.expense,
                    create_date=move.created,
                    write_date=move.written,
                )
            )
        if sign is not None:
            untaxed = abs(sum(ln.balance for ln in move.lines if ln.display_type == "product"))
            tax = abs(sum(ln.balance for ln in move.lines if ln.display_type == "tax"))
            total = untaxed + tax
            residual = abs(move.term_line().open_amount()) if move.state == "posted" else total
        else:  # miscellaneous entry: Odoo reports the debit total and open receivables only
            untaxed = tax = 0
            total = sum(max(ln.balance, 0) for ln in move.lines)
            opened = [ln for ln in move.lines if ln.account in open_item_accounts]
            residual = abs(sum(ln.open_amount() for ln in opened))
            sign = 1
        state = "not_paid"
        if move.move_type != "entry" and move.state == "posted":
            if move.reversed:
                state = "reversed"
            elif residual == 0:
                state = "paid"
            elif residual < total:
                state = "partial"
        if move.journal == "BNK1" and move.state == "posted":
            statement_table.append(
                to_row(
                    "account_bank_statement_line",
                    id=len(statement_table) + 1,
                    move_id=move.id,
                    sequence=1,
                    payment_ref=ref or move.lines[0].name.format(**names),
                    partner_id=move.partner,
                    currency_id=USD,
                    amount=cents(move.lines[0].balance),
                    is_reconciled=True,
                    create_date=move.created,
                    write_date=move.written,
                )
            )
        partner = m.partner(move.partner) if move.partner else {}
        move_table.append(
            to_row(
                "account_move",
                id=move.id,
                name=move.name,
                ref=ref,
                date=move.date,
                state=move.state,
                move_type=move.move_type,
                journal_id=journals[move.journal],
                company_id=COMPANY_ID,
                currency_id=USD,
                partner_id=move.partner,
                commercial_partner_id=partner.get("commercial_partner_id"),
                invoice_date=move.invoice_date,
                invoice_date_due=move.due,
                payment_reference=(move.payment_reference or "").format(**names) or None,
                amount_untaxed=cents(untaxed),
                amount_tax=cents(tax),
                amount_total=cents(total),
                amount_residual=cents(residual),
                amount_untaxed_signed=cents(sign * untaxed),
                amount_tax_signed=cents(sign * tax),
                amount_total_signed=cents(sign * total),
                amount_residual_signed=cents(sign * residual),
                payment_state=state,
                reversed_entry_id=move.reversed_entry.id if move.reversed_entry else None,
                sequence_prefix=move.name.rsplit("/", 1)[0] + "/" if move.number else None,
                sequence_number=move.number,
                posted_before=move.state != "draft",
                expense_sheet_id=move.expense_sheet,
                create_date=move.created,
                write_date=move.written,
            )
        )
    return {
        "account_move": move_table,
        "account_move_line": line_table,
        "account_partial_reconcile": _partial_rows(partials, placed),
        "account_bank_statement_line": statement_table,
    }


def _partial_rows(
    partials: list[tuple[Line, Line, int]], placed: dict[int, tuple[int, Move]]
) -> list[Row]:
    """One ``account_partial_reconcile`` row per settle of two posted entries: the debit
    and credit item, the amount matched and the later of their dates (``max_date``)."""
    rows: list[Row] = []
    for first, second, amount in partials:
        (first_id, first_move), (second_id, second_move) = placed[id(first)], placed[id(second)]
        if first_move.state != "posted" or second_move.state != "posted":
            continue
        debit_id, credit_id = (first_id, second_id) if first.balance > 0 else (second_id, first_id)
        rows.append(
            to_row(
                "account_partial_reconcile",
                id=len(rows) + 1,
                debit_move_id=debit_id,
                credit_move_id=credit_id,
                debit_currency_id=USD,
                credit_currency_id=USD,
                amount=cents(amount),
                debit_amount_currency=cents(amount),
                credit_amount_currency=cents(amount),
                company_id=COMPANY_ID,
                max_date=max(first_move.date, second_move.date),
                create_date=max(first_move.written, second_move.written),
                write_date=max(first_move.written, second_move.written),
            )
        )
    return rows
