"""What a run executes: a resolved, self-contained plan handed to the workflow.

Everything a step needs (absolute notebook path in the deployed snapshot, rendered
parameters, retry and timeout settings) is decided before the workflow starts, so the
workflow stays deterministic and a later edit of the pipeline cannot change a run.

This module is the contract between the core and the worker: the core starts workflows
by the names below with these inputs, and never imports the worker's code (workflows,
activities); the worker defines its workflows under the same names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# Workflow type names, as the worker registers them and the core starts them.
PING_WORKFLOW = "workbench.Ping"
PIPELINE_RUN_WORKFLOW = "workbench.PipelineRun"  # takes a RunPlan
SCHEDULED_RUN_WORKFLOW = "workbench.ScheduledRun"  # takes a ScheduledRunInput
CATALOG_SCAN_WORKFLOW = "workbench.CatalogScan"  # takes a CatalogScanRequest
# Signal of a run's workflow carrying an ApprovalDecision for one of its approval steps.
APPROVAL_SIGNAL = "workbench.approval_decision"


class RetryPlan(BaseModel):
    attempts: int = 1
    backoff_s: float = 10.0
    backoff_coefficient: float = 2.0
    max_backoff_s: float = 600.0
    non_retryable: list[str] = Field(
        default_factory=list, description="errors that fail the step at once (spec's form)"
    )
    retry_on: list[str] | None = Field(None, description="if set, the only errors retried")


class StepPlan(BaseModel):
    id: str
    kind: str = Field("notebook", description="notebook, extract, merge, scd2 or sql")
    notebook: str = Field("", description="absolute path inside the version's snapshot")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="a declarative step's spec as JSON (a sql step's query inlined)",
    )
    parameters: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    retries: RetryPlan = Field(default_factory=RetryPlan)
    timeout_s: float = 3600.0
    kernel: str = "python3"
    inputs: list[str] = Field(default_factory=list, description="declared datasets read")
    outputs: list[str] = Field(default_factory=list, description="declared datasets written")


class RunPlan(BaseModel):
    run_id: str
    pipeline: str
    version: int
    logical_date: str
    artifacts_dir: str
    steps: list[StepPlan]
    skip_steps: list[str] = Field(
        default_factory=list, description="steps that succeeded in the run being repaired"
    )
    sla_deadline: str | None = Field(None, description="ISO time (UTC) the run must end by")
    notifications: dict[str, list[str]] = Field(
        default_factory=dict, description="event (failure, success, sla_miss) -> targets"
    )
    heartbeat_timeout_s: float | None = Field(
        None,
        description="seconds without a heartbeat after which Temporal takes a step's attempt "
        "for lost (its worker died or stalled) and runs it again: the installation's "
        "WORKBENCH_STEP_HEARTBEAT_TIMEOUT when the run started; None (runs started before "
        "it was settable) is 10 s",
    )


class ApprovalConfig(BaseModel):
    """An approval step as its plan carries it (``StepPlan.config``), resolved at start:
    the message rendered, the approvers named (the owner and operators by default)."""

    message: str = ""
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    notify: list[str] = Field(default_factory=list)
    escalate_after_s: float | None = None
    escalate_notify: list[str] = Field(default_factory=list)
    timeout_s: float | None = None
    on_timeout: str = "reject"


class ApprovalDecision(BaseModel):
    """A decision on one approval step, as recorded in the metadata DB and then signalled."""

    step_id: str
    approved: bool
    decided_by: str
    reason: str = ""
    via: str = Field("rest", description="rest, cli, panel, link, mcp or timeout")


class ApprovalRequest(BaseModel):
    """What the activities of an approval gate are given."""

    run_id: str
    pipeline: str
    logical_date: str
    step_id: str
    config: ApprovalConfig


class StepInput(BaseModel):
    run_id: str
    step: StepPlan
    artifacts_dir: str


class StepOutcome(BaseModel):
    step_id: str
    attempt: int
    status: str
    output_notebook: str | None = None
    duration_s: float = 0.0
    error: str | None = None


class RunEvent(BaseModel):
    run_id: str
    status: str
    error: str | None = None
    step_states: dict[str, str] = Field(default_factory=dict)


def failure_summary(failed: list[str], skipped: dict[str, list[str]]) -> str:
    """A failed run's error in one line: which steps failed, and which did not run
    because of which failure (``upstream_failed`` steps are not failures of their own)."""
    parts = [f"failed: {', '.join(failed)}"] if failed else []
    by_cause: dict[str, list[str]] = {}
    for step, causes in skipped.items():
        by_cause.setdefault(" and ".join(causes) or "an upstream step", []).append(step)
    for cause, steps in sorted(by_cause.items()):
        parts.append(f"skipped because {cause} failed: {', '.join(sorted(steps))}")
    return "; ".join(parts)


class ScheduledRunInput(BaseModel):
    """What a schedule firing carries: the pipeline; the rest is decided when it fires."""

    pipeline: str
    timezone: str = "UTC"


class PrepareRun(BaseModel):
    pipeline: str
    scheduled_at: str = Field(description="ISO time the schedule fired for")
    timezone: str = "UTC"
    trigger: str
    key: str | None = Field(
        None, description="tells apart the runs one workflow starts (on_change: several)"
    )
    workflow_id: str | None = Field(
        None, description="the run's workflow when it is the caller itself (a schedule's)"
    )
    running: bool = Field(
        False, description="record the run as running at once: the caller runs it next"
    )


class PreparedRun(BaseModel):
    plan: RunPlan
    workflow_id: str


class Notice(BaseModel):
    """One event of a run to tell its targets about."""

    run_id: str
    pipeline: str
    event: str = Field(description="failure, success or sla_miss")
    targets: list[str]
    status: str = Field(description="the run's status when the event happened")
    logical_date: str
    error: str | None = None
    sla_deadline: str | None = None
    failed_steps: dict[str, str] = Field(
        default_factory=dict, description="step -> its error, for steps that failed"
    )
    skipped_steps: dict[str, list[str]] = Field(
        default_factory=dict,
        description="step -> the failed steps it depended on (it did not run: upstream_failed)",
    )
    step_id: str | None = Field(None, description="the approval step (approval events)")
    message: str | None = Field(None, description="what the approvers are asked")
    links: dict[str, str] = Field(
        default_factory=dict,
        description="approve/reject -> signed token (approval_requested: POST it to "
        "/workbench/api/approvals/link)",
    )


class CatalogScanRequest(BaseModel):
    """Scan one connection into the catalog, acting for the connection's owner."""

    connection: str


class CatalogScanResult(BaseModel):
    scan_id: int
    status: str
    tables: int = 0
    columns: int = 0
    changes: dict[str, int] = Field(default_factory=dict)
