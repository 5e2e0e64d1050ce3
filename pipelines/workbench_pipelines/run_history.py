"""Step attempts in the run history, kept truthful while the metadata DB comes and goes.

Every attempt records its start and its end. A write that fails because the DB cannot be
reached is tried again, with backoff and heartbeats meanwhile, for a bounded time:
failing the attempt instead would make Temporal run the step again, and the history would
show an attempt lost by a worker that never stopped. Past that bound the attempt gives up
and hands what it could not write to the next attempt through its last heartbeat
(Temporal gives the next attempt those details). The next attempt writes it first, and
does not run again a notebook that already succeeded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from temporalio import activity

from workbench_server.db.models import Pipeline, Run, StepRun

if TYPE_CHECKING:
    from workbench_server.core import Workbench

T = TypeVar("T")

RECORD_PATIENCE_S = 1800.0
"""How long an attempt keeps trying to reach the metadata DB to record its start or end;
never past the attempt's own deadline (its step's timeout). Nothing else of the step can
go on meanwhile, and giving up costs one of Temporal's attempts."""
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
BEAT_EVERY_S = 2.0
FAILURES = ("failed", "timed_out")


def _now() -> datetime:
    return datetime.now(UTC)


def beat_every() -> float:
    """Seconds between two heartbeats of the running attempt: every 2 s, or four times
    within its heartbeat timeout when that is shorter (an installation's setting), so a
    beat late on a loaded machine still reaches Temporal in time."""
    try:
        timeout = activity.info().heartbeat_timeout
    except RuntimeError:  # not in an activity
        return BEAT_EVERY_S
    return min(BEAT_EVERY_S, timeout.total_seconds() / 4) if timeout else BEAT_EVERY_S


class AttemptRecord(BaseModel):
    """What an attempt's row in the history says."""

    attempt: int
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    output_notebook: str | None = None
    log_file: str | None = None
    worker: str | None = None
    error: str | None = None
    failing_cell: int | None = None
    notebook_cell: int | None = None
    traceback: str | None = None
    final: bool = Field(False, description="a failure the step must not be retried after")

    def row(self) -> dict[str, Any]:
        return self.model_dump(exclude={"attempt", "final"})


class Carried(BaseModel):
    """An attempt's heartbeat details: its progress, and history it could not write."""

    cell: int = -1
    cells: int = 0
    unrecorded: list[AttemptRecord] = Field(default_factory=list)

    @classmethod
    def from_details(cls, details: Sequence[Any]) -> Carried:
        """The previous attempt's last heartbeat (older workers sent only the progress)."""
        try:
            return cls.model_validate(details[0]) if details else cls()
        except ValidationError:
            return cls()


class HistoryUnavailable(Exception):
    """The metadata DB could not be reached for as long as the attempt may wait."""


def db_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the DB could not be reached (down, restarting, cut off)."""
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def unavailable_cause(exc: BaseException) -> str:
    """The driver's reason in one line: never the SQL, its parameters or the URL."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


async def beating(work: Awaitable[T], beat: Callable[[], None]) -> T:
    """``work``, with a heartbeat every few seconds while it waits (a DB connect can hang)."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=beat_every())
        if done:
            return task.result()
        beat()


async def keep_trying(
    write: Callable[[], T], what: str, beat: Callable[[], None], until: float
) -> T:
    """``write()`` (in a thread), tried again while the DB cannot be reached, with
    backoff, until ``until`` (a ``time.monotonic()`` moment); then
    :class:`HistoryUnavailable`. Other errors are not the DB's absence and pass through."""
    delay = RETRY_FIRST_S
    while True:
        try:
            return await beating(asyncio.to_thread(write), beat)
        except DBAPIError as exc:
            if not db_unreachable(exc):
                raise
            cause = unavailable_cause(exc)
            if time.monotonic() + delay > until:
                raise HistoryUnavailable(
                    f"the metadata DB could not be reached to record {what}: {cause}"
                ) from None
            activity.logger.warning(
                "metadata DB unreachable while recording %s (%s); trying again in %.1f s",
                what,
                cause,
                delay,
            )
            beat()  # what is still unrecorded reaches Temporal even if this attempt dies
            await beating(asyncio.sleep(delay), beat)
            delay = min(delay * 2, RETRY_MAX_S)


@dataclass
class Started:
    """What recording an attempt's start found out."""

    owner: str  # whose run it is: the step's code runs for them
    failures: int  # the step's failed and timed-out attempts before this one
    done: AttemptRecord | None = None  # an earlier attempt that succeeded: do not run again
    final: AttemptRecord | None = None  # an earlier failure that ends the step
    lost: list[AttemptRecord] = field(default_factory=list)  # marked lost just now


def _lost_reason(attempt: int) -> str:
    return (
        "lost: its result never reached the history (its worker stopped or lost touch with "
        f"Temporal); the step ran again as attempt {attempt}"
    )


