"""A run whose workflow code fails on the worker (a workflows.py loaded mid-edit) is
retried by Temporal until a fixed worker runs it: its status answer says so while it
waits, and the run completes, the message gone, once a fixed worker starts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

import workbench_pipelines
from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench
from tests.support.servers import workbench_server
from workbench_server.agents.tools import AgentTools
from workbench_server.principal import local_principal

SPEC = """\
name: nightly
steps:
  - id: only
    notebook: only.ipynb
    kernel: python3
"""
RUN_CALL = "        return await self._run_plan(plan)\n"


def _broken_package(into: Path) -> Path:
    """A copy of workbench_pipelines whose run workflow calls a method that is not
    there (an edit half saved): the worker imports it, its workflow task raises."""
    source = Path(workbench_pipelines.__file__).parent
    target = into / "workbench_pipelines"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    workflows = target / "workflows.py"
    text = workflows.read_text()
    assert text.count(RUN_CALL) == 1  # the line this test breaks is still there
    workflows.write_text(text.replace(RUN_CALL, RUN_CALL.replace("_run_plan", "_run_plan_new")))
    return into


class Api:
    """REST calls as the local admin (the server's default principal)."""

    def __init__(self, port: int, base_url: str, auth: dict[str, str]) -> None:
        self.root = f"http://127.0.0.1:{port}{base_url}workbench/api/"
        self.auth = auth

    async def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = HTTPRequest(
            self.root + path,
            method=method,
            headers={"Content-Type": "application/json", **self.auth},
            body=json.dumps(body if body is not None else {}) if method == "POST" else None,
            request_timeout=60,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        return response.code, json.loads(response.body) if response.body else None


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(home, temporal_address=temporal_address, task_queue=task_queue)


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_http_port, jp_base_url, jp_auth_header) -> Api:
    return Api(jp_http_port, jp_base_url, dict(jp_auth_header))


async def _until(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.3)


@pytest.mark.timeout(300)
async def test_a_run_whose_workflow_code_fails_says_so_until_a_fixed_worker_runs_it(
    api: Api,
    jp_serverapp,
    jp_root_dir: Path,
    home: Path,
    temporal_address: str,
    task_queue: str,
    tmp_path: Path,
) -> None:
    write_notebook(jp_root_dir / "nightly" / "only.ipynb", "print('ok')")
    (jp_root_dir / "nightly" / "pipeline.yaml").write_text(SPEC)
    code, body = await api("POST", "pipelines/deploy", {"path": "nightly/pipeline.yaml"})
    assert code == 201, body
    path = os.pathsep.join(
        p for p in (str(_broken_package(tmp_path / "broken")), os.environ.get("PYTHONPATH")) if p
    )
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }

    async def detail() -> dict[str, Any]:
        code, run = await api("GET", f"runs/{run_id}")
        assert code == 200, run
        return run

    broken = spawn_worker(home, temporal_address, task_queue, extra_env={"PYTHONPATH": path})
    fixed = None
    try:
        code, run = await api("POST", "pipelines/nightly/runs", {})
        assert code == 201, run
        run_id = run["id"]
        asked = time.monotonic()

        async def named() -> str | None:
            return (await detail())["error"]

        stuck = await _until(named, 90, "the run's detail to name the failure")
        print(f"failure named {time.monotonic() - asked:.1f} s after the run started")
        assert stuck == (
            "the worker cannot run this run's workflow code: AttributeError: "
            "'PipelineRunWorkflow' object has no attribute '_run_plan_new' (it retries "
            "until the worker is fixed; see the worker's log)"
        )
        assert (await detail())["status"] in ("queued", "running")
        code, listed = await api("GET", "runs?pipeline=nightly")
        assert [(r["id"], r["error"]) for r in listed] == [(run_id, None)]  # no Temporal call
        shown = await asyncio.to_thread(
            run_workbench, "pipeline", "show", run_id, env=env, timeout=60
        )
        assert shown.returncode == 0, shown.stderr
        assert f"  error: {stuck}" in shown.stdout.splitlines()
        # The MCP run_status tool (as the local admin) says it too.
        tools = AgentTools(jp_serverapp.web_app.settings["workbench"], local_principal())
        assert (await tools.run_status(run_id))["error"] == stuck

        await asyncio.to_thread(stop_worker, broken)
        fixed = spawn_worker(home, temporal_address, task_queue, log_name="worker-fixed.log")

        async def ended() -> dict[str, Any] | None:
            run = await detail()
            return run if run["status"] in ("succeeded", "failed", "cancelled") else None

        done = await _until(ended, 180, "the run to end once a fixed worker runs it")
        assert (done["status"], done["error"]) == ("succeeded", None)
        assert [(a["step_id"], a["status"]) for a in done["attempts"]] == [("only", "succeeded")]
        shown = await asyncio.to_thread(
            run_workbench, "pipeline", "show", run_id, env=env, timeout=60
        )
        assert shown.returncode == 0, shown.stderr
        assert "error:" not in shown.stdout
    finally:
        await asyncio.to_thread(stop_worker, broken)
        if fixed is not None:
            await asyncio.to_thread(stop_worker, fixed)
