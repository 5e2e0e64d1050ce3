"""Workflow definitions. Workflows are deterministic: all I/O happens in activities."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from temporalio.common import RetryPolicy
    from temporalio.exceptions import ActivityError, is_cancelled_exception

    from .activities import WorkerInfo, ping
    from .approval_activities import ESCALATED, REQUESTED, TIMED_OUT, ApprovalNotice, ApprovalSettle
    from .plan import (
        APPROVAL_SIGNAL,
        CATALOG_SCAN_WORKFLOW,
        PING_WORKFLOW,
        PIPELINE_RUN_WORKFLOW,
        SCHEDULED_RUN_WORKFLOW,
        ApprovalConfig,
        ApprovalDecision,
        ApprovalRequest,
        CatalogScanRequest,
        CatalogScanResult,
        Notice,
        PreparedRun,
        PrepareRun,
        RunEvent,
        RunPlan,
        ScheduledRunInput,
        StepInput,
        StepPlan,
        failure_summary,
    )

# A step's heartbeat timeout when its run's plan names none (runs started before it was
# an installation's setting, WORKBENCH_STEP_HEARTBEAT_TIMEOUT): the plan carries the
# value, so a run keeps the one it started with, also when it replays.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Attempts lost with a dead worker do not count against a step's retry budget: Temporal
# may try this many more times, and the step itself stops retrying (non-retryable
# error) once its own failures reach the budget.
LOST_ATTEMPT_ALLOWANCE = 3
NOTIFY_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=5))
# Runs started from here on record their run (queued, running, ended) through local
# activities: run by the worker that runs the workflow task, with no round trip through
# Temporal's task queue (a schedule's run was recorded running 0.3-0.5 s after its
# firing, most of it spent on two such round trips). Runs started before keep their
# regular activities when they replay (workflow.patched).
LOCAL_BOOKKEEPING = "run-bookkeeping-local"
# A schedule's firing runs its pipeline in its own workflow, not in a child one: the
# child's start was one more round trip before the run was recorded running.
SCHEDULED_INLINE = "scheduled-run-inline"
# A schedule's firing records its run as running when it records it: one local activity
# and one transaction before the run is running, not two of each.
SCHEDULED_STARTED = "scheduled-run-recorded-running"
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name=PING_WORKFLOW)
class PingWorkflow:
    """Round trip through a worker: used to check that the run engine works end to end."""

    @workflow.run
    async def run(self) -> WorkerInfo:
        return await workflow.execute_activity(ping, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn(name=PIPELINE_RUN_WORKFLOW)
class PipelineRunWorkflow:
    """Runs a pipeline's steps as activities, each as soon as its dependencies succeed.

    Independent steps run in parallel. A failed step (after its retries) marks its
    downstream steps ``upstream_failed`` (skipped because of it, not failed); the others
    go on. Steps listed in
    ``skip_steps`` (a repair) count as already succeeded. A durable timer watches the
    SLA deadline: when it passes before the run ends, the miss is recorded and
    announced while the run goes on. The run's end is announced to its targets; a
    notification that cannot be delivered never changes the run's outcome.
    """

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.errors: dict[str, str] = {}  # failed step -> why
        self.blocked_by: dict[str, list[str]] = {}  # skipped step -> the failed steps
        self.sla_missed = False
        self.decisions: dict[str, ApprovalDecision] = {}  # approval step -> its decision
        self.rejections: list[str] = []  # "gate rejected by X: why", for the run's error

    @workflow.query
    def step_states(self) -> dict[str, str]:
        return dict(self.states)

    @workflow.signal(name=APPROVAL_SIGNAL)
    def approval_decision(self, decision: ApprovalDecision) -> None:
        """A decision the core recorded (it decides once: a second one is ignored)."""
        self.decisions.setdefault(decision.step_id, decision)

    @workflow.run
    async def run(self, plan: RunPlan) -> RunEvent:
        return await self._run_plan(plan)

    async def _run_plan(self, plan: RunPlan, recorded_running: bool = False) -> RunEvent:
        watch = asyncio.create_task(self._watch_sla(plan)) if plan.sla_deadline else None
        done = set(plan.skip_steps)
        self.states = {s.id: ("reused" if s.id in done else "pending") for s in plan.steps}
        pending = {s.id: s for s in plan.steps if s.id not in done}
        running: dict[str, asyncio.Task[bool]] = {}
        try:
            # Inside: a cancel that arrives while this is recorded still ends as cancelled.
            if not recorded_running:
                await self._record(RunEvent(run_id=plan.run_id, status="running"))
            while pending or running:
                for step_id, step in list(pending.items()):
                    blocked = [
                        d
                        for d in step.depends_on
                        if self.states[d] in ("failed", "upstream_failed")
                    ]
                    if blocked:
                        self.states[step_id] = "upstream_failed"
                        self.blocked_by[step_id] = sorted(
                            {c for d in blocked for c in self.blocked_by.get(d, [d])}
                        )
                        del pending[step_id]
                    elif all(d in done for d in step.depends_on):
                        self.states[step_id] = "running"
                        running[step_id] = asyncio.create_task(
                            self._approval(plan, step)
                            if step.kind == "approval"
                            else self._step(plan, step)
                        )
                        del pending[step_id]
                if not running:
                    continue
                finished, _ = await workflow.wait(
                    running.values(), return_when=asyncio.FIRST_COMPLETED
                )
                for step_id, task in list(running.items()):
                    if task in finished:
                        del running[step_id]
                        if task.result():
                            done.add(step_id)
                            self.states[step_id] = "succeeded"
                        else:
                            self.states[step_id] = "failed"
        except (asyncio.CancelledError, ActivityError) as exc:
            # Cancelled (by a user, or a schedule's overlap policy): the running steps are
            # cancelled and waited for (their kernels stop, their attempts say so), then
            # the run is recorded as cancelled. (A cancel that comes while the start is
            # recorded arrives as that activity's ActivityError.)
            if not is_cancelled_exception(exc):
                raise
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)
            for step_id, state in self.states.items():
                if state in ("pending", "running"):
                    self.states[step_id] = "cancelled"
            if watch is not None:
                watch.cancel()
            await self._record(
                RunEvent(
                    run_id=plan.run_id,
                    status="cancelled",
                    error="cancelled",
                    step_states=dict(self.states),
                )
            )
            raise
        failed = sorted(s for s, state in self.states.items() if state == "failed")
        bad = failed or self.blocked_by
        error = failure_summary(failed, self.blocked_by) if bad else None
        if error and self.rejections:
            error = f"{error}; {'; '.join(self.rejections)}"
        result = RunEvent(
            run_id=plan.run_id,
            status="failed" if bad else "succeeded",
            error=error,
            step_states=dict(self.states),
        )
        if watch is not None:
            if self.sla_missed:
                await watch  # let the miss be announced
            else:
                watch.cancel()
        await self._record(result)
        await self._notify(plan, "failure" if bad else "success", result.status, result.error)
        return result

    async def _watch_sla(self, plan: RunPlan) -> None:
        deadline = datetime.fromisoformat(plan.sla_deadline or "")
        delay = (deadline - workflow.now()).total_seconds()
        if delay > 0:
            await workflow.sleep(delay)
        self.sla_missed = True
        await self._notify(plan, "sla_miss", "running", always=True)

    async def _notify(
        self, plan: RunPlan, event: str, status: str, error: str | None = None, always: bool = False
    ) -> None:
        targets = plan.notifications.get(event, [])
        if not targets and not always:
            return
        notice = Notice(
            run_id=plan.run_id,
            pipeline=plan.pipeline,
            event=event,
            targets=targets,
            status=status,
            logical_date=plan.logical_date,
            error=error,
            sla_deadline=plan.sla_deadline,
            failed_steps={s: self.errors.get(s, "failed") for s in sorted(self.errors)},
            skipped_steps=dict(sorted(self.blocked_by.items())),
        )
        try:
            await workflow.execute_activity(
                "workbench.notify",
                notice,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning("run %s: %s notification failed: %s", plan.run_id, event, exc)

    async def _step(self, plan: RunPlan, step: StepPlan) -> bool:
        retry = step.retries
        try:
            await workflow.execute_activity(
                "workbench.run_step",
                StepInput(run_id=plan.run_id, step=step, artifacts_dir=plan.artifacts_dir),
                start_to_close_timeout=timedelta(seconds=step.timeout_s),
                heartbeat_timeout=(
                    timedelta(seconds=plan.heartbeat_timeout_s)
                    if plan.heartbeat_timeout_s
                    else HEARTBEAT_TIMEOUT
                ),
                retry_policy=RetryPolicy(
                    maximum_attempts=retry.attempts + LOST_ATTEMPT_ALLOWANCE,
                    initial_interval=timedelta(seconds=retry.backoff_s),
                    backoff_coefficient=retry.backoff_coefficient,
                    maximum_interval=timedelta(seconds=retry.max_backoff_s),
                ),
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError as exc:
            if not is_cancelled_exception(exc):
                cause = exc.cause or exc
                self.errors[step.id] = getattr(cause, "message", None) or str(cause)
            return False
        return True

    async def _approval(self, plan: RunPlan, step: StepPlan) -> bool:
        """Wait for a decision on an approval step: durably (a signal; timers for the
        escalation and the timeout), holding no activity or worker slot meanwhile."""
        config = ApprovalConfig.model_validate(step.config)
        request = ApprovalRequest(
            run_id=plan.run_id,
            pipeline=plan.pipeline,
            logical_date=plan.logical_date,
            step_id=step.id,
            config=config,
        )
        await workflow.execute_activity(
            "workbench.approval_open", request, start_to_close_timeout=timedelta(seconds=30)
        )
        await self._tell(request, REQUESTED, config.notify)
        opened = workflow.now()
        escalate_at = config.escalate_after_s if config.escalate_notify else None
        timeout_at = config.timeout_s
        decided = lambda: step.id in self.decisions  # noqa: E731
        while not decided():
            elapsed = (workflow.now() - opened).total_seconds()
            due = [t for t in (escalate_at, timeout_at) if t is not None]
            wait = max(min(due) - elapsed, 0.001) if due else None
            try:
                await workflow.wait_condition(decided, timeout=wait)
            except TimeoutError:
                elapsed = (workflow.now() - opened).total_seconds()
                if escalate_at is not None and elapsed >= escalate_at:
                    escalate_at = None
                    await self._tell(request, ESCALATED, config.escalate_notify)
                if timeout_at is not None and elapsed >= timeout_at:
                    timeout_at = None
                    if config.on_timeout == "reject":
                        decision = await workflow.execute_activity(
                            "workbench.approval_expire",
                            request,
                            start_to_close_timeout=timedelta(seconds=30),
                            result_type=ApprovalDecision,
                        )
                        self.decisions.setdefault(step.id, decision)
                    else:
                        await self._tell(request, TIMED_OUT, config.escalate_notify)
        decision = self.decisions[step.id]
        await workflow.execute_activity(
            "workbench.approval_settle",
            ApprovalSettle(run_id=plan.run_id, decision=decision),
            start_to_close_timeout=timedelta(seconds=30),
        )
        if decision.approved:
            return True
        why = f"rejected by {decision.decided_by}: {decision.reason or 'no reason given'}"
        self.errors[step.id] = why
        self.rejections.append(f"{step.id} {why}")
        return False

    async def _tell(self, request: ApprovalRequest, event: str, targets: list[str]) -> None:
        """Notify about a gate; a target that cannot be reached never decides anything."""
        if not targets and event == REQUESTED:
            return
        try:
            await workflow.execute_activity(
                "workbench.approval_notify",
                ApprovalNotice(request=request, event=event, targets=targets),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.warning(
                "run %s: %s notification failed: %s", request.run_id, event, exc
            )

    async def _record(self, event: RunEvent) -> None:
        if workflow.patched(LOCAL_BOOKKEEPING):
            await workflow.execute_local_activity(
                "workbench.record_run", event, start_to_close_timeout=BOOKKEEPING_TIMEOUT
            )
        else:
            await workflow.execute_activity(
                "workbench.record_run", event, start_to_close_timeout=BOOKKEEPING_TIMEOUT
            )


SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


@workflow.defn(name=SCHEDULED_RUN_WORKFLOW)
class ScheduledRunWorkflow(PipelineRunWorkflow):
    """One firing of a pipeline's schedule: record the run as running, then run it in this
    workflow (the run's workflow id is this one's: a cancel, an approval's signal, a query
    reach it here). Firings that started before recorded it queued and then running, or
    ran it as a child workflow, and still do when they replay."""

    @workflow.run
    async def run(self, data: ScheduledRunInput) -> RunEvent:  # type: ignore[override]
        when = workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()
        # The logical date is the scheduled time's date in the schedule's time zone; the
        # activity converts it (time zone data is off limits inside the workflow sandbox).
        prepare = PrepareRun(
            pipeline=data.pipeline,
            scheduled_at=when.isoformat(),
            timezone=data.timezone,
            trigger="schedule",
        )
        if workflow.patched(SCHEDULED_STARTED):
            prepare.workflow_id = workflow.info().workflow_id
            prepare.running = True
            recording = workflow.start_local_activity(
                "workbench.prepare_run",
                prepare,
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                result_type=PreparedRun,
            )
            try:
                started: PreparedRun = await asyncio.shield(recording)
            except asyncio.CancelledError:
                # Cancelled while its run was recorded running: it is ended as cancelled.
                started = await recording
                states = {step.id: "cancelled" for step in started.plan.steps}
                self.states = dict(states)
                await self._record(
                    RunEvent(
                        run_id=started.plan.run_id,
                        status="cancelled",
                        error="cancelled",
                        step_states=states,
                    )
                )
                raise
            return await self._run_plan(started.plan, recorded_running=True)
        if workflow.patched(SCHEDULED_INLINE):
            prepare.workflow_id = workflow.info().workflow_id
            inline: PreparedRun = await workflow.execute_local_activity(
                "workbench.prepare_run",
                prepare,
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                result_type=PreparedRun,
            )
            return await self._run_plan(inline.plan)
        if workflow.patched(LOCAL_BOOKKEEPING):
            prepared = await workflow.execute_local_activity(
                "workbench.prepare_run",
                prepare,
                start_to_close_timeout=timedelta(seconds=60),
                result_type=PreparedRun,
            )
        else:
            prepared = await workflow.execute_activity(
                "workbench.prepare_run",
                prepare,
                start_to_close_timeout=timedelta(seconds=60),
                result_type=PreparedRun,
            )
        return await workflow.execute_child_workflow(
            PipelineRunWorkflow.run, prepared.plan, id=prepared.workflow_id
        )


@workflow.defn(name=CATALOG_SCAN_WORKFLOW)
class CatalogScanWorkflow:
    """Scan a connection into the catalog; a scan cut short by a dead worker is retried.

    A source that is down is tried again twice, a minute apart; each attempt is recorded
    as a scan (failed ones with their reason), and the catalog keeps its last good state.
    """

    @workflow.run
    async def run(self, request: CatalogScanRequest) -> CatalogScanResult:
        return await workflow.execute_activity(
            "workbench.catalog_scan",
            request,
            result_type=CatalogScanResult,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                maximum_attempts=3,
                initial_interval=timedelta(seconds=60),
                non_retryable_error_types=["NotFoundError", "InvalidInputError"],
            ),
        )
