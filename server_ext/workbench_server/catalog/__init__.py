"""The data catalog: discovery, Odoo-aware metadata, curation, history and search.

The service is imported when first asked for: the settings read :mod:`.pii` at start-up,
and importing this package must not load the lake's Arrow, DuckDB and Delta libraries
into every process that reads settings (``workbench up``'s supervisor above all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .service import CatalogService, ColumnPatch, TablePatch

__all__ = ["CatalogService", "ColumnPatch", "TablePatch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
