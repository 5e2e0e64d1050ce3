"""Change notifications (issue 21, must-show 2): a pipeline with ``on_change:`` runs once
per committed batch of a cdc step that follows a real PostgreSQL (``wal_level=logical``)
on a real Temporal and worker, and keeps a live silver table equal to the source; the
batch's ``dataset.updated`` event reaches a webhook target and the catalog's entry of
the bronze table gets the batch's version at once."""

from __future__ import annotations

import asyncio
import contextlib
import time

import psycopg
import pytest

from tests import test_cdc
from tests.support.ingest import assert_same_rows, source_rows
from tests.support.waiting import until
from tests.support.webhook_sink import Sink
from workbench_server import temporal
from workbench_server.lake import Lake
from workbench_server.principal import local_principal

# A PostgreSQL with wal_level=logical and the Odoo-like source, as tests/test_cdc.py has.
logical_cluster = test_cdc.logical_cluster
odoo = test_cdc.odoo

FOLLOW = """
name: odoo_live
steps:
  - id: extract
    kind: extract
    source: odoo
    mode: cdc
    tables: [account_move_line]
    follow: 5m
    batch_seconds: 0.3
    timeout: 6m
"""
LIVE_SILVER = """
name: silver_live
on_change: bronze.account_move_line
steps:
  - id: silver
    kind: merge
    tables: [bronze.account_move_line]
"""


def _runs(workbench, me, name: str) -> list:
    from workbench_server.pipelines.runs import RunService

    return [r for r in RunService(workbench, me).list(name) if r.trigger == "on_change"]


