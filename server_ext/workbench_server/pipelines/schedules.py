"""Temporal Schedules kept in step with deployed pipelines.

A deployed pipeline with a ``schedule`` has one Temporal Schedule, ``pipeline-NAME``.
Each firing starts ``ScheduledRunWorkflow``, which records the run (logical date = the
scheduled time in the schedule's time zone) and runs the deployed version as a child
workflow. Temporal does the timing, catch-up, overlap policy, pausing and backfills.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
)
from temporalio.service import RPCError, RPCStatusCode

from workbench_pipelines.plan import SCHEDULED_RUN_WORKFLOW, ScheduledRunInput
from workbench_pipelines.spec import PipelineSpec

from ..errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from temporalio.client import Client

    from ..core import Workbench


def schedule_id(name: str) -> str:
    return f"pipeline-{name}"


def _schedule(spec: PipelineSpec, task_queue: str) -> Schedule:
    assert spec.schedule is not None
    when = spec.schedule
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SCHEDULED_RUN_WORKFLOW,
            ScheduledRunInput(pipeline=spec.name, timezone=when.timezone),
            id=f"scheduled-{spec.name}",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            cron_expressions=[when.cron] if when.cron else [],
            intervals=[ScheduleIntervalSpec(every=when.interval)] if when.interval else [],
            time_zone_name=when.timezone,
        ),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy[when.overlap.upper()],
            **({"catchup_window": when.catchup_window} if when.catchup_window else {}),
        ),
        state=ScheduleState(paused=when.paused, note=f"pipeline {spec.name}"),
    )


async def sync_schedule(workbench: Workbench, spec: PipelineSpec) -> str:
    """Create, update or delete the pipeline's schedule to match ``spec``."""
    client = await workbench.temporal_client()
    handle = client.get_schedule_handle(schedule_id(spec.name))
    exists = await _exists(client, spec.name)
    if spec.schedule is None:
        if exists:
            await handle.delete()
            return "schedule removed"
        return "no schedule"
    schedule = _schedule(spec, workbench.settings.task_queue)
    if exists:
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))
        return "schedule updated"
    await client.create_schedule(schedule_id(spec.name), schedule)
    return "schedule created"


async def _exists(client: Client, name: str) -> bool:
    try:
        await client.get_schedule_handle(schedule_id(name)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def control(
    workbench: Workbench,
    name: str,
    action: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    """pause | resume | trigger | backfill (start..end) | delete."""
    client = await workbench.temporal_client()
    if not await _exists(client, name):
        raise NotFoundError(f"pipeline {name!r} has no schedule")
    handle = client.get_schedule_handle(schedule_id(name))
    if action == "pause":
        await handle.pause(note="paused from the workbench")
    elif action == "resume":
        await handle.unpause(note="resumed from the workbench")
    elif action == "trigger":
        await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    elif action == "delete":
        await handle.delete()
    elif action == "backfill":
        if start is None or end is None or end < start:
            raise InvalidInputError("backfill needs a start and an end after it")
        await handle.backfill(
            ScheduleBackfill(start_at=start, end_at=end, overlap=ScheduleOverlapPolicy.ALLOW_ALL)
        )
    else:
        raise InvalidInputError(f"unknown schedule action {action!r}")
    return f"{action}: done"


async def describe(workbench: Workbench, name: str) -> dict[str, Any]:
    """Whether the schedule is paused, why, and when it runs next (up to five times)."""
    client = await workbench.temporal_client()
    if not await _exists(client, name):
        raise NotFoundError(f"pipeline {name!r} has no schedule")
    described = await client.get_schedule_handle(schedule_id(name)).describe()
    state = described.schedule.state
    return {
        "paused": state.paused,
        "note": state.note or None,
        "next_runs": [t.isoformat() for t in described.info.next_action_times[:5]],
        "recent_runs": [a.scheduled_at.isoformat() for a in described.info.recent_actions[-5:]],
    }
