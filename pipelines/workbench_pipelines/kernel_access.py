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
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from temporalio import activity
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, HTTPError, RequestHandler

from workbench_server.connections.kernel_access import (
    API_URL_ENV,
    KERNEL_CONNECTIONS_PATH,
    KERNEL_LINEAGE_PATH,
    KERNEL_TOKEN_ENV,
    KERNEL_USABLE_PATH,
    KERNEL_USAGE_PATH,
    SERVER_ONLY_ENV,
    KernelSql,
    KernelUsage,
    UsableQuery,
    bearer_token,
    kernel_bootstrap,
    record_kernel_sql,
    record_kernel_usage,
    usable_connections,
)
from workbench_server.db.models import Pipeline, Run
from workbench_server.lake.models import WRITER_ENV
from workbench_server.lake_env import KEY_ENV_NAMES, LAKE_URI_ENV
from workbench_server.lineage.service import RecordedSql
from workbench_server.metrics.queries import KERNEL_QUERY_TIMINGS_PATH, QueryTimings, observe
from workbench_server.metrics.query_log import record
from workbench_server.principal import Principal

if TYPE_CHECKING:
    from workbench_server.core import Workbench

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


@dataclass
class Attempt:
    """One running attempt: whose it is, its kernel's environment, the SQL it wrote with
    (and, for a declarative step, the lake table versions it read and wrote)."""

    run_id: str
    step_id: str
    env: dict[str, str]
    sql: list[tuple[str, RecordedSql]] = field(default_factory=list)  # (statement, lineage)
    tables: list[Any] = field(default_factory=list)  # ingest.context.TableAccess


def run_context(workbench: Workbench, run_id: str) -> tuple[Principal, str]:
    """Who a run acts for, and its pipeline's name (which names the run's lineage jobs).

    A run acts for the pipeline's owner, with no more rights than that user. Group
    memberships live in the identity provider (team mode); until a run records them, a
    run sees the owner's own connections and those shared with everyone.
    """
    with workbench.sessions() as session:
        run = session.get(Run, run_id)
        pipeline = session.get(Pipeline, run.pipeline_id) if run is not None else None
        if pipeline is None:
            raise LookupError(f"run {run_id} does not exist")
        return Principal(name=pipeline.owner), pipeline.name


class _StepHandler(RequestHandler):
    """A request from the kernel of a running attempt, known by its token."""

    def initialize(self, access: KernelAccess) -> None:
        self.access = access

    def _attempt(self) -> Attempt:
        """The attempt whose token came with the request, or 403."""
        attempt = self.access.attempt_for(
            bearer_token(self.request.headers.get("Authorization", ""))
        )
        if attempt is None:
            raise HTTPError(403)
        return attempt

    def _body(self, model: type[BaseModelT]) -> BaseModelT:
        try:
            return model.model_validate_json(self.request.body or b"{}")
        except ValueError:
            raise HTTPError(400) from None

    def _done(self) -> None:
        self.set_status(204)
        self.finish()


class _ConnectionsHandler(_StepHandler):
    async def get(self) -> None:
        run_id = self._attempt().run_id
        workbench = self.access.workbench

        def bootstrap() -> dict[str, Any]:
            principal, pipeline = run_context(workbench, run_id)
            payload = kernel_bootstrap(workbench, principal).model_dump(mode="json")
            # Who the step's lake writes are by: its pipeline, acting for the owner (the
            # run, step and attempt are in the kernel's environment).
            payload["writer"] = {"pipeline": pipeline, "user": principal.name}
            return payload

        payload = await asyncio.to_thread(bootstrap)
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))


class _UsableHandler(_StepHandler):
    async def post(self) -> None:
        run_id = self._attempt().run_id
        query = self._body(UsableQuery)
        workbench = self.access.workbench
        names = await asyncio.to_thread(
            lambda: usable_connections(workbench, run_context(workbench, run_id)[0], query.names)
        )
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"usable": names}))


