"""The Temporal task queue's backlog and pollers, as Temporal itself reports them.

Temporal's client lives on the server's event loop, and a collector runs in a thread:
the figures are fetched on the loop just before a scrape renders them (at most once per
``ttl`` seconds, each call bounded by ``timeout``), and the collector reads what was
fetched. When Temporal does not answer, the scrape goes on without these figures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from temporalio.client import Client

log = logging.getLogger(__name__)

# (type label, Temporal's task queue type name)
TYPES = (("workflow", "TASK_QUEUE_TYPE_WORKFLOW"), ("activity", "TASK_QUEUE_TYPE_ACTIVITY"))


class TaskQueueCollector(Collector):
    """``workbench_task_queue_backlog`` and friends for the workers' task queue."""

    def __init__(
        self,
        get_client: Callable[[], Awaitable[Client]],
        task_queue: str,
        ttl: float = 15.0,
        timeout: float = 2.0,
    ) -> None:
        self.get_client = get_client
        self.task_queue = task_queue
        self.ttl = ttl
        self.timeout = timeout
        self._figures: dict[str, tuple[int, float, int]] | None = None
        self._read_at = -float("inf")
        self._lock = asyncio.Lock()

    @property
    def figures(self) -> dict[str, tuple[int, float, int]] | None:
        """The latest figures by type (``workflow``, ``activity``): backlog count, the
        oldest waiting task's age in seconds, pollers; None when Temporal did not answer
        the last fetch (or none was made yet)."""
        return self._figures

    async def refresh(self) -> None:
        """Fetch the figures when they are older than ``ttl``; never raises."""
        async with self._lock:
            if time.monotonic() - self._read_at < self.ttl:
                return
            self._read_at = time.monotonic()
            try:
                self._figures = await asyncio.wait_for(self._fetch(), self.timeout)
            except Exception as exc:  # no figures this time; the scrape still answers
                log.info("metrics: Temporal's task queue figures unavailable (%s)", exc)
                self._figures = None

    async def _fetch(self) -> dict[str, tuple[int, float, int]]:
        from temporalio.api.enums.v1 import TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

        client = await self.get_client()
        out = {}
        for label, name in TYPES:
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=TaskQueueType.Value(name),
                    report_stats=True,
                )
            )
            stats = response.stats
            age = stats.approximate_backlog_age.ToTimedelta().total_seconds()
            out[label] = (stats.approximate_backlog_count, age, len(response.pollers))
        return out

    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        figures = self._figures
        if figures is None:
            return
        backlog = GaugeMetricFamily(
            "workbench_task_queue_backlog",
            "Tasks waiting in the workers' Temporal task queue (Temporal's approximate "
            "count): runs and steps no worker has picked up yet.",
            labels=["task_queue", "type"],
        )
        age = GaugeMetricFamily(
            "workbench_task_queue_backlog_age_seconds",
            "How long the oldest waiting task has waited (Temporal's approximation).",
            labels=["task_queue", "type"],
        )
        pollers = GaugeMetricFamily(
            "workbench_task_queue_pollers",
            "Workers that polled the task queue recently, as Temporal lists them.",
            labels=["task_queue", "type"],
        )
        for label, (count, seconds, polling) in sorted(figures.items()):
            backlog.add_metric([self.task_queue, label], count)
            age.add_metric([self.task_queue, label], seconds)
            pollers.add_metric([self.task_queue, label], polling)
        yield backlog
        yield age
        yield pollers
