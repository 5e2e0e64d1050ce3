"""``workbench lake``: versions, diff, show, optimize, vacuum, migrate from a terminal, and
maintenance on a Temporal Schedule run by a real worker."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.processes import base_env, run_workbench
from workbench_server import temporal
from workbench_server.lake import Lake, WriterInfo
from workbench_server.lake.schedules import schedule_id
from workbench_server.settings import WorkbenchSettings


def _lake(home: Path) -> Lake:
    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    return Lake.default(settings)


def test_versions_diff_and_show_from_the_terminal(home: Path) -> None:
    lake = _lake(home)
    run = WriterInfo(pipeline="close", run_id="r-9", step="merge", attempt=1)
    lake.write("silver.partners", pa.table({"id": [1, 2], "city": ["Lyon", "Gent"]}), writer=run)
    lake.write(
        "silver.partners",
        pa.table({"id": [2, 3], "city": ["Gand", "Oslo"]}),
        mode="merge",
        keys=["id"],
        writer=run,
    )
    env = base_env(home)

    versions = run_workbench("lake", "versions", "silver.partners", env=env)
    assert versions.returncode == 0, versions.stderr
    lines = versions.stdout.splitlines()
    assert lines[1].split()[:4] == ["2", lines[1].split()[1], lines[1].split()[2], "MERGE"]
    assert lines[1].endswith("pipeline close run r-9 step merge attempt 1")
    assert re.search(r"APPEND\s+2\s+0\s+0", lines[2])
    assert lines[3].split()[3] == "CREATE"

    diff = run_workbench("lake", "diff", "silver.partners", "--from", "1", "--to", "2", env=env)
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.splitlines() == [
        "silver.partners 1 -> 2 by id: 1 added, 0 removed, 1 changed",
        "  added    id=3",
        "  changed  id=2: city: Gent -> Gand",
    ]
    as_json = run_workbench(
        "lake",
        "diff",
        "silver.partners",
        "--from",
        "2",
        "--to",
        "1",
        "--key",
        "id",
        "--json",
        env=env,
    )
    assert json.loads(as_json.stdout)["removed_rows"] == [{"id": 3, "city": "Oslo"}]

    shown = run_workbench("lake", "show", "silver.partners", "--version", "1", env=env)
    assert sorted(shown.stdout.splitlines()[1:]) == ["1\tLyon", "2\tGent"]

    bad = run_workbench("lake", "diff", "silver.partners", "--from", "0", "--to", "7", env=env)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "workbench: error: silver.partners has versions 0 to 2, not 7"
    missing = run_workbench("lake", "versions", "gold.nothing", env=env)
    assert missing.stderr.strip() == "workbench: error: no lake table gold.nothing in lake"


def test_migrate_optimize_and_vacuum_from_the_terminal(home: Path) -> None:
    lake = _lake(home)
    folder = Path(lake.location.root) / "bronze" / "orders"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2]}), folder / "part-0.parquet")
    for i in range(3):
        lake.write("silver.small", pa.table({"id": [i]}))
    env = base_env(home)

    migrated = run_workbench("lake", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert re.search(r"bronze\.orders\s+converted \(1 file, version 0\)", migrated.stdout)
    assert re.search(r"silver\.small\s+already delta", migrated.stdout)

    optimized = run_workbench("lake", "optimize", "silver.small", env=env)
    assert optimized.returncode == 0, optimized.stderr
    assert re.search(r"silver\.small\s+optimize\s+3 files compacted into 1", optimized.stdout)
    vacuumed = run_workbench("lake", "vacuum", env=env)
    assert vacuumed.returncode == 0, vacuumed.stderr
    assert re.search(
        r"bronze\.orders\s+vacuum\s+0 files deleted \(keeps 365 days\)", vacuumed.stdout
    )
    assert re.search(r"silver\.small\s+vacuum\s+0 files deleted \(keeps 30 days\)", vacuumed.stdout)

    short = run_workbench("lake", "vacuum", env=env | {"WORKBENCH_LAKE_RETENTION_DAYS": "gold=0"})
    assert short.returncode == 1
    assert "WORKBENCH_LAKE_RETENTION_DAYS" in short.stderr and "at least 1" in short.stderr


@pytest.mark.timeout(300)
def test_maintenance_runs_on_a_schedule_on_the_worker(
    home: Path, workbench, worker, temporal_address: str, task_queue: str
) -> None:
    lake = Lake.default(workbench.settings)
    for i in range(4):
        lake.write("gold.kpis", pa.table({"id": [i]}))
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    scheduled = run_workbench("lake", "schedule", "--cron", "30 2 * * *", env=env)
    assert scheduled.returncode == 0, scheduled.stderr
    assert re.match(r"lake: maintenance at '30 2 \* \* \*' \(UTC\); next: \d{4}", scheduled.stdout)
    bad = run_workbench("lake", "schedule", "--cron", "61 * * * *", env=env)
    assert bad.returncode == 1 and "minute" in bad.stderr

    async def trigger() -> None:
        client = await temporal.connect(temporal_address)
        await client.get_schedule_handle(schedule_id(None)).trigger()

    asyncio.run(trigger())
    deadline = time.monotonic() + 120
    while lake.versions("gold.kpis")[0].operation != "OPTIMIZE":
        assert time.monotonic() < deadline, "no maintenance ran"
        time.sleep(0.5)
    optimized = lake.versions("gold.kpis")[0]
    assert optimized.writer.tool == "maintenance"
    assert optimized.writer.run_id.startswith("lake-maintenance")
    assert sorted(lake.read("gold.kpis")["id"].to_pylist()) == [0, 1, 2, 3]

    off = run_workbench("lake", "schedule", "--off", env=env)
    assert off.returncode == 0 and off.stdout.strip() == "lake: scheduled maintenance stopped"
    gone = run_workbench("lake", "schedule", env=env)
    assert gone.stderr.strip() == "workbench: error: lake 'lake' has no maintenance schedule"
