"""Kernel-reported ``%sql`` timings kept in the metadata DB for a while, so the built-in
alert engine can work out their 95th percentile over the last minutes.

The histogram ``workbench_query_duration_seconds`` lives in the memory of each process
that receives timings (the server for notebooks, each worker for its steps) and starts
from zero with it; only Prometheus adds those up. The engine has no Prometheus, so every
process that observes a report also stores it here, as one row per kind of query and
data source with the histogram's bucket counts: a few rows per kernel every few seconds,
whatever the number of queries, read by the engine from any process, kept an hour.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from ..db.models import QueryTimingBatch
from .instruments import QUERY_BUCKETS

if TYPE_CHECKING:
    from ..core import Workbench
    from .queries import QueryTimings

log = logging.getLogger(__name__)

RETENTION = timedelta(hours=1)
PRUNE_EVERY_S = 60.0
_pruned = {"at": 0.0}
_prune_lock = threading.Lock()


def bucket_of(seconds: float) -> int:
    """The index of the histogram bucket ``seconds`` falls in (``le`` bounds; the last
    index is above the largest bound)."""
    return bisect.bisect_left(QUERY_BUCKETS, seconds)


def record(workbench: Workbench, report: QueryTimings, now: datetime | None = None) -> None:
    """Store ``report`` (one row per kind of query and data source); rows older than
    ``RETENTION`` are deleted now and then. Never raises: a timing that could not be
    stored is logged, and the query's kernel is not bothered."""
    if not report.queries:
        return
    now = now or datetime.now(UTC)
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for query in report.queries:
        groups[(query.query_type, query.data_source)].append(query.seconds)
    rows = []
    for (query_type, data_source), seconds in sorted(groups.items()):
        counts = [0] * (len(QUERY_BUCKETS) + 1)
        for value in seconds:
            counts[bucket_of(value)] += 1
        rows.append(
            QueryTimingBatch(
                at=now,
                query_type=query_type,
                data_source=data_source,
                count=len(seconds),
                sum_seconds=sum(seconds),
                buckets=counts,
            )
        )
    try:
        with workbench.sessions.begin() as session:
            session.add_all(rows)
            if _prune_due():
                old = QueryTimingBatch.at < now - RETENTION
                session.execute(delete(QueryTimingBatch).where(old))
    except Exception:
        log.warning("query timings not stored for the alert engine", exc_info=True)


def _prune_due() -> bool:
    with _prune_lock:
        if time.monotonic() - _pruned["at"] < PRUNE_EVERY_S:
            return False
        _pruned["at"] = time.monotonic()
        return True


@dataclass(frozen=True)
class QueryWindow:
    """The queries of one kind and data source in a window of time."""

    query_type: str
    data_source: str
    count: int
    sum_seconds: float
    buckets: tuple[int, ...]

    def quantile(self, q: float) -> float:
        """The ``q`` quantile as Prometheus' ``histogram_quantile`` estimates it from the
        same buckets: linear within the bucket it falls in; the largest bound when it
        falls above it."""
        rank = q * self.count
        below = 0
        for i, count in enumerate(self.buckets):
            if count and below + count >= rank:
                if i == len(QUERY_BUCKETS):
                    return QUERY_BUCKETS[-1]
                low = QUERY_BUCKETS[i - 1] if i else 0.0
                return low + (QUERY_BUCKETS[i] - low) * (rank - below) / count
            below += count
        return 0.0


def window(
    workbench: Workbench, since: datetime, until: datetime | None = None
) -> list[QueryWindow]:
    """The queries reported from ``since`` to ``until`` (now), summed by kind and data
    source."""
    sums: dict[tuple[str, str], list] = {}
    query = select(QueryTimingBatch).where(QueryTimingBatch.at >= since)
    if until is not None:
        query = query.where(QueryTimingBatch.at <= until)
    with workbench.sessions() as session:
        for row in session.scalars(query):
            key = (row.query_type, row.data_source)
            total = sums.setdefault(key, [0, 0.0, [0] * (len(QUERY_BUCKETS) + 1)])
            total[0] += row.count
            total[1] += row.sum_seconds
            for i, count in enumerate(row.buckets[: len(QUERY_BUCKETS) + 1]):
                total[2][i] += count
    return [
        QueryWindow(kind, source, count, seconds, tuple(buckets))
        for (kind, source), (count, seconds, buckets) in sorted(sums.items())
    ]
