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
  run (``overlap: buffer_one``); ``allow_all`` starts a run per signal without waiting.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.common import RetryPolicy
    from temporalio.exceptions import ActivityError, ChildWorkflowError

    from .plan import PIPELINE_RUN_WORKFLOW, PreparedRun, PrepareRun, RunEvent

ON_CHANGE_WORKFLOW = "workbench.OnChange"
CHANGE_SIGNAL = "workbench.dataset_changed"
IDLE = timedelta(hours=1)  # no change this long: the workflow ends (a change restarts it)
RUNS_PER_HISTORY = 200  # then continue as new, so the history stays short


def on_change_workflow_id(pipeline: str) -> str:
    return f"on-change-{pipeline}"


class DatasetChange(BaseModel):
    """One table version a committed batch (or step) wrote."""

    dataset: str = Field(description="lake.layer.table")
    version: int
    operation: str | None = None
    rows_added: int | None = None
    rows_updated: int | None = None
    rows_removed: int | None = None
    run_id: str = Field(description="the run whose step wrote it")
    pipeline: str = Field(description="the pipeline of that run")
    committed_at: str = Field(description="ISO time the batch was committed")


class ChangeNotice(BaseModel):
    """A batch's changes for one listening pipeline, with its spec's settings."""

    changes: list[DatasetChange]
    debounce_s: float = 0.0
    overlap: str = "buffer_one"


class OnChangeInput(BaseModel):
    pipeline: str
    pending: list[ChangeNotice] = Field(
        default_factory=list, description="notices carried over a continue-as-new"
    )


@workflow.defn(name=ON_CHANGE_WORKFLOW)
class OnChangeWorkflow:
    """Starts one run of a pipeline per batch of changes to the datasets it listens to,
    never two at once unless its spec says ``overlap: allow_all``."""

    def __init__(self) -> None:
        self.pending: list[ChangeNotice] = []
        self.started = 0

    @workflow.signal(name=CHANGE_SIGNAL)
    def changed(self, notice: ChangeNotice) -> None:
        self.pending.append(notice)

    @workflow.query
    def runs_started(self) -> int:
        return self.started

    @workflow.run
    async def run(self, data: OnChangeInput) -> int:
        self.pending = [*data.pending, *self.pending]
        beside: list = []  # allow_all: runs not waited for
        while True:
            try:
                await workflow.wait_condition(lambda: bool(self.pending), timeout=IDLE)
            except TimeoutError:
                if not self.pending:
                    break
            debounce = max(n.debounce_s for n in self.pending)
            if debounce > 0:
                await workflow.sleep(debounce)  # more changes join this run meanwhile
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
        if self.pending or self.started >= RUNS_PER_HISTORY:
            workflow.continue_as_new(OnChangeInput(pipeline=data.pipeline, pending=self.pending))
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
