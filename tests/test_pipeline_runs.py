"""Pipeline runs on a real Temporal dev server with a real worker and papermill."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select

from tests.support.notebooks import write_notebook
from tests.support.runs import HEARTBEAT_S, SHORT_HEARTBEAT_ENV, record_run
from workbench_pipelines.plan import RetryPlan, RunEvent, RunPlan, StepPlan
from workbench_pipelines.workflows import PipelineRunWorkflow
from workbench_server import temporal
from workbench_server.db.models import Run, StepRun


def _register_run(workbench, run_id: str) -> None:
    record_run(workbench, run_id)


def _plan(run_id: str, tmp_path: Path, steps: list[StepPlan]) -> RunPlan:
    return RunPlan(
        run_id=run_id,
        pipeline="diamond",
        version=1,
        logical_date="2026-10-31",
        artifacts_dir=str(tmp_path / "artifacts"),
        steps=steps,
    )


async def _execute(address: str, task_queue: str, plan: RunPlan):
    client = await temporal.connect(address)
    return await client.execute_workflow(
        PipelineRunWorkflow.run, plan, id=f"run-{plan.run_id}", task_queue=task_queue
    )


def _steps(workbench, run_id: str) -> list[StepRun]:
    with workbench.sessions() as session:
        return list(
            session.scalars(
                select(StepRun)
                .where(StepRun.run_id == run_id)
                .order_by(StepRun.step_id, StepRun.attempt)
            )
        )


@pytest.fixture
def diamond(tmp_path: Path) -> list[StepPlan]:
    nbs = tmp_path / "snapshot"
    out = tmp_path / "out"
    out.mkdir()
    sleepy = "import time, pathlib\ntime.sleep(1.5)\npathlib.Path(target).write_text(step)"
    a = write_notebook(
        nbs / "a.ipynb",
        "pathlib = __import__('pathlib')\npathlib.Path(target).write_text('a')",
        parameters="target = ''",
    )
    b = write_notebook(nbs / "b.ipynb", sleepy, parameters="target = ''\nstep = ''")
    c = write_notebook(nbs / "c.ipynb", sleepy, parameters="target = ''\nstep = ''")
    d = write_notebook(
        nbs / "d.ipynb",
        "import json, pathlib\n"
        "pathlib.Path(target).write_text(json.dumps({'ds': ds, 'company': company}))",
        parameters="target = ''\nds = ''\ncompany = 0",
    )
    return [
        StepPlan(id="a", notebook=str(a), parameters={"target": str(out / "a")}),
        StepPlan(
            id="b",
            notebook=str(b),
            depends_on=["a"],
            parameters={"target": str(out / "b"), "step": "b"},
        ),
        StepPlan(
            id="c",
            notebook=str(c),
            depends_on=["a"],
            parameters={"target": str(out / "c"), "step": "c"},
        ),
        StepPlan(
            id="d",
            notebook=str(d),
            depends_on=["b", "c"],
            parameters={"target": str(out / "d"), "ds": "2026-10-31", "company": 7},
        ),
    ]


def test_diamond_runs_b_and_c_in_parallel_and_d_gets_parameters(
    workbench, worker, temporal_address: str, task_queue: str, tmp_path: Path, diamond
) -> None:
    run_id = uuid.uuid4().hex
    _register_run(workbench, run_id)
    plan = _plan(
        run_id,
        tmp_path,
        steps=diamond,
    )
    result = asyncio.run(_execute(temporal_address, task_queue, plan))
    assert result.status == "succeeded", result
    assert json.loads((tmp_path / "out" / "d").read_text()) == {"ds": "2026-10-31", "company": 7}

    steps = {s.step_id: s for s in _steps(workbench, run_id)}
    assert {k: (s.status, s.attempt) for k, s in steps.items()} == {
        "a": ("succeeded", 1),
        "b": ("succeeded", 1),
        "c": ("succeeded", 1),
        "d": ("succeeded", 1),
    }
    b, c = steps["b"], steps["c"]
    assert b.started_at < c.finished_at and c.started_at < b.finished_at, "b and c overlapped"
    assert steps["a"].finished_at <= min(b.started_at, c.started_at)
    assert steps["d"].started_at >= max(b.finished_at, c.finished_at)
    for step in steps.values():
        executed = nbformat.read(step.output_notebook, as_version=4)
        assert (
            executed.metadata["papermill"]["status"]
            if "status" in executed.metadata.get("papermill", {})
            else True
        )
        assert any(
            "injected-parameters" in cell.metadata.get("tags", []) for cell in executed.cells
        )
    with workbench.sessions() as session:
        run = session.get(Run, run_id)
    assert run.status == "succeeded" and run.started_at and run.finished_at


def test_failing_cell_is_recorded_and_downstream_marked(
    workbench, worker, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    nbs = tmp_path / "snapshot"
    ok = write_notebook(nbs / "ok.ipynb", "x = 1")
    bad = write_notebook(nbs / "bad.ipynb", "y = 2", "raise ValueError('ledger does not balance')")
    run_id = uuid.uuid4().hex
    _register_run(workbench, run_id)
    plan = _plan(
        run_id,
        tmp_path,
        steps=[
            StepPlan(id="extract", notebook=str(ok)),
            StepPlan(
                id="check",
                notebook=str(bad),
                depends_on=["extract"],
                retries=RetryPlan(attempts=2, backoff_s=0.2),
            ),
            StepPlan(id="report", notebook=str(ok), depends_on=["check"]),
            StepPlan(id="side", notebook=str(ok), depends_on=["extract"]),
        ],
    )
    result = asyncio.run(_execute(temporal_address, task_queue, plan))
    assert result.status == "failed"
    assert result.step_states == {
        "extract": "succeeded",
        "check": "failed",
        "report": "upstream_failed",
        "side": "succeeded",
    }
    attempts = [s for s in _steps(workbench, run_id) if s.step_id == "check"]
    assert [(s.attempt, s.status) for s in attempts] == [(1, "failed"), (2, "failed")]
    # The cell's place in the executed notebook people open (papermill adds a banner at
    # the top, the parameters it injects and an anchor before it), and in the step's own
    # notebook as its author counts (its third cell): indexes, counted from 1 in the message.
    executed = nbformat.read(attempts[-1].output_notebook, as_version=4)
    failing = executed.cells[attempts[-1].failing_cell]
    assert failing.source == "raise ValueError('ledger does not balance')"
    own = nbformat.read(bad, as_version=4)
    assert own.cells[attempts[-1].notebook_cell].source == failing.source
    assert attempts[-1].notebook_cell == 2 < attempts[-1].failing_cell
    assert attempts[-1].error == (
        f"cell 3 of bad.ipynb (cell {attempts[-1].failing_cell + 1} in the executed notebook): "
        "ValueError: ledger does not balance"
    )
    assert "raise ValueError('ledger does not balance')" in attempts[-1].traceback
    assert "\x1b[" not in attempts[-1].traceback
    report = [s for s in _steps(workbench, run_id) if s.step_id == "report"]
    assert [(s.attempt, s.status) for s in report] == [(0, "upstream_failed")]


def test_a_huge_error_is_recorded_cut_and_kept_whole_in_the_executed_notebook(
    workbench, worker, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    """A cell that raises with a 3 MB message (a dump of data in the exception) once put
    the whole of it in the step's error and traceback, attempt after attempt: into the
    metadata DB, Temporal's history, every run page and `workbench pipeline show`. They
    are cut with a note; the executed notebook keeps the error whole."""
    nbs = tmp_path / "snapshot"
    bad = write_notebook(
        nbs / "dump.ipynb",
        "def deep(n):\n    if n == 0:\n        raise ValueError('rows: ' + 'x' * 3_000_000)\n"
        "    return deep(n - 1)\ndeep(200)",
    )
    run_id = uuid.uuid4().hex
    _register_run(workbench, run_id)
    plan = _plan(run_id, tmp_path, steps=[StepPlan(id="dump", notebook=str(bad))])
    result = asyncio.run(_execute(temporal_address, task_queue, plan))
    assert (result.status, result.step_states) == ("failed", {"dump": "failed"})
    (attempt,) = _steps(workbench, run_id)
    assert attempt.error.startswith("cell 2 of dump.ipynb (cell ")
    assert "ValueError: rows: xxxx" in attempt.error
    assert len(attempt.error) < 5_000, len(attempt.error)
    assert attempt.error.endswith(" characters more: the executed notebook has them)")
    assert len(attempt.traceback) < 70_000, len(attempt.traceback)
    assert "characters more: the executed notebook has them" in attempt.traceback
    assert "deep(200)" in attempt.traceback  # where it started, and where it ended:
    assert attempt.traceback.rstrip().endswith("x")
    executed = nbformat.read(attempt.output_notebook, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors[0].evalue) == len("rows: ") + 3_000_000


def test_timeout_stops_the_step_and_its_kernel(
    workbench, worker, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    import psutil

    pid_file = tmp_path / "kernel.pid"
    slow = write_notebook(
        tmp_path / "slow.ipynb",
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)",
    )
    run_id = uuid.uuid4().hex
    _register_run(workbench, run_id)
    plan = _plan(
        run_id,
        tmp_path,
        steps=[StepPlan(id="slow", notebook=str(slow), timeout_s=6)],
    )
    result = asyncio.run(_execute(temporal_address, task_queue, plan))
    assert result.status == "failed"
    attempts = _steps(workbench, run_id)
    assert [(s.attempt, s.status) for s in attempts] == [(1, "timed_out")]
    kernel_pid = int(pid_file.read_text())
    # One read of its status: a kernel that ends between "does it exist" and "what is its
    # status" is gone (NoSuchProcess), as stopped as a zombie.
    try:
        alive = psutil.Process(kernel_pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        alive = False
    assert not alive


async def _start(address: str, task_queue: str, plan: RunPlan) -> str:
    client = await temporal.connect(address)
    handle = await client.start_workflow(
        PipelineRunWorkflow.run, plan, id=f"run-{plan.run_id}", task_queue=task_queue
    )
    return handle.id


async def _result(address: str, workflow_id: str):
    client = await temporal.connect(address)
    handle = client.get_workflow_handle(workflow_id, result_type=RunEvent)
    return await asyncio.wait_for(handle.result(), 180)


async def _heartbeat_timeouts(address: str, workflow_id: str) -> dict[str, float]:
    """Each step's heartbeat timeout as Temporal scheduled its activity."""
    client = await temporal.connect(address)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found = {}
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == "workbench.run_step":
                step = json.loads(scheduled.input.payloads[0].data)["step"]["id"]
                found[step] = scheduled.heartbeat_timeout.ToTimedelta().total_seconds()
    return found


