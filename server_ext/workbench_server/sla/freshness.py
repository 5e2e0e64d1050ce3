"""Freshness SLAs of datasets: how old each is, whether it is ok, at risk or missed.

A pipeline declares the datasets it keeps fresh in its YAML (``freshness:``): no older
than ``max_age``, or written by ``updated_by`` (HH:MM in a time zone) on given days. A
dataset was written when

- a run's step wrote a version of it (``run_tables``: the lake records each version a
  run made),
- a run of a pipeline that writes it (its steps' ``outputs``, the lineage its runs
  recorded, or the pipeline that declares the SLA) succeeded,
- lineage last saw a statement write it (a notebook's ``%sql``), or
- its Delta log says so (the catalog's ``last_write``, from the latest scan);

the latest of these is its last write. The first two keep every write, so misses are
counted over the history (since the pipeline's versions have declared the SLA); the
other two only add the latest.

Status, for ``max_age``: missed once the last write is older than it (the SLA's start
counts as a write, so a new SLA is not missed at once); for ``updated_by``: missed while
no write came after the due moment before the last one (its window), ok once a write came
in the window of the next one. In between, the dataset is at risk when a pipeline that
writes it, or any pipeline upstream of one that does (by the datasets they share), is in
trouble (its latest run failed, or a run of it is past its deadline) since the last
write: the next refresh will not come, or not on time.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import func, select

from ..db.models import (
    CatalogTable,
    Connection,
    LineageDataset,
    LineageEdge,
    Pipeline,
    PipelineVersion,
    Run,
    RunTable,
)
from .risk import Trouble, current_specs, datasets_of, troubles, upstream_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..core import Workbench

Status = Literal["ok", "at_risk", "missed"]
STATUSES: tuple[Status, ...] = ("ok", "at_risk", "missed")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOOKBACK = timedelta(days=400)
"""Misses are counted over at most this much history (and writes read back as far)."""


@dataclass(frozen=True)
class Declared:
    """One dataset's freshness SLA, as a pipeline's current version declares it."""

    pipeline: str
    dataset: str  # namespace.name, e.g. lake.gold.trial_balance
    max_age: timedelta | None
    updated_by: time | None
    timezone: str
    days: frozenset[int]  # 0 = Monday
    since: datetime  # when the pipeline's versions started declaring it

    @property
    def rule(self) -> str:
        if self.max_age is not None:
            return f"no older than {_duration(self.max_age)}"
        assert self.updated_by is not None
        days = "daily" if len(self.days) == 7 else ",".join(DAY_NAMES[d] for d in sorted(self.days))
        if self.days == frozenset(range(5)):
            days = "weekdays"
        return f"updated by {self.updated_by:%H:%M} {self.timezone} ({days})"


@dataclass(frozen=True)
class Freshness:
    """Where a dataset stands against its SLA now."""

    declared: Declared
    last_write: datetime | None
    status: Status
    due: datetime | None  # the deadline ahead (ok, at risk) or the one missed
    misses: int
    reason: str | None = None  # at risk: failed | late; missed: stale | never written
    upstream: str | None = None  # at risk: the pipeline in trouble
    since: datetime | None = None  # at risk: since when

    def age(self, now: datetime) -> float | None:
        return None if self.last_write is None else (now - self.last_write).total_seconds()


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _full_name(dataset: str) -> str:
    """``gold.x`` is the default lake's ``lake.gold.x``, as the spec reads it."""
    return f"lake.{dataset}" if dataset.count(".") == 1 else dataset


def _duration(delay: timedelta) -> str:
    from workbench_pipelines.spec import format_duration

    return format_duration(delay)


# --- what is declared -------------------------------------------------------------------


def declared(session: Session) -> list[Declared]:
    """Every freshness SLA of the pipelines' current versions."""
    from workbench_pipelines.spec import FreshnessSpec

    keeping = {
        name: spec for name, spec in current_specs(session).items() if (spec or {}).get("freshness")
    }
    if not keeping:
        return []  # the usual case: one read of the current specs, no history
    versions: dict[str, dict[int, tuple[datetime, dict[str, Any]]]] = defaultdict(dict)
    current: dict[str, int] = {}
    for name, now_at, version, deployed, spec in session.execute(
        select(
            Pipeline.name,
            Pipeline.current_version,
            PipelineVersion.version,
            PipelineVersion.deployed_at,
            PipelineVersion.spec,
        )
        .join(PipelineVersion, PipelineVersion.pipeline_id == Pipeline.id)
        .where(
            Pipeline.name.in_(list(keeping)), PipelineVersion.version <= Pipeline.current_version
        )
    ):
        current[name] = now_at
        versions[name][version] = (_aware(deployed), spec or {})
    found = []
    for name, by_version in sorted(versions.items()):
        deployed, spec = by_version[current[name]]
        timezone = (spec.get("schedule") or {}).get("timezone") or "UTC"
        for raw in spec.get("freshness") or ():
            entry = FreshnessSpec.model_validate(raw)
            since = deployed
            # Back through the versions that declared it too: a redeploy keeps its history.
            for version in range(current[name] - 1, 0, -1):
                earlier = by_version.get(version)
                if earlier is None or entry.dataset not in {
                    _full_name(f.get("dataset", "")) for f in earlier[1].get("freshness") or ()
                }:
                    break
                since = earlier[0]
            found.append(
                Declared(
                    pipeline=name,
                    dataset=entry.dataset,
                    max_age=entry.max_age,
                    updated_by=entry.updated_by,
                    timezone=entry.timezone or timezone,
                    days=frozenset(DAY_NAMES.index(d) for d in entry.days),
                    since=since,
                )
            )
    return found


