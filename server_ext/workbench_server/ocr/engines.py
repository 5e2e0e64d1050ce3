"""OCR engines: read the lines of text off a receipt or bill.

The default, :class:`RapidOcrEngine`, runs offline: RapidOCR on onnxruntime with the
PP-OCR models that ship inside the ``rapidocr-onnxruntime`` wheel (nothing is downloaded
at run time; docs/ocr.md says why it was chosen). :class:`HttpOcrEngine` posts the
document to the company's own OCR service instead. PDFs are rendered with pypdfium2,
unless a page has a text layer, which is read as it is (exact, and much faster).
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import math
import threading
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..connections.egress import http_connection
from ..connections.kinds import OcrConfig
from ..errors import InvalidInputError
from .models import DOCUMENT_TYPES, MAX_DOCUMENT_BYTES, OcrLine, OcrResult

__all__ = [
    "HttpOcrEngine",
    "OcrEngine",
    "RapidOcrEngine",
    "default_engine",
    "document_pages",
    "engine_for",
]

MAX_PAGES = 5
RENDER_DPI = 200
# A page with at least this many characters in its text layer is read from it.
MIN_TEXT_LAYER = 20


class OcrEngine(Protocol):
    """Reads a document (bytes and its file name) into lines of text."""

    name: str

    def read(self, data: bytes, filename: str) -> OcrResult: ...


def suffix_of(filename: str) -> str:
    """The document's type by its file name; a clear error for anything else."""
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in DOCUMENT_TYPES:
        raise InvalidInputError(
            f"{filename}: only PDF, PNG and JPEG documents can be read (got {suffix or 'none'})"
        )
    return suffix


def document_pages(data: bytes, filename: str) -> tuple[list[Any], list[list[str]]]:
    """The pages of a document: images to OCR, and per page the text-layer lines (empty
    for a page that has to be read from its pixels)."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidInputError(f"{filename}: larger than {MAX_DOCUMENT_BYTES // 2**20} MB")
    suffix = suffix_of(filename)
    if suffix != ".pdf":
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise InvalidInputError(f"{filename}: not a readable image ({exc})") from None
        return [image.convert("RGB")], [[]]
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise InvalidInputError(f"{filename}: not a readable PDF ({exc})") from None
    images: list[Any] = []
    texts: list[list[str]] = []
    try:
        for index in range(min(len(pdf), MAX_PAGES)):
            page = pdf[index]
            text = page.get_textpage().get_text_range()
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if sum(len(line) for line in lines) >= MIN_TEXT_LAYER:
                images.append(None)
                texts.append(lines)
            else:
                bitmap = page.render(scale=RENDER_DPI / 72)
                images.append(bitmap.to_pil().convert("RGB"))
                texts.append([])
    finally:
        pdf.close()
    return images, texts


class RapidOcrEngine:
    """RapidOCR (PP-OCR models on onnxruntime), loaded once per process."""

    name = "rapidocr-onnxruntime"
    _lock = threading.Lock()
    _engine: Any = None

    @classmethod
    def _load(cls) -> Any:
        with cls._lock:
            if cls._engine is None:
                from rapidocr_onnxruntime import RapidOCR

                cls._engine = RapidOCR()
            return cls._engine

    def read_image(self, image: Any, page: int = 0) -> list[OcrLine]:
        """The lines RapidOCR finds on one page image."""
        import numpy as np

        engine = self._load()
        found, _elapsed = engine(np.asarray(image))
        lines = []
        for box, text, score in found or []:
            (x0, y0), (x1, y1), _, (x3, y3) = box[0], box[1], box[2], box[3]
            cx = sum(p[0] for p in box) / 4
            cy = sum(p[1] for p in box) / 4
            slope = (y1 - y0) / (x1 - x0) if x1 != x0 else 0.0
            height = math.hypot(x3 - x0, y3 - y0)
            lines.append(
                OcrLine(
                    text=str(text),
                    confidence=max(0.0, min(1.0, float(score))),
                    page=page,
                    x=float(cx),
                    y=float(cy),
                    height=float(height),
                    slope=float(slope),
                )
            )
        return lines

    def read(self, data: bytes, filename: str) -> OcrResult:
        images, texts = document_pages(data, filename)
        return _combine(self.name, images, texts, self.read_image)


def _combine(name: str, images: list[Any], texts: list[list[str]], read_image: Any) -> OcrResult:
    lines: list[OcrLine] = []
    for page, (image, text) in enumerate(zip(images, texts, strict=True)):
        if image is None:  # a text layer: one line per row, exact
            lines += [
                OcrLine(text=t, confidence=1.0, page=page, y=i * 20.0, height=10.0)
                for i, t in enumerate(text)
            ]
        else:
            lines += read_image(image, page)
    return OcrResult(
        engine=name,
        lines=lines,
        pages=len(images),
        text_layer=all(image is None for image in images),
    )


class HttpOcrEngine:
    """The company's OCR service (an ``ocr`` connection with ``engine: http``): the
    document goes out, lines of text come back. Connects to the address the network
    policy checked when the connection was pinned."""

    name = "http"

    def __init__(self, settings: OcrConfig) -> None:
        if settings.url is None:
            raise InvalidInputError("an http OCR engine needs the service's url")
        self.settings = settings

    def read(self, data: bytes, filename: str) -> OcrResult:
        s = self.settings
        content_type = DOCUMENT_TYPES[suffix_of(filename)]
        if len(data) > MAX_DOCUMENT_BYTES:
            raise InvalidInputError(f"{filename}: larger than {MAX_DOCUMENT_BYTES // 2**20} MB")
        if s.body == "json":
            body = json.dumps(
                {s.document_field: base64.b64encode(data).decode(), "filename": filename}
            ).encode()
            headers = {"Content-Type": "application/json"}
        else:
            body, headers = data, {"Content-Type": content_type}
        if s.token is not None:
            headers["Authorization"] = f"Bearer {s.token.get_secret_value()}"
        url = urlsplit(str(s.url))
        conn = http_connection(str(s.url), s._address, s.timeout_s)
        try:
            conn.request("POST", url.path + (f"?{url.query}" if url.query else ""), body, headers)
            response = conn.getresponse()
            if response.status >= 300:  # no redirects: they could lead anywhere
                raise InvalidInputError(
                    f"OCR service {s.url} answered HTTP {response.status} on {filename}"
                )
            reply = json.load(response)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise InvalidInputError(f"OCR service {s.url} failed on {filename}: {exc}") from None
        finally:
            conn.close()
        items: Any = reply
        for part in s.lines_path.split(".") if s.lines_path else []:
            items = items.get(part) if isinstance(items, dict) else None
        if not isinstance(items, list):
            raise InvalidInputError(
                f"OCR service {s.url}: its reply has no list at {s.lines_path!r}"
            )
        lines = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get(s.text_field), str):
                continue
            score = item.get(s.confidence_field, 1.0)
            score = float(score) / s.confidence_scale if isinstance(score, (int, float)) else 1.0
            lines.append(
                OcrLine(text=item[s.text_field], confidence=max(0.0, min(1.0, score)), y=i * 20.0)
            )
        return OcrResult(engine=self.name, lines=lines)


def engine_for(settings: OcrConfig | None) -> OcrEngine:
    """The engine an ``ocr`` connection names (None: the offline default)."""
    if settings is None or settings.engine == "rapidocr":
        return default_engine()
    return HttpOcrEngine(settings)


def default_engine() -> OcrEngine:
    """The offline engine."""
    return RapidOcrEngine()
