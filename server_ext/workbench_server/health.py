"""Health of the parts a workbench needs: metadata DB, Temporal, and a polling worker."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel
from sqlalchemy import Engine, text

from ._version import __version__
from .db import current_revision, head_revision
from .errors import WorkbenchError
from .home import COMPONENTS_FILE
from .temporal import live_pollers

if TYPE_CHECKING:
    from temporalio.client import Client

Status = Literal["ok", "starting", "down"]


class Check(BaseModel):
    """The state of one part."""

    status: Status
    detail: str
    latency_ms: float


class HealthReport(BaseModel):
    """``status`` is ok when every check is ok, starting when the others are ok and some
    part is still starting (``workbench up`` printed its URL before the worker polled:
    runs wait in the task queue meanwhile), down when none is ok, degraded otherwise."""

    status: Literal["ok", "starting", "degraded", "down"]
    version: str
    checks: dict[str, Check]

    @classmethod
    def of(cls, checks: dict[str, Check]) -> HealthReport:
        states = {check.status for check in checks.values()}
        if states <= {"ok", "starting"}:
            overall = "ok" if states == {"ok"} else "starting"
        else:
            overall = "down" if states == {"down"} else "degraded"
        return cls(status=overall, version=__version__, checks=checks)


async def timed(probe: Callable[[], Awaitable[str]], timeout: float) -> Check:
    """Run ``probe``; its return value is the detail, any failure makes the part down."""
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(probe(), timeout)
        status: Status = "ok"
    except TimeoutError:
        detail, status = f"no answer within {timeout:g} s", "down"
    except WorkbenchError as exc:
        detail, status = str(exc), "down"
    except Exception as exc:  # a health check reports, it never raises
        detail, status = f"{type(exc).__name__}: {exc}".splitlines()[0], "down"
    return Check(
        status=status, detail=detail, latency_ms=round((time.perf_counter() - started) * 1000, 1)
    )


# Less free space than this on the file system of a SQLite metadata DB and it is down:
# SQLite needs room for its journal, so a commit (a run started, a step's outcome, an
# alert) already fails with "database or disk is full" while reads still answer.
MIN_FREE_BYTES = 1024 * 1024


def unwritable_reason(path: Path) -> str | None:
    """Why nothing can be written on the file system holding ``path``, or None: it is
    mounted read-only, or has less than ``MIN_FREE_BYTES`` free for this user."""
    try:
        stat = os.statvfs(path)
    except OSError:
        return None  # a path that cannot be looked at: the other checks say why
    if stat.f_flag & os.ST_RDONLY:
        return f"the file system holding {path} is read-only"
    free = stat.f_bavail * stat.f_frsize
    if free < MIN_FREE_BYTES:
        return f"the file system holding {path} is full ({free:,} bytes free)"
    return None


def database_probe(engine: Engine) -> Callable[[], Awaitable[str]]:
    def check() -> str:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            reason = unwritable_reason(Path(engine.url.database))
            if reason:
                raise WorkbenchError(
                    f"{reason}: the metadata DB can be read but nothing can be saved "
                    "(runs cannot start, steps' outcomes are not recorded)"
                )
        current, head = current_revision(engine), head_revision()
        if current != head:
            raise WorkbenchError(
                f"schema at revision {current}, expected {head}: restart to migrate"
            )
        return f"{engine.dialect.name}, schema revision {current}"

    async def probe() -> str:
        return await asyncio.to_thread(check)

    return probe


def temporal_probe(get_client: Callable[[], Awaitable[Client]]) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        client = await get_client()
        await client.service_client.check_health()
        return f"{client.service_client.config.target_host}, namespace {client.namespace}"

    return probe


def worker_probe(
    get_client: Callable[[], Awaitable[Client]], task_queue: str
) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        pollers = await live_pollers(await get_client(), task_queue)
        if not pollers:
            raise WorkbenchError(f"no worker is polling task queue {task_queue!r}")
        return f"{len(pollers)} worker(s) polling task queue {task_queue!r}"

    return probe


def with_restarts(checks: dict[str, Check], run_dir: Path) -> dict[str, Check]:
    """A part that ``workbench up`` is restarting is down, whatever a probe saw (Temporal
    keeps listing a dead worker's pollers for a while), and its detail says why; one it is
    still starting, if not polling yet, says so."""
    try:
        states = json.loads((run_dir / COMPONENTS_FILE).read_text())
    except (OSError, ValueError):
        return checks
    for name, check in checks.items():
        state = states.get(name) or {}
        if state.get("status") == "starting" and check.status == "down":
            # `workbench up` printed its URL before the worker polled: say so, not why not.
            check.status = "starting"
            check.detail = (
                f"starting since {state.get('since')}; runs requested meanwhile wait in "
                "the task queue and run when it polls"
            )
        if state.get("status") == "restarting":
            check.status = "down"
            check.detail = (
                f"restarting since {state.get('since')}: it stopped (exit code "
                f"{state.get('exit_code')}, {state.get('restarts')} time(s) in a row): "
                f"{state.get('reason')}"
            )
    return checks
