"""REST for n8n in and out: a pipeline's trigger URL (its own credential, not a Jupyter
login), the trigger secret's management, webhook targets, and a run's deliveries."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import select

from ..db.models import Pipeline, Run
from ..errors import NotFoundError
from ..pipelines.runs import RunService
from ..webhooks import signing
from ..webhooks.events import (
    TargetIn,
    TargetOut,
    TargetService,
    add_run_callback,
)
from ..webhooks.payloads import DeliveryOut, check_url, run_payload, status_path
from ..webhooks.triggers import TriggerRefused, TriggerService, authenticate
from .base import WorkbenchHandler
from .pipelines import NAME, RUN, RUN_ID


class TriggerRequest(BaseModel):
    """A trigger call's body: the run's parameters (checked as a manual run's are), its
    logical date, and optionally where to POST this run's end (signed with the trigger
    secret), e.g. an n8n Wait node's resume URL."""

    model_config = ConfigDict(extra="forbid")
    parameters: dict[str, Any] = Field(default_factory=dict, max_length=200)
    logical_date: date | None = None
    callback_url: str | None = Field(None, min_length=8, max_length=2000)


class TriggerCallHandler(WorkbenchHandler):
    """Routes opened by a pipeline's trigger secret instead of a Jupyter login."""

    auth_resource = "workbench.pipelines"

    def check_xsrf_cookie(self) -> None:
        """No cookie authenticates here: the secret comes in a header (or signs the body),
        which a browser never adds on its own to a cross-site request."""

    def _source(self) -> str:
        return self.request.remote_ip or "?"

    async def _caller(self, name: str, payload: bytes, single_use: bool) -> Any:
        try:
            return await asyncio.to_thread(
                authenticate,
                self.workbench,
                name,
                self.request.headers.get("Authorization", ""),
                self.request.headers.get(signing.HEADER, ""),
                payload,
                single_use=single_use,
                source=self._source(),
            )
        except TriggerRefused as exc:
            self.log.warning(
                "Trigger of pipeline %s refused (401) from %s: %s", name, self._source(), exc
            )
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Bearer realm="workbench-trigger"')
            self.write_json(
                {
                    "message": f"{exc}; the pipeline's owner shows or rotates its trigger "
                    "secret in the pipelines panel or at .../trigger/secret",
                    "reason": "Unauthorized",
                },
                status=401,
            )
            return None

    def _absolute(self, path: str) -> str:
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return f"{self.request.protocol}://{self.request.host}{base}{path}"


class TriggerHandler(TriggerCallHandler):
    """POST: start a run of the pipeline; answers its id and a status URL that the same
    credential reads."""

    @allow_unauthenticated
    async def post(self, name: str) -> None:
        body = self.request.body or b""
        caller = await self._caller(name, body, single_use=True)
        if caller is None:
            return
        request = TriggerRequest.model_validate_json(body or b"{}")
        if request.callback_url:
            check_url(self.workbench, request.callback_url, "callback_url")
        service = RunService(self.workbench, caller.principal)
        plan, workflow_id = await asyncio.to_thread(
            service.prepare, name, request.parameters, request.logical_date, "trigger_url"
        )
        if request.callback_url:
            await asyncio.to_thread(self._callback, plan.run_id, request.callback_url, caller)
        from workbench_pipelines.plan import PIPELINE_RUN_WORKFLOW

        try:
            client = await self.workbench.temporal_client()
            await client.start_workflow(
                PIPELINE_RUN_WORKFLOW,
                plan,
                id=workflow_id,
                task_queue=self.workbench.settings.task_queue,
            )
        except Exception as exc:  # e.g. Temporal unreachable: the run is recorded failed
            service._not_started(plan.run_id, None, exc)
            raise
        self.write_json(
            {
                "run_id": plan.run_id,
                "pipeline": name,
                "status": "queued",
                "status_url": self._absolute(status_path(name, plan.run_id)),
            },
            status=202,
        )

    def _callback(self, run_id: str, url: str, caller: Any) -> None:
        with self.workbench.sessions.begin() as session:
            run = session.get(Run, run_id)
            add_run_callback(
                session, run_id, run.pipeline_id, url, caller.sealed_secret, caller.principal.name
            )


