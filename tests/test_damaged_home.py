"""A home whose metadata DB file is damaged (overwritten, truncated by a bad copy), as
an operator meets it: every command said so in a 40-line SQLAlchemy traceback, and
``workbench up`` restarted its worker in a loop giving as the reason the traceback's last
line, "(Background on this error at: https://sqlalche.me/e/21/4xp6)". Now each says in
one line that the file cannot be read and where a backup is restored from."""

from __future__ import annotations

from pathlib import Path

import psutil

from tests.support.processes import base_env, run_workbench
from workbench_server.core import Workbench
from workbench_server.settings import WorkbenchSettings

MESSAGE = (
    "workbench: error: the metadata database cannot be read (file is not a database); "
    "restore it from a backup (docs/backup.md)"
)


def test_a_damaged_metadata_db_is_one_line_naming_the_way_back(
    home: Path, temporal_address: str, task_queue: str
) -> None:
    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    Workbench(settings).close()  # a migrated DB, then damaged where SQLite looks first
    db = home / "metadata.db"
    with db.open("r+b") as handle:
        handle.write(b"not a database, whatever it was" * 4)
    env = base_env(home)

    listed = run_workbench("connection", "list", env=env)
    assert listed.returncode == 1
    assert listed.stderr.strip() == MESSAGE, listed.stderr

    # What workbench up's supervisor shows as the reason a worker stopped: its last line.
    worker = run_workbench(
        "worker", "--temporal", temporal_address, "--task-queue", task_queue, env=env
    )
    assert worker.returncode == 1
    assert worker.stderr.strip().splitlines()[-1] == MESSAGE, worker.stderr
    assert "Traceback" not in worker.stderr, worker.stderr


def test_workbench_up_on_a_damaged_metadata_db_stops_before_its_banner(home: Path) -> None:
    """A home an earlier ``up`` prepared, whose DB was damaged since: ``up`` printed its URL
    ("ready") and then restarted its worker in a loop. It now stops before the banner with
    the same one line, and leaves nothing running."""
    from workbench_server.prepared import mark_prepared

    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    Workbench(settings).close()
    mark_prepared(settings.workbench_home.run_dir, settings.db_url, demo=False)
    with (home / "metadata.db").open("r+b") as handle:
        handle.write(b"not a database, whatever it was" * 4)

    result = run_workbench("up", "--no-demo", env=base_env(home), timeout=120)
    assert result.returncode != 0
    assert "http://" not in result.stdout + result.stderr, result.stdout
    assert MESSAGE.removeprefix("workbench: error: ") in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "sqlalche.me" not in result.stderr
    leftover = [
        p.info["pid"]
        for p in psutil.process_iter(["pid", "cmdline"])
        if str(home) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftover == []
