"""A worker's /metrics after a pipeline step: its notebook execution, and the `%sql`
timings its kernel reported to the worker (a real server, Temporal, worker and kernel)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server
from workbench_server.supervisor import free_port

SPEC = """\
name: timed
steps:
  - {id: query, notebook: query.ipynb, kernel: workbench}
"""


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(home, temporal_address=temporal_address, task_queue=task_queue)


def scrape(port: int, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_a_steps_sql_timings_and_notebook_reach_its_workers_metrics(
    jp_fetch, jp_root_dir: Path, home: Path, temporal_address: str, task_queue: str
) -> None:
    write_notebook(
        jp_root_dir / "flows" / "query.ipynb",
        "%sql lake SELECT 1 AS one",
        "%%sql lake\nWITH t AS (SELECT 2 AS two) SELECT * FROM t",
    )
    (jp_root_dir / "flows" / "timed.yaml").write_text(SPEC)
    await jp_fetch(
        "workbench", "api", "pipelines", "deploy",
        method="POST", body=json.dumps({"path": "flows/timed.yaml"}),
    )  # fmt: skip
    port = free_port("127.0.0.1")
    worker = spawn_worker(
        home, temporal_address, task_queue, extra_env={"WORKBENCH_METRICS_PORT": str(port)}
    )
    try:
        run = json.loads(
            (
                await jp_fetch(
                    "workbench", "api", "pipelines", "timed", "runs", method="POST", body=b"{}"
                )
            ).body
        )
        for _ in range(900):
            run = json.loads((await jp_fetch("workbench", "api", "runs", run["id"])).body)
            if run["status"] in ("succeeded", "failed"):
                break
            await asyncio.sleep(0.2)
        assert run["status"] == "succeeded", run
        token = (home / "metrics-token").read_text().strip()
        found = await asyncio.to_thread(scrape, port, token)
        select_lake = (("data_source", "lake"), ("query_type", "select"))
        assert found[("workbench_query_duration_seconds_count", select_lake)] == 2
        assert found[("workbench_query_duration_seconds_sum", select_lake)] > 0
        executed = (("kernel_type", "workbench"), ("status", "succeeded"))
        assert found[("workbench_notebook_executions_total", executed)] == 1
    finally:
        stop_worker(worker)
