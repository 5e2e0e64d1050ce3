"""Runs: start (a Temporal workflow per run), history from the metadata DB, cancel, repair."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select, update

from workbench_pipelines.plan import (
    PIPELINE_RUN_WORKFLOW,
    ApprovalConfig,
    RetryPlan,
    RunPlan,
    StepPlan,
)
from workbench_pipelines.spec import ApprovalStep, NotebookStep, PipelineSpec, SqlStep, StepSpec
from workbench_pipelines.spec_checks import render_value, template_context
from workbench_pipelines.spec_sql import read_sql_file

from ..approvals.models import ApprovalOut, approval_out
from ..db.models import Approval, Notification, Pipeline, PipelineVersion, Run, RunTable, StepRun
from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..principal import Principal
from ..safe_files import read_beneath
from ..temporal import connect
from ..webhooks.events import deliveries
from ..webhooks.payloads import DeliveryOut, redacted
from .registry import PipelineRegistry
from .workflow_task import TIMEOUT_S, workflow_task_failure

if TYPE_CHECKING:
    from temporalio.client import Client

    from ..core import Workbench

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed", "cancelled")


class ReusedFrom(BaseModel):
    """The attempt of an earlier run whose result a repair reused."""

    run_id: str
    attempt: int


class AttemptOut(BaseModel):
    step_id: str
    attempt: int
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    output_notebook: str | None
    log_file: str | None = None
    error: str | None
    failing_cell: int | None  # index (from 0) of the cell in the executed notebook
    notebook_cell: int | None = None  # index (from 0) of that cell in the step's own notebook
    traceback: str | None
    reused_from: ReusedFrom | None = None  # a reused step: whose notebook and log these are


class RunTableOut(BaseModel):
    """A lake table version a step attempt read or wrote (read it back with
    ``Lake.read(table, version=...)`` or ``workbench lake show``)."""

    step_id: str
    attempt: int
    lake: str
    table: str
    access: str  # read | write
    version: int
    operation: str | None = None
    rows_added: int | None = None
    rows_updated: int | None = None
    rows_removed: int | None = None


class NotificationOut(BaseModel):
    event: str
    target: str
    status: str
    detail: str | None
    attempts: int
    sent_at: datetime | None


class RunOut(BaseModel):
    id: str
    pipeline: str
    version: int
    status: str
    trigger: str
    parameters: dict[str, Any]
    logical_date: str
    repair_of: str | None
    repaired_by: str | None = None  # the run that repairs this one (a run is repaired once)
    repair_latest: bool = False  # a repair that ran the pipeline's latest version
    requested_by: str  # who started it (a schedule: "scheduler"), or repaired it
    cancelled_by: str | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # Why it failed; while it has not finished, in a status answer (RunService.status),
    # that the worker cannot run its workflow code (see .workflow_task).
    error: str | None
    sla_deadline: datetime | None = None
    sla_missed_at: datetime | None = None
    attempts: list[AttemptOut] = []
    notifications: list[NotificationOut] = []
    tables: list[RunTableOut] = []  # lake table versions the run's steps read and wrote
    approvals: list[ApprovalOut] = []  # its approval gates: asked of whom, decided how
    deliveries: list[DeliveryOut] = []  # its webhook events and each attempt's answer


def build_plan(
    spec: PipelineSpec,
    version: PipelineVersion,
    run_id: str,
    params: dict[str, Any],
    logical_date: date,
    artifacts: Path,
    skip_steps: list[str] | None = None,
    now: datetime | None = None,
    owner: str | None = None,
    heartbeat_timeout_s: float | None = None,
) -> RunPlan:
    """Everything the workflow needs, resolved now: paths in the snapshot, parameters,
    the SLA deadline (counted from ``now``, when the run starts), who to notify and the
    installation's step heartbeat timeout (None: the workflow's default)."""
    snapshot = Path(version.snapshot_dir)
    steps = []
    for step in spec.steps:
        retries = step.retries
        steps.append(
            StepPlan(
                id=step.id,
                kind=step.kind,
                notebook=str(snapshot / step.notebook) if isinstance(step, NotebookStep) else "",
                config=(
                    approval_config(spec, step, params, logical_date, owner)
                    if isinstance(step, ApprovalStep)
                    else step_config(step, snapshot)
                ),
                parameters=spec.render_parameters(step, params, logical_date),
                depends_on=list(step.depends_on),
                retries=RetryPlan(
                    non_retryable=list(retries.non_retryable),
                    retry_on=list(retries.retry_on) if retries.retry_on is not None else None,
                    attempts=retries.attempts,
                    backoff_s=retries.backoff.total_seconds(),
                    backoff_coefficient=retries.backoff_coefficient,
                    max_backoff_s=(
                        retries.max_backoff.total_seconds()
                        if retries.max_backoff
                        else max(600.0, retries.backoff.total_seconds())
                    ),
                ),
                timeout_s=step.timeout.total_seconds() if step.timeout is not None else 0.0,
                kernel=step.kernel if isinstance(step, NotebookStep) else "",
                inputs=list(step.inputs) if isinstance(step, NotebookStep) else [],
                outputs=list(step.outputs) if isinstance(step, NotebookStep) else [],
            )
        )
    return RunPlan(
        run_id=run_id,
        pipeline=spec.name,
        version=version.version,
        logical_date=logical_date.isoformat(),
        artifacts_dir=str(artifacts),
        steps=steps,
        skip_steps=skip_steps or [],
        sla_deadline=_iso(sla_deadline(spec, now or datetime.now(UTC))),
        notifications={
            event: list(targets)
            for event, targets in (
                ("failure", spec.notifications.on_failure),
                ("success", spec.notifications.on_success),
                ("sla_miss", spec.notifications.on_sla_miss),
            )
            if targets
        },
        heartbeat_timeout_s=heartbeat_timeout_s,
    )


def step_config(step: StepSpec, snapshot: Path) -> dict[str, Any]:
    """A declarative step's spec for the worker, as JSON; a sql step's query is inlined
    from the version's snapshot, so the plan says exactly what ran."""
    if isinstance(step, NotebookStep):
        return {}
    config = step.model_dump(
        mode="json", exclude={"id", "kind", "depends_on", "retries", "timeout", "parameters"}
    )
    if isinstance(step, SqlStep):
        entries = config["queries"] if step.queries is not None else [config]
        for entry in entries:
            if entry.get("file") is None:
                continue
            text, reason = read_sql_file(snapshot / entry["file"])
            if text is None:
                raise ConflictError(f"step {step.id!r}: SQL file {entry['file']!r} {reason}")
            entry["sql"] = text
    return config


