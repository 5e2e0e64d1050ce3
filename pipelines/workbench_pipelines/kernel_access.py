"""Connections for the kernels of pipeline steps, served by the worker itself.

A step's notebook uses ``%sql`` and ``%odoo`` like interactive work does, so its kernel
needs the connections of the person the run acts for: the pipeline's owner. The worker
serves them the way the Jupyter server serves its kernels (same path, same payload),
from a loopback-only endpoint, to a token minted for one attempt and revoked when the
attempt ends. The kernel gets the token and the address in its environment; the
worker's own database URL and key file are taken out of that environment, because
user code runs in the kernel.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, HTTPError, RequestHandler

from workbench_server.connections.kernel_access import (
    API_URL_ENV,
    KERNEL_CONNECTIONS_PATH,
    KERNEL_LINEAGE_PATH,
    KERNEL_TOKEN_ENV,
    KERNEL_USAGE_PATH,
    KernelSql,
    KernelUsage,
    bearer_token,
    kernel_bootstrap,
    record_kernel_sql,
    record_kernel_usage,
)
from workbench_server.db.models import Pipeline, Run
from workbench_server.principal import Principal
from workbench_server.settings import DB_URL_ENV

from .notify import SMTP_URL_ENV

if TYPE_CHECKING:
    from workbench_server.core import Workbench

# The worker's own secrets: never inherited by a step's kernel.
WORKER_ONLY_ENV = (DB_URL_ENV, "WORKBENCH_SECRETS_KEY_FILE", SMTP_URL_ENV)


def run_principal(workbench: Workbench, run_id: str) -> Principal:
    """Who a run acts for: the pipeline's owner, with no more rights than that user.

    Group memberships live in the identity provider (team mode); until a run records
    them, a run sees the owner's own connections and those shared with everyone.
    """
    with workbench.sessions() as session:
        run = session.get(Run, run_id)
        pipeline = session.get(Pipeline, run.pipeline_id) if run is not None else None
        if pipeline is None:
            raise LookupError(f"run {run_id} does not exist")
        return Principal(name=pipeline.owner)


class _ConnectionsHandler(RequestHandler):
    def initialize(self, access: KernelAccess) -> None:
        self.access = access

    async def get(self) -> None:
        run_id = self.access.run_for(bearer_token(self.request.headers.get("Authorization", "")))
        if run_id is None:
            raise HTTPError(403)
        workbench = self.access.workbench
        bootstrap = await asyncio.to_thread(
            lambda: kernel_bootstrap(workbench, run_principal(workbench, run_id))
        )
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "application/json")
        self.finish(bootstrap.model_dump_json())


class _UsageHandler(RequestHandler):
    def initialize(self, access: KernelAccess) -> None:
        self.access = access

    async def post(self) -> None:
        run_id = self.access.run_for(bearer_token(self.request.headers.get("Authorization", "")))
        if run_id is None:
            raise HTTPError(403)
        try:
            usage = KernelUsage.model_validate_json(self.request.body or b"{}")
        except ValueError:
            raise HTTPError(400) from None
        workbench = self.access.workbench
        await asyncio.to_thread(
            lambda: record_kernel_usage(workbench, run_principal(workbench, run_id), usage)
        )
        self.set_status(204)
        self.finish()


class _LineageHandler(RequestHandler):
    """Writes a step's SQL made: lineage under the job ``<pipeline>.<step>`` and the run."""

    def initialize(self, access: KernelAccess) -> None:
        self.access = access

    async def post(self) -> None:
        step = self.access.step_for(bearer_token(self.request.headers.get("Authorization", "")))
        if step is None:
            raise HTTPError(403)
        try:
            item = KernelSql.model_validate_json(self.request.body or b"{}")
        except ValueError:
            raise HTTPError(400) from None
        run_id, step_id = step
        workbench = self.access.workbench

        def record() -> None:
            principal = run_principal(workbench, run_id)
            item.job = f"{pipeline_of(workbench, run_id)}.{step_id}"
            record_kernel_sql(workbench, principal, item, run_id)

        await asyncio.to_thread(record)
        self.set_status(204)
        self.finish()


def pipeline_of(workbench: Workbench, run_id: str) -> str:
    with workbench.sessions() as session:
        run = session.get(Run, run_id)
        pipeline = session.get(Pipeline, run.pipeline_id) if run is not None else None
        return pipeline.name if pipeline is not None else "pipeline"


class KernelAccess:
    """The worker's loopback endpoint and the tokens of the attempts running now."""

    def __init__(self, workbench: Workbench) -> None:
        self.workbench = workbench
        self.url: str | None = None
        self._grants: dict[str, tuple[str, str]] = {}  # token -> (run id, step id)
        self._server: HTTPServer | None = None

    async def start(self) -> None:
        app = Application(
            [
                (KERNEL_CONNECTIONS_PATH, _ConnectionsHandler, {"access": self}),
                (KERNEL_USAGE_PATH, _UsageHandler, {"access": self}),
                (KERNEL_LINEAGE_PATH, _LineageHandler, {"access": self}),
            ]
        )
        sockets = bind_sockets(0, "127.0.0.1")
        self._server = HTTPServer(app, xheaders=False)
        self._server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    def step_for(self, token: str | None) -> tuple[str, str] | None:
        """(run id, step id) of the attempt holding ``token``."""
        if token is None:
            return None
        for granted, step in self._grants.items():
            if secrets.compare_digest(granted, token):
                return step
        return None

    def run_for(self, token: str | None) -> str | None:
        step = self.step_for(token)
        return step[0] if step is not None else None

    @contextmanager
    def grant(self, run_id: str, step_id: str = "") -> Iterator[dict[str, str]]:
        """The environment of one attempt's kernel; its token works until the block ends."""
        token = secrets.token_urlsafe(32)
        self._grants[token] = (run_id, step_id)
        try:
            yield kernel_environment(
                {
                    API_URL_ENV: self.url or "",
                    KERNEL_TOKEN_ENV: token,
                    "WORKBENCH_KERNEL_CONTEXT": "pipeline",  # report usage at once
                }
            )
        finally:
            self._grants.pop(token, None)


def kernel_environment(extra: dict[str, str], base: Any = None) -> dict[str, str]:
    env = {k: v for k, v in (base if base is not None else os.environ).items()}
    for name in WORKER_ONLY_ENV:
        env.pop(name, None)
    env.update(extra)
    return env
