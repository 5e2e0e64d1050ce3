"""A real JupyterHub running the workbench for several users (local hub mode).

JupyterHub, configurable-http-proxy, the hub-managed workbench service and one
jupyterhub-singleuser process per user, all started from ``configure(c)``. Users sign
in through the hub's login form; everything they do goes through the proxy to their
own server, which forwards to the service with their hub identity.
"""

from __future__ import annotations

import getpass
import json
import os
import pwd
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.conftest import spawn_worker, stop_worker
from tests.support.hub import Hub, running_hub
from tests.support.postgres import postgres_settings
from tests.support.two_users import (
    assert_denied_hosts_answer_alike,
    assert_duckdb_views_read_nothing_outside,
    assert_lineage_stays_out_of_others_namespaces,
    assert_runs_are_out_of_reach,
    assert_viewers_read_but_do_not_run,
    deploy_and_finish,
    listening_on,
    private_pipeline,
)

USERS = ("alice", "bob")  # each with a server; carol signs in but starts none
BOOTSTRAP = (
    "import json\n"
    "from workbench_kernels.api import fetch_bootstrap\n"
    "b = fetch_bootstrap()\n"
    "print(json.dumps({n: c.get('password') for n, c in b.connections.items()}))\n"
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, temporal_address: str) -> Iterator[Hub]:
    if shutil.which("configurable-http-proxy") is None:  # a failure, not a silent skip
        pytest.fail("the hub tests need `npm install -g configurable-http-proxy` (.ci/run does it)")
    queue = f"hub-{uuid.uuid4().hex[:8]}"
    env = {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": queue,
        # An address connection tests may not reach (besides the default metadata ones).
        "WORKBENCH_EGRESS_DENY": "127.0.0.2/32",
    }
    with running_hub(tmp_path_factory.mktemp("hub"), env=env) as hub:
        # As `workbench up --hub` does as root: steps run as their owner's account.
        accounts = (
            {
                "WORKBENCH_STEP_ACCOUNTS": "hub",
                "WORKBENCH_HUB_SYSTEM_USER_PREFIX": hub.account_prefix,
            }
            if hub.account_prefix
            else {}
        )
        worker = spawn_worker(hub.home, temporal_address, queue, extra_env=accounts)
        try:
            for name in (*USERS, "carol"):
                hub.login(name)
            hub.start_servers(*USERS)
            yield hub
        finally:
            stop_worker(worker)


def _names(hub: Hub, user: str) -> set[str]:
    answer = hub.workbench(user, "GET", "connections")
    assert answer.status_code == 200, answer.text
    return {c["name"] for c in answer.json()}


