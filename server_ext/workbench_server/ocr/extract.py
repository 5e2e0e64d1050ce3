"""Find a receipt's fields in its OCR text: vendor, VAT id, date, total, taxes, currency
and lines, each with a confidence.

Boxes are first put back into printed rows (a rotated or skewed scan has sloping rows:
each box's height is corrected by the page's median slope), then labelled rows are
read ("TOTAL", "VAT 19%", "Date:"). A field's confidence is the OCR engine's score for
the text it came from, lowered when a check fails (lines + taxes must make the total)
and raised to at least 0.99 when the check passes, since an exact sum is strong evidence.
"""

from __future__ import annotations

import re
import statistics
from datetime import date
from decimal import Decimal, InvalidOperation

from .models import Extracted, OcrLine, OcrResult

__all__ = ["extract_fields", "parse_amount", "rows_of"]

# OCR drops and invents spaces and dots ("TOTALEUR", ".20.85"): patterns do not rely on
# word boundaries around labels, and amounts only need to stand apart from other digits.
# An amount has as many decimals as its currency (ISO 4217): yen none ("¥1,200"), dinars
# three ("12.500 KWD"), most two.
_DECIMALS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "HUF": 2,
             "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3, "IQD": 3, "LYD": 3}  # fmt: skip
_AMOUNTS = {
    2: re.compile(r"(?<!\d)\d{1,3}(?:[,. ]\d{3})*[.,]\d{2}(?!\d)|(?<!\d)\d+[.,]\d{2}(?!\d)"),
    3: re.compile(r"(?<!\d)\d{1,3}(?:[,. ]\d{3})*[.,]\d{3}(?!\d)|(?<!\d)\d+[.,]\d{3}(?!\d)"),
    # whole units: not a rate ("10%"), a quantity ("2 x") or part of a decimal number
    0: re.compile(r"(?<![\d.,])(?:\d{1,3}(?:[,. ]\d{3})+|\d+)(?![\d%]|[.,]\d|\s*[xX\u00d7]\s*\d)"),
}
_AMOUNT = _AMOUNTS[2]
# longest first: "CA$" is Canadian, "US$" American, a bare "$" is taken for USD
_CURRENCIES = {"EUR": "EUR", "€": "EUR", "USD": "USD", "US$": "USD", "$": "USD",
               "GBP": "GBP", "£": "GBP", "CHF": "CHF", "SEK": "SEK", "DKK": "DKK",
               "NOK": "NOK", "PLN": "PLN", "CAD": "CAD", "CA$": "CAD", "C$": "CAD",
               "JPY": "JPY", "¥": "JPY", "円": "JPY", "KWD": "KWD"}  # fmt: skip
