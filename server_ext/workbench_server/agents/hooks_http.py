"""REST for agents' event hooks: ``/workbench/api/agents/hooks[/<id>[/secret|/deliveries]]``.

Each user sees and changes their own agents only; another user's agent is "not found"
(admins may remove anyone's). A signing secret is in the answer that makes it (register,
renew) and nowhere else.
"""

from __future__ import annotations

import asyncio

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import TypeAdapter

from ..handlers.base import WorkbenchHandler
from ..webhooks.payloads import DeliveryOut
from .hooks import AgentHookService, AgentIn, AgentOut

_AGENTS = TypeAdapter(list[AgentOut])
_DELIVERIES = TypeAdapter(list[DeliveryOut])
ID = r"(?P<agent_id>\d+)"


class _AgentsHandler(WorkbenchHandler):
    auth_resource = "workbench.agents"

    @property
    def service(self) -> AgentHookService:
        return AgentHookService(self.workbench, self.principal)

    def agent_id(self, raw: str) -> int:
        return self.path_id(raw, "agent")


class AgentsHandler(_AgentsHandler):
    """GET: your agents; POST {name, url, events}: register one (201, secret once)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        found = await asyncio.to_thread(self.service.list)
        self.set_header("Content-Type", "application/json")
        self.finish(_AGENTS.dump_json(found))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        agent = AgentIn.model_validate_json(self.request.body or b"{}")
        made = await asyncio.to_thread(self.service.create, agent)
        self.set_header("Cache-Control", "no-store")
        self.write_json(made, status=201)


class AgentHandler(_AgentsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, agent_id: str) -> None:
        self.write_json(await asyncio.to_thread(self.service.get, self.agent_id(agent_id)))

    @tornado.web.authenticated
    @authorized
    async def delete(self, agent_id: str) -> None:
        await asyncio.to_thread(self.service.delete, self.agent_id(agent_id))
        self.set_status(204)
        self.finish()


class AgentSecretHandler(_AgentsHandler):
    """POST: a new signing secret (shown once); the old one signs nothing more."""

    @tornado.web.authenticated
    @authorized
    async def post(self, agent_id: str) -> None:
        made = await asyncio.to_thread(self.service.rotate, self.agent_id(agent_id))
        self.set_header("Cache-Control", "no-store")
        self.write_json(made, status=201)


class AgentDeliveriesHandler(_AgentsHandler):
    """GET[?limit=N]: the agent's deliveries, newest first, with every attempt's answer."""

    @tornado.web.authenticated
    @authorized
    async def get(self, agent_id: str) -> None:
        number = self.agent_id(agent_id)
        limit = self.query_int("limit", 100, low=1, high=1000, clamp=True)
        found = await asyncio.to_thread(self.service.deliveries, number, limit)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(_DELIVERIES.dump_json(found))


ROUTES = [
    ("workbench/api/agents/hooks", AgentsHandler),
    (f"workbench/api/agents/hooks/{ID}", AgentHandler),
    (f"workbench/api/agents/hooks/{ID}/secret", AgentSecretHandler),
    (f"workbench/api/agents/hooks/{ID}/deliveries", AgentDeliveriesHandler),
]
