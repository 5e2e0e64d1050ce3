"""What a run used, exactly (issue 16, must show 3): after three runs of a pipeline of
extract, merge, scd2 and sql steps, silver as the first run left it is read back, a diff
lists the keys that changed, and the table versions a run recorded as its inputs
reproduce its output. The run shows them (workbench pipeline show) and its OpenLineage
events carry them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import spawn_worker, stop_worker
from tests.support.ingest import (
    assert_same_rows,
    attempt_log,
    change_source,
    run_pipeline,
    source_database,
    source_rows,
)
from tests.support.openlineage import validate_event
from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lake import Lake
from workbench_server.lineage.openlineage import run_uuid
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.principal import local_principal

BALANCES = (
    "SELECT account_id, sum(balance) AS balance, count(*) AS lines "
    "FROM silver.account_move_line WHERE company_id = $company GROUP BY account_id"
)
PIPELINE = f"""\
name: close_lake
parameters:
  company: {{type: integer, default: 1}}
steps:
  - id: extract
    kind: extract
    source: odoo
    tables: [account_move_line, res_partner]
    deletes: every run
  - id: silver
    kind: merge
    depends_on: [extract]
    tables: [bronze.account_move_line, bronze.res_partner]
  - id: dim_partner
    kind: scd2
    depends_on: [silver]
    source: silver.res_partner
    target: gold.dim_partner
    columns: [id, name, city, is_company]
  - id: balances
    kind: sql
    depends_on: [silver]
    sql: "{BALANCES}"
    parameters: {{company: "{{{{ params.company }}}}"}}
    target: gold.balances
"""


@pytest.fixture
def source(pg_cluster):
    with source_database(pg_cluster) as url:
        yield url


@pytest.mark.timeout(600)
def test_three_runs_read_back_diff_and_reproduce(
    tmp_path: Path, home: Path, workbench, source, temporal_address, task_queue
) -> None:
    me = local_principal()
    ConnectionService(workbench, me).create(
        ConnectionCreate(name="odoo", settings=postgres_settings(source))
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "pipeline.yaml").write_text(PIPELINE)
    PipelineRegistry(workbench, me).deploy(tmp_path / "src" / "pipeline.yaml")
    sent = tmp_path / "openlineage.jsonl"
    env = {
        "WORKBENCH_OPENLINEAGE_TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(sent), "append": True}
        )
    }
    worker = spawn_worker(home, temporal_address, task_queue, extra_env=env)
    try:
        runs, snapshots, changes = [], [], []
        for number in range(3):
            if number:
                changes.append(change_source(source))
            run = run_pipeline(workbench, me, "close_lake", temporal_address, task_queue)
            assert run.status == "succeeded", [(a.step_id, a.error) for a in run.attempts]
            runs.append(run)
            snapshots.append(source_rows(source, "account_move_line"))
    finally:
        stop_worker(worker)  # sends what it queued
    lake = Lake.default(workbench.settings)

    def version(run, step: str, table: str, access: str = "write") -> int:
        (found,) = [
            t.version
            for t in run.tables
            if t.step_id == step and t.table == table and t.access == access
        ]
        return found

    # Silver as run 1 left it, read back after three runs, is the source as it was then.
    first = version(runs[0], "silver", "silver.account_move_line")
    assert first == 1 and lake.version("silver.account_move_line") == 3
    assert_same_rows(lake.read("silver.account_move_line", version=first).to_pylist(), snapshots[0])
    assert_same_rows(lake.read("silver.account_move_line").to_pylist(), snapshots[2])

    # A diff from run 1's version to run 3's lists the keys that changed, and no other.
    last = version(runs[2], "silver", "silver.account_move_line")
    diff = lake.diff("silver.account_move_line", first, last, limit=1000)
    updated = {i for c in changes for i in c["account_move_line"]["updated"]}
    deleted = {i for c in changes for i in c["account_move_line"]["deleted"]}
    assert diff.keys == ["id"]
    assert {r.key["id"] for r in diff.changed_rows} == updated - deleted
    assert {r["id"] for r in diff.removed_rows} == deleted and diff.added == 0
    some = next(
        r for r in diff.changed_rows if r.key["id"] in changes[0]["account_move_line"]["updated"]
    )
    assert set(some.after) >= {"name", "write_date"}

    # The input versions run 2 recorded reproduce its output: the same query over those
    # versions gives gold.balances as run 2 wrote it, though silver has moved on since.
    second = runs[1]
    inputs = {
        t.table: t.version for t in second.tables if t.step_id == "balances" and t.access == "read"
    }
    assert inputs == {"silver.account_move_line": 2}
    written = version(second, "balances", "gold.balances")
    db = lake.connect(duckdb.connect())
    db.execute("CREATE SCHEMA silver")
    for table, at in inputs.items():
        db.execute(f"CREATE VIEW {table} AS SELECT * FROM {lake.scan_sql(table, at)}")
    again = db.execute(f"{BALANCES} ORDER BY account_id", {"company": 1}).fetchall()
    kept = (
        lake.connect()
        .execute(
            f"SELECT account_id, balance, lines FROM {lake.scan_sql('gold.balances', written)} "
            "ORDER BY account_id"
        )
        .fetchall()
    )
    assert again == kept and len(kept) > 10
    with psycopg.connect(source) as pg:
        now = pg.execute(
            "SELECT account_id, sum(balance), count(*) FROM account_move_line "
            "WHERE company_id = 1 GROUP BY account_id ORDER BY account_id"
        ).fetchall()
    assert [tuple(r) for r in now] == lake.connect().execute(
        f"SELECT account_id, balance, lines FROM {lake.scan_sql('gold.balances')} "
        "ORDER BY account_id"
    ).fetchall()

    # The dimension kept the partners' history: a partner changed by both changes has
    # three versions, each closed when the next opened.
    dim = lake.read("gold.dim_partner").to_pylist()
    moved = changes[0]["res_partner"]["updated"][0]
    rows = sorted((r for r in dim if r["id"] == moved), key=lambda r: r["valid_from"])
    assert [r["is_current"] for r in rows] == [False, False, True]
    assert [r["valid_to"] for r in rows[:2]] == [r["valid_from"] for r in rows[1:]]
    assert rows[2]["city"] == rows[0]["city"] + "**"
    unchanged = [r for r in dim if r["id"] == 1]
    assert len(unchanged) == 1 and unchanged[0]["is_current"]

    # The run says what it read and wrote: in the history, the CLI and OpenLineage.
    shown = run_workbench("pipeline", "show", second.id, env=base_env(home))
    assert shown.returncode == 0, shown.stderr
    assert "balances                 #1  read  silver.account_move_line v2" in shown.stdout
    assert "balances                 #1  write gold.balances v2" in shown.stdout
    assert "incremental" in attempt_log(home, second.id, "extract")
    events = [json.loads(line) for line in sent.read_text().splitlines() if line.strip()]
    for event in events:
        validate_event(event)
    [complete] = [
        e
        for e in events
        if e["run"]["runId"] == run_uuid(second.id, "balances", 1) and e["eventType"] == "COMPLETE"
    ]
    versions = {
        (d["name"].rsplit("/", 2)[-2] + "." + d["name"].rsplit("/", 1)[-1]): d["facets"]["version"][
            "datasetVersion"
        ]
        for d in complete["inputs"] + complete["outputs"]
        if "version" in d.get("facets", {})
    }
    assert versions == {"silver.account_move_line": "2", "gold.balances": "2"}
    lineage = complete["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert {f["field"] for f in lineage["balance"]["inputFields"]} == {"balance"}
