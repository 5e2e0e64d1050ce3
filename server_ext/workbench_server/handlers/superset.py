"""REST: /workbench/api/superset/publish — a lake table published as a Superset dataset;
/workbench/api/superset/dashboard — a starter dashboard.

POST publish ``{"table": "gold.x", "to": "<superset connection>", "lake": null,
"include_pii": false, "overwrite": false}``: answers the dataset (id, URL) and what was
published. POST dashboard ``{"to": "<superset connection>", "title": "Finance close",
"tables": [], "lake": null, "company_id": null, "period": null}``: no tables, the finance
dashboard of the month-end close's gold tables; answers the dashboard (id, URL) and its
charts. POST unpublish ``{"table": "gold.x", "to": "<superset connection>", "lake": null,
"force": false}``: the dataset deleted in Superset and the table taken out of the serving
file; 409 while charts use the dataset (named), unless ``force``. The caller needs the
Superset connection and the lake tables; others' are "not found"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel

from ..superset.dashboard import DashboardRequest, starter_dashboard
from ..superset.publish import PublishRequest, UnpublishRequest, publish, unpublish
from .base import WorkbenchHandler


class SupersetActionHandler(WorkbenchHandler):
    """POST a JSON body of :attr:`body`; :attr:`action` runs with the caller on a thread
    (it calls Superset and copies files) and its result is the answer."""

    auth_resource = "workbench.catalog"
    body: ClassVar[type[BaseModel]]
    action: ClassVar[Callable[..., Any]]

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body.model_validate_json(self.request.body or b"{}")
        workbench, principal = self.workbench, self.principal
        result = await asyncio.to_thread(self.action, workbench, principal, request)
        self.write_json(result)


class PublishHandler(SupersetActionHandler):
    body = PublishRequest
    action = staticmethod(publish)


class UnpublishHandler(SupersetActionHandler):
    body = UnpublishRequest
    action = staticmethod(unpublish)


class DashboardHandler(SupersetActionHandler):
    body = DashboardRequest
    action = staticmethod(starter_dashboard)


ROUTES = [
    ("superset/publish", PublishHandler),
    ("superset/unpublish", UnpublishHandler),
    ("superset/dashboard", DashboardHandler),
]