_CURRENCY = re.compile(
    r"(EUR|USD|GBP|CHF|SEK|DKK|NOK|PLN|CAD|JPY|KWD)|US\$|CA\$|(?<![A-Z])C\$|[€$£¥円]"
)
_TOTAL = re.compile(r"total|amount\s*due|summe|gesamt", re.I)
_SUBTOTAL = re.compile(r"sub\s*-?\s*total|net\s+amount|untaxed", re.I)
# "Sales tax" read as "Salestax8.25%"; "taxi" is not a tax
_TAX = re.compile(r"(?:(?<![a-z])|sales)(?:vat|tax|mwst|ust|tva|iva)(?![a-z])", re.I)
# "VAT ID: DE123456789", "Tax ID 12-3456789", "USt-IdNr. DE ...", "BTW nr NL...": the label,
# then the id up to the end of its box (ids of every country: letters first or digits
# first). OCR drops the spaces and reads "Id" as "ld" ("USt-ldNr:DE636383989"). Not inside
# a word: "Austin TX 78701" holds no tax id.
_VAT_ID = re.compile(
    r"(?<![a-z])(?:vat|tax|ust|tva|btw|gst|nif|rfc|mwst)[\s.-]*(?:[il]dnr|[il]d|nr|no|number|reg)?\.?\s*[:#]?\s*"
    r"([0-9A-Z][0-9A-Z.-]*(?: [0-9A-Z.-]+)*)",
    re.I,
)
_DATE_LABEL = re.compile(r"date|datum", re.I)
# digits on neither side, not word boundaries: OCR reads "Date 2026-02-17" as "Date2026-02-17"
_ISO = re.compile(r"(?<!\d)(20\d{2})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_DMY = re.compile(r"(?<!\d)(\d{1,2})[./-](\d{1,2})[./-](20\d{2})(?!\d)")
_LINE = re.compile(r"^(?P<desc>.*?[A-Za-z].*?)\s*(?P<qty>\d+)\s*[xX\u00d7]\s*(?P<unit>\d[\d.,]*)")
_NOT_VENDOR = re.compile(
    r"receipt|invoice|bill\b|date|vat\W*id|tax\W*id|street|road|\d{3,}|\d\s*x\s*\d", re.I
)


def parse_amount(text: str, decimals: int = 2) -> Decimal | None:
    """``1,234.56`` / ``1.234,56`` / ``12.50`` -> Decimal; the separator before the last
    ``decimals`` digits is the decimal one (a receipt prints its currency's minor units:
    ``¥1,200`` is 1200 with ``decimals=0``)."""
    cleaned = text.replace(" ", "")
    if decimals == 0:
        whole, cents = cleaned, ""
    else:
        if len(cleaned) < decimals + 2:
            return None
        whole, cents = cleaned[: -decimals - 1], cleaned[-decimals:]
    whole = re.sub(r"[.,]", "", whole)
    try:
        return Decimal(f"{whole}.{cents}" if cents else whole)
    except InvalidOperation:
        return None


def rows_of(lines: list[OcrLine]) -> list[tuple[str, float, list[OcrLine]]]:
    """The printed rows: (text, lowest confidence, boxes), top to bottom, each row's boxes
    left to right, page after page."""
    rows: list[tuple[str, float, list[OcrLine]]] = []
    for page in sorted({line.page for line in lines}):
        boxes = [line for line in lines if line.page == page]
        sloped = [b.slope for b in boxes if len(b.text) >= 6]
        slope = statistics.median(sloped) if sloped else 0.0
        heights = [b.height for b in boxes if b.height > 0]
        tolerance = 0.5 * (statistics.median(heights) if heights else 10.0)
        ordered = sorted(boxes, key=lambda b: b.y - slope * b.x)
        current: list[OcrLine] = []
        level = 0.0
        for box in ordered:
            corrected = box.y - slope * box.x
            if current and abs(corrected - level) > tolerance:
                rows.append(_row(current))
                current = []
            if not current:
                level = corrected
            current.append(box)
        if current:
            rows.append(_row(current))
    return rows


def _row(boxes: list[OcrLine]) -> tuple[str, float, list[OcrLine]]:
    boxes = sorted(boxes, key=lambda b: b.x)
    return "  ".join(b.text for b in boxes), min(b.confidence for b in boxes), boxes


# a minus right before an amount ("-14,88", "- 14,88") or right after it ("14,88-"), not a
# dashed leader ("Total ------ 12.50")
_MINUS_BEFORE = re.compile(r"(?<![-\u2212])[-\u2212] ?$")
_MINUS_AFTER = re.compile(r"^[-\u2212](?![-\u2212\d])")


def _amounts(text: str, decimals: int = 2) -> list[Decimal]:
    """The amounts on a row, with their sign: a refund's total is negative."""
    found = []
    for m in _AMOUNTS[decimals].finditer(text):
        value = parse_amount(m.group(), decimals)
        if value is None:
            continue
        if _MINUS_BEFORE.search(text[: m.start()]) or _MINUS_AFTER.match(text[m.end() :]):
            value = -value
        found.append(value)
    return found


# Countries whose receipts print the month first (3/4/2026 is March 4th): the United
# States and a few others. Canada prints both, so a Canadian clue decides nothing.
_MONTH_FIRST = {"US", "PH", "FM", "MH", "PW", "BZ"}
_EITHER = {"CA"}
_CURRENCY_COUNTRY = {"USD": "US", "CAD": "CA"}


def _dates_in(text: str) -> list[tuple[date, str]]:
    """The readings of the first date on a row: [(date, "ymd" | "dot" | "dmy" | "mdy")].
    ISO and dotted dates (13.02.2026: day first wherever dots are used) have one reading;
    03/04/2026 has two, and the receipt's country or a person must choose."""
    match = _ISO.search(text)
    if match:
        y, m, d = (int(g) for g in match.groups())
        try:
            return [(date(y, m, d), "ymd")]
        except ValueError:
            pass
    match = _DMY.search(text)
    if match is None:
        return []
    a, b, y = (int(g) for g in match.groups())
    if match.group(0)[len(match.group(1))] == ".":
        orders = [("dot", a, b)]
    else:
        orders = [("dmy", a, b), ("mdy", b, a)]
    readings = []
    for order, day, month in orders:
        try:
            readings.append((date(y, month, day), order))
        except ValueError:
            continue
    if len({d for d, _ in readings}) == 1:
        return readings[:1]  # 04/04/2026 reads the same both ways
    return readings


def month_first(country: str | None) -> bool | None:
    """Whether receipts from ``country`` (ISO 3166 code) print the month first; None when
    the country does not say (unknown, or Canada, which prints both)."""
    if not country or country.upper() in _EITHER:
        return None
    return country.upper() in _MONTH_FIRST


def _pick_date(
    readings: list[tuple[date, str]], clues: list[bool | None]
) -> tuple[date, bool] | None:
    """(the date, whether it is sure) from a row's readings and the receipt's clues
    (True: the month is printed first, False: the day, None: says nothing)."""
    if not readings:
        return None
    if len(readings) == 1:
        return readings[0][0], True
    said = {clue for clue in clues if clue is not None}
    if len(said) == 1:
        wanted = "mdy" if said.pop() else "dmy"
        return next(d for d, order in readings if order == wanted), True
    # no clue, or clues that disagree: the day-first reading, for a person to check
    return next(d for d, order in readings if order == "dmy"), False


# what a receipt says of its country, for the order of its date: the tax it charges
# (sales tax is American; VAT, MwSt, TVA, BTW, IVA are not) and its vendor's tax id
_SALES_TAX = re.compile(r"sales\s*tax", re.I)
_VAT_LABEL = re.compile(r"(?<![a-z])(?:vat|mwst|ust|tva|btw|iva|moms|alv)(?![a-z])", re.I)
_EIN = re.compile(r"^\d{2}-?\d{7}$")
_DAY_FIRST_CURRENCIES = {"EUR", "GBP", "CHF", "SEK", "DKK", "NOK", "PLN", "KWD"}


def _currency_clue(currency: str | None) -> bool | None:
    if currency in _DAY_FIRST_CURRENCIES:
        return False
    return month_first(_CURRENCY_COUNTRY.get(currency or ""))


def _vat_clue(vat: str | None) -> bool | None:
    if not vat:
        return None
    if _EIN.match(vat):
        return True  # a US employer id (12-3456789)
    return month_first(vat[:2]) if vat[:2].isalpha() else None


def _currency_of(rows: list[tuple[str, float, list[OcrLine]]]) -> tuple[str, float] | None:
    """The receipt's currency and the score of its row: the total's row, else any row's
    (less sure)."""
    for text, score, _ in rows:
        if _TOTAL.search(text) and not _SUBTOTAL.search(text) and (c := _CURRENCY.search(text)):
            return _CURRENCIES[c.group(0)], score
    for text, score, _ in rows:
        if c := _CURRENCY.search(text):
            return _CURRENCIES[c.group(0)], score * 0.8
    return None


def extract_fields(
    result: OcrResult,
    *,
    vendor_country: str | None = None,
    company_country: str | None = None,
) -> Extracted:
    """The fields of the document ``result`` was read from. Countries (ISO 3166, from Odoo)
    help with a date like 03/04/2026 that the receipt itself does not settle:
    ``vendor_country`` (the matched vendor's) decides as the receipt's own tax id would;
    ``company_country`` only proposes the order, and the date still waits for a person."""
    rows = rows_of(result.lines)
    out = Extracted()
    conf: dict[str, float] = {}
    if found := _currency_of(rows):
        out.currency, conf["currency"] = found
    decimals = _DECIMALS.get(out.currency or "", 2)
    for text, score, _ in rows:
        vendor_like = re.search(r"[A-Za-z]{3}", text) and "%" not in text
        if vendor_like and not _NOT_VENDOR.search(text) and not _amounts(text, decimals):
            out.vendor, conf["vendor"] = text.strip(), score
            break
    subtotal: Decimal | None = None
    dated: tuple[list[tuple[date, str]], float] | None = None
    tax_clues: list[bool] = []
    for text, score, _ in rows:
        if out.vat is None and (vat := _vat_in(text)):
            out.vat, conf["vat"] = vat, score
        if dated is None and _DATE_LABEL.search(text) and (readings := _dates_in(text)):
            dated = readings, score
        if _SALES_TAX.search(text):
            tax_clues.append(True)
        elif _VAT_LABEL.search(text):
            tax_clues.append(False)
        amounts = _amounts(text, decimals)
        if _SUBTOTAL.search(text) and amounts:
            subtotal = amounts[-1]
        elif _TOTAL.search(text) and amounts:
            out.total, conf["total"] = amounts[-1], score
        elif _TAX.search(text) and amounts and "%" in text and _vat_in(text) is None:
            out.taxes = (out.taxes or Decimal(0)) + amounts[-1]
            conf["taxes"] = min(conf.get("taxes", 1.0), score)
        elif (m := _LINE.match(text)) and amounts:
            out.lines.append(
                {
                    "description": m.group("desc").strip(),
                    "quantity": int(m.group("qty")),
                    "amount": str(amounts[-1]),
                }
            )
    if dated is None:  # no labelled date: the first date anywhere, less sure
        for text, score, _ in rows:
            if readings := _dates_in(text):
                dated = readings, score * 0.8
                break
    if dated is not None:
        # the receipt's own clues first (its tax and tax id, then its currency), then the
        # company's country, which only proposes: the receipt may come from a trip abroad
        vendor = [month_first(vendor_country)]
        levels = [[_vat_clue(out.vat), *tax_clues, *vendor], [_currency_clue(out.currency)]]
        clues = next((level for level in levels if any(c is not None for c in level)), [])
        readings, score = dated
        picked = _pick_date(readings, clues)
        if picked is not None and not picked[1] and not clues and company_country:
            picked = _pick_date(readings, [month_first(company_country)])
            picked = picked and (picked[0], False)
        if picked is not None:
            out.date, sure = picked
            out._date_ambiguous = not sure
            # 03/04/2026 with nothing to tell March from April: a person reads it
            conf["date"] = score if sure else score * 0.5
    if out.total is not None:
        base = subtotal if subtotal is not None else _sum_lines(out.lines)
        if base is not None and out.taxes is not None:
            if base + out.taxes == out.total:
                for name in ("total", "taxes"):
                    conf[name] = max(conf.get(name, 0.0), 0.99)
            else:
                conf["total"] = conf.get("total", 0.0) * 0.6
                conf["taxes"] = conf.get("taxes", 0.0) * 0.6
    out.confidence = {k: round(v, 4) for k, v in conf.items()}
    return out


def _vat_in(text: str) -> str | None:
    """The tax id on a row, spaces and a trailing dot dropped; None if it has too few digits
    to be one (a "VAT 19%" row)."""
    match = _VAT_ID.search(text)
    if match is None:
        return None
    token = match.group(1).split("  ")[0].replace(" ", "").rstrip(".").upper()
    return token if len(token) >= 7 and sum(ch.isdigit() for ch in token) >= 5 else None


def _sum_lines(lines: list[dict[str, object]]) -> Decimal | None:
    if not lines:
        return None
    return sum((Decimal(str(line["amount"])) for line in lines), Decimal(0))