class TriggerStatusHandler(TriggerCallHandler):
    """GET: a run of this pipeline, with its outputs once it has ended (the credential
    signs the request path, or is sent as a bearer token)."""

    @allow_unauthenticated
    async def get(self, name: str, run_id: str) -> None:
        caller = await self._caller(name, self.request.path.encode(), single_use=False)
        if caller is None:
            return
        self.set_header("Cache-Control", "no-store")
        if not re.fullmatch(RUN_ID, run_id):
            raise NotFoundError(
                f"pipeline {name!r} has no run {run_id[:40]!r}: a run id is 32 hexadecimal "
                "characters, as the trigger's answer gave it (run_id, status_url)"
            )
        self.write_json(await asyncio.to_thread(self._status, name, run_id))

    def _status(self, name: str, run_id: str) -> dict[str, Any]:
        with self.workbench.sessions() as session:
            found = session.execute(
                select(Run)
                .join(Pipeline, Pipeline.id == Run.pipeline_id)
                .where(Run.id == run_id, Pipeline.name == name)
            ).scalar_one_or_none()
            if found is None:
                raise NotFoundError(f"pipeline {name!r} has no run {run_id}")
            ended = found.status in ("succeeded", "failed", "cancelled")
            return run_payload(session, found, name, ended)


class PipelineAdminHandler(WorkbenchHandler):
    auth_resource = "workbench.pipelines"


class TriggerSecretHandler(PipelineAdminHandler):
    """The trigger secret: GET says whether there is one (never the secret), POST creates
    or rotates it (shown once), DELETE revokes it."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        info = await asyncio.to_thread(
            TriggerService(self.workbench, self.principal).describe, name
        )
        self.write_json(self._with_url(info.model_dump(mode="json"), name))

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        made = await asyncio.to_thread(TriggerService(self.workbench, self.principal).rotate, name)
        self.set_header("Cache-Control", "no-store")
        self.write_json(self._with_url(made.model_dump(mode="json"), name), status=201)

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await asyncio.to_thread(TriggerService(self.workbench, self.principal).revoke, name)
        self.set_status(204)
        self.finish()

    def _with_url(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        root = f"{self.request.protocol}://{self.request.host}{base}"
        return {**body, "trigger_url": f"{root}workbench/api/pipelines/{name}/trigger"}


class WebhookTargetsHandler(PipelineAdminHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        targets = await asyncio.to_thread(TargetService(self.workbench, self.principal).list, name)
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[TargetOut]).dump_json(targets))

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        target = TargetIn.model_validate_json(self.request.body or b"{}")
        made = await asyncio.to_thread(
            TargetService(self.workbench, self.principal).create, name, target
        )
        self.set_header("Cache-Control", "no-store")
        self.write_json(made, status=201)


class WebhookTargetHandler(PipelineAdminHandler):
    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str, target_id: str) -> None:
        number = self.path_id(target_id, "webhook target")
        await asyncio.to_thread(TargetService(self.workbench, self.principal).delete, name, number)
        self.set_status(204)
        self.finish()


class WebhookTargetSecretHandler(PipelineAdminHandler):
    """POST: a new signing secret for a target (shown once)."""

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, target_id: str) -> None:
        number = self.path_id(target_id, "webhook target")
        made = await asyncio.to_thread(
            TargetService(self.workbench, self.principal).rotate, name, number
        )
        self.set_header("Cache-Control", "no-store")
        self.write_json(made, status=201)


class RunDeliveriesHandler(PipelineAdminHandler):
    """Every webhook delivery of a run and each attempt's answer (who may see the run)."""

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        found = await asyncio.to_thread(self._deliveries, run_id)
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[DeliveryOut]).dump_json(found))

    def _deliveries(self, run_id: str) -> list[DeliveryOut]:
        # 404 unless visible; a URL whole only for who sees the targets (RunService.get).
        return RunService(self.workbench, self.principal).get(run_id).deliveries


ROUTES = [
    (f"pipelines/{NAME}/trigger", TriggerHandler),
    # Any id: a malformed one is told so (JSON 404) to the credential's holder.
    (f"pipelines/{NAME}/trigger/runs/(?P<run_id>[^/]+)", TriggerStatusHandler),
    (f"pipelines/{NAME}/trigger/secret", TriggerSecretHandler),
    (f"pipelines/{NAME}/webhooks", WebhookTargetsHandler),
    (rf"pipelines/{NAME}/webhooks/(?P<target_id>\d+)", WebhookTargetHandler),
    (rf"pipelines/{NAME}/webhooks/(?P<target_id>\d+)/secret", WebhookTargetSecretHandler),
    (f"runs/{RUN}/deliveries", RunDeliveriesHandler),
]
