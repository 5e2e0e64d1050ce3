"""Temporal Schedules kept in step with deployed pipelines.

A deployed pipeline with a ``schedule`` has one Temporal Schedule, ``pipeline-NAME``.
Each firing starts ``ScheduledRunWorkflow``, which records the run (logical date = the
scheduled time in the schedule's time zone) and runs the deployed version as a child
workflow. Temporal does the timing, catch-up, overlap policy, pausing and backfills.

Pausing a pipeline pauses its ``on_change:`` trigger too (with or without a schedule):
the pipeline's on-change workflow is told (a signal, starting it if it is not running)
and starts no run until resumed; changes meanwhile make one run on resume (see
:mod:`workbench_pipelines.on_change`).
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

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

QUERY_TIMEOUT = timedelta(seconds=5)  # the on-change workflow's state (a worker answers)

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


def parse_backfill_bound(option: str, text: str) -> date | datetime:
    """A backfill bound as a person types it: a day (``2026-10-03``) or a time
    (``2026-10-03T06:00``, ``2026-10-03 06:00:00``, with or without a UTC offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise InvalidInputError(
            f"{option}: {text!r} is not a day (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM, "
            "optionally with seconds and a UTC offset)"
        ) from None


def _backfill_range(
    start: date | datetime | None, end: date | datetime | None, zone: ZoneInfo
) -> tuple[datetime, datetime, str]:
    """The instants a backfill covers and how to say so. A day is the whole day and a time
    without an offset is a time in the schedule's time zone, where its cron fires: ``--to
    2026-10-03`` includes the 3rd's firings (it once meant that day's midnight UTC, which
    left them out)."""
    if start is None or end is None:
        raise InvalidInputError("backfill needs a start and an end after it")

    def instant(bound: date | datetime, end_of_day: bool) -> tuple[datetime, str]:
        if not isinstance(bound, datetime):
            day = bound + timedelta(days=1) if end_of_day else bound
            at = datetime.combine(day, time(0), zone)
            return at, f"{bound.isoformat()} {'24:00' if end_of_day else '00:00'}"
        at = bound if bound.tzinfo is not None else bound.replace(tzinfo=zone)
        return at, at.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    start_at, start_text = instant(start, end_of_day=False)
    end_at, end_text = instant(end, end_of_day=True)
    if isinstance(end, datetime):
        end_at += timedelta(milliseconds=1)  # a firing at the given time is included
    if end_at <= start_at:
        raise InvalidInputError("backfill needs a start and an end after it")
    # Firings in [start, end): Temporal's range, widened by a millisecond at the start (a
    # firing at the start is included) and ending a millisecond before the day after.
    return (
        start_at - timedelta(milliseconds=1),
        end_at - timedelta(milliseconds=1),
        f"the firings from {start_text} to {end_text} {zone.key}",
    )


# A backfill that starts more runs than this asks first (the CLI's --yes answers it).
BACKFILL_CONFIRM_ABOVE = 100


async def backfill_size(
    workbench: Workbench,
    name: str,
    start: date | datetime | None,
    end: date | datetime | None,
) -> tuple[int, str]:
    """How many runs a backfill of ``start``..``end`` starts (Temporal's own count of the
    schedule's firings in that range), and the range as :func:`control` says it."""
    client = await workbench.temporal_client()
    if not await _exists(client, name):
        raise NotFoundError(f"pipeline {name!r} has no schedule")
    zone = ZoneInfo(await asyncio.to_thread(_schedule_timezone, workbench, name))
    start_at, end_at, covered = _backfill_range(start, end, zone)
    return await _matching_times(client, schedule_id(name), start_at, end_at), covered


# Temporal lists at most 1,000 matching times an answer; counting stops past this many.
MATCHING_TIMES_PAGE = 1000
COUNT_AT_MOST = 100_000


async def _matching_times(client: Client, schedule: str, start: datetime, end: datetime) -> int:
    """The firings of ``schedule`` in the range (Temporal's own calendar, as its backfill
    uses), asked a page at a time; past :data:`COUNT_AT_MOST` it says that many."""
    from google.protobuf.timestamp_pb2 import Timestamp
    from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest

    last = Timestamp()
    last.FromDatetime(end)
    first = Timestamp()
    first.FromDatetime(start)
    count = 0
    while count < COUNT_AT_MOST:
        answer = await client.workflow_service.list_schedule_matching_times(
            ListScheduleMatchingTimesRequest(
                namespace=client.namespace, schedule_id=schedule, start_time=first, end_time=last
            )
        )
        count += len(answer.start_time)
        if len(answer.start_time) < MATCHING_TIMES_PAGE:
            break
        first = answer.start_time[-1]  # the next page starts after the last time listed
    return min(count, COUNT_AT_MOST)


async def control(
    workbench: Workbench,
    name: str,
    action: str,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
) -> str:
    """pause | resume | trigger | backfill (start..end) | delete. Pause and resume also
    apply to the pipeline's ``on_change:`` trigger. A backfill's bounds are days (the
    whole day) or times, in the schedule's time zone unless they carry an offset."""
    client = await workbench.temporal_client()
    scheduled = await _exists(client, name)
    listens = action in ("pause", "resume") and await asyncio.to_thread(_listens, workbench, name)
    if not scheduled and not listens:
        raise NotFoundError(
            f"pipeline {name!r} has no schedule"
            + (" and no on_change trigger" if action in ("pause", "resume") else "")
        )
    if action not in ("pause", "resume", "trigger", "delete", "backfill"):
        raise InvalidInputError(f"unknown schedule action {action!r}")
    if listens:
        await _pause_on_change(client, workbench, name, action == "pause")
    if not scheduled:
        return f"{action}: done (the on_change trigger)"
    handle = client.get_schedule_handle(schedule_id(name))
    if action == "pause":
        await handle.pause(note="paused from the workbench")
    elif action == "resume":
        await handle.unpause(note="resumed from the workbench")
    elif action == "trigger":
        await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    elif action == "delete":
        await handle.delete()
    else:  # backfill
        zone = ZoneInfo(await asyncio.to_thread(_schedule_timezone, workbench, name))
        start_at, end_at, covered = _backfill_range(start, end, zone)
        await handle.backfill(
            ScheduleBackfill(
                start_at=start_at, end_at=end_at, overlap=ScheduleOverlapPolicy.ALLOW_ALL
            )
        )
        return f"backfill: done, {covered}"
    return f"{action}: done"


def _current_spec(workbench: Workbench, name: str) -> dict:
    """The spec of the current version of pipeline ``name`` ({} if it has none)."""
    from sqlalchemy import select

    from ..db.models import Pipeline, PipelineVersion

    with workbench.sessions() as session:
        spec = session.scalar(
            select(PipelineVersion.spec)
            .join(Pipeline, PipelineVersion.pipeline_id == Pipeline.id)
            .where(Pipeline.name == name, PipelineVersion.version == Pipeline.current_version)
        )
    return spec or {}


def _schedule_timezone(workbench: Workbench, name: str) -> str:
    """The time zone of the current version's schedule of pipeline ``name`` (UTC)."""
    return (_current_spec(workbench, name).get("schedule") or {}).get("timezone") or "UTC"


def _listens(workbench: Workbench, name: str) -> bool:
    """Whether the current version of pipeline ``name`` has an ``on_change:`` trigger."""
    return bool(_current_spec(workbench, name).get("on_change"))


async def _pause_on_change(client: Client, workbench: Workbench, name: str, paused: bool) -> None:
    from temporalio.client import WorkflowExecutionStatus

    from workbench_pipelines.triggers import (
        ON_CHANGE_WORKFLOW,
        PAUSE_SIGNAL,
        OnChangeInput,
        on_change_workflow_id,
    )

    workflow_id = on_change_workflow_id(name)
    if paused:  # started if not running: it keeps the changes until resumed
        await client.start_workflow(
            ON_CHANGE_WORKFLOW,
            OnChangeInput(pipeline=name),
            id=workflow_id,
            task_queue=workbench.settings.task_queue,
            start_signal=PAUSE_SIGNAL,
            start_signal_args=[True],
        )
        return
    handle = client.get_workflow_handle(workflow_id)
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return  # never started: nothing paused
        raise
    if described.status == WorkflowExecutionStatus.RUNNING:
        await handle.signal(PAUSE_SIGNAL, False)


async def _on_change_paused(client: Client, name: str) -> bool | None:
    """Whether the on_change trigger is paused (None: its workflow did not answer)."""
    from temporalio.client import WorkflowExecutionStatus

    from workbench_pipelines.triggers import PAUSED_QUERY, on_change_workflow_id

    handle = client.get_workflow_handle(on_change_workflow_id(name))
    try:
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.RUNNING:
            return False
        return bool(await handle.query(PAUSED_QUERY, rpc_timeout=QUERY_TIMEOUT))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        return None
    except Exception:  # no worker to answer: unknown
        return None


async def describe(workbench: Workbench, name: str) -> dict[str, Any]:
    """Whether the schedule is paused, why, and when it runs next (up to five times);
    for a pipeline with ``on_change:``, whether that trigger is paused
    (``on_change_paused``; without a schedule, ``paused`` says the same)."""
    client = await workbench.temporal_client()
    scheduled = await _exists(client, name)
    listens = await asyncio.to_thread(_listens, workbench, name)
    if not scheduled and not listens:
        raise NotFoundError(f"pipeline {name!r} has no schedule")
    out: dict[str, Any] = {"paused": False, "note": None, "next_runs": [], "recent_runs": []}
    if scheduled:
        described = await client.get_schedule_handle(schedule_id(name)).describe()
        state = described.schedule.state
        out = {
            "paused": state.paused,
            "note": state.note or None,
            "next_runs": [t.isoformat() for t in described.info.next_action_times[:5]],
            "recent_runs": [a.scheduled_at.isoformat() for a in described.info.recent_actions[-5:]],
        }
    if listens:
        out["on_change_paused"] = await _on_change_paused(client, name)
        if not scheduled:
            out["paused"] = bool(out["on_change_paused"])
    return out
