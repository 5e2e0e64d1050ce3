"""Approval gates as their users meet them: a run waits at an ``approval`` step until a
permitted person approves (the next steps run) or rejects (the run fails with the reason),
through REST, the CLI or a signed link; only permitted people may decide; the wait
survives a killed worker and a restarted Temporal; a gate nobody decides is escalated and
times out. Real Temporal dev servers, real workers, a real HTTP receiver as the webhook.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench, terminate
from tests.support.receivers import Webhooks, webhook_receiver
from tests.support.servers import workbench_server
from tests.support.temporal import wait_for_temporal
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_pipelines.validate import validate_text
from workbench_server import temporal
from workbench_server.approvals import links
from workbench_server.approvals.events import ApprovalEvent, approval_events
from workbench_server.approvals.service import ApprovalService
from workbench_server.errors import ConflictError
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import Principal
from workbench_server.supervisor import free_port

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
ALICE = Principal(name="alice", groups=frozenset({"staff"}))
DAVE = Principal(name="dave", groups=frozenset({"finance-ops"}))  # an operator

# prepare -> signoff (the gate) -> publish; publish leaves a file behind when it runs.
SPEC = """\
name: NAME
parameters:
  period: {type: string, default: "2026-11"}
access:
  viewers: [finance]
steps:
  - {id: prepare, notebook: step.ipynb, kernel: python3, parameters: {out: "OUT/prepare"}}
  - id: signoff
    kind: approval
    depends_on: [prepare]
    message: "Sign off the close of {{ params.period }} (run of {{ ds }})"
    approvers: {users: [carol]}
    notify: ["webhook:HOOKS/requested"]
  - id: publish
    notebook: step.ipynb
    kernel: python3
    depends_on: [signoff]
    parameters: {out: "OUT/publish"}
