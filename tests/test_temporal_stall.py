"""A step whose heartbeats stop reaching Temporal (its dev server's disk filled up, or it
hung) is timed out by Temporal and runs again once Temporal is back. Its attempt said
"stopped after 3600 s timeout" after 16 s (found filling the disk under a running
workbench up): the step's own timeout, which had nothing to do with it. It now says
how long it ran and that its heartbeats did not reach Temporal."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import spawn_worker, stop_worker
from tests.support.ingest import run_pipeline
from tests.support.notebooks import write_notebook
from tests.support.processes import terminate
from tests.support.runs import HEARTBEAT_S, SHORT_HEARTBEAT_ENV
from tests.support.temporal import wait_for_temporal
from workbench_server import temporal
from workbench_server.core import Workbench
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.principal import local_principal
from workbench_server.settings import WorkbenchSettings


@pytest.mark.timeout(400)
def test_an_attempt_timed_out_by_lost_heartbeats_says_so(
    tmp_path: Path, home: Path, task_queue: str
) -> None:
    import asyncio

    marker = tmp_path / "marker.txt"
    # The first attempt outlasts the stall; the one Temporal runs again after it need not
    # wait as long (it only has to succeed: 20 s of the test's 68 were its sleep).
    write_notebook(
        tmp_path / "slow.ipynb",
        "import time\nopen(marker, 'a').write('start\\n')\n"
        "time.sleep(seconds if open(marker).read().count('start') == 1 else 0.5)\n"
        "open(marker, 'a').write('end\\n')",
        parameters="seconds = 1\nmarker = ''",
    )
    (tmp_path / "slow.yaml").write_text(
        "name: slow_load\nsteps:\n  - {id: load, notebook: slow.ipynb, kernel: python3,\n"
        "     retries: {backoff: 1s},\n"
        f"     parameters: {{seconds: 20, marker: {json.dumps(str(marker))}}}}}\n"
    )
    (tmp_path / "t").mkdir()
    proc, address = temporal.spawn_dev_server(tmp_path / "t")
    # The installation's step heartbeat timeout, short: the core puts it in the run's plan.
    settings = WorkbenchSettings.from_env(
        home,
        temporal_address=address,
        task_queue=task_queue,
        step_heartbeat_timeout_s=HEARTBEAT_S,
    )
    settings.workbench_home.prepare()
    core = Workbench(settings)
    worker = None
    try:
        asyncio.run(wait_for_temporal(address, proc))
        worker = spawn_worker(home, address, task_queue, extra_env=SHORT_HEARTBEAT_ENV)
        me = local_principal()
        PipelineRegistry(core, me).deploy(tmp_path / "slow.yaml")
        result: list = []
        runner = threading.Thread(
            target=lambda: result.append(run_pipeline(core, me, "slow_load", address, task_queue)),
            daemon=True,
        )
        runner.start()
        deadline = time.monotonic() + 120
        while not (marker.exists() and "start" in marker.read_text()):
            assert time.monotonic() < deadline, "step did not start"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGSTOP)  # Temporal stalls: no heartbeat gets through
        time.sleep(3 * HEARTBEAT_S)  # well past the heartbeat timeout (25 s against 10 before)
        os.kill(proc.pid, signal.SIGCONT)
        runner.join(240)
        [run] = result
        first = next(a for a in run.attempts if a.step_id == "load" and a.attempt == 1)
        assert first.status == "timed_out", first
        assert "3600" not in first.error, first.error
        assert f"no heartbeat reached Temporal for {HEARTBEAT_S:g} s" in first.error, first.error
        assert run.status == "succeeded", run
        assert marker.read_text().count("start") == 2, marker.read_text()
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        if worker is not None:
            stop_worker(worker)
        core.close()
        terminate(proc)
