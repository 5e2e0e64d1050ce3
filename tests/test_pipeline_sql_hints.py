"""A sql step that names a column wrongly fails with the database's suggestion in its
error, as the run history and `workbench pipeline show` give it (trial: 'Referenced column
"partner_name" not found in FROM clause!' and nothing more; DuckDB's next line, the
candidate columns, was cut off). Real worker and Temporal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_pipeline_catalog import _run
from workbench_server.principal import local_principal

PIPELINE = """
name: hinted
steps:
  - id: totals
    kind: sql
    sql: >-
      SELECT partner_name, sum(amount) AS total
      FROM (SELECT 1 AS partner_id, 2.5 AS amount) GROUP BY 1
    target: silver.hinted_totals
    retries: {attempts: 1}
"""


@pytest.mark.timeout(300)
def test_a_mistyped_column_fails_naming_the_columns_there_are(
    tmp_path: Path, workbench, worker, temporal_address, task_queue
) -> None:
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.pipelines.runs import RunService

    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    PipelineRegistry(workbench, local_principal()).deploy(tmp_path / "pipeline.yaml")
    assert _run(workbench, temporal_address, task_queue, "hinted") == "failed"
    [run] = RunService(workbench, local_principal()).list("hinted")
    [attempt] = RunService(workbench, local_principal()).get(run.id).attempts
    assert 'Referenced column "partner_name" not found in FROM clause!' in attempt.error
    assert attempt.error.endswith('Candidate bindings: "partner_id"'), attempt.error
    assert "\n" not in attempt.error