def _until(check, timeout: float = 15) -> None:
    """Group changes reach the service once its short identity cache expires."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.3)


def test_every_user_gets_a_server_whose_workbench_answers(hub: Hub) -> None:
    for user in USERS:
        for path in ("catalog/sources", "pipelines"):
            answer = hub.workbench(user, "GET", path)
            assert answer.status_code == 200, (user, path, answer.text)
            assert isinstance(answer.json(), list)


def test_private_connection_is_invisible_and_unusable_for_others(hub: Hub) -> None:
    created = hub.workbench(
        "alice",
        "POST",
        "connections",
        json={"name": "alice_scratch", "settings": {"kind": "duckdb", "path": ":memory:"}},
    )
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == "alice"
    assert "alice_scratch" in _names(hub, "alice")
    assert hub.workbench("alice", "POST", "connections/alice_scratch/test").json()["ok"]

    assert "alice_scratch" not in _names(hub, "bob")
    for method, path in (
        ("GET", "connections/alice_scratch"),
        ("POST", "connections/alice_scratch/test"),
        ("PATCH", "connections/alice_scratch"),
        ("DELETE", "connections/alice_scratch"),
    ):
        body = {"json": {"description": "mine now"}} if method == "PATCH" else {}
        answer = hub.workbench("bob", method, path, **body)
        assert answer.status_code == 404, (method, path, answer.text)
    assert "alice_scratch" in _names(hub, "alice")
    # Hub admins see and may change everything.
    admin = hub.service(getpass.getuser(), "GET", "connections/alice_scratch")
    assert admin.status_code == 200, admin.text


def test_connection_shared_with_a_group_is_for_its_members_only(hub: Hub, pg_conninfo: str) -> None:
    settings = postgres_settings(pg_conninfo)
    created = hub.workbench(
        "alice",
        "POST",
        "connections",
        json={"name": "ledger", "shared_groups": ["finance"], "settings": settings},
    )
    assert created.status_code == 201, created.text
    assert "ledger" not in _names(hub, "bob")  # no group "finance" yet

    assert hub.api("POST", "groups/finance").status_code == 201
    added = hub.api("POST", "groups/finance/users", json={"users": ["bob"]})
    assert added.status_code == 200, added.text
    _until(lambda: "ledger" in _names(hub, "bob"))
    tested = hub.workbench("bob", "POST", "connections/ledger/test")
    assert tested.status_code == 200 and tested.json()["ok"], tested.text
    # Sharing lets members use a connection, not change it.
    renamed = hub.workbench("bob", "PATCH", "connections/ledger", json={"description": "x"})
    assert renamed.status_code == 403, renamed.text

    # Carol, outside the group, asks the service itself with her own hub token.
    listed = hub.service("carol", "GET", "connections")
    assert listed.status_code == 200, listed.text
    assert "ledger" not in {c["name"] for c in listed.json()}
    assert hub.service("carol", "POST", "connections/ledger/test").status_code == 404
    assert "ledger" not in hub.service("carol", "GET", "kernel/connections").text

    # A kernel gets credentials through its own server, for its own user only.
    bob_sees = json.loads(hub.run_in_kernel("bob", BOOTSTRAP).strip().splitlines()[-1])
    assert bob_sees["ledger"] == settings["password"]
    assert "alice_scratch" not in bob_sees


def test_the_service_takes_hub_tokens_only_and_serves_workbench_routes_only(hub: Hub) -> None:
    base = f"{hub.url}/services/workbench"
    assert requests.get(f"{base}/workbench/api/connections", timeout=10).status_code == 403
    # A signed-in browser has no way in either: no cookie counts here.
    assert (
        hub.sessions["alice"].get(f"{base}/workbench/api/connections", timeout=10).status_code
        == 403
    )
    token = {"Authorization": f"token {hub.user_token('carol')}"}
    assert (
        requests.get(f"{base}/workbench/api/connections", headers=token, timeout=10).status_code
        == 200
    )
    for other in ("api/contents", "api/kernels", "lab"):
        assert requests.get(f"{base}/{other}", headers=token, timeout=10).status_code == 404


def test_user_servers_hold_neither_the_metadata_db_nor_the_key(hub: Hub) -> None:
    key = (hub.home / "secrets.key").read_text().strip()
    assert key
    environment = _process_environment(hub.server_pid("bob"))
    assert not {"WORKBENCH_DB_URL", "WORKBENCH_HOME", "WORKBENCH_SECRETS_KEY_FILE"} & set(
        environment
    )
    everything = json.dumps(environment)
    for secret in (key, "secrets.key", "metadata.db", str(hub.home / "metadata.db")):
        assert secret not in everything
    # The user's own folder (the server's root) holds no copy either.
    user_dir = Path(environment["HOME"])
    for path in user_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 1_000_000:
            assert key not in path.read_text(errors="replace"), path


def _process_environment(pid: int) -> dict[str, str]:
    """The environment the process was started with, as /proc/<pid>/environ has it."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


# Run in bob's kernel: try to read each path (a folder is listed), say what happened.
READ_EACH = """\
import json, os
outcome = {}
for path in json.loads(%r):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(1)
        outcome[path] = "read"
    except PermissionError:
        outcome[path] = "denied"
    except OSError as exc:
        outcome[path] = type(exc).__name__
print(json.dumps({"uid": os.getuid(), "outcome": outcome}))
"""


