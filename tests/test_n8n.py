"""n8n in and out through a real n8n (issue 18, must-show 2): the workflow shipped in
docs/n8n/ triggers a pipeline through its trigger URL, waits, and branches on the run's
end; a bad credential is refused (401) and logged; while n8n is down the events meant
for it are retried and recorded, and delivered once it is back."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.n8n_peer import HOW_TO_INSTALL, N8n, installed
from tests.support.servers import workbench_server
from tests.test_webhooks import Api, _deploy, _until
from workbench_server.webhooks import signing

DOCS_WORKFLOW = Path(__file__).parents[1] / "docs" / "n8n" / "trigger-and-wait.json"
EVENTS_WORKFLOW = {
    "name": "Workbench events",
    "nodes": [
        {
            "id": "e1",
            "name": "Workbench event",
            "type": "n8n-nodes-base.webhook",
            "typeVersion": 2,
            "position": [0, 0],
            "webhookId": "4f1d6a4e-2b7c-4c1e-8a55-0000000000e1",
            "parameters": {"httpMethod": "POST", "path": "workbench-events", "options": {}},
        }
    ],
    "connections": {},
    "settings": {"executionOrder": "v1"},
}


@pytest.fixture(scope="session")
def n8n(tmp_path_factory: pytest.TempPathFactory) -> Iterator[N8n]:
    if not installed():
        pytest.fail(HOW_TO_INSTALL, pytrace=False)
    server = N8n(tmp_path_factory.mktemp("n8n"))
    try:
        server.start()
        server.set_up_owner()
        yield server
    finally:
        server.stop()


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(home, temporal_address=temporal_address, task_queue=task_queue)


@pytest.fixture
def api(jp_fetch, jp_http_port, jp_base_url, jp_auth_header) -> Api:
    return Api(jp_http_port, jp_base_url, dict(jp_auth_header))


def _shipped(trigger_url: str, credential_id: str, path: str) -> dict[str, Any]:
    """The docs' workflow as a person would set it up: the trigger URL, the credential
    holding the trigger secret, and (here) a webhook path of its own."""
    workflow = copy.deepcopy(json.loads(DOCS_WORKFLOW.read_text()))
    for node in workflow["nodes"]:
        if node["name"] == "Trigger pipeline":
            node["parameters"]["url"] = trigger_url
            node["credentials"]["httpHeaderAuth"]["id"] = credential_id
        if node["name"] == "Start":
            node["parameters"]["path"] = path
    workflow["name"] += f" ({path})"
    return workflow


def _last_node(execution: dict[str, Any]) -> tuple[str, Any]:
    data = execution["data"]["resultData"]
    name = data.get("lastNodeExecuted")
    runs = data["runData"][name]
    return name, runs[-1]


async def test_a_shipped_workflow_triggers_waits_and_branches_on_the_run(
    api: Api, jp_root_dir: Path, worker, n8n: N8n
) -> None:
    await _deploy(api, jp_root_dir, "close")
    _, made, _ = await api("POST", "pipelines/close/trigger/secret")
    credential = n8n.header_credential(
        f"Workbench trigger {time.time_ns()}", "Authorization", f"Bearer {made['secret']}"
    )
    flow = n8n.import_workflow(_shipped(made["trigger_url"], credential, "close-run"))
    code, _ = n8n.webhook("close-run", {"parameters": {"who": "n8n"}})
    assert code == 200

    async def finished() -> dict[str, Any] | None:
        found = await asyncio.to_thread(n8n.executions, flow)
        done = [e for e in found if e.get("finished") or e.get("status") in ("success", "error")]
        return done[0] if done else None

    execution = await _until(finished, 180, "the n8n execution to finish")
    name, last = _last_node(execution)
    assert name == "Run succeeded", json.dumps(execution["data"]["resultData"])[:2000]
    result = last["data"]["main"][0][0]["json"]
    assert result["result"] == "succeeded"
    assert result["outputs"]["steps"] == {"greet": "succeeded"}

    # The workbench's side: a run started by the trigger credential, its end delivered
    # to the resume URL n8n gave.
    _, runs, _ = await api("GET", "runs?pipeline=close")
    (run,) = runs
    assert run["id"] == result["run_id"] and run["trigger"] == "trigger_url"
    assert run["parameters"]["who"] == "n8n" and run["requested_by"].startswith("trigger:close#")
    _, deliveries, _ = await api("GET", f"runs/{run['id']}/deliveries")
    assert [(d["event"], d["status"]) for d in deliveries] == [("run.succeeded", "delivered")]
    assert "/webhook-waiting/" in deliveries[0]["url"]


async def test_a_wrong_secret_in_n8n_is_refused_and_logged(
    api: Api, jp_root_dir: Path, n8n: N8n, caplog
) -> None:
    await _deploy(api, jp_root_dir, "guarded")
    _, made, _ = await api("POST", "pipelines/guarded/trigger/secret")
    credential = n8n.header_credential(
        f"Wrong secret {time.time_ns()}", "Authorization", "Bearer wbsec_not-the-secret"
    )
    flow = n8n.import_workflow(_shipped(made["trigger_url"], credential, "guarded-run"))
    caplog.set_level("WARNING")
    code, _ = n8n.webhook("guarded-run", {"parameters": {}})
    assert code == 200

    async def failed() -> dict[str, Any] | None:
        found = await asyncio.to_thread(n8n.executions, flow)
        return next((e for e in found if e.get("status") == "error"), None)

    execution = await _until(failed, 120, "the n8n execution to fail")
    error = json.dumps(execution["data"]["resultData"].get("error", {}))
    assert "401" in error, error[:1000]
    _, info, _ = await api("GET", "pipelines/guarded/trigger/secret")
    assert info["refused"] == 1 and "bearer token" in info["last_refused_reason"]
    assert any(
        "Trigger of pipeline guarded refused (401)" in r.getMessage() for r in caplog.records
    )
    _, runs, _ = await api("GET", "runs?pipeline=guarded")
    assert runs == []


async def test_events_for_n8n_are_retried_while_it_is_down_and_delivered_after(
    api: Api, jp_root_dir: Path, worker, n8n: N8n
) -> None:
    flow = n8n.import_workflow(EVENTS_WORKFLOW)
    await _deploy(api, jp_root_dir, "nightly")
    code, target, _ = await api(
        "POST",
        "pipelines/nightly/webhooks",
        {"url": f"{n8n.url}/webhook/workbench-events", "events": ["run.succeeded"]},
    )
    assert code == 201
    n8n.stop()
    try:
        _, run, _ = await api("POST", "pipelines/nightly/runs", {"parameters": {"who": "ops"}})

        async def retried() -> list[dict[str, Any]] | None:
            _, found, _ = await api("GET", f"runs/{run['id']}/deliveries")
            return found if found and found[0]["attempts"] >= 2 else None

        found = await _until(retried, 180, "failed attempts while n8n is down")
        assert found[0]["status"] == "retrying" and "could not be reached" in found[0]["last_error"]
    finally:
        await asyncio.to_thread(n8n.start)

    async def delivered() -> list[dict[str, Any]] | None:
        _, found, _ = await api("GET", f"runs/{run['id']}/deliveries")
        return found if found[0]["status"] == "delivered" else None

    found = await _until(delivered, 180, "the delivery once n8n is back")
    history = found[0]["history"]
    assert history[-1]["status_code"] == 200 and all(h["error"] for h in history[:-1])

    async def received() -> dict[str, Any] | None:
        executions = await asyncio.to_thread(n8n.executions, flow)
        return executions[0] if executions else None

    execution = await _until(received, 60, "n8n to record the event")
    _, last = _last_node(execution)
    event = last["data"]["main"][0][0]["json"]
    assert event["body"]["type"] == "run.succeeded" and event["body"]["run"]["id"] == run["id"]
    # n8n got what was signed: the body as sent, re-serialised the same way, checks out.
    sent = json.dumps(event["body"], separators=(",", ":"), sort_keys=True).encode()
    signing.verify(target["secret"], event["headers"]["workbench-signature"], sent)
