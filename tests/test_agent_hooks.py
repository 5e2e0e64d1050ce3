"""Agents' event hooks (issue 18): a user registers an agent (a webhook endpoint) and it
hears dataset updates, run ends and approval requests of what that user may see, each
with its data context, signed and delivered through the webhook outbox. Real server,
Temporal, worker, pipeline engine and a real HTTP receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import workbench_server
from tests.support.webhook_sink import Received, Sink
from tests.test_webhooks import PROVIDER, Api, _until
from tests.ui.principals import as_user
from workbench_server.webhooks import signing

# Pipelines of the local admin: one only the admin sees, one the finance group sees
# (every test user is in finance) with a gate only alice may decide.
PRIVATE = """\
name: private_ledger
parameters:
  salt: {type: string, default: "s3cr3t-param"}
steps:
  - id: book
    kind: sql
    sql: SELECT 1 AS id, CAST(12.50 AS DECIMAL(12, 2)) AS amount, 'x' AS memo
    target: silver.agent_private
"""
SHARED = """\
name: shared_report
access:
  viewers: [finance]
steps:
  - id: report
    kind: sql
    sql: SELECT id, amount FROM silver.agent_private
    target: silver.agent_shared
  - id: signoff
    kind: approval
    depends_on: [report]
    message: "Sign off the report"
    approvers: {users: [alice]}
