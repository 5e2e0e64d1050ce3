"""The data catalog: discovery, Odoo-aware metadata, curation, history and search."""

from .service import CatalogService, ColumnPatch, TablePatch

__all__ = ["CatalogService", "ColumnPatch", "TablePatch"]
