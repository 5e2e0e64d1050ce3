"""What a scan finds, before it is compared with the catalog and stored."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@contextmanager
def gc_paused() -> Iterator[None]:
    """Build a catalog's worth of small objects without Python's cycle collector
    re-scanning them, and everything else alive, every few hundred allocations: for
    15,000 columns that is three quarters of the time. Reference counting still frees
    what is dropped; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class FoundColumn:
    name: str
    position: int
    data_type: str
    nullable: bool = True
    default: str | None = None
    comment: str | None = None
    primary_key: bool = False
    references: str | None = None  # "schema.table.column"
    label: str | None = None
    help: str | None = None
    odoo_type: str | None = None
    relation: str | None = None  # the Odoo model a relational field points to
    # Odoo 18 keeps a company-dependent field as jsonb of values by company id
    # ({"1": 10}): it names ``relation`` but is no key, whatever its ttype.
    company_dependent: bool = False
    selection: list[list[str]] = field(default_factory=list)
    module: str | None = None
    auto_tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FoundTable:
    schema: str
    name: str
    kind: str  # table, view, materialized_view, foreign_table, partitioned_table, dataset
    columns: list[FoundColumn] = field(default_factory=list)
    row_estimate: int | None = None
    size_bytes: int | None = None
    comment: str | None = None
    layer: str | None = None
    label: str | None = None
    odoo_model: str | None = None
    module: str | None = None
    auto_tags: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)
    # A discoverer that can tell from the source's own description whether a table
    # changed sets ``signature``, which then stands for the fingerprint of everything
    # above. A table whose signature is the one the catalog holds comes ``unchanged``:
    # without its columns, only their ``column_count``.
    signature: str | None = None
    unchanged: bool = False
    column_count: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.name)


@dataclass
class Discovery:
    tables: list[FoundTable]
    queries: int = 0  # round trips the scan made, for the record
    odoo: bool = False
