"""A pipeline's new lake tables are in the catalog when its run ends: found by search and
in the lake source with their version, without anyone scanning the lake (a user running
the month-end close found none of its gold tables in the catalog panel)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.notebooks import write_notebook
from workbench_server import temporal
from workbench_server.catalog import CatalogService
from workbench_server.errors import NotFoundError
from workbench_server.lake import Lake
from workbench_server.principal import local_principal

PIPELINE = """
name: catalogued
steps:
  - id: totals
    kind: sql
    sql: "SELECT range AS id, CAST(range AS DECIMAL(12, 2)) * 1.5 AS amount FROM range(4)"
    target: silver.pl_new_totals
  - id: report
    notebook: report.ipynb
    depends_on: [totals]
"""


def _run(workbench, temporal_address: str, task_queue: str, name: str) -> str:
    from workbench_server.pipelines.runs import RunService

    service = RunService(workbench, local_principal())
    plan, workflow_id = service.prepare(name)

    async def go() -> None:
        client = await temporal.connect(temporal_address)
        handle = await client.start_workflow(
            "workbench.PipelineRun", plan, id=workflow_id, task_queue=task_queue
        )
        await asyncio.wait_for(handle.result(), 200)

    asyncio.run(go())
    return service.get(plan.run_id).status


@pytest.mark.timeout(300)
def test_the_tables_a_run_makes_are_in_the_catalog_when_it_ends(
    tmp_path: Path, workbench, worker, temporal_address, task_queue
) -> None:
    from workbench_server.pipelines.registry import PipelineRegistry

    me = local_principal()
    write_notebook(
        tmp_path / "report.ipynb",
        "%%sql lake\nCREATE OR REPLACE TABLE gold.pl_new_report AS "
        "SELECT sum(amount) AS total FROM silver.pl_new_totals",
    )
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    PipelineRegistry(workbench, me).deploy(tmp_path / "pipeline.yaml")
    catalog = CatalogService(workbench, me)
    for layer, name in (("silver", "pl_new_totals"), ("gold", "pl_new_report")):
        with pytest.raises(NotFoundError):
            catalog.find("lake", layer, name)

    assert _run(workbench, temporal_address, task_queue, "catalogued") == "succeeded"

    lake = Lake.default(workbench.settings)
    for layer, name, rows in (("silver", "pl_new_totals", 4), ("gold", "pl_new_report", 1)):
        entry = catalog.find("lake", layer, name)
        assert entry.extra["version"] == lake.version(f"{layer}.{name}")
        assert entry.row_estimate == rows
        assert "pipeline catalogued run" in entry.extra["last_writer"]
        hits = catalog.search(name).hits
        assert [(h.table.connection, h.table.schema_name, h.table.name) for h in hits][:1] == [
            ("lake", layer, name)
        ]
    assert [c.name for c in catalog.find("lake", "silver", "pl_new_totals").columns] == [
        "id",
        "amount",
    ]
