"""One document through the whole flow: OCR, fields, matching, expense or review.

Bronze (``bronze.ocr_documents``) keeps each file once, by its SHA-256, with its SHA-1
(Odoo's attachment checksum), where it came from and the raw OCR. Silver
(``silver.ocr_expenses``) keeps one row per document: the fields and their
confidences, what matched in Odoo, the status (``created``, ``review``, ``rejected``)
and the Odoo ids: the lineage from the document to its ``hr.expense`` and
``ir.attachment``. A document seen again is not read again: its silver row answers.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from ..connections.odoo import OdooClient, OdooError
from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..lake.location import LakeLocation
from ..lake.models import WriterInfo
from ..lake.tables import is_delta, open_table
from ..lake.writes import write
from .engines import OcrEngine, suffix_of
from .extract import extract_fields
from .models import (
    DOCUMENT_TYPES,
    MAX_DOCUMENT_BYTES,
    Extracted,
    FlowSettings,
    Outcome,
)
from .odoo_expenses import ExpenseDraft, Matches, countries, create_expense, match

__all__ = ["BRONZE", "SILVER", "FlowSettings", "Outcome", "approve", "process_document",
           "reject", "review_queue", "scan_lake_inbox"]  # fmt: skip

BRONZE = "bronze.ocr_documents"
SILVER = "silver.ocr_expenses"
_MONEY = pa.decimal128(16, 2)
_SILVER_SCHEMA = pa.schema(
    [
        ("document_id", pa.string()),
        ("file_name", pa.string()),
        ("source", pa.string()),
        ("vendor", pa.string()),
        ("vat", pa.string()),
        ("date", pa.date32()),
        ("total", _MONEY),
        ("taxes", _MONEY),
        ("currency", pa.string()),
        ("lines", pa.string()),
        ("confidence", pa.string()),
        ("partner_id", pa.int64()),
        ("partner_name", pa.string()),
        ("partner_by", pa.string()),
        ("employee_id", pa.int64()),
        ("product_id", pa.int64()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("odoo_expense_id", pa.int64()),
        ("odoo_attachment_id", pa.int64()),
        ("uploaded_by", pa.string()),
        ("reviewed_by", pa.string()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
_BRONZE_SCHEMA = pa.schema(
    [
        ("document_id", pa.string()),  # SHA-256 of the file
        ("sha1", pa.string()),  # what Odoo's ir.attachment.checksum holds
        ("file_name", pa.string()),
        ("source", pa.string()),
        ("mimetype", pa.string()),
        ("size", pa.int64()),
        ("content", pa.binary()),
        ("engine", pa.string()),
        ("ocr", pa.string()),  # the engine's lines, boxes and scores as JSON
        ("ocr_seconds", pa.float64()),
        ("received_at", pa.timestamp("us", tz="UTC")),
        ("uploaded_by", pa.string()),
    ]
)
# One document at a time through matching and creation: the same file uploaded twice at
# once must not make two expenses (Odoo's external API has no unique constraint for it).
_DOCUMENT_LOCK = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC)


def _where(table: pa.Table, column: str, value: str) -> pa.Table:
    # Filtered after reading: delta-rs's own filters= found no rows in tables the lake's
    # merge had written (its file statistics skip them), so it is not trusted here.
    return table.filter(pc.equal(table[column], value))


def _silver_row(location: LakeLocation, document_id: str) -> dict[str, Any] | None:
    if not is_delta(location, SILVER):
        return None
    rows = _where(open_table(location, SILVER).to_pyarrow_table(), "document_id", document_id)
    return rows.to_pylist()[0] if rows.num_rows else None


def _bronze_row(location: LakeLocation, document_id: str) -> dict[str, Any]:
    if is_delta(location, BRONZE):
        rows = _where(open_table(location, BRONZE).to_pyarrow_table(), "document_id", document_id)
        if rows.num_rows:
            return rows.to_pylist()[0]
    raise NotFoundError(f"no document {document_id} in {BRONZE}")


def _fields_of(row: dict[str, Any]) -> Extracted:
    return Extracted(
        vendor=row["vendor"], vat=row["vat"], date=row["date"], total=row["total"],
        taxes=row["taxes"], currency=row["currency"], lines=json.loads(row["lines"] or "[]"),
        confidence=json.loads(row["confidence"] or "{}"),
    )  # fmt: skip


def _outcome(row: dict[str, Any], seen_before: bool = False) -> Outcome:
    return Outcome(
        document_id=row["document_id"], filename=row["file_name"], status=row["status"],
        reason=row["reason"], fields=_fields_of(row), partner_id=row["partner_id"],
        odoo_expense_id=row["odoo_expense_id"], odoo_attachment_id=row["odoo_attachment_id"],
        uploaded_by=row["uploaded_by"], reviewed_by=row["reviewed_by"], seen_before=seen_before,
    )  # fmt: skip


def _write_silver(location: LakeLocation, row: dict[str, Any], user: str | None) -> None:
    write(
        location, SILVER, pa.Table.from_pylist([row], schema=_SILVER_SCHEMA), mode="merge",
        keys=["document_id"], writer=WriterInfo.from_env(tool="ocr", user=user),
    )  # fmt: skip


def _decide(fields: Extracted, found: Matches, settings: FlowSettings) -> str | None:
    """Why the document needs a person, or None when it can go to Odoo by itself."""
    if fields.total is not None and fields.total <= 0:
        # a refund or credit note: made by itself, it paid the employee back its amount
        return f"total {fields.total} is not an amount to pay back (a refund or credit note?)"
    if fields.date_ambiguous and fields.date is not None:
        day = fields.date
        other = date(day.year, day.day, day.month)  # the reading with day and month swapped
        return f"date {day:%-d %B %Y} may be {other:%-d %B %Y}: the receipt does not say which"
    low = fields.low_fields(settings.threshold)
    if low:
        return "low confidence or missing: " + ", ".join(low)
    if found.partner_id is None:
        return f"no partner in Odoo for vendor {fields.vendor!r} (VAT {fields.vat or 'none'})"
    if found.employee_id is None:
        return "no employee in Odoo for the expense (set employee_id or work_email)"
    if found.product_id is None:
        return "no expensable product in Odoo (product.template can_be_expensed)"
    if found.duplicate_of is not None:
        return f"same vendor, date and amount as expense {found.duplicate_of}"
    return None


def _fits_silver(name: str, fields: Extracted) -> None:
    """Refuse, naming it, an amount silver's DECIMAL(16,2) cannot hold exactly (12.345 KWD:
    three decimals): never a rounded total."""
    for label in ("total", "taxes"):
        value = getattr(fields, label)
        if value is not None and value != value.quantize(Decimal("0.01")):
            raise InvalidInputError(
                f"{name}: {label} {value} {fields.currency or ''} has three decimals, which"
                " the expense table (two decimals) cannot keep yet"
            )


def process_document(
    location: LakeLocation,
    data: bytes,
    filename: str,
    engine: OcrEngine,
    client: OdooClient,
    settings: FlowSettings,
    *,
    source: str = "upload",
    user: str | None = None,
) -> Outcome:
    """Read, extract, match and, when sure enough, create the expense for one document."""
    name = Path(filename).name
    suffix_of(name)  # a clear error for a file that is not a PDF, PNG or JPEG
    if not data:
        raise InvalidInputError(f"{name}: the file is empty")
    document_id = hashlib.sha256(data).hexdigest()
    with _DOCUMENT_LOCK:
        known = _silver_row(location, document_id)
        if known is not None:  # named as sent this time (the first name may be another's)
            return _outcome({**known, "file_name": name}, seen_before=True)
        started = time.perf_counter()
        result = engine.read(data, name)
        seconds = time.perf_counter() - started
        sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        bronze = pa.Table.from_pylist(
            [
                {
                    "document_id": document_id,
                    "sha1": sha1,
                    "file_name": name,
                    "source": source,
                    "mimetype": DOCUMENT_TYPES[suffix_of(name)],
                    "size": len(data),
                    "content": data,
                    "engine": result.engine,
                    "ocr": result.model_dump_json(),
                    "ocr_seconds": seconds,
                    "received_at": _now(),
                    "uploaded_by": user,
                }
            ],
            schema=_BRONZE_SCHEMA,
        )
        write(location, BRONZE, bronze, mode="merge", keys=["document_id"],
              writer=WriterInfo.from_env(tool="ocr", user=user))  # fmt: skip
        fields = extract_fields(result)
        if fields.date_ambiguous:  # 03/04/2026 and nothing on the receipt says which
            vendor_country, company_country = countries(
                client, fields.vat, fields.vendor, settings.employee_id
            )
            fields = extract_fields(
                result, vendor_country=vendor_country, company_country=company_country
            )
        _fits_silver(name, fields)
        row = _run(location, client, settings, document_id, name, sha1, data, fields, user)
        row["source"] = source
        _write_silver(location, row, user)
        outcome = _outcome(row)
        outcome.ocr_seconds = seconds
        return outcome


def _run(
    location: LakeLocation,
    client: OdooClient,
    settings: FlowSettings,
    document_id: str,
    filename: str,
    sha1: str,
    data: bytes,
    fields: Extracted,
    user: str | None,
    reviewed_by: str | None = None,
) -> dict[str, Any]:
    """Match ``fields`` and create the expense unless a person must look: the silver row."""
    found = match(client, fields, work_email=settings.work_email, employee_id=settings.employee_id)
    reason = _decide(fields, found, settings) if reviewed_by is None else None
    if reviewed_by is not None:  # a person approved: only what Odoo needs must be there
        missing = [n for n in ("date", "total", "currency") if getattr(fields, n) is None]
        if missing or found.partner_id is None or found.employee_id is None:
            raise InvalidInputError(
                f"{filename}: cannot approve without "
                + ", ".join(
                    missing
                    + [
                        n
                        for n, v in (
                            ("a partner matched by VAT or vendor", found.partner_id),
                            ("an employee", found.employee_id),
                        )
                        if v is None
                    ]
                )
            )
        if found.product_id is None:
            raise InvalidInputError("no expensable product in Odoo (can_be_expensed)")
    row: dict[str, Any] = {
        "document_id": document_id, "file_name": filename, "source": None,
        "vendor": fields.vendor, "vat": fields.vat, "date": fields.date,
        "total": fields.total, "taxes": fields.taxes, "currency": fields.currency,
        "lines": json.dumps(fields.lines), "confidence": json.dumps(fields.confidence),
        "partner_id": found.partner_id, "partner_name": found.partner_name,
        "partner_by": found.partner_by, "employee_id": found.employee_id,
        "product_id": found.product_id, "status": "review", "reason": reason,
        "odoo_expense_id": None, "odoo_attachment_id": None, "uploaded_by": user,
        "reviewed_by": reviewed_by, "updated_at": _now(),
    }  # fmt: skip
    if reason is not None:
        return row
    assert fields.date and fields.total is not None and fields.currency  # by _decide
    first_line = fields.lines[0]["description"] if fields.lines else filename
    draft = ExpenseDraft(
        name=f"{found.partner_name}: {first_line}",
        date=fields.date, total=fields.total, taxes=fields.taxes, currency=fields.currency,
        employee_id=int(found.employee_id or 0), product_id=int(found.product_id or 0),
        partner_name=str(found.partner_name), filename=filename, content=data, sha1=sha1,
        mimetype=DOCUMENT_TYPES[suffix_of(filename)], reference=f"{location.name}:{document_id}",
    )  # fmt: skip
    try:
        expense_id, attachment_id, _created = create_expense(client, draft)
    except ConflictError as exc:
        row["reason"] = str(exc)
        return row
    row.update(status="created", odoo_expense_id=expense_id, odoo_attachment_id=attachment_id)
    return row


def review_queue(location: LakeLocation) -> list[Outcome]:
    """Documents waiting for a person, oldest first."""
    if not is_delta(location, SILVER):
        return []
    rows = _where(open_table(location, SILVER).to_pyarrow_table(), "status", "review")
    return [_outcome(r) for r in sorted(rows.to_pylist(), key=lambda r: r["updated_at"])]


def document(location: LakeLocation, document_id: str) -> tuple[Outcome, bytes, str]:
    """A document's outcome, its file and content type."""
    row = _silver_row(location, document_id)
    if row is None:
        raise NotFoundError(f"no document {document_id}")
    bronze = _bronze_row(location, document_id)
    return _outcome(row), bronze["content"], bronze["mimetype"]


