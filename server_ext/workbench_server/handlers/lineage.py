"""REST: /workbench/api/lineage — the up- or downstream graph of a dataset or column."""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import TypeAdapter

from ..errors import InvalidInputError
from ..lineage.service import LineageService, WarningOut
from .base import WorkbenchHandler


class LineageHandler(WorkbenchHandler):
    auth_resource = "workbench.lineage"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        namespace = self.get_query_argument("namespace", None)
        name = self.get_query_argument("name", None)
        if not namespace or not name:
            raise InvalidInputError("namespace and name are required")
        # The service checks the range (1 to its MAX_DEPTH); this, that it is a number.
        depth = self.query_int("depth", 3, high=1000)
        direction = self.get_query_argument("direction", "upstream")
        service = LineageService(self.workbench, self.principal)
        graph = await asyncio.to_thread(
            service.graph,
            namespace,
            name,
            self.get_query_argument("column", None),
            direction,  # type: ignore[arg-type]
            depth,
        )
        self.write_json(graph)


class LineageWarningsHandler(WorkbenchHandler):
    auth_resource = "workbench.lineage"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        service = LineageService(self.workbench, self.principal)
        found = await asyncio.to_thread(
            service.warnings,
            self.get_query_argument("job", None),
            self.get_query_argument("run_id", None),
        )
        self.finish(_WARNINGS.dump_json(found))


_WARNINGS = TypeAdapter(list[WarningOut])

ROUTES = [("lineage", LineageHandler), ("lineage/warnings", LineageWarningsHandler)]
