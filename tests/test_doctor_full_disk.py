"""``workbench doctor`` on a full disk names the disk for the metadata DB: its line said
"OperationalError: (sqlite3.OperationalError) disk I/O error" (SQLite cannot make its
journal), which sent an operator looking for a failing disk. It now says which file
system is full and how much is free, and passes again once space is freed.

The file system is a real tmpfs of a few MB (tests/test_full_home.py's), so the test
needs root (mount); elsewhere it is skipped saying so.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import base_env, run_workbench
from tests.test_full_home import _fill, small_disk  # noqa: F401 - small_disk is a fixture
from workbench_server.core import Workbench
from workbench_server.settings import WorkbenchSettings


def _db_line(doctor_output: str) -> str:
    return next(line for line in doctor_output.splitlines() if " metadata DB " in line)


def test_doctor_says_the_disk_of_the_metadata_db_is_full(small_disk: Path) -> None:  # noqa: F811
    home = small_disk / "home"
    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    Workbench(settings).close()  # migrated, as `workbench up` leaves it
    env = base_env(home)
    before = run_workbench("doctor", env=env)
    assert _db_line(before.stdout).startswith("ok"), before.stdout

    filler = _fill(small_disk)
    try:
        doctor = run_workbench("doctor", env=env)
        assert doctor.returncode == 1
        line = _db_line(doctor.stdout)
        assert line.startswith("FAIL"), doctor.stdout
        assert f"the file system holding {home / 'metadata.db'} is full (0 bytes free)" in line
        assert "OperationalError" not in line, line
        assert "Traceback" not in doctor.stdout + doctor.stderr
    finally:
        filler.unlink()
    freed = run_workbench("doctor", env=env)
    assert _db_line(freed.stdout).startswith("ok"), freed.stdout
