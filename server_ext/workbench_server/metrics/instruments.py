"""What one process counts as it goes: step, notebook and run outcomes, with durations.

These live in the process that does the work (a pipeline worker) and start from zero
when it starts, as Prometheus expects of counters and histograms (``rate()`` and
``increase()`` handle the reset). Totals that must survive restarts and add up over
several workers are read from the metadata DB instead (:mod:`.collectors`).

They sit in a registry of their own, not prometheus_client's global one: that one holds
jupyter-server's own metrics too, and a scrape token opens only the workbench's.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.process_collector import ProcessCollector

from .cgroup import CgroupCollector

# No ``_created`` series beside each counter and histogram: they double the series a
# scrape carries and no rule here reads them.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)
"""This process's workbench metrics (and its CPU, memory and open files, and its
container's)."""

ProcessCollector(registry=REGISTRY)
REGISTRY.register(CgroupCollector())

# Steps take from under a second (declarative) to hours (month-end notebooks).
DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
# %sql queries: interactive, so finer at the low end; SlowQueries fires above 30 s.
QUERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

NOTEBOOK_EXECUTIONS = Counter(
    "workbench_notebook_executions",
    "Notebook executions (pipeline notebook step attempts) by kernel and outcome.",
    ["kernel_type", "status"],
    registry=REGISTRY,
)
QUERY_DURATION = Histogram(
    "workbench_query_duration_seconds",
    "Time of queries run for users, by kind of query and data source.",
    ["query_type", "data_source"],
    buckets=QUERY_BUCKETS,
    registry=REGISTRY,
)
STEP_DURATION = Histogram(
    "workbench_step_duration_seconds",
    "Time of pipeline step attempts run by this worker, by step kind and outcome.",
    ["step_kind", "status"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
RUN_DURATION = Histogram(
    "workbench_pipeline_run_duration_seconds",
    "Time of pipeline runs from start to end, by pipeline and outcome (observed by the "
    "worker that recorded the end).",
    ["pipeline_name", "status"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
OPENLINEAGE_EVENTS = Counter(
    "workbench_openlineage_events",
    "OpenLineage events handed to the configured consumer (sent) or lost (failed: the "
    "consumer refused or was unreachable, or the queue was full).",
    ["status"],
    registry=REGISTRY,
)


def step_finished(kind: str, kernel: str | None, status: str, seconds: float) -> None:
    """Count one step attempt's end (and, for a notebook, one notebook execution).

    An attempt whose end could not be recorded (still ``running`` in its record) counts
    as ``lost``, as the run history will call it."""
    status = "lost" if status == "running" else status
    STEP_DURATION.labels(kind, status).observe(seconds)
    if kernel is not None:
        NOTEBOOK_EXECUTIONS.labels(kernel, status).inc()


def run_finished(pipeline: str, status: str, seconds: float | None) -> None:
    """Observe one pipeline run's duration at its end."""
    if seconds is not None and seconds >= 0:
        RUN_DURATION.labels(pipeline, status).observe(seconds)


def openlineage_event(sent: bool) -> None:
    OPENLINEAGE_EVENTS.labels("sent" if sent else "failed").inc()