def approval_config(
    spec: PipelineSpec,
    step: ApprovalStep,
    params: dict[str, Any],
    logical_date: date,
    owner: str | None,
) -> dict[str, Any]:
    """An approval step for the worker: its message rendered for this run, its approvers
    named (by default the pipeline's owner and its operators' groups)."""
    context = template_context(logical_date, spec.timezone, spec.resolve_parameters(params))
    try:
        message = str(render_value(step.message, context)) if step.message else ""
    except Exception as exc:  # jinja2 raises many kinds; the user needs one message
        raise InvalidInputError(f"step {step.id!r} message: cannot render it: {exc}") from exc
    if step.approvers is not None:
        users, groups = list(step.approvers.users), list(step.approvers.groups)
    else:
        users, groups = [owner] if owner else [], list(spec.access.operators)
    escalate = step.escalate
    return ApprovalConfig(
        message=message,
        users=users,
        groups=groups,
        notify=list(step.notify),
        escalate_after_s=escalate.after.total_seconds() if escalate else None,
        escalate_notify=list(escalate.notify) if escalate else [],
        timeout_s=step.timeout.total_seconds() if step.timeout is not None else None,
        on_timeout=step.on_timeout,
    ).model_dump()


def sla_deadline(spec: PipelineSpec, started: datetime) -> datetime | None:
    """When a run started at ``started`` must have ended, by the spec's SLA (UTC).

    ``max_duration`` counts from the start. ``finish_by`` is a wall-clock time in the
    pipeline's time zone: its first occurrence after the start (a 23:00 run due at 02:00
    is due the next night). With both, the earlier wins.
    """
    if spec.sla is None:
        return None
    deadlines = []
    if spec.sla.max_duration is not None:
        deadlines.append(started + spec.sla.max_duration)
    if spec.sla.finish_by is not None:
        zone = ZoneInfo(spec.timezone)
        local = started.astimezone(zone)
        day = local.date()
        due = datetime.combine(day, spec.sla.finish_by, tzinfo=zone)
        if due <= local:
            due = datetime.combine(day + timedelta(days=1), spec.sla.finish_by, tzinfo=zone)
        deadlines.append(due)
    return min(deadlines).astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class Reused:
    """The attempt (of ``run_id``) whose result a repair reuses for a step."""

    run_id: str
    attempt: int
    output_notebook: str | None = None
    log_file: str | None = None
    duration_s: float | None = None


