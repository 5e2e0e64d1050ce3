"""Webhook targets' URLs, read by another user of the team on a real jupyter-server
(users told apart by the test provider's header).

A webhook URL is often a credential by itself: Slack's and Teams' incoming hooks, an
n8n webhook path, a trigger call's ``callback_url`` (an n8n Wait node's resume URL) or
a ``?token=`` in the query. Only the pipeline's owner and admins see its targets; a
viewer of a run reads the run's deliveries (when they went, whether they arrived), but
not the URLs they went to.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import Principal
from workbench_server.webhooks.events import TargetIn, TargetService

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
# The provider makes every named user a non-admin member of "finance".
ALICE = Principal(name="alice", groups=frozenset({"finance"}))
HOOK = "http://127.0.0.1:9/services/T0KEN/B0T/hooksecret42?token=querysecret42"

SPEC = """\
name: shared_close
access:
  viewers: [finance]
steps:
  - {id: load, notebook: step.ipynb, kernel: python3}
"""


@pytest.fixture
def jp_server_config(home: Path):
    return workbench_server(home, principal_provider_class=PROVIDER)


@pytest.fixture
def run_with_delivery(workbench, tmp_path: Path) -> str:
    """alice's pipeline, which the finance group views, with a webhook target; one of its
    runs, recorded as started, has queued a delivery to it."""
    write_notebook(tmp_path / "flows" / "step.ipynb", "print('close')")
    (tmp_path / "flows" / "pipeline.yaml").write_text(SPEC)
    PipelineRegistry(workbench, ALICE).deploy(tmp_path / "flows" / "pipeline.yaml")
    TargetService(workbench, ALICE).create(
        "shared_close", TargetIn(url=HOOK, events=["run.started"])
    )
    plan, _ = RunService(workbench, ALICE).prepare("shared_close", running=True)
    return plan.run_id


async def _get(port: int, base: str, auth: dict[str, str], path: str, user: str | None):
    headers = {**auth, **(as_user(user) if user else {})}
    response = await AsyncHTTPClient().fetch(
        HTTPRequest(f"http://127.0.0.1:{port}{base}workbench/api/{path}", headers=headers),
        raise_error=False,
    )
    return response.code, response.body.decode()


async def test_a_viewer_reads_a_runs_deliveries_but_not_the_target_url(
    jp_serverapp, http_server_client, jp_http_port, jp_base_url, jp_auth_header, run_with_delivery
) -> None:
    auth, run_id = dict(jp_auth_header), run_with_delivery
    # The owner sees the target and where the delivery goes.
    code, body = await _get(jp_http_port, jp_base_url, auth, f"runs/{run_id}/deliveries", "alice")
    assert code == 200, body
    assert [(d["event"], d["url"]) for d in json.loads(body)] == [("run.started", HOOK)]
    # bob views the pipeline and its run, whose deliveries come with it (the run view) ...
    code, body = await _get(jp_http_port, jp_base_url, auth, f"runs/{run_id}", "bob")
    assert code == 200 and len(json.loads(body)["deliveries"]) == 1, body
    assert "hooksecret42" not in body and "querysecret42" not in body, body
    # ... and is refused its targets, as documented ...
    code, body = await _get(
        jp_http_port, jp_base_url, auth, "pipelines/shared_close/webhooks", "bob"
    )
    assert code == 403 and "hooksecret42" not in body, body
    # ... so the run's deliveries tell him that one went, and to which host, not the URL.
    code, body = await _get(jp_http_port, jp_base_url, auth, f"runs/{run_id}/deliveries", "bob")
    assert code == 200, body
    deliveries = json.loads(body)
    assert [(d["event"], d["status"]) for d in deliveries] == [("run.started", "queued")]
    assert "hooksecret42" not in body and "querysecret42" not in body, body
    assert deliveries[0]["url"].startswith("http://127.0.0.1:9/")