# --- when datasets were written ---------------------------------------------------------


def writes(
    session: Session, datasets: set[str], producers: dict[str, set[str]], now: datetime
) -> dict[str, list[datetime]]:
    """Every known write of each dataset since ``LOOKBACK``, sorted; ``producers`` are
    the pipelines that write each."""
    found: dict[str, set[datetime]] = {d: set() for d in datasets}
    start = now - LOOKBACK
    names = {d.split(".", 1)[1] for d in datasets}
    for lake, table, at in session.execute(
        select(RunTable.lake, RunTable.table_name, RunTable.recorded_at).where(
            RunTable.access == "write",
            RunTable.table_name.in_(names),
            RunTable.recorded_at >= start,
        )
    ):
        if f"{lake}.{table}" in found:
            found[f"{lake}.{table}"].add(_aware(at))
    by_pipeline: dict[str, set[str]] = defaultdict(set)
    for dataset, pipelines in producers.items():
        for pipeline in pipelines:
            by_pipeline[pipeline].add(dataset)
    if by_pipeline:
        for name, at in session.execute(
            select(Pipeline.name, Run.finished_at)
            .join(Run, Run.pipeline_id == Pipeline.id)
            .where(
                Pipeline.name.in_(list(by_pipeline)),
                Run.status == "succeeded",
                Run.finished_at >= start,
            )
        ):
            for dataset in by_pipeline[name]:
                found[dataset].add(_aware(at))
    for namespace, name, seen in session.execute(
        select(LineageDataset.namespace, LineageDataset.name, func.max(LineageEdge.last_seen))
        .join(LineageEdge, LineageEdge.target_id == LineageDataset.id)
        .where(LineageDataset.name.in_(names))
        .group_by(LineageDataset.namespace, LineageDataset.name)
    ):
        if f"{namespace}.{name}" in found and seen is not None:
            found[f"{namespace}.{name}"].add(_aware(seen))
    schemas = {n.split(".", 1)[0] for n in names if "." in n}
    for connection, schema, table, extra in session.execute(
        select(Connection.name, CatalogTable.schema_name, CatalogTable.name, CatalogTable.extra)
        .join(Connection, Connection.id == CatalogTable.connection_id)
        .where(CatalogTable.schema_name.in_(schemas), CatalogTable.dropped_at.is_(None))
    ):
        dataset = f"{connection}.{schema}.{table}"
        last = (extra or {}).get("last_write")
        if dataset in found and isinstance(last, str):
            try:
                found[dataset].add(_aware(datetime.fromisoformat(last)))
            except ValueError:
                continue
    return {d: sorted(t for t in moments if t <= now) for d, moments in found.items()}


# --- the status -------------------------------------------------------------------------


def due_moments(sla: Declared, after: datetime, until: datetime) -> Iterator[datetime]:
    """The due moments of an ``updated_by`` SLA in (``after``, ``until``], in order."""
    assert sla.updated_by is not None
    zone = ZoneInfo(sla.timezone)
    day: date = after.astimezone(zone).date()
    last = until.astimezone(zone).date()
    while day <= last:
        if day.weekday() in sla.days:
            moment = datetime.combine(day, sla.updated_by, zone).astimezone(UTC)
            if after < moment <= until:
                yield moment
        day += timedelta(days=1)


def next_due(sla: Declared, now: datetime) -> datetime:
    """The first due moment after ``now`` (days are checked a fortnight ahead)."""
    return next(due_moments(sla, now, now + timedelta(days=15)))


def _written_in(history: list[datetime], start: datetime, end: datetime) -> bool:
    """Whether a write of ``history`` (sorted) lies in (``start``, ``end``]."""
    i = bisect.bisect_right(history, start)
    return i < len(history) and history[i] <= end


