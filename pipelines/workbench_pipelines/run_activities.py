"""Activities of a pipeline run: execute a step attempt, and keep the run history.

The workflow never touches the metadata DB; these activities do. Each attempt records
itself when it starts and when it ends, so the history shows every attempt, including
one whose worker died (marked ``lost`` by the attempt that follows it).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from workbench_server.accounts import step_account
from workbench_server.db.models import Notification, Pipeline, Run, StepRun
from workbench_server.errors import ConfigurationError
from workbench_server.lineage.openlineage import JobRun, RunState, WorkbenchRunFacet, run_uuid
from workbench_server.lineage.service import LineageService

from .kernel_access import Attempt, KernelAccess, kernel_environment, run_context
from .notebook import Progress, execute
from .notify import DeliveryFailed, NotConfigured, deliver
from .plan import Notice, PreparedRun, PrepareRun, RunEvent, StepInput, StepOutcome

if TYPE_CHECKING:
    from workbench_server.core import Workbench

HEARTBEAT_EVERY_S = 2.0
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

    def __init__(self, workbench: Workbench, kernel_access: KernelAccess | None = None) -> None:
        self.workbench = workbench
        self.kernel_access = kernel_access

    # -- history -------------------------------------------------------------------
    def _start_attempt(self, run_id: str, step_id: str, attempt: int, out: Path, log: Path) -> None:
        with self.workbench.sessions.begin() as session:
            session.execute(
                update(StepRun)
                .where(StepRun.run_id == run_id, StepRun.step_id == step_id)
                .where(StepRun.status == "running", StepRun.attempt < attempt)
                .values(
                    status="lost",
                    error="the worker running this attempt stopped",
                    finished_at=_now(),
                )
            )
            existing = session.scalar(
                select(StepRun).where(
                    StepRun.run_id == run_id, StepRun.step_id == step_id, StepRun.attempt == attempt
                )
            )
            if existing is None:
                session.add(
                    StepRun(
                        run_id=run_id,
                        step_id=step_id,
                        attempt=attempt,
                        status="running",
                        started_at=_now(),
                        output_notebook=str(out),
                        log_file=str(log),
                        worker=os.environ.get("WORKBENCH_WORKER_IDENTITY"),
                    )
                )

    def _finish_attempt(
        self,
        run_id: str,
        step_id: str,
        attempt: int,
        status: str,
        duration: float,
        error: str | None = None,
        cell: int | None = None,
        traceback: str | None = None,
    ) -> None:
        with self.workbench.sessions.begin() as session:
            session.execute(
                update(StepRun)
                .where(
                    StepRun.run_id == run_id, StepRun.step_id == step_id, StepRun.attempt == attempt
                )
                .values(
                    status=status,
                    finished_at=_now(),
                    duration_s=round(duration, 3),
                    error=error,
                    failing_cell=cell,
                    traceback=traceback,
                )
            )

    def _budget_spent(self, run_id: str, step_id: str, budget: int) -> bool:
        """Whether the step's own failures (not lost attempts) used up its attempts."""
        with self.workbench.sessions() as session:
            failures = session.scalar(
                select(func.count())
                .select_from(StepRun)
                .where(
                    StepRun.run_id == run_id,
                    StepRun.step_id == step_id,
                    StepRun.status.in_(("failed", "timed_out")),
                )
            )
        return (failures or 0) >= budget

    @activity.defn(name="workbench.prepare_run")
    async def prepare_run(self, data: PrepareRun) -> PreparedRun:
        """Record a scheduled run and resolve its plan from the deployed version."""
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
                workflow_id=f"run-{data.pipeline}-{activity.info().workflow_run_id}",
            )
            return PreparedRun(plan=plan, workflow_id=workflow_id)

        return await asyncio.to_thread(prepare)

    @activity.defn(name="workbench.record_run")
    async def record_run(self, event: RunEvent) -> None:
        await asyncio.to_thread(self._record_run, event)
        if event.status in PIPELINE_STATES:
            await asyncio.to_thread(self._pipeline_lineage, event)

    def _pipeline_lineage(self, event: RunEvent) -> None:
        """The pipeline run as the OpenLineage parent run of its step attempts."""
        emitter = self.workbench.openlineage
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
            state = PIPELINE_STATES[event.status]
            error = (event.error or "failed") if state == "FAIL" else None
            emitter.emit(job_run.event(RunState(state), error))
        except Exception:  # lineage never fails a run
            activity.logger.warning("no OpenLineage event for run %s", event.run_id, exc_info=True)

    def _record_run(self, event: RunEvent) -> None:
        with self.workbench.sessions.begin() as session:
            run = session.get(Run, event.run_id)
            if run is None:
                return
            if run.status in ("succeeded", "failed", "cancelled") and event.status == "running":
                return  # a late "running" (its activity outran by a cancel) changes nothing
            run.status = event.status
            if event.status == "running" and run.started_at is None:
                run.started_at = _now()
            if event.status in ("succeeded", "failed", "cancelled"):
                run.finished_at = _now()
                run.error = event.error
                attempted = set(
                    session.scalars(select(StepRun.step_id).where(StepRun.run_id == event.run_id))
                )
                for step_id, state in event.step_states.items():
                    if step_id not in attempted:
                        session.add(
                            StepRun(run_id=event.run_id, step_id=step_id, attempt=0, status=state)
                        )

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
        emitter = self.workbench.openlineage
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
                        parameters=data.step.parameters,
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
        try:
            for statement, recorded in granted.sql:
                job_run.datasets.add_sql(recorded.found, recorded.context, statement)
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
            self.workbench.openlineage.emit(job_run.event(RunState(state), message, trace))
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
        if failed:
            raise ApplicationError(f"could not notify {', '.join(failed)}")

    def _notify(self, notice: Notice) -> list[str]:
        if notice.event == "sla_miss":
            with self.workbench.sessions.begin() as session:
                session.execute(
                    update(Run)
                    .where(Run.id == notice.run_id, Run.sla_missed_at.is_(None))
                    .values(sla_missed_at=_now())
                )
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
    async def _spent(self, data: StepInput) -> bool:
        return await asyncio.to_thread(
            self._budget_spent, data.run_id, data.step.id, data.step.retries.attempts
        )

    @activity.defn(name="workbench.run_step")
    async def run_step(self, data: StepInput) -> StepOutcome:
        info = activity.info()
        step, attempt = data.step, info.attempt
        folder = Path(data.artifacts_dir) / step.id / f"attempt-{attempt}"
        output = folder / Path(step.notebook).name
        log = folder / "output.log"
        folder.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._start_attempt, data.run_id, step.id, attempt, output, log)
        with (
            self.kernel_access.grant(data.run_id, step.id)
            if self.kernel_access is not None
            else nullcontext(Attempt(data.run_id, step.id, kernel_environment({})))
        ) as granted:
            lineage = await asyncio.to_thread(self._lineage_start, data, attempt)
            try:
                outcome = await self._attempt(data, output, log, granted.env)
            except BaseException as exc:
                if lineage is not None:
                    cancelled = isinstance(exc, asyncio.CancelledError)
                    await asyncio.to_thread(
                        self._lineage_end, lineage, granted, "ABORT" if cancelled else "FAIL", exc
                    )
                raise
            if lineage is not None:
                await asyncio.to_thread(self._lineage_end, lineage, granted, "COMPLETE")
            return outcome

    async def _attempt(
        self, data: StepInput, output: Path, log: Path, kernel_env: dict[str, str]
    ) -> StepOutcome:
        info = activity.info()
        step, attempt = data.step, info.attempt
        progress = Progress()
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        owner = (await asyncio.to_thread(run_context, self.workbench, data.run_id))[0].name
        try:
            account = step_account(owner)  # the owner's code runs as their account, if any
        except ConfigurationError as exc:
            await asyncio.to_thread(
                self._finish_attempt, data.run_id, step.id, attempt, "failed", 0.0, str(exc)
            )
            raise ApplicationError(str(exc), type="StepAccount", non_retryable=True) from None
        job = loop.run_in_executor(
            None,
            execute,
            Path(step.notebook),
            output,
            step.parameters,
            step.kernel,
            progress,
            log,
            Path(step.notebook).parent,
            kernel_env,
            account,
        )
        # Temporal tells a worker about an expired attempt only with a heartbeat reply,
        # seconds later; the step's own deadline, just before Temporal's, stops the
        # kernel on time and lets this attempt report the timeout itself.
        # Counted from when Temporal started the attempt, not from when this code runs.
        elapsed = (_now() - info.started_time).total_seconds()
        deadline = time.monotonic() + step.timeout_s - elapsed - min(2.0, step.timeout_s * 0.2)
        try:
            while not job.done():
                activity.heartbeat({"cell": progress.cell, "cells": progress.cells})
                await asyncio.wait(
                    {job}, timeout=min(HEARTBEAT_EVERY_S, max(0.05, deadline - time.monotonic()))
                )
                if not job.done() and time.monotonic() >= deadline:
                    progress.halt()
                    await asyncio.gather(job, return_exceptions=True)
                    message = f"stopped after its {step.timeout_s:g} s timeout"
                    await asyncio.to_thread(
                        self._finish_attempt,
                        data.run_id,
                        step.id,
                        attempt,
                        "timed_out",
                        time.monotonic() - started,
                        message,
                        progress.cell,
                    )
                    raise ApplicationError(
                        f"step {step.id} {message}",
                        type="StepTimeout",
                        non_retryable=await self._spent(data),
                    )
        except asyncio.CancelledError:
            progress.halt()  # kills the kernel: papermill returns promptly
            await asyncio.gather(job, return_exceptions=True)
            details = activity.cancellation_details()
            status = "timed_out" if details and details.timed_out else "cancelled"
            message = (
                f"stopped after {step.timeout_s:g} s timeout"
                if status == "timed_out"
                else "cancelled"
            )
            await asyncio.to_thread(
                self._finish_attempt,
                data.run_id,
                step.id,
                attempt,
                status,
                time.monotonic() - started,
                message,
                progress.cell,
            )
            raise
        duration = time.monotonic() - started
        try:
            failure = job.result()
        except Exception as exc:  # the notebook could not run at all
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            await asyncio.to_thread(
                self._finish_attempt, data.run_id, step.id, attempt, "failed", duration, message
            )
            raise ApplicationError(
                f"step {step.id}: {message}", non_retryable=await self._spent(data)
            ) from None
        if failure is not None:
            # Counted from 1, in the executed notebook as saved (what people open).
            message = f"cell {failure.cell_index + 1}: {failure.ename}: {failure.evalue}"
            await asyncio.to_thread(
                self._finish_attempt,
                data.run_id,
                step.id,
                attempt,
                "failed",
                duration,
                message,
                failure.cell_index,
                ANSI.sub("", failure.traceback),
            )
            raise ApplicationError(
                f"step {step.id} failed in {message}", non_retryable=await self._spent(data)
            )
        await asyncio.to_thread(
            self._finish_attempt, data.run_id, step.id, attempt, "succeeded", duration
        )
        if step.inputs or step.outputs:
            await asyncio.to_thread(self._declared_lineage, data)
        return StepOutcome(
            step_id=step.id,
            attempt=attempt,
            status="succeeded",
            output_notebook=str(output),
            duration_s=round(duration, 3),
        )
