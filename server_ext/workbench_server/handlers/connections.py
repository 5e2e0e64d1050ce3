"""REST: /workbench/api/connections — list, create, get, update, delete, test."""

from __future__ import annotations

from typing import Annotated, Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import Field, StringConstraints, TypeAdapter

from ..connections import ConnectionCreate, ConnectionOut, ConnectionService, ConnectionUpdate
from ..connections.data_roots import DataRoots, OutsideDataRootsError
from ..connections.egress import EgressPolicy
from ..connections.kinds import KINDS, KindConfig
from ..connections.limits import RateLimiter
from ..connections.probes import probe
from ..errors import InvalidInputError, RateLimitedError
from .base import WorkbenchHandler

NAME = r"(?P<name>[a-z][a-z0-9_]{0,62})"
_LIST = TypeAdapter(list[ConnectionOut])
MAX_DESCRIPTION = 5000
MAX_GROUPS = 200
GroupName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class CreateBody(ConnectionCreate):
    """A create request, bounded: a description is a paragraph, groups a short list."""

    description: str = Field("", max_length=MAX_DESCRIPTION)
    shared_groups: list[GroupName] = Field(default_factory=list, max_length=MAX_GROUPS)


class UpdateBody(ConnectionUpdate):
    """An update request, bounded like :class:`CreateBody`."""

    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    shared_groups: list[GroupName] | None = Field(None, max_length=MAX_GROUPS)
    settings: dict[str, Any] | None = Field(None, max_length=50)


class _ConnectionHandler(WorkbenchHandler):
    auth_resource = "workbench.connections"

    @property
    def connections(self) -> ConnectionService:
        return ConnectionService(self.workbench, self.principal)

    def _check_files(self, name: str, settings: KindConfig, owner: str) -> None:
        """A file or folder the connection names must be below a data root (400)."""
        roots = DataRoots.from_settings(self.workbench.settings)
        try:
            roots.confine(name, settings, owner=owner)
        except OutsideDataRootsError as exc:
            raise InvalidInputError(str(exc)) from None


class ConnectionsHandler(_ConnectionHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(_LIST.dump_json(self.connections.list()))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        spec = CreateBody.model_validate_json(self.request.body or b"{}")
        self._check_files(spec.name, spec.settings, self.principal.name)
        self.write_json(self.connections.create(spec), status=201)


class ConnectionHandler(_ConnectionHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(self.connections.get(name))

    @tornado.web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        patch = UpdateBody.model_validate_json(self.request.body or b"{}")
        if patch.settings is not None:
            current = self.connections.get(name)
            # The settings as they would be (secrets stay masked: only paths matter here).
            merged = {**current.settings, **patch.settings, "kind": current.kind}
            self._check_files(name, KINDS[current.kind].model_validate(merged), current.owner)
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
        settings = self.connections.resolve(name)
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
