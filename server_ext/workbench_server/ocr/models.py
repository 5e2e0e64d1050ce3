"""The shapes that cross the OCR area's edges: OCR text, extracted fields, settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

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

    def low_fields(self, threshold: float) -> list[str]:
        """The fields a person must check: missing or read with less than ``threshold``."""
        needed = ("vendor", "date", "total", "currency")
        return [name for name in needed if self.confidence.get(name, 0.0) < threshold]
