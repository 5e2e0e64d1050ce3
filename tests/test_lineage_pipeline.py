"""A real bronze → silver → gold pipeline over the Odoo demo data, and its lineage.

Three notebook steps write lake datasets with ``%%sql`` (``COPY ... TO`` files in the
lake); a fourth runs SQL that sqlglot cannot parse. The worker sends its OpenLineage
events to a file transport, which the test reads back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.openlineage import validate_event
from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lineage.service import LineageService
from workbench_server.principal import local_principal

BRONZE = """\
%%sql lake
COPY (
  SELECT id, move_id, account_id, partner_id, date, debit, credit
  FROM odoo.public.account_move_line
) TO '{{lake_root}}/bronze/account_move_line.parquet' (FORMAT parquet)
"""
SILVER = """\
%%sql lake
COPY (
  SELECT l.id, l.account_id, l.date, l.debit, l.credit
  FROM bronze.account_move_line AS l
  JOIN odoo.public.account_move AS m ON m.id = l.move_id
  WHERE m.state = 'posted'
) TO '{{lake_root}}/silver/posted_lines.parquet' (FORMAT parquet)
"""
GOLD = """\
%%sql lake
COPY (
  SELECT account_id, date_trunc('month', date) AS month, sum(debit - credit) AS balance
  FROM silver.posted_lines
  GROUP BY 1, 2
) TO '{{lake_root}}/gold/monthly_balance.parquet' (FORMAT parquet)
"""
# DuckDB runs this; sqlglot cannot parse it.
PIVOT = """\
%%sql lake
CREATE TABLE by_account AS PIVOT silver.posted_lines ON account_id USING sum(debit)
"""
# A check that fails: the run fails after the lineage above is made.
AUDIT = "raise ValueError('balances do not add up')"
SPEC = """\
name: close
steps:
  - {id: bronze, notebook: bronze.ipynb}
  - {id: silver, notebook: silver.ipynb, depends_on: [bronze]}
  - {id: gold, notebook: gold.ipynb, depends_on: [silver]}
  - id: pivot
    notebook: pivot.ipynb
    depends_on: [silver]
    inputs: [lake.silver.posted_lines]
    outputs: [lake.gold.account_pivot]
  - {id: audit, notebook: audit.ipynb, depends_on: [gold, pivot]}
