"""REST: /workbench/api/pipelines and /workbench/api/runs."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from workbench_pipelines.validate import MAX_BYTES

from ..errors import InvalidInputError, NotFoundError
from ..pipelines.bundle import MAX_BUNDLE_BYTES, MAX_PATH, PipelineBundle
from ..pipelines.registry import Deployment, PipelineOut, PipelineRegistry
from ..pipelines.runs import RunOut, RunService
from .base import WorkbenchHandler

NAME = r"(?P<name>[a-z][a-z0-9_-]{0,99})"
RUN_ID = r"[0-9a-f]{32}"
RUN = rf"(?P<run_id>{RUN_ID})"
MAX_TAIL = 2**40  # bytes of a log's end; more is the whole log


class FileRef(BaseModel):
    """A pipeline file in the server's root folder, YAML text to check, or a bundle."""

    model_config = ConfigDict(extra="forbid")
    path: str | None = Field(None, min_length=1, max_length=MAX_PATH)
    # Longer text is refused with a message by the validation itself; this bounds memory.
    text: str | None = Field(None, max_length=4 * MAX_BYTES)
    bundle: PipelineBundle | None = None


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parameters: dict[str, Any] = Field(default_factory=dict, max_length=200)
    logical_date: date | None = None


class PipelineBaseHandler(WorkbenchHandler):
    auth_resource = "workbench.pipelines"

    @property
    def registry(self) -> PipelineRegistry:
        return PipelineRegistry(self.workbench, self.principal)

    @property
    def runs(self) -> RunService:
        return RunService(self.workbench, self.principal)

    def _file(self, relative: str) -> Path:
        """A path inside the server's root folder (never outside it)."""
        if "\0" in relative:
            raise InvalidInputError("path: a file name cannot contain a NUL character")
        root = Path(self.serverapp.root_dir).resolve()
        try:
            path = (root / relative).resolve()
            if not path.is_relative_to(root):
                raise InvalidInputError(f"path {relative!r} is outside the notebook folder")
            found = path.is_file()
        except OSError as exc:  # e.g. a name too long for the file system
            raise InvalidInputError(f"path {relative!r}: {exc.strerror or exc}") from None
        if not found:
            raise NotFoundError(f"no file {relative!r}")
        return path


class PipelinesHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[PipelineOut]).dump_json(self.registry.list()))


class ValidateHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        from workbench_pipelines.validate import validate_file, validate_text

        ref = FileRef.model_validate_json(self.request.body or b"{}")
        # A hub user's server runs no steps: the service checks kernels when it deploys.
        kernels = "workbench_service" not in self.settings
        # Off the event loop: reading YAML and notebooks takes time in proportion to them.
        if ref.text is not None:
            folder = self._file(ref.path).parent if ref.path else None
            errors = await asyncio.to_thread(
                validate_text,
                ref.text,
                file=ref.path or "<pipeline>",
                notebook_folder=folder,
                kernels=kernels,
            )
        elif ref.path is not None:
            errors = await asyncio.to_thread(validate_file, self._file(ref.path), kernels=kernels)
        else:
            raise InvalidInputError("give the pipeline as path or as text")
        self.write_json(
            {"valid": not errors, "errors": [e.model_dump(mode="json") for e in errors]}
        )