class _UsageHandler(_StepHandler):
    async def post(self) -> None:
        run_id = self._attempt().run_id
        usage = self._body(KernelUsage)
        workbench = self.access.workbench
        await asyncio.to_thread(
            lambda: record_kernel_usage(workbench, run_context(workbench, run_id)[0], usage)
        )
        self._done()


class _LineageHandler(_StepHandler):
    """Writes a step's SQL made: lineage under the job ``<pipeline>.<step>`` and the run."""

    async def post(self) -> None:
        attempt = self._attempt()
        item = self._body(KernelSql)
        workbench = self.access.workbench

        def record() -> None:
            principal, pipeline = run_context(workbench, attempt.run_id)
            item.job = f"{pipeline}.{attempt.step_id}"
            recorded = record_kernel_sql(workbench, principal, item, attempt.run_id)
            if recorded is not None:  # for the attempt's OpenLineage events
                attempt.sql.append((item.sql, recorded))

        await asyncio.to_thread(record)
        self._done()


class _QueryTimingsHandler(_StepHandler):
    """``%sql`` timings of a step's kernel, into this worker's query histogram."""

    async def post(self) -> None:
        self._attempt()
        report = self._body(QueryTimings)
        observe(report)
        # Stored for the built-in engine's SlowQueries rule, which reads every process's.
        await asyncio.to_thread(record, self.access.workbench, report)
        self._done()


class KernelAccess:
    """The worker's loopback endpoint and the tokens of the attempts running now."""

    def __init__(self, workbench: Workbench) -> None:
        self.workbench = workbench
        self.url: str | None = None
        self._grants: dict[str, Attempt] = {}  # token -> attempt
        self._server: HTTPServer | None = None

    async def start(self) -> None:
        app = Application(
            [
                (KERNEL_CONNECTIONS_PATH, _ConnectionsHandler, {"access": self}),
                (KERNEL_USABLE_PATH, _UsableHandler, {"access": self}),
                (KERNEL_USAGE_PATH, _UsageHandler, {"access": self}),
                (KERNEL_LINEAGE_PATH, _LineageHandler, {"access": self}),
                (KERNEL_QUERY_TIMINGS_PATH, _QueryTimingsHandler, {"access": self}),
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

    def attempt_for(self, token: str | None) -> Attempt | None:
        """The running attempt holding ``token``."""
        if token is None:
            return None
        for granted, attempt in self._grants.items():
            if secrets.compare_digest(granted, token):
                return attempt
        return None

    @contextmanager
    def grant(self, run_id: str, step_id: str = "") -> Iterator[Attempt]:
        """One attempt, with its kernel's environment; its token works until the block ends.

        The environment also says which run, step and attempt the kernel works for
        (``WORKBENCH_RUN_ID``, ``_STEP``, ``_ATTEMPT``), which every lake write records."""
        token = secrets.token_urlsafe(32)
        number = activity.info().attempt if activity.in_activity() else None
        attempt = Attempt(
            run_id,
            step_id,
            kernel_environment(
                {
                    API_URL_ENV: self.url or "",
                    KERNEL_TOKEN_ENV: token,
                    "WORKBENCH_KERNEL_CONTEXT": "pipeline",  # report usage at once
                    WRITER_ENV["run_id"]: run_id,
                    WRITER_ENV["step"]: step_id,
                    **({WRITER_ENV["attempt"]: str(number)} if number is not None else {}),
                }
            ),
        )
        self._grants[token] = attempt
        try:
            yield attempt
        finally:
            self._grants.pop(token, None)


def kernel_environment(extra: dict[str, str], base: Any = None) -> dict[str, str]:
    """The environment of a step's kernel: the worker's, without what is the worker's own
    (the DB URL, the key file and, with a lake in S3, the worker's login to it), and
    ``extra``."""
    env = {k: v for k, v in (base if base is not None else os.environ).items()}
    dropped = SERVER_ONLY_ENV + (KEY_ENV_NAMES if env.get(LAKE_URI_ENV) else ())
    for name in dropped:
        env.pop(name, None)
    env.update(extra)
    return env
