"""The ``workbench`` commands other than ``up``: version, doctor, worker."""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.utils import make_default_short_help

from tests.support.processes import base_env, run_workbench, workbench_argv
from workbench_server import __version__
from workbench_server.cli import LAZY_COMMANDS
from workbench_server.db import make_engine, upgrade_to_head


def test_version() -> None:
    result = run_workbench("version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_help_lists_every_command_with_its_own_help_without_importing_them() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "workbench_server.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=base_env(Path("/nonexistent-home")),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    listed = {
        line.split()[0]: " ".join(line.split()[1:])
        for line in result.stdout.split("Commands:", 1)[1].splitlines()
        if line.strip()
    }
    assert set(listed) == {*LAZY_COMMANDS, "version", "worker"}
    # Each line is the command's own help, as click would list it from the command.
    for name, (where, _) in LAZY_COMMANDS.items():
        module, attribute = where.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert command.get_short_help_str(10**4).startswith(listed[name].removesuffix("...")), name
        assert make_default_short_help(LAZY_COMMANDS[name][1], 10**4) == (
            command.get_short_help_str(10**4)
        ), name
    # ... printed without loading a subcommand, the core's models or the data libraries
    # (`workbench --help` took 5-8 s on a busy machine when it did).
    imported = {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    heavy = {"sqlalchemy", "pydantic", "temporalio", "workbench_server.db", "asyncio"}
    assert heavy.isdisjoint(imported), heavy & imported
    assert not {m for m in imported if m.startswith("workbench_server.cli.")}


def test_doctor_passes_on_a_working_setup(
    home: Path, temporal_address: str, task_queue: str, worker: subprocess.Popen[bytes]
) -> None:
    upgrade_to_head(make_engine(f"sqlite:///{home / 'metadata.db'}"))
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    result = run_workbench("doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("ok")}
    assert {"python", "lab", "temporal", "ports", "home", "metadata", "run"} <= checks, (
        result.stdout
    )
    assert "ran a ping through worker workbench-worker-" in result.stdout


def test_doctor_names_what_is_wrong(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    env = base_env(home) | {"WORKBENCH_TEMPORAL_ADDRESS": "127.0.0.1:1"}
    result = run_workbench("doctor", env=env, timeout=60)
    assert result.returncode == 1
    failing = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert any("metadata DB at revision None" in line for line in failing), result.stdout
    assert any("127.0.0.1:1" in line for line in failing), result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_worker_without_temporal_is_one_line_error(tmp_path: Path) -> None:
    result = run_workbench(
        "worker",
        "--temporal",
        "127.0.0.1:1",
        "--connect-timeout",
        "2",
        env=base_env(tmp_path / "h"),
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "workbench: error: Temporal at 127.0.0.1:1 did not answer within 2 s"
    ], result.stderr


def test_worker_stops_gracefully_on_sigterm(
    tmp_path: Path, temporal_address: str, task_queue: str
) -> None:
    proc = subprocess.Popen(
        workbench_argv("worker", "--temporal", temporal_address, "--task-queue", task_queue),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=base_env(tmp_path / "h"),
    )
    try:
        seen: list[str] = []
        while len(seen) < 20 and not any("polling task queue" in line for line in seen):
            seen.append(proc.stdout.readline())
        assert "polling task queue" in seen[-1], seen
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert time.monotonic() - started < 30
    finally:
        if proc.poll() is None:
            proc.kill()
