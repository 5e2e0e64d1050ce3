"""``%sql`` timings that kernels report, for ``workbench_query_duration_seconds``.

A kernel times each query itself and sends what it timed in batches (every few seconds,
off the query's path: :mod:`workbench_kernels.timings`); the server that started it (in
team mode, the hub's workbench service, through the user's server) observes them. Labels
are kept to a known, small set whatever a kernel sends: a query's first keyword among
those below, and the kind of its data source, not the connection's name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

KERNEL_QUERY_TIMINGS_PATH = "/workbench/api/kernel/query-timings"
MAX_TIMINGS = 10_000
"""Timings in one report; a kernel sends at most this many per flush (and drops more)."""

QueryType = Literal[
    "select", "insert", "update", "delete", "merge", "create", "drop", "alter", "copy",
    "show", "describe", "explain", "other",
]  # fmt: skip
DataSource = Literal["postgres", "odoo", "duckdb", "lake", "sqlalchemy", "other"]

QUERY_TYPES: frozenset[str] = frozenset(QueryType.__args__)


def query_type(sql: str) -> str:
    """The kind of a query by its first keyword (``WITH`` counts as a ``select``)."""
    word = sql.lstrip(" \t\r\n(").split(None, 1)[0].lower() if sql.strip() else ""
    if word in ("with", "from", "values", "table", "pivot", "summarize"):
        return "select"
    if word in ("desc",):
        return "describe"
    return word if word in QUERY_TYPES else "other"


class QueryTiming(BaseModel):
    query_type: QueryType
    data_source: DataSource
    seconds: float = Field(ge=0, le=7 * 86400)


class QueryTimings(BaseModel):
    """One kernel's report: the queries it ran since the last one."""

    queries: list[QueryTiming] = Field(max_length=MAX_TIMINGS)


def observe(report: QueryTimings) -> None:
    """Add a kernel's timings to this process's histogram."""
    from .instruments import QUERY_DURATION

    for query in report.queries:
        QUERY_DURATION.labels(query.query_type, query.data_source).observe(query.seconds)