"""


def _spec(name: str, out: Path, hooks: str = "http://127.0.0.1:9") -> str:
    return SPEC.replace("NAME", name).replace("OUT", str(out)).replace("HOOKS", hooks)


def _folder(root: Path, name: str, spec: str) -> Path:
    write_notebook(
        root / name / "step.ipynb",
        "open(out, 'a').write('ran\\n')",
        parameters="out = ''",
    )
    (root / name / "pipeline.yaml").write_text(spec)
    return root / name / "pipeline.yaml"


# --- REST: who may decide, approve, reject through a signed link -------------------------


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(
        home,
        temporal_address=temporal_address,
        task_queue=task_queue,
        principal_provider_class=PROVIDER,
    )


class Api:
    """Plain HTTP calls: as the local admin (``login``), as a team member (``user``), or
    with no credential at all."""

    def __init__(self, port: int, base_url: str, auth: dict[str, str]) -> None:
        self.root = f"http://127.0.0.1:{port}{base_url}workbench/api/"
        self.auth = auth

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        user: str | None = None,
        login: bool = True,
    ) -> tuple[int, Any]:
        headers = {
            "Content-Type": "application/json",
            **(self.auth if login else {}),
            **(as_user(user) if user else {}),
        }
        request = HTTPRequest(
            self.root + path,
            method=method,
            headers=headers,
            body=json.dumps(body if body is not None else {}) if method == "POST" else None,
            request_timeout=120,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        text = response.body or b""
        try:
            return response.code, json.loads(text) if text else None
        except ValueError:
            return response.code, text.decode()


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_http_port, jp_base_url, jp_auth_header) -> Api:
    return Api(jp_http_port, jp_base_url, dict(jp_auth_header))


async def _until(check, seconds: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _pending(api: Api, run_id: str) -> dict[str, Any]:
    async def gate():
        code, body = await api("GET", f"runs/{run_id}/approvals/signoff")
        return body if code == 200 and body["status"] == "pending" else None

    return await _until(gate, what=f"run {run_id} to wait at signoff")


async def _finished(api: Api, run_id: str) -> dict[str, Any]:
    async def ended():
        _, run = await api("GET", f"runs/{run_id}")
        return run if run["status"] in ("succeeded", "failed", "cancelled") else None

    return await _until(ended, seconds=180, what=f"run {run_id} to end")


async def _deploy_and_start(api: Api, root: Path, name: str, out: Path, hooks: str) -> str:
    _folder(root, name, _spec(name, out, hooks))
    code, body = await api("POST", "pipelines/deploy", {"path": f"{name}/pipeline.yaml"})
    assert code == 201, body
    code, run = await api("POST", f"pipelines/{name}/runs", {})
    assert code == 201, run
    return run["id"]


@pytest.mark.timeout(400)
async def test_only_permitted_people_decide_and_an_approval_lets_the_run_go_on(
    api: Api, jp_serverapp, jp_root_dir: Path, worker, tmp_path: Path
) -> None:
    heard: list[ApprovalEvent] = []
    approval_events(jp_serverapp.web_app.settings["workbench"]).subscribe(heard.append)
    out = tmp_path / "out"
    out.mkdir()
    with webhook_receiver() as hooks:
        run_id = await _deploy_and_start(api, jp_root_dir, "close", out, hooks.url)
        # A pipeline shared with nobody: its run's gate is not even found by others.
        private = _spec("private", out, hooks.url).replace("  viewers: [finance]\n", "")
        private = private.replace("access:\n", "")
        _folder(jp_root_dir, "private", private)
        code, _ = await api("POST", "pipelines/deploy", {"path": "private/pipeline.yaml"})
        assert code == 201
        _, other = await api("POST", "pipelines/private/runs", {})

        gate = await _pending(api, run_id)
        assert gate["message"] == f"Sign off the close of 2026-11 (run of {time_today()})"
        assert gate["approvers"] == {"users": ["carol"], "groups": []}
        assert not (out / "publish").exists()  # the run waits: publish has not run
        await _pending(api, other["id"])

        # Without a login: refused before anything is looked at.
        code, _ = await api("POST", f"runs/{run_id}/approvals/signoff/approve", login=False)
        assert code in (401, 403), code
        # bob sees the run (finance views it) but is no approver: 403, and nothing waits
        # for him; carol is.
        code, body = await api("POST", f"runs/{run_id}/approvals/signoff/approve", user="bob")
        assert code == 403 and "carol" in body["message"], body
        _, waiting = await api("GET", "approvals", user="bob")
        assert waiting == []
        _, waiting = await api("GET", "approvals", user="carol")
        assert [(a["run_id"], a["step_id"], a["may_decide"]) for a in waiting] == [
            (run_id, "signoff", True)
        ]
        # Another's private pipeline: its run is not found at all.
        for who in ("bob", "carol"):
            code, body = await api(
                "POST", f"runs/{other['id']}/approvals/signoff/approve", user=who
            )
            assert code == 404, body
        # A rejection needs a reason; an unknown step is not found.
        code, body = await api("POST", f"runs/{run_id}/approvals/signoff/reject", user="carol")
        assert code == 400 and "reason" in body["message"], body
        code, body = await api("POST", f"runs/{run_id}/approvals/nope/approve", user="carol")
        assert code == 404, body
        assert body["message"] == (
            f"close has no step 'nope' in run {run_id}; its approval steps: signoff"
        )
        # A step of another kind says so (it once read "no approval 'publish' (yet)").
        code, body = await api("POST", f"runs/{run_id}/approvals/publish/approve", user="carol")
        assert code == 404, body
        assert body["message"] == (
            "step 'publish' of close is a notebook step, not an approval; its approval "
            "steps: signoff"
        )
        code, body = await api(
            "POST", f"runs/{run_id}/approvals/signoff/approve", {"via": "fax"}, user="carol"
        )
        assert code == 400, body

        code, decided = await api(
            "POST",
            f"runs/{run_id}/approvals/signoff/approve",
            {"reason": "totals tie out", "via": "panel"},
            user="carol",
        )
        assert code == 200 and decided["status"] == "approved", decided
        # Decided once: a second decision is a conflict that says who decided.
        code, body = await api(
            "POST", f"runs/{run_id}/approvals/signoff/reject", {"reason": "late"}, user="carol"
        )
        assert code == 409 and "approved by carol" in body["message"], body

        run = await _finished(api, run_id)
        assert run["status"] == "succeeded", run
        assert (out / "publish").read_text() == "ran\n"
        steps = {a["step_id"]: a["status"] for a in run["attempts"]}
        assert steps == {"prepare": "succeeded", "signoff": "succeeded", "publish": "succeeded"}
        [shown] = run["approvals"]
        assert (shown["decided_by"], shown["reason"], shown["via"]) == (
            "carol",
            "totals tie out",
            "panel",
        )
        assert shown["decided_at"] >= shown["requested_at"]
        # The approvers were told, with signed links an e-mail or n8n can carry.
        requested = [p for _, path, p in hooks.received if path == "/requested"]
        assert requested and requested[0]["event"] == "approval_requested"
        assert set(requested[0]["links"]) == {"approve", "reject"}
        assert requested[0]["message"] == gate["message"]
        await api("POST", f"runs/{other['id']}/cancel")
    assert [(e.kind, e.decided_by) for e in heard] == [("decided", "carol")]


def time_today() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).date().isoformat()


def _tampered(token: str) -> str:
    payload, _, signature = token.partition(".")
    claims = json.loads(links._unb64(payload))
    claims["approve"] = not claims["approve"]  # a reject link turned into an approval
    forged = links._b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{forged}.{signature}"


@pytest.mark.timeout(400)
async def test_a_signed_link_rejects_once_and_not_after_expiry_or_tampering(
    api: Api, jp_serverapp, jp_root_dir: Path, worker, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with webhook_receiver() as hooks:
        run_id = await _deploy_and_start(api, jp_root_dir, "close", out, hooks.url)
        await _pending(api, run_id)

        async def told():  # the approvers are told just after the gate opens
            return [p for _, path, p in hooks.received if path == "/requested"]

        [notice] = await _until(told, what="the approval request at the webhook")
    reject = notice["links"]["reject"]
    key = jp_serverapp.web_app.settings["workbench"].settings.workbench_home.secrets_key

    # Altered, expired, or not a token at all: refused, and nothing is decided.
    code, body = await api("POST", "approvals/link", {"token": _tampered(reject)}, login=False)
    assert code == 403 and "not valid" in body["message"], body
    expired = links.make_token(key, run_id, "signoff", True, -1, "link:mail")
    code, body = await api("POST", "approvals/link", {"token": expired}, login=False)
    assert code == 403 and "expired" in body["message"], body
    code, body = await api("POST", "approvals/link", {"token": "nonsense"}, login=False)
    assert code == 400 and "token" in body["message"], body
    code, body = await api("POST", "approvals/link", {}, login=False)
    assert code == 403 and "token" in body["message"], body
    assert (await api("GET", f"runs/{run_id}/approvals/signoff"))[1]["status"] == "pending"

    # Opening the link only shows what it will do (mail scanners fetch links).
    code, page = await api("GET", f"approvals/link?link_token={reject}", login=False)
    assert code == 200 and "Reject step signoff" in page
    assert (await api("GET", f"runs/{run_id}/approvals/signoff"))[1]["status"] == "pending"

    code, decided = await api(
        "POST", "approvals/link", {"token": reject, "reason": "FX not revalued"}, login=False
    )
    assert code == 200 and decided["status"] == "rejected", decided
    code, body = await api("POST", "approvals/link", {"token": reject}, login=False)
    assert code == 409 and "already rejected" in body["message"], body

    run = await _finished(api, run_id)
    assert run["status"] == "failed"
    assert "FX not revalued" in run["error"], run["error"]
    steps = {a["step_id"]: (a["status"], a["error"]) for a in run["attempts"]}
    assert steps["signoff"][0] == "failed" and "FX not revalued" in steps["signoff"][1]
    assert steps["publish"][0] == "upstream_failed"
    assert not (out / "publish").exists()
    [shown] = run["approvals"]
    assert shown["via"] == "link" and shown["decided_by"].startswith("link:webhook:")


# --- durability: a killed worker and a restarted Temporal while the gate waits ----------


class DevServer:
    """A Temporal dev server on a fixed port keeping its state in a DB file, restartable."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port("127.0.0.1")
        self.ports = (free_port("127.0.0.1"), free_port("127.0.0.1"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = temporal.dev_server_args(
            temporal.temporal_binary(),
            ip="127.0.0.1",
            port=self.port,
            http_port=self.ports[0],
            metrics_port=self.ports[1],
            db_file=self.workdir / "temporal.db",
        )
        with (self.workdir / "temporal.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        asyncio.run(wait_for_temporal(self.address, self.proc))

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None


@pytest.fixture
def dev_server(tmp_path: Path):
    server = DevServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _wait_for(check, seconds: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


async def _pending_activities(address: str, workflow_id: str) -> int:
    client = await temporal.connect(address)
    described = await client.get_workflow_handle(workflow_id).describe()
    return len(described.raw_description.pending_activities)


@pytest.mark.timeout(400)
def test_the_gate_survives_a_killed_worker_and_a_restarted_temporal(
    workbench, home: Path, dev_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    workbench.settings.temporal_address = dev_server.address
    workbench.settings.task_queue = task_queue
    out = tmp_path / "out"
    out.mkdir()
    spec = _spec("close", out).replace("    approvers: {users: [carol]}\n", "")
    spec = spec.replace('    notify: ["webhook:http://127.0.0.1:9/requested"]\n', "")
    spec = spec.replace("  viewers: [finance]\n", "  operators: [finance-ops]\n")
    spec_file = _folder(tmp_path / "flows", "close", spec)
    PipelineRegistry(workbench, ALICE).deploy(spec_file)

    first = spawn_worker(home, dev_server.address, task_queue)
    second = None
    try:
        run = asyncio.run(RunService(workbench, ALICE).start("close"))
        gate = _wait_for(
            lambda: ApprovalService(workbench, DAVE).pending(), what="the gate to wait"
        )
        # By default the owner and the operators decide: dave (an operator) sees it.
        assert [(g.run_id, g.approvers) for g in gate] == [
            (run.id, {"users": ["alice"], "groups": ["finance-ops"]})
        ]
        # Waiting holds no activity (and so no worker slot) once the gate has opened.
        workflow_id = f"run-close-{run.id}"
        _wait_for(
            lambda: asyncio.run(_pending_activities(dev_server.address, workflow_id)) == 0,
            seconds=30,
            what="no activity while the gate waits",
        )

        first.kill()  # SIGKILL while the gate waits
        first.wait()
        dev_server.stop()
        env = base_env(home) | {
            "WORKBENCH_TEMPORAL_ADDRESS": dev_server.address,
            "WORKBENCH_TASK_QUEUE": task_queue,
        }
        # A decision that cannot reach the run (Temporal is down) is taken back.
        down = run_workbench("approve", run.id, "signoff", "--reason", "too early", env=env)
        assert down.returncode == 1 and "try again" in down.stderr, down.stderr
        assert [g.status for g in ApprovalService(workbench, DAVE).pending()] == ["pending"]
        dev_server.start()  # the same DB file: Temporal remembers the waiting run
        second = spawn_worker(home, dev_server.address, task_queue, log_name="worker-2.log")

        refused = run_workbench("approve", run.id, "signoff", "--reject", env=env)
        assert refused.returncode == 1 and "reason" in refused.stderr, refused.stderr
        decided = run_workbench(
            "approve", run.id, "signoff", "--reason", "ok after restart", env=env
        )
        assert decided.returncode == 0, decided.stderr
        assert "signoff of run" in decided.stdout and "approved" in decided.stdout

        def ended():
            got = RunService(workbench, ALICE).get(run.id)
            return got if got.status in ("succeeded", "failed", "cancelled") else None

        done = _wait_for(ended, seconds=180, what="the run to end")
        shown = run_workbench("pipeline", "show", run.id, env=env)
        assert re.search(
            r"approval signoff +approved by \S+ \(cli\) .*: ok after restart", shown.stdout
        ), shown.stdout
    finally:
        first.kill()
        if second is not None:
            stop_worker(second)
    assert done.status == "succeeded", done.error
    assert (out / "prepare").read_text() == "ran\n"  # prepare did not run again
    assert (out / "publish").read_text() == "ran\n"
    [shown] = done.approvals
    assert shown.status == "approved" and shown.reason == "ok after restart"
    assert shown.via == "cli"


@pytest.mark.timeout(300)
def test_a_decision_for_a_run_that_ended_meanwhile_closes_the_gate(
    workbench, worker, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    workbench.settings.temporal_address = temporal_address
    workbench.settings.task_queue = task_queue
    spec = _spec("close", tmp_path).replace("    approvers: {users: [carol]}\n", "")
    spec = spec.replace('    notify: ["webhook:http://127.0.0.1:9/requested"]\n', "")
    PipelineRegistry(workbench, ALICE).deploy(_folder(tmp_path / "flows", "close", spec))
    run = asyncio.run(RunService(workbench, ALICE).start("close"))
    _wait_for(lambda: ApprovalService(workbench, ALICE).pending(), what="the gate to wait")

    async def terminate_run() -> None:  # as an operator could with the Temporal CLI
        client = await temporal.connect(temporal_address)
        await client.get_workflow_handle(f"run-close-{run.id}").terminate("gone")

    asyncio.run(terminate_run())
    gates = ApprovalService(workbench, ALICE)
    with pytest.raises(ConflictError, match="ended before the decision reached it"):
        asyncio.run(gates.decide(run.id, "signoff", True, "too late"))
    assert gates.get(run.id, "signoff").status == "cancelled"
    assert gates.pending() == []


# --- escalation and timeout ---------------------------------------------------------------

TIMED = """\
name: timed
steps:
  - id: signoff
    kind: approval
    message: "Approve the payment run"
    escalate: {after: 2s, notify: ["webhook:HOOKS/escalate"]}
    timeout: 6s
  - {id: pay, notebook: step.ipynb, kernel: python3, depends_on: [signoff],
     parameters: {out: "OUT/pay"}}
"""


@pytest.mark.timeout(300)
def test_a_gate_nobody_decides_is_escalated_then_rejected_at_its_timeout(
    workbench, worker, home: Path, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    workbench.settings.temporal_address = temporal_address
    workbench.settings.task_queue = task_queue
    out = tmp_path / "out"
    out.mkdir()
    with webhook_receiver() as hooks:
        spec = TIMED.replace("HOOKS", hooks.url).replace("OUT", str(out))
        PipelineRegistry(workbench, ALICE).deploy(_folder(tmp_path / "flows", "timed", spec))
        started = time.monotonic()
        run = asyncio.run(RunService(workbench, ALICE).start("timed"))
        done = asyncio.run(RunService(workbench, ALICE).wait(run.id))
        elapsed = time.monotonic() - started
        escalations = _escalations(hooks)
    assert done.status == "failed"
    assert "rejected by timeout" in done.error, done.error
    assert elapsed >= 6, "the run ended before its gate's timeout"
    assert not (out / "pay").exists()
    [notice] = escalations
    assert notice["event"] == "approval_escalated" and notice["step_id"] == "signoff"
    assert notice["message"] == "Approve the payment run" and notice["links"] == {}
    [shown] = done.approvals
    assert shown.status == "rejected" and shown.via == "timeout"
    assert shown.escalated_at is not None
    sent = {(n.event, n.status) for n in done.notifications}
    assert ("approval_escalated", "sent") in sent


WAITING = """\
name: waiting
steps:
  - id: signoff
    kind: approval
    escalate: {after: 1s, notify: ["webhook:HOOKS/escalate"]}
    timeout: 3s
    on_timeout: wait
  - {id: pay, notebook: step.ipynb, kernel: python3, depends_on: [signoff],
     parameters: {out: "OUT/pay"}}
"""


@pytest.mark.timeout(300)
def test_a_gate_that_waits_past_its_timeout_says_so_and_still_takes_a_decision(
    workbench, worker, home: Path, temporal_address: str, task_queue: str, tmp_path: Path
) -> None:
    workbench.settings.temporal_address = temporal_address
    workbench.settings.task_queue = task_queue
    out = tmp_path / "out"
    out.mkdir()
    with webhook_receiver() as hooks:
        spec = WAITING.replace("HOOKS", hooks.url).replace("OUT", str(out))
        PipelineRegistry(workbench, ALICE).deploy(_folder(tmp_path / "flows", "waiting", spec))
        run = asyncio.run(RunService(workbench, ALICE).start("waiting"))
        told = _wait_for(
            lambda: (
                [p["event"] for p in _escalations(hooks)]
                == [
                    "approval_escalated",
                    "approval_timeout",
                ]
            ),
            seconds=60,
            what="the escalation, then the timeout notice",
        )
        assert told
        # Past its timeout the gate still waits, and a decision still counts.
        assert RunService(workbench, ALICE).get(run.id).status == "running"
        decided = asyncio.run(
            ApprovalService(workbench, ALICE).decide(run.id, "signoff", True, "late but fine")
        )
        assert decided.status == "approved"
        done = asyncio.run(RunService(workbench, ALICE).wait(run.id))
    assert done.status == "succeeded", done.error
    assert (out / "pay").read_text() == "ran\n"


def _escalations(hooks: Webhooks) -> list[dict[str, Any]]:
    return [p for _, path, p in hooks.received if path == "/escalate"]


# --- the spec ---------------------------------------------------------------------------


def test_approval_steps_are_checked_with_file_and_line(tmp_path: Path) -> None:
    text = """\
name: gated
parameters:
  period: {type: string}
steps:
  - id: signoff
    kind: approval
    message: "Sign off {{ params.perod }}"
    approvers: {}
  - id: other
    kind: approval
    escalate: {after: 2h, notify: ["webhook:https://chat.example.com/x"]}
    timeout: 1h
  - id: third
    kind: approval
    on_timeout: later
"""
    errors = {(e.line, e.path): e.message for e in validate_text(text, file="p.yaml")}
    assert "params.perod" in errors[(7, "steps[0].message")]
    assert "at least one user or group" in errors[(8, "steps[0].approvers")]
    assert "shorter than timeout" in errors[(9, "steps[1]")]
    assert "reject" in errors[(15, "steps[2].on_timeout")]


def test_two_approval_steps_do_not_share_a_target(tmp_path: Path) -> None:
    text = """\
name: gated
steps:
  - id: first
    kind: approval
    notify: ["webhook:https://n8n.example.com/a"]
  - id: second
    kind: approval
    depends_on: [first]
    notify: ["webhook:https://n8n.example.com/b", "webhook:https://n8n.example.com/a"]
"""
    [error] = validate_text(text, file="p.yaml")
    assert (error.line, error.path) == (9, "steps[1].notify[1]")
    assert "approval step 'first' already" in error.message
