"""The network policy: connection tests, scans, previews and webhooks cannot probe hosts.

Issue 14 item 3: tests told open, closed and silent ports apart, so a user could map the
service's network and guess passwords with repeated tests. A denied host now gets one
answer whatever listens there, names are checked at every address they resolve to,
link-local and cloud metadata addresses are always denied, tests are rate-limited per
user, and a webhook to a denied host is recorded as failed without being sent.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench
from tests.support.receivers import webhook_receiver
from tests.support.servers import workbench_server
from workbench_server.catalog import CatalogService
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.connections.egress import EgressPolicy, UnknownHostError
from workbench_server.errors import NetworkPolicyError
from workbench_server.principal import local_principal
from workbench_server.settings import WorkbenchSettings


def _denial(name: str, host: str) -> str:
    return (
        f"connection {name!r}: host {host} is not allowed by this workbench's network "
        "policy (ask an admin)"
    )


@pytest.fixture
def egress_deny() -> list[str]:
    return []


@pytest.fixture
def jp_server_config(home, egress_deny):
    return workbench_server(home, egress_deny=egress_deny)


@pytest.fixture
def closed_port() -> int:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    return port


async def _api(jp_fetch, *path: str, **kwargs) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of a workbench API call, errors included."""
    try:
        response = await jp_fetch("workbench", "api", *path, **kwargs)
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body), dict(exc.response.headers)
    return response.code, json.loads(response.body or b"{}"), dict(response.headers)


async def _create(jp_fetch, name: str, settings: dict) -> None:
    body = json.dumps({"name": name, "settings": settings})
    code, answer, _ = await _api(jp_fetch, "connections", method="POST", body=body)
    assert code == 201, answer


async def _test(jp_fetch, name: str) -> dict:
    code, answer, _ = await _api(jp_fetch, "connections", name, "test", method="POST", body=b"")
    assert code == 200, answer
    return answer


async def _move(jp_fetch, name: str, **settings: object) -> None:
    body = json.dumps({"settings": settings})
    code, answer, _ = await _api(jp_fetch, "connections", name, method="PATCH", body=body)
    assert code == 200, answer


@pytest.mark.parametrize("egress_deny", [["127.0.0.0/8"]])
async def test_open_closed_and_silent_denied_ports_answer_alike(
    jp_fetch, pg_conninfo: str, closed_port: int, odoo_api
) -> None:
    # A real PostgreSQL listens on 127.0.0.1; the same host's closed port does not.
    await _create(jp_fetch, "target", postgres_settings(pg_conninfo))
    open_answer = await _test(jp_fetch, "target")
    await _move(jp_fetch, "target", port=closed_port)
    closed_answer = await _test(jp_fetch, "target")
    await _move(jp_fetch, "target", port=5432, password="guess-1")
    guessed = await _test(jp_fetch, "target")
    assert (
        open_answer
        == closed_answer
        == guessed
        == {
            "ok": False,
            "connection": "target",
            "server_version": None,
            "latency_ms": None,
            "reason": "denied",
            "message": _denial("target", "127.0.0.1"),
            "replication": None,  # not checked: nothing was reached
        }
    )

    # A name is checked at the addresses it resolves to.
    await _move(jp_fetch, "target", host="localhost", port=closed_port)
    assert (await _test(jp_fetch, "target"))["message"] == _denial("target", "localhost")

    # Odoo's API (HTTP) the same, and a scan answers the same sentence as a 403.
    await _create(jp_fetch, "erp", odoo_api.settings())
    tested = await _test(jp_fetch, "erp")
    assert (tested["reason"], tested["message"]) == ("denied", _denial("erp", "127.0.0.1"))
    for name, host in (("target", "localhost"), ("erp", "127.0.0.1")):
        code, answer, _ = await _api(
            jp_fetch, "catalog", "sources", name, "scans", method="POST", body=b""
        )
        assert (code, answer["message"]) == (403, _denial(name, host))
        code, scans, _ = await _api(jp_fetch, "catalog", "sources", name, "scans")
        assert [(s["status"], s["error"]) for s in scans] == [("failed", _denial(name, host))]


async def test_link_local_is_denied_by_default_and_loopback_is_not(
    jp_fetch, pg_conninfo: str
) -> None:
    await _create(jp_fetch, "odoo", postgres_settings(pg_conninfo))
    assert (await _test(jp_fetch, "odoo"))["ok"]
    for host in ("169.254.169.254", "::ffff:169.254.169.254", "fe80::1", "100.100.100.200"):
        await _move(jp_fetch, "odoo", host=host)
        answer = await _test(jp_fetch, "odoo")
        assert (answer["reason"], answer["message"]) == ("denied", _denial("odoo", host))
    await _create(
        jp_fetch,
        "meta",
        {"kind": "lake", "location": "s3://bucket/x", "endpoint_url": "http://169.254.169.254"},
    )
    assert (await _test(jp_fetch, "meta"))["reason"] == "denied"


async def test_the_eleventh_test_in_a_minute_is_refused_with_retry_after(jp_fetch) -> None:
    await _create(jp_fetch, "mem", {"kind": "duckdb"})
    for _ in range(10):
        assert (await _test(jp_fetch, "mem"))["ok"]
    code, answer, headers = await _api(
        jp_fetch, "connections", "mem", "test", method="POST", body=b""
    )
    assert code == 429
    assert re.fullmatch(
        r"at most 10 connection tests a minute; try again in \d+ s", answer["message"]
    )
    assert 1 <= int(headers["Retry-After"]) <= 60


