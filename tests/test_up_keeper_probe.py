"""A Temporal dev server or a worker that stops answering under ``workbench up`` (SIGSTOPped, as a
hung process or a debugger would leave it) is killed and started again by the keeper, as
a crashed one is. Before, it stayed stopped: it still accepted TCP connections (the
kernel completes the handshake), nothing restarted it, ``run/components.json`` did not
mention it and ``workbench status`` said "temporal down: no answer within 3 s" for as
long as the operator did not look."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.processes import WorkbenchUp, base_env, run_workbench
from tests.support.waiting import until
from workbench_server import temporal


def _temporal(up: WorkbenchUp) -> psutil.Process | None:
    for child in psutil.Process(up.proc.pid).children():
        try:
            if "start-dev" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                return child
        except psutil.NoSuchProcess:
            continue
    return None


async def _ping(address: str) -> str:
    from workbench_pipelines.workflows import PingWorkflow

    client = await temporal.connect(address)
    info = await client.execute_workflow(
        PingWorkflow.run, id=f"after-hang-{uuid.uuid4().hex}", task_queue="workbench"
    )
    return info.identity


@pytest.mark.timeout(400)
def test_a_stopped_temporal_is_killed_and_started_again(tmp_path: Path) -> None:
    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    notebooks.mkdir()
    # Probed every second (each probe given a second), restarted after three misses in a
    # row: 3-6 s after it stopped instead of the default's 15-30.
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_PROBE_INTERVAL": "1",
        "WORKBENCH_TEMPORAL_PROBE_MISSES": "3",
    }
    up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=env).wait_ready()
    hung = None
    try:
        health_url = f"{up.url}/workbench/api/health"
        auth = {"Authorization": f"token {up.token}"}

        def health() -> dict:
            return httpx.get(health_url, headers=auth, timeout=30).json()

        until(lambda: health()["status"] == "ok", 90, "health ok")
        address = next(
            line.split(":", 1)[1].split()[0] for line in up.stdout if "Temporal:" in line
        )
        hung = _temporal(up)
        assert hung is not None
        hung.suspend()  # SIGSTOP: its ports still accept connections

        # Health says Temporal is being restarted, and why.
        def restarting() -> str | None:
            detail = health()["checks"]["temporal"]["detail"]
            return detail if "restarting since" in detail else None

        detail = until(restarting, 90, "health saying Temporal is restarting")
        assert "stopped answering" in detail, detail
        # The stopped process is gone (killed and reaped, no zombie), a new one runs.
        assert not psutil.pid_exists(hung.pid) or hung.status() != psutil.STATUS_STOPPED
        until(lambda: not psutil.pid_exists(hung.pid), 30, "the stopped Temporal reaped")
        fresh = until(lambda: _temporal(up), 60, "a new Temporal")
        assert fresh.pid != hung.pid
        until(lambda: health()["status"] == "ok", 120, "health ok again")
        states = json.loads((home / "run" / "components.json").read_text())
        assert states["temporal"]["status"] == "running", states
        status = run_workbench("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "ok       temporal" in status.stdout, status.stdout
        # Runs go on, on the same address and history.
        assert asyncio.run(_ping(address)).startswith("workbench-worker-")
        assert "Temporal does not answer" in up.output, up.output
        assert "restarting it in 1 s" in up.output, up.output
        assert up.stop(signal.SIGINT) == 0, up.output
    finally:
        if hung is not None and psutil.pid_exists(hung.pid):
            hung.kill()  # ours: the Temporal this test stopped, by PID
        up.kill()


def _worker(up: WorkbenchUp) -> psutil.Process | None:
    for child in psutil.Process(up.proc.pid).children():
        try:
            if child.cmdline()[2:4] == ["workbench_server.cli", "worker"] and (
                child.status() != psutil.STATUS_ZOMBIE
            ):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


@pytest.mark.timeout(400)
def test_a_worker_whose_event_loop_is_stuck_is_killed_and_started_again(tmp_path: Path) -> None:
    """A worker whose event loop no longer runs (SIGSTOP here; a deadlock or a blocking
    call on the loop is the same to the keeper) stayed "running" for good while no run
    moved: its process was there, and Temporal even went on listing it as a poller for a
    while. Its loop touches run/worker.alive every 2 s; the keeper restarts a worker whose
    file grew older than 5 s three checks in a row, and says why."""
    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    notebooks.mkdir()
    env = base_env(home)
    up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=env).wait_ready()
    stuck = None
    try:
        health_url = f"{up.url}/workbench/api/health"
        auth = {"Authorization": f"token {up.token}"}

        def health() -> dict:
            return httpx.get(health_url, headers=auth, timeout=30).json()

        until(lambda: health()["status"] == "ok", 90, "health ok")
        address = next(
            line.split(":", 1)[1].split()[0] for line in up.stdout if "Temporal:" in line
        )
        stuck = _worker(up)
        assert stuck is not None
        # Idle, the worker's loop keeps its heartbeat fresh: no restart while it runs.
        time.sleep(12)
        assert _worker(up).pid == stuck.pid
        assert "worker does not answer" not in up.output, up.output
        stuck.suspend()  # SIGSTOP: the process is there, its loop does not run

        def restarting() -> str | None:
            detail = health()["checks"]["worker"]["detail"]
            return detail if "restarting since" in detail else None

        detail = until(restarting, 90, "health saying the worker is restarting")
        assert "its event loop has not run for" in detail, detail
        until(lambda: not psutil.pid_exists(stuck.pid), 30, "the stuck worker reaped")
        fresh = until(lambda: _worker(up), 60, "a new worker")
        assert fresh.pid != stuck.pid
        until(lambda: health()["status"] == "ok", 120, "health ok again")
        states = json.loads((home / "run" / "components.json").read_text())
        assert states["worker"]["status"] == "running", states
        assert "event loop" in states["worker"]["reason"], states
        status = run_workbench("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        # Runs go on, on the new worker.
        assert asyncio.run(_ping(address)) == f"workbench-worker-{fresh.pid}@{socket.gethostname()}"
        assert "worker does not answer" in up.output, up.output
        assert up.stop(signal.SIGINT) == 0, up.output
        assert not (home / "run" / "worker.alive").exists()
    finally:
        if stuck is not None and psutil.pid_exists(stuck.pid):
            stuck.kill()  # ours: the worker this test stopped, by PID
        up.kill()


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        ("WORKBENCH_TEMPORAL_PROBE_INTERVAL", "0.1", "give the seconds between two probes"),
        ("WORKBENCH_TEMPORAL_PROBE_INTERVAL", "soon", "give the seconds between two probes"),
        ("WORKBENCH_TEMPORAL_PROBE_MISSES", "0", "give how many probes in a row"),
    ],
)
def test_a_bad_probe_setting_stops_the_start_naming_it(
    tmp_path: Path, name: str, raw: str, says: str
) -> None:
    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    notebooks.mkdir()
    env = base_env(home) | {name: raw}
    result = run_workbench("up", "--notebook-dir", str(notebooks), "--no-demo", env=env)
    assert result.returncode != 0
    assert f"{name}={raw!r}: {says}" in result.stderr, result.stderr
    assert not (home / "run" / "state.json").exists()  # nothing was started
