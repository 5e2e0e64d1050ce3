"""Dataset freshness with real runs on a real Temporal and worker: the lake's record of
the version a run wrote is the dataset's last write, and a failed run of the pipeline
upstream flags the dataset at risk long before its deadline, until it succeeds again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.ingest import _run
from workbench_server.lake import Lake
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import local_principal
from workbench_server.sla.freshness import visible_freshness

LOAD = """\
name: load
parameters:
  fail: {type: boolean, default: false}
steps:
  - id: invoices
    kind: sql
    sql: SELECT CASE WHEN $fail THEN error('no invoices today') ELSE 1 END AS id
    parameters: {fail: "{{ params.fail }}"}
    target: silver.invoices
"""
REPORT = """\
name: report
freshness:
  - {dataset: gold.report, max_age: 26h}
steps:
  - id: build
    kind: sql
    sql: SELECT count(*) AS invoices FROM silver.invoices
    target: gold.report
"""


@pytest.mark.timeout(300)
def test_a_failed_upstream_run_puts_the_dataset_at_risk_before_its_deadline(
    tmp_path: Path, workbench, worker, temporal_address: str, task_queue: str
) -> None:
    me = local_principal()
    for name, text in (("load", LOAD), ("report", REPORT)):
        (tmp_path / f"{name}.yaml").write_text(text)
        PipelineRegistry(workbench, me).deploy(tmp_path / f"{name}.yaml")
    runs = RunService(workbench, me)

    def run(name: str, **params: object) -> str:
        plan, _ = runs.prepare(name, params)
        asyncio.run(_run(temporal_address, task_queue, plan))
        return runs.get(plan.run_id).status

    def report() -> dict:
        [found] = visible_freshness(workbench, None)
        return found.model_dump()

    assert report()["status"] == "ok" and report()["last_write"] is None  # not due yet
    assert run("load") == "succeeded"
    assert run("report") == "succeeded"
    written = Lake.default(workbench.settings).versions("gold.report", limit=1)[0].timestamp
    fresh = report()
    assert (fresh["dataset"], fresh["status"]) == ("lake.gold.report", "ok")
    # The write the run history recorded for the version, to the second of the Delta log's.
    assert abs((fresh["last_write"] - written).total_seconds()) < 5
    assert fresh["due"] - fresh["last_write"] == timedelta(hours=26)

    assert run("load", fail=True) == "failed"
    risk = report()
    assert (risk["status"], risk["reason"], risk["upstream"]) == ("at_risk", "failed", "load")
    # Flagged a day ahead of the miss.
    assert risk["due"] - datetime.now(UTC) > timedelta(hours=25)

    assert run("load") == "succeeded"
    assert report()["status"] == "ok"