@dataclass
class Repair:
    """What a repair run repairs: the run, whether it runs the latest version, the steps
    it reuses and the attempts they come from."""

    run_id: str
    latest: bool = False
    skip: list[str] = field(default_factory=list)
    links: dict[str, Reused] = field(default_factory=dict)


def _reused_row(run_id: str, step_id: str, reused: Reused | None) -> StepRun:
    row = StepRun(run_id=run_id, step_id=step_id, attempt=0, status="reused")
    if reused is not None:
        row.reused_from_run, row.reused_from_attempt = reused.run_id, reused.attempt
        row.output_notebook, row.log_file = reused.output_notebook, reused.log_file
        row.duration_s = reused.duration_s
    return row


def _changed_steps(old: PipelineVersion, new: PipelineVersion) -> set[str]:
    """Steps of version ``new`` that would not run as they ran in ``old``: new ones, and
    those whose definition (kind, notebook, parameters, kernel, dependencies, a
    declarative step's settings) or files changed."""
    if old.version == new.version:
        return set()
    before = {s.id: s for s in PipelineSpec.model_validate(old.spec).steps}
    ignored = {"id", "retries", "timeout", "inputs", "outputs"}
    changed = set()
    for step in PipelineSpec.model_validate(new.spec).steps:
        was = before.get(step.id)
        if (
            was is None
            or was.model_dump(exclude=ignored) != step.model_dump(exclude=ignored)
            or [_file(old, f) for f in was.files] != [_file(new, f) for f in step.files]
        ):
            changed.add(step.id)
    return changed


def _file(version: PipelineVersion, path: str) -> bytes | None:
    try:
        return (Path(version.snapshot_dir) / path).read_bytes()
    except OSError:
        return None


