"""REST: /workbench/api/catalog/tables/{id}/freshness — the cheap read the catalog panel
polls while a table is open, so its freshness updates without a reload.

Why short polling of this read rather than a WebSocket or server-sent events: the changes
are committed by worker processes, which no server hears from directly (the metadata DB
is SQLite in local mode: no LISTEN/NOTIFY), so a push stream would itself poll the
database for each open table; this read is one permission check and one row, passes
the hub's proxy and the team mode's forwarding like every other call, holds no
connection open per browser tab, and costs nothing while no table is open.
"""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..catalog.access import CatalogAccess
from ..catalog.live import freshness
from .base import WorkbenchHandler

TABLE = r"(?P<table_id>\d+)"


class FreshnessHandler(WorkbenchHandler):
    auth_resource = "workbench.catalog"

    @tornado.web.authenticated
    @authorized
    async def get(self, table_id: str) -> None:
        table = self.path_id(table_id, "table")
        access = CatalogAccess(self.workbench, self.principal)
        found = await asyncio.to_thread(freshness, access, table)
        self.set_header("Cache-Control", "no-store")
        self.write_json(found)


ROUTES = [(f"catalog/tables/{TABLE}/freshness", FreshnessHandler)]
