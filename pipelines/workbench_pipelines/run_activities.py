"""Activities of a pipeline run: execute a step attempt, and keep the run history.

The workflow never touches the metadata DB; these activities do. Each attempt records
itself when it starts and when it ends (through short DB outages, see
:mod:`.run_history`), so the history shows every attempt, including one whose worker
died (marked ``lost`` by the attempt that follows it).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from workbench_server.accounts import step_account
from workbench_server.approvals.service import cancel_pending
from workbench_server.db.models import Notification, Pipeline, Run, StepRun
from workbench_server.delivery import DeliveryFailed
from workbench_server.errors import ConfigurationError, SourceUnavailableError
from workbench_server.lineage.export import export_configured
from workbench_server.lineage.service import LineageService
from workbench_server.metrics import instruments
from workbench_server.webhooks.events import RUN_STATUS_EVENTS

from .attempts import stop_decision
from .ingest.activity import run_attempt as run_declarative
from .ingest.lineage import with_versions
from .kernel_access import Attempt, KernelAccess, kernel_environment, run_context
from .lake_credentials import step_lake_env
from .notebook import CellFailure, Progress, execute
from .notify import NotConfigured, deliver
from .plan import Notice, PreparedRun, PrepareRun, RunEvent, StepInput, StepOutcome
from .run_history import (
    AttemptHistory,
    AttemptLedger,
    AttemptRecord,
    HistoryUnavailable,
    Started,
    beat_every,
)
from .spec import TIMEOUT_ERROR
from .spec_types import decimals_as_text
from .webhook_delivery import queue_webhooks, start_pending

if TYPE_CHECKING:
    from workbench_server.core import Workbench
    from workbench_server.lineage.openlineage import JobRun

    from .kernel_pool import KernelPool

# A run's status as an OpenLineage event type.
PIPELINE_STATES = {
    "running": "START",
    "succeeded": "COMPLETE",
    "failed": "FAIL",
    "cancelled": "ABORT",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _now() -> datetime:
    return datetime.now(UTC)


class RunActivities:
    """Activities bound to one installation's metadata DB."""

    def __init__(
        self,
        workbench: Workbench,
        kernel_access: KernelAccess | None = None,
        kernel_pool: KernelPool | None = None,
    ) -> None:
        self.workbench = workbench
        self.kernel_access = kernel_access
        self.kernel_pool = kernel_pool  # kernels started ahead for the next steps

    @activity.defn(name="workbench.prepare_run")
    async def prepare_run(self, data: PrepareRun) -> PreparedRun:
        """Record a scheduled run and resolve its plan from the deployed version; with
        ``running``, record it as running in the same transaction and announce its start
        as :meth:`record_run` does (webhooks, OpenLineage)."""
        from zoneinfo import ZoneInfo

        from workbench_server.pipelines.runs import RunService
        from workbench_server.principal import Principal

        def prepare() -> PreparedRun:
            service = RunService(self.workbench, Principal(name="scheduler", admin=True))
            local = datetime.fromisoformat(data.scheduled_at).astimezone(ZoneInfo(data.timezone))
            plan, workflow_id = service.prepare(
                data.pipeline,
                None,
                local.date(),
                data.trigger,
                workflow_id=data.workflow_id
                or f"run-{data.pipeline}-{activity.info().workflow_run_id}"
                + (f"-{data.key}" if data.key else ""),
                running=data.running,
            )
            return PreparedRun(plan=plan, workflow_id=workflow_id)

        prepared = await asyncio.to_thread(prepare)
        if data.running:
            await self._start_webhooks(prepared.plan.run_id)
            started = RunEvent(run_id=prepared.plan.run_id, status="running")
            await asyncio.to_thread(self._pipeline_lineage, started)
        return prepared

    @activity.defn(name="workbench.record_run")
    async def record_run(self, event: RunEvent) -> None:
        await asyncio.to_thread(self._record_run, event)
        await self._start_webhooks(event.run_id)
        if event.status in PIPELINE_STATES:
            await asyncio.to_thread(self._pipeline_lineage, event)

    def _pipeline_lineage(self, event: RunEvent) -> None:
        """The pipeline run as the OpenLineage parent run of its step attempts."""
        if not export_configured(self.workbench.settings):
            return
        from workbench_server.lineage.openlineage import (
            JobRun,
            RunState,
            WorkbenchRunFacet,
            close_lost_attempts,
            emitter_of,
            run_uuid,
        )

        emitter = emitter_of(self.workbench)
        if not emitter.enabled:
            return
        try:
            with self.workbench.sessions() as session:
                run = session.get(Run, event.run_id)
                pipeline = session.get(Pipeline, run.pipeline_id) if run is not None else None
                if pipeline is None:
                    return
                job_run = JobRun(
                    namespace=emitter.namespace,
                    job=pipeline.name,
                    run_id=run_uuid(event.run_id),
                    job_type="DAG",
                    facet=WorkbenchRunFacet(
                        pipeline=pipeline.name,
                        version=run.version,
                        logicalDate=run.logical_date,
                        parameters=run.parameters or {},
                        workbenchRunId=event.run_id,
                    ),
                )
                # Attempts whose worker died reported no end: close them with the run.
                lost = session.execute(
                    select(StepRun.step_id, StepRun.attempt, StepRun.error).where(
                        StepRun.run_id == event.run_id,
                        StepRun.attempt > 0,
                        StepRun.status.in_(("lost", "running")),
                    )
                ).all()
            state = PIPELINE_STATES[event.status]
            if state != "START":
                close_lost_attempts(emitter, job_run.facet, lost)
            error = (event.error or "failed") if state == "FAIL" else None
            emitter.emit(job_run.event(RunState(state), error))
        except Exception:  # lineage never fails a run
            activity.logger.warning("no OpenLineage event for run %s", event.run_id, exc_info=True)

    def _record_run(self, event: RunEvent) -> None:
        ended: tuple[str, float | None] | None = None
        with self.workbench.sessions.begin() as session:
            run = session.get(Run, event.run_id)
            if run is None:
                return
            if event.status in ("succeeded", "failed", "cancelled") and run.status != event.status:
                pipeline = session.get(Pipeline, run.pipeline_id)
                start = run.started_at or run.created_at
                seconds = (_now() - start).total_seconds() if start is not None else None
                ended = (pipeline.name if pipeline is not None else "", seconds)
            if run.status in ("succeeded", "failed", "cancelled") and event.status == "running":
                return  # a late "running" (its activity outran by a cancel) changes nothing
            changed = run.status != event.status
            run.status = event.status
            if event.status == "running" and run.started_at is None:
                run.started_at = _now()
            if event.status in ("succeeded", "failed", "cancelled"):
                run.finished_at = _now()
                run.error = event.error
                # Nothing runs once the run has ended: an attempt still "running" is one
                # whose end never reached the history (e.g. the metadata DB was away).
                session.execute(
                    update(StepRun)
                    .where(StepRun.run_id == event.run_id, StepRun.status == "running")
                    .values(
                        status="lost",
                        finished_at=_now(),
                        error="lost: its end never reached the history",
                    )
                )
                cancel_pending(session, event.run_id)  # a gate left waiting is closed
                attempted = set(
                    session.scalars(select(StepRun.step_id).where(StepRun.run_id == event.run_id))
                )
                for step_id, state in event.step_states.items():
                    if step_id not in attempted:
                        session.add(
                            StepRun(run_id=event.run_id, step_id=step_id, attempt=0, status=state)
                        )
            if changed and event.status in RUN_STATUS_EVENTS:
                session.flush()
                queue_webhooks(session, event.run_id, RUN_STATUS_EVENTS[event.status])
        if ended is not None:  # once the end is written: not again for a retried record
            instruments.run_finished(ended[0], event.status, ended[1])

    async def _start_webhooks(self, run_id: str) -> None:
        """Start delivering the run's queued webhook events; never fails the caller."""
        try:
            await start_pending(self.workbench, run_id)
        except Exception:  # left queued: the run's next event or a retry starts them
            activity.logger.warning("webhooks of run %s not started", run_id, exc_info=True)

    # -- lineage ---------------------------------------------------------------------
    def _declared_lineage(self, data: StepInput) -> None:
        """The step's declared inputs feed its declared outputs; lineage never fails a run."""
        from workbench_server.lineage.service import LineageService

        try:
            principal, pipeline = run_context(self.workbench, data.run_id)
            job = f"{pipeline}.{data.step.id}"
            LineageService(self.workbench, principal).record_declared(
                data.step.inputs, data.step.outputs, job, data.run_id
            )
        except Exception:  # logged; the step itself succeeded
            activity.logger.warning("lineage of step %s not recorded", data.step.id, exc_info=True)

    def _lineage_start(self, data: StepInput, attempt: int) -> JobRun | None:
        """The attempt as an OpenLineage run, announced with START (when events go out)."""
        if not export_configured(self.workbench.settings):
            return None
        from workbench_server.lineage.openlineage import (
            JobRun,
            RunState,
            WorkbenchRunFacet,
            emitter_of,
            run_uuid,
        )

        emitter = emitter_of(self.workbench)
        if not emitter.enabled:
            return None
        try:
            with self.workbench.sessions() as session:
                run = session.get(Run, data.run_id)
                pipeline = session.get(Pipeline, run.pipeline_id) if run is not None else None
                if pipeline is None:
                    return None
                job_run = JobRun(
                    namespace=emitter.namespace,
                    job=f"{pipeline.name}.{data.step.id}",
                    run_id=run_uuid(data.run_id, data.step.id, attempt),
                    job_type="STEP",
                    facet=WorkbenchRunFacet(
                        pipeline=pipeline.name,
                        version=run.version,
                        attempt=attempt,
                        logicalDate=run.logical_date,
                        # As written ("1234567.10"), not the worker's {"$decimal": ...}.
                        parameters=decimals_as_text(data.step.parameters),
                        workbenchRunId=data.run_id,
                    ),
                    parent=(pipeline.name, run_uuid(data.run_id)),
                )
            # Only datasets of namespaces the run may use (warnings come with the edges).
            step = data.step
            allowed = set(
                LineageService(
                    self.workbench, run_context(self.workbench, data.run_id)[0]
                ).writable([*step.inputs, *step.outputs])
            )
            job_run.datasets.add_declared(
                [n for n in step.inputs if n in allowed], [n for n in step.outputs if n in allowed]
            )
            emitter.emit(job_run.event(RunState.START))
        except Exception:  # lineage never fails a step
            activity.logger.warning("no OpenLineage START for %s", data.step.id, exc_info=True)
            return None
        return job_run

    def _lineage_end(
        self,
        job_run: JobRun,
        granted: Attempt,
        state: str,
        error: BaseException | None = None,
    ) -> None:
        """COMPLETE with what the step's SQL read and wrote (and column lineage), or
        FAIL / ABORT with the error and the failing cell's traceback."""
        from workbench_server.lineage.openlineage import RunState, emitter_of

        try:
            for statement, recorded in granted.sql:
                job_run.datasets.add_sql(recorded.found, recorded.context, statement)
            if granted.tables:  # which version of each lake table (declarative steps)
                for access in granted.tables:
                    key = (access.lake, access.table)
                    if access.access == "read":
                        job_run.datasets.inputs.setdefault(key)
                    else:
                        job_run.datasets.outputs.setdefault(key, {})
            trace = None
            if state == "FAIL":
                with self.workbench.sessions() as session:
                    trace = session.scalar(
                        select(StepRun.traceback)
                        .where(StepRun.run_id == granted.run_id, StepRun.step_id == granted.step_id)
                        .order_by(StepRun.attempt.desc())
                        .limit(1)
                    )
            message = str(error) if error is not None and str(error) else None
            if state == "ABORT":
                message = None
            elif state == "FAIL" and message is None:
                message = type(error).__name__
            event = job_run.event(RunState(state), message, trace)
            if granted.tables:
                event = with_versions(event, granted.tables)
            emitter_of(self.workbench).emit(event)
        except Exception:  # lineage never fails a step
            activity.logger.warning("no OpenLineage %s for %s", state, job_run.job, exc_info=True)

    # -- notifications ---------------------------------------------------------------
    @activity.defn(name="workbench.notify")
    async def notify(self, notice: Notice) -> None:
        """Record the event (an SLA miss marks the run) and tell each target once.

        Every target's outcome is stored. A target that failed makes the activity fail so
        that Temporal tries again; targets already reached are not messaged twice.
        """
        failed = await asyncio.to_thread(self._notify, notice)
        await self._start_webhooks(notice.run_id)
        if failed:
            raise ApplicationError(f"could not notify {', '.join(failed)}")

    def _notify(self, notice: Notice) -> list[str]:
        if notice.event == "sla_miss":
            with self.workbench.sessions.begin() as session:
                missed = session.execute(
                    update(Run)
                    .where(Run.id == notice.run_id, Run.sla_missed_at.is_(None))
                    .values(sla_missed_at=_now())
                )
                if missed.rowcount == 1:
                    queue_webhooks(session, notice.run_id, "run.sla_missed")
        failed = []
        for target in notice.targets:
            if self._notification(notice, target) in ("sent", "skipped"):
                continue  # reached on an earlier try of this activity
            try:  # outside any transaction: a slow target holds no lock
                deliver(target, notice)
            except NotConfigured as exc:
                self._notification(notice, target, "skipped", str(exc))
            except DeliveryFailed as exc:
                self._notification(notice, target, "failed", str(exc))
                failed.append(target)
            else:
                self._notification(notice, target, "sent")
        return failed

    def _notification(
        self, notice: Notice, target: str, status: str | None = None, detail: str | None = None
    ) -> str | None:
        """The stored status of one target; with ``status``, record an outcome first."""
        with self.workbench.sessions.begin() as session:
            row = session.scalar(
                select(Notification).where(
                    Notification.run_id == notice.run_id,
                    Notification.event == notice.event,
                    Notification.target == target,
                )
            )
            if status is None:
                return row.status if row is not None else None
            if row is None:
                row = Notification(
                    run_id=notice.run_id, event=notice.event, target=target, attempts=0
                )
                session.add(row)
            row.status, row.detail, row.attempts = status, detail, (row.attempts or 0) + 1
            if status == "sent":
                row.sent_at = _now()
            return status

    # -- execution -----------------------------------------------------------------
    @activity.defn(name="workbench.run_step")
    async def run_step(self, data: StepInput) -> StepOutcome:
        step, attempt = data.step, activity.info().attempt
        folder = Path(data.artifacts_dir) / step.id / f"attempt-{attempt}"
        notebook = step.kind == "notebook"  # declarative steps execute no notebook
        output = folder / Path(step.notebook).name if notebook else None
        log = folder / "output.log"
        folder.mkdir(parents=True, exist_ok=True)
        ledger = AttemptLedger(
            AttemptHistory(self.workbench, data.run_id, step.id),
            AttemptRecord(
                attempt=attempt,
                status="running",
                started_at=_now(),
                output_notebook=str(output) if output is not None else None,
                log_file=str(log),
                worker=os.environ.get("WORKBENCH_WORKER_IDENTITY"),
            ),
        )
        try:
            started = await ledger.start()
        except HistoryUnavailable as exc:
            raise ApplicationError(str(exc), type="HistoryUnavailable") from None
        if started.done is not None:  # an earlier attempt succeeded; only its end was lost
            if step.inputs or step.outputs:
                await asyncio.to_thread(self._declared_lineage, data)
            return StepOutcome(
                step_id=step.id,
                attempt=started.done.attempt,
                status="succeeded",
                output_notebook=started.done.output_notebook,
                duration_s=started.done.duration_s or 0.0,
            )
        if started.final is not None:  # an earlier attempt's failure ends the step
            raise ApplicationError(started.final.error or "failed", non_retryable=True)
        with (
            self.kernel_access.grant(data.run_id, step.id)
            if self.kernel_access is not None
            else nullcontext(Attempt(data.run_id, step.id, kernel_environment({})))
        ) as granted:
            lineage = await asyncio.to_thread(self._lineage_start, data, attempt)
            clock = time.monotonic()
            try:
                if notebook:
                    outcome = await self._attempt(data, ledger, started, granted.env)
                else:
                    outcome = await run_declarative(self.workbench, data, ledger, started, granted)
            except BaseException as exc:
                if lineage is not None:
                    state = (
                        "ABORT"
                        if isinstance(exc, asyncio.CancelledError)
                        else "COMPLETE"
                        if ledger.record.status == "succeeded"  # only its record was lost
                        else "FAIL"
                    )
                    error = None if state == "COMPLETE" else exc
                    await asyncio.to_thread(self._lineage_end, lineage, granted, state, error)
                if isinstance(exc, HistoryUnavailable):  # the next attempt records it
                    raise ApplicationError(str(exc), type="HistoryUnavailable") from None
                raise
            finally:
                instruments.step_finished(
                    step.kind,
                    step.kernel if notebook else None,
                    ledger.record.status,
                    time.monotonic() - clock,
                )
            if notebook and granted.sql:
                await self._announce_notebook(data, outcome.attempt, granted)
            if lineage is not None:
                await asyncio.to_thread(self._lineage_end, lineage, granted, "COMPLETE")
            return outcome

    async def _announce_notebook(self, data: StepInput, attempt: int, granted: Attempt) -> None:
        """The lake tables a notebook step wrote, told as a declarative step's are (the
        catalog, ``dataset.updated``, ``on_change:`` pipelines); never fails the step."""
        from .ingest.changes import announce, notebook_changes
        from .ingest.context import Progress as StepProgress
        from .ingest.context import StepContext

        loop, client = asyncio.get_running_loop(), activity.client()

        def tell() -> None:
            principal, pipeline = run_context(self.workbench, data.run_id)
            ctx = StepContext(
                workbench=self.workbench,
                principal=principal,
                pipeline=pipeline,
                run_id=data.run_id,
                step_id=data.step.id,
                attempt=attempt,
                config={},
                parameters={},
                progress=StepProgress(),
                kind="notebook",
                loop=loop,
                client=client,
            )
            announce(ctx, notebook_changes(ctx, granted.sql))

        try:
            await asyncio.to_thread(tell)
        except Exception:
            activity.logger.warning("changes of step %s not announced", data.step.id, exc_info=True)

    async def _attempt(
        self, data: StepInput, ledger: AttemptLedger, started: Started, kernel_env: dict[str, str]
    ) -> StepOutcome:
        info = activity.info()
        step, attempt = data.step, info.attempt
        progress = Progress()
        clock = time.monotonic()
        loop = asyncio.get_running_loop()
        try:  # the owner's code runs as their account, if any
            account = step_account(started.owner)
        except ConfigurationError as exc:
            await ledger.finish("failed", duration_s=0.0, error=str(exc), final=True)
            raise ApplicationError(str(exc), type="StepAccount", non_retryable=True) from None
        try:  # the workers' scope of a lake in S3, for this attempt only (lake_credentials)
            kernel_env = kernel_env | await asyncio.to_thread(
                step_lake_env,
                self.workbench.settings,
                f"{step.id}-{attempt}-{data.run_id}",
                timedelta(seconds=step.timeout_s),
            )
        except (ConfigurationError, SourceUnavailableError) as exc:
            await ledger.finish("failed", duration_s=0.0, error=str(exc))
            raise ApplicationError(str(exc), type="LakeCredentials") from None
        job = loop.run_in_executor(
            None,
            execute,
            Path(step.notebook),
            Path(ledger.record.output_notebook or ""),
            step.parameters,
            step.kernel,
            progress,
            Path(ledger.record.log_file or ""),
            Path(step.notebook).parent,
            kernel_env,
            account,
            self.kernel_pool,
        )
        # Temporal tells a worker about an expired attempt only with a heartbeat reply,
        # seconds later; the step's own deadline, just before Temporal's, stops the
        # kernel on time and lets this attempt report the timeout itself.
        # Counted from when Temporal started the attempt, not from when this code runs.
        elapsed = (_now() - info.started_time).total_seconds()
        deadline = time.monotonic() + step.timeout_s - elapsed - min(2.0, step.timeout_s * 0.2)
        every = beat_every()
        try:
            while not job.done():
                ledger.beat(progress.cell, progress.cells)
                await asyncio.wait(
                    {job}, timeout=min(every, max(0.05, deadline - time.monotonic()))
                )
                if not job.done() and time.monotonic() >= deadline:
                    progress.halt()
                    await asyncio.gather(job, return_exceptions=True)
                    message = f"stopped after its {step.timeout_s:g} s timeout"
                    final, note = stop_decision(step, started, TIMEOUT_ERROR, message)
                    await ledger.finish(
                        "timed_out",
                        duration_s=round(time.monotonic() - clock, 3),
                        error=message + note,
                        failing_cell=progress.cell,
                        final=final,
                    )
                    raise ApplicationError(message, type="StepTimeout", non_retryable=final)
        except asyncio.CancelledError:
            progress.halt()  # kills the kernel: papermill returns promptly
            await asyncio.gather(job, return_exceptions=True)
            details = activity.cancellation_details()
            timed_out = bool(details and details.timed_out)
            error = f"stopped after {step.timeout_s:g} s timeout" if timed_out else "cancelled"
            ran_for = (_now() - info.started_time).total_seconds()
            if timed_out and ran_for < step.timeout_s - 5 and info.heartbeat_timeout:
                # Not the step's deadline: its heartbeats stopped reaching Temporal (down,
                # its disk full, or this worker stalled), which times an attempt out too.
                error = (
                    f"stopped after {ran_for:.0f} s: no heartbeat reached Temporal for "
                    f"{info.heartbeat_timeout.total_seconds():g} s (Temporal unreachable or "
                    "failing, or this worker stalled)"
                )
            await ledger.finish(
                "timed_out" if timed_out else "cancelled",
                duration_s=round(time.monotonic() - clock, 3),
                error=error,
                failing_cell=progress.cell,
            )
            raise
        duration = round(time.monotonic() - clock, 3)
        try:
            failure = job.result()
        except Exception as exc:  # the notebook could not run at all
            name = type(exc).__name__
            message = f"{name}: {exc}".splitlines()[0]
            final, note = stop_decision(step, started, name, message)
            await ledger.finish("failed", duration_s=duration, error=message + note, final=final)
            raise ApplicationError(message, type=name, non_retryable=final) from None
        if failure is not None:
            message = f"{_cell_words(step.notebook, failure)}: {failure.ename}: {failure.evalue}"
            final, note = stop_decision(
                step, started, failure.ename, f"{failure.ename}: {failure.evalue}"
            )
            await ledger.finish(
                "failed",
                duration_s=duration,
                error=message + note,
                failing_cell=failure.cell_index,
                notebook_cell=failure.notebook_index,
                traceback=ANSI.sub("", failure.traceback),
                final=final,
            )
            raise ApplicationError(message, type=failure.ename, non_retryable=final)
        await ledger.finish("succeeded", duration_s=duration)
        if step.inputs or step.outputs:
            await asyncio.to_thread(self._declared_lineage, data)
        return StepOutcome(
            step_id=step.id,
            attempt=attempt,
            status="succeeded",
            output_notebook=ledger.record.output_notebook,
            duration_s=duration,
        )


def _cell_words(notebook: str, failure: CellFailure) -> str:
    """Where the failing cell is, counted from 1: in the step's own notebook, as its
    author counts, and in the executed notebook people open (with papermill's cells)."""
    executed = f"cell {failure.cell_index + 1}"
    if failure.notebook_index is None:
        return executed
    own = f"cell {failure.notebook_index + 1} of {Path(notebook).name}"
    return f"{own} ({executed} in the executed notebook)"
