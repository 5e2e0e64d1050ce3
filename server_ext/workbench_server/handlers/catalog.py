"""REST: /workbench/api/catalog — sources and scans, tables, search, curation."""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..catalog import CatalogService, ColumnPatch, TablePatch
from ..catalog.models import ScanOut, SourceOut, TableOut
from ..catalog.schedules import (
    delete_scan_schedule,
    get_scan_schedule,
    set_scan_schedule,
    start_scan,
)
from ..errors import InvalidInputError, NotFoundError
from ..lake.models import MAX_VERSIONS, TableVersion
from .base import WorkbenchHandler

NAME = r"(?P<name>[a-z][a-z0-9_]{0,62})"
TABLE = r"(?P<table_id>\d+)"
_SOURCES = TypeAdapter(list[SourceOut])
_SCANS = TypeAdapter(list[ScanOut])
_TABLES = TypeAdapter(list[TableOut])
_VERSIONS = TypeAdapter(list[TableVersion])
MAX_VERSION = 2**62  # above any version a Delta table reaches
MAX_PAGE = 500
MAX_OFFSET = 10**9
MAX_NAME = 1000  # a column name in a URL
# Query arguments that are no search filter: Jupyter's own (a token in the URL, XSRF).
NOT_FILTERS = ("q", "offset", "limit", "token", "_xsrf")


class _CatalogHandler(WorkbenchHandler):
    auth_resource = "workbench.catalog"

    @property
    def catalog(self) -> CatalogService:
        return CatalogService(self.workbench, self.principal)

    def _page(self, default_limit: int, max_limit: int) -> tuple[int, int]:
        """``offset`` and ``limit`` of a page (a limit above the page size is that size)."""
        return (
            self.query_int("offset", 0, high=MAX_OFFSET),
            self.query_int("limit", default_limit, low=1, high=max_limit, clamp=True),
        )

    def _optional_int(self, name: str, low: int = 0) -> int | None:
        if self.get_query_argument(name, None) is None:
            return None
        return self.query_int(name, 0, low=low, high=MAX_VERSION)

    def _json_list(self, adapter: TypeAdapter, items: list) -> None:
        self.finish(adapter.dump_json(items, by_alias=True))


class SourcesHandler(_CatalogHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self._json_list(_SOURCES, await asyncio.to_thread(self.catalog.sources))


class ScansHandler(_CatalogHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self._json_list(_SCANS, await asyncio.to_thread(self.catalog.scans, name))

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        # ?table=silver.x&table=...: only those tables of a lake (e.g. after a write).
        tables = self.get_query_arguments("table") or None
        if not self.query_bool("wait", True):  # run it on the worker
            if tables:
                raise InvalidInputError("table: a scan of named tables runs at once (wait)")
            workflow_id = await start_scan(self.workbench, self.principal, name)
            self.write_json({"workflow_id": workflow_id}, status=202)
            return
        timeout = float(self.settings.get("workbench_scan_timeout", 120.0))
        catalog = self.catalog
        scan = await asyncio.to_thread(lambda: catalog.scan(name, timeout, tables=tables))
        self.write_json(scan, status=201)


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field(max_length=200)
    timezone: str = Field("UTC", max_length=64)


class ScheduleHandler(_CatalogHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await get_scan_schedule(self.workbench, self.principal, name))

    @tornado.web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        body = ScheduleBody.model_validate_json(self.request.body or b"{}")
        self.write_json(
            await set_scan_schedule(self.workbench, self.principal, name, body.cron, body.timezone)
        )

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await delete_scan_schedule(self.workbench, self.principal, name)
        self.set_status(204)
        self.finish()


class TablesHandler(_CatalogHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        offset, limit = self._page(100, MAX_PAGE)
        total, items = await asyncio.to_thread(
            self.catalog.tables,
            self.get_query_argument("connection", None),
            self.get_query_argument("schema", None),
            self.query_bool("include_dropped", False),
            offset,
            limit,
        )
        payload = _TABLES.dump_python(items, mode="json", by_alias=True)
        self.write_json({"total": total, "offset": offset, "limit": limit, "items": payload})


class TableHandler(_CatalogHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = self.path_id(table_id, "table")
        self.write_json(await asyncio.to_thread(self.catalog.table, table))

    @tornado.web.authenticated
    @authorized
    async def patch(self, table_id: str) -> None:
        table = self.path_id(table_id, "table")
        patch = TablePatch.model_validate_json(self.request.body or b"{}")
        self.write_json(await asyncio.to_thread(self.catalog.edit_table, table, patch))


class ColumnHandler(_CatalogHandler):
    @tornado.web.authenticated
    @authorized
    async def patch(self, table_id: str, column: str) -> None:
        table = self.path_id(table_id, "table")
        if len(column) > MAX_NAME:
            raise NotFoundError(f"no column {column[:24]}… in table {table}")
        patch = ColumnPatch.model_validate_json(self.request.body or b"{}")
        self.write_json(await asyncio.to_thread(self.catalog.edit_column, table, column, patch))


class PreviewHandler(_CatalogHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = self.path_id(table_id, "table")
        limit = self.query_int("limit", 100, low=1, high=1000, clamp=True)
        version = self._optional_int("version")
        catalog = self.catalog
        preview = await asyncio.to_thread(lambda: catalog.preview(table, limit, version=version))
        self.set_header("Cache-Control", "no-store")
        self.write_json(preview)


class VersionsHandler(_CatalogHandler):
    """A lake table's versions, newest first; ``?before=V`` pages back from version V."""

    @tornado.web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = self.path_id(table_id, "table")
        limit = self.query_int("limit", 100, low=1, high=MAX_VERSIONS, clamp=True)
        before = self._optional_int("before", low=1)
        found = await asyncio.to_thread(self.catalog.versions, table, limit, before)
        self.set_header("Cache-Control", "no-store")
        self._json_list(_VERSIONS, found)


class SearchHandler(_CatalogHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.get_query_argument("q", "")
        filters = {
            key: self.get_query_argument(key)
            for key in self.request.query_arguments
            # (A bare number is a client's cache buster, e.g. JupyterLab's "?1732...".)
            if key not in NOT_FILTERS and not key.isdigit()
        }
        offset, limit = self._page(20, 200)
        catalog = self.catalog
        # Most searches are answered from memory in a fraction of a millisecond, less
        # than handing them to a thread costs; the others (a check of the metadata DB is
        # due, a large catalog) go to one.
        page = catalog.search_json_in_memory(query, filters, offset, limit)
        if page is None:
            page = await asyncio.to_thread(catalog.search_json, query, filters, offset, limit)
        self.set_header("Content-Type", "application/json")
        self.finish(page)


ROUTES = [
    ("catalog/sources", SourcesHandler),
    (f"catalog/sources/{NAME}/scans", ScansHandler),
    (f"catalog/sources/{NAME}/schedule", ScheduleHandler),
    ("catalog/tables", TablesHandler),
    (f"catalog/tables/{TABLE}", TableHandler),
    (f"catalog/tables/{TABLE}/columns/(?P<column>[^/]+)", ColumnHandler),
    (f"catalog/tables/{TABLE}/preview", PreviewHandler),
    (f"catalog/tables/{TABLE}/versions", VersionsHandler),
    ("catalog/search", SearchHandler),
]