class RunService:
    """Runs of the pipelines a principal may see; starting, cancelling and repairing them
    needs the right to operate the pipeline (see :class:`PipelineRegistry`)."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal
        self.registry = PipelineRegistry(workbench, principal)

    def _artifacts(self, run_id: str) -> Path:
        return self.workbench.settings.workbench_home.root / "runs" / run_id

    def prepare(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        logical_date: date | None = None,
        trigger: str = "manual",
        repair: Repair | None = None,
        version_number: int | None = None,
        workflow_id: str | None = None,
        running: bool = False,
    ) -> tuple[RunPlan, str]:
        """Record a queued run and resolve its plan; returns (plan, workflow id).

        With ``running``, the run is recorded as running at once (its caller is the
        workflow that runs it next: a schedule's firing), with its ``run.started`` webhook
        events, in the same transaction. With a ``workflow_id`` that a run already has
        (its workflow recorded it, then asked again: a retried or replayed bookkeeping
        activity), that run's plan again: one workflow, one run."""
        # The pipeline and its current version are read once: the right to operate is
        # the current version's, the run's version is that one unless another is named.
        pipeline, current = self.registry.version(name)
        spec = PipelineSpec.model_validate(current.spec)
        what = "repair runs of" if repair else "run"
        self.registry.check_operate(name, pipeline.owner, spec, what)
        if workflow_id is not None and repair is None:
            recorded = self._prepared(name, workflow_id)
            if recorded is not None:
                return recorded, workflow_id
        version = current
        if version_number is not None and version_number != current.version:
            pipeline, version = self.registry.version(name, version_number)
            spec = PipelineSpec.model_validate(version.spec)
        resolved = spec.resolve_parameters(params or {})  # InvalidInputError names the field
        day = logical_date or datetime.now(UTC).date()
        run_id = uuid.uuid4().hex
        skip = repair.skip if repair else []
        plan = build_plan(
            spec,
            version,
            run_id,
            resolved,
            day,
            self._artifacts(run_id),
            skip,
            owner=pipeline.owner,
            heartbeat_timeout_s=self.workbench.settings.step_heartbeat_timeout_s,
        )
        workflow_id = workflow_id or f"run-{name}-{run_id}"
        now = datetime.now(UTC)
        with self.workbench.sessions.begin() as session:
            session.add(
                Run(
                    id=run_id,
                    pipeline_id=pipeline.id,
                    version=version.version,
                    status="running" if running else "queued",
                    created_at=now,
                    started_at=now if running else None,
                    trigger=trigger,
                    parameters=resolved,
                    logical_date=day.isoformat(),
                    workflow_id=workflow_id,
                    repair_of=repair.run_id if repair else None,
                    repair_latest=repair.latest if repair else False,
                    requested_by=self.principal.name,
                    sla_deadline=(
                        datetime.fromisoformat(plan.sla_deadline) if plan.sla_deadline else None
                    ),
                )
            )
            if repair is not None:
                session.flush()
                self._claim(session, repair.run_id, run_id)
                for step_id in repair.skip:  # linked to the attempt that ran them
                    session.add(_reused_row(run_id, step_id, repair.links.get(step_id)))
            if running:
                from ..webhooks.events import queue_webhooks

                session.flush()
                queue_webhooks(session, run_id, "run.started")
        return plan, workflow_id

    def _prepared(self, name: str, workflow_id: str) -> RunPlan | None:
        """The plan of the run already recorded for ``workflow_id``, if there is one. Its
        workflow never got the plan, so none of its steps has run: it is still queued, or
        running if it was recorded running at once (or the workflow task that got the plan
        was lost and retried). Only those few runs are looked at (status is indexed, the
        workflow id not)."""
        with self.workbench.sessions() as session:
            run = session.scalar(
                select(Run).where(
                    Run.status.in_(("queued", "running")), Run.workflow_id == workflow_id
                )
            )
            if run is None:
                return None
            run_id, number, params = run.id, run.version, dict(run.parameters or {})
            day, created = date.fromisoformat(run.logical_date), run.created_at
        pipeline, version = self.registry.version(name, number)
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)  # SQLite hands back naive UTC times
        return build_plan(
            PipelineSpec.model_validate(version.spec),
            version,
            run_id,
            params,
            day,
            self._artifacts(run_id),
            now=created,
            owner=pipeline.owner,
            heartbeat_timeout_s=self.workbench.settings.step_heartbeat_timeout_s,
        )

    @staticmethod
    def _claim(session: Any, repaired: str, repair_id: str) -> None:
        """Mark ``repaired`` as repaired by ``repair_id``, once: a second repair is refused
        (checked and set in one statement, so two at the same time cannot both pass)."""
        claimed = session.execute(
            update(Run)
            .where(Run.id == repaired, Run.repaired_by.is_(None))
            .values(repaired_by=repair_id)
        )
        if claimed.rowcount != 1:
            other = session.get(Run, repaired)
            by = other.repaired_by if other is not None else None
            raise ConflictError(
                f"run {repaired} was already repaired by run {by}; open that run, and repair "
                "it instead if it failed too"
            )

    async def start(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        logical_date: date | None = None,
        trigger: str = "manual",
        repair: Repair | None = None,
        version_number: int | None = None,
    ) -> RunOut:
        plan, workflow_id = self.prepare(
            name, params, logical_date, trigger, repair, version_number
        )
        try:
            client = await self.workbench.temporal_client()
            await client.start_workflow(
                PIPELINE_RUN_WORKFLOW,
                plan,
                id=workflow_id,
                task_queue=self.workbench.settings.task_queue,
            )
        except Exception as exc:  # e.g. Temporal unreachable: nothing will run it
            self._not_started(plan.run_id, repair, exc)
            raise
        return self.get(plan.run_id)

    def _not_started(self, run_id: str, repair: Repair | None, exc: Exception) -> None:
        """A run whose workflow did not start ends failed, and frees what it repaired."""
        with self.workbench.sessions.begin() as session:
            session.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(
                    status="failed",
                    finished_at=datetime.now(UTC),
                    error=f"not started: {type(exc).__name__}: {exc}".splitlines()[0],
                )
            )
            if repair is not None:
                session.execute(
                    update(Run)
                    .where(Run.id == repair.run_id, Run.repaired_by == run_id)
                    .values(repaired_by=None)
                )

    async def wait(self, run_id: str) -> RunOut:
        """The run once it has ended, however it ended (its history says how)."""
        from temporalio.client import WorkflowFailureError

        client = await self.workbench.temporal_client()
        try:
            await client.get_workflow_handle(self._workflow_id(run_id)).result()
        except WorkflowFailureError:  # cancelled or terminated: recorded in the run
            pass
        return self.get(run_id)

    async def status(self, run_id: str, client: Client | None = None) -> RunOut:
        """The run (:meth:`get`) as its status answer shows it: a run not finished whose
        workflow code fails on the worker says so in ``error`` (Temporal retries that
        code until a fixed worker runs it; see :mod:`.workflow_task`). One run, one
        bounded look at Temporal; lists never ask it."""
        out = self.get(run_id)
        if out.status in FINISHED or out.error:
            return out
        try:
            if client is None:
                client = await asyncio.wait_for(self.workbench.temporal_client(), TIMEOUT_S)
        except Exception as exc:  # Temporal down or unset: the run as recorded
            log.debug("run %s: no Temporal client for its status: %r", run_id, exc)
            return out
        out.error = await workflow_task_failure(client, self._workflow_id(run_id))
        return out

    def status_blocking(self, run_id: str) -> RunOut:
        """:meth:`status` for callers without an event loop (the CLI, a tool's thread),
        over a connection of its own (the core's client belongs to its loop)."""
        settings = self.workbench.settings
        if not settings.temporal_address:
            return self.get(run_id)

        async def ask() -> RunOut:
            try:
                client = await connect(
                    settings.temporal_address, settings.temporal_namespace, timeout=TIMEOUT_S
                )
            except Exception as exc:
                log.debug("run %s: Temporal not reached for its status: %r", run_id, exc)
                return self.get(run_id)
            return await self.status(run_id, client)

        return asyncio.run(ask())

    def _workflow_id(self, run_id: str) -> str:
        with self.workbench.sessions() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise NotFoundError(f"no run {run_id!r}")
            return run.workflow_id

    async def cancel(self, run_id: str) -> RunOut:
        run = self.get(run_id)
        self.registry.require_operate(run.pipeline, "cancel runs of")
        if run.status in FINISHED:
            raise ConflictError(f"run {run_id} already {run.status}")
        with self.workbench.sessions.begin() as session:
            row = session.get(Run, run_id)
            if row is not None and row.cancelled_by is None:
                row.cancelled_by = self.principal.name
        client = await self.workbench.temporal_client()
        await client.get_workflow_handle(self._workflow_id(run_id)).cancel()
        return self.get(run_id)

    async def repair(self, run_id: str, latest: bool = False) -> RunOut:
        """A new run with the same parameters and date that re-runs only the failed steps
        and their downstream; steps that succeeded are reused (their notebooks and logs
        stay those of the attempts that ran them). A run is repaired once.

        With ``latest``, the pipeline's current version runs instead of the run's own (a
        fixed notebook is applied); a step reused must then be unchanged in it.
        """
        run = self.get(run_id)
        self.registry.require_operate(run.pipeline, "repair runs of")
        if run.status not in ("failed", "cancelled"):
            raise ConflictError(f"run {run_id} is {run.status}; only failed runs are repaired")
        if run.repaired_by is not None:
            raise ConflictError(
                f"run {run_id} was already repaired by run {run.repaired_by}; open that run, "
                "and repair it instead if it failed too"
            )
        _, old = self.registry.version(run.pipeline, run.version)
        _, new = self.registry.version(run.pipeline, None if latest else run.version)
        spec = PipelineSpec.model_validate(new.spec)
        good = {a.step_id for a in run.attempts if a.status in ("succeeded", "reused")}
        good = good.intersection(s.id for s in spec.steps) - _changed_steps(old, new)
        rerun = set(spec.downstream([s.id for s in spec.steps if s.id not in good]))
        keep = sorted(good - rerun)
        params = run.parameters
        if latest:  # parameters the latest version no longer declares are left out
            params = {k: v for k, v in params.items() if k in spec.parameters}
        return await self.start(
            run.pipeline,
            params,
            date.fromisoformat(run.logical_date),
            trigger="repair",
            repair=Repair(run_id, latest, keep, self._reused(run_id, keep)),
            version_number=new.version,
        )

    def _reused(self, run_id: str, step_ids: list[str]) -> dict[str, Reused]:
        """For each step, the attempt that ran it: in ``run_id``, or in the run an earlier
        repair reused it from."""
        found = {}
        with self.workbench.sessions() as session:
            rows = session.scalars(
                select(StepRun)
                .where(StepRun.run_id == run_id, StepRun.step_id.in_(step_ids))
                .where(StepRun.status.in_(("succeeded", "reused")))
                .order_by(StepRun.attempt)
            )
            for row in rows:
                if row.status == "succeeded":
                    source, attempt = run_id, row.attempt
                elif row.reused_from_run is not None and row.reused_from_attempt is not None:
                    source, attempt = row.reused_from_run, row.reused_from_attempt
                else:  # reused before reuses were linked
                    continue
                found[row.step_id] = Reused(
                    source, attempt, row.output_notebook, row.log_file, row.duration_s
                )
        return found

    def executed_notebook(self, run_id: str, step_id: str, attempt: int) -> bytes:
        """The executed notebook of one attempt, as papermill wrote it."""
        return self._attempt_file(run_id, step_id, attempt, "output_notebook", "executed notebook")

    def attempt_log(self, run_id: str, step_id: str, attempt: int, tail: int | None = None) -> str:
        """What one attempt's kernel wrote to stdout and stderr (the last ``tail`` bytes)."""
        data = self._attempt_file(run_id, step_id, attempt, "log_file", "log", tail)
        return data.decode("utf-8", errors="replace")

    def _attempt_file(
        self,
        run_id: str,
        step_id: str,
        attempt: int,
        field: str,
        what: str,
        tail: int | None = None,
    ) -> bytes:
        run = self.get(run_id)
        found = next(
            (a for a in run.attempts if a.step_id == step_id and a.attempt == attempt), None
        )
        name = getattr(found, field, None) if found is not None else None
        # A reused step's files are those of the attempt (of an earlier run of the same
        # pipeline) that ran it.
        owner = found.reused_from.run_id if found is not None and found.reused_from else run_id
        if not name or not Path(os.path.normpath(name)).is_relative_to(self._artifacts(owner)):
            raise NotFoundError(f"run {run_id} has no {what} for {step_id} #{attempt}")
        # Step code writes beside these files: only the run's own, and never through a
        # link, not even a link in place of the run's folder (the runs folder is trusted).
        return read_beneath(
            self._artifacts(owner).parent, Path(name), f"{what} of {step_id} #{attempt}", tail
        )

    def get(self, run_id: str) -> RunOut:
        with self.workbench.sessions() as session:
            row = session.execute(
                select(Run, Pipeline.name)
                .join(Pipeline, Pipeline.id == Run.pipeline_id)
                .where(Run.id == run_id)
            ).first()
            visible = self.registry.visible_ids()
            if row is None or (visible is not None and row[0].pipeline_id not in visible):
                raise NotFoundError(f"no run {run_id!r}")
            run, name = row
            spec = session.scalar(
                select(PipelineVersion.spec).where(
                    PipelineVersion.pipeline_id == run.pipeline_id,
                    PipelineVersion.version == run.version,
                )
            )
            # Steps in the order they run (the DAG's), each step's attempts in order.
            order = (
                {s: i for i, s in enumerate(PipelineSpec.model_validate(spec).topological_order())}
                if spec is not None
                else {}
            )
            attempts = sorted(
                session.scalars(select(StepRun).where(StepRun.run_id == run_id)),
                key=lambda a: (order.get(a.step_id, len(order)), a.step_id, a.attempt),
            )
            notices = session.scalars(
                select(Notification).where(Notification.run_id == run_id).order_by(Notification.id)
            )
            tables = sorted(
                session.scalars(select(RunTable).where(RunTable.run_id == run_id)),
                key=lambda t: (order.get(t.step_id, len(order)), t.step_id, t.attempt, t.id),
            )
            out = self._out(run, name, attempts)
            out.tables = [
                RunTableOut(
                    step_id=t.step_id,
                    attempt=t.attempt,
                    lake=t.lake,
                    table=t.table_name,
                    access=t.access,
                    version=t.version,
                    operation=t.operation,
                    rows_added=t.rows_added,
                    rows_updated=t.rows_updated,
                    rows_removed=t.rows_removed,
                )
                for t in tables
            ]
            out.notifications = [
                NotificationOut.model_validate(n, from_attributes=True) for n in notices
            ]
            gates = session.scalars(
                select(Approval).where(Approval.run_id == run_id).order_by(Approval.id)
            )
            out.approvals = [approval_out(g, name, self.principal) for g in gates]
            out.deliveries = deliveries(session, run_id)
            # A target's URL is often a credential itself (an incoming hook's path, an n8n
            # resume URL, a ?token=): only who sees the targets (owner, admins) sees it.
            owner = session.scalar(select(Pipeline.owner).where(Pipeline.id == run.pipeline_id))
            if not self.principal.may_change(owner or ""):
                out.deliveries = [redacted(d) for d in out.deliveries]
            return out

    def list(self, name: str | None = None, limit: int = 50) -> list[RunOut]:
        """The latest runs of the pipelines the principal may see (of one, if named)."""
        visible = self.registry.visible_ids()
        with self.workbench.sessions() as session:
            query = select(Run, Pipeline.name).join(Pipeline, Pipeline.id == Run.pipeline_id)
            if visible is not None:
                query = query.where(Run.pipeline_id.in_(list(visible)))
            if name is not None:
                query = query.where(Pipeline.name == name)
            rows = session.execute(query.order_by(Run.created_at.desc()).limit(limit))
            return [self._out(run, pipeline, []) for run, pipeline in rows]

    @staticmethod
    def _out(run: Run, name: str, attempts: list[StepRun]) -> RunOut:
        return RunOut(
            id=run.id,
            pipeline=name,
            version=run.version,
            status=run.status,
            trigger=run.trigger,
            parameters=run.parameters,
            logical_date=run.logical_date,
            repair_of=run.repair_of,
            repaired_by=run.repaired_by,
            repair_latest=run.repair_latest,
            requested_by=run.requested_by,
            cancelled_by=run.cancelled_by,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
            sla_deadline=run.sla_deadline,
            sla_missed_at=run.sla_missed_at,
            attempts=[
                AttemptOut(
                    step_id=a.step_id,
                    attempt=a.attempt,
                    status=a.status,
                    started_at=a.started_at,
                    finished_at=a.finished_at,
                    duration_s=a.duration_s,
                    output_notebook=a.output_notebook,
                    log_file=a.log_file,
                    error=a.error,
                    failing_cell=a.failing_cell,
                    notebook_cell=a.notebook_cell,
                    traceback=a.traceback,
                    reused_from=(
                        ReusedFrom(run_id=a.reused_from_run, attempt=a.reused_from_attempt)
                        if a.reused_from_run is not None and a.reused_from_attempt is not None
                        else None
                    ),
                )
                for a in attempts
            ],
        )
