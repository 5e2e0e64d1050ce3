"""REST: /workbench/api/superset/publish — a lake table published as a Superset dataset.

POST ``{"table": "gold.x", "to": "<superset connection>", "lake": null, "include_pii":
false, "overwrite": false}``: answers the dataset (id, URL) and what was published. The
caller needs the Superset connection and the lake table; others' are "not found"."""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized

from ..superset.publish import PublishRequest, publish
from .base import WorkbenchHandler


class PublishHandler(WorkbenchHandler):
    auth_resource = "workbench.catalog"

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = PublishRequest.model_validate_json(self.request.body or b"{}")
        workbench, principal = self.workbench, self.principal
        result = await asyncio.to_thread(publish, workbench, principal, request)
        self.write_json(result)


ROUTES = [("superset/publish", PublishHandler)]
