"""Evaluating the rules: alert state and history in the metadata DB, notices sent once.

Each evaluation compares what the rules find with the alerts firing in the DB:

- a condition that is new fires an alert (one row; its ``active_key`` is unique, so a
  second server evaluating at the same moment cannot fire it twice);
- a firing alert is sent to each channel of its rule once (a channel that failed is
  tried again at the next evaluations, up to ``MAX_ATTEMPTS``), unless a silence
  matches it: then nothing is sent until the silence ends;
- a firing alert nobody acknowledged (and no silence covers) escalates by its rule's
  ``escalate`` steps, each once its delay since the firing has passed: the step's
  channels are told (and, at a higher severity, those told before, again); an
  acknowledgement or the resolve stops it, and each step is in the alert's history;
- an alert whose condition is gone (or whose rule was removed) is resolved, and the
  channels that were told it fired are told it resolved.

State lives in the DB, not in the process: a server that restarts carries on where the
last evaluation left off, and sends nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..connections.egress import EgressPolicy
from ..db.models import Alert, AlertEvent, AlertSilence
from ..errors import ConfigurationError, WorkbenchError
from . import conditions, rules
from .channels import DeliveryFailed, Notice, deliver
from .conditions import Firing

if TYPE_CHECKING:
    from ..core import Workbench

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""Trigger notices tried per channel and alert before the engine gives up on it."""
RESOLVE_RETRY_FOR = timedelta(hours=1)
"""How long after an alert resolved a failed resolve notice is still tried again."""
IDLE_INTERVAL_S = 30.0
"""How often the engine looks for an alerts.yaml when the home has none (or a bad one)."""


@dataclass(frozen=True)
class Outgoing:
    alert_id: int
    channel: str
    notice: Notice
    level: int = 0


def targets(rule: rules.Rule, level: int) -> list[str]:
    """The channels told at escalation ``level`` (0: the rule's own): the step's ``to``,
    else the rule's channels again; with a new severity, every channel told before too."""
    if level == 0:
        return list(rule.channels)
    step = rule.escalate[level - 1]
    found = list(step.to or rule.channels)
    before = rule.severity
    for earlier in rule.escalate[: level - 1]:
        before = earlier.severity or before
    if step.severity is not None and step.severity != before:
        found += [c for lower in range(level) for c in targets(rule, lower)]
    return list(dict.fromkeys(found))


def _due(history: list[AlertEvent], channel: str, level: int) -> bool:
    """Whether ``channel`` is still to be told of the alert at ``level``: not told yet,
    and tried fewer than ``MAX_ATTEMPTS`` times."""
    tries = [
        e
        for e in history
        if e.event == "notified"
        and e.channel == channel
        and e.action == "trigger"
        and (e.level or 0) == level
    ]
    return len(tries) < MAX_ATTEMPTS and not any(e.status == "sent" for e in tries)


def silenced(alert: Alert, silences: list[AlertSilence]) -> AlertSilence | None:
    """The first silence that covers ``alert`` (by rule and labels), if any."""
    for silence in silences:
        if silence.rule not in (None, alert.rule):
            continue
        if all(alert.labels.get(k) == v for k, v in silence.labels.items()):
            return silence
    return None


