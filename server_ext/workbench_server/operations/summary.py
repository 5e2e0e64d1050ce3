"""One answer for the Operations view: the run figures of a window, the task queue's
backlog, the workers polling it and the health of each part, for one user.

Each part is asked at the same time and bounded; a part that cannot answer (Temporal
down) leaves its own figures empty with the reason, and the rest still shows.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from ..health import HealthReport
from ..temporal import live_pollers
from .runs import RunFigures, Window, run_figures

if TYPE_CHECKING:
    from ..core import Workbench
    from ..metrics.task_queue import TaskQueueCollector

log = logging.getLogger(__name__)


class QueueType(BaseModel):
    """The task queue's figures for one kind of task, as Temporal approximates them."""

    type: str
    """``workflow`` (runs to schedule) or ``activity`` (steps to execute)."""
    backlog: int
    oldest_s: float
    pollers: int


class QueueOut(BaseModel):
    task_queue: str
    types: list[QueueType]
    detail: str | None
    """Why there are no figures, when there are none."""


class OperationsSummary(BaseModel):
    user: str
    admin: bool
    """Whether this user may acknowledge alerts and make silences."""
    generated_at: datetime
    runs: RunFigures
    queue: QueueOut
    workers: list[str]
    """Identities of the workers that polled the task queue lately."""
    health: HealthReport


async def _queue(collector: TaskQueueCollector | None, task_queue: str) -> QueueOut:
    if collector is None:
        return QueueOut(task_queue=task_queue, types=[], detail="Temporal is not configured")
    await collector.refresh()  # at most once per the metrics' cache time; never raises
    figures = collector.figures
    if figures is None:
        return QueueOut(
            task_queue=task_queue,
            types=[],
            detail="Temporal did not answer; the health below says why",
        )
    return QueueOut(
        task_queue=task_queue,
        types=[
            QueueType(type=kind, backlog=count, oldest_s=age, pollers=pollers)
            for kind, (count, age, pollers) in sorted(figures.items(), reverse=True)
        ],
        detail=None,
    )


async def _workers(workbench: Workbench, timeout: float) -> list[str]:
    try:
        client = await asyncio.wait_for(workbench.temporal_client(), timeout)
        found = await asyncio.wait_for(live_pollers(client, workbench.settings.task_queue), timeout)
    except Exception as exc:  # the health check names the problem to the user
        log.debug("operations: workers not listed (%s)", exc)
        return []
    return sorted(set(found))


async def summary(
    workbench: Workbench,
    window: Window,
    visible: dict[int, str] | None,
    *,
    user: str,
    admin: bool,
    collector: TaskQueueCollector | None,
    timeout: float,
) -> OperationsSummary:
    """Everything the view shows but the alerts and the SLA risks (their own routes)."""

    def figures() -> RunFigures:
        with workbench.sessions() as session:
            return run_figures(session, window, visible)

    runs, queue, workers, health = await asyncio.gather(
        asyncio.to_thread(figures),
        _queue(collector, workbench.settings.task_queue),
        _workers(workbench, timeout),
        workbench.health(timeout),
    )
    return OperationsSummary(
        user=user,
        admin=admin,
        generated_at=datetime.now(UTC),
        runs=runs,
        queue=queue,
        workers=workers,
        health=health,
    )
