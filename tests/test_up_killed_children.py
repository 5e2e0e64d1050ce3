"""``workbench up`` killed with SIGKILL (kill -9, the OOM killer) leaves nothing of its
stack running. Its parts (JupyterLab, Temporal, the worker) went with it before, by
their parent-death signal (tests/test_up_killed.py: the worker), and their zombies are
reaped by init; but what ran below them in a session of its own, such as a daemon a
notebook started, was adopted by init and ran on for good, where Ctrl-C stops it. The
keeper's guard now stops those too."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.hub import _execute
from tests.support.processes import WorkbenchUp, base_env

DAEMON = (
    "import subprocess\n"
    "found = subprocess.run(['sh', '-c', 'setsid sleep 617 >/dev/null 2>&1 & echo $!'],\n"
    "                       capture_output=True, text=True, check=True)\n"
    "print(found.stdout.strip())"
)


def _gone(proc: psutil.Process) -> bool:
    """Exited and reaped, or a different process that got its pid."""
    try:
        return not proc.is_running()
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(300)
def test_a_killed_up_leaves_no_part_kernel_or_daemon_running_nor_a_zombie(
    tmp_path: Path,
) -> None:
    home, notebooks = tmp_path / "home", tmp_path / "notebooks"
    notebooks.mkdir()
    up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=base_env(home))
    up.wait_ready()
    tree: list[psutil.Process] = []
    try:
        auth = {"Authorization": f"token {up.token}"}
        kernel = httpx.post(f"{up.url}/api/kernels", json={}, headers=auth, timeout=60)
        assert kernel.status_code == 201, kernel.text
        channels = f"{up.url.replace('http', 'ws', 1)}/api/kernels/{kernel.json()['id']}/channels"
        daemon = psutil.Process(int(asyncio.run(_execute(channels, auth, DAEMON)).strip()))
        # In a session of its own, adopted by `workbench up` (a subreaper).
        assert daemon.ppid() == up.proc.pid and os.getsid(daemon.pid) == daemon.pid
        time.sleep(3)  # the guard's list is at most 2 s old
        tree = up.descendants()
        names = " ".join(" ".join(p.cmdline()) for p in tree)
        for part in ("jupyterlab", "start-dev", "workbench_server.cli worker", "ipykernel"):
            assert part in names, (part, names)

        up.proc.send_signal(signal.SIGKILL)
        up.proc.wait(30)
        # The home is free at once for the next `workbench up`: no process left holds its
        # lock (the guard, busy stopping the rest, held it for up to 5 s and the next
        # start said "another workbench is already running").
        with (home / "run" / "up.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(_gone(p) for p in tree):
            time.sleep(0.5)
        left = []
        for proc in tree:
            if not _gone(proc):
                try:
                    left.append(f"{proc.pid} {proc.status()} {' '.join(proc.cmdline())[:100]}")
                except psutil.NoSuchProcess:
                    continue
        assert left == [], left  # neither running nor a zombie
        assert not (home / "run" / "stack.pids").exists()
    finally:
        for proc in tree:  # ours, by PID, should the test have failed
            if not _gone(proc):
                proc.kill()
        up.kill()
