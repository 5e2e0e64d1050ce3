"""The ``workbench`` command in a hub user's terminal: the service, as that user.

A user server under JupyterHub holds no core (no metadata DB, no key): the workbench
runs once as the hub's service. Its terminals inherit the server's
``WORKBENCH_SERVICE_URL`` and ``JUPYTERHUB_API_TOKEN``, so commands act through the
service's REST API with the user's own identity, exactly as the panels do, instead of
opening a stray home of their own that nobody else would ever see.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from ..errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SourceUnavailableError,
    WorkbenchError,
)
from ..pipelines.bundle import PipelineBundle
from ..pipelines.registry import Deployment, PipelineOut
from ..pipelines.runs import FINISHED, RunOut
from ..settings import DB_URL_ENV, HUB_TOKEN_ENV, SERVICE_URL_ENV

ERRORS: dict[int, type[WorkbenchError]] = {
    400: InvalidInputError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
}


def service_from_env() -> ServiceClient | None:
    """The service this terminal's user server forwards to, if it is one."""
    url, token = os.environ.get(SERVICE_URL_ENV), os.environ.get(HUB_TOKEN_ENV)
    return ServiceClient(url, token) if url and token else None


def refuse_local_core_in_hub(what: str) -> None:
    """In a hub user's terminal there is no core to open here (that would make a stray
    home nobody else sees): say where ``what`` is done instead."""
    if os.environ.get(SERVICE_URL_ENV) and not os.environ.get(DB_URL_ENV):
        raise ConfigurationError(
            f"this terminal belongs to a JupyterHub user server: the workbench runs as the "
            f"hub's service, so {what} in JupyterLab (its panels and dialogs) instead"
        )


class ServiceClient:
    """The workbench REST API of the hub's service, with a user's hub token."""

    def __init__(self, url: str, token: str, timeout: float = 120.0) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """The decoded answer; an error answer raises the domain error it stands for,
        with the service's own message (and the file's problems, for a pipeline)."""
        target = f"{self.url}workbench/api/{path}"
        given = {k: v for k, v in query.items() if v is not None}
        if given:
            target += "?" + urllib.parse.urlencode(given)
        request = urllib.request.Request(  # noqa: S310 - the service URL of this hub
            target,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                raw = answer.read()
                kind = answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise self._error(exc) from None
        except OSError as exc:
            raise SourceUnavailableError(
                f"the workbench service at {self.url} did not answer ({exc})"
            ) from None
        if not raw:
            return None
        return json.loads(raw) if "json" in kind else raw.decode("utf-8", errors="replace")

    def _error(self, exc: urllib.error.HTTPError) -> WorkbenchError:
        try:
            payload = json.loads(exc.read() or b"{}")
        except ValueError:
            payload = {}
        message = payload.get("message") or f"{exc.code} {exc.reason}"
        error = ERRORS.get(exc.code, SourceUnavailableError)(message)
        if exc.code == 400 and payload.get("errors"):
            from workbench_pipelines.validate import PipelineSpecError, SpecError

            return PipelineSpecError([SpecError.model_validate(e) for e in payload["errors"]])
        return error


class RemoteRegistry:
    """The part of :class:`~workbench_server.pipelines.registry.PipelineRegistry` the
    CLI uses, through the service."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    def deploy(self, file: Path) -> Deployment:
        bundle = PipelineBundle.of(file.resolve(), str(file))
        answer = self.client.call("POST", "pipelines/deploy", {"bundle": bundle.model_dump()})
        return Deployment.model_validate(answer)

    def list(self) -> list[PipelineOut]:
        return TypeAdapter(list[PipelineOut]).validate_python(self.client.call("GET", "pipelines"))

    def control(self, name: str, action: str) -> str:
        if action not in ("pause", "resume", "trigger"):
            raise InvalidInputError(
                f"schedule {action} is not offered in a hub; ask an admin of the workbench"
            )
        self.client.call("POST", f"pipelines/{name}/schedule/{action}")
        return f"{action}: done"


class RemoteRuns:
    """The part of :class:`~workbench_server.pipelines.runs.RunService` the CLI uses,
    through the service."""

    def __init__(self, client: ServiceClient, poll_s: float = 1.0) -> None:
        self.client = client
        self.poll_s = poll_s

    async def start(
        self, name: str, params: dict[str, Any] | None = None, logical_date: date | None = None
    ) -> RunOut:
        body: dict[str, Any] = {"parameters": params or {}}
        if logical_date is not None:
            body["logical_date"] = logical_date.isoformat()
        return RunOut.model_validate(self.client.call("POST", f"pipelines/{name}/runs", body))

    async def wait(self, run_id: str) -> RunOut:
        import asyncio

        while True:  # the service has no push: ask again every poll_s
            run = self.get(run_id)
            if run.status in FINISHED:
                return run
            await asyncio.sleep(self.poll_s)

    def get(self, run_id: str) -> RunOut:
        return RunOut.model_validate(self.client.call("GET", f"runs/{run_id}"))

    def status_blocking(self, run_id: str) -> RunOut:
        return self.get(run_id)  # the service's answer is its status answer

    def list(self, name: str | None = None, limit: int = 50) -> list[RunOut]:
        answer = self.client.call("GET", "runs", pipeline=name, limit=limit)
        return TypeAdapter(list[RunOut]).validate_python(answer)

    def attempt_log(self, run_id: str, step_id: str, attempt: int) -> str:
        return self.client.call("GET", f"runs/{run_id}/steps/{step_id}/attempts/{attempt}/log")

    async def cancel(self, run_id: str) -> RunOut:
        return RunOut.model_validate(self.client.call("POST", f"runs/{run_id}/cancel"))

    async def repair(self, run_id: str, latest: bool = False) -> RunOut:
        answer = self.client.call("POST", f"runs/{run_id}/repair", {"latest": latest})
        return RunOut.model_validate(answer)