def test_killed_worker_loses_no_run_and_reruns_no_finished_step(
    workbench, home: Path, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    import time

    from tests.conftest import spawn_worker, stop_worker

    log = tmp_path / "executions.log"
    started_b = tmp_path / "b.started"
    quick = write_notebook(
        tmp_path / "quick.ipynb",
        "open(log, 'a').write(step + '\\n')",
        parameters="log = ''\nstep = ''",
    )
    slow = write_notebook(
        tmp_path / "slow.ipynb",
        "import time\nopen(marker, 'a').write('x')\n"
        # the attempt killed sleeps; the one run again need not wait as long
        "time.sleep(4 if open(marker).read() == 'x' else 0.2)\nopen(log, 'a').write('b\\n')",
        parameters="log = ''\nmarker = ''",
    )
    run_id = uuid.uuid4().hex
    _register_run(workbench, run_id)
    plan = _plan(
        run_id,
        tmp_path,
        steps=[
            StepPlan(id="a", notebook=str(quick), parameters={"log": str(log), "step": "a"}),
            StepPlan(
                id="b",
                notebook=str(slow),
                depends_on=["a"],
                parameters={"log": str(log), "marker": str(started_b)},
                retries=RetryPlan(backoff_s=1),
            ),
        ],
    )
    plan.heartbeat_timeout_s = HEARTBEAT_S  # as the core puts the installation's setting
    first = spawn_worker(home, temporal_address, task_queue, extra_env=SHORT_HEARTBEAT_ENV)
    second = None
    try:
        workflow_id = asyncio.run(_start(temporal_address, task_queue, plan))
        deadline = time.monotonic() + 90
        while not started_b.exists():
            assert time.monotonic() < deadline, "step b never started"
            time.sleep(0.1)
        first.kill()  # SIGKILL: no graceful shutdown, the attempt is simply lost
        first.wait()
        second = spawn_worker(home, temporal_address, task_queue, extra_env=SHORT_HEARTBEAT_ENV)
        result = asyncio.run(_result(temporal_address, workflow_id))
        timeouts = asyncio.run(_heartbeat_timeouts(temporal_address, workflow_id))
    finally:
        first.kill()
        if second is not None:
            stop_worker(second)
    assert result.status == "succeeded", result
    # Temporal timed the lost attempt out by the run's heartbeat timeout, not the default.
    assert timeouts == {"a": HEARTBEAT_S, "b": HEARTBEAT_S}, timeouts
    assert log.read_text().splitlines().count("a") == 1  # a did not run again
    attempts = [(s.step_id, s.attempt, s.status) for s in _steps(workbench, run_id)]
    assert attempts == [("a", 1, "succeeded"), ("b", 1, "lost"), ("b", 2, "succeeded")]


def test_step_that_fails_twice_then_succeeds_ends_green(
    workbench, worker, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    counter = tmp_path / "tries"
    flaky = write_notebook(
        tmp_path / "flaky.ipynb",
        "n = len(open(counter).read()) if __import__('os').path.exists(counter)"
        " else 0\nopen(counter, 'a').write('x')\n"
        "assert n >= 2, f'warehouse not ready (try {n + 1})'",
        parameters="counter = ''",
    )
    run_id = uuid.uuid4().hex
    _register_run(workbench, run_id)
    plan = _plan(
        run_id,
        tmp_path,
        steps=[
            StepPlan(
                id="flaky",
                notebook=str(flaky),
                parameters={"counter": str(counter)},
                retries=RetryPlan(attempts=3, backoff_s=0.2),
            )
        ],
    )
    result = asyncio.run(_execute(temporal_address, task_queue, plan))
    assert result.status == "succeeded"
    assert [(s.attempt, s.status) for s in _steps(workbench, run_id)] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]


def test_errors_a_retry_cannot_fix_fail_the_step_at_once(
    workbench, worker, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    """retries.retry_on and retries.non_retryable decide; the attempt says why it was
    not retried."""
    typo = write_notebook(tmp_path / "typo.ipynb", "print(totl)")
    bad = write_notebook(tmp_path / "bad.ipynb", "raise ValueError('ledger does not balance')")
    run_id = uuid.uuid4().hex
    _register_run(workbench, run_id)
    plan = _plan(
        run_id,
        tmp_path,
        steps=[
            # Only connection trouble is worth another try here.
            StepPlan(
                id="only_network",
                notebook=str(bad),
                retries=RetryPlan(attempts=3, backoff_s=0.2, retry_on=["ConnectionError"]),
            ),
            # An empty list retries everything, a NameError included.
            StepPlan(
                id="retry_all",
                notebook=str(typo),
                retries=RetryPlan(attempts=2, backoff_s=0.2, non_retryable=[]),
            ),
        ],
    )
    result = asyncio.run(_execute(temporal_address, task_queue, plan))
    assert result.status == "failed"
    attempts = [(s.step_id, s.attempt, s.status) for s in _steps(workbench, run_id)]
    assert attempts == [
        ("only_network", 1, "failed"),
        ("retry_all", 1, "failed"),
        ("retry_all", 2, "failed"),
    ]
    only_network = _steps(workbench, run_id)[0]
    assert only_network.error.endswith(
        "ValueError: ledger does not balance (not retried: ValueError is not listed in "
        "retries.retry_on)"
    )
