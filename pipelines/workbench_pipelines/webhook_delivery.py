"""Webhook deliveries as Temporal workflows: one per event and target.

Why Temporal and not a loop of our own over the outbox table: Temporal already is the
run engine here, and it gives each delivery a durable retry schedule (exponential
backoff with a cap, surviving worker and server restarts) without any process polling
the metadata DB. The outbox row (written with the state change it announces) is the
record; the workflow, started right after that write by the same activity, is what
delivers it. Its id is the delivery's, so a retried activity starts nothing twice.

Deliveries run on a task queue of their own (``<task queue>.webhooks``) with slots of
their own in each worker: a slow receiver never holds a step's slot, and a busy run never
delays an event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from temporalio.exceptions import ActivityError, ApplicationError

log = logging.getLogger(__name__)
T = TypeVar("T")

WEBHOOK_WORKFLOW = "workbench.webhook_delivery"
DELIVER_ACTIVITY = "workbench.deliver_webhook"
QUEUE_SUFFIX = ".webhooks"
# 1 s, 2 s, 4 s, ... capped at 5 min: 12 attempts span about 20 minutes.
FIRST_RETRY_S = 1.0
BACKOFF = 2.0
MAX_INTERVAL_S = 300.0
MAX_ATTEMPTS = 12


_POOL: ThreadPoolExecutor | None = None


def _off_loop(function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run ``function`` in the deliveries' own threads: the loop's default executor is
    where notebook steps run (papermill holds a thread each), and a delivery must not
    queue behind them."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhooks")
    return asyncio.get_running_loop().run_in_executor(_POOL, function, *args)


def webhook_queue(task_queue: str) -> str:
    return task_queue + QUEUE_SUFFIX


@workflow.defn(name=WEBHOOK_WORKFLOW)
class WebhookDeliveryWorkflow:
    """Deliver one event to one target, retrying with backoff until it is answered 2xx,
    is never deliverable (the network policy refuses it), or the attempts run out."""

    @workflow.run
    async def run(self, delivery_id: int) -> str:
        try:
            await workflow.execute_activity(
                DELIVER_ACTIVITY,
                delivery_id,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=FIRST_RETRY_S),
                    backoff_coefficient=BACKOFF,
                    maximum_interval=timedelta(seconds=MAX_INTERVAL_S),
                    maximum_attempts=MAX_ATTEMPTS,
                    non_retryable_error_types=["Undeliverable"],
                ),
            )
        except ActivityError:
            return "failed"
        return "delivered"


class WebhookActivities:
    """The delivery activity, bound to one installation."""

    def __init__(self, workbench: object) -> None:
        self.workbench = workbench

    @activity.defn(name=DELIVER_ACTIVITY)
    async def deliver(self, delivery_id: int) -> None:
        from workbench_server.webhooks.send import attempt

        number = activity.info().attempt
        outcome = await _off_loop(
            attempt, self.workbench, delivery_id, number, number >= MAX_ATTEMPTS
        )
        if outcome.delivered:
            return
        raise ApplicationError(
            outcome.message, type="Undeliverable" if not outcome.retry else "DeliveryFailed"
        )


def queue_webhooks(session: Any, run_id: str, event: str, step: dict | None = None) -> None:
    """The server's :func:`~workbench_server.webhooks.events.queue_webhooks`, imported when
    the worker first queues an event (it brings the webhooks' models and payloads)."""
    from workbench_server.webhooks.events import queue_webhooks as queue

    queue(session, run_id, event, step)


def on_approval(workbench: Any, loop: asyncio.AbstractEventLoop, client: Any, event: Any) -> None:
    """An approval gate opened (the approvals' event hook, in this worker): queue
    ``approval.requested`` for the run's targets and start delivering it on the worker's
    loop. Fired at least once per gate; the delivery is written once."""
    if event.kind != "requested":
        return
    step = {
        "id": event.step_id,
        "message": event.message,
        "approvers": event.approvers,
        "status": event.status,
    }
    with workbench.sessions.begin() as session:
        queue_webhooks(session, event.run_id, "approval.requested", step)
    started = asyncio.run_coroutine_threadsafe(start_pending(workbench, event.run_id, client), loop)
    started.add_done_callback(
        lambda done: (
            done.exception()
            and log.warning("approval.requested of run %s not started", event.run_id)
        )
    )


async def start_pending(workbench: object, run_id: str, client: Any = None) -> None:
    """Start the delivery workflow of each queued delivery of a run (from an activity,
    or with the worker's ``client``, after the transaction that queued them). A delivery
    left queued is started by the run's next event, or by a retry of the activity."""
    from sqlalchemy import select, update
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from workbench_server.db.models import WebhookDelivery

    def queued() -> list[int]:
        with workbench.sessions() as session:  # type: ignore[attr-defined]
            return list(
                session.scalars(
                    select(WebhookDelivery.id).where(
                        WebhookDelivery.run_id == run_id, WebhookDelivery.status == "queued"
                    )
                )
            )

    ids = await _off_loop(queued)
    if not ids:
        return
    client = client or activity.client()
    queue = webhook_queue(workbench.settings.task_queue)  # type: ignore[attr-defined]
    started = []
    for delivery_id in ids:
        try:
            await client.start_workflow(
                WEBHOOK_WORKFLOW,
                delivery_id,
                id=f"webhook-{run_id}-{delivery_id}",
                task_queue=queue,
                # The worker of that queue lives in this process: its first workflow
                # task comes back with the start, not through a poll (less delay).
                request_eager_start=True,
            )
        except WorkflowAlreadyStartedError:
            pass
        started.append(delivery_id)

    def mark() -> None:
        with workbench.sessions.begin() as session:  # type: ignore[attr-defined]
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(started), WebhookDelivery.status == "queued")
                .values(status="sending")
            )

    await _off_loop(mark)