def _previous_due(sla: Declared, moment: datetime) -> datetime | None:
    """The last due moment at or before ``moment`` (a fortnight back at most)."""
    found = list(due_moments(sla, moment - timedelta(days=15), moment))
    return found[-1] if found else None


def assess(
    sla: Declared,
    history: list[datetime],
    now: datetime,
    trouble: tuple[str, Trouble] | None = None,
) -> Freshness:
    """``sla``'s status now, given every write (sorted) and the first pipeline in trouble
    among those that write the dataset or feed one that does.

    Counting starts when the SLA was declared (at most ``LOOKBACK`` ago); a write from
    before then still counts as the dataset's state at that moment."""
    last = history[-1] if history else None
    start = max(sla.since, now - LOOKBACK)
    mark = max(last, start) if last is not None else start
    risk = trouble if trouble is not None and trouble[1].since >= mark else None
    never = "stale" if last is not None else "never written"
    if sla.max_age is not None:
        earlier = [t for t in history if t <= start]
        points = [earlier[-1] if earlier else start, *(t for t in history if t > start), now]
        misses = sum(1 for a, b in pairwise(points) if b - a > sla.max_age)
        due = points[-2] + sla.max_age
        if now > due:
            return Freshness(sla, last, "missed", due, misses, never)
    else:
        before = _previous_due(sla, start) or start
        dues = list(due_moments(sla, start, now))
        misses, window = 0, before
        for moment in dues:
            misses += not _written_in(history, window, moment)
            window = moment
        if dues:
            window = dues[-2] if len(dues) > 1 else before
            if not _written_in(history, window, now):
                return Freshness(sla, last, "missed", dues[-1], misses, never)
        if _written_in(history, dues[-1] if dues else before, now):
            risk = None  # the write the next due moment needs is there already
        due = next_due(sla, now)
    if risk is None:
        return Freshness(sla, last, "ok", due, misses)
    upstream, problem = risk
    return Freshness(sla, last, "at_risk", due, misses, problem.reason, upstream, problem.since)


def freshness(session: Session, now: datetime | None = None) -> list[Freshness]:
    """Every declared dataset SLA and where it stands now."""
    now = now or datetime.now(UTC)
    slas = declared(session)
    if not slas:
        return []
    reads, made = datasets_of(session)
    producers: dict[str, set[str]] = defaultdict(set)
    for pipeline, outputs in made.items():
        for dataset in outputs:
            producers[dataset].add(pipeline)
    for sla in slas:
        producers[sla.dataset].add(sla.pipeline)
    datasets = {sla.dataset for sla in slas}
    history = writes(session, datasets, {d: producers[d] for d in datasets}, now)
    trouble = troubles(session, now)
    upstream = upstream_of(reads, made) if trouble else {}
    found = []
    for sla in slas:
        feeding = sorted(producers[sla.dataset])
        feeding += sorted(
            {u for p in feeding for u in upstream.get(p, ())} - set(feeding)
        )  # the producers first: their own trouble is the nearest cause
        first = next(((p, trouble[p]) for p in feeding if p in trouble), None)
        found.append(assess(sla, history[sla.dataset], now, first))
    return found


# --- as the API shows it ----------------------------------------------------------------


class DatasetSlaOut(BaseModel):
    """A dataset's freshness SLA as a user may see it (an upstream pipeline they may not
    see is not named)."""

    dataset: str
    pipeline: str
    rule: str
    max_age_seconds: float | None
    updated_by: str | None
    timezone: str | None
    status: Status
    last_write: datetime | None
    age_seconds: float | None
    due: datetime | None
    misses: int
    reason: str | None
    upstream: str | None
    since: datetime | None


def visible_freshness(
    workbench: Workbench, visible: dict[int, str] | None, status: Status | None = None
) -> list[DatasetSlaOut]:
    """The dataset SLAs of the pipelines named in ``visible`` (None: all)."""
    now = datetime.now(UTC)
    with workbench.sessions() as session:
        found = freshness(session, now)
    names = None if visible is None else set(visible.values())
    return [
        DatasetSlaOut(
            dataset=f.declared.dataset,
            pipeline=f.declared.pipeline,
            rule=f.declared.rule,
            max_age_seconds=f.declared.max_age.total_seconds() if f.declared.max_age else None,
            updated_by=f"{f.declared.updated_by:%H:%M}" if f.declared.updated_by else None,
            timezone=f.declared.timezone if f.declared.updated_by else None,
            status=f.status,
            last_write=f.last_write,
            age_seconds=f.age(now),
            due=f.due,
            misses=f.misses,
            reason=f.reason,
            upstream=f.upstream if names is None or f.upstream in names else None,
            since=f.since,
        )
        for f in found
        if (names is None or f.declared.pipeline in names) and status in (None, f.status)
    ]
