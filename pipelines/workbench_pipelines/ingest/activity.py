"""One attempt of a declarative step inside the ``workbench.run_step`` activity.

The step runs in a worker thread while the activity heartbeats (rows so far in the
details); a cancel or the step's timeout stops it at its next batch or interrupts its
query, and nothing it was writing is committed. How the attempt ended goes to the run
history as a notebook step's does, with the table versions it read and wrote (also
those of a failed attempt: its committed tables are real versions).
"""

from __future__ import annotations

import asyncio
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..attempts import stop_decision
from ..kernel_access import Attempt, run_context
from ..plan import StepInput, StepOutcome
from ..run_history import AttemptLedger, Started
from ..spec import TIMEOUT_ERROR
from . import watermarks
from .changes import announce, changes_of
from .context import Progress, StepContext, StepStopped
from .runner import run_kind

if TYPE_CHECKING:
    from workbench_server.core import Workbench

HEARTBEAT_EVERY_S = 2.0


async def run_attempt(
    workbench: Workbench,
    data: StepInput,
    ledger: AttemptLedger,
    started: Started,
    granted: Attempt,
) -> StepOutcome:
    info = activity.info()
    step, attempt = data.step, info.attempt
    principal, pipeline = await asyncio.to_thread(run_context, workbench, data.run_id)
    progress = Progress()
    ctx = StepContext(
        workbench=workbench,
        principal=principal,
        pipeline=pipeline,
        run_id=data.run_id,
        step_id=step.id,
        attempt=attempt,
        config=step.config,
        parameters=step.parameters,
        progress=progress,
        log_file=Path(ledger.record.log_file) if ledger.record.log_file else None,
        kind=step.kind,
        loop=asyncio.get_running_loop(),
        client=activity.client(),
    )
    granted.sql = ctx.lineage  # the attempt's OpenLineage events carry them
    granted.tables = ctx.tables
    clock = time.monotonic()
    job = asyncio.get_running_loop().run_in_executor(None, run_kind, ctx)
    elapsed = (datetime.now(UTC) - info.started_time).total_seconds()
    deadline = time.monotonic() + step.timeout_s - elapsed - min(2.0, step.timeout_s * 0.2)
    try:
        while not job.done():
            ledger.beat()
            await asyncio.wait(
                {job}, timeout=min(HEARTBEAT_EVERY_S, max(0.05, deadline - time.monotonic()))
            )
            if not job.done() and time.monotonic() >= deadline:
                progress.halt()
                await asyncio.gather(job, return_exceptions=True)
                message = f"stopped after its {step.timeout_s:g} s timeout"
                final, note = stop_decision(step, started, TIMEOUT_ERROR, message)
                await _record_tables(ctx)
                await ledger.finish(
                    "timed_out",
                    duration_s=round(time.monotonic() - clock, 3),
                    error=message + note,
                    final=final,
                )
                raise ApplicationError(message, type="StepTimeout", non_retryable=final)
    except asyncio.CancelledError:
        progress.halt()
        await asyncio.gather(job, return_exceptions=True)
        details = activity.cancellation_details()
        timed_out = bool(details and details.timed_out)
        await _record_tables(ctx)
        await ledger.finish(
            "timed_out" if timed_out else "cancelled",
            duration_s=round(time.monotonic() - clock, 3),
            error=f"stopped after {step.timeout_s:g} s timeout" if timed_out else "cancelled",
        )
        raise
    duration = round(time.monotonic() - clock, 3)
    await _record_tables(ctx)
    try:
        job.result()
    except StepStopped:  # only a halt stops it, and a halt is handled above
        raise ApplicationError("stopped", type="StepStopped") from None
    except Exception as exc:
        name = type(exc).__name__
        message = f"{name}: {exc}".splitlines()[0][:2000]
        final, note = stop_decision(step, started, name, message)
        ctx.log(f"failed: {message}")
        await ledger.finish(
            "failed",
            duration_s=duration,
            error=message + note,
            traceback="".join(traceback.format_exception(exc))[-20_000:],
            final=final,
        )
        raise ApplicationError(message, type=name, non_retryable=final) from None
    if not ctx.announced:
        await asyncio.to_thread(announce, ctx, changes_of(ctx, ctx.tables))
    await ledger.finish("succeeded", duration_s=duration)
    return StepOutcome(step_id=step.id, attempt=attempt, status="succeeded", duration_s=duration)


async def _record_tables(ctx: StepContext) -> None:
    """The versions the attempt read and wrote, into the run history (never fails it)."""
    if not ctx.tables:
        return
    try:
        await asyncio.to_thread(
            watermarks.record_all, ctx.workbench, ctx.run_id, ctx.step_id, ctx.attempt, ctx.tables
        )
    except Exception:
        activity.logger.warning("table versions of %s not recorded", ctx.job, exc_info=True)
