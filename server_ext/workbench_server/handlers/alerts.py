"""``/workbench/api/alerts``: the built-in engine's alerts with their history,
acknowledgements, and ``/alerts/silences``."""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import TypeAdapter

from ..alerts import service
from ..errors import InvalidInputError
from ..pipelines.registry import PipelineRegistry
from .base import WorkbenchHandler


class AlertsBaseHandler(WorkbenchHandler):
    auth_resource = "workbench.alerts"


class AlertsHandler(AlertsBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        status = self.get_query_argument("status", "all")
        if status not in ("firing", "resolved", "all"):
            raise InvalidInputError("status: firing, resolved or all")
        limit = self.query_int("limit", 100, low=1, high=1000)

        def find() -> list[service.AlertOut]:
            visible = PipelineRegistry(self.workbench, self.principal).visible_ids()
            names = None if visible is None else set(visible.values())
            return service.list_alerts(self.workbench, status, limit, names)

        alerts = await asyncio.to_thread(find)
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[service.AlertOut]).dump_json(alerts))


class AcknowledgeHandler(AlertsBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, alert_id: str) -> None:
        number = self.path_id(alert_id, "alert")
        alert = await asyncio.to_thread(service.acknowledge, self.workbench, self.principal, number)
        self.write_json(alert)


class SilencesHandler(AlertsBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        ended = self.query_bool("ended", False)

        def find() -> list[service.SilenceOut]:
            visible = PipelineRegistry(self.workbench, self.principal).visible_ids()
            names = None if visible is None else set(visible.values())
            return service.list_silences(self.workbench, ended, names)

        silences = await asyncio.to_thread(find)
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[service.SilenceOut]).dump_json(silences))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        request = service.SilenceIn.model_validate_json(self.request.body or b"{}")
        try:
            silence = await asyncio.to_thread(
                service.create_silence, self.workbench, self.principal, request
            )
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        self.write_json(silence, status=201)


class SilenceHandler(AlertsBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def delete(self, silence_id: str) -> None:
        number = self.path_id(silence_id, "silence")
        silence = await asyncio.to_thread(
            service.end_silence, self.workbench, self.principal, number
        )
        self.write_json(silence)


ROUTES = [
    ("alerts", AlertsHandler),
    (r"alerts/(?P<alert_id>\d+)/acknowledge", AcknowledgeHandler),
    ("alerts/silences", SilencesHandler),
    (r"alerts/silences/(?P<silence_id>\d+)", SilenceHandler),
]