def test_previews_and_scans_of_the_core_follow_the_policy(workbench, odoo_db: str) -> None:
    service = ConnectionService(workbench, local_principal())
    service.create(ConnectionCreate(name="odoo", settings=postgres_settings(odoo_db)))
    catalog = CatalogService(workbench, local_principal())
    assert catalog.scan("odoo").status == "succeeded"
    _, [table] = catalog.tables("odoo", limit=1)
    assert catalog.preview(table.id, limit=1).rows

    # The admin denies the database's network: the catalog keeps what it has, reads nothing.
    workbench.settings = workbench.settings.model_copy(update={"egress_deny": ["127.0.0.1/32"]})
    with pytest.raises(NetworkPolicyError) as preview:
        catalog.preview(table.id, limit=1)
    with pytest.raises(NetworkPolicyError) as scan:
        catalog.scan("odoo")
    assert str(preview.value) == str(scan.value) == _denial("odoo", "127.0.0.1")
    assert [s.status for s in catalog.scans("odoo")] == ["failed", "succeeded"]
    assert catalog.tables("odoo")[0] > 0


def test_policy_decides_by_every_address_and_the_allow_list() -> None:
    policy = EgressPolicy(deny=["10.0.0.0/8", "*.internal.example"], allow=[])
    assert policy.addresses("127.0.0.1", 5432, what="t") == ["127.0.0.1"]
    for host in ("10.1.2.3", "::ffff:10.1.2.3", "db.internal.example", "0.0.0.0", "[fe80::1]"):
        with pytest.raises(NetworkPolicyError):
            policy.addresses(host, 5432, what="t")
    with pytest.raises(UnknownHostError, match=r"host not found: no-such-host\.invalid"):
        policy.addresses("no-such-host.invalid", 5432, what="t")

    only_local = EgressPolicy(allow=["localhost", "192.168.0.0/16"])
    assert only_local.addresses("127.0.0.1", 80, what="t") == ["127.0.0.1"]  # localhost's
    assert only_local.addresses("192.168.1.1", 80, what="t") == ["192.168.1.1"]
    with pytest.raises(NetworkPolicyError):
        only_local.addresses("10.0.0.1", 80, what="t")
    # The deny list wins over the allow list, and link-local is denied whatever they say.
    both = EgressPolicy(deny=["localhost"], allow=["127.0.0.0/8", "169.254.0.0/16"])
    for host in ("127.0.0.1", "169.254.169.254"):
        with pytest.raises(NetworkPolicyError):
            both.addresses(host, 80, what="t")

    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is neither"):
        EgressPolicy(deny=["10.0.0.0/33"])


def test_settings_reach_children_and_team_mode_denies_its_services(monkeypatch, home) -> None:
    monkeypatch.delenv("WORKBENCH_EGRESS_DENY", raising=False)
    monkeypatch.setenv("WORKBENCH_MODE", "team")
    team = WorkbenchSettings.from_env(home)
    assert team.egress_deny == ["postgres", "temporal", "temporal-ui", "hub", "127.0.0.0/8", "::1"]

    monkeypatch.setenv("WORKBENCH_EGRESS_DENY", "10.0.0.0/8, odoo-db")
    monkeypatch.setenv("WORKBENCH_EGRESS_ALLOW", "10.1.0.0/16")
    settings = WorkbenchSettings.from_env(home)
    env = settings.child_env()
    assert (env["WORKBENCH_EGRESS_DENY"], env["WORKBENCH_EGRESS_ALLOW"]) == (
        "10.0.0.0/8,odoo-db",
        "10.1.0.0/16",
    )
    assert env["WORKBENCH_CONNECTION_TESTS_PER_MINUTE"] == "10"
    with pytest.raises(ValueError, match="'not a host!' is neither"):
        settings.model_validate({**settings.model_dump(), "egress_deny": ["not a host!"]})


DENIED_HOOK = """\
name: quiet_close
notifications:
  on_success: ["webhook:{hooks}/done"]
steps:
  - {{id: a, notebook: a.ipynb, kernel: python3}}
"""


@pytest.mark.timeout(300)
def test_a_webhook_to_a_denied_host_is_failed_and_never_sent(
    tmp_path: Path, home: Path, workbench, temporal_address: str, task_queue: str
) -> None:
    src = tmp_path / "src"
    write_notebook(src / "a.ipynb", "x = 1")
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    with webhook_receiver() as hooks:
        # The receiver listens on 127.0.0.1, which this worker's policy denies.
        worker = spawn_worker(
            home, temporal_address, task_queue, extra_env={"WORKBENCH_EGRESS_DENY": "127.0.0.1"}
        )
        try:
            (src / "quiet.yaml").write_text(DENIED_HOOK.format(hooks=hooks.url))
            deployed = run_workbench("pipeline", "deploy", str(src / "quiet.yaml"), env=env)
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            ran = run_workbench("pipeline", "run", "quiet_close", "--wait", env=env, timeout=240)
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert re.search(
                r"notify success +webhook:\S+/done: failed +the webhook: host 127\.0\.0\.1 is "
                r"not allowed by this workbench's network policy \(ask an admin\)",
                ran.stdout,
            ), ran.stdout
        finally:
            stop_worker(worker)
        assert hooks.received == []