class SchemaHandler(PipelineBaseHandler):
    """The JSON Schema of pipeline files as this server's spec defines it: the step kinds
    it knows and their fields, for editors (the pipeline editor's palette and forms)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        from workbench_pipelines.schema import pipeline_json_schema

        self.write_json(pipeline_json_schema())


class DeployHandler(PipelineBaseHandler):
    max_body_bytes = MAX_BUNDLE_BYTES  # a bundle carries its notebooks

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        ref = FileRef.model_validate_json(self.request.body or b"{}")
        registry = self.registry
        # Off the event loop: validating reads the YAML and every notebook.
        if ref.bundle is not None:
            deployment = await asyncio.to_thread(self._deploy_bundle, registry, ref.bundle)
        elif ref.path is not None:
            deployment = await asyncio.to_thread(registry.deploy, self._file(ref.path))
        else:
            raise InvalidInputError("path: the pipeline file to deploy is required")
        from ..pipelines.schedules import sync_schedule

        await sync_schedule(self.workbench, registry.spec(deployment.name))
        self.write_json(deployment, status=201)

    @staticmethod
    def _deploy_bundle(registry: PipelineRegistry, bundle: PipelineBundle) -> Deployment:
        from workbench_pipelines.validate import PipelineSpecError

        with tempfile.TemporaryDirectory(prefix="workbench-deploy-") as folder:
            try:
                return registry.deploy(bundle.write(Path(folder)))
            except PipelineSpecError as exc:  # name the user's file, not the copy
                for error in exc.errors:
                    error.file = bundle.file
                    error.message = error.message.replace(folder, "<bundle>")
                raise PipelineSpecError(exc.errors) from None


class PipelineHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(self.registry.get(name))


class ScheduleHandler(PipelineBaseHandler):
    """A pipeline's schedule: its state and next runs."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        from ..pipelines.schedules import describe

        pipeline = self.registry.get(name)  # exists and may be seen
        # The panel's buttons: operators may pause, resume and trigger.
        may_change = pipeline.may_operate
        self.write_json({**await describe(self.workbench, name), "may_change": may_change})


class ScheduleActionHandler(PipelineBaseHandler):
    """Pause, resume or trigger a pipeline's schedule."""

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        from ..pipelines.schedules import control, describe

        self.registry.require_operate(name, f"{action} the schedule of")
        await control(self.workbench, name, action)
        self.write_json({**await describe(self.workbench, name), "may_change": True})


class PipelineRunsHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        request = RunRequest.model_validate_json(self.request.body or b"{}")
        run = await self.runs.start(name, request.parameters, request.logical_date)
        self.write_json(run, status=201)


class RunsHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.query_int("limit", 50, low=1, high=500)
        runs = self.runs.list(self.get_query_argument("pipeline", None), limit)
        self.set_header("Content-Type", "application/json")
        self.finish(TypeAdapter(list[RunOut]).dump_json(runs))


class RunHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.write_json(await self.runs.status(run_id))


class RepairRequest(BaseModel):
    """``latest``: run the pipeline's current version (a fixed notebook) instead of the
    repaired run's own."""

    model_config = ConfigDict(extra="forbid")
    latest: bool = False


class RunActionHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, run_id: str, action: str) -> None:
        if action == "cancel":
            self.write_json(await self.runs.cancel(run_id), status=202)
        else:
            request = RepairRequest.model_validate_json(self.request.body or b"{}")
            self.write_json(await self.runs.repair(run_id, request.latest), status=201)


class AttemptNotebookHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, step: str, attempt: str) -> None:
        number = self.path_id(attempt, "attempt")
        notebook = await asyncio.to_thread(self.runs.executed_notebook, run_id, step, number)
        self.finish(notebook, set_content_type="application/x-ipynb+json")


class AttemptLogHandler(PipelineBaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, step: str, attempt: str) -> None:
        number = self.path_id(attempt, "attempt")
        tail = self.query_int("tail", -1, high=MAX_TAIL)  # -1: not given, the whole log
        text = await asyncio.to_thread(
            self.runs.attempt_log, run_id, step, number, tail if tail >= 0 else None
        )
        self.finish(text, set_content_type="text/plain; charset=utf-8")


ATTEMPT = rf"runs/{RUN}/steps/(?P<step>[a-z][a-z0-9_]*)/attempts/(?P<attempt>\d+)"

ROUTES = [
    ("pipelines", PipelinesHandler),
    ("pipelines/validate", ValidateHandler),
    ("pipelines/deploy", DeployHandler),
    # A name with a dot is no pipeline name, so this never hides a pipeline.
    (r"pipelines/schema\.json", SchemaHandler),
    (f"pipelines/{NAME}", PipelineHandler),
    (f"pipelines/{NAME}/runs", PipelineRunsHandler),
    (f"pipelines/{NAME}/schedule", ScheduleHandler),
    (f"pipelines/{NAME}/schedule/(?P<action>pause|resume|trigger)", ScheduleActionHandler),
    ("runs", RunsHandler),
    (f"runs/{RUN}", RunHandler),
    (f"runs/{RUN}/(?P<action>cancel|repair)", RunActionHandler),
    (f"{ATTEMPT}/notebook", AttemptNotebookHandler),
    (f"{ATTEMPT}/log", AttemptLogHandler),
]
