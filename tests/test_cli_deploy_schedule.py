"""``workbench pipeline deploy`` of a scheduled pipeline says when it runs next, in the
schedule's time zone and UTC, or that it is paused and how to start it (an admin who
scheduled the month-end close was told only "schedule created", and no command showed
the next run). Against a real Temporal dev server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench

PARIS = ZoneInfo("Europe/Paris")


def _file(tmp_path: Path, name: str, schedule: str) -> str:
    write_notebook(tmp_path / name / "tick.ipynb", "print(1)")
    path = tmp_path / name / "p.yaml"
    path.write_text(
        f"name: {name}\nschedule:\n{schedule}\nsteps:\n  - id: tick\n    notebook: tick.ipynb\n"
    )
    return str(path)


def test_deploy_says_when_the_schedule_runs_next(home, tmp_path, temporal_address, task_queue):
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    before = datetime.now(UTC)
    deployed = run_workbench(
        "pipeline",
        "deploy",
        _file(tmp_path, "daily_close", '  cron: "30 6 * * *"\n  timezone: Europe/Paris'),
        env=env,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    today = before.astimezone(PARIS).replace(hour=6, minute=30, second=0, microsecond=0)
    due = today if today > before else (today + timedelta(days=1)).replace(hour=6, minute=30)
    assert deployed.stdout.splitlines()[-1] == (
        f"schedule created: cron '30 6 * * *' in Europe/Paris; next run "
        f"{due:%Y-%m-%d} 06:30 Europe/Paris ({due.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
    )

    paused = run_workbench(
        "pipeline",
        "deploy",
        _file(tmp_path, "held", "  interval: 15m\n  paused: true"),
        env=env,
    )
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert paused.stdout.splitlines()[-1] == (
        "schedule created: every 15m in UTC, paused "
        "(workbench pipeline schedule held resume starts it)"
    )
    for name in ("daily_close", "held"):
        run_workbench("pipeline", "schedule", name, "delete", env=env)
