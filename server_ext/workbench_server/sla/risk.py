"""Which pipelines' SLAs are at risk because a pipeline upstream of them is in trouble.

Pipeline A is upstream of B when a dataset A writes is one B reads: the datasets the
steps of their current versions declare (``inputs``, ``outputs``), those lineage
recorded for their steps' runs (jobs named ``pipeline.step``) and the lake table
versions their runs read and wrote, followed transitively.

An upstream pipeline is in trouble when its latest ended run failed or was cancelled
(and none has succeeded since), or when a run of it is still going past its own SLA
deadline. A downstream pipeline with an SLA is then at risk, from the moment the trouble
began, until it succeeds again or its deadline passes (a passed deadline is a miss, which
the run history reports as such): its deadline is that of its run in progress, else the
next ``finish_by`` of its SLA, else unknown (an SLA of ``max_duration`` only, with no run
yet), which still counts as at risk: it will run on data that is not there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import func, select

from ..db.models import LineageDataset, LineageEdge, Pipeline, PipelineVersion, Run, RunTable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..core import Workbench

ENDED_BADLY = ("failed", "cancelled")
GOING = ("queued", "running")


@dataclass(frozen=True)
class Trouble:
    """Why a pipeline cannot be relied on now, and since when."""

    reason: str  # "failed" (its latest ended run) or "late" (a run past its deadline)
    since: datetime


@dataclass(frozen=True)
class AtRisk:
    """A pipeline whose SLA an upstream pipeline's trouble puts at risk."""

    pipeline: str
    upstream: str
    reason: str
    since: datetime
    deadline: datetime | None


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def datasets_of(session: Session) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(reads, writes): the datasets (``namespace.name``) each pipeline reads and writes."""
    reads: dict[str, set[str]] = defaultdict(set)
    writes: dict[str, set[str]] = defaultdict(set)
    for name, spec in session.execute(
        select(Pipeline.name, PipelineVersion.spec).join(
            PipelineVersion,
            (PipelineVersion.pipeline_id == Pipeline.id)
            & (PipelineVersion.version == Pipeline.current_version),
        )
    ):
        for step in (spec or {}).get("steps") or ():
            reads[name].update(step.get("inputs") or ())
            writes[name].update(step.get("outputs") or ())
    names = set(session.scalars(select(Pipeline.name)))
    source, target = LineageDataset.__table__.alias("s"), LineageDataset.__table__.alias("t")
    for job, s_ns, s_name, t_ns, t_name in session.execute(
        select(
            LineageEdge.job, source.c.namespace, source.c.name, target.c.namespace, target.c.name
        )
        .join(source, source.c.id == LineageEdge.source_id)
        .join(target, target.c.id == LineageEdge.target_id)
        .where(LineageEdge.job.like("%.%"))
        .distinct()
    ):
        pipeline = job.partition(".")[0]
        if pipeline in names:
            reads[pipeline].add(f"{s_ns}.{s_name}")
            writes[pipeline].add(f"{t_ns}.{t_name}")
    # The lake tables runs read and wrote (declarative steps): a step that writes a query
    # of no table (no lineage edge) still writes its target.
    for name, lake, table, access in session.execute(
        select(Pipeline.name, RunTable.lake, RunTable.table_name, RunTable.access)
        .join(Run, Run.id == RunTable.run_id)
        .join(Pipeline, Pipeline.id == Run.pipeline_id)
        .distinct()
    ):
        (writes if access == "write" else reads)[name].add(f"{lake}.{table}")
    return reads, writes


def upstream_of(reads: dict[str, set[str]], writes: dict[str, set[str]]) -> dict[str, set[str]]:
    """Every pipeline upstream of each pipeline, transitively (never itself)."""
    direct = {
        b: {a for a, made in writes.items() if a != b and made & needed}
        for b, needed in reads.items()
    }
    closed: dict[str, set[str]] = {}
    for pipeline in direct:
        seen: set[str] = set()
        todo = list(direct[pipeline])
        while todo:
            other = todo.pop()
            if other not in seen and other != pipeline:
                seen.add(other)
                todo.extend(direct.get(other, ()))
        closed[pipeline] = seen
    return closed


def current_specs(session: Session) -> dict[str, dict[str, Any]]:
    """Each pipeline's spec as its current version has it, by name."""
    return dict(
        session.execute(
            select(Pipeline.name, PipelineVersion.spec).join(
                PipelineVersion,
                (PipelineVersion.pipeline_id == Pipeline.id)
                & (PipelineVersion.version == Pipeline.current_version),
            )
        ).all()
    )


def latest_ended(session: Session) -> list[tuple[str, str, datetime]]:
    """(pipeline, status, finished_at) of each pipeline's latest ended run: one row each
    (a window function: a join on the latest end time returns every run that ties)."""
    ranked = (
        select(
            Run.pipeline_id,
            Run.status,
            Run.finished_at,
            func.row_number()
            .over(partition_by=Run.pipeline_id, order_by=Run.finished_at.desc())
            .label("rank"),
        )
        .where(Run.status.in_(("succeeded", *ENDED_BADLY)))
        .subquery()
    )
    return [
        (name, status, _aware(finished))
        for name, status, finished in session.execute(
            select(Pipeline.name, ranked.c.status, ranked.c.finished_at)
            .join(ranked, ranked.c.pipeline_id == Pipeline.id)
            .where(ranked.c.rank == 1)
        )
    ]


