"""``workbench up`` whose hand-over to its keeper fails keeps the stack just as the keeper
does, because it runs the same keeper in its own process.

Once its URL is printed, ``workbench up`` replaces itself (``execve``) with the small
keeper of ``cli/up_keeper.py``. Should that exec fail (no memfd, the interpreter gone or
not executable, out of memory), it used to go on with an older copy of the keeper's loop
in asyncio ("keeping the stack from here"): it restarted a crashed part, but had no
liveness probe (a stopped Temporal or a stuck worker stayed so), rotated no log and
started no guard, so a ``kill -9`` left what the parts ran in sessions of their own
running. An exec cannot be made to fail here for real, so the ``up`` process (and only
it: the parts start without it) gets a ``sitecustomize`` whose ``os.execv`` refuses the
keeper's command line with ENOMEM, as the kernel would."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.processes import WorkbenchUp, base_env
from tests.support.waiting import until

FAILING_EXEC = """\
import errno, os

# The parts of the stack start without this file: only `workbench up` fails its exec.
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p != {here!r}]
if any(_paths):
    os.environ["PYTHONPATH"] = os.pathsep.join(_paths)
else:
    os.environ.pop("PYTHONPATH", None)
_execv = os.execv


def _execv_failing_for_the_keeper(path, args):
    if any(str(arg).endswith("up_keeper.py") for arg in args):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")
    return _execv(path, args)


os.execv = _execv_failing_for_the_keeper
"""


def _child(up: WorkbenchUp, marker: str) -> psutil.Process | None:
    for child in psutil.Process(up.proc.pid).children():
        try:
            if marker in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def _gone(proc: psutil.Process) -> bool:
    """Exited and reaped (no zombie), or a different process that got its pid."""
    try:
        return not proc.is_running()
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(420)
def test_up_that_cannot_hand_over_keeps_the_stack_as_the_keeper_does(tmp_path: Path) -> None:
    home, notebooks, inject = tmp_path / "home", tmp_path / "notebooks", tmp_path / "inject"
    notebooks.mkdir()
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FAILING_EXEC.format(here=str(inject)))
    env = base_env(home)
    env |= {
        "PYTHONPATH": os.pathsep.join(p for p in (str(inject), env.get("PYTHONPATH")) if p),
        "WORKBENCH_LOG_MAX_BYTES": "8K",
        "WORKBENCH_LOG_KEEP": "2",
    }
    up = WorkbenchUp("--notebook-dir", str(notebooks), "--no-demo", env=env).wait_ready()
    logs = home / "logs"
    tree: list[psutil.Process] = []
    stopped = None
    try:
        said = until(
            lambda: "could not hand over" in up.output and up.output, 30, "the hand-over failing"
        )
        assert "Cannot allocate memory" in said, said
        assert "its keeper runs in this process instead" in said, said
        # Still the process that started the stack: no exec took place.
        assert "up_keeper.py" not in " ".join(psutil.Process(up.proc.pid).cmdline())
        worker = _child(up, "workbench_server.cli worker")
        assert worker is not None
        assert str(inject) not in worker.environ().get("PYTHONPATH", "")

        auth = {"Authorization": f"token {up.token}"}
        with httpx.Client(base_url=up.url, headers=auth, timeout=30) as client:

            def health() -> dict:
                return client.get("/workbench/api/health").json()

            until(lambda: health()["status"] == "ok", 90, "health ok")

            # The logs are rotated: every 404 is a line in lab.log.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not (logs / "lab.log.1").exists():
                for n in range(50):
                    assert client.get(f"/api/no-such-route-{n}").status_code == 404
                time.sleep(1)
            assert (logs / "lab.log.1").exists(), sorted(p.name for p in logs.iterdir())

            # A Temporal that stops answering is killed and started again.
            stopped = _child(up, "start-dev")
            assert stopped is not None
            stopped.suspend()

            def restarting() -> str | None:
                detail = health()["checks"]["temporal"]["detail"]
                return detail if "restarting since" in detail else None

            detail = until(restarting, 90, "health saying Temporal is restarting")
            assert "stopped answering" in detail, detail
            until(lambda: _gone(stopped), 30, "the stopped Temporal killed and reaped")
            until(lambda: health()["status"] == "ok", 120, "health ok again")

        # A kill -9 leaves nothing running, nor a zombie: the guard stops the rest.
        time.sleep(3)  # the guard's list is at most 2 s old
        tree = up.descendants()
        names = " ".join(" ".join(p.cmdline()) for p in tree)
        for part in (
            "jupyterlab",
            "start-dev",
            "workbench_server.cli worker",
            "workbench-up-guard",
        ):
            assert part in names, (part, names)
        up.proc.send_signal(signal.SIGKILL)
        up.proc.wait(30)
        until(lambda: all(_gone(p) for p in tree), 30, "every process of the stack gone")
        assert not (home / "run" / "stack.pids").exists()
    finally:
        for proc in [*tree, *([stopped] if stopped else [])]:  # ours, by PID
            if not _gone(proc):
                proc.kill()
        up.kill()
