"""Team mode for real: OIDC login, hub groups from claims, and no core secret in user servers.

The hub is configured by ``configure(c)`` alone with ``WORKBENCH_MODE=team``; it signs
people in through a real OpenID Connect provider (``oidc-provider``: discovery,
authorization code, token, userinfo), keeps the workbench's metadata in PostgreSQL (a
role with a real password), and gets the encryption key as a file, as a docker secret
would give it. Docker cannot run here, so ``WORKBENCH_SPAWNER=local`` starts user servers
as processes; everything else is the team configuration.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from cryptography.fernet import Fernet
from psycopg import sql
from traitlets.config import Config

from tests.conftest import spawn_worker, stop_worker
from tests.support.hub import IP, Hub, running_hub
from tests.support.oidc import Account, running_provider, sign_in
from tests.support.postgres import PostgresCluster, postgres_settings
from tests.support.two_users import (
    assert_artifacts_are_never_read_through_links,
    assert_denied_hosts_answer_alike,
    assert_duckdb_views_read_nothing_outside,
    assert_lineage_stays_out_of_others_namespaces,
    assert_runs_are_out_of_reach,
    assert_viewers_read_but_do_not_run,
    listening_on,
    private_pipeline,
)
from workbench_hub.config import configure
from workbench_server.errors import ConfigurationError
from workbench_server.supervisor import free_port

# Keyed by what people type at the provider; alice's hub name comes from her claim.
ACCOUNTS = {
    "a.liddell": Account(secrets.token_urlsafe(12), ("workbench-users", "finance"), "alice"),
    "bob": Account(secrets.token_urlsafe(12), ("workbench-users",)),
    "carol": Account(secrets.token_urlsafe(12), ("workbench-admins",)),
    "mallory": Account(secrets.token_urlsafe(12), ("sales",)),  # not a workbench group
}
CORE_ONLY = {"WORKBENCH_DB_URL", "WORKBENCH_HOME", "WORKBENCH_SECRETS_KEY_FILE"}
# Run in alice's kernel: everything it holds or can find in its user's folder, and what
# the workbench gives it for her connections.
PROBE = """\
import json, os
from pathlib import Path
from workbench_kernels.api import fetch_bootstrap
files = {}
for top in {Path.home(), Path.cwd()}:
    for path in top.rglob("*"):
        if path.is_file() and path.stat().st_size < 1_000_000:
            files[str(path)] = path.read_text(errors="replace")
