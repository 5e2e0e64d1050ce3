"""How long this kernel's ``%sql`` queries take, reported to the workbench in batches.

A query only notes its time in memory (a lock and an append); a background thread sends
what was noted every few seconds, so timing never slows a query down by a request. The
server turns the reports into the ``workbench_query_duration_seconds`` histogram; a lost
report is a gap in a chart, so failures are ignored. A pipeline step's kernel (which may
be stopped as soon as its notebook ends) sends after every query instead, to its worker.
"""

from __future__ import annotations

import os

from workbench_server.connections.kernel_access import API_URL_ENV
from workbench_server.metrics.queries import KERNEL_QUERY_TIMINGS_PATH, MAX_TIMINGS, query_type

from .reporting import BatchedReporter

SOURCES = frozenset({"postgres", "odoo", "duckdb", "lake", "sqlalchemy"})


class QueryTimer(BatchedReporter):
    name = "workbench-timings"

    def __init__(self) -> None:
        super().__init__()
        self.noted_times: list[dict[str, object]] = []
        self.off = False  # True: note nothing (benchmarks/metrics.py compares the two)

    def note(self, sql: str, source: str | None, seconds: float) -> None:
        """One query's time; ``source`` is its connection's kind (``lake`` for the lake)."""
        if self.off or not os.environ.get(API_URL_ENV):
            return
        item = {
            "query_type": query_type(sql),
            "data_source": source if source in SOURCES else "other",
            "seconds": round(max(seconds, 0.0), 6),
        }
        with self.lock:
            if len(self.noted_times) >= MAX_TIMINGS:
                return  # a report is bounded; past it, a busy loop's timings are dropped
            self.noted_times.append(item)
        self.noted()

    def take(self) -> list[tuple[str, object]]:
        noted, self.noted_times = self.noted_times, []
        return [(KERNEL_QUERY_TIMINGS_PATH, {"queries": noted})] if noted else []


TIMER = QueryTimer()
