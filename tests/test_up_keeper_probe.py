"""A Temporal dev server that stops answering under ``workbench up`` (SIGSTOPped, as a
hung process or a debugger would leave it) is killed and started again by the keeper, as
a crashed one is. Before, it stayed stopped: it still accepted TCP connections (the
kernel completes the handshake), nothing restarted it, ``run/components.json`` did not
mention it and ``workbench status`` said "temporal down: no answer within 3 s" for as
long as the operator did not look."""

from __future__ import annotations

import asyncio
import json
import signal
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
    env = base_env(home)
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
