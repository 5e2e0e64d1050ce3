"""REST: /workbench/api/connections — list, create, get, update, delete, test."""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import TypeAdapter

from ..connections import ConnectionCreate, ConnectionOut, ConnectionService, ConnectionUpdate
from ..connections.egress import EgressPolicy
from ..connections.limits import RateLimiter
from ..connections.probes import probe
from ..errors import RateLimitedError
from .base import WorkbenchHandler

NAME = r"(?P<name>[a-z][a-z0-9_]{0,62})"
_LIST = TypeAdapter(list[ConnectionOut])


class _ConnectionHandler(WorkbenchHandler):
    auth_resource = "workbench.connections"

    @property
    def connections(self) -> ConnectionService:
        return ConnectionService(self.workbench, self.principal)


class ConnectionsHandler(_ConnectionHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(_LIST.dump_json(self.connections.list()))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        spec = ConnectionCreate.model_validate_json(self.request.body or b"{}")
        self.write_json(self.connections.create(spec), status=201)


class ConnectionHandler(_ConnectionHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(self.connections.get(name))

    @tornado.web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        patch = ConnectionUpdate.model_validate_json(self.request.body or b"{}")
        self.write_json(self.connections.update(name, patch))

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        self.connections.delete(name)
        self.set_status(204)
        self.finish()


class ConnectionTestHandler(_ConnectionHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        limiter: RateLimiter | None = self.settings.get("workbench_test_limiter")
        if limiter is not None:
            limiter.acquire(self.principal.name)
        settings = self.connections.resolve_for_test(name)
        timeout = float(self.settings.get("workbench_test_timeout", 10.0))
        policy = EgressPolicy.from_settings(self.workbench.settings)
        self.write_json(await probe(name, settings, timeout, policy))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RateLimitedError):
            self.set_header("Retry-After", str(exc.retry_after))
        super().write_error(status_code, **kwargs)


ROUTES = [
    ("connections", ConnectionsHandler),
    (f"connections/{NAME}", ConnectionHandler),
    (f"connections/{NAME}/test", ConnectionTestHandler),
]
