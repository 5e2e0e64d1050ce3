"""How long this kernel's ``%sql`` queries take, reported to the workbench in batches.

A query only notes its time in memory (a lock and an append); a background thread sends
what was noted every few seconds, so timing never slows a query down by a request. The
server turns the reports into the ``workbench_query_duration_seconds`` histogram; a lost
report is a gap in a chart, so failures are ignored. A pipeline step's kernel (which may
be stopped as soon as its notebook ends) sends after every query instead, to its worker.
"""

from __future__ import annotations

import atexit
import os
import threading
import urllib.request

from workbench_server.connections.kernel_access import API_URL_ENV
from workbench_server.metrics.queries import KERNEL_QUERY_TIMINGS_PATH, MAX_TIMINGS, query_type

from .api import workbench_request

FLUSH_EVERY_S = 5.0
CONTEXT_ENV = "WORKBENCH_KERNEL_CONTEXT"  # "pipeline" in a step's kernel
SOURCES = frozenset({"postgres", "odoo", "duckdb", "lake", "sqlalchemy"})


class QueryTimer:
    def __init__(self) -> None:
        self.noted: list[dict[str, object]] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.off = False  # True: note nothing (benchmarks/metrics.py compares the two)
        self.immediate = os.environ.get(CONTEXT_ENV) == "pipeline"

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
            if len(self.noted) >= MAX_TIMINGS:
                return  # a report is bounded; past it, a busy loop's timings are dropped
            self.noted.append(item)
        if self.immediate:
            self.flush()
        elif self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="workbench-timings", daemon=True)
            self.thread.start()
            atexit.register(self.flush)

    def _loop(self) -> None:
        while True:
            threading.Event().wait(FLUSH_EVERY_S)
            self.flush()

    def flush(self) -> None:
        with self.lock:
            noted, self.noted = self.noted, []
        if not noted:
            return
        request = workbench_request(KERNEL_QUERY_TIMINGS_PATH, {"queries": noted})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                response.read()
        except OSError:
            pass  # a gap in a chart, nothing more


TIMER = QueryTimer()
