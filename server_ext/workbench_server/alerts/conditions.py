"""What each kind of rule finds now: one :class:`Firing` per condition that holds."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ..db.models import Run
from ..metrics.collectors import volumes_of
from ..metrics.query_log import window
from ..sla.freshness import freshness
from ..sla.risk import (
    ENDED_BADLY,
    at_risk,
    current_specs,
    latest_ended,
    latest_sla_verdicts,
)
from ..temporal import POLLER_FRESH_FOR, live_pollers
from .rules import (
    DatasetFreshnessRule,
    DiskSpaceRule,
    ErrorRateRule,
    PipelineFailedRule,
    Rule,
    ServiceDownRule,
    SlaAtRiskRule,
    SlaMissedRule,
    SlowQueriesRule,
)

if TYPE_CHECKING:
    from ..core import Workbench

NEVER = timedelta(0)


@dataclass(frozen=True)
class Firing:
    """A condition that holds: ``rule`` with ``labels`` is its identity (the dedup key)."""

    rule: str
    severity: str
    labels: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def dedup_key(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.rule}{{{inner}}}"


def _firing(rule: Rule, labels: dict[str, str], summary: str) -> Firing:
    text = rule.summary.format(**labels) if rule.summary else summary
    return Firing(rule.name, rule.severity, labels, text)


def pipeline_failed(workbench: Workbench, rule: PipelineFailedRule) -> list[Firing]:
    with workbench.sessions() as session:
        specs = current_specs(session)
        latest = latest_ended(session)
    critical = {name for name, spec in specs.items() if spec.get("sla")} | set(rule.pipelines)
    return [
        _firing(
            rule,
            {"pipeline": name},
            f"the latest run of critical pipeline {name} {status} at {finished:%Y-%m-%d %H:%M} UTC",
        )
        for name, status, finished in latest
        if name in critical and status in ENDED_BADLY
    ]


def sla_missed(workbench: Workbench, rule: SlaMissedRule) -> list[Firing]:
    with workbench.sessions() as session:
        specs = current_specs(session)
        verdicts = latest_sla_verdicts(session)
    critical = {name for name, spec in specs.items() if spec.get("sla")}
    if rule.pipelines:
        critical &= set(rule.pipelines)
    found = []
    for verdict in verdicts:
        if verdict.pipeline not in critical or verdict.missed_at is None:
            continue
        deadline = _at(verdict.deadline)
        ended = "is still running" if verdict.status in ("queued", "running") else verdict.status
        found.append(
            _firing(
                rule,
                {"pipeline": verdict.pipeline},
                f"critical pipeline {verdict.pipeline} missed its SLA: run {verdict.run_id} "
                f"was not done by its deadline {deadline} ({ended})",
            )
        )
    return found


def disk_space(workbench: Workbench, rule: DiskSpaceRule) -> list[Firing]:
    found = []
    for volume, path in sorted(volumes_of(workbench).items()):
        try:
            usage = shutil.disk_usage(path)
        except OSError:
            continue
        used = 100.0 * (usage.total - usage.free) / usage.total if usage.total else 0.0
        if used > rule.threshold_percent:
            found.append(
                _firing(
                    rule,
                    {"volume": volume},
                    f"the {volume} file system ({path}) is {used:.1f}% full "
                    f"(more than {rule.threshold_percent:g}%)",
                )
            )
    return found


def error_rate(workbench: Workbench, rule: ErrorRateRule, now: datetime) -> list[Firing]:
    since = now - timedelta(seconds=rule.window_seconds)
    with workbench.sessions() as session:
        counts = dict(
            session.execute(
                select(Run.status, func.count())
                .where(Run.finished_at >= since, Run.status.in_(("succeeded", "failed")))
                .group_by(Run.status)
            ).all()
        )
    total = sum(counts.values())
    failed = counts.get("failed", 0)
    if total < rule.min_runs or 100.0 * failed / total <= rule.threshold_percent:
        return []
    return [
        _firing(
            rule,
            {},
            f"{failed} of the {total} pipeline runs that ended in the last "
            f"{rule.window_seconds} s failed (more than {rule.threshold_percent:g}%)",
        )
    ]


def sla_at_risk(workbench: Workbench, rule: SlaAtRiskRule, now: datetime) -> list[Firing]:
    with workbench.sessions() as session:
        risks = at_risk(session, now)
    found = []
    for risk in risks:
        due = f"due {risk.deadline:%Y-%m-%d %H:%M} UTC" if risk.deadline else "deadline unknown"
        found.append(
            _firing(
                rule,
                {"pipeline": risk.pipeline, "upstream": risk.upstream},
                f"the SLA of {risk.pipeline} ({due}) is at risk: upstream pipeline "
                f"{risk.upstream} {risk.reason} at {risk.since:%Y-%m-%d %H:%M} UTC",
            )
        )
    return found


def slow_queries(workbench: Workbench, rule: SlowQueriesRule, now: datetime) -> list[Firing]:
    def slow(end: datetime) -> dict[tuple[str, str], tuple[int, float]]:
        found = {}
        for queries in window(workbench, end - timedelta(seconds=rule.window_seconds), end):
            value = queries.quantile(rule.quantile)
            if queries.count >= rule.min_queries and value > rule.threshold_seconds:
                found[(queries.query_type, queries.data_source)] = (queries.count, value)
        return found

    found = slow(now)
    # Held for for_seconds: the timings are kept, so the windows ending each minute
    # before now are worked out again (no state to lose when the server restarts).
    back = 60
    while found and back <= rule.for_seconds:
        earlier = slow(now - timedelta(seconds=back))
        found = {key: value for key, value in found.items() if key in earlier}
        back += 60
    return [
        _firing(
            rule,
            {"query_type": kind, "data_source": source},
            f"the {rule.quantile * 100:g}th percentile of the {count} {kind} queries on "
            f"{source} in the last {rule.window_seconds} s is about {value:.1f} s "
            f"(more than {rule.threshold_seconds:g} s)",
        )
        for (kind, source), (count, value) in sorted(found.items())
    ]


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "unknown"


def dataset_freshness(
    workbench: Workbench, rule: DatasetFreshnessRule, now: datetime
) -> list[Firing]:
    with workbench.sessions() as session:
        found = freshness(session, now)
    firings = []
    for item in found:
        sla = item.declared
        if item.status not in rule.states or (rule.datasets and sla.dataset not in rule.datasets):
            continue
        labels = {"dataset": sla.dataset, "pipeline": sla.pipeline, "state": item.status}
        if item.status == "at_risk":
            labels["upstream"] = item.upstream or ""
            summary = (
                f"{sla.dataset} ({sla.rule}, due {_at(item.due)}) is at risk: pipeline "
                f"{item.upstream} {item.reason} at {_at(item.since)}"
            )
        else:
            written = f"last written {_at(item.last_write)}" if item.last_write else "never written"
            summary = (
                f"{sla.dataset} missed its freshness SLA ({sla.rule}, due {_at(item.due)}): "
                f"{written}"
            )
        firings.append(_firing(rule, labels, summary))
    return firings


async def service_down(
    workbench: Workbench, rule: ServiceDownRule, watched_for: timedelta
) -> list[Firing]:
    """Raises when Temporal cannot be asked: the rule is then not evaluated (neither
    fired nor resolved), and the engine logs why.

    Nothing fires before the engine has watched for ``for_seconds``: workers started
    with the server may not have polled yet, and a page at every start is noise."""
    if watched_for < timedelta(seconds=rule.for_seconds):
        return []
    queue = workbench.settings.task_queue
    # A worker with nothing to do holds one long poll open for up to ~70 s, and Temporal
    # records a poller's access when the poll starts: a window shorter than that saw
    # idle, healthy workers as gone (for_seconds 30 paged P1 and resolved every minute).
    gone_after = max(timedelta(seconds=rule.for_seconds), POLLER_FRESH_FOR)
    within = rule.answer_within_seconds
    client = await asyncio.wait_for(workbench.temporal_client(), within)
    pollers = await asyncio.wait_for(live_pollers(client, queue, gone_after), within)
    if pollers:
        return []
    return [
        _firing(
            rule,
            {"task_queue": queue},
            f"no worker has polled task queue {queue!r} for {int(gone_after.total_seconds())} s",
        )
    ]


def temporal_silent(
    workbench: Workbench, rule: ServiceDownRule, silent_for: timedelta, reason: str
) -> list[Firing]:
    """ServiceDown while Temporal itself does not answer: no run starts and no step runs,
    whatever the workers do. It fires once Temporal has been silent for ``for_seconds``
    (as the workers' rule: one slow answer is no outage), with the labels of the
    workers' alert, so an outage of both is one alert, resolved when workers poll again."""
    if silent_for < timedelta(seconds=rule.for_seconds):
        return []
    queue = workbench.settings.task_queue
    address = workbench.settings.temporal_address or "(not set)"
    return [
        _firing(
            rule,
            {"task_queue": queue},
            f"Temporal at {address} has not answered for {int(silent_for.total_seconds())} s "
            f"({reason}): no run of task queue {queue!r} starts or goes on",
        )
    ]


async def evaluate(
    workbench: Workbench, rule: Rule, now: datetime | None = None, watched_for: timedelta = NEVER
) -> list[Firing]:
    """What ``rule`` finds now (raises when it cannot be evaluated); ``watched_for`` is
    how long the engine has been evaluating."""
    now = now or datetime.now(UTC)
    if isinstance(rule, PipelineFailedRule):
        return await asyncio.to_thread(pipeline_failed, workbench, rule)
    if isinstance(rule, DiskSpaceRule):
        return await asyncio.to_thread(disk_space, workbench, rule)
    if isinstance(rule, ErrorRateRule):
        return await asyncio.to_thread(error_rate, workbench, rule, now)
    if isinstance(rule, SlaAtRiskRule):
        return await asyncio.to_thread(sla_at_risk, workbench, rule, now)
    if isinstance(rule, SlaMissedRule):
        return await asyncio.to_thread(sla_missed, workbench, rule)
    if isinstance(rule, DatasetFreshnessRule):
        return await asyncio.to_thread(dataset_freshness, workbench, rule, now)
    if isinstance(rule, SlowQueriesRule):
        return await asyncio.to_thread(slow_queries, workbench, rule, now)
    return await service_down(workbench, rule, watched_for)
