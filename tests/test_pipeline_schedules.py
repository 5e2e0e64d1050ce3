"""Schedules are real Temporal Schedules: they fire on time, pause, and backfill."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench
from workbench_server.db.models import Run


def _deploy(tmp_path: Path, name: str, env: dict[str, str], schedule: str) -> None:
    write_notebook(tmp_path / "src" / "tick.ipynb", "print(ds)", parameters="ds = ''")
    (tmp_path / "src" / "p.yaml").write_text(f"""\
name: {name}
schedule:
{schedule}
steps:
  - id: tick
    notebook: tick.ipynb
    kernel: python3
    parameters: {{ds: "{{{{ ds }}}}"}}
""")
    deployed = run_workbench("pipeline", "deploy", str(tmp_path / "src" / "p.yaml"), env=env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "schedule created" in deployed.stdout


def _runs(workbench) -> list[Run]:
    with workbench.sessions() as session:
        return list(session.scalars(select(Run).order_by(Run.created_at)))


def _wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return predicate()


def test_backfill_of_three_days_gives_three_runs_with_their_ds(
    tmp_path: Path, home: Path, workbench, worker, temporal_address: str, task_queue: str
) -> None:
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    _deploy(
        tmp_path,
        "backfilled",
        env,
        '  cron: "0 6 * * *"\n  timezone: Europe/Brussels\n  paused: true\n  overlap: allow_all',
    )
    filled = run_workbench(
        "pipeline",
        "schedule",
        "backfilled",
        "backfill",
        "--from",
        "2026-10-01T00:00:00",
        "--to",
        "2026-10-03T23:00:00",
        env=env,
    )
    assert filled.returncode == 0, filled.stderr
    runs = _wait_for(
        lambda: (
            [r for r in _runs(workbench) if r.status == "succeeded"]
            if len([r for r in _runs(workbench) if r.status == "succeeded"]) >= 3
            else None
        ),
        120,
    )
    assert runs, [(r.logical_date, r.status) for r in _runs(workbench)]
    assert sorted(r.logical_date for r in runs) == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert {r.trigger for r in runs} == {"schedule"}
    assert run_workbench("pipeline", "schedule", "backfilled", "delete", env=env).returncode == 0


def test_every_minute_schedule_fires_twice_then_pauses(
    tmp_path: Path, home: Path, workbench, worker, temporal_address: str, task_queue: str
) -> None:
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    _deploy(tmp_path, "ticker", env, '  cron: "* * * * *"')
    two = _wait_for(lambda: _runs(workbench) if len(_runs(workbench)) >= 2 else None, 150)
    assert two, "the schedule did not fire twice within 150 s"
    # Fired on time: each run was recorded within seconds of its minute.
    for run in two[:2]:
        assert run.created_at.second <= 10, run.created_at
    paused = run_workbench("pipeline", "schedule", "ticker", "pause", env=env)
    assert paused.returncode == 0, paused.stderr
    count = len(_runs(workbench))
    time.sleep(70)
    assert len(_runs(workbench)) == count
    assert run_workbench("pipeline", "schedule", "ticker", "delete", env=env).returncode == 0