r = %sql alice_ledger SELECT current_user AS who
print(json.dumps({
    "environ": dict(os.environ),
    "proc_environ": Path("/proc/self/environ").read_bytes().decode(errors="replace"),
    "files": files,
    "connections": {n: c.get("password") for n, c in fetch_bootstrap().connections.items()},
    "who": str(r.DataFrame()["who"][0]),
}))
"""


@dataclass
class Role:
    """A PostgreSQL login role with its password, and the URL of a database it may use."""

    name: str
    password: str
    url: str


@contextmanager
def pg_role(cluster: PostgresCluster, own_database: bool) -> Iterator[Role]:
    """A fresh role (and, with ``own_database``, a database it owns); dropped on exit."""
    name = f"r_{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(18)
    database = name if own_database else "postgres"
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
        if own_database:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(name)
                )
            )
    url = f"postgresql://{name}:{password}@{cluster.host}:{cluster.port}/{database}"
    try:
        yield Role(name, password, url)
    finally:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            if own_database:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@dataclass
class Team:
    hub: Hub
    issuer: str
    metadata: Role  # the workbench service's metadata DB login
    key: str  # the workbench's Fernet key
    users: Path  # where user servers keep their users' folders
    client_secret: str  # the hub's OIDC client secret
    refused: requests.Response  # the hub's answer to mallory's sign-in


@pytest.fixture(scope="module")
def team(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: PostgresCluster, temporal_address: str
) -> Iterator[Team]:
    if shutil.which("configurable-http-proxy") is None:  # a failure, not a silent skip
        pytest.fail("the hub tests need `npm install -g configurable-http-proxy` (.ci/run does it)")
    root = tmp_path_factory.mktemp("team")
    port = free_port(IP)
    public_url = f"http://{IP}:{port}"
    # Secrets as docker would mount them: files in a folder only the hub's account reads.
    run_secrets = root / "run-secrets"
    run_secrets.mkdir(mode=0o700)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    client_secret = secrets.token_urlsafe(32)
    for name, value in {"workbench_secrets_key": key, "oidc_client_secret": client_secret}.items():
        (run_secrets / name).write_text(value + "\n")
        (run_secrets / name).chmod(0o600)
    state = root / "hub-state"
    state.mkdir(mode=0o700)
    queue = f"team-{uuid.uuid4().hex[:8]}"
    client = {
        "client_id": "workbench-hub",
        "client_secret": client_secret,
        "redirect_uris": [f"{public_url}/hub/oauth_callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    with (
        running_provider(root / "oidc", [client], ACCOUNTS) as provider,
        pg_role(pg_cluster, own_database=True) as metadata,
    ):
        env = {
            "WORKBENCH_MODE": "team",
            "WORKBENCH_SPAWNER": "local",
            "WORKBENCH_HUB_IP": IP,
            "WORKBENCH_HUB_STATE_DIR": str(state),
            "WORKBENCH_PUBLIC_URL": public_url,
            "WORKBENCH_OIDC_ISSUER": provider.issuer,
            "WORKBENCH_OIDC_CLIENT_ID": "workbench-hub",
            "WORKBENCH_OIDC_CLIENT_SECRET_FILE": str(run_secrets / "oidc_client_secret"),
            "WORKBENCH_DB_URL": metadata.url,
            "WORKBENCH_SECRETS_KEY_FILE": str(run_secrets / "workbench_secrets_key"),
            "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
            "WORKBENCH_TASK_QUEUE": queue,
        }
        with running_hub(root / "hub", port=port, env=env) as hub:
            # A pipeline worker of the team's, with the core's database and key.
            worker = spawn_worker(
                hub.home,
                temporal_address,
                queue,
                extra_env={
                    "WORKBENCH_DB_URL": metadata.url,
                    "WORKBENCH_SECRETS_KEY_FILE": str(run_secrets / "workbench_secrets_key"),
                },
            )
            try:
                for login in ("a.liddell", "bob", "carol"):
                    account = ACCOUNTS[login]
                    answer = hub.login_oidc(login, account.password, account.preferred_username)
                    assert answer.status_code == 302, (login, answer.status_code, answer.text[:300])
                refused = hub.login_oidc("mallory", ACCOUNTS["mallory"].password)
                hub.start_servers("alice")
                yield Team(hub, provider.issuer, metadata, key, hub.users, client_secret, refused)
            finally:
                stop_worker(worker)


def test_sign_in_maps_the_providers_claims_to_user_groups_and_admin(team: Team) -> None:
    users = {
        name: team.hub.api("GET", f"users/{name}").json() for name in ("alice", "bob", "carol")
    }
    assert sorted(users["alice"]["groups"]) == ["finance", "workbench-users"]
    assert users["bob"]["groups"] == ["workbench-users"]
    assert users["carol"]["groups"] == ["workbench-admins"]
    assert [u["admin"] for u in users.values()] == [False, False, True]
    # The hub user is the preferred_username claim, not what was typed at the provider.
    assert team.hub.api("GET", "users/a.liddell").status_code == 404
    # Signed in means the hub's pages open for them without another login.
    home = team.hub.sessions["alice"].get(
        f"{team.hub.url}/hub/home", allow_redirects=False, timeout=10
    )
    assert home.status_code == 200, home.status_code


def test_a_user_outside_the_allowed_groups_is_refused(team: Team) -> None:
    assert team.refused.status_code == 403, team.refused.text[:300]
    assert team.hub.api("GET", "users/mallory").status_code == 404
    assert "mallory" not in team.hub.sessions
    # A wrong password never gets past the provider's form.
    with pytest.raises(AssertionError, match="-> 401"):
        sign_in(requests.Session(), f"{team.hub.url}/hub/oauth_login", "bob", "x")


def test_a_signed_in_users_server_serves_the_workbench(team: Team) -> None:
    for path in ("catalog/sources", "pipelines", "connections"):
        answer = team.hub.workbench("alice", "GET", path)
        assert answer.status_code == 200, (path, answer.text)
        assert isinstance(answer.json(), list)


def test_user_servers_and_kernels_hold_neither_the_db_password_nor_the_key(
    team: Team, pg_cluster: PostgresCluster
) -> None:
    # The OIDC client secret is the hub's too: no user may hold it either.
    hub, forbidden = team.hub, (team.metadata.password, team.key, team.client_secret)
    with pg_role(pg_cluster, own_database=False) as ledger, pg_role(pg_cluster, False) as other:
        created = hub.workbench(
            "alice", "POST", "connections", json={"name": "alice_ledger", "settings": _pg(ledger)}
        )
        assert created.status_code == 201, created.text
        # Bob's private connection, made with his own hub token (he has no server).
        bobs = hub.service(
            "bob", "POST", "connections", json={"name": "bob_private", "settings": _pg(other)}
        )
        assert bobs.status_code == 201, bobs.text
        # The admin group's members are workbench admins too.
        assert hub.service("carol", "GET", "connections/alice_ledger").status_code == 200
        # The service keeps it in PostgreSQL, encrypted with the key from the secret file.
        with psycopg.connect(team.metadata.url) as conn:
            owner, secret = conn.execute(
                "SELECT owner, secret FROM connections WHERE name = 'alice_ledger'"
            ).fetchone()
        assert owner == "alice"
        assert ledger.password.encode() not in secret
        assert ledger.password.encode() in Fernet(team.key).decrypt(bytes(secret))

        server = _process_environment(hub.server_pid("alice"))
        assert not CORE_ONLY & set(server), sorted(CORE_ONLY & set(server))
        _assert_absent(forbidden, json.dumps(server), "alice's server environment")

        seen = json.loads(hub.run_in_kernel("alice", PROBE).strip().splitlines()[-1])
        assert not CORE_ONLY & set(seen["environ"])
        for what in ("environ", "proc_environ", "files"):
            _assert_absent(forbidden, json.dumps(seen[what]), f"alice's kernel {what}")
        assert seen["files"], "the probe found no files at all in alice's folder"
        # What the kernel does get: her own connection's credentials, and it works.
        assert seen["connections"].get("alice_ledger") == ledger.password
        assert "bob_private" not in seen["connections"]
        assert other.password not in json.dumps(seen)
        assert seen["who"] == ledger.name

        folder = team.users / "alice"
        assert folder.is_dir()
        for path in folder.rglob("*"):
            if path.is_file() and path.stat().st_size < 1_000_000:
                _assert_absent(forbidden, path.read_text(errors="replace"), str(path))


def test_team_mode_names_a_missing_metadata_db_and_an_unknown_spawner(
    team: Team, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [n for n in os.environ if n.startswith("WORKBENCH_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "WORKBENCH_HOME": str(tmp_path / "home"),
        "WORKBENCH_OIDC_ISSUER": team.issuer,
        "WORKBENCH_PUBLIC_URL": team.hub.url,
        "WORKBENCH_OIDC_CLIENT_ID": "workbench-hub",
        "WORKBENCH_OIDC_CLIENT_SECRET": team.client_secret,
        "WORKBENCH_SPAWNER": "local",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match="WORKBENCH_DB_URL is not set"):
        configure(Config(), mode="team")
    monkeypatch.setenv("WORKBENCH_SPAWNER", "kubernetes")
    with pytest.raises(ConfigurationError, match="WORKBENCH_SPAWNER='kubernetes' is not supp"):
        configure(Config(), mode="team")


def _pg(role: Role) -> dict[str, object]:
    return postgres_settings(role.url)


def _assert_absent(secrets_: tuple[str, ...], text: str, where: str) -> None:
    for secret in secrets_:
        assert secret not in text, f"a core secret is in {where}"


def _process_environment(pid: int) -> dict[str, str]:
    """The environment the process was started with, as /proc/<pid>/environ has it."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def test_a_pipeline_in_the_users_folder_deploys_through_the_service(team: Team) -> None:
    """The service cannot read alice's files: her server sends the pipeline and its
    notebook; the deployed pipeline is hers."""
    import nbformat

    hub = team.hub
    headers = {"Authorization": f"token {hub.user_token('alice')}"}
    contents = f"{hub.url}/user/alice/api/contents"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("total = 1")])
    for path, model in (
        ("flows", {"type": "directory"}),
        ("flows/close.ipynb", {"type": "notebook", "content": notebook}),
        (
            "flows/close.yaml",
            {
                "type": "file",
                "format": "text",
                "content": "name: month_close\nsteps:\n  - {id: close, notebook: close.ipynb}\n",
            },
        ),
        (
            "flows/broken.yaml",
            {"type": "file", "format": "text", "content": "name: broken\nsteps: []\n"},
        ),
    ):
        put = requests.put(f"{contents}/{path}", json=model, headers=headers, timeout=30)
        assert put.status_code in (200, 201), (path, put.text)

    deployed = hub.workbench("alice", "POST", "pipelines/deploy", json={"path": "flows/close.yaml"})
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["name"] == "month_close"
    listed = {p["name"]: p for p in hub.workbench("alice", "GET", "pipelines").json()}
    assert listed["month_close"]["owner"] == "alice"
    assert listed["month_close"]["steps"] == ["close"]

    broken = hub.workbench("alice", "POST", "pipelines/deploy", json={"path": "flows/broken.yaml"})
    assert broken.status_code == 400
    assert broken.json()["message"].startswith("flows/broken.yaml:2:")
    # A path outside her folder is refused by her server; nothing reaches the service.
    outside = hub.workbench("alice", "POST", "pipelines/deploy", json={"path": "../bob/x.yaml"})
    assert outside.status_code == 400, outside.text


