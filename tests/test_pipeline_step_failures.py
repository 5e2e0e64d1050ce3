"""A declarative step that fails or runs out of time does so like a notebook step: on a
real worker, its attempts are in the run history with the reason and a log, an error a
retry cannot fix is not retried, a timeout stops the query on time, and no version is
left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ingest import attempt_log, run_pipeline
from workbench_server.lake import Lake
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.principal import local_principal

PIPELINE = """\
name: fails
steps:
  - id: missing
    kind: sql
    sql: SELECT * FROM silver.nowhere
    target: gold.out
    retries: {attempts: 3, backoff: 1s}
  - id: slow
    kind: sql
    sql: SELECT count(*) AS n FROM range(100000000000) a
    target: gold.slow
    timeout: 3s
  - id: after
    kind: sql
    depends_on: [missing]
    sql: SELECT 1 AS x
    target: gold.after
"""


@pytest.mark.timeout(300)
def test_failures_and_timeouts_of_declarative_steps(
    tmp_path: Path, home: Path, workbench, worker, temporal_address, task_queue
) -> None:
    me = local_principal()
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    PipelineRegistry(workbench, me).deploy(tmp_path / "pipeline.yaml")
    run = run_pipeline(workbench, me, "fails", temporal_address, task_queue)
    assert run.status == "failed"
    attempts = {(a.step_id, a.attempt): a for a in run.attempts}
    missing = attempts[("missing", 1)]
    assert missing.status == "failed" and ("missing", 2) not in attempts
    assert missing.error.startswith(
        "NotFoundError: sql step missing: no lake table silver.nowhere in lake"
    )
    assert "(not retried: NotFoundError is listed in retries.non_retryable)" in missing.error
    assert missing.output_notebook is None and "NotFoundError" in missing.traceback
    assert "failed: NotFoundError" in attempt_log(home, run.id, "missing")
    slow = attempts[("slow", 1)]
    assert slow.status == "timed_out" and slow.duration_s < 10, slow
    assert attempts[("after", 0)].status == "upstream_failed"
    lake = Lake.default(workbench.settings)
    assert not lake.exists("gold.out") and not lake.exists("gold.after")
    assert not lake.exists("gold.slow") or lake.version("gold.slow") == 0
    assert run.tables == []