def test_users_read_nothing_of_each_other_nor_of_the_hub_and_the_workbench(hub: Hub) -> None:
    if os.geteuid() != 0:
        pytest.fail("run the hub tests as root (as CI does): users then get OS accounts")
    # Alice has a kernel running, whose connection file holds the key to drive it.
    headers = {"Authorization": f"token {hub.user_token('alice')}"}
    kernels = f"{hub.url}/user/alice/api/kernels"
    kernel = requests.post(kernels, json={"name": "workbench"}, headers=headers, timeout=30)
    assert kernel.status_code == 201, kernel.text
    try:
        alice_home = hub.users / "alice"
        runtime = alice_home / ".local/share/jupyter/runtime"
        connection = runtime / f"kernel-{kernel.json()['id']}.json"
        _until(connection.exists)
        server = hub.server_pid("alice")
        kernel_pid = next(
            p.pid
            for p in psutil.Process(server).children(recursive=True)
            if connection.name in " ".join(p.cmdline())
        )
        state = hub.home / "hub"
        targets = [
            alice_home,
            connection,
            *runtime.glob("jpserver-*.json"),  # her server's token
            *(p for p in alice_home.rglob("*") if p.is_file() and runtime not in p.parents),
            Path(f"/proc/{server}/environ"),  # her JUPYTERHUB_API_TOKEN
            Path(f"/proc/{kernel_pid}/environ"),
            Path(f"/proc/{hub.proc.pid}/environ"),
            state,
            state / "admin-password",
            state / "jupyterhub_cookie_secret",
            state / "jupyterhub.sqlite",
            hub.home,
            hub.home / "secrets.key",
            hub.home / "metadata.db",
        ]
        assert all(path.exists() for path in targets), [p for p in targets if not p.exists()]
        own = hub.users / "bob"  # what bob may read, so a refusal means something
        paths = json.dumps([str(path) for path in (*targets, own)])
        seen = json.loads(hub.run_in_kernel("bob", READ_EACH % paths).strip().splitlines()[-1])
    finally:
        requests.delete(f"{kernels}/{kernel.json()['id']}", headers=headers, timeout=30)
    assert seen["uid"] == pwd.getpwnam(hub.account("bob")).pw_uid != 0
    assert seen["outcome"] == {str(path): "denied" for path in targets} | {str(own): "read"}
    # Each server runs as its user's account, never as root (no --allow-root).
    for name in USERS:
        server = psutil.Process(hub.server_pid(name))
        assert server.uids().real == pwd.getpwnam(hub.account(name)).pw_uid
        assert "--allow-root" not in server.cmdline()
    home = (hub.users / "bob").stat()
    assert (home.st_uid, home.st_mode & 0o777) == (pwd.getpwnam(hub.account("bob")).pw_uid, 0o700)


def test_a_private_pipelines_runs_are_out_of_other_users_reach(hub: Hub) -> None:
    run = private_pipeline(hub, "alice", "alice_close")
    assert_runs_are_out_of_reach(lambda *a, **kw: hub.workbench("bob", *a, **kw), run)
    # carol joins the pipeline's viewers: she reads its runs and notebooks, runs nothing.
    assert hub.api("POST", "groups/auditors").status_code in (201, 409)
    joined = hub.api("POST", "groups/auditors/users", json={"users": ["carol"]})
    assert joined.status_code == 200, joined.text
    assert_viewers_read_but_do_not_run(lambda *a, **kw: hub.service("carol", *a, **kw), run)


UNSHARED = """\
try:
    print(get_ipython().run_line_magic("sql", "till SELECT 41 + 1 AS answer"))
except Exception as exc:
    print("refused:", exc)
"""


def test_unsharing_a_connection_stops_a_running_kernels_use_at_once(
    hub: Hub, pg_conninfo: str
) -> None:
    created = hub.workbench(
        "alice",
        "POST",
        "connections",
        json={
            "name": "till",
            "shared_groups": ["tellers"],
            "settings": postgres_settings(pg_conninfo),
        },
    )
    assert created.status_code == 201, created.text
    assert hub.api("POST", "groups/tellers").status_code == 201
    assert hub.api("POST", "groups/tellers/users", json={"users": ["bob"]}).status_code == 200
    _until(lambda: "till" in _names(hub, "bob"))
    with hub.kernel("bob") as run:
        assert "42" in run(UNSHARED)
        unshared = hub.workbench("alice", "PATCH", "connections/till", json={"shared_groups": []})
        assert unshared.status_code == 200, unshared.text
        refused = run(UNSHARED)
        assert "refused: connection 'till' is no longer shared with you" in refused, refused
        assert "42" not in refused
        # And it stays refused: the kernel forgot it.
        assert "no connection named 'till'" in run(UNSHARED)


CLI = """\
import json, os, subprocess, sys
def workbench(*args):
    done = subprocess.run(
        [sys.executable, "-m", "workbench_server.cli", *args], capture_output=True, text=True
    )
    return [done.returncode, done.stdout, done.stderr]
print(json.dumps({
    "deploy": workbench("pipeline", "deploy", "cli_flow/pipeline.yaml"),
    "bad": workbench("pipeline", "deploy", "cli_flow/broken.yaml"),
    "run": workbench("pipeline", "run", "cli_flow", "--wait"),
    "runs": workbench("pipeline", "runs", "cli_flow"),
    "connections": workbench("connection", "list"),
    "stray_home": os.path.exists(os.path.expanduser("~/.workbench")),
}))
"""


