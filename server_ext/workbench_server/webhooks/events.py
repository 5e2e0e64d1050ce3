"""Run events for webhook targets: the targets a pipeline's owner configured, and the
outbox of deliveries written in the same transaction as the state change announced.

A delivery row is written once per event and target (``event_key``), so an activity
Temporal retries never announces the same thing twice; the event's ``id`` is the same for
every target, for receivers that de-duplicate.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import or_, select

from ..db.models import (
    Pipeline,
    Run,
    WebhookDelivery,
    WebhookTarget,
)
from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ..pipelines.registry import PipelineRegistry
from ..principal import Principal
from . import signing
from .payloads import (
    EVENTS,
    DeliveryOut,
    check_url,
    known_events,
    queued_delivery,
    run_payload,
)

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..core import Workbench

END_EVENTS = ["run.succeeded", "run.failed", "run.cancelled"]
RUN_STATUS_EVENTS = {
    "running": "run.started",
    "succeeded": "run.succeeded",
    "failed": "run.failed",
    "cancelled": "run.cancelled",
}
MAX_TARGETS = 20


def _now() -> datetime:
    return datetime.now(UTC)


class TargetIn(BaseModel):
    """A webhook target: an http(s) URL and the events it wants (all when left out)."""

    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(default_factory=lambda: list(EVENTS), min_length=1, max_length=10)

    @field_validator("events")
    @classmethod
    def _known(cls, events: list[str]) -> list[str]:
        return known_events(events)


class TargetOut(BaseModel):
    id: int
    url: str
    events: list[str]
    created_by: str
    created_at: datetime


class TargetSecret(TargetOut):
    """The answer to creating a target: the one time its signing secret is shown."""

    secret: str


class TargetService:
    """Webhook targets of one pipeline: its owner and admins manage them (they receive
    the runs' parameters and outputs)."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    def _pipeline_id(self, name: str) -> int:
        out = PipelineRegistry(self.workbench, self.principal).get(name)
        if not self.principal.may_change(out.owner):
            raise PermissionDeniedError(
                f"only {out.owner} (the owner of pipeline {name!r}) and admins may see and "
                "change its webhook targets"
            )
        with self.workbench.sessions() as session:
            found = session.scalar(select(Pipeline.id).where(Pipeline.name == name))
        if found is None:
            raise NotFoundError(f"no pipeline {name!r}")
        return found

    def list(self, name: str) -> list[TargetOut]:
        pipeline_id = self._pipeline_id(name)
        with self.workbench.sessions() as session:
            rows = session.scalars(
                select(WebhookTarget)
                .where(WebhookTarget.pipeline_id == pipeline_id, WebhookTarget.run_id.is_(None))
                .order_by(WebhookTarget.id)
            )
            return [TargetOut.model_validate(r, from_attributes=True) for r in rows]

    def create(self, name: str, target: TargetIn) -> TargetSecret:
        pipeline_id = self._pipeline_id(name)
        check_url(self.workbench, target.url, f"webhook target {target.url!r}")
        secret = signing.new_secret()
        with self.workbench.sessions.begin() as session:
            count = len(
                session.scalars(
                    select(WebhookTarget.id).where(
                        WebhookTarget.pipeline_id == pipeline_id, WebhookTarget.run_id.is_(None)
                    )
                ).all()
            )
            if count >= MAX_TARGETS:
                raise InvalidInputError(
                    f"pipeline {name!r} has {count} webhook targets, the most it may have: "
                    "delete one first"
                )
            row = WebhookTarget(
                pipeline_id=pipeline_id,
                url=target.url,
                events=target.events,
                secret=self.workbench.secret_box.seal({"secret": secret}) or b"",
                created_by=self.principal.name,
                created_at=_now(),
            )
            session.add(row)
            session.flush()
            out = TargetOut.model_validate(row, from_attributes=True)
        return TargetSecret(**out.model_dump(), secret=secret)

    def rotate(self, name: str, target_id: int) -> TargetSecret:
        """A new signing secret for a target (shown in this answer only); deliveries
        from now on, retries included, are signed with it."""
        pipeline_id = self._pipeline_id(name)
        secret = signing.new_secret()
        with self.workbench.sessions.begin() as session:
            row = session.get(WebhookTarget, target_id)
            if row is None or row.pipeline_id != pipeline_id or row.run_id is not None:
                raise NotFoundError(f"pipeline {name!r} has no webhook target {target_id}")
            row.secret = self.workbench.secret_box.seal({"secret": secret}) or b""
            out = TargetOut.model_validate(row, from_attributes=True)
        return TargetSecret(**out.model_dump(), secret=secret)

    def delete(self, name: str, target_id: int) -> None:
        pipeline_id = self._pipeline_id(name)
        with self.workbench.sessions.begin() as session:
            row = session.get(WebhookTarget, target_id)
            if row is None or row.pipeline_id != pipeline_id or row.run_id is not None:
                raise NotFoundError(f"pipeline {name!r} has no webhook target {target_id}")
            session.delete(row)


def add_run_callback(
    session: Session, run_id: str, pipeline_id: int, url: str, sealed: bytes, by: str
) -> None:
    """One run's own target (a trigger call's ``callback_url``): its end only, signed with
    the trigger secret the caller holds."""
    session.add(
        WebhookTarget(
            pipeline_id=pipeline_id,
            run_id=run_id,
            url=url,
            events=END_EVENTS,
            secret=sealed,
            created_by=by,
            created_at=_now(),
        )
    )


def enqueue(
    session: Session,
    run_id: str,
    event: str,
    step: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    workbench: Workbench | None = None,
) -> int:
    """Write the deliveries of ``event`` of a run (inside the caller's transaction), to
    the pipeline's webhook targets and to the agents whose owners may see it
    (:mod:`..agents.hooks`); returns how many are new. ``dataset.updated`` carries
    ``dataset`` (its name and version tell one event from another); ``workbench`` lets
    an agent's event read a table's columns the catalog does not know yet."""
    from ..agents.hooks import enqueue_for_agents

    run = session.get(Run, run_id)
    if run is None:
        return 0
    targets = [
        t
        for t in session.scalars(
            select(WebhookTarget).where(
                WebhookTarget.pipeline_id == run.pipeline_id,
                or_(WebhookTarget.run_id.is_(None), WebhookTarget.run_id == run_id),
            )
        )
        if event in (t.events or [])
    ]
    key = f"{run_id}:{event}:{(step or {}).get('id', '')}"
    if dataset is not None:
        key = f"{run_id}:{event}:{dataset.get('name')}@{dataset.get('version')}"
        if len(key) > 200:  # the column's size; long names stay apart by their digest
            key = key[:150] + ":" + hashlib.sha256(key.encode()).hexdigest()[:40]
    agents = enqueue_for_agents(session, run, event, key, step, dataset, workbench)
    if not targets:
        return agents
    done = set(
        session.scalars(select(WebhookDelivery.target_id).where(WebhookDelivery.event_key == key))
    )
    targets = [t for t in targets if t.id not in done]
    if not targets:
        return agents
    pipeline = session.get(Pipeline, run.pipeline_id)
    event_id = f"evt_{uuid.uuid4().hex}"
    payload: dict[str, Any] = {
        "id": event_id,
        "type": event,
        "created_at": _now().isoformat(),
        "run": run_payload(session, run, pipeline.name if pipeline else "", event in END_EVENTS),
    }
    if step is not None:
        payload["step"] = step
    if dataset is not None:
        payload["dataset"] = dataset
    for target in targets:
        session.add(
            queued_delivery(
                run_id=run_id,
                target_id=target.id,
                event_id=event_id,
                key=key,
                event=event,
                url=target.url,
                payload=payload,
            )
        )
    return len(targets) + agents


def queue_webhooks(session: Any, run_id: str, event: str, step: dict | None = None) -> None:
    """Queue ``event``'s deliveries inside the caller's transaction, in a savepoint: a
    webhook that cannot be queued is logged and never undoes the state change. Used by
    the server (a firing recorded running) and the worker (every other run event)."""
    try:
        with session.begin_nested():
            enqueue(session, run_id, event, step)
    except Exception:
        log.warning("webhook event %s of run %s not queued", event, run_id, exc_info=True)


def deliveries(session: Session, run_id: str) -> list[DeliveryOut]:
    """A run's deliveries to its pipeline's targets and callbacks. Agents' deliveries
    are their owners' alone (an agent's URL is private): they are listed per agent."""
    from ..agents.hooks import delivery_list

    rows = list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.run_id == run_id, WebhookDelivery.agent_id.is_(None))
            .order_by(WebhookDelivery.id)
        )
    )
    return delivery_list(session, rows)
