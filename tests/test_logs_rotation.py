"""The logs in the home's ``logs/`` are rotated by size: a month of a chatty worker
filled the disk before (nothing ever rotated them). Each part's stdout and stderr are
its log file itself, so ``workbench up``'s keeper copies a log grown too large aside and
truncates it; the part writes on at the start of the file, without a hole."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import WorkbenchUp, base_env, run_workbench
from workbench_server.cli.up_keeper import rotate_log

WRITER = """\
import sys, time
for n in range(100_000):
    sys.stdout.write(f"line {n:06d} " + "x" * 80 + "\\n")
    sys.stdout.flush()
    if n % 100 == 0:
        time.sleep(0.01)
"""


def test_a_log_a_process_writes_to_is_copied_aside_and_truncated_without_a_hole(
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    with log.open("ab") as out:  # as the supervisor and the keeper open a part's log
        writer = subprocess.Popen([sys.executable, "-c", WRITER], stdout=out)
    try:
        deadline = time.monotonic() + 60
        rotated = 0
        while rotated < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
            rotated += rotate_log(str(log), 50_000, 3)
        assert rotated == 4
        time.sleep(0.5)  # the writer goes on in the truncated file
    finally:
        writer.kill()
        writer.wait(10)
    copies = sorted(p.name for p in tmp_path.iterdir())
    assert copies == ["worker.log", "worker.log.1", "worker.log.2", "worker.log.3"], copies
    current = log.read_bytes()
    assert b"\0" not in current  # O_APPEND: written at the new end, not at the old offset
    assert current.startswith(b"line "), current[:40]
    # Newest last: the current file follows .1, which follows .2.
    last = [
        int(p.read_bytes().splitlines()[-1].split()[1])
        for p in (log.with_suffix(".log.2"), log.with_suffix(".log.1"))
    ]
    first_now = int(current.splitlines()[0].split()[1])
    assert last[0] < last[1] < first_now, (last, first_now)
    assert log.with_suffix(".log.1").stat().st_mode & 0o777 == 0o600
    # Small enough files are left as they are.
    assert rotate_log(str(log), 10 * 2**20, 3) is False


@pytest.mark.timeout(300)
def test_up_rotates_a_chatty_lab_log_and_keeps_the_copies_asked_for(tmp_path: Path) -> None:
    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    notebooks.mkdir()
    env = base_env(home) | {"WORKBENCH_LOG_MAX_BYTES": "8K", "WORKBENCH_LOG_KEEP": "2"}
    up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=env).wait_ready()
    logs = home / "logs"
    try:
        auth = {"Authorization": f"token {up.token}"}
        with httpx.Client(base_url=up.url, headers=auth, timeout=30) as client:
            # Every 404 is a warning line in lab.log (about 150 bytes).
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (logs / "lab.log.2").exists():
                for n in range(50):
                    assert client.get(f"/api/no-such-route-{n}").status_code == 404
                time.sleep(1)
            assert (logs / "lab.log.2").exists(), sorted(p.name for p in logs.iterdir())
            client.get("/api/the-latest-request")
            time.sleep(1)
            assert client.get("/api/status").status_code == 200  # the lab never noticed
        assert not (logs / "lab.log.3").exists()  # two copies kept, the oldest dropped
        current = (logs / "lab.log").read_bytes()
        assert b"\0" not in current
        assert b"the-latest-request" in current
        # Bounded: the limit, plus what the lab wrote until the next check (10 s).
        assert (logs / "lab.log").stat().st_size < 8192 + 50 * 400 * 11
        assert b"404 GET /api/no-such-route" in (logs / "lab.log.1").read_bytes()
        assert up.stop() == 0, up.output
    finally:
        up.kill()


def test_a_wrong_log_size_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    env = base_env(tmp_path / "home") | {"WORKBENCH_LOG_MAX_BYTES": "lots"}
    result = run_workbench("up", "--no-demo", env=env, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "workbench: error: WORKBENCH_LOG_MAX_BYTES='lots': give a size of at least 4096 "
        "bytes, such as 10M or 500K (or 0 to never rotate the logs)"
    ]
