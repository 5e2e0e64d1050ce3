"""What the catalog answers and accepts: pydantic models at its REST, CLI and kernel edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Tag = str


class ColumnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    position: int
    data_type: str
    nullable: bool
    default: str | None
    primary_key: bool
    references: str | None
    comment: str | None
    label: str | None
    help: str | None
    odoo_type: str | None
    relation: str | None
    company_dependent: bool = False
    selection: list[list[str]]
    module: str | None
    auto_tags: list[str]
    description: str | None
    tags: list[str]
    dropped_at: datetime | None


class ChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    change: str
    column: str | None
    old: str | None
    new: str | None
    at: datetime
    scan_id: int | None


class TableOut(BaseModel):
    id: int
    connection: str
    schema_name: str = Field(serialization_alias="schema")
    name: str
    kind: str
    layer: str | None
    label: str | None
    odoo_model: str | None
    module: str | None
    row_estimate: int | None
    size_bytes: int | None
    comment: str | None
    extra: dict[str, Any]
    description: str | None
    tags: list[str]
    auto_tags: list[str]
    steward: str | None
    certified: bool
    usage_count: int
    first_seen: datetime
    last_seen: datetime
    dropped_at: datetime | None


class TableDetail(TableOut):
    columns: list[ColumnOut]
    history: list[ChangeOut]


class ScanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    connection: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    stats: dict[str, Any]


class SourceOut(BaseModel):
    connection: str
    kind: str
    scannable: bool
    tables: int
    last_scan: ScanOut | None


class PreviewColumn(BaseModel):
    name: str
    type: str
    masked: bool = False


class PreviewOut(BaseModel):
    table: str
    columns: list[PreviewColumn]
    rows: list[list[Any]]
    notes: list[str]
    elapsed_ms: float
    version: int | None = Field(None, description="the lake table's version shown (None: now)")


class SearchHit(BaseModel):
    table: TableOut
    score: float
    matched_columns: list[str]


class SearchPage(BaseModel):
    query: str
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]


class TablePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=20_000)
    tags: list[Tag] | None = Field(None, max_length=50)
    steward: str | None = Field(None, max_length=200)
    certified: bool | None = None


class ColumnPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=20_000)
    tags: list[Tag] | None = Field(None, max_length=50)