def approve(
    location: LakeLocation,
    client: OdooClient,
    settings: FlowSettings,
    document_id: str,
    edits: dict[str, Any],
    user: str,
) -> Outcome:
    """A person approves a document in review, with the fields they corrected."""
    with _DOCUMENT_LOCK:
        row = _silver_row(location, document_id)
        if row is None:
            raise NotFoundError(f"no document {document_id}")
        if row["status"] != "review":
            raise ConflictError(f"{row['file_name']} is {row['status']}, not waiting for review")
        bronze = _bronze_row(location, document_id)
        fields = _fields_of(row)
        allowed = {"vendor", "vat", "date", "total", "taxes", "currency"}
        unknown = sorted(set(edits) - allowed)
        if unknown:
            raise InvalidInputError(f"cannot edit {', '.join(unknown)}: only {sorted(allowed)}")
        merged = fields.model_dump() | edits
        try:
            fields = Extracted.model_validate(merged)
        except ValidationError as exc:  # each field named with what was given, not pydantic's dump
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])} {error.get('input')!r}: "
                f"{error['msg'][:1].lower()}{error['msg'][1:]}"
                for error in exc.errors()
            )
            raise InvalidInputError(f"{row['file_name']}: {problems}") from None
        except ValueError as exc:
            raise InvalidInputError(f"{row['file_name']}: {exc}") from None
        for name in edits:
            fields.confidence[name] = 1.0  # a person typed it
        try:
            new = _run(
                location,
                client,
                settings,
                document_id,
                row["file_name"],
                bronze["sha1"],
                bronze["content"],
                fields,
                row["uploaded_by"],
                reviewed_by=user,
            )
        except OdooError as exc:
            raise InvalidInputError(f"Odoo refused: {exc}") from None
        new["source"] = row["source"]
        _write_silver(location, new, user)
        return _outcome(new)