def test_a_private_pipelines_runs_are_out_of_other_users_reach(team: Team) -> None:
    """bob asks the service with his own hub token: nothing of alice's pipeline; once in
    the pipeline's viewers group he reads its runs and runs nothing."""
    hub = team.hub
    run = private_pipeline(hub, "alice", "alice_ledger")
    bob = lambda *a, **kw: hub.service("bob", *a, **kw)  # noqa: E731
    assert_runs_are_out_of_reach(bob, run)
    assert hub.api("POST", "groups/auditors").status_code in (201, 409)
    assert hub.api("POST", "groups/auditors/users", json={"users": ["bob"]}).status_code == 200
    assert_viewers_read_but_do_not_run(bob, run)
    # An admin (carol, by the provider's claims) sees it all.
    assert hub.service("carol", "GET", f"runs/{run['id']}").status_code == 200


def test_what_a_user_makes_the_service_read_or_reach_is_refused(team: Team) -> None:
    """alice, through her server: views over files outside her DuckDB file, a step that
    swaps a log for a link to a root-only file, and probes of hosts team mode denies
    (its defaults deny loopback, where the core's services listen here)."""
    hub = team.hub
    assert_duckdb_views_read_nothing_outside(hub, "alice", "/etc/shadow")
    assert_artifacts_are_never_read_through_links(hub, "alice", "/etc/shadow")
    with listening_on("127.0.0.2") as (open_port, closed_port):
        assert_denied_hosts_answer_alike(
            lambda *a, **kw: hub.workbench("alice", *a, **kw), open_port, closed_port
        )
    # alice's pipeline declares it reads bob's private connection: bob sees nothing of it.
    assert_lineage_stays_out_of_others_namespaces(hub, "bob", "alice")
