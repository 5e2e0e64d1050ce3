"""The shapes that cross the OCR area's edges: OCR text, extracted fields, settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
DOCUMENT_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


class OcrLine(BaseModel):
    """One line of text the engine read: its text, confidence (0-1) and where it is
    (x, y of its centre, height, and the slope of its baseline, in page pixels)."""

    text: str
    confidence: float = Field(ge=0, le=1)
    page: int = 0
    x: float = 0
    y: float = 0
    height: float = 0
    slope: float = 0


class OcrResult(BaseModel):
    """What an engine read off one document, page by page, in reading order."""

    engine: str
    lines: list[OcrLine]
    pages: int = 1
    text_layer: bool = False  # read from the PDF's own text, not from pixels


class Extracted(BaseModel):
    """The fields of a receipt or bill, each with its confidence (0-1; 0 = not found)."""

    vendor: str | None = None
    vat: str | None = None
    date: dt.date | None = None
    total: Decimal | None = None
    taxes: Decimal | None = None
    currency: str | None = None
    lines: list[dict[str, Any]] = Field(default_factory=list)
    confidence: dict[str, float] = Field(default_factory=dict)
    # a date like 03/04/2026 that the receipt's own clues did not settle (not stored)
    _date_ambiguous: bool = PrivateAttr(default=False)

    @property
    def date_ambiguous(self) -> bool:
        """Whether the date reads two ways (03/04/2026) and the receipt did not say which."""
        return self._date_ambiguous

    def low_fields(self, threshold: float) -> list[str]:
        """The fields a person must check: missing or read with less than ``threshold``."""
        needed = ("vendor", "date", "total", "currency")
        return [name for name in needed if self.confidence.get(name, 0.0) < threshold]


# withheld: a document someone else sent first, as a scan of the shared inbox answers it
# to another user (what became of it is the sender's and the admins' to know).
Status = Literal["created", "review", "rejected", "withheld"]


class FlowSettings(BaseModel):
    """How documents become expenses."""

    threshold: float = Field(
        default=0.9, ge=0, le=1, description="fields read with less confidence go to review"
    )
    employee_id: int | None = Field(default=None, description="the employee expenses are for")
    work_email: str | None = Field(default=None, description="else the employee by e-mail")


class Outcome(BaseModel):
    """What became of one document."""

    document_id: str
    filename: str
    status: Status
    reason: str | None = None
    fields: Extracted
    partner_id: int | None = None
    odoo_expense_id: int | None = None
    odoo_attachment_id: int | None = None
    uploaded_by: str | None = None
    reviewed_by: str | None = None
    ocr_seconds: float = 0.0
    seen_before: bool = False
