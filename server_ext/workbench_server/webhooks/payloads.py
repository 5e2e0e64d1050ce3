"""What webhook targets and agents are sent: the event names, a run as events show it,
and the delivery records they can read back. Shared by :mod:`.events` (the pipelines'
targets) and :mod:`..agents.hooks` (users' agents), which both queue into the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlalchemy import select

from ..connections.egress import EgressPolicy, UnknownHostError
from ..db.models import Run, RunTable, StepRun, WebhookDelivery
from ..errors import InvalidInputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..core import Workbench

EVENTS = (
    "run.started",
    "run.succeeded",
    "run.failed",
    "run.cancelled",
    "step.failed",
    "run.sla_missed",
    "approval.requested",
    "dataset.updated",
)


def known_events(events: list[str]) -> list[str]:
    """``events`` without repeats, in :data:`EVENTS`' order; an unknown one is refused."""
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValueError(f"unknown events {unknown}: choose from {', '.join(EVENTS)}")
    return sorted(set(events), key=EVENTS.index)


def status_path(pipeline: str, run_id: str) -> str:
    """Below the server's base URL: where the trigger credential reads a run's state."""
    return f"workbench/api/pipelines/{pipeline}/trigger/runs/{run_id}"


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: float
    error: str | None


class DeliveryOut(BaseModel):
    id: int
    event: str
    event_id: str
    url: str
    target_id: int | None
    status: str  # queued | sending | retrying | delivered | failed
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    history: list[AttemptOut] = []


def redacted(delivery: DeliveryOut) -> DeliveryOut:
    """``delivery`` as someone who may not see its target reads it: the URL's scheme and
    host only (``https://hooks.example.com/…``), and no error that quotes the URL."""
    parts = urlsplit(delivery.url)
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"

    def hide(text: str | None) -> str | None:
        return text.replace(delivery.url, origin) if text else text

    return delivery.model_copy(
        update={
            "url": origin,
            "last_error": hide(delivery.last_error),
            "history": [a.model_copy(update={"error": hide(a.error)}) for a in delivery.history],
        }
    )


def check_url(workbench: Workbench, url: str, what: str) -> None:
    """Refuse a target the network policy would refuse to deliver to, when it is set."""
    try:
        EgressPolicy.from_settings(workbench.settings).check_url(url, what=what)
    except UnknownHostError as exc:
        raise InvalidInputError(f"{what}: {exc}; give a host this server can resolve") from None


def run_payload(session: Session, run: Run, pipeline: str, end: bool) -> dict[str, Any]:
    """The run as events show it; at its end, with its outputs: the lake table versions
    its steps wrote and each step's final state."""
    body: dict[str, Any] = {
        "id": run.id,
        "pipeline": pipeline,
        "version": run.version,
        "status": run.status,
        "trigger": run.trigger,
        "requested_by": run.requested_by,
        "parameters": run.parameters,
        "logical_date": run.logical_date,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "error": run.error,
        "status_path": status_path(pipeline, run.id),
    }
    if end:
        steps: dict[str, str] = {}
        for step_id, status in session.execute(
            select(StepRun.step_id, StepRun.status)
            .where(StepRun.run_id == run.id)
            .order_by(StepRun.attempt)
        ):
            steps[step_id] = status  # the last attempt's
        tables = [
            {
                "step": t.step_id,
                "lake": t.lake,
                "table": t.table_name,
                "version": t.version,
                "operation": t.operation,
                "rows_added": t.rows_added,
                "rows_updated": t.rows_updated,
                "rows_removed": t.rows_removed,
            }
            for t in session.scalars(
                select(RunTable)
                .where(RunTable.run_id == run.id, RunTable.access == "write")
                .order_by(RunTable.id)
            )
        ]
        body["outputs"] = {"steps": steps, "tables": tables}
    return body


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def queued_delivery(
    *,
    run_id: str,
    event_id: str,
    key: str,
    event: str,
    url: str,
    payload: dict[str, Any],
    target_id: int | None = None,
    agent_id: int | None = None,
) -> WebhookDelivery:
    """An outbox row for one event and receiver (a pipeline's target or a user's agent),
    waiting for the worker's delivery workflow."""
    return WebhookDelivery(
        run_id=run_id,
        target_id=target_id,
        agent_id=agent_id,
        event_id=event_id,
        event_key=key,
        event=event,
        url=url,
        payload=payload,
        status="queued",
        attempts=0,
        created_at=datetime.now(UTC),
    )