class AlertEngine:
    """The rules of ``home``/alerts.yaml evaluated against ``workbench``."""

    def __init__(self, workbench: Workbench, home: Path | None = None) -> None:
        self.workbench = workbench
        self.home = home or workbench.settings.workbench_home.root
        self.policy = EgressPolicy.from_settings(workbench.settings)
        self._last_problem: str | None = None
        self._rule_problems: dict[str, str] = {}
        self.started = datetime.now(UTC)
        # Since when Temporal has not answered the service_down rule (None: it answers).
        self._temporal_silent_since: datetime | None = None

    def config(self) -> rules.AlertsConfig | None:
        """The rules now; a broken file is logged (once per problem) and treated as none."""
        try:
            found = rules.load(self.home)
        except (WorkbenchError, OSError) as exc:
            if str(exc) != self._last_problem:
                log.error("Alert rules not loaded: %s", exc)
                self._last_problem = str(exc)
            return None
        self._last_problem = None
        return found

    async def evaluate(self, now: datetime | None = None) -> rules.AlertsConfig | None:
        """One evaluation of every rule, and the notices it calls for."""
        config = self.config()
        if config is None:
            return None
        now = now or datetime.now(UTC)
        found: dict[str, Firing] = {}
        evaluated: set[str] = set()
        for rule in config.rules:
            try:
                firings = await conditions.evaluate(self.workbench, rule, now, now - self.started)
            except Exception as exc:  # one rule that cannot be read leaves the rest
                problem = str(exc) or type(exc).__name__
                if isinstance(exc, TimeoutError) and isinstance(rule, rules.ServiceDownRule):
                    problem = f"no answer within {rule.answer_within_seconds:g} s"
                down = isinstance(rule, rules.ServiceDownRule) and not isinstance(
                    exc, ConfigurationError
                )
                if self._rule_problems.get(rule.name) != problem:  # once, not every interval
                    what = "Temporal does not answer" if down else "not evaluated"
                    log.warning("Alert rule %s: %s: %s", rule.name, what, problem)
                    self._rule_problems[rule.name] = problem
                if not down:
                    continue
                # Temporal itself does not answer: that is the outage this rule is for.
                since = self._temporal_silent_since = self._temporal_silent_since or now
                firings = conditions.temporal_silent(self.workbench, rule, now - since, problem)
                if firings:  # before for_seconds nothing is known: an alert stays as it is
                    evaluated.add(rule.name)
                    found.update((f.dedup_key, f) for f in firings)
                continue
            if isinstance(rule, rules.ServiceDownRule):
                self._temporal_silent_since = None
            self._rule_problems.pop(rule.name, None)
            evaluated.add(rule.name)
            found.update((f.dedup_key, f) for f in firings)
        outgoing = await asyncio.to_thread(self._reconcile, config, found, evaluated, now)
        if outgoing:
            await asyncio.to_thread(self._send, config, outgoing)
        return config

    # -- state ---------------------------------------------------------------------
    def _reconcile(
        self,
        config: rules.AlertsConfig,
        found: dict[str, Firing],
        evaluated: set[str],
        now: datetime,
    ) -> list[Outgoing]:
        by_name = {rule.name: rule for rule in config.rules}
        with self.workbench.sessions() as session:
            firing = {
                a.dedup_key: a
                for a in session.scalars(select(Alert).where(Alert.status == "firing"))
            }
        for key, condition in found.items():
            if key not in firing:
                fired = self._fire(condition, now)
                if fired is not None:
                    firing[key] = fired
        outgoing: list[Outgoing] = []
        with self.workbench.sessions() as session:
            silences = list(session.scalars(select(AlertSilence).where(AlertSilence.ends_at > now)))
            for key, detached in firing.items():
                alert = session.get(Alert, detached.id)
                if alert is None or alert.status != "firing":
                    continue
                rule = by_name.get(alert.rule)
                gone = rule is None or (alert.rule in evaluated and key not in found)
                history = list(
                    session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id))
                )
                told = {
                    e.channel
                    for e in history
                    if e.event == "notified" and e.action == "trigger" and e.status == "sent"
                }
                if gone:
                    alert.status, alert.resolved_at, alert.active_key = "resolved", now, None
                    session.add(AlertEvent(alert_id=alert.id, event="resolved", at=now))
                    notice = self._notice(config, alert, "resolve")
                    still = sorted(told & set(config.channels))  # a channel may be gone
                    outgoing += [Outgoing(alert.id, name, notice) for name in still]
                    continue
                if key in found and found[key].summary != alert.summary:
                    alert.summary = found[key].summary
                silence = silenced(alert, silences)
                if silence is None and alert.acknowledged_at is None:
                    self._escalate(session, rule, alert, now)
                due = [
                    (level, name)
                    # A step removed from the file since it was taken is not told again.
                    for level in range(min(alert.escalation_level, len(rule.escalate)) + 1)
                    for name in targets(rule, level)
                    if _due(history, name, level)
                ]
                if not due:
                    continue
                if silence is not None:
                    if not any(e.event == "silenced" for e in history):
                        until = f"{silence.ends_at:%Y-%m-%d %H:%M} UTC"
                        detail = f"silence {silence.id} until {until}"
                        session.add(
                            AlertEvent(alert_id=alert.id, event="silenced", detail=detail, at=now)
                        )
                    continue
                outgoing += [
                    Outgoing(
                        alert.id, name, self._notice(config, alert, "trigger", rule, level), level
                    )
                    for level, name in due
                ]
            outgoing += self._unsent_resolves(session, config, now)
            session.commit()
        return outgoing

    def _unsent_resolves(
        self, session: Session, config: rules.AlertsConfig, now: datetime
    ) -> list[Outgoing]:
        """Resolve notices that failed, again (up to ``MAX_ATTEMPTS`` each, for alerts
        resolved in the last ``RESOLVE_RETRY_FOR``), to channels still in the file."""
        alerts = list(
            session.scalars(
                select(Alert).where(
                    Alert.status == "resolved", Alert.resolved_at > now - RESOLVE_RETRY_FOR
                )
            )
        )
        if not alerts:
            return []
        history: dict[int, list[AlertEvent]] = {a.id: [] for a in alerts}
        for event in session.scalars(
            select(AlertEvent).where(
                AlertEvent.alert_id.in_(list(history)), AlertEvent.event == "notified"
            )
        ):
            history[event.alert_id].append(event)
        outgoing = []
        for alert in alerts:
            events = history[alert.id]
            told = {e.channel for e in events if e.action == "trigger" and e.status == "sent"}
            for name in sorted(told & set(config.channels)):
                resolves = [e for e in events if e.channel == name and e.action == "resolve"]
                # None yet: this evaluation's own resolve notice is already on its way.
                if not resolves or any(e.status == "sent" for e in resolves):
                    continue
                if len(resolves) < MAX_ATTEMPTS:
                    notice = self._notice(config, alert, "resolve")
                    outgoing.append(Outgoing(alert.id, name, notice))
        return outgoing

    def _escalate(self, session: Session, rule: rules.Rule, alert: Alert, now: datetime) -> None:
        """Take every escalation step of ``rule`` whose delay has passed since ``alert``
        fired (several at once after a pause of the engine), each once."""
        started = (
            alert.started_at if alert.started_at.tzinfo else alert.started_at.replace(tzinfo=UTC)
        )
        while alert.escalation_level < len(rule.escalate):
            step = rule.escalate[alert.escalation_level]
            if now < started + step.after:
                return
            alert.escalation_level += 1
            before = alert.severity
            alert.severity = step.severity or alert.severity
            told = ", ".join(targets(rule, alert.escalation_level)) or "no channel"
            raised = f"; {before} -> {alert.severity}" if alert.severity != before else ""
            detail = f"not acknowledged {_duration(step.after)} after firing: to {told}{raised}"
            session.add(
                AlertEvent(
                    alert_id=alert.id,
                    event="escalated",
                    level=alert.escalation_level,
                    detail=detail,
                    at=now,
                )
            )

    def _fire(self, condition: Firing, now: datetime) -> Alert | None:
        with self.workbench.sessions() as session:
            alert = Alert(
                dedup_key=condition.dedup_key,
                active_key=condition.dedup_key,
                rule=condition.rule,
                severity=condition.severity,
                labels=condition.labels,
                summary=condition.summary,
                status="firing",
                started_at=now,
            )
            session.add(alert)
            try:
                session.flush()
                session.add(AlertEvent(alert_id=alert.id, event="fired", at=now))
                session.commit()
            except IntegrityError:  # another evaluator fired it a moment ago
                session.rollback()
                return None
            session.refresh(alert)
            session.expunge(alert)
            return alert

    def _notice(
        self,
        config: rules.AlertsConfig,
        alert: Alert,
        action: str,
        rule: rules.Rule | None = None,
        level: int = 0,
    ) -> Notice:
        note = ""
        if level and rule is not None and level <= len(rule.escalate):
            note = f"escalated: not acknowledged {_duration(rule.escalate[level - 1].after)}"
        return Notice(
            action=action,  # type: ignore[arg-type]
            dedup_key=f"workbench:{alert.dedup_key}:{alert.id}",
            rule=alert.rule,
            severity=alert.severity,
            summary=alert.summary,
            labels=dict(alert.labels),
            source=config.source,
            note=note,
        )

    def _send(self, config: rules.AlertsConfig, outgoing: list[Outgoing]) -> None:
        """Each notice to its channel; a channel with ``group: true`` gets all of one
        evaluation's notices in one message."""
        batches: list[list[Outgoing]] = []
        grouped: dict[str, list[Outgoing]] = {}
        for item in outgoing:
            if getattr(config.channels[item.channel], "group", False):
                if item.channel not in grouped:
                    grouped[item.channel] = []
                    batches.append(grouped[item.channel])
                grouped[item.channel].append(item)
            else:
                batches.append([item])
        events = []
        for batch in batches:
            name = batch[0].channel
            notices = [item.notice for item in batch]
            try:
                deliver(name, config.channels[name], notices, self.policy)
                status, detail = "sent", None
            except DeliveryFailed as exc:
                status, detail = "failed", str(exc)
                log.warning("%d alert notice(s) to %s: %s", len(batch), name, exc)
            events += [
                AlertEvent(
                    alert_id=item.alert_id,
                    event="notified",
                    channel=name,
                    action=item.notice.action,
                    status=status,
                    detail=detail,
                    at=datetime.now(UTC),
                    level=item.level,
                )
                for item in batch
            ]
        with self.workbench.sessions() as session:
            session.add_all(events)
            session.commit()

    # -- the loop --------------------------------------------------------------------
    async def run_forever(self) -> None:
        """Evaluate every ``interval_seconds`` of the file until cancelled; an evaluation
        that fails is logged and the next one comes as usual."""
        while True:
            started = asyncio.get_running_loop().time()
            interval = IDLE_INTERVAL_S
            try:
                config = await self.evaluate()
                if config is not None:
                    interval = config.interval_seconds
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Alert evaluation failed; trying again at the next interval")
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(0.0, interval - elapsed))


def _duration(delay: timedelta) -> str:
    """``15m``, ``1h30m``, ``90s``: a delay as alerts.yaml writes it."""
    seconds = int(delay.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h")]
    parts += [(seconds % 3600 // 60, "m"), (seconds % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"