def reject(location: LakeLocation, document_id: str, reason: str, user: str) -> Outcome:
    """A person rejects a document in review; no expense is made."""
    if not reason.strip():
        raise InvalidInputError("say why the document is rejected")
    with _DOCUMENT_LOCK:
        row = _silver_row(location, document_id)
        if row is None:
            raise NotFoundError(f"no document {document_id}")
        if row["status"] != "review":
            raise ConflictError(f"{row['file_name']} is {row['status']}, not waiting for review")
        row.update(status="rejected", reason=reason.strip()[:500], reviewed_by=user,
                   updated_at=_now())  # fmt: skip
        _write_silver(location, row, user)
        return _outcome(row)


INBOX = "inbox/receipts"


def scan_lake_inbox(
    location: LakeLocation,
    engine: OcrEngine,
    client: OdooClient,
    settings: FlowSettings,
    *,
    user: str | None = None,
    limit: int = 200,
) -> list[Outcome]:
    """Every PDF, PNG and JPEG in the lake's ``inbox/receipts/`` (a folder of a local lake,
    a prefix of an S3 one), by name; files already processed are answered from silver."""
    from pyarrow.fs import FileSelector, FileType

    fs, root = location.filesystem()
    found = fs.get_file_info(FileSelector(f"{root}/{INBOX}", allow_not_found=True))
    files = sorted(
        (info for info in found if info.type == FileType.File
         and Path(info.base_name).suffix.lower() in DOCUMENT_TYPES),
        key=lambda info: info.base_name,
    )  # fmt: skip
    outcomes = []
    for info in files[:limit]:
        if info.size is not None and info.size > MAX_DOCUMENT_BYTES:
            raise InvalidInputError(f"{INBOX}/{info.base_name}: larger than 20 MB")
        with fs.open_input_stream(info.path) as stream:
            data = stream.read()
        outcomes.append(
            process_document(
                location,
                data,
                info.base_name,
                engine,
                client,
                settings,
                source=f"inbox:{info.base_name}",
                user=user,
            )
        )
    return outcomes


def money(value: Decimal | None) -> str | None:
    """A Decimal as its exact text (JSON has no decimal type)."""
    return None if value is None else f"{value:.2f}"
