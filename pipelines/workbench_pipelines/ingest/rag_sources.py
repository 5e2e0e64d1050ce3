"""The texts a rag step cuts into chunks: one per table row, document file or receipt.

A table is read as of its version when the step starts (recorded as read). Columns the
catalog tags ``pii`` are left out of a row's text (a template's placeholder for one
reads ``[pii]``) unless the source says ``include_pii`` and the pipeline's owner may see
them (the lake connection's owner, an admin, ``pii-readers``). Documents are read through
the lake's own filesystem (a folder or an S3 prefix): PDFs by their text layer
(pypdfium2; a scanned PDF without one gives no text and is reported), Markdown and text
as UTF-8. Receipts are the OCR's lines of ``bronze.ocr_documents`` with the fields
``silver.ocr_expenses`` holds for them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from workbench_server.errors import InvalidInputError, PermissionDeniedError

from ..spec_rag import DOCUMENT_SUFFIXES, RagSource, render_template, template_fields
from .context import StepContext, require_table

if TYPE_CHECKING:
    from workbench_server.lake import Lake

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_DOCUMENTS = 10_000
RECEIPTS_BRONZE = "bronze.ocr_documents"
RECEIPTS_SILVER = "silver.ocr_expenses"
RECEIPT_FIELDS = ("file_name", "vendor", "date", "total", "currency", "status")
PII_PLACEHOLDER = "[pii]"


@dataclass
class SourceText:
    """One text to cut: where it came from, its key, the text, its metadata."""

    source: str
    key: str
    text: str
    version: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceRead:
    """What reading one source gave: its texts, and what the step should tell."""

    texts: list[SourceText]
    columns: list[str] = field(default_factory=list)  # columns whose values are in the text
    pii_left_out: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files not read, with why
    tables: list[str] = field(default_factory=list)  # lake tables read


def read_source(ctx: StepContext, lake: Lake, source: RagSource, step: str) -> SourceRead:
    if source.table is not None:
        return _table(ctx, lake, source, step)
    if source.documents is not None:
        return _documents(ctx, lake, source.documents, step)
    return _receipts(ctx, lake, step)


# -- tables -------------------------------------------------------------------------------
def _table(ctx: StepContext, lake: Lake, source: RagSource, step: str) -> SourceRead:
    table = str(source.table)
    version = require_table(lake, table, f"rag step {step}: source")
    ctx.read(lake, table, version)
    available = lake.read(table, version=version, where="false").schema.names
    wanted = (
        template_fields(source.template)
        if source.template is not None
        else source.columns or [c for c in available if c not in source.keys and c[:1] != "_"]
    )
    missing = [c for c in dict.fromkeys([*source.keys, *wanted]) if c not in available]
    if missing:
        raise InvalidInputError(
            f"rag step {step}: {table} has no column(s) {', '.join(missing)} "
            f"(it has {', '.join(available)})"
        )
    pii = pii_columns(ctx, lake, table, available)
    if source.include_pii and pii and not _may_see_pii(ctx, lake):
        raise PermissionDeniedError(
            f"rag step {step}: include_pii on {table} is for those who may see its pii "
            f"columns ({', '.join(sorted(pii))}): the owner of lake {lake.name!r}, admins "
            "and pii-readers"
        )
    pii_keys = [k for k in source.keys if k in pii]
    if pii_keys and not source.include_pii:
        # A key is each chunk's source_key and metadata: it cannot be left out or masked.
        raise InvalidInputError(
            f"rag step {step}: keys of {table} include {', '.join(pii_keys)}, tagged pii, "
            "which each chunk would hold as its source_key: key by columns that are not pii "
            "(e.g. id), or set include_pii: true on the source (for those who may see pii)"
        )
    left_out = [] if source.include_pii else [c for c in dict.fromkeys(wanted) if c in pii]
    used = [c for c in dict.fromkeys(wanted) if c not in left_out]
    upstream = upstream_of(ctx, lake, table)
    base = {
        "kind": "table",
        "table": table,
        "lake": lake.name,
        "columns": used,
        "upstream": upstream,
        **({"pii_left_out": left_out} if left_out else {}),
        # Kept on request (include_pii): said in each chunk, for whoever reads it later.
        **(
            {"pii_included": kept}
            if (kept := [c for c in dict.fromkeys([*source.keys, *used]) if c in pii])
            else {}
        ),
    }
    texts: list[SourceText] = []
    read = list(dict.fromkeys([*source.keys, *used]))
    for batch in lake.reader(table, version=version, columns=read):
        ctx.progress.check()
        for row in batch.to_pylist():
            key = ",".join(f"{k}={_text(row[k])}" for k in source.keys)
            values = {c: _text(row.get(c)) for c in used} | dict.fromkeys(left_out, PII_PLACEHOLDER)
            if source.template is not None:
                text = render_template(source.template, values)
            else:
                text = "\n".join(
                    f"{c}: {values[c]}" for c in wanted if c in values and row.get(c) is not None
                )
            keys = {k: _json(row[k]) for k in source.keys}
            texts.append(SourceText(table, key, text, version, {**base, "key": keys}))
    return SourceRead(texts, used, left_out, tables=[table])


def pii_columns(ctx: StepContext, lake: Lake, table: str, actual: list[str]) -> set[str]:
    """The columns of ``table`` the catalog tags pii (a table or column it has not seen
    yet is scanned, or judged by the scan's own rules)."""
    from workbench_server.catalog import CatalogService
    from workbench_server.catalog.default_lake import ensure_default_lake
    from workbench_server.catalog.pii import PiiRules
    from workbench_server.errors import NotFoundError

    layer, name = table.split(".")
    catalog = CatalogService(ctx.workbench, ctx.principal)
    if lake.name == "lake":
        ensure_default_lake(ctx.workbench)
    detail = None
    for attempt in range(2):
        try:
            detail = catalog.find(lake.name, layer, name)
            break
        except NotFoundError:
            if attempt == 0:
                try:
                    catalog.scan(lake.name, tables=[table])
                except Exception:  # a scan racing another: the rules below still decide
                    log.info("catalog scan of %s failed", table, exc_info=True)
    tagged = set()
    known: set[str] = set()
    if detail is not None:
        known = {c.name for c in detail.columns}
        tagged = {
            c.name
            for c in detail.columns
            if c.dropped_at is None and "pii" in {*(c.tags or []), *(c.auto_tags or [])}
        }
    rules = PiiRules.from_settings(ctx.workbench.settings)
    return tagged | {c for c in actual if c not in known and rules.tags(f"{layer}_{name}", c)}


def _may_see_pii(ctx: StepContext, lake: Lake) -> bool:
    from workbench_server.catalog import CatalogService

    catalog = CatalogService(ctx.workbench, ctx.principal)
    return catalog.may_see_pii(catalog.access.connection(lake.name))


def upstream_of(ctx: StepContext, lake: Lake, table: str) -> list[str]:
    """The datasets ``table`` was made from, as lineage recorded them (never fails)."""
    try:
        from workbench_server.lineage.service import LineageService

        graph = LineageService(ctx.workbench, ctx.principal).graph(
            lake.name, table, direction="upstream", depth=5
        )
        names = {f"{d.namespace}.{d.name}" for d in graph.datasets}
        return sorted(names - {f"{lake.name}.{table}"})
    except Exception:
        log.info("lineage of %s not read", table, exc_info=True)
        return []


# -- documents ----------------------------------------------------------------------------
def _documents(ctx: StepContext, lake: Lake, folder: str, step: str) -> SourceRead:
    from pyarrow.fs import FileSelector, FileType

    fs, root = lake.location.filesystem()
    base = f"{root.rstrip('/')}/{folder}"
    found = fs.get_file_info(FileSelector(base, recursive=True, allow_not_found=True))
    files = sorted(
        (
            info
            for info in found
            if info.type == FileType.File
            and PurePosixPath(info.base_name).suffix.lower() in DOCUMENT_SUFFIXES
        ),
        key=lambda info: info.path,
    )
    if len(files) > MAX_DOCUMENTS:
        raise InvalidInputError(
            f"rag step {step}: documents {folder} holds {len(files)} files, more than "
            f"{MAX_DOCUMENTS}: split it into several sources"
        )
    label = f"documents:{folder}"
    texts: list[SourceText] = []
    skipped: list[str] = []
    for info in files:
        ctx.progress.check()
        relative = info.path[len(base) :].lstrip("/")
        if not lake.location.is_s3 and not _inside(info.path, root):
            skipped.append(f"{relative}: a link to outside the lake")
            continue
        if info.size is not None and info.size > MAX_DOCUMENT_BYTES:
            skipped.append(f"{relative}: larger than {MAX_DOCUMENT_BYTES // 2**20} MB")
            continue
        with fs.open_input_stream(info.path) as stream:
            data = stream.read()
        try:
            text, pages = document_text(relative, data)
        except ValueError as exc:
            skipped.append(f"{relative}: {exc}")
            continue
        if not text.strip():
            skipped.append(f"{relative}: no text (a scanned PDF? OCR it through the inbox)")
            continue
        metadata = {
            "kind": "document",
            "folder": folder,
            "path": f"{folder}/{relative}",
            "lake": lake.name,
            "sha256": hashlib.sha256(data).hexdigest(),
            **({"pages": pages} if pages else {}),
        }
        texts.append(SourceText(label, relative, text, None, metadata))
    return SourceRead(texts, skipped=skipped)


def _inside(path: str, root: str) -> bool:
    """Whether a local file really is below the lake's folder: a symbolic link in it
    could otherwise hand the worker's files (its key, its home) to the chunks."""
    import os

    real, top = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, top]) == top