"""


@pytest.mark.timeout(420)
def test_gold_column_lineage_reaches_bronze_through_each_step_and_events_validate(
    tmp_path: Path, home: Path, workbench, odoo_db: str, temporal_address: str, task_queue: str
) -> None:
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="odoo", settings=postgres_settings(odoo_db))
    )
    src = tmp_path / "src"
    for name, source in (
        ("bronze", BRONZE),
        ("silver", SILVER),
        ("gold", GOLD),
        ("pivot", PIVOT),
        ("audit", AUDIT),
    ):
        write_notebook(src / f"{name}.ipynb", source)
    (src / "close.yaml").write_text(SPEC)
    events_file = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    worker = spawn_worker(
        home,
        temporal_address,
        task_queue,
        extra_env={"WORKBENCH_OPENLINEAGE_TRANSPORT": json.dumps(transport)},
    )
    try:
        env = base_env(home) | {
            "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
            "WORKBENCH_TASK_QUEUE": task_queue,
        }
        deployed = run_workbench("pipeline", "deploy", str(src / "close.yaml"), env=env)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        ran = run_workbench("pipeline", "run", "close", "--wait", env=env, timeout=360)
        assert re.search(r"audit .* failed .*balances do not add up", ran.stdout), ran.stdout
    finally:
        stop_worker(worker)
    run_id = re.search(r"started run (\w+)", ran.stdout).group(1)
    lake = home / "lake"
    assert (lake / "gold" / "monthly_balance.parquet").is_file()

    # 1. The gold balance comes from bronze debit and credit through silver and gold,
    #    and bronze from Odoo's journal items.
    service = LineageService(workbench, local_principal())
    graph = service.graph("lake", "gold.monthly_balance", column="balance", depth=5)
    hops = {
        (e.job, f"{e.source.namespace}:{e.source.name}.{e.source_column}", e.target_column)
        for e in graph.edges
    }
    assert hops == {
        ("close.gold", "lake:silver.posted_lines.debit", "balance"),
        ("close.gold", "lake:silver.posted_lines.credit", "balance"),
        ("close.silver", "lake:bronze.account_move_line.debit", "debit"),
        ("close.silver", "lake:bronze.account_move_line.credit", "credit"),
        ("close.bronze", "odoo:public.account_move_line.debit", "debit"),
        ("close.bronze", "odoo:public.account_move_line.credit", "credit"),
    }
    targets = {e.job: e.target.name for e in graph.edges}
    assert targets == {
        "close.gold": "gold.monthly_balance",
        "close.silver": "silver.posted_lines",
        "close.bronze": "bronze.account_move_line",
    }
    assert {e.run_id for e in graph.edges} == {run_id}
    how = {e.job: e.transformation for e in graph.edges}
    assert how == {
        "close.gold": "aggregation",
        "close.silver": "identity",
        "close.bronze": "identity",
    }
    tables = service.graph("lake", "gold.monthly_balance", depth=5)
    assert ("odoo", "public.account_move") in {(d.namespace, d.name) for d in tables.datasets}

    # 3. The unparseable step succeeded, with its declared lineage and a warning.
    pivot = service.graph("lake", "gold.account_pivot", depth=1)
    assert {(e.source.name, e.job) for e in pivot.edges} == {("silver.posted_lines", "close.pivot")}
    [warning] = service.warnings(job="close.pivot", run_id=run_id)
    assert warning.message.startswith("SQL could not be parsed (duckdb)")

    # 2. Every event the worker emitted is a valid OpenLineage event.
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    for event in events:
        validate_event(event)
    seen = {(e["job"]["name"], e["eventType"]) for e in events}
    assert seen == {
        (job, state)
        for job in ("close.bronze", "close.silver", "close.gold", "close.pivot")
        for state in ("START", "COMPLETE")
    } | {("close", "START"), ("close", "FAIL"), ("close.audit", "START"), ("close.audit", "FAIL")}
    [audit] = [e for e in events if e["job"]["name"] == "close.audit" and e["eventType"] == "FAIL"]
    error = audit["run"]["facets"]["errorMessage"]
    assert "ValueError: balances do not add up" in error["message"]
    assert "raise ValueError" in error["stackTrace"]
    [gold] = [
        e for e in events if e["job"]["name"] == "close.gold" and e["eventType"] == "COMPLETE"
    ]
    assert gold["run"]["facets"]["parent"]["job"]["name"] == "close"
    assert gold["run"]["facets"]["workbench"]["workbenchRunId"] == run_id
    assert "sum(debit - credit)" in gold["job"]["facets"]["sql"]["query"]
    # Datasets as OpenLineage names them (a lake dataset is its folder), the workbench's
    # own name in the symlinks facet.
    assert [(d["namespace"], d["name"]) for d in gold["inputs"]] == [
        ("file", f"{lake}/silver/posted_lines")
    ]
    [output] = gold["outputs"]
    assert (output["namespace"], output["name"]) == ("file", f"{lake}/gold/monthly_balance")
    assert output["facets"]["symlinks"]["identifiers"] == [
        {"namespace": "lake", "name": "gold.monthly_balance", "type": "TABLE"}
    ]
    balance = output["facets"]["columnLineage"]["fields"]["balance"]["inputFields"]
    assert {(f["name"], f["field"], f["transformations"][0]["subtype"]) for f in balance} == {
        (f"{lake}/silver/posted_lines", "debit", "AGGREGATION"),
        (f"{lake}/silver/posted_lines", "credit", "AGGREGATION"),
    }
    [bronze] = [
        e for e in events if e["job"]["name"] == "close.bronze" and e["eventType"] == "COMPLETE"
    ]
    pg = urlsplit(odoo_db)
    assert (
        f"postgres://{pg.hostname}:{pg.port}",
        f"{pg.path[1:]}.public.account_move_line",
    ) in {(d["namespace"], d["name"]) for d in bronze["inputs"]}
    steps = [e for e in events if e["job"]["name"] != "close"]
    pipeline_runs = {e["run"]["runId"] for e in events if e["job"]["name"] == "close"}
    assert {e["run"]["facets"]["parent"]["run"]["runId"] for e in steps} == pipeline_runs
