"""``workbench up`` killed with SIGKILL (the OOM killer, kill -9) in the middle of a run:
JupyterLab and Temporal die with it (their parent-death signal), and the worker did not:
its SIGTERM started a graceful drain that ran the step to its end for a Temporal that was
gone, while the next ``workbench up`` ran the same step again, both at once and both
recorded as succeeded. Now the orphaned worker stops at once, and the next start runs the
step once more: one attempt lost, one that ran to its end."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.support.notebooks import write_notebook
from tests.support.processes import WorkbenchUp, base_env, run_workbench
from tests.support.waiting import until


@pytest.mark.timeout(600)
def test_a_killed_up_leaves_no_worker_running_its_step(tmp_path: Path) -> None:
    home, src, notebooks = tmp_path / "home", tmp_path / "src", tmp_path / "notebooks"
    notebooks.mkdir()
    marker = tmp_path / "marker.txt"
    write_notebook(
        src / "slow.ipynb",
        "import os, time\n"
        "open(marker, 'a').write(f'start {os.getpid()}\\n')\n"
        # The first attempt outlasts the kill; the one run again after the restart need
        # not wait as long (20 s of the test's 48 were its sleep).
        "time.sleep(seconds if open(marker).read().count('start') == 1 else 0.5)\n"
        "open(marker, 'a').write(f'end {os.getpid()}\\n')",
        parameters="seconds = 1\nmarker = ''",
    )
    (src / "slow.yaml").write_text(
        "name: slow_load\nsteps:\n  - {id: load, notebook: slow.ipynb, kernel: python3,\n"
        f"     parameters: {{seconds: 20, marker: {json.dumps(str(marker))}}}}}\n"
    )
    env = base_env(home)
    up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=env).wait_ready()
    second = None
    worker: psutil.Process | None = None
    try:
        assert run_workbench("pipeline", "deploy", str(src / "slow.yaml"), env=env).returncode == 0
        started = run_workbench("pipeline", "run", "slow_load", env=env)
        assert started.returncode == 0, started.stderr
        run_id = started.stdout.split()[-1]
        until(lambda: marker.exists() and "start" in marker.read_text(), 120, "step started")
        workers = [
            p for p in up.descendants() if p.cmdline()[2:4] == ["workbench_server.cli", "worker"]
        ]
        assert len(workers) == 1, [p.cmdline() for p in up.descendants()]
        [worker] = workers

        up.proc.send_signal(signal.SIGKILL)
        up.proc.wait(30)
        # The orphaned worker stops within seconds, its step unfinished.
        _, alive = psutil.wait_procs([worker], timeout=10)
        assert not alive, f"worker {worker.pid} still running after its workbench up died"
        time.sleep(1)
        assert marker.read_text().count("end") == 0, marker.read_text()

        # The next start runs the step again, once, to its end.
        second = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=env).wait_ready()

        def ended():
            shown = run_workbench("pipeline", "show", run_id, env=env).stdout
            return shown if f"{run_id}  slow_load v1  succeeded" in shown else None

        shown = until(ended, 240, "run succeeded after the restart")
        lines = marker.read_text().splitlines()
        assert [line.split()[0] for line in lines] == ["start", "start", "end"], lines
        assert " lost " in shown and "#2  succeeded" in shown, shown
    finally:
        up.kill()
        if worker is not None and worker.is_running():  # an orphan: ours, stopped by PID
            worker.kill()
        if second is not None:
            second.stop()
