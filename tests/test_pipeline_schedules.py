"""Schedules are real Temporal Schedules: they fire on time, pause, and backfill."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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
    # Days as a user types them: --to is inclusive, in the schedule's time zone (06:00 in
    # Brussels is 04:00 UTC; the 3rd's firing was left out when --to meant its midnight
    # UTC).
    filled = run_workbench(
        "pipeline",
        "schedule",
        "backfilled",
        "backfill",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-03",
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
    assert filled.stdout.strip() == (
        "backfill: done, 3 runs: the firings from 2026-10-01 00:00 to 2026-10-03 24:00 "
        "Europe/Brussels"
    )
    bad = run_workbench(
        "pipeline", "schedule", "backfilled", "backfill", "--from", "2026-10-32", "--to",
        "2026-10-03", env=env,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "--from: '2026-10-32' is not a day (YYYY-MM-DD)" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    assert run_workbench("pipeline", "schedule", "backfilled", "delete", env=env).returncode == 0


def test_a_backfill_over_years_says_how_many_runs_and_starts_none_unasked(
    tmp_path: Path, home: Path, workbench, temporal_address: str, task_queue: str
) -> None:
    """``backfill --from 2019-01-01 --to 2024-12-31`` on a daily schedule started 2,192
    runs at once, with no question and no word of how many."""
    import asyncio

    from workbench_server import temporal
    from workbench_server.pipelines.schedules import schedule_id

    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    _deploy(
        tmp_path, "yearly", env, '  cron: "30 6 * * *"\n  timezone: Europe/Paris\n  paused: true'
    )
    years = ("--from", "2019-01-01", "--to", "2024-12-31")
    refused = run_workbench("pipeline", "schedule", "yearly", "backfill", *years, env=env)
    assert refused.returncode != 0, refused.stdout
    assert "this starts 2192 runs of yearly" in refused.stderr, refused.stderr
    assert "nothing was started" in refused.stderr and "--yes" in refused.stderr
    assert "Traceback" not in refused.stderr

    async def actions() -> int:
        client = await temporal.connect(temporal_address)
        described = await client.get_schedule_handle(schedule_id("yearly")).describe()
        return described.info.num_actions

    time.sleep(2)  # a backfill's firings are taken within a second
    assert asyncio.run(actions()) == 0
    # Below the threshold nothing is asked; the answer says how many.
    few = run_workbench(
        "pipeline", "schedule", "yearly", "backfill", "--from", "2026-10-01T06:30",
        "--to", "2026-10-01T06:30", env=env,
    )  # fmt: skip
    assert few.returncode == 0, few.stderr
    assert few.stdout.startswith("backfill: done, 1 run: the firings from"), few.stdout
    assert _wait_for(lambda: asyncio.run(actions()) == 1, 30)
    assert run_workbench("pipeline", "schedule", "yearly", "delete", env=env).returncode == 0


# A cron schedule that fires every 5 seconds: Temporal's 7-field form (second first, year
# last), which pipelines accept. The same firing, on-time and pause checks as an
# every-minute cron, in a twelfth of the wait. Each run's due time is the one Temporal
# puts at the end of the firing's workflow ID, so a run 10 s late cannot pass for one on
# time.
EVERY_S = 5


def test_every_minute_schedule_fires_twice_then_pauses(
    tmp_path: Path, home: Path, workbench, worker, temporal_address: str, task_queue: str
) -> None:
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    # allow_all: a run still going when the next one is due (a loaded machine) does not
    # make Temporal skip that firing.
    _deploy(tmp_path, "ticker", env, f'  cron: "*/{EVERY_S} * * * * * *"\n  overlap: allow_all')
    two = _wait_for(
        lambda: _runs(workbench) if len(_runs(workbench)) >= 2 else None, 2.5 * EVERY_S + 100
    )
    assert two, "the schedule did not fire twice"
    # Fired on time: each run was recorded within 10 seconds of its due time, and the two
    # are consecutive firings.
    due = [
        datetime.fromisoformat(run.workflow_id.removeprefix("scheduled-ticker-")) for run in two[:2]
    ]
    assert due[1] - due[0] == timedelta(seconds=EVERY_S), [r.workflow_id for r in two]
    for run, at in zip(two[:2], due, strict=True):
        assert at.second % EVERY_S == 0, run.workflow_id
        late = run.created_at.replace(tzinfo=UTC) - at
        assert timedelta(0) <= late <= timedelta(seconds=10), (run.created_at, at)
    paused = run_workbench("pipeline", "schedule", "ticker", "pause", env=env)
    assert paused.returncode == 0, paused.stderr
    count = len(_runs(workbench))
    time.sleep(EVERY_S + 10)  # a due time passes, and as long again as a firing may take
    assert len(_runs(workbench)) == count
    assert run_workbench("pipeline", "schedule", "ticker", "delete", env=env).returncode == 0


def test_a_firing_runs_its_pipeline_in_its_own_workflow_and_can_be_cancelled(
    tmp_path: Path, home: Path, workbench, worker, temporal_address: str, task_queue: str
) -> None:
    # No child workflow between a firing and its run (one round trip less before the run
    # is running): the firing's workflow is the run's, so a cancel and the run's step
    # states reach the run through it, as for a run started by hand.
    import asyncio

    from workbench_server import temporal
    from workbench_server.pipelines.runs import RunService
    from workbench_server.principal import Principal

    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    write_notebook(tmp_path / "src" / "slow.ipynb", "import time\ntime.sleep(120)")
    (tmp_path / "src" / "p.yaml").write_text(
        "name: slowly\nschedule:\n  cron: '0 6 * * *'\n  paused: true\n"
        "steps:\n  - id: wait\n    notebook: slow.ipynb\n    kernel: python3\n"
    )
    deployed = run_workbench("pipeline", "deploy", str(tmp_path / "src" / "p.yaml"), env=env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    fired = run_workbench("pipeline", "schedule", "slowly", "trigger", env=env)
    assert fired.returncode == 0, fired.stderr
    run = _wait_for(lambda: next((r for r in _runs(workbench) if r.status == "running"), None), 120)
    assert run is not None, [(r.status, r.error) for r in _runs(workbench)]
    assert run.workflow_id.startswith("scheduled-slowly")  # the firing's own workflow

    workbench.settings.temporal_address = temporal_address
    workbench.settings.task_queue = task_queue

    async def states() -> dict[str, str]:
        client = await temporal.connect(temporal_address)
        handle = client.get_workflow_handle(run.workflow_id)
        return await handle.query("step_states")

    assert _wait_for(lambda: asyncio.run(states()) == {"wait": "running"}, 60)
    service = RunService(workbench, Principal(name="root", admin=True))
    asyncio.run(service.cancel(run.id))
    ended = _wait_for(
        lambda: next((r for r in _runs(workbench) if r.id == run.id and r.finished_at), None),
        90,
    )
    assert ended is not None and ended.status == "cancelled", ended
    assert run_workbench("pipeline", "schedule", "slowly", "delete", env=env).returncode == 0
