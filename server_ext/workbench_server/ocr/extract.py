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
_AMOUNT = re.compile(r"(?<!\d)\d{1,3}(?:[,. ]\d{3})*[.,]\d{2}(?!\d)|(?<!\d)\d+[.,]\d{2}(?!\d)")
_CURRENCIES = {"EUR": "EUR", "€": "EUR", "USD": "USD", "$": "USD", "GBP": "GBP", "£": "GBP",
               "CHF": "CHF", "SEK": "SEK", "DKK": "DKK", "NOK": "NOK", "PLN": "PLN"}  # fmt: skip
_CURRENCY = re.compile(r"(EUR|USD|GBP|CHF|SEK|DKK|NOK|PLN)|[€$£]")
_TOTAL = re.compile(r"total|amount\s*due|summe|gesamt", re.I)
_SUBTOTAL = re.compile(r"sub\s*-?\s*total|net\s+amount|untaxed", re.I)
# "Sales tax" read as "Salestax8.25%"; "taxi" is not a tax
_TAX = re.compile(r"(?:(?<![a-z])|sales)(?:vat|tax|mwst|ust|tva|iva)(?![a-z])", re.I)
# "VAT ID: DE123456789", "Tax ID 12-3456789", "USt-IdNr. DE ...", "BTW nr NL...": the label,
# then the id up to the end of its box (ids of every country: letters first or digits
# first). OCR drops the spaces and reads "Id" as "ld" ("USt-ldNr:DE636383989").
_VAT_ID = re.compile(
    r"(?:vat|tax|ust|tva|btw|gst|nif|rfc|mwst)[\s.-]*(?:[il]dnr|[il]d|nr|no|number|reg)?\.?\s*[:#]?\s*"
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


def parse_amount(text: str) -> Decimal | None:
    """``1,234.56`` / ``1.234,56`` / ``12.50`` -> Decimal; the last separator is the
    decimal one (receipts always print cents)."""
    cleaned = text.replace(" ", "")
    if len(cleaned) < 4:
        return None
    whole, cents = cleaned[:-3], cleaned[-2:]
    whole = re.sub(r"[.,]", "", whole)
    try:
        return Decimal(f"{whole}.{cents}")
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


def _amounts(text: str) -> list[Decimal]:
    """The amounts on a row, with their sign: a refund's total is negative."""
    found = []
    for m in _AMOUNT.finditer(text):
        value = parse_amount(m.group())
        if value is None:
            continue
        if _MINUS_BEFORE.search(text[: m.start()]) or _MINUS_AFTER.match(text[m.end() :]):
            value = -value
        found.append(value)
    return found


def _date_in(text: str) -> date | None:
    for pattern, order in ((_ISO, (0, 1, 2)), (_DMY, (2, 1, 0))):
        match = pattern.search(text)
        if match:
            parts = [int(g) for g in match.groups()]
            try:
                return date(parts[order[0]], parts[order[1]], parts[order[2]])
            except ValueError:
                continue
    return None


def extract_fields(result: OcrResult) -> Extracted:
    """The fields of the document ``result`` was read from."""
    rows = rows_of(result.lines)
    out = Extracted()
    conf: dict[str, float] = {}
    for text, score, _ in rows:
        vendor_like = re.search(r"[A-Za-z]{3}", text) and "%" not in text
        if vendor_like and not _NOT_VENDOR.search(text) and not _amounts(text):
            out.vendor, conf["vendor"] = text.strip(), score
            break
    subtotal: Decimal | None = None
    for text, score, _ in rows:
        if out.vat is None and (vat := _vat_in(text)):
            out.vat, conf["vat"] = vat, score
        if out.date is None and _DATE_LABEL.search(text) and (d := _date_in(text)):
            out.date, conf["date"] = d, score
        amounts = _amounts(text)
        if _SUBTOTAL.search(text) and amounts:
            subtotal = amounts[-1]
        elif _TOTAL.search(text) and amounts:
            out.total, conf["total"] = amounts[-1], score
            if c := _CURRENCY.search(text):
                out.currency, conf["currency"] = _CURRENCIES[c.group(0)], score
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
    if out.date is None:  # no labelled date: the first date anywhere, less sure
        for text, score, _ in rows:
            if d := _date_in(text):
                out.date, conf["date"] = d, score * 0.8
                break
    if out.currency is None:
        for text, score, _ in rows:
            if c := _CURRENCY.search(text):
                out.currency, conf["currency"] = _CURRENCIES[c.group(0)], score * 0.8
                break
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