@dataclass(frozen=True)
class SlaVerdict:
    """The latest run of a pipeline that tells whether it keeps its SLA."""

    pipeline: str
    run_id: str
    status: str
    deadline: datetime | None
    missed_at: datetime | None


def latest_sla_verdicts(session: Session) -> list[SlaVerdict]:
    """Each pipeline's latest run (by start) with a verdict on its SLA: one that missed
    its deadline (flagged while it ran, whatever its end), or one that succeeded without
    missing it. A run that failed in time, or is going in time, tells nothing yet."""
    started = func.coalesce(Run.started_at, Run.created_at)
    ranked = (
        select(
            Run.pipeline_id,
            Run.id,
            Run.status,
            Run.sla_deadline,
            Run.sla_missed_at,
            func.row_number()
            .over(partition_by=Run.pipeline_id, order_by=(started.desc(), Run.id.desc()))
            .label("rank"),
        )
        .where(Run.sla_missed_at.is_not(None) | (Run.status == "succeeded"))
        .subquery()
    )
    rows = session.execute(
        select(
            Pipeline.name,
            ranked.c.id,
            ranked.c.status,
            ranked.c.sla_deadline,
            ranked.c.sla_missed_at,
        )
        .join(ranked, ranked.c.pipeline_id == Pipeline.id)
        .where(ranked.c.rank == 1)
    )
    return [
        SlaVerdict(
            name,
            run_id,
            status,
            _aware(deadline) if deadline else None,
            _aware(missed) if missed else None,
        )
        for name, run_id, status, deadline, missed in rows
    ]


def troubles(session: Session, now: datetime) -> dict[str, Trouble]:
    """Pipelines in trouble now: failed last, or running past their deadline."""
    found: dict[str, Trouble] = {}
    for name, status, finished in latest_ended(session):
        if status in ENDED_BADLY:
            found[name] = Trouble("failed", finished)
    for name, deadline in session.execute(
        select(Pipeline.name, Run.sla_deadline)
        .join(Run, Run.pipeline_id == Pipeline.id)
        .where(Run.status.in_(GOING), Run.sla_deadline.is_not(None))
    ):
        deadline = _aware(deadline)
        if deadline < now and name not in found:
            found[name] = Trouble("late", deadline)
    return found


def _deadline(spec: dict[str, Any], going: datetime | None, now: datetime) -> datetime | None:
    """The deadline ahead of a pipeline: its run's, else its next ``finish_by``."""
    if going is not None:
        return going
    if not (spec.get("sla") or {}).get("finish_by"):
        return None
    from workbench_pipelines.spec import PipelineSpec

    from ..pipelines.runs import sla_deadline

    parsed = PipelineSpec.model_validate(spec)
    # The next finish_by from now: a max_duration counts from a start there is not yet.
    sla = parsed.sla.model_copy(update={"max_duration": None})
    return sla_deadline(parsed.model_copy(update={"sla": sla}), now)


def at_risk(session: Session, now: datetime | None = None) -> list[AtRisk]:
    """Every (pipeline with an SLA, upstream pipeline in trouble) pair at risk now."""
    now = now or datetime.now(UTC)
    trouble = troubles(session, now)
    if not trouble:
        return []  # the usual case: no need to read the lineage graph
    reads, writes = datasets_of(session)
    upstream = upstream_of(reads, writes)
    specs = current_specs(session)
    succeeded = dict(
        session.execute(
            select(Pipeline.name, func.max(Run.finished_at))
            .join(Run, Run.pipeline_id == Pipeline.id)
            .where(Run.status == "succeeded")
            .group_by(Pipeline.name)
        ).all()
    )
    going = dict(
        session.execute(
            select(Pipeline.name, func.min(Run.sla_deadline))
            .join(Run, Run.pipeline_id == Pipeline.id)
            .where(Run.status.in_(GOING))
            .group_by(Pipeline.name)
        ).all()
    )
    found = []
    for pipeline, spec in sorted(specs.items()):
        if not (spec or {}).get("sla"):
            continue
        for other in sorted(upstream.get(pipeline, ())):
            problem = trouble.get(other)
            if problem is None:
                continue
            done = _aware(succeeded.get(pipeline))
            if done is not None and done >= problem.since:
                continue  # it has succeeded since: this round is safe
            deadline = _deadline(spec, _aware(going.get(pipeline)), now)
            if deadline is not None and deadline <= now:
                continue  # missed, not at risk: the run history says so
            found.append(AtRisk(pipeline, other, problem.reason, problem.since, deadline))
    return found


class SlaRiskOut(BaseModel):
    """A pipeline at risk, as a user may see it: an upstream pipeline they may not see is
    not named."""

    pipeline: str
    upstream: str | None
    reason: str
    since: datetime
    deadline: datetime | None


def visible_risks(workbench: Workbench, visible: dict[int, str] | None) -> list[SlaRiskOut]:
    """The pipelines at risk now among those named in ``visible`` (None: all)."""
    with workbench.sessions() as session:
        found = at_risk(session)
    names = None if visible is None else set(visible.values())
    return [
        SlaRiskOut(
            pipeline=r.pipeline,
            upstream=r.upstream if names is None or r.upstream in names else None,
            reason=r.reason,
            since=r.since,
            deadline=r.deadline,
        )
        for r in found
        if names is None or r.pipeline in names
    ]
