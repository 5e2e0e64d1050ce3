"""n8n in and out without n8n: a pipeline's trigger URL and its secret, and run events
delivered signed, retried and recorded, against a real server, Temporal, worker and a
real HTTP receiver. (tests/test_n8n.py does the same through a real n8n.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.servers import workbench_server
from tests.support.webhook_sink import Sink
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_server.supervisor import free_port
from workbench_server.webhooks import signing

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"

SPEC = """\
name: {name}
parameters:
  who: {{type: string, default: world}}
  amount: {{type: integer, default: 1}}
access:
  viewers: [finance]
steps:
  - id: greet
    notebook: greet.ipynb
    kernel: python3
    parameters: {{who: "{{{{ params.who }}}}"}}
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
def sink() -> Iterator[Sink]:
    receiver = Sink(0).start()
    yield receiver
    receiver.stop()


class Api:
    """Plain HTTP calls to the server: with the Jupyter token (``login``) or without."""

    def __init__(self, port: int, base_url: str, auth: dict[str, str]) -> None:
        self.root = f"http://127.0.0.1:{port}{base_url}"
        self.auth = auth

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        login: bool = True,
    ) -> tuple[int, Any, dict[str, str]]:
        raw = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
        request = HTTPRequest(
            path if path.startswith("http") else self.root + "workbench/api/" + path,
            method=method,
            headers={**(self.auth if login else {}), **(headers or {})},
            body=raw if method in ("POST", "PUT") else None,
            allow_nonstandard_methods=True,
            request_timeout=120,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        text = response.body or b""
        return response.code, json.loads(text) if text else None, dict(response.headers)


@pytest.fixture
def api(jp_fetch, jp_http_port, jp_base_url, jp_auth_header) -> Api:
    # (jp_fetch: its fixtures are what start the server listening.)
    return Api(jp_http_port, jp_base_url, dict(jp_auth_header))


async def _deploy(api: Api, root: Path, name: str) -> None:
    write_notebook(root / name / "greet.ipynb", "print(f'hello {who}')", parameters="who = ''")
    (root / name / "pipeline.yaml").write_text(SPEC.format(name=name))
    code, body, _ = await api("POST", "pipelines/deploy", {"path": f"{name}/pipeline.yaml"})
    assert code == 201, body


async def _until(check, seconds: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def _verified(secret: str, received) -> dict[str, Any]:
    """The event, once its signature checks out with ``secret``."""
    signing.verify(secret, received.headers[signing.HEADER], received.body)
    return received.event


def test_signatures_check_body_time_and_secret() -> None:
    body = b'{"parameters": {"who": "n8n"}}'
    header = signing.header_value("s3cret", body)
    signing.verify("s3cret", header, body)
    for secret, payload, value, why in (
        ("other", body, header, "does not match"),
        ("s3cret", body + b" ", header, "does not match"),
        ("s3cret", body, signing.header_value("s3cret", body, int(time.time()) - 3600), "clock"),
        ("s3cret", body, "sha256=abc", "must read"),
    ):
        with pytest.raises(signing.BadSignature, match=why):
            signing.verify(secret, value, payload)


async def test_trigger_url_starts_a_run_and_its_events_arrive_signed(
    api: Api, jp_root_dir: Path, worker, sink: Sink, caplog
) -> None:
    await _deploy(api, jp_root_dir, "hello")
    code, info, _ = await api("GET", "pipelines/hello/trigger/secret")
    assert code == 200 and info["enabled"] is False and "secret" not in info

    # No credential yet: refused, and the same for a pipeline that does not exist.
    for name in ("hello", "nope"):
        code, body, headers = await api("POST", f"pipelines/{name}/trigger", {}, login=False)
        assert code == 401 and "Bearer" in headers["Www-Authenticate"], body

    # Only the owner and admins make, rotate and revoke it; others are told who can.
    code, body, _ = await api("POST", "pipelines/hello/trigger/secret", headers=as_user("bob"))
    assert code == 403 and "owner" in body["message"]
    code, _, _ = await api("POST", "pipelines/nope/trigger/secret")
    assert code == 404
    code, made, _ = await api("POST", "pipelines/hello/trigger/secret")
    assert code == 201 and made["secret"].startswith("wbsec_"), made
    assert made["trigger_url"].endswith("/workbench/api/pipelines/hello/trigger")
    secret = made["secret"]
    code, info, _ = await api("GET", "pipelines/hello/trigger/secret")
    assert info["enabled"] is True and "secret" not in info and secret not in json.dumps(info)

    # A webhook target for every event; its secret is shown once too.
    code, body, _ = await api(
        "POST", "pipelines/hello/webhooks", {"url": sink.url + "/events", "events": ["run.done"]}
    )
    assert code == 400 and "unknown events" in body["message"]
    code, target, _ = await api("POST", "pipelines/hello/webhooks", {"url": sink.url + "/events"})
    assert code == 201 and target["secret"].startswith("wbsec_")
    code, listed, _ = await api("GET", "pipelines/hello/webhooks")
    assert [t["id"] for t in listed] == [target["id"]] and "secret" not in listed[0]
    code, _, _ = await api("GET", "pipelines/hello/webhooks", headers=as_user("bob"))
    assert code == 403

    bearer = {"Authorization": f"Bearer {secret}"}
    # Parameters are checked as a manual run's are: the field is named.
    code, body, _ = await api(
        "POST",
        "pipelines/hello/trigger",
        {"parameters": {"amount": "lots"}},
        headers=bearer,
        login=False,
    )
    assert code == 400 and "amount" in body["message"], body

    caplog.set_level("WARNING")
    payload = json.dumps({"parameters": {"who": "n8n"}}).encode()
    signed = {signing.HEADER: signing.header_value(secret, payload)}
    code, started, _ = await api(
        "POST", "pipelines/hello/trigger", payload, headers=signed, login=False
    )
    assert code == 202, started
    assert started["status_url"].endswith(f"/pipelines/hello/trigger/runs/{started['run_id']}")
    # The same signed request again is a replay; a wrong signature is refused and logged.
    code, body, _ = await api(
        "POST", "pipelines/hello/trigger", payload, headers=signed, login=False
    )
    assert code == 401 and "already used" in body["message"]
    forged = {signing.HEADER: signing.header_value("wbsec_guess", payload)}
    code, body, _ = await api(
        "POST", "pipelines/hello/trigger", payload, headers=forged, login=False
    )
    assert code == 401 and "does not match" in body["message"]
    assert any("Trigger of pipeline hello refused (401)" in r.getMessage() for r in caplog.records)
    code, info, _ = await api("GET", "pipelines/hello/trigger/secret")
    assert info["refused"] == 2 and "does not match" in info["last_refused_reason"]

    # The status URL opens with the same credential, and only with it.
    status_url = started["status_url"]
    code, _, _ = await api("GET", status_url, login=False)
    assert code == 401
    # A malformed run id is told so in JSON (it was Jupyter's HTML 404 page), and only
    # to the credential's holder.
    bad = status_url.rsplit("/", 1)[0] + "/not-a-run"
    code, body, headers = await api("GET", bad, headers=bearer, login=False)
    assert code == 404 and headers["Content-Type"].startswith("application/json"), body
    assert "no run 'not-a-run'" in body["message"] and "32 hexadecimal" in body["message"]
    code, body, _ = await api("GET", bad, login=False)
    assert code == 401, body

    async def ended() -> dict[str, Any] | None:
        code, run, _ = await api("GET", status_url, headers=bearer, login=False)
        assert code == 200, run
        return run if run["status"] in ("succeeded", "failed") else None

    run = await _until(ended, what="the triggered run to end")
    assert run["status"] == "succeeded", run
    assert run["trigger"] == "trigger_url" and run["requested_by"].startswith("trigger:hello#")
    assert run["parameters"]["who"] == "n8n" and run["outputs"]["steps"] == {"greet": "succeeded"}
    path = f"pipelines/hello/trigger/runs/{run['id']}"
    code, _, _ = await api(
        "GET",
        path,
        headers={signing.HEADER: signing.header_value(secret, b"/x")},
        login=False,
    )
    assert code == 401  # a signature over another path opens nothing

    async def both() -> bool:
        return bool(sink.events("run.succeeded")) and bool(sink.events("run.started"))

    await _until(both, 30, "the run's events")
    done = _verified(target["secret"], sink.events("run.succeeded")[0])
    assert done["run"]["id"] == run["id"] and done["run"]["outputs"]["steps"] == {
        "greet": "succeeded"
    }
    assert sink.events("run.succeeded")[0].headers["Workbench-Event"] == "run.succeeded"
    _verified(target["secret"], sink.events("run.started")[0])

    # Every delivery and its answer is kept with the run.
    code, found, _ = await api("GET", f"runs/{run['id']}/deliveries")
    assert code == 200
    assert {(d["event"], d["status"]) for d in found} == {
        ("run.started", "delivered"),
        ("run.succeeded", "delivered"),
    }
    assert all(d["history"][-1]["status_code"] == 204 for d in found)
    # ... and comes with the run, for the pipelines panel's run view.
    _, shown, _ = await api("GET", f"runs/{run['id']}")
    assert [d["id"] for d in shown["deliveries"]] == [d["id"] for d in found]
    code, _, _ = await api("GET", f"runs/{'0' * 32}/deliveries")
    assert code == 404

    # Rotating makes the old secret useless at once; revoking closes the URL.
    code, rotated, _ = await api("POST", "pipelines/hello/trigger/secret")
    code, _, _ = await api("POST", "pipelines/hello/trigger", {}, headers=bearer, login=False)
    assert code == 401
    code, _, _ = await api("DELETE", "pipelines/hello/trigger/secret")
    assert code == 204
    again = {"Authorization": f"Bearer {rotated['secret']}"}
    code, _, _ = await api("POST", "pipelines/hello/trigger", {}, headers=again, login=False)
    assert code == 401
    # A target's signing secret is replaced the same way: later events are signed anew.
    path = f"pipelines/hello/webhooks/{target['id']}/secret"
    code, _, _ = await api("POST", path, headers=as_user("bob"))
    assert code == 403
    code, renewed, _ = await api("POST", path)
    assert code == 201 and renewed["secret"] not in (target["secret"], secret)
    code, _, _ = await api("POST", f"pipelines/hello/webhooks/{10**9}/secret")
    assert code == 404
    code, _, _ = await api("DELETE", f"pipelines/hello/webhooks/{target['id']}")
    assert code == 204


async def test_deliveries_are_retried_while_the_receiver_is_down_even_across_a_restart(
    api: Api, jp_root_dir: Path, home: Path, temporal_address: str, task_queue: str
) -> None:
    worker = spawn_worker(home, temporal_address, task_queue)
    down = Sink(free_port("127.0.0.1"))  # nothing listens there yet
    try:
        await _deploy(api, jp_root_dir, "retried")
        code, target, _ = await api(
            "POST",
            "pipelines/retried/webhooks",
            {"url": down.url + "/n8n", "events": ["run.succeeded"]},
        )
        assert code == 201
        code, run, _ = await api("POST", "pipelines/retried/runs", {})
        assert code == 201

        async def failing() -> list[dict[str, Any]] | None:
            _, found, _ = await api("GET", f"runs/{run['id']}/deliveries")
            return found if found and found[0]["attempts"] >= 2 else None

        found = await _until(failing, 180, "failed attempts to be recorded")
        assert found[0]["status"] == "retrying"
        assert all(a["status_code"] is None and a["error"] for a in found[0]["history"])
        assert "could not be reached" in found[0]["last_error"]

        # The worker goes away; the retries are Temporal's timers, not its memory.
        stop_worker(worker)
        worker = spawn_worker(home, temporal_address, task_queue)
        down.start()

        async def delivered() -> list[dict[str, Any]] | None:
            _, found, _ = await api("GET", f"runs/{run['id']}/deliveries")
            return found if found[0]["status"] == "delivered" else None

        found = await _until(delivered, 120, "the delivery once the receiver is back")
        history = found[0]["history"]
        assert history[-1]["status_code"] == 204 and len(history) == found[0]["attempts"] >= 3
        assert len(down.events("run.succeeded")) == 1
        _verified(target["secret"], down.events("run.succeeded")[0])
    finally:
        stop_worker(worker)
        down.stop()


def test_trigger_and_target_secrets_survive_a_key_rotation(workbench, tmp_path: Path) -> None:
    from workbench_server.connections.service import rotate_secrets
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.principal import local_principal
    from workbench_server.webhooks.events import TargetIn, TargetService
    from workbench_server.webhooks.send import attempt
    from workbench_server.webhooks.triggers import TriggerService, authenticate

    write_notebook(tmp_path / "greet.ipynb", "print(who)", parameters="who = ''")
    (tmp_path / "pipeline.yaml").write_text(SPEC.format(name="rotated"))
    me = local_principal()
    PipelineRegistry(workbench, me).deploy(tmp_path / "pipeline.yaml")
    secret = TriggerService(workbench, me).rotate("rotated").secret
    TargetService(workbench, me).create("rotated", TargetIn(url="http://127.0.0.1:9/x"))
    assert rotate_secrets(workbench) >= 2
    caller = authenticate(
        workbench, "rotated", f"Bearer {secret}", "", b"", single_use=False, source="test"
    )
    assert caller.pipeline == "rotated"
    assert attempt(workbench, 10**9, 1, last=True).retry is False  # no such delivery: no error


GATED = """\
name: gated
steps:
  - id: signoff
    kind: approval
    message: "Sign off the close"
  - {id: greet, notebook: greet.ipynb, kernel: python3, depends_on: [signoff]}
"""


async def test_an_approval_gate_is_announced_to_webhook_targets(
    api: Api, jp_root_dir: Path, worker, sink: Sink
) -> None:
    write_notebook(jp_root_dir / "gated" / "greet.ipynb", "print('approved')")
    (jp_root_dir / "gated" / "pipeline.yaml").write_text(GATED)
    code, body, _ = await api("POST", "pipelines/deploy", {"path": "gated/pipeline.yaml"})
    assert code == 201, body
    code, target, _ = await api(
        "POST",
        "pipelines/gated/webhooks",
        {"url": sink.url + "/gates", "events": ["approval.requested", "run.succeeded"]},
    )
    assert code == 201
    _, run, _ = await api("POST", "pipelines/gated/runs", {})

    async def asked() -> bool:
        return bool(sink.events("approval.requested"))

    await _until(asked, 120, "approval.requested")
    event = _verified(target["secret"], sink.events("approval.requested")[0])
    assert event["run"]["id"] == run["id"]
    assert event["step"]["id"] == "signoff" and event["step"]["message"] == "Sign off the close"
    code, body, _ = await api("POST", f"runs/{run['id']}/approvals/signoff/approve", {})
    assert code == 200, body

    async def done() -> bool:
        return bool(sink.events("run.succeeded"))

    await _until(done, 120, "run.succeeded after the approval")
    assert len(sink.events("approval.requested")) == 1


def test_targets_the_network_policy_denies_are_refused(workbench, tmp_path: Path) -> None:
    from workbench_server.errors import NetworkPolicyError
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.principal import local_principal
    from workbench_server.webhooks.events import TargetIn, TargetService

    write_notebook(tmp_path / "greet.ipynb", "print(who)", parameters="who = ''")
    (tmp_path / "pipeline.yaml").write_text(SPEC.format(name="fenced"))
    me = local_principal()
    PipelineRegistry(workbench, me).deploy(tmp_path / "pipeline.yaml")
    workbench.settings.egress_deny = ["127.0.0.0/8"]
    with pytest.raises(NetworkPolicyError, match=r"127\.0\.0\.1"):
        TargetService(workbench, me).create("fenced", TargetIn(url="http://127.0.0.1:9/hook"))
    # Cloud metadata addresses are refused whatever the settings say.
    workbench.settings.egress_deny = []
    with pytest.raises(NetworkPolicyError):
        TargetService(workbench, me).create("fenced", TargetIn(url="http://169.254.169.254/"))
    assert TargetService(workbench, me).list("fenced") == []
