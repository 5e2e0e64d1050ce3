"""OpenLineage events of real pipeline runs: a real Temporal dev server, real workers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

from sqlalchemy import select

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.openlineage import validate_event
from tests.support.runs import HEARTBEAT_S, SHORT_HEARTBEAT_ENV, record_run
from workbench_pipelines.plan import RetryPlan, RunEvent, RunPlan, StepPlan
from workbench_pipelines.workflows import PipelineRunWorkflow
from workbench_server import temporal
from workbench_server.db.models import Run
from workbench_server.lineage.openlineage import run_uuid


def _register(workbench, run_id: str) -> None:
    record_run(workbench, run_id, "close")


async def _start(address: str, task_queue: str, plan: RunPlan) -> str:
    client = await temporal.connect(address)
    handle = await client.start_workflow(
        PipelineRunWorkflow.run, plan, id=f"run-{plan.run_id}", task_queue=task_queue
    )
    return handle.id


async def _result(address: str, workflow_id: str) -> RunEvent:
    client = await temporal.connect(address)
    handle = client.get_workflow_handle(workflow_id, result_type=RunEvent)
    return await asyncio.wait_for(handle.result(), 180)


def test_an_attempt_lost_with_its_worker_is_closed_when_the_run_ends(
    workbench, home: Path, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    """Its worker killed mid-step, attempt 1 never reports an end: without an ABORT,
    consumers show it running for ever."""
    started = tmp_path / "started"
    notebook = write_notebook(
        tmp_path / "slow.ipynb",
        "import time\nopen(marker, 'a').write('x')\n"
        # the attempt killed sleeps; the one run again need not wait as long
        "time.sleep(4 if open(marker).read() == 'x' else 0.2)",
        parameters="marker = ''",
    )
    run_id = uuid.uuid4().hex
    _register(workbench, run_id)
    plan = RunPlan(
        run_id=run_id,
        pipeline="close",
        version=1,
        logical_date="2026-10-31",
        artifacts_dir=str(tmp_path / "artifacts"),
        steps=[
            StepPlan(
                id="gold",
                notebook=str(notebook),
                parameters={"marker": str(started)},
                retries=RetryPlan(backoff_s=1),
            )
        ],
        heartbeat_timeout_s=HEARTBEAT_S,  # the installation's setting, as the core puts it
    )
    sent = tmp_path / "openlineage.jsonl"
    env = SHORT_HEARTBEAT_ENV | {
        "WORKBENCH_OPENLINEAGE_TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(sent), "append": True}
        )
    }
    first = spawn_worker(home, temporal_address, task_queue, extra_env=env)
    second = None
    try:
        workflow_id = asyncio.run(_start(temporal_address, task_queue, plan))
        deadline = time.monotonic() + 90
        while not started.exists():
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.1)
        first.kill()  # SIGKILL: the attempt reports nothing
        first.wait()
        second = spawn_worker(home, temporal_address, task_queue, extra_env=env)
        result = asyncio.run(_result(temporal_address, workflow_id))
    finally:
        first.kill()
        if second is not None:
            stop_worker(second)  # sends what it queued
    assert result.status == "succeeded", result

    events = [json.loads(line) for line in sent.read_text().splitlines() if line.strip()]
    for event in events:
        validate_event(event)
    by_run: dict[str, list[str]] = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event["eventType"])
    lost, rerun = run_uuid(run_id, "gold", 1), run_uuid(run_id, "gold", 2)
    assert by_run[lost] == ["START", "ABORT"]
    assert by_run[rerun] == ["START", "COMPLETE"]
    assert by_run[run_uuid(run_id)] == ["START", "COMPLETE"]
    [abort] = [e for e in events if e["eventType"] == "ABORT"]
    assert abort["job"]["name"] == "close.gold"
    assert abort["run"]["facets"]["parent"]["run"]["runId"] == run_uuid(run_id)
    assert abort["run"]["facets"]["workbench"]["attempt"] == 1
    assert abort["run"]["facets"]["errorMessage"]["message"].startswith("lost")
    # The pipeline run's own end comes after every attempt's.
    assert events[-1]["run"]["runId"] == run_uuid(run_id)
    with workbench.sessions() as session:
        assert session.scalar(select(Run.status).where(Run.id == run_id)) == "succeeded"


def test_a_steps_decimal_parameter_is_recorded_as_written(
    workbench, home: Path, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    """A decimal travels to the worker as {"$decimal": "1234567.10"}; the step's recorded
    parameters (its OpenLineage run facet, which lineage consumers show on the run's
    page and in their REST API) showed that wire form instead of "1234567.10"."""
    notebook = write_notebook(
        tmp_path / "pay.ipynb",
        "assert type(amount).__name__ == 'Decimal' and str(amount) == '1234567.10', amount",
        parameters="amount = 0",
    )
    run_id = uuid.uuid4().hex
    _register(workbench, run_id)
    parameters = {"amount": {"$decimal": "1234567.10"}, "lines": [{"$decimal": "0.10"}, 2]}
    plan = RunPlan(
        run_id=run_id,
        pipeline="close",
        version=1,
        logical_date="2026-10-31",
        artifacts_dir=str(tmp_path / "artifacts"),
        steps=[StepPlan(id="pay", notebook=str(notebook), parameters=parameters)],
    )
    sent = tmp_path / "openlineage.jsonl"
    env = {
        "WORKBENCH_OPENLINEAGE_TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(sent), "append": True}
        )
    }
    worker = spawn_worker(home, temporal_address, task_queue, extra_env=env)
    try:
        result = asyncio.run(
            _result(temporal_address, asyncio.run(_start(temporal_address, task_queue, plan)))
        )
    finally:
        stop_worker(worker)
    assert result.status == "succeeded", result  # the notebook still got a Decimal
    events = [json.loads(line) for line in sent.read_text().splitlines() if line.strip()]
    [start] = [
        e
        for e in events
        if e["eventType"] == "START" and e["run"]["runId"] == run_uuid(run_id, "pay", 1)
    ]
    validate_event(start)
    recorded = start["run"]["facets"]["workbench"]["parameters"]
    assert recorded == {"amount": "1234567.10", "lines": ["0.10", 2]}, recorded
    assert "$decimal" not in json.dumps(events)
