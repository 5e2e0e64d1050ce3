"""A metadata DB outage in the middle of a run: a real PostgreSQL, stopped and started.

The REST answers 503 with the cause while the DB is away, and the run's history stays
true: every attempt number recorded once, none lost by a worker that never stopped, and
no step run twice.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select
from tornado.httpclient import HTTPClientError

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.postgres import PostgresCluster, running_cluster
from tests.support.runs import HEARTBEAT_S, SHORT_HEARTBEAT_ENV, record_run
from tests.support.servers import workbench_server

# Longer than a step's heartbeat timeout (the installation's setting, short here): the
# attempt waiting for the DB to record its end must keep heartbeating, not be taken for
# lost and run again.
OUTAGE_S = 2.5 * HEARTBEAT_S

SPEC = """\
name: ledger
steps:
  - id: load
    notebook: load.ipynb
    kernel: python3
    parameters: {{started: "{started}", release: "{release}", log: "{log}"}}
    retries: {{attempts: 3, backoff: 1s}}
  - id: report
    notebook: report.ipynb
    kernel: python3
    depends_on: [load]
    parameters: {{log: "{log}"}}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL of this module's own (the session's serves others while this is down)."""
    with running_cluster(Path(tempfile.mkdtemp(prefix="workbench-pg-outage-"))) as cluster:
        yield cluster


@pytest.fixture
def metadata_url(cluster: PostgresCluster) -> Iterator[str]:
    """The metadata DB: a login role with a real password, owning its database."""
    name, password = f"m_{uuid.uuid4().hex[:10]}", secrets.token_urlsafe(18)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
        role = sql.Identifier(name)
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))
    yield f"postgresql://{name}:{password}@{cluster.host}:{cluster.port}/{name}"


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str, metadata_url: str):
    return workbench_server(
        home,
        db_url=metadata_url,
        temporal_address=temporal_address,
        task_queue=task_queue,
        step_heartbeat_timeout=HEARTBEAT_S,
    )


async def _json(jp_fetch, *path: str, **kwargs):
    response = await jp_fetch("workbench", "api", *path, **kwargs)
    return json.loads(response.body) if response.body else None


async def _refused(jp_fetch, *path: str) -> dict:
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("workbench", "api", *path)
    return {"code": refused.value.code, **json.loads(refused.value.response.body)}


async def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


@pytest.mark.timeout(420)
async def test_outage_mid_run_answers_503_and_keeps_the_history_true(
    jp_fetch,
    jp_root_dir: Path,
    home: Path,
    temporal_address: str,
    task_queue: str,
    cluster: PostgresCluster,
    metadata_url: str,
    tmp_path: Path,
) -> None:
    started, release, log = tmp_path / "started", tmp_path / "release", tmp_path / "ran.log"
    write_notebook(
        jp_root_dir / "flows" / "load.ipynb",
        "import os, time\n"
        "open(started, 'w').write('x')\n"
        "deadline = time.time() + 120\n"
        "while not os.path.exists(release) and time.time() < deadline:\n"
        "    time.sleep(0.1)\n"
        "open(log, 'a').write('load\\n')",
        parameters="started = release = log = ''",
    )
    write_notebook(
        jp_root_dir / "flows" / "report.ipynb",
        "open(log, 'a').write('report\\n')",
        parameters="log = ''",
    )
    (jp_root_dir / "flows" / "ledger.yaml").write_text(
        SPEC.format(started=started, release=release, log=log)
    )
    worker = spawn_worker(
        home,
        temporal_address,
        task_queue,
        extra_env=SHORT_HEARTBEAT_ENV | {"WORKBENCH_DB_URL": metadata_url},
    )
    try:
        body = json.dumps({"path": "flows/ledger.yaml"})
        await _json(jp_fetch, "pipelines", "deploy", method="POST", body=body)
        run = await _json(jp_fetch, "pipelines", "ledger", "runs", method="POST", body="{}")
        await _until(started.exists, 120, "step load never started")

        cluster.stop()
        down = time.monotonic()
        try:
            password = metadata_url.split(":")[2].split("@")[0]
            for path in (("runs", run["id"]), ("connections",)):
                answer = await _refused(jp_fetch, *path)
                assert answer["code"] == 503, answer
                message = answer["message"]
                assert message.startswith("the metadata database is unavailable"), message
                assert "refused" in message.lower(), message  # the cause
                assert password not in json.dumps(answer)
                assert "SELECT" not in message
            # The step's notebook ends while the DB is away: its end must wait for it.
            release.write_text("go")
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down)))
        finally:
            cluster.start()

        for _ in range(600):
            run = await _json(jp_fetch, "runs", run["id"])
            if run["status"] in ("succeeded", "failed", "cancelled"):
                break
            await asyncio.sleep(0.3)
    finally:
        stop_worker(worker)
    assert run["status"] == "succeeded", run
    attempts = [(a["step_id"], a["attempt"], a["status"]) for a in run["attempts"]]
    assert attempts == [("load", 1, "succeeded"), ("report", 1, "succeeded")], run["attempts"]
    assert log.read_text().splitlines() == ["load", "report"]  # each step ran once


@pytest.mark.timeout(300)
def test_an_end_the_db_could_not_take_is_recorded_by_the_next_attempt_not_run_again(
    home: Path,
    temporal_address: str,
    task_queue: str,
    cluster: PostgresCluster,
    metadata_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An outage longer than an attempt may wait: what it could not record goes to the
    next attempts (in heartbeat details), and the step that succeeded is not run again."""
    from workbench_pipelines import run_history
    from workbench_pipelines.plan import RetryPlan, RunPlan, StepPlan
    from workbench_pipelines.worker import run_worker
    from workbench_pipelines.workflows import PipelineRunWorkflow
    from workbench_server import temporal
    from workbench_server.core import Workbench
    from workbench_server.db.models import StepRun
    from workbench_server.settings import WorkbenchSettings

    monkeypatch.setattr(run_history, "RECORD_PATIENCE_S", 2.0)
    monkeypatch.setenv("WORKBENCH_WORKER_IDENTITY", "")  # the in-process worker sets it
    started, release, log = tmp_path / "started", tmp_path / "release", tmp_path / "ran.log"
    notebook = write_notebook(
        tmp_path / "load.ipynb",
        "import os, time\n"
        "open(started, 'w').write('x')\n"
        "while not os.path.exists(release):\n"
        "    time.sleep(0.1)\n"
        "open(log, 'a').write('load\\n')",
        parameters="started = release = log = ''",
    )
    settings = WorkbenchSettings.from_env(
        home, db_url=metadata_url, temporal_address=temporal_address, task_queue=task_queue
    )
    core = Workbench(settings)
    run_id = uuid.uuid4().hex
    record_run(core, run_id, "ledger")
    plan = RunPlan(
        run_id=run_id,
        pipeline="ledger",
        version=1,
        logical_date="2026-10-31",
        artifacts_dir=str(tmp_path / "artifacts"),
        steps=[
            StepPlan(
                id="load",
                notebook=str(notebook),
                kernel="python3",
                parameters={"started": str(started), "release": str(release), "log": str(log)},
                retries=RetryPlan(attempts=3, backoff_s=1, max_backoff_s=2),
            )
        ],
    )

    async def scenario():
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(settings, stop=stop))
        try:
            client = await temporal.connect(temporal_address)
            handle = await client.start_workflow(
                PipelineRunWorkflow.run, plan, id=f"run-{run_id}", task_queue=task_queue
            )
            await _until(started.exists, 120, "step load never started")
            await asyncio.to_thread(cluster.stop)
            try:
                release.write_text("go")
                await asyncio.sleep(8)
            finally:
                await asyncio.to_thread(cluster.start)
            return await asyncio.wait_for(handle.result(), 120)
        finally:
            stop.set()
            await worker

    try:
        result = asyncio.run(scenario())
        with core.sessions() as session:
            rows = list(
                session.scalars(
                    select(StepRun).where(StepRun.run_id == run_id).order_by(StepRun.attempt)
                )
            )
    finally:
        core.close()
    assert result.status == "succeeded", result
    assert log.read_text().splitlines() == ["load"]  # it ran once
    first, *others = rows
    assert (first.attempt, first.status, first.error) == (1, "succeeded", None)
    assert first.duration_s is not None and first.finished_at is not None
    # Every later attempt number has its row, and says truly why it did not run.
    assert [r.attempt for r in others] == list(range(2, len(rows) + 1)) and others
    for row in others:
        assert row.status == "lost", (row.attempt, row.status, row.error)
        assert row.error.startswith(
            f"not run: the metadata DB could not be reached to record the start of attempt "
            f"{row.attempt}: connection failed"
        ), row.error
