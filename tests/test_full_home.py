"""A workbench home on a file system that fills up, as an operator meets it: health,
``workbench status``'s source, says the metadata DB cannot save anything (it said ``ok``
while every run and change failed with "database or disk is full"), ``workbench doctor``
says the home is full (it said "writable"), and a command that writes prints one line
naming the cause (it printed SQLAlchemy's 60-line traceback). All of it clears once
space is freed.

The file system is a real tmpfs of a few MB, so the test needs root (mount); elsewhere
it is skipped saying so.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench
from workbench_server.core import Workbench
from workbench_server.settings import WorkbenchSettings


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


def _fill(folder: Path) -> Path:
    """Write zeros into ``folder`` until its file system has no byte left."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb") as handle:
        try:
            for _ in range(100_000):  # bounded: 6 GB, far beyond the tmpfs
                handle.write(chunk)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    assert os.statvfs(folder).f_bavail == 0
    return filler


def test_a_full_home_is_reported_and_refused_in_one_line(small_disk: Path, tmp_path: Path) -> None:
    home = small_disk / "home"
    src = tmp_path / "src"
    write_notebook(src / "load.ipynb", "x = 1")
    (src / "load.yaml").write_text(
        "name: nightly_load\nsteps:\n  - {id: load, notebook: load.ipynb, kernel: python3}\n"
    )
    env = base_env(home)
    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    core = Workbench(settings)  # as the running server: it keeps the DB open
    try:
        deployed = run_workbench("pipeline", "deploy", str(src / "load.yaml"), env=env)
        assert deployed.returncode == 0, deployed.stderr
        with core.sessions() as session:
            session.execute(text("SELECT count(*) FROM pipelines"))
        healthy = asyncio.run(core.health(timeout=10)).checks["metadata_db"]
        assert healthy.status == "ok", healthy

        filler = _fill(small_disk)

        check = asyncio.run(core.health(timeout=10)).checks["metadata_db"]
        assert check.status == "down", check
        assert f"the file system holding {home / 'metadata.db'} is full" in check.detail
        assert "nothing can be saved" in check.detail

        started = run_workbench("pipeline", "run", "nightly_load", env=env)
        assert started.returncode == 1, started
        assert "Traceback" not in started.stderr, started.stderr
        assert "database or disk is full" in started.stderr, started.stderr
        assert len(started.stderr.strip().splitlines()) == 1, started.stderr

        doctor = run_workbench("doctor", env=env)
        assert doctor.returncode == 1
        home_line = next(line for line in doctor.stdout.splitlines() if " home " in line)
        assert home_line.startswith("FAIL"), doctor.stdout
        assert "is full (0 bytes free)" in home_line, home_line

        # Space freed: every check is ok again, and the run is accepted by the DB.
        filler.unlink()
        assert asyncio.run(core.health(timeout=10)).checks["metadata_db"].status == "ok"
        doctor = run_workbench("doctor", env=env)
        home_line = next(line for line in doctor.stdout.splitlines() if " home " in line)
        assert home_line.startswith("ok"), doctor.stdout
    finally:
        core.close()