"""


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(
        home,
        temporal_address=temporal_address,
        task_queue=task_queue,
        principal_provider_class=PROVIDER,
    )


@pytest.fixture
def sink() -> Any:
    receiver = Sink(0).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def api(jp_fetch, jp_http_port, jp_base_url, jp_auth_header) -> Api:
    return Api(jp_http_port, jp_base_url, dict(jp_auth_header))


def _at(sink: Sink, path: str, kind: str | None = None) -> list[Received]:
    return [r for r in sink.events(kind) if r.path == path]


def _verified(secret: str, received: Received) -> dict[str, Any]:
    signing.verify(secret, received.headers[signing.HEADER], received.body)
    return received.event


async def test_agents_are_their_owners_alone(api: Api, sink: Sink) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    code, _, _ = await api("GET", "agents/hooks", login=False)
    assert code in (401, 403)
    for body, why in (
        ({"name": "a", "url": sink.url, "events": ["run.done"]}, "unknown events"),
        ({"name": "../x", "url": sink.url}, "name"),
        ({"name": "a", "url": "ftp://127.0.0.1/x"}, "http"),
        ({"url": sink.url}, "name"),
    ):
        code, answer, _ = await api("POST", "agents/hooks", body, headers=alice)
        assert code == 400 and why in answer["message"], answer
    code, answer, _ = await api("POST", "agents/hooks", b"{nope", headers=alice)
    assert code == 400

    code, made, _ = await api(
        "POST", "agents/hooks", {"name": "helper", "url": sink.url + "/a"}, headers=alice
    )
    assert code == 201 and made["secret"].startswith("wbsec_") and made["owner"] == "alice"
    defaults = {"run.succeeded", "run.failed", "approval.requested", "dataset.updated"}
    assert set(made["events"]) == defaults
    code, answer, _ = await api(
        "POST", "agents/hooks", {"name": "helper", "url": sink.url + "/b"}, headers=alice
    )
    assert code == 400 and "already" in answer["message"]
    # The secret is write-only: never listed or shown again.
    code, listed, _ = await api("GET", "agents/hooks", headers=alice)
    assert [a["id"] for a in listed] == [made["id"]] and made["secret"] not in json.dumps(listed)
    code, one, _ = await api("GET", f"agents/hooks/{made['id']}", headers=alice)
    assert code == 200 and "secret" not in one

    # Bob sees nothing of alice's agent, and cannot change it.
    code, listed, _ = await api("GET", "agents/hooks", headers=bob)
    assert code == 200 and listed == []
    base = f"agents/hooks/{made['id']}"
    for method, path in (
        ("GET", base),
        ("DELETE", base),
        ("POST", base + "/secret"),
        ("GET", base + "/deliveries"),
    ):
        code, answer, _ = await api(method, path, headers=bob)
        assert code == 404 and "no agent" in answer["message"], (method, path, answer)
    code, _, _ = await api("GET", f"agents/hooks/{'9' * 40}", headers=alice)
    assert code == 404
    code, answer, _ = await api("GET", base + "/deliveries?limit=abc", headers=alice)
    assert code == 400 and "limit" in answer["message"]

    code, renewed, _ = await api("POST", base + "/secret", headers=alice)
    assert code == 201 and renewed["secret"] != made["secret"]
    code, _, _ = await api("DELETE", base, headers=alice)
    assert code == 204
    code, _, _ = await api("GET", base, headers=alice)
    assert code == 404


def test_agents_the_network_policy_denies_are_refused(workbench) -> None:
    from workbench_server.agents.hooks import AgentHookService, AgentIn
    from workbench_server.errors import NetworkPolicyError
    from workbench_server.principal import Principal

    alice = Principal(name="alice")
    workbench.settings.egress_deny = ["127.0.0.0/8"]
    with pytest.raises(NetworkPolicyError, match=r"127\.0\.0\.1"):
        AgentHookService(workbench, alice).create(AgentIn(name="a", url="http://127.0.0.1:9/x"))
    workbench.settings.egress_deny = []
    with pytest.raises(NetworkPolicyError):
        AgentHookService(workbench, alice).create(AgentIn(name="a", url="http://169.254.169.254/"))
    assert AgentHookService(workbench, alice).list() == []


async def _deploy(api: Api, root: Path, name: str, spec: str) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "pipeline.yaml").write_text(spec)
    code, body, _ = await api("POST", "pipelines/deploy", {"path": f"{name}/pipeline.yaml"})
    assert code == 201, body


async def _run(api: Api, name: str, status: str = "succeeded", seconds: float = 180) -> str:
    code, run, _ = await api("POST", f"pipelines/{name}/runs", {})
    assert code == 201, run

    async def ended() -> dict[str, Any] | None:
        _, found, _ = await api("GET", f"runs/{run['id']}")
        return found if found["status"] in ("succeeded", "failed", "cancelled") else None

    if status == "waiting":
        return run["id"]
    found = await _until(ended, seconds, f"run of {name}")
    assert found["status"] == status, found
    return run["id"]


@pytest.mark.timeout(600)
async def test_agents_hear_what_their_owners_may_see_with_its_data_context(
    api: Api, jp_root_dir: Path, worker, sink: Sink
) -> None:
    alice, bob = as_user("alice"), as_user("bob")
    everything = ["run.succeeded", "dataset.updated", "approval.requested"]
    agents: dict[str, dict[str, Any]] = {}
    for who, headers in (("alice", alice), ("bob", bob), ("admin", {})):
        code, made, _ = await api(
            "POST",
            "agents/hooks",
            {"name": f"{who}-agent", "url": f"{sink.url}/{who}", "events": everything},
            headers=headers,
        )
        assert code == 201, made
        agents[who] = made
    await _deploy(api, jp_root_dir, "private_ledger", PRIVATE)
    await _deploy(api, jp_root_dir, "shared_report", SHARED)

    # A run of the admin's private pipeline; then the catalog learns the table it wrote,
    # and a second run announces its new version with the catalog's context.
    await _run(api, "private_ledger")
    code, _, _ = await api("POST", "catalog/sources/lake/scans")
    assert code in (200, 201, 202)
    private_run = await _run(api, "private_ledger")

    async def admin_heard() -> bool:
        return any(
            r.event["run"]["id"] == private_run for r in _at(sink, "/admin", "run.succeeded")
        )

    await _until(admin_heard, 60, "the admin's agent to hear its run end")
    done = _verified(
        agents["admin"]["secret"],
        next(
            r for r in _at(sink, "/admin", "run.succeeded") if r.event["run"]["id"] == private_run
        ),
    )
    tables = done["run"]["outputs"]["tables"]
    assert [(t["table"], t["step"]) for t in tables] == [("silver.agent_private", "book")]

    async def heard_version() -> list[Received]:
        found = [
            r
            for r in _at(sink, "/alice", "dataset.updated")
            if r.event["dataset"]["name"] == "lake.silver.agent_private"
            and r.event["dataset"]["table_id"] is not None
        ]
        return found

    updated = _verified(agents["alice"]["secret"], (await _until(heard_version, 60))[0])
    dataset = updated["dataset"]
    assert isinstance(dataset["version"], int) and dataset["version"] >= 1
    assert dataset["rows"] == 1 and dataset["lake"] == "lake"
    assert [c["name"] for c in dataset["columns"]] == ["id", "amount", "memo"], dataset
    assert "decimal" in dataset["columns"][1]["type"].lower(), dataset  # money stays exact
    # Alice may read the lake's table, not the admin's pipeline: nothing of the run.
    assert updated["run"] is None and "s3cr3t-param" not in json.dumps(updated)
    assert not [
        r for r in sink.received if r.path != "/admin" and r.event.get("type") == "run.succeeded"
    ], "a private pipeline's run end reached another user's agent"

    # The shared pipeline: its gate asks alice alone; bob's agent hears nothing of it.
    shared_run = await _run(api, "shared_report", status="waiting")

    async def asked() -> list[Received]:
        return _at(sink, "/alice", "approval.requested")

    request = _verified(agents["alice"]["secret"], (await _until(asked, 120, "the gate"))[0])
    approval = request["approval"]
    assert approval["run_id"] == shared_run and approval["id"] == "signoff"
    assert approval["asked"] == "Sign off the report" and approval["pipeline"] == "shared_report"
    assert request["run"]["id"] == shared_run  # alice may see the pipeline (finance)
    path = approval["decide"]["approve"].removeprefix("workbench/api/")
    code, _, _ = await api("POST", path, {}, headers=bob)
    assert code in (403, 404)
    code, answer, _ = await api("POST", path, {}, headers=alice)
    assert code == 200, answer

    async def both_heard_the_end() -> bool:
        return all(
            any(r.event["run"]["id"] == shared_run for r in _at(sink, f"/{who}", "run.succeeded"))
            for who in ("alice", "bob", "admin")
        )

    await _until(both_heard_the_end, 120, "the shared run's end at every agent")
    assert not _at(sink, "/bob", "approval.requested")
    # The shared table's context names what it was made from.
    shared = [
        r.event["dataset"]
        for r in _at(sink, "/bob", "dataset.updated")
        if r.event["dataset"]["name"] == "lake.silver.agent_shared"
    ]
    assert shared and any(u["name"] == "silver.agent_private" for u in shared[0]["upstream"]), (
        shared
    )
    # Its columns come from its Delta log; the table is scanned into the catalog when its
    # step ends (7e5ce38), before or after the event left: its id, when given, is the
    # catalog's entry of that table.
    assert [c["name"] for c in shared[0]["columns"]] == ["id", "amount"], shared
    if shared[0]["table_id"] is not None:
        code, entry, _ = await api("GET", f"catalog/tables/{shared[0]['table_id']}", headers=bob)
        assert code == 200 and (entry["schema"], entry["name"]) == ("silver", "agent_shared")

    # Each agent's deliveries are listed to its owner, each with its answer; a run's own
    # list (its pipeline's viewers) shows no agent's URL.
    code, found, _ = await api(
        "GET", f"agents/hooks/{agents['alice']['id']}/deliveries", headers=alice
    )
    assert code == 200
    kinds = {d["event"] for d in found}
    assert {"dataset.updated", "approval.requested", "run.succeeded"} <= kinds
    assert all(d["url"] == f"{sink.url}/alice" for d in found)
    delivered = [d for d in found if d["status"] == "delivered"]
    assert delivered and all(d["history"][-1]["status_code"] == 204 for d in delivered)
    code, listed, _ = await api("GET", f"runs/{shared_run}/deliveries", headers=bob)
    assert code == 200 and listed == []


def test_the_cli_registers_lists_and_removes_agents(home: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from workbench_server.cli import cli

    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    run = CliRunner().invoke
    added = run(cli, ["agent", "add", "mine", "http://127.0.0.1:9/x", "--event", "run.failed"])
    assert added.exit_code == 0, added.output
    assert "hears run.failed" in added.output and "wbsec_" in added.output
    listed = run(cli, ["agent", "list"])
    assert "mine  http://127.0.0.1:9/x  run.failed" in listed.output
    assert "wbsec_" not in listed.output  # the secret was shown once
    bad = run(cli, ["agent", "add", "other", "http://127.0.0.1:9/x", "--event", "run.done"])
    assert bad.exit_code == 1 and "unknown events" in bad.output
    agent_id = listed.output.split()[0]
    assert run(cli, ["agent", "remove", agent_id]).exit_code == 0
    gone = run(cli, ["agent", "remove", agent_id])
    assert gone.exit_code == 1 and f"no agent {agent_id}" in gone.output
