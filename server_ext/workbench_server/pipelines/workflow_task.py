"""Why an unfinished run does not move: its workflow code fails on the worker.

Temporal retries a failed workflow task until a worker runs it (by design: deploying a
fixed worker resumes the run), so a worker whose workflow code raises (an edit half
saved, a bad deploy) leaves the run "running" or "queued" with nothing to show but the
worker's log. A run's status answer asks Temporal about the run's workflow (one
DescribeWorkflowExecution, and when its pending workflow task has failed, one page of
its history read backwards for the failure) and says so.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from temporalio.client import Client

log = logging.getLogger(__name__)

# How long a status answer waits for Temporal before it answers without this.
TIMEOUT_S = 3.0
# Events read back from the newest for the failed task (a run's history past its last
# failure is a handful of events: signals, a timer, a step's activity ending).
PAGE = 50
MESSAGE_CHARS = 300


def stuck_message(failure: str | None) -> str:
    """The line a run's status answer carries while its workflow task keeps failing."""
    what = f": {failure}" if failure else ""
    return (
        f"the worker cannot run this run's workflow code{what} (it retries until the "
        "worker is fixed; see the worker's log)"
    )


async def workflow_task_failure(
    client: Client, workflow_id: str, timeout: float = TIMEOUT_S
) -> str | None:
    """:func:`stuck_message` when the workflow's pending task is being retried (its
    attempt is past the first) after its code failed, else None. Temporal unreachable
    or slow: None."""
    try:
        return await asyncio.wait_for(_failure(client, workflow_id, timeout), timeout)
    except Exception as exc:  # the status answer goes on without it
        log.debug("workflow task of %s not read: %r", workflow_id, exc)
        return None


async def _failure(client: Client, workflow_id: str, timeout: float) -> str | None:
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import (
        EventType,
        WorkflowExecutionStatus,
        WorkflowTaskFailedCause,
    )
    from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest

    rpc_timeout = timedelta(seconds=timeout)
    described = await client.get_workflow_handle(workflow_id).describe(rpc_timeout=rpc_timeout)
    raw = described.raw_description
    running = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    if raw.workflow_execution_info.status != running:
        return None
    if not raw.HasField("pending_workflow_task") or raw.pending_workflow_task.attempt <= 1:
        return None
    # A task failing again and again is in the history once (its first failure): the
    # newest WorkflowTaskFailed, unless a task completed or timed out (a worker gone, not
    # code failing: the worker's liveness check says that) after it.
    page = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id, run_id=described.run_id),
            maximum_page_size=PAGE,
        ),
        timeout=rpc_timeout,
    )
    ended = (
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    )
    # Failures Temporal itself asks for (a command to redo, a sticky queue reset).
    routine = (
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
    )
    for event in page.history.events:
        if event.event_type in ended:
            return None
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            attributes = event.workflow_task_failed_event_attributes
            if attributes.cause in routine:
                return None
            failure = attributes.failure
            line = (failure.message.strip().splitlines() or [""])[0]
            kind = failure.application_failure_info.type
            if kind and not line.startswith(kind):
                line = f"{kind}: {line}" if line else kind
            if len(line) > MESSAGE_CHARS:
                line = line[: MESSAGE_CHARS - 1] + "…"
            return stuck_message(line or None)
    return None
