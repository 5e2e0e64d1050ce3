"""Alerts, their history, acknowledgements and silences, as the REST API serves them.

Anyone who may use the workbench sees the alerts and silences (they name pipelines and
volumes, not data; not those naming a pipeline they may not see); only admins
acknowledge them and make or end silences.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from ..db.models import Alert, AlertEvent, AlertSilence
from ..errors import ConflictError, NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from ..core import Workbench
    from ..principal import Principal

MAX_SILENCE = timedelta(days=90)


class AlertEventOut(BaseModel):
    event: str
    channel: str | None
    action: str | None
    status: str | None
    detail: str | None
    actor: str | None
    at: datetime
    level: int = 0  # the escalation level a notice or an escalation belongs to


class AlertOut(BaseModel):
    id: int
    dedup_key: str
    rule: str
    severity: str
    labels: dict[str, str]
    summary: str
    status: str
    started_at: datetime
    resolved_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    history: list[AlertEventOut]
    escalation_level: int = 0  # escalation steps taken (0: none)


class SilenceIn(BaseModel):
    """A silence: ``rule`` (any rule when absent) and the labels an alert must have,
    for ``minutes`` from now or until ``ends_at``."""

    model_config = ConfigDict(extra="forbid")
    rule: str | None = Field(default=None, max_length=100)
    labels: dict[str, str] = Field(default_factory=dict, max_length=20)
    minutes: int | None = Field(default=None, ge=1, le=int(MAX_SILENCE.total_seconds() // 60))
    ends_at: datetime | None = None
    comment: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _one_end(self) -> SilenceIn:
        if (self.minutes is None) == (self.ends_at is None):
            raise ValueError("give either minutes or ends_at, the time the silence ends")
        if self.ends_at is not None and self.ends_at.tzinfo is None:
            raise ValueError("ends_at: give a time zone, e.g. 2026-12-06T18:00:00Z")
        return self

    def end(self, now: datetime) -> datetime:
        if self.ends_at is not None:
            if not now < self.ends_at <= now + MAX_SILENCE:
                raise ValueError("ends_at: a time in the future, at most 90 days away")
            return self.ends_at
        return now + timedelta(minutes=self.minutes or 0)


class SilenceOut(BaseModel):
    id: int
    rule: str | None
    labels: dict[str, str]
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime
    active: bool


def _require_admin(principal: Principal, what: str) -> None:
    if not principal.admin:
        raise PermissionDeniedError(f"only an admin may {what}")


def _out(alert: Alert, events: list[AlertEvent]) -> AlertOut:
    history = [AlertEventOut.model_validate(e, from_attributes=True) for e in events]
    return AlertOut.model_validate(
        {
            **{c: getattr(alert, c) for c in AlertOut.model_fields if c != "history"},
            "history": history,
        }
    )


def _may_see(labels: dict[str, str], pipelines: set[str] | None) -> bool:
    """Whether labels name only pipelines in ``pipelines`` (None: all may be seen), in
    their ``pipeline`` or ``upstream`` label."""
    return pipelines is None or all(
        labels.get(k) in (None, *pipelines) for k in ("pipeline", "upstream")
    )


def list_alerts(
    workbench: Workbench,
    status: Literal["firing", "resolved", "all"],
    limit: int,
    pipelines: set[str] | None = None,
) -> list[AlertOut]:
    """Firing alerts first, then the latest resolved ones, each with its history.

    With ``pipelines`` (the names the caller may see; None: all), an alert that names
    another pipeline (its ``pipeline`` or ``upstream`` label) is left out."""
    query = select(Alert).order_by(Alert.status, Alert.started_at.desc(), Alert.id.desc())
    if status != "all":
        query = query.where(Alert.status == status)
    with workbench.sessions() as session:
        alerts = [a for a in session.scalars(query.limit(limit)) if _may_see(a.labels, pipelines)]
        events: dict[int, list[AlertEvent]] = {a.id: [] for a in alerts}
        if alerts:
            for event in session.scalars(
                select(AlertEvent)
                .where(AlertEvent.alert_id.in_(list(events)))
                .order_by(AlertEvent.id)
            ):
                events[event.alert_id].append(event)
        return [_out(a, events[a.id]) for a in alerts]


def acknowledge(workbench: Workbench, principal: Principal, alert_id: int) -> AlertOut:
    _require_admin(principal, "acknowledge an alert")
    now = datetime.now(UTC)
    with workbench.sessions() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise NotFoundError(f"no alert {alert_id}")
        if alert.status != "firing":
            raise ConflictError(f"alert {alert_id} is resolved already: nothing to acknowledge")
        if alert.acknowledged_at is None:
            alert.acknowledged_by, alert.acknowledged_at = principal.name, now
            session.add(
                AlertEvent(alert_id=alert.id, event="acknowledged", actor=principal.name, at=now)
            )
            session.commit()
        events = list(
            session.scalars(
                select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
            )
        )
        return _out(alert, events)


def _silence_out(silence: AlertSilence, now: datetime) -> SilenceOut:
    ends = silence.ends_at if silence.ends_at.tzinfo else silence.ends_at.replace(tzinfo=UTC)
    return SilenceOut(
        id=silence.id,
        rule=silence.rule,
        labels=silence.labels,
        ends_at=ends,
        comment=silence.comment,
        created_by=silence.created_by,
        created_at=silence.created_at,
        active=ends > now,
    )


def list_silences(
    workbench: Workbench, include_ended: bool, pipelines: set[str] | None = None
) -> list[SilenceOut]:
    """The silences, latest end first. With ``pipelines`` (the names the caller may see;
    None: all), a silence whose labels name another pipeline is left out, as its alerts
    are: an admin's silence of a private pipeline would name it to everyone."""
    now = datetime.now(UTC)
    query = select(AlertSilence).order_by(AlertSilence.ends_at.desc())
    if not include_ended:
        query = query.where(AlertSilence.ends_at > now)
    with workbench.sessions() as session:
        return [
            _silence_out(s, now)
            for s in session.scalars(query.limit(500))
            if _may_see(s.labels or {}, pipelines)
        ]


def create_silence(workbench: Workbench, principal: Principal, request: SilenceIn) -> SilenceOut:
    _require_admin(principal, "silence alerts")
    now = datetime.now(UTC)
    silence = AlertSilence(
        rule=request.rule,
        labels=request.labels,
        ends_at=request.end(now),
        comment=request.comment,
        created_by=principal.name,
        created_at=now,
    )
    with workbench.sessions() as session:
        session.add(silence)
        session.commit()
        return _silence_out(silence, now)


def end_silence(workbench: Workbench, principal: Principal, silence_id: int) -> SilenceOut:
    """Ends a silence now; it stays listed among the ended ones."""
    _require_admin(principal, "end a silence")
    now = datetime.now(UTC)
    with workbench.sessions() as session:
        silence = session.get(AlertSilence, silence_id)
        if silence is None:
            raise NotFoundError(f"no silence {silence_id}")
        silence.ends_at = min(_silence_out(silence, now).ends_at, now)
        session.commit()
        return _silence_out(silence, now)
