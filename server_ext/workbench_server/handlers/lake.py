"""REST: /workbench/api/lake — tables, versions, diffs and maintenance schedules.

``?lake=NAME`` picks a lake connection (only for those who may use it: anyone else gets
404); without it, the installation's own lake, which every user may read.
"""

from __future__ import annotations

import asyncio
import re

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import InvalidInputError, NotFoundError
from ..lake.models import MAX_LISTED, MAX_VERSIONS, NAME_PATTERN, TableInfo, TableName, TableVersion
from ..lake.schedules import (
    delete_maintenance_schedule,
    get_maintenance_schedule,
    set_maintenance_schedule,
    start_maintenance,
)
from .base import WorkbenchHandler

# Anything up to a table name's length reaches the handler, which says what is wrong.
TABLE = r"(?P<table>[A-Za-z0-9_.]{1,140})"
_LAKE = re.compile(r"[a-z][a-z0-9_]{0,62}")
_COLUMN = re.compile(NAME_PATTERN)
MAX_KEYS = 16
_VERSIONS = TypeAdapter(list[TableVersion])
_TABLES = TypeAdapter(list[TableInfo])


class _LakeHandler(WorkbenchHandler):
    auth_resource = "workbench.lake"

    def lake_name(self) -> str | None:
        name = self.get_query_argument("lake", None)
        if name is not None and not _LAKE.fullmatch(name):
            raise NotFoundError(f"no lake connection named {name[:64]!r}")
        return name

    def opener(self):
        """Opens the asked-for lake; called on the event loop, run in a thread (opening a
        lake connection reads the metadata DB)."""
        from ..lake import Lake

        workbench, principal, name = self.workbench, self.principal, self.lake_name()
        return lambda: Lake.of(workbench, principal, name)

    @staticmethod
    def table_name(raw: str) -> TableName:
        return TableName.parse(raw)


class TablesHandler(_LakeHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        lake = self.opener()
        found = await asyncio.to_thread(lambda: lake().tables())
        self.set_header("Content-Type", "application/json")
        self.finish(_TABLES.dump_json(found))


class VersionsHandler(_LakeHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, table: str) -> None:
        name = self.table_name(table)
        limit = self.query_int("limit", 100, low=1, high=MAX_VERSIONS, clamp=True)
        before = self.get_query_argument("before", None)
        below = self.query_int("before", 0, low=1, high=2**62) if before is not None else None
        lake = self.opener()
        workbench, principal = self.workbench, self.principal

        def versions() -> list[TableVersion]:
            from ..pipelines.visibility import WriterVisibility

            found = lake().versions(name, limit=limit, before=below)
            return WriterVisibility(workbench, principal).versions(found)

        found = await asyncio.to_thread(versions)
        self.set_header("Content-Type", "application/json")
        self.finish(_VERSIONS.dump_json(found))


class DiffHandler(_LakeHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, table: str) -> None:
        name = self.table_name(table)
        if self.get_query_argument("from", None) is None:
            raise InvalidInputError("from: the version to diff from is required")
        if self.get_query_argument("to", None) is None:
            raise InvalidInputError("to: the version to diff to is required")
        start = self.query_int("from", 0, high=2**62)
        end = self.query_int("to", 0, high=2**62)
        limit = self.query_int("limit", 50, high=MAX_LISTED, clamp=True)
        keys = [k for k in (self.get_query_argument("key", "") or "").split(",") if k]
        if len(keys) > MAX_KEYS or not all(_COLUMN.fullmatch(k) for k in keys):
            raise InvalidInputError(
                f"key: up to {MAX_KEYS} column names separated by commas (e.g. key=id)"
            )
        lake = self.opener()
        found = await asyncio.to_thread(lambda: lake().diff(name, start, end, keys or None, limit))
        self.write_json(found)


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field(max_length=200)
    timezone: str = Field("UTC", max_length=64)


class ScheduleHandler(_LakeHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        lake = self.lake_name()
        self.write_json(await get_maintenance_schedule(self.workbench, self.principal, lake))

    @tornado.web.authenticated
    @authorized
    async def put(self) -> None:
        lake = self.lake_name()
        body = ScheduleBody.model_validate_json(self.request.body or b"{}")
        self.write_json(
            await set_maintenance_schedule(
                self.workbench, self.principal, lake, body.cron, body.timezone
            )
        )

    @tornado.web.authenticated
    @authorized
    async def delete(self) -> None:
        await delete_maintenance_schedule(self.workbench, self.principal, self.lake_name())
        self.set_status(204)
        self.finish()


class MaintenanceHandler(_LakeHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        workflow_id = await start_maintenance(self.workbench, self.principal, self.lake_name())
        self.write_json({"workflow_id": workflow_id}, status=202)


ROUTES = [
    ("lake/tables", TablesHandler),
    (f"lake/tables/{TABLE}/versions", VersionsHandler),
    (f"lake/tables/{TABLE}/diff", DiffHandler),
    ("lake/maintenance", MaintenanceHandler),
    ("lake/maintenance/schedule", ScheduleHandler),
]