def document_text(name: str, data: bytes) -> tuple[str, int | None]:
    """A document's text, and its page count for a PDF; ValueError if it cannot be read."""
    if name.lower().endswith(".pdf"):
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise ValueError(f"not a readable PDF ({exc})") from None
        try:
            pages = []
            for page in pdf:
                pages.append(page.get_textpage().get_text_range().replace("\r\n", "\n"))
            return "\n\n".join(p.strip() for p in pages if p.strip()), len(pages)
        finally:
            pdf.close()
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


# -- receipts -----------------------------------------------------------------------------
def _receipts(ctx: StepContext, lake: Lake, step: str) -> SourceRead:
    version = require_table(lake, RECEIPTS_BRONZE, f"rag step {step}: receipts")
    ctx.read(lake, RECEIPTS_BRONZE, version)
    fields: dict[str, dict[str, Any]] = {}
    tables = [RECEIPTS_BRONZE]
    if lake.exists(RECEIPTS_SILVER):
        silver_version = lake.version(RECEIPTS_SILVER)
        ctx.read(lake, RECEIPTS_SILVER, silver_version)
        tables.append(RECEIPTS_SILVER)
        for row in lake.read(
            RECEIPTS_SILVER, version=silver_version, columns=["document_id", *RECEIPT_FIELDS]
        ).to_pylist():
            fields[row["document_id"]] = {k: _json(row[k]) for k in RECEIPT_FIELDS}
    texts: list[SourceText] = []
    for batch in lake.reader(
        RECEIPTS_BRONZE, version=version, columns=["document_id", "file_name", "ocr"]
    ):
        ctx.progress.check()
        for row in batch.to_pylist():
            lines = _ocr_lines(row["ocr"])
            if not lines:
                continue
            metadata = {
                "kind": "receipt",
                "document_id": row["document_id"],
                "lake": lake.name,
                "file_name": row["file_name"],
                **fields.get(row["document_id"], {}),
            }
            texts.append(
                SourceText("receipts", row["document_id"], "\n".join(lines), version, metadata)
            )
    return SourceRead(texts, tables=tables)


def _ocr_lines(raw: str | None) -> list[str]:
    try:
        result = json.loads(raw or "{}")
    except ValueError:
        return []
    lines = result.get("lines") if isinstance(result, dict) else None
    return [
        str(line["text"]).strip()
        for line in lines or []
        if isinstance(line, dict) and str(line.get("text") or "").strip()
    ]


# -- values as text -------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return "<binary>"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _text(value)


def iter_texts(reads: list[SourceRead]) -> Iterator[SourceText]:
    for read in reads:
        yield from read.texts
