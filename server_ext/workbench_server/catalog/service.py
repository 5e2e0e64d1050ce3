"""The catalog as one principal sees it: scan, browse, search, curate.

:class:`CatalogService` is the one entry point of handlers, the CLI, the worker and the
kernel endpoints. Each of its roles lives in a module of its own: who may see what
(:mod:`.access`), scanning (:mod:`.scanning`), reading and curating tables
(:mod:`.tables`), previews (:mod:`.previewing`), lake tables' versions (:mod:`.versions`),
usage (:mod:`.usage`) and search (:mod:`.searching`).

Every read is filtered to the connections the principal may use; a table of any other
connection is "not found". Anyone who may use a connection may describe and tag its
tables; certifying a table, or naming its steward, is for the connection's owner and
admins.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from . import previewing, scanning, searching, tables, usage, versions
from .access import CatalogAccess
from .models import (
    ColumnPatch,
    PreviewOut,
    ScanOut,
    SearchPage,
    SourceOut,
    TableDetail,
    TableOut,
    TablePatch,
)

if TYPE_CHECKING:
    from ..core import Workbench
    from ..db.models import Connection
    from ..lake import TableVersion
    from ..principal import Principal


class CatalogService:
    """The catalog for one principal of one installation."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal
        self.access = CatalogAccess(workbench, principal)

    def _connection(self, name: str) -> Connection:
        return self.access.connection(name)

    # -- sources and scans -----------------------------------------------------------
    def sources(self) -> list[SourceOut]:
        """Every connection the principal may use, with its catalog's size and last scan."""
        return scanning.sources(self.access)

    def scan(
        self,
        name: str,
        timeout: float = 60.0,
        interrupted_before: datetime | None = None,
        tables: list[str] | None = None,
    ) -> ScanOut:
        """Discover the connection now and merge it into the catalog.

        Discovery happens before anything is written: a source that cannot be read
        leaves the catalog as it was, and the scan is recorded as failed with the reason.
        ``tables`` (``layer.name`` of a lake source): only those, e.g. right after a write
        (``scan("lake", tables=["silver.x"])``), leaving the others as they are.
        """
        return scanning.scan(self.access, name, timeout, interrupted_before, tables)

    def scans(self, name: str, limit: int = 20) -> list[ScanOut]:
        return scanning.scans(self.access, name, limit)

    # -- browsing and curating -------------------------------------------------------
    def tables(
        self,
        connection: str | None = None,
        schema: str | None = None,
        include_dropped: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[TableOut]]:
        return tables.tables(self.access, connection, schema, include_dropped, offset, limit)

    def table(self, table_id: int) -> TableDetail:
        return tables.table(self.access, table_id)

    def find(self, connection: str, schema: str, name: str) -> TableDetail:
        return tables.find(self.access, connection, schema, name)

    def edit_table(self, table_id: int, patch: TablePatch) -> TableDetail:
        return tables.edit_table(self.access, table_id, patch)

    def edit_column(self, table_id: int, column: str, patch: ColumnPatch) -> TableDetail:
        return tables.edit_column(self.access, table_id, column, patch)

    # -- previewing ------------------------------------------------------------------
    def may_see_pii(self, connection: Connection) -> bool:
        return self.access.may_see_pii(connection)

    def preview(
        self,
        table_id: int,
        limit: int = 100,
        max_bytes: int = 1_000_000,
        timeout_s: float = 5.0,
        version: int | None = None,
    ) -> PreviewOut:
        """The first rows, read-only and bounded; pii values masked unless allowed.
        ``version``: a lake table as of that version."""
        return previewing.preview(self.access, table_id, limit, max_bytes, timeout_s, version)

    def versions(
        self, table_id: int, limit: int = 100, before: int | None = None
    ) -> list[TableVersion]:
        """A lake table's versions, newest first: when, who, operation, rows changed."""
        return versions.versions(self.access, table_id, limit, before)

    # -- usage -----------------------------------------------------------------------
    def record_usage(
        self, connection: str, tables: list[tuple[str | None, str]], count: int = 1
    ) -> int:
        """Count a query over ``tables`` of ``connection`` (search ranks used tables up).

        A table named without its schema counts for every schema that has it. Unknown
        connections and tables are ignored: usage is a hint, never an error.
        """
        return usage.record_usage(self.access, connection, tables, count)

    # -- searching -------------------------------------------------------------------
    def search(
        self,
        query: str,
        filters: dict[str, str] | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> SearchPage:
        """Tables matching ``query`` and ``filters``, best first (see :mod:`.search`)."""
        return searching.search(self.access, query, filters, offset, limit)

    def search_json(
        self,
        query: str,
        filters: dict[str, str] | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> bytes:
        """:meth:`search`'s page as the REST API sends it (JSON, by the models' aliases)."""
        return searching.search_json(self.access, query, filters, offset, limit)

    def search_json_in_memory(
        self,
        query: str,
        filters: dict[str, str] | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> bytes | None:
        """:meth:`search_json` if it can be had from memory at once (no read of the
        metadata DB, a small index), else None: for callers on an event loop."""
        return searching.search_json_in_memory(self.access, query, filters, offset, limit)


__all__ = ["CatalogService", "ColumnPatch", "TablePatch"]