def test_the_cli_in_a_users_server_acts_through_the_service_as_that_user(hub: Hub) -> None:
    """`workbench pipeline deploy` in bob's terminal (here: his kernel, same environment)
    deploys as bob into the hub's workbench, not into a stray home of its own."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    hub.put_files(
        "bob",
        {
            "cli_flow/step.ipynb": notebook,
            "cli_flow/pipeline.yaml": (
                "name: cli_flow\nsteps:\n  - {id: one, notebook: step.ipynb, kernel: python3}\n"
            ),
            "cli_flow/broken.yaml": "name: cli_flow\nsteps: []\n",
        },
    )
    seen = json.loads(hub.run_in_kernel("bob", CLI, timeout=240).strip().splitlines()[-1])
    code, out, err = seen["deploy"]
    assert code == 0 and "cli_flow: deployed, version 1" in out, (out, err)
    code, _, err = seen["bad"]
    assert code == 1 and "cli_flow/broken.yaml:2:" in err, err
    code, out, err = seen["run"]
    assert code == 0 and "succeeded" in out, (out, err)
    code, out, _ = seen["runs"]
    assert code == 0 and "bob" in out
    code, _, err = seen["connections"]
    assert code == 1 and "hub's service" in err and "Traceback" not in err, err
    assert seen["stray_home"] is False
    mine = {p["name"]: p for p in hub.workbench("bob", "GET", "pipelines").json()}
    assert mine["cli_flow"]["owner"] == "bob"
    assert "cli_flow" not in {p["name"] for p in hub.workbench("alice", "GET", "pipelines").json()}


def test_what_a_user_makes_the_service_read_or_reach_is_refused(hub: Hub) -> None:
    """bob's own server, bob's own files: views over files outside his DuckDB file, a
    step that swaps a log for a link to a root-only file, probes of denied hosts, and
    lineage declared into alice's private connection."""
    assert_duckdb_views_read_nothing_outside(hub, "bob", "/etc/shadow")
    with listening_on("127.0.0.2") as (open_port, closed_port):
        assert_denied_hosts_answer_alike(
            lambda *a, **kw: hub.workbench("bob", *a, **kw), open_port, closed_port
        )
    assert_lineage_stays_out_of_others_namespaces(hub, "alice", "bob")


def test_a_user_named_like_a_wildcard_or_a_path_cannot_sign_in(hub: Hub) -> None:
    for name in ("*", "al*", "../alice", "alice/x"):
        session = requests.Session()
        form = session.get(f"{hub.url}/hub/login", timeout=10)
        xsrf = session.cookies.get("_xsrf") or ""
        answer = session.post(
            f"{hub.url}/hub/login",
            data={"username": name, "password": hub.user_password, "_xsrf": xsrf},
            allow_redirects=False,
            timeout=10,
        )
        assert form.status_code == 200
        assert answer.status_code != 302, (name, answer.status_code)
    users = {u["name"] for u in hub.api("GET", "users").json()}
    assert not users & {"*", "al*", "../alice", "alice/x"}


STEP_PROBE = """\
import getpass, json, os
tried = {}
for path in %(paths)r:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        tried[path] = "read"
    except OSError as exc:
        tried[path] = type(exc).__name__
print("PROBE " + json.dumps({"user": getpass.getuser(), "tried": tried}))
"""


def test_pipeline_steps_run_as_their_owners_account(hub: Hub) -> None:
    """bob's pipeline step is bob's code: it runs as bob's account, not as the worker's
    (root), so it reads none of alice's files nor the hub's or the workbench's secrets."""
    import nbformat

    assert hub.account_prefix, "the hub tests run as root (per-user accounts)"
    alice_file = hub.users / "alice" / "notes.txt"
    hub.put_files("alice", {"notes.txt": "alice's notes"})
    secrets = [
        alice_file,
        hub.home / "secrets.key",
        hub.home / "metadata.db",
        hub.home / "hub" / "jupyterhub_cookie_secret",
        Path(f"/proc/{hub.server_pid('alice')}/environ"),
    ]
    probe = nbformat.v4.new_code_cell(STEP_PROBE % {"paths": [str(p) for p in secrets]})
    notebook = nbformat.v4.new_notebook(cells=[probe])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    hub.put_files(
        "bob",
        {
            "probe/step.ipynb": notebook,
            "probe/pipeline.yaml": (
                "name: bob_probe\nsteps:\n  - {id: probe, notebook: step.ipynb, kernel: python3}\n"
            ),
        },
    )
    run = deploy_and_finish(hub, "bob", "probe", "bob_probe")
    log = hub.workbench("bob", "GET", f"runs/{run['id']}/steps/probe/attempts/1/log").text
    seen = json.loads(log.split("PROBE ", 1)[1].splitlines()[0])
    assert seen["user"] == f"{hub.account_prefix}bob"
    assert set(seen["tried"].values()) == {"PermissionError"}, seen["tried"]


