"""What the ``rag`` step kind reads: its sources (lake tables, folders of documents,
OCR'd receipts) and how a table row becomes text (a template or chosen columns).

The step model itself is :class:`~.spec_steps.RagStep`; the step runs in the worker
(``workbench_pipelines.ingest.rag``), see docs/rag.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from .spec_types import LAYERS, ColumnName, LakeTable, custom_error

REDACTIONS = ("email", "iban", "phone")
DOCUMENT_SUFFIXES = (".pdf", ".md", ".markdown", ".txt")
MAX_TEMPLATE_CHARS = 8000
# {column} (a column's value); {{ and }} are literal braces. Nothing else is a field:
# str.format's {x.attr} and {x[0]} would reach into the values' objects.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def template_fields(template: str) -> list[str]:
    """The columns a template names, in order; ValueError for a brace out of place."""
    fields: list[str] = []
    for match in PLACEHOLDER.finditer(template):
        text = match.group(0)
        if text in ("{{", "}}"):
            continue
        name = match.group(1)
        if name is None or not _FIELD.fullmatch(name.strip()):
            shown = text if name is None else "{" + name + "}"
            raise ValueError(
                f"template: {shown!r} is not a column placeholder: write {{column}} with a "
                "column's name, and {{ or }} for a literal brace"
            )
        fields.append(name.strip())
    return fields


def render_template(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{column}`` replaced by its value's text."""

    def sub(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in ("{{", "}}"):
            return text[0]
        return values.get((match.group(1) or "").strip(), "")

    return PLACEHOLDER.sub(sub, template)


def _template(value: str) -> str:
    try:
        template_fields(value)
    except ValueError as exc:
        raise custom_error("rag_template", str(exc)) from None
    return value


def _folder(value: str) -> str:
    parts = value.strip("/").split("/")
    if (
        value.startswith(("/", "\\"))
        or "\\" in value
        or any(p in ("", ".", "..") for p in parts)
        or not all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\- ]{0,127}", p) for p in parts)
    ):
        raise custom_error(
            "rag_folder",
            f"documents {value!r}: write a folder inside the lake, relative to its root, "
            "e.g. docs/handbook (letters, digits, _, -, . and spaces; no ..)",
        )
    if parts[0] in LAYERS:
        raise custom_error(
            "rag_folder",
            f"documents {value!r}: {parts[0]}/ holds the lake's tables; a table is read "
            "with table: layer.name",
        )
    return value.strip("/")


LakeFolder = Annotated[
    str,
    AfterValidator(_folder),
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.\- /]*$"}),
]
Template = Annotated[str, AfterValidator(_template)]


class RagSource(BaseModel):
    """One source of text: a lake table (a row is a text), a folder of documents in the
    lake (a file is a text: PDF, Markdown, plain text) or the OCR'd receipts."""

    model_config = ConfigDict(extra="forbid")

    table: LakeTable | None = Field(None, description="A lake table, e.g. silver.res_partner.")
    documents: LakeFolder | None = Field(
        None,
        description="A folder of the lake (e.g. docs/handbook): its .pdf, .md, .markdown "
        "and .txt files, sub-folders included.",
    )
    receipts: bool = Field(
        False,
        description="The OCR'd receipts and bills: each document's text as OCR read it "
        "(bronze.ocr_documents), with its fields from silver.ocr_expenses.",
    )
    keys: list[ColumnName] = Field(
        default_factory=lambda: ["id"], min_length=1, description="A table's key columns."
    )
    template: Template | None = Field(
        None,
        max_length=MAX_TEMPLATE_CHARS,
        description="A table row's text, with {column} for a column's value ({{ and }} for "
        "braces), e.g. '{name} ({city}): {comment}'.",
    )
    columns: list[ColumnName] | None = Field(
        None,
        min_length=1,
        description="A table row's text as 'column: value' lines of these columns "
        "(default, without template: every column but the keys and those starting with _).",
    )
    include_pii: bool = Field(
        False,
        description="Keep columns tagged pii in the catalog in the text (the pipeline's "
        "owner must be allowed to see them); default: they are left out.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> RagSource:
        given = [
            name
            for name, on in (
                ("table", self.table is not None),
                ("documents", self.documents is not None),
                ("receipts", self.receipts),
            )
            if on
        ]
        if len(given) != 1:
            raise custom_error(
                "rag_source",
                "give one of table, documents or receipts: true"
                + (f" (this source gives {' and '.join(given)})" if given else ""),
            )
        if self.table is None:
            # By value, not by what was written: a spec read back from its JSON (a
            # deployed version) carries every field with its default.
            extra = [
                name
                for name, given in (
                    ("template", self.template is not None),
                    ("columns", self.columns is not None),
                    ("keys", self.keys != ["id"]),
                    ("include_pii", self.include_pii),
                )
                if given
            ]
            if extra:
                raise custom_error(
                    "rag_source", f"{', '.join(extra)} go with a table source, not {given[0]}"
                )
        if self.template is not None and self.columns is not None:
            raise custom_error("rag_source", "give either template or columns, not both")
        return self

    @property
    def label(self) -> str:
        """How chunks name their source: the table, ``documents:<folder>`` or ``receipts``."""
        if self.table is not None:
            return self.table
        if self.documents is not None:
            return f"documents:{self.documents}"
        return "receipts"


Redaction = Literal["email", "iban", "phone"]