class AttemptHistory:
    """The rows of one step's attempts in a run."""

    def __init__(self, workbench: Workbench, run_id: str, step_id: str) -> None:
        self.workbench = workbench
        self.run_id = run_id
        self.step_id = step_id

    def _row(self, session: Any, attempt: int) -> StepRun | None:
        return session.scalar(
            select(StepRun).where(
                StepRun.run_id == self.run_id,
                StepRun.step_id == self.step_id,
                StepRun.attempt == attempt,
            )
        )

    def _write(self, session: Any, record: AttemptRecord) -> None:
        row = self._row(session, record.attempt)
        if row is None:
            session.add(
                StepRun(
                    run_id=self.run_id, step_id=self.step_id, attempt=record.attempt, **record.row()
                )
            )
        else:
            for name, value in record.row().items():
                setattr(row, name, value)

    def start(self, record: AttemptRecord, carried: Sequence[AttemptRecord]) -> Started:
        """Write what earlier attempts could not, account for every earlier attempt
        number, then record this attempt as running (unless the step is already done)."""
        attempt = record.attempt
        with self.workbench.sessions.begin() as session:
            run = session.get(Run, self.run_id)
            pipeline = session.get(Pipeline, run.pipeline_id) if run is not None else None
            if pipeline is None:
                raise LookupError(f"run {self.run_id} does not exist")
            for earlier in carried:
                self._write(session, earlier)
            session.flush()
            rows = {
                row.attempt: row
                for row in session.scalars(
                    select(StepRun).where(
                        StepRun.run_id == self.run_id,
                        StepRun.step_id == self.step_id,
                        StepRun.attempt.between(1, attempt - 1),
                    )
                )
            }
            started = Started(
                owner=pipeline.owner,
                failures=sum(1 for row in rows.values() if row.status in FAILURES),
            )
            for number in range(1, attempt):
                row = rows.get(number)
                if row is None:  # it ended before it could write anything
                    lost = AttemptRecord(
                        attempt=number,
                        status="lost",
                        finished_at=_now(),
                        error="lost before it recorded its start (its worker stopped, or the "
                        "metadata DB could not be reached)",
                    )
                    self._write(session, lost)
                    started.lost.append(lost)
                elif row.status == "running":
                    row.status, row.error, row.finished_at = "lost", _lost_reason(attempt), _now()
                    started.lost.append(AttemptRecord(attempt=number, status="lost"))
                elif row.status == "succeeded" and started.done is None:
                    started.done = _record_of(row)
            final = next((c for c in carried if c.final and c.status in FAILURES), None)
            started.final = final
            if started.done is None and final is None and self._row(session, attempt) is None:
                self._write(session, record)
        return started

    def finish(self, record: AttemptRecord) -> None:
        """Record how the attempt ended (a failure that ends the step is announced to
        the pipeline's webhook targets)."""
        with self.workbench.sessions.begin() as session:
            self._write(session, record)
            if record.final and record.status in FAILURES:
                from .webhook_delivery import queue_webhooks

                session.flush()
                step = {
                    "id": self.step_id,
                    "attempt": record.attempt,
                    "status": record.status,
                    "error": record.error,
                }
                queue_webhooks(session, self.run_id, "step.failed", step)


def _record_of(row: StepRun) -> AttemptRecord:
    return AttemptRecord.model_validate(row, from_attributes=True)


class AttemptLedger:
    """One attempt's part of the history: written through short outages, and carried to
    the next attempt (in the heartbeat details) when the DB stays away too long."""

    def __init__(self, history: AttemptHistory, record: AttemptRecord) -> None:
        info = activity.info()
        self.history = history
        self.record = record
        self.carried = Carried.from_details(info.heartbeat_details)
        limit = info.start_to_close_timeout
        # Give up in time for the last heartbeat to reach Temporal before it times out.
        self._deadline = (
            time.monotonic() + (info.started_time + limit - _now()).total_seconds() - 3.0
            if limit
            else float("inf")
        )

    def _until(self) -> float:
        return min(time.monotonic() + RECORD_PATIENCE_S, self._deadline)

    def beat(self, cell: int | None = None, cells: int | None = None) -> None:
        """Heartbeat with the progress and whatever the history still lacks."""
        if cell is not None:
            self.carried.cell = cell
        if cells is not None:
            self.carried.cells = cells
        activity.heartbeat(self.carried.model_dump(mode="json"))

    async def start(self) -> Started:
        """Record the start (after what earlier attempts left unrecorded)."""
        what = f"the start of attempt {self.record.attempt}"
        try:
            started = await keep_trying(
                lambda: self.history.start(self.record, self.carried.unrecorded),
                what,
                self.beat,
                self._until(),
            )
        except HistoryUnavailable as exc:
            self.carried.unrecorded.append(
                self.record.model_copy(
                    update={"status": "lost", "finished_at": _now(), "error": f"not run: {exc}"}
                )
            )
            self.beat()
            raise
        self.carried.unrecorded = []
        return started

    async def finish(self, status: str, **outcome: Any) -> None:
        """Record how the attempt ended; while that cannot be written, it is carried."""
        self.record = self.record.model_copy(
            update={"status": status, "finished_at": _now(), **outcome}
        )
        self.carried.unrecorded.append(self.record)
        try:
            await keep_trying(
                lambda: self.history.finish(self.record),
                f"the end of attempt {self.record.attempt}",
                self.beat,
                self._until(),
            )
        except HistoryUnavailable:
            self.beat()  # the next attempt records it
            raise
        self.carried.unrecorded.remove(self.record)
        if self.record.final and self.record.status in FAILURES:
            from .webhook_delivery import start_pending

            try:
                await start_pending(self.history.workbench, self.history.run_id)
            except Exception:  # left queued: the run's end starts it
                activity.logger.warning("step.failed webhooks not started", exc_info=True)