def test_the_services_metrics_open_to_the_scrape_token_only(hub: Hub) -> None:
    """Prometheus scrapes the service (the one holder of the run history) with the scrape
    token; no hub token opens the metrics, and the scrape token opens nothing else."""
    url = f"{hub.url}/services/workbench/workbench/metrics"
    scrape = {"Authorization": f"Bearer {(hub.home / 'metrics-token').read_text().strip()}"}
    user = {"Authorization": f"token {hub.user_token('carol')}"}
    assert requests.get(url, timeout=10).status_code == 403
    assert requests.get(url, headers=user, timeout=10).status_code == 403
    answer = requests.get(url, headers=scrape, timeout=10)
    assert answer.status_code == 200, answer.text
    assert "workbench_disk_used_bytes{" in answer.text
    assert "process_resident_memory_bytes " in answer.text
    base = f"{hub.url}/services/workbench/workbench/api"
    for path in ("connections", "pipelines", "kernel/connections"):
        assert requests.get(f"{base}/{path}", headers=scrape, timeout=10).status_code == 403
    # A user's own server exports nothing: the service does.
    mine = hub.sessions["alice"].get(f"{hub.url}/user/alice/workbench/metrics", timeout=10)
    assert mine.status_code == 404


def test_a_pipelines_trigger_url_works_through_the_hub(hub: Hub) -> None:
    """n8n's way in (docs/n8n.md) in team mode: the owner makes the trigger secret through
    their server; the service's URL behind the hub's proxy starts a run with it alone,
    refuses anything else, and others cannot make or read the secret."""
    run = private_pipeline(hub, "alice", "alice_trigger")
    made = hub.workbench("alice", "POST", "pipelines/alice_trigger/trigger/secret")
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert made.json()["trigger_url"].endswith(
        "/services/workbench/workbench/api/pipelines/alice_trigger/trigger"
    )
    for user in ("bob", "carol"):  # not the owner; carol may only view (auditors)
        other = hub.workbench(user, "POST", "pipelines/alice_trigger/trigger/secret")
        assert other.status_code in (403, 404), other.text
        assert secret not in other.text
    url = f"{hub.url}/services/workbench/workbench/api/pipelines/alice_trigger/trigger"
    wrong = requests.post(url, json={}, headers={"Authorization": "Bearer wbsec_x"}, timeout=30)
    assert wrong.status_code == 401, wrong.text
    # A hub token is no trigger secret either.
    hub_token = {"Authorization": f"token {hub.user_token('alice')}"}
    assert requests.post(url, json={}, headers=hub_token, timeout=30).status_code == 401
    bearer = {"Authorization": f"Bearer {secret}"}
    started = requests.post(url, json={"parameters": {}}, headers=bearer, timeout=30)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    status_url = f"{url}/runs/{run_id}"
    deadline = time.monotonic() + 120
    while True:
        state = requests.get(status_url, headers=bearer, timeout=30)
        assert state.status_code == 200, state.text
        if state.json()["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, state.text
        time.sleep(0.5)
    assert state.json()["status"] == "succeeded" and state.json()["trigger"] == "trigger_url"
    assert run["id"] != run_id
    assert requests.get(status_url, timeout=30).status_code == 401


LAKE_FROM_A_NOTEBOOK = """\
ip = get_ipython()
for cell in ("SELECT count(*) AS n FROM gold.balances",
             "CREATE TABLE gold.mine AS SELECT 1 AS a"):
    try:
        ip.run_cell_magic("sql", "lake", cell)
    except Exception as exc:
        print("ERROR", type(exc).__name__, exc)
"""


def test_a_users_notebook_is_told_why_the_homes_lake_is_out_of_reach(hub: Hub) -> None:
    """On a hub run as root, a user's account may not read the workbench home's lake
    (docs/deploy.md). The kernel said so naming the lake's folder inside the private
    home, and a write failed with a raw "[Errno 13] Permission denied: '/.../lake/gold'":
    neither what is wrong nor what the admin should do, and a path users should not see."""
    if not hub.account_prefix:
        pytest.skip("users have accounts of their own only on a hub run as root")
    out = hub.run_in_kernel("alice", LAKE_FROM_A_NOTEBOOK)
    assert out.count("ERROR") == 2, out
    assert "Errno" not in out and "Permission denied" not in out, out
    assert str(hub.home) not in out and "/lake" not in out, out
    assert "cannot read the workbench's lake" in out, out
    assert "docs/deploy.md" in out, out
    # What the admin is to do is named, not only that something failed.
    assert "administrator" in out, out