@pytest.mark.timeout(400)
def test_a_pipeline_on_change_runs_once_per_cdc_batch_and_keeps_silver_live(
    tmp_path,
    workbench,
    worker,
    odoo,
    temporal_address,
    task_queue,
):
    from workbench_server.catalog.access import CatalogAccess
    from workbench_server.catalog.live import freshness
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.pipelines.runs import RunService
    from workbench_server.webhooks.events import TargetIn, TargetService

    me = local_principal()
    registry = PipelineRegistry(workbench, me)
    for name, text in (("odoo_live", FOLLOW), ("silver_live", LIVE_SILVER)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pipeline.yaml").write_text(text)
        registry.deploy(tmp_path / name / "pipeline.yaml")
    sink = Sink(0).start()
    TargetService(workbench, me).create(
        "odoo_live", TargetIn(url=sink.url + "/changes", events=["dataset.updated"])
    )
    lake = Lake.default(workbench.settings)

    def finished(count: int):
        def check():
            runs = _runs(workbench, me, "silver_live")
            ended = [r for r in runs if r.status in ("succeeded", "failed", "cancelled")]
            return runs if len(ended) >= count and len(runs) == len(ended) else None

        return check

    service = RunService(workbench, me)
    plan, workflow_id = service.prepare("odoo_live")

    async def start():
        client = await temporal.connect(temporal_address)
        await client.start_workflow(
            "workbench.PipelineRun", plan, id=workflow_id, task_queue=task_queue
        )

    asyncio.run(start())
    try:
        # The first batch is the snapshot copy: one run, silver made from it.
        runs = until(finished(1), 180, "the run after the snapshot")
        assert [r.status for r in runs] == ["succeeded"]
        assert_same_rows(
            lake.read("silver.account_move_line").to_pylist(),
            source_rows(odoo, "account_move_line"),
        )
        # The catalog knows bronze (a scan), then follows its versions batch by batch.
        scanned = _scan(workbench)
        assert scanned is not None

        for round_, statements in enumerate(
            (
                [  # one transaction of 300 inserts, updates and a delete: one batch
                    "INSERT INTO account_move_line SELECT (jsonb_populate_record(l, "
                    "jsonb_build_object('id', 800000 + g, 'name', 'new ' || g))).* "
                    "FROM account_move_line l, generate_series(1, 300) g WHERE l.id = 1",
                    "UPDATE account_move_line SET name = 'changed' WHERE id IN (1, 2, 3)",
                    "DELETE FROM account_move_line WHERE id = 4",
                ],
                ["UPDATE account_move_line SET name = 'again' WHERE id = 800001"],
            ),
            start=2,
        ):
            before = lake.version("bronze.account_move_line")
            with psycopg.connect(odoo) as db:
                for statement in statements:
                    db.execute(statement)
                db.commit()
            runs = until(finished(round_), 120, f"run {round_}")
            version = lake.version("bronze.account_move_line")
            assert version == before + 1  # one batch, one bronze commit
            assert len(runs) == round_  # one run for it, not one per row
            assert all(r.status == "succeeded" for r in runs)
            # Silver, merged by that run, is the source as of the transaction.
            assert_same_rows(
                lake.read("silver.account_move_line").to_pylist(),
                source_rows(odoo, "account_move_line"),
            )
            # The catalog's entry has the batch's version without a scan.
            live = freshness(CatalogAccess(workbench, me), scanned)
            assert live.version == version
            assert "run " + plan.run_id in (live.last_writer or "")
        time.sleep(3)  # nothing else changed: no further run
        assert len(_runs(workbench, me, "silver_live")) == 3

        # n8n and agents hear of each batch: table, version and rows changed.
        events = until(
            lambda: (
                [r.event for r in sink.events("dataset.updated")]
                if len(sink.events("dataset.updated")) >= 3
                else None
            ),
            60,
            "dataset.updated events",
        )
        by_version = {e["dataset"]["version"]: e["dataset"] for e in events}
        big = by_version[before]  # the version of the 300-row transaction's batch
        assert big["name"] == "lake.bronze.account_move_line"
        assert big["rows_added"] == 300 + 3 + 1  # inserts, updates, the delete
        assert all(e["run"]["pipeline"] == "odoo_live" for e in events)
    finally:
        sink.stop()

        async def cancel():
            client = await temporal.connect(temporal_address)
            handle = client.get_workflow_handle(workflow_id)
            await handle.cancel()
            with contextlib.suppress(Exception):  # ends cancelled: its slot is let go
                await asyncio.wait_for(handle.result(), 60)

        asyncio.run(cancel())


def _scan(workbench) -> int | None:
    """Scan the default lake into the catalog; the catalog id of bronze.account_move_line."""
    from sqlalchemy import select

    from workbench_server.catalog import CatalogService
    from workbench_server.db.models import CatalogTable, Connection

    CatalogService(workbench, local_principal()).scan("lake")
    with workbench.sessions() as session:
        return session.scalar(
            select(CatalogTable.id)
            .join(Connection, Connection.id == CatalogTable.connection_id)
            .where(
                Connection.name == "lake",
                CatalogTable.schema_name == "bronze",
                CatalogTable.name == "account_move_line",
            )
        )


def test_merges_during_one_long_cdc_run_read_only_its_new_batches(workbench, odoo):
    """A cdc step that follows writes every batch under one run id: each merge reads the
    rows past the last LSN it merged, not the whole run again (what made live silver
    slower with every batch), and silver stays equal to the source."""
    import uuid

    from tests.support.ingest import step_context
    from workbench_pipelines.ingest.extract import run_extract
    from workbench_pipelines.ingest.merge import LSN_KIND, run_merge
    from workbench_pipelines.ingest.watermarks import load_sources

    me = local_principal()
    lake = Lake.default(workbench.settings)
    cdc = {"source": "odoo", "tables": ["account_move_line"], "mode": "cdc"}
    follow = uuid.uuid4().hex  # one run id for every batch, as under follow

    def batch(statement: str | None = None) -> None:
        if statement:
            with psycopg.connect(odoo, autocommit=True) as db:
                db.execute(statement)
        run_extract(step_context(workbench, me, "extract", cdc, run_id=follow, record=False))

    def merge():
        ctx = step_context(workbench, me, "merge", {"tables": ["bronze.account_move_line"]})
        run_merge(ctx)
        return ctx

    from tests.support.runs import record_run

    record_run(workbench, follow, pipeline="steps", owner=me.name)
    batch()  # the snapshot
    merge()
    copied = lake.read("bronze.account_move_line").num_rows
    marks = load_sources(workbench, LSN_KIND, "lake", "silver.account_move_line",
                         "bronze.account_move_line")  # fmt: skip
    assert list(marks) == ["odoo"] and marks["odoo"].cursor_id > 0
    for round_ in range(3):
        batch(f"UPDATE account_move_line SET name = 'round {round_}' WHERE id = {round_ + 1}")
        ctx = merge()
        read = ctx.stats["silver.account_move_line"]
        assert read["changes"] == 1
        assert read["read"] == 1, read  # the one new row, not the run's {copied} rows
        assert_same_rows(
            lake.read("silver.account_move_line").to_pylist(),
            source_rows(odoo, "account_move_line"),
        )
    assert copied > 100


def test_on_change_mistakes_are_named_with_their_line():
    from workbench_pipelines.spec import PipelineSpec
    from workbench_pipelines.validate import validate_text

    text = """name: x
on_change:
  datasets: [bronze.ok, 'not a name']
  debounce: 2h
  overlap: sometimes
steps:
  - id: s
    kind: merge
    tables: [bronze.a]
"""
    found = [str(e) for e in validate_text(text)]
    assert found == [
        "<pipeline>:3:25: on_change.datasets[1]: 'not a name' is not a valid dataset name: "
        "write dotted names such as 'lake.silver.invoices' or 'odoo.public.account_move'",
        "<pipeline>:4:13: on_change.debounce: debounce must be at most 1h",
        "<pipeline>:5:12: on_change.overlap: expected 'buffer_one' or 'allow_all', got 'sometimes'",
    ]
    # The short forms: one dataset, or a list; the default lake's name filled in.
    steps = [{"id": "s", "kind": "merge", "tables": ["bronze.a"]}]
    one = PipelineSpec.model_validate({"name": "x", "on_change": "bronze.a", "steps": steps})
    two = PipelineSpec.model_validate(
        {"name": "x", "on_change": ["bronze.a", "other.bronze.b"], "steps": steps}
    )
    assert one.on_change is not None and one.on_change.datasets == ["lake.bronze.a"]
    assert one.on_change.overlap == "buffer_one" and one.on_change.debounce is None
    assert two.on_change is not None
    assert two.on_change.datasets == ["lake.bronze.a", "other.bronze.b"]


def test_a_large_backlog_is_caught_up_by_a_new_snapshot_copy(tmp_path, workbench, odoo):
    """catchup_copy_mb: a slot further behind than that is made again and the tables
    copied as of its snapshot, compared with bronze (the net effect per key), instead
    of decoding every change; silver ends equal to the source, the slot has no lag, and
    the stream goes on from the new slot exactly once."""
    from tests.support.ingest import step_context
    from workbench_pipelines.ingest.extract import run_extract
    from workbench_pipelines.ingest.merge import run_merge
    from workbench_server.connections.replication import slots

    me = local_principal()
    lake = Lake.default(workbench.settings)
    cdc = {"source": "odoo", "tables": ["account_move_line"], "mode": "cdc", "catchup_copy_mb": 1}

    def run_cdc():
        log = tmp_path / f"{len(list(tmp_path.iterdir()))}.log"
        ctx = step_context(workbench, me, "extract", cdc, log_file=log)
        run_extract(ctx)
        return ctx

    def merged() -> None:
        run_merge(step_context(workbench, me, "merge", {"tables": ["bronze.account_move_line"]}))
        assert_same_rows(
            lake.read("silver.account_move_line").to_pylist(),
            source_rows(odoo, "account_move_line"),
        )

    run_cdc()  # the first copy
    merged()
    with psycopg.connect(odoo, autocommit=True) as db:  # a backlog of several MB of WAL
        for round_ in range(3):
            db.execute(f"UPDATE account_move_line SET name = name || '{round_}'")
        db.execute("DELETE FROM account_move_line WHERE id IN (5, 6)")
        db.execute(
            "INSERT INTO account_move_line SELECT (jsonb_populate_record(l, "
            "jsonb_build_object('id', 700001))).* FROM account_move_line l WHERE l.id = 1"
        )
    before = lake.version("bronze.account_move_line")
    ctx = run_cdc()
    log = ctx.log_file.read_text()
    assert "caught up by copying the tables again as of a new snapshot" in log, log
    changes = lake.read("bronze.account_move_line", where=f"_run_id = '{ctx.run_id}'").to_pylist()
    ops = {}
    for row in changes:
        ops[row["_op"]] = ops.get(row["_op"], 0) + 1
    assert ops["d"] == 2 and ops["i"] == 1  # the net effect per key, in one copy
    assert lake.version("bronze.account_move_line") == before + 1
    merged()
    (slot,) = [s for s in slots({"conninfo": odoo}) if s.name.startswith("wb_odoo_")]
    assert slot.lag_bytes < 2**20

    # The stream goes on from the new slot: a change once, nothing twice.
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("UPDATE account_move_line SET name = 'after' WHERE id = 7")
    ctx = run_cdc()
    again = lake.read("bronze.account_move_line", where=f"_run_id = '{ctx.run_id}'")
    assert [(r["id"], r["_op"]) for r in again.to_pylist()] == [(7, "u")]
    merged()


NOTEBOOK_WRITER = """
name: nb_writer
steps:
  - {id: totals, notebook: totals.ipynb}
  - {id: files, notebook: files.ipynb, depends_on: [totals]}
"""
NOTEBOOK_LISTENER = """
name: nb_listener
on_change: silver.nb_totals
steps:
  - {id: look, notebook: look.ipynb}
"""


@pytest.mark.timeout(300)
def test_a_notebook_step_announces_the_lake_tables_it_wrote(
    tmp_path, workbench, worker, temporal_address, task_queue
):
    """A notebook step that writes a lake table through its kernel's lake session tells
    of it as a declarative step does: the pipelines listening to it run (once), its own
    webhook targets get dataset.updated with the version written; a step that wrote no
    Delta table (a Parquet file COPY) tells of nothing."""
    from tests.support.notebooks import write_notebook
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.pipelines.runs import RunService
    from workbench_server.webhooks.events import TargetIn, TargetService

    me = local_principal()
    write_notebook(
        tmp_path / "writer" / "totals.ipynb",
        "%%sql lake\nCREATE OR REPLACE TABLE silver.nb_totals AS "
        "SELECT range AS id, range * 1.5 AS amount FROM range(4)",
    )
    write_notebook(
        tmp_path / "writer" / "files.ipynb",
        "%%sql lake\nCOPY (SELECT 1 AS id) TO '{{lake_root}}/silver/nb_file.parquet' "
        "(FORMAT parquet)",
    )
    write_notebook(tmp_path / "listener" / "look.ipynb", "print('heard')")
    registry = PipelineRegistry(workbench, me)
    for name, text in (("writer", NOTEBOOK_WRITER), ("listener", NOTEBOOK_LISTENER)):
        (tmp_path / name / "pipeline.yaml").write_text(text)
        registry.deploy(tmp_path / name / "pipeline.yaml")
    sink = Sink(0).start()
    TargetService(workbench, me).create(
        "nb_writer", TargetIn(url=sink.url + "/changes", events=["dataset.updated"])
    )
    service = RunService(workbench, me)
    plan, workflow_id = service.prepare("nb_writer")

    async def run():
        client = await temporal.connect(temporal_address)
        handle = await client.start_workflow(
            "workbench.PipelineRun", plan, id=workflow_id, task_queue=task_queue
        )
        await asyncio.wait_for(handle.result(), 200)

    try:
        asyncio.run(run())
        assert service.get(plan.run_id).status == "succeeded"
        version = Lake.default(workbench.settings).version("silver.nb_totals")
        events = until(
            lambda: sink.events("dataset.updated") or None, 60, "a dataset.updated event"
        )
        heard = until(
            lambda: [r for r in _runs(workbench, me, "nb_listener") if r.status == "succeeded"],
            120,
            "the listening pipeline's run",
        )
        time.sleep(3)  # one run for the one change
        assert len(_runs(workbench, me, "nb_listener")) == len(heard) == 1
        assert [e.event["dataset"]["name"] for e in events] == ["lake.silver.nb_totals"]
        assert events[0].event["dataset"]["version"] == version
        assert events[0].event["dataset"]["rows_added"] == 4
        assert events[0].event["run"]["pipeline"] == "nb_writer"
    finally:
        sink.stop()


PAUSE_WRITER = """
name: pz_writer
steps:
  - id: write
    kind: sql
    sql: "SELECT range AS id FROM range(3)"
    target: silver.pz_source
"""
PAUSE_LISTENER = """
name: pz_listener
on_change: silver.pz_source
steps:
  - id: count
    kind: sql
    sql: "SELECT count(*) AS n FROM silver.pz_source"
    target: gold.pz_count
"""


@pytest.mark.timeout(300)
def test_pausing_a_pipeline_pauses_its_on_change_trigger_and_resuming_runs_once(
    tmp_path, home, workbench, worker, temporal_address, task_queue
):
    """``workbench pipeline schedule NAME pause`` on a pipeline with ``on_change:`` (and
    no schedule): changes start no run while it is paused; resuming starts one run for
    the changes made meanwhile (two writes, one run), and none when nothing changed."""
    from tests.support.processes import base_env, run_workbench
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.pipelines.runs import RunService

    me = local_principal()
    registry = PipelineRegistry(workbench, me)
    for name, text in (("writer", PAUSE_WRITER), ("listener", PAUSE_LISTENER)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pipeline.yaml").write_text(text)
        registry.deploy(tmp_path / name / "pipeline.yaml")
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    service = RunService(workbench, me)

    def write():
        plan, workflow_id = service.prepare("pz_writer")

        async def run():
            client = await temporal.connect(temporal_address)
            handle = await client.start_workflow(
                "workbench.PipelineRun", plan, id=workflow_id, task_queue=task_queue
            )
            await asyncio.wait_for(handle.result(), 120)

        asyncio.run(run())
        assert service.get(plan.run_id).status == "succeeded"

    def schedule(action: str) -> str:
        done = run_workbench("pipeline", "schedule", "pz_listener", action, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def finished():
        runs = _runs(workbench, me, "pz_listener")
        return runs if runs and all(r.status == "succeeded" for r in runs) else None

    # Not paused: a write runs the listener once.
    write()
    assert len(until(finished, 120, "the listener's run")) == 1
    # Paused: two writes, no run.
    assert "on_change" in schedule("pause")
    write()
    write()
    time.sleep(4)
    assert len(_runs(workbench, me, "pz_listener")) == 1
    # Resumed: one run for both writes.
    schedule("resume")
    runs = until(lambda: (r := finished()) and len(r) == 2 and r, 120, "the run on resume")
    time.sleep(3)
    assert len(_runs(workbench, me, "pz_listener")) == len(runs) == 2
    # Paused and resumed with nothing written meanwhile: no run.
    schedule("pause")
    schedule("resume")
    time.sleep(4)
    assert len(_runs(workbench, me, "pz_listener")) == 2
    # A pipeline with neither a schedule nor on_change: nothing to pause, said so.
    none = run_workbench("pipeline", "schedule", "pz_writer", "pause", env=env)
    assert none.returncode != 0
    assert "has no schedule and no on_change trigger" in none.stdout + none.stderr
