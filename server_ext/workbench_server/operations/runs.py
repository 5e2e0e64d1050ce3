"""Success rates, durations and their trend, from the run history of a time window.

The window is whole buckets (hours for a window of up to two days, else UTC days) ending
with the current one, so the totals are the sum of the trend's bars. A run counts in the
bucket it ended in. The success rate is succeeded / (succeeded + failed), as the
HighErrorRate rule counts: a cancelled run is someone's choice, not a failure, and is
shown on its own. A duration is a run's start to its end (a run cancelled before it
started has none).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, select

from ..db.models import Pipeline, Run
from ..errors import InvalidInputError
from ..sla.risk import GOING, current_specs, latest_ended

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ENDED = ("succeeded", "failed", "cancelled")
MAX_DAYS = 90
WINDOWS = re.compile(r"([1-9][0-9]?)d")
Bucket = Literal["hour", "day"]


class Window(BaseModel):
    """``days`` whole buckets back from now: ``start`` is the first bucket's start."""

    label: str
    bucket: Bucket
    start: datetime
    buckets: list[datetime]

    @classmethod
    def parse(cls, raw: str, now: datetime | None = None) -> Window:
        """``1d`` .. ``90d``; anything else is refused with what to give."""
        match = WINDOWS.fullmatch(raw)
        if match is None or int(match.group(1)) > MAX_DAYS:
            raise InvalidInputError(f"window: a number of days from 1d to {MAX_DAYS}d, e.g. 7d")
        days = int(match.group(1))
        now = (now or datetime.now(UTC)).astimezone(UTC)
        if days <= 2:
            step, count = timedelta(hours=1), 24 * days
            last = now.replace(minute=0, second=0, microsecond=0)
        else:
            step, count = timedelta(days=1), days
            last = now.replace(hour=0, minute=0, second=0, microsecond=0)
        starts = [last - step * i for i in reversed(range(count))]
        return cls(
            label=raw, bucket="hour" if days <= 2 else "day", start=starts[0], buckets=starts
        )

    def index(self, moment: datetime) -> int:
        """The bucket ``moment`` falls in (moments before the window are never asked)."""
        step = 3600 if self.bucket == "hour" else 86400
        return min(int((moment - self.start).total_seconds() // step), len(self.buckets) - 1)


class Counts(BaseModel):
    """Runs that ended, by outcome, and their durations' percentiles (seconds)."""

    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    success_rate: float | None = None
    """succeeded / (succeeded + failed); None when neither happened."""
    p50_s: float | None = None
    p95_s: float | None = None
    max_s: float | None = None


class BucketOut(Counts):
    """One bar of the trend: the runs that ended from ``start`` for one bucket."""

    start: datetime


class SlaOut(BaseModel):
    """A pipeline's SLA as its current version declares it."""

    finish_by: str | None
    max_duration: str | None
    timezone: str


class PipelineOps(Counts):
    """One pipeline over the window, with its state now."""

    pipeline: str
    active: int
    """Runs queued or running now."""
    last_status: str | None
    last_finished_at: datetime | None
    sla: SlaOut | None
    sla_misses: int
    """Runs that missed the SLA deadline in the window."""
    trend_p50_s: list[float | None]
    """The median duration in each bucket of the window (None: no run ended there)."""


class RunFigures(BaseModel):
    window: str
    bucket: Bucket
    start: datetime
    totals: Counts
    active: int
    sla_misses: int
    trend: list[BucketOut]
    pipelines: list[PipelineOps]


def percentile(ordered: list[float], q: float) -> float | None:
    """The ``q`` percentile (0-100) of sorted values, interpolated between the closest
    ranks (as numpy's default); None for no values."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _Tally:
    def __init__(self) -> None:
        self.status: dict[str, int] = defaultdict(int)
        self.durations: list[float] = []

    def add(self, status: str, seconds: float | None) -> None:
        self.status[status] += 1
        if seconds is not None:
            self.durations.append(seconds)

    def counts(self) -> dict[str, Any]:
        ok, bad = self.status["succeeded"], self.status["failed"]
        ordered = sorted(self.durations)
        return {
            "runs": sum(self.status.values()),
            "succeeded": ok,
            "failed": bad,
            "cancelled": self.status["cancelled"],
            "success_rate": ok / (ok + bad) if ok + bad else None,
            "p50_s": percentile(ordered, 50),
            "p95_s": percentile(ordered, 95),
            "max_s": ordered[-1] if ordered else None,
        }


def _sla(spec: dict[str, Any] | None) -> SlaOut | None:
    sla = (spec or {}).get("sla")
    if not sla:
        return None
    return SlaOut(
        finish_by=sla.get("finish_by"),
        max_duration=sla.get("max_duration"),
        timezone=((spec or {}).get("schedule") or {}).get("timezone") or "UTC",
    )


def run_figures(session: Session, window: Window, visible: dict[int, str] | None) -> RunFigures:
    """The window's figures of the pipelines in ``visible`` (ids to names; None: all)."""

    def only_visible(query: Any) -> Any:
        return query if visible is None else query.where(Pipeline.id.in_(list(visible)))

    names = list(session.scalars(only_visible(select(Pipeline.name).order_by(Pipeline.name))))
    ended = session.execute(
        only_visible(
            select(Pipeline.name, Run.status, Run.started_at, Run.finished_at)
            .join(Run, Run.pipeline_id == Pipeline.id)
            .where(Run.status.in_(ENDED), Run.finished_at >= window.start)
        )
    ).all()
    active = dict(
        session.execute(
            only_visible(
                select(Pipeline.name, func.count())
                .join(Run, Run.pipeline_id == Pipeline.id)
                .where(Run.status.in_(GOING))
                .group_by(Pipeline.name)
            )
        ).all()
    )
    misses = dict(
        session.execute(
            only_visible(
                select(Pipeline.name, func.count())
                .join(Run, Run.pipeline_id == Pipeline.id)
                .where(Run.sla_missed_at >= window.start)
                .group_by(Pipeline.name)
            )
        ).all()
    )
    shown = set(names)
    latest = {name: (status, at) for name, status, at in latest_ended(session) if name in shown}
    specs = current_specs(session)

    total, by_bucket = _Tally(), [_Tally() for _ in window.buckets]
    by_pipeline: dict[str, _Tally] = defaultdict(_Tally)
    pipeline_buckets: dict[str, list[list[float]]] = defaultdict(
        lambda: [[] for _ in window.buckets]
    )
    for name, status, started, finished in ended:
        seconds = (finished - started).total_seconds() if started is not None else None
        if seconds is not None and seconds < 0:
            seconds = None  # clocks of two machines: not a duration to show
        slot = window.index(finished)
        for tally in (total, by_bucket[slot], by_pipeline[name]):
            tally.add(status, seconds)
        if seconds is not None:
            pipeline_buckets[name][slot].append(seconds)

    pipelines = []
    for name in names:
        status, finished = latest.get(name, (None, None))
        pipelines.append(
            PipelineOps(
                pipeline=name,
                **by_pipeline[name].counts(),
                active=active.get(name, 0),
                last_status=status,
                last_finished_at=finished,
                sla=_sla(specs.get(name)),
                sla_misses=misses.get(name, 0),
                trend_p50_s=[percentile(sorted(b), 50) for b in pipeline_buckets[name]],
            )
        )
    return RunFigures(
        window=window.label,
        bucket=window.bucket,
        start=window.start,
        totals=Counts(**total.counts()),
        active=sum(active.values()),
        sla_misses=sum(misses.values()),
        trend=[
            BucketOut(start=start, **tally.counts())
            for start, tally in zip(window.buckets, by_bucket, strict=True)
        ],
        pipelines=pipelines,
    )
