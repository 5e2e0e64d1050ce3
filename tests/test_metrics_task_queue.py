"""The task queue in /workbench/metrics: a run nobody picks up shows as backlog, and a
worker that starts polling takes it away (Temporal's own figures, real dev server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server

SPEC = """\
name: queued
steps:
  - id: work
    notebook: work.ipynb
    kernel: python3
"""


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(
        home, temporal_address=temporal_address, task_queue=task_queue, metrics_cache_seconds=0.5
    )


async def test_backlog_and_pollers_of_the_task_queue(
    jp_fetch, jp_root_dir: Path, jp_http_port, jp_base_url, home: Path,
    temporal_address: str, task_queue: str,
) -> None:  # fmt: skip
    token = (home / "metrics-token").read_text().strip()

    async def queue() -> dict[tuple[str, str], float]:
        response = await AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{jp_http_port}{jp_base_url}workbench/metrics",
            headers={"Authorization": f"Bearer {token}"},
        )
        return {
            (s.name, s.labels["type"]): s.value
            for family in text_string_to_metric_families(response.body.decode())
            if family.name.startswith("workbench_task_queue")
            for s in family.samples
            if s.labels.get("task_queue") == task_queue
        }

    async def until(check, what: str, timeout: float = 60) -> dict:
        for _ in range(int(timeout * 2)):
            found = await queue()
            if check(found):
                return found
            await asyncio.sleep(0.5)
        pytest.fail(f"{what} not within {timeout:g} s: {found}")

    found = await queue()
    assert found[("workbench_task_queue_pollers", "workflow")] == 0
    write_notebook(jp_root_dir / "flows" / "work.ipynb", "print('done')")
    (jp_root_dir / "flows" / "queued.yaml").write_text(SPEC)
    await jp_fetch(
        "workbench", "api", "pipelines", "deploy",
        method="POST", body=json.dumps({"path": "flows/queued.yaml"}),
    )  # fmt: skip
    run = json.loads(
        (
            await jp_fetch(
                "workbench", "api", "pipelines", "queued", "runs", method="POST", body=b"{}"
            )
        ).body
    )
    waiting = await until(
        lambda f: f.get(("workbench_task_queue_backlog", "workflow"), 0) >= 1,
        "the run's workflow task in the backlog",
    )
    assert waiting[("workbench_task_queue_pollers", "workflow")] == 0
    worker = spawn_worker(home, temporal_address, task_queue)
    try:
        drained = await until(
            lambda f: (
                f.get(("workbench_task_queue_pollers", "workflow"), 0) >= 1
                and f.get(("workbench_task_queue_backlog", "workflow"), 1) == 0
            ),
            "a polling worker and an empty backlog",
        )
        assert drained[("workbench_task_queue_backlog", "activity")] == 0
        for _ in range(300):
            run = json.loads((await jp_fetch("workbench", "api", "runs", run["id"])).body)
            if run["status"] in ("succeeded", "failed"):
                break
            await asyncio.sleep(0.2)
        assert run["status"] == "succeeded", run
    finally:
        stop_worker(worker)
