"""Runs started by dataset changes (``on_change:`` in a pipeline's spec).

Why a long-lived workflow per listening pipeline (``on-change-<pipeline>``), fed by
signals, rather than a run started by each change: the workflow is the one place that
knows whether a run it started still runs, so changes are coalesced durably (they wait
in its state, through worker and server restarts) and two of its runs never overlap,
without a lock or a poll of our own. A committed batch sends one signal (signal-with-start:
the workflow is started by the first change, and ends after a quiet hour; the next
change starts it again). Each run is a child :class:`PipelineRunWorkflow`, recorded with
the trigger ``on_change`` like any run.

- one run per batch: each signal carries a batch's changes (every table it wrote); a
  run starts when changes are pending and no run of its own is running;
- changes that arrive during ``debounce`` or during a run are coalesced into the next
  run (``overlap: buffer_one``); ``allow_all`` starts a run per signal without waiting;
- a paused pipeline (``workbench pipeline schedule NAME pause``, the panel's button)
  starts no run: the pause is a signal (:data:`PAUSE_SIGNAL`) that keeps the workflow
  waiting, and the changes that arrive meanwhile are kept, folded into one notice (the
  newest version per dataset), so resuming starts one run if anything changed during
  the pause, and none otherwise. A run already running when the pause came finishes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.common import RetryPolicy
    from temporalio.exceptions import ActivityError, ChildWorkflowError

    from .plan import PIPELINE_RUN_WORKFLOW, PreparedRun, PrepareRun, RunEvent
    from .triggers import (
        CHANGE_SIGNAL,
        ON_CHANGE_WORKFLOW,
        PAUSE_SIGNAL,
        PAUSED_QUERY,
        ChangeNotice,
        DatasetChange,
        OnChangeInput,
    )

IDLE = timedelta(hours=1)  # no change this long: the workflow ends (a change restarts it)
RUNS_PER_HISTORY = 200  # then continue as new, so the history stays short


@workflow.defn(name=ON_CHANGE_WORKFLOW)
class OnChangeWorkflow:
    """Starts one run of a pipeline per batch of changes to the datasets it listens to,
    never two at once unless its spec says ``overlap: allow_all``."""

    def __init__(self) -> None:
        self.pending: list[ChangeNotice] = []
        self.started = 0
        self.paused: bool | None = None  # None: as the input says (no signal yet)

    @workflow.signal(name=CHANGE_SIGNAL)
    def changed(self, notice: ChangeNotice) -> None:
        self.pending.append(notice)
        if self.paused and len(self.pending) > 1:
            self.pending = [_folded(self.pending)]  # a long pause keeps one notice

    @workflow.signal(name=PAUSE_SIGNAL)
    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if paused and len(self.pending) > 1:
            self.pending = [_folded(self.pending)]

    @workflow.query(name=PAUSED_QUERY)
    def is_paused(self) -> bool:
        return bool(self.paused)

    @workflow.query
    def runs_started(self) -> int:
        return self.started

    @workflow.run
    async def run(self, data: OnChangeInput) -> int:
        self.pending = [*data.pending, *self.pending]
        if self.paused is None:
            self.paused = data.paused
        beside: list = []  # allow_all: runs not waited for
        while True:
            if self.paused:  # no run until resumed; the workflow stays to keep changes
                try:
                    await workflow.wait_condition(lambda: not self.paused, timeout=IDLE)
                except TimeoutError:
                    if workflow.info().is_continue_as_new_suggested():
                        break
                continue
            try:
                await workflow.wait_condition(
                    lambda: bool(self.pending) or bool(self.paused), timeout=IDLE
                )
            except TimeoutError:
                if not self.pending:
                    break
            if self.paused:
                continue
            debounce = max(n.debounce_s for n in self.pending)
            if debounce > 0:
                await workflow.sleep(debounce)  # more changes join this run meanwhile
                if self.paused:
                    continue
            notices, self.pending = self.pending, []
            overlap = notices[-1].overlap
            prepared = await self._prepare(data.pipeline, notices)
            if prepared is None:
                continue
            self.started += 1
            if overlap == "allow_all":
                beside.append(
                    await workflow.start_child_workflow(
                        PIPELINE_RUN_WORKFLOW,
                        prepared.plan,
                        id=prepared.workflow_id,
                        result_type=RunEvent,
                    )
                )
            else:
                try:
                    await workflow.execute_child_workflow(
                        PIPELINE_RUN_WORKFLOW,
                        prepared.plan,
                        id=prepared.workflow_id,
                        result_type=RunEvent,
                    )
                except ChildWorkflowError as exc:  # recorded as the run's failure
                    workflow.logger.warning("on_change run of %s: %s", data.pipeline, exc)
            if self.started >= RUNS_PER_HISTORY or workflow.info().is_continue_as_new_suggested():
                break
        for child in beside:
            try:
                await child
            except ChildWorkflowError:
                pass
        if self.pending or self.paused or self.started >= RUNS_PER_HISTORY:
            workflow.continue_as_new(
                OnChangeInput(
                    pipeline=data.pipeline, pending=self.pending, paused=bool(self.paused)
                )
            )
        return self.started

    async def _prepare(self, pipeline: str, notices: list[ChangeNotice]) -> PreparedRun | None:
        """Record the run (trigger ``on_change``); None when the pipeline cannot run now
        (deleted, or its current version is invalid): the changes are dropped, logged."""
        try:
            return await workflow.execute_activity(
                "workbench.prepare_run",
                PrepareRun(
                    pipeline=pipeline,
                    scheduled_at=workflow.now().isoformat(),
                    timezone="UTC",
                    trigger="on_change",
                    key=f"{workflow.info().run_id[:8]}-{self.started}",
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(
                    maximum_attempts=3, non_retryable_error_types=["NotFoundError"]
                ),
                result_type=PreparedRun,
            )
        except ActivityError as exc:
            count = sum(len(n.changes) for n in notices)
            workflow.logger.warning(
                "on_change: no run of %s for %d change(s): %s", pipeline, count, exc
            )
            return None


def _folded(notices: list[ChangeNotice]) -> ChangeNotice:
    """``notices`` as one: every dataset they changed at its newest version, the rows
    changed added up, the last notice's settings."""
    by_dataset: dict[str, DatasetChange] = {}
    for notice in notices:
        for change in notice.changes:
            before = by_dataset.get(change.dataset)
            if before is None:
                by_dataset[change.dataset] = change
                continue
            newer, older = (
                (change, before) if change.version >= before.version else (before, change)
            )
            by_dataset[change.dataset] = newer.model_copy(
                update={
                    field: (getattr(newer, field) or 0) + (getattr(older, field) or 0)
                    for field in ("rows_added", "rows_updated", "rows_removed")
                    if getattr(newer, field) is not None or getattr(older, field) is not None
                }
            )
    last = notices[-1]
    return ChangeNotice(
        changes=list(by_dataset.values()), debounce_s=last.debounce_s, overlap=last.overlap
    )
