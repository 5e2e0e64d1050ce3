"""jupyterhub_config.py stays thin: configure(c) sets up the local and team modes."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import runpy
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from tests.support.s3_policy import allowed
from workbench_hub.config import ScopedS3Credentials, configure, notebook_policy
from workbench_hub.spawner import UserAccountSpawner
from workbench_server.errors import ConfigurationError, InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
CORE_ONLY = {"WORKBENCH_DB_URL", "WORKBENCH_HOME", "WORKBENCH_SECRETS_KEY_FILE"}
SERVICE_TOKEN = "service-token-from-a-docker-secret"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, users_dir: Path) -> None:
    for name in list(os.environ):
        if name.startswith("WORKBENCH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WORKBENCH_HUB_USERS_DIR", str(users_dir))


@pytest.fixture
def users_dir() -> Iterator[Path]:
    """A folder for users' homes that other accounts can traverse (pytest's tmp_path is
    private to root), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="workbench-users-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_jupyterhub_config_file_applies_local_mode(tmp_path: Path) -> None:
    c = Config()
    runpy.run_path(str(ROOT / "jupyterhub_config.py"), init_globals={"c": c})
    assert c.JupyterHub.ip == "127.0.0.1"
    assert c.JupyterHub.authenticator_class == "shared-password"
    # As root an OS account per user; otherwise the hub's own account for everyone.
    assert c.JupyterHub.spawner_class == (
        "workbench_hub.spawner.UserAccountSpawner" if os.geteuid() == 0 else "simple"
    )
    assert "--allow-root" not in c.Spawner.args
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'home' / 'hub' / 'jupyterhub.sqlite'}"
    assert c.Spawner.default_url == "/lab"
    # Passwords are made once, kept private in the hub's folder, and reused.
    password = (tmp_path / "home" / "hub" / "user-password").read_text()
    assert c.SharedPasswordAuthenticator.user_password == password
    assert (tmp_path / "home" / "hub" / "admin-password").stat().st_mode & 0o777 == 0o600
    again = Config()
    configure(again)
    assert again.SharedPasswordAuthenticator.user_password == password


def test_the_core_runs_once_as_a_hub_service_and_user_servers_forward_to_it(
    tmp_path: Path,
) -> None:
    c = Config()
    configure(c, mode="local")
    (service,) = c.JupyterHub.services
    assert service["name"] == "workbench"
    assert service["url"] == "http://127.0.0.1:8181"
    assert service["command"][1:] == ["-m", "workbench_hub.service"]
    assert service["environment"]["WORKBENCH_HOME"] == str(tmp_path / "home")
    assert service["environment"]["WORKBENCH_DB_URL"].startswith("sqlite:///")
    assert c.Spawner.environment == {
        "WORKBENCH_MODE": "local",
        "WORKBENCH_SERVICE_URL": "http://127.0.0.1:8181/services/workbench/",
    }
    assert "access:services!service=workbench" in c.Spawner.server_token_scopes
    assert {"name": "user", "scopes": ["self", "access:services!service=workbench"]} in (
        c.JupyterHub.load_roles
    )


def test_local_mode_stays_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HUB_IP", "0.0.0.0")
    with pytest.raises(ConfigurationError, match="local mode listens on loopback only"):
        configure(Config(), mode="local")


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="WORKBENCH_MODE='cloud' is not supported"):
        configure(Config(), mode="cloud")


@pytest.fixture
def issuer() -> Iterator[str]:
    """An OpenID provider's discovery document, served over HTTP on loopback."""

    class Discovery(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path != "/.well-known/openid-configuration":
                self.send_error(404)
                return
            body = json.dumps(
                {
                    "issuer": base,
                    "authorization_endpoint": f"{base}/auth",
                    "token_endpoint": f"{base}/token",
                    "userinfo_endpoint": f"{base}/me",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def team_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, issuer: str) -> Config:
    secret_file = tmp_path / "client_secret"
    secret_file.write_text("s3cret\n")
    token_file = tmp_path / "workbench_service_api_token"
    token_file.write_text(SERVICE_TOKEN + "\n")
    for name, value in {
        "WORKBENCH_OIDC_ISSUER": issuer,
        "WORKBENCH_PUBLIC_URL": "https://workbench.example.com",
        "WORKBENCH_OIDC_CLIENT_ID": "workbench",
        "WORKBENCH_OIDC_CLIENT_SECRET_FILE": str(secret_file),
        "WORKBENCH_OIDC_ALLOWED_GROUPS": "finance,ops",
        "WORKBENCH_DB_URL": "postgresql://workbench:pw@postgres/workbench",
        "WORKBENCH_SERVICE_API_TOKEN_FILE": str(token_file),
    }.items():
        monkeypatch.setenv(name, value)
    c = Config()
    configure(c, mode="team")
    return c


def test_team_mode_wires_oidc_and_a_container_per_user(team_config: Config, issuer: str) -> None:
    c = team_config

    oauth = c.GenericOAuthenticator
    assert c.JupyterHub.authenticator_class == "generic-oauth"
    assert (oauth.authorize_url, oauth.token_url, oauth.userdata_url) == (
        f"{issuer}/auth",
        f"{issuer}/token",
        f"{issuer}/me",
    )
    assert oauth.client_secret == "s3cret"
    assert oauth.oauth_callback_url == "https://workbench.example.com/hub/oauth_callback"
    assert oauth.username_claim == "preferred_username"
    assert oauth.manage_groups is True
    assert oauth.auth_state_groups_key == "oauth_user.groups"
    assert oauth.allowed_groups == {"finance", "ops"}
    assert oauth.admin_groups == {"workbench-admins"}

    docker = c.DockerSpawner
    assert c.JupyterHub.spawner_class == "docker"
    assert docker.allowed_images == ["workbench-singleuser:latest"]
    assert docker.volumes == {"workbench-user-{username}": "/home/jovyan/work"}
    assert docker.mem_limit == "4G" and docker.cpu_limit == 2.0

    services = {s["name"]: s for s in c.JupyterHub.services}
    assert set(services) == {"workbench", "idle-culler"}
    # The core runs in a container of its own (docker-compose.yml's workbench-service):
    # the hub knows it by URL and token, starts nothing and hands it nothing.
    assert services["workbench"] == {
        "name": "workbench",
        "url": "http://workbench-service:8181",
        "api_token": SERVICE_TOKEN,
        "display": False,
    }
    # Neither the hub's services nor user containers get anything of the core's.
    assert "pw@" not in json.dumps(c.JupyterHub.services)
    assert not CORE_ONLY & set(c.Spawner.environment)
    assert "pw@" not in json.dumps(c.Spawner.environment)
    assert c.Spawner.environment["WORKBENCH_SERVICE_URL"] == (
        "http://workbench-service:8181/services/workbench/"
    )


def test_team_notebooks_in_s3_get_credentials_for_the_users_prefix_only(
    team_config: Config, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str, tmp_path: Path
) -> None:
    assert "pre_spawn_hook" not in team_config.Spawner  # no bucket, no S3
    secret = tmp_path / "minio_workbench_password"
    secret.write_text("hub-only-secret\n")
    monkeypatch.setenv("WORKBENCH_NOTEBOOKS_BUCKET", "notebooks")
    monkeypatch.setenv("WORKBENCH_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("WORKBENCH_S3_SECRET_KEY_FILE", str(secret))
    c = Config()
    configure(c, mode="team")
    assert "hub-only-secret" not in json.dumps(c.Spawner.environment)
    given = {}
    for name in ("ada", "bob"):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={})
        asyncio.run(c.Spawner.pre_spawn_hook(spawner))
        given[name] = spawner.environment
        assert spawner.environment["WORKBENCH_NOTEBOOKS_BUCKET"] == "notebooks"
        assert spawner.environment["AWS_SESSION_TOKEN"]
        assert "hub-only-secret" not in spawner.environment.values()
    assert given["ada"]["AWS_ACCESS_KEY_ID"] != given["bob"]["AWS_ACCESS_KEY_ID"]
    # The policy MinIO enforces (moto here does not): ada's prefix and nothing else.
    from workbench_hub.config import notebook_policy

    resources = json.dumps(notebook_policy("notebooks", "ada"))
    assert "notebooks/ada/*" in resources and "notebooks/*" not in resources
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")
    assert f"--max-age={7 * 24 * 3600 - 3600}" in culler["command"]


def test_team_settings_are_accepted_by_the_classes_they_configure(team_config: Config) -> None:
    import dockerspawner  # both are test dependencies: a missing one is a failure
    from oauthenticator import generic

    authenticator = generic.GenericOAuthenticator(config=team_config)
    for name, value in team_config.GenericOAuthenticator.items():
        assert getattr(authenticator, name) == value, name
    user = SimpleNamespace(name="alice", escaped_name="alice", url="/user/alice/", id=1)
    spawner = dockerspawner.DockerSpawner(config=team_config, user=user)
    configurable = spawner.trait_names(config=True)
    for section in ("DockerSpawner", "Spawner"):
        assert set(team_config[section]) <= set(configurable), section
    assert spawner.mem_limit == 4 * 1024**3
    assert spawner.environment == team_config.Spawner.environment


def test_team_mode_with_docker_needs_the_services_token(
    team_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKBENCH_SERVICE_API_TOKEN_FILE")
    with pytest.raises(ConfigurationError, match="docker secret workbench_service_api_token"):
        configure(Config(), mode="team")


@pytest.mark.parametrize("external", [False, True], ids=["hub-managed", "external"])
def test_team_mode_without_docker_starts_the_service_unless_it_has_a_token(
    team_config: Config, monkeypatch: pytest.MonkeyPatch, external: bool
) -> None:
    monkeypatch.setenv("WORKBENCH_SPAWNER", "local")
    if not external:
        monkeypatch.delenv("WORKBENCH_SERVICE_API_TOKEN_FILE")
    c = Config()
    configure(c, mode="team")
    service = c.JupyterHub.services[0]
    assert service["url"] == "http://127.0.0.1:8181"
    if external:
        assert "command" not in service and "environment" not in service
        assert service["api_token"] == SERVICE_TOKEN
    else:
        assert service["command"][1:] == ["-m", "workbench_hub.service"]
        # The URL (with its password) goes in a file private to the hub's account, not in
        # the service's environment.
        assert "WORKBENCH_DB_URL" not in service["environment"]
        db_url_file = Path(service["environment"]["WORKBENCH_DB_URL_FILE"])
        assert db_url_file.read_text().startswith("postgresql://")
        assert db_url_file.stat().st_mode & 0o777 == 0o600
        assert "api_token" not in service


def test_team_mode_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_OIDC_ISSUER", raising=False)
    with pytest.raises(ConfigurationError, match="team mode needs WORKBENCH_OIDC_ISSUER"):
        configure(Config(), mode="team")


def test_team_mode_reports_a_provider_that_does_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKBENCH_OIDC_ISSUER", "http://127.0.0.1:9")
    monkeypatch.setenv("WORKBENCH_PUBLIC_URL", "https://workbench.example.com")
    with pytest.raises(
        ConfigurationError, match=r"OIDC discovery at http://127\.0\.0\.1:9/.* failed"
    ):
        configure(Config(), mode="team")


# --- hub user names (item 4) and accounts per user (item 6) --------------------------------

UNSAFE_NAMES = ["*", "a*", "al?", "..", ".", "../alice", "al/ice", "", " bob", "bob ", "1bob"]
UNSAFE_NAMES += ["-bob", "bo b", "bob\n", "bo%2fb", "a" * 33, "alice@example.com"]


@pytest.mark.parametrize("mode", ["local", "team"])
def test_unsafe_user_names_cannot_sign_in(mode: str, request: pytest.FixtureRequest) -> None:
    from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
    from oauthenticator.generic import GenericOAuthenticator

    if mode == "local":
        c = Config()
        configure(c, mode="local")
        authenticator = SharedPasswordAuthenticator(config=c)
        password = c.SharedPasswordAuthenticator.user_password

        def sign_in(name: str) -> dict | None:
            data = {"username": name, "password": password}
            return asyncio.run(authenticator.get_authenticated_user(None, data))

        # The whole sign-in path: normalised (lower-cased) first, then checked.
        for name in UNSAFE_NAMES:
            assert sign_in(name) is None, name
        assert sign_in("Alice")["name"] == "alice"
        assert sign_in("a.b-c_9")["name"] == "a.b-c_9"
    else:
        authenticator = GenericOAuthenticator(config=request.getfixturevalue("team_config"))
    for name in UNSAFE_NAMES:
        assert not authenticator.validate_username(authenticator.normalize_username(name)), name
    assert authenticator.validate_username("a" * 32)


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_no_s3_policy_or_credentials_for_an_unsafe_name(name: str) -> None:
    with pytest.raises(InvalidInputError, match=r"hub user name .* is not allowed"):
        notebook_policy("notebooks", name)
    # Refused before any request to the S3 endpoint (there is none at this address).
    grant = ScopedS3Credentials("notebooks", "http://127.0.0.1:9", "workbench", "x", 3600)
    with pytest.raises(InvalidInputError):
        grant.grant(name)


_allowed = allowed


def test_a_users_policy_reaches_no_other_users_keys() -> None:
    """moto (the tests' S3 and STS) accepts a session policy but does not enforce it (its
    assumed-role credentials carry the role's policies only), so this evaluates the
    document itself, as MinIO does."""
    policy = notebook_policy("notebooks", "al")
    bucket = "arn:aws:s3:::notebooks"
    # `al` lists, reads and writes below al/ ...
    for prefix in ("al/", "al/reports/"):
        assert _allowed(policy, "s3:ListBucket", bucket, prefix), prefix
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert _allowed(policy, action, f"{bucket}/al/close.ipynb")
    # ... and nothing of alice's, nor the bucket's top, nor any prefix that starts like hers.
    for prefix in ("al", "ali", "alice", "alice/", "alice/x", "", "*", None):
        assert not _allowed(policy, "s3:ListBucket", bucket, prefix), prefix
    for key in ("alice/close.ipynb", "al", "al.ipynb", "alice"):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert not _allowed(policy, action, f"{bucket}/{key}"), (action, key)
    assert not _allowed(policy, "s3:ListBucket", "arn:aws:s3:::other", "al/")


# --- the team lake: users read its layers and write their sandbox (issue 16) --------------

LAKE = "arn:aws:s3:::lake"


def _prefixes(policy: dict) -> list[str]:
    """Every key prefix a policy names: its ``s3:prefix`` conditions and the key part of
    its object ARNs (without their final ``*``)."""
    found = []
    for statement in policy["Statement"]:
        for pattern in statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix", []):
            found.append(pattern.removesuffix("*"))
        for resource in statement["Resource"]:
            key = resource.split(":::", 1)[1].partition("/")[2]
            if key or "/" in resource.split(":::", 1)[1]:
                assert key.endswith("*") and "*" not in key[:-1], resource
                found.append(key[:-1])
    return found


def test_team_lake_credentials_read_the_layers_and_write_the_users_sandbox(
    team_config: Config, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str, tmp_path: Path
) -> None:
    secret = tmp_path / "minio_workbench_password"
    secret.write_text("hub-only-secret\n")
    monkeypatch.setenv("WORKBENCH_LAKE_URI", "s3://lake/main")
    monkeypatch.setenv("WORKBENCH_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("WORKBENCH_S3_SECRET_KEY_FILE", str(secret))
    c = Config()
    configure(c, mode="team")  # the lake alone (no notebooks bucket) is enough
    given = {}
    for name in ("ada", "bob"):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={})
        asyncio.run(c.Spawner.pre_spawn_hook(spawner))
        given[name] = spawner.environment
        assert spawner.environment["WORKBENCH_LAKE_URI"] == "s3://lake/main"
        assert spawner.environment["WORKBENCH_LAKE_SANDBOX_URI"] == f"s3://lake/sandbox/{name}"
        assert "WORKBENCH_NOTEBOOKS_BUCKET" not in spawner.environment
        assert "hub-only-secret" not in json.dumps(spawner.environment)
    assert given["ada"]["AWS_ACCESS_KEY_ID"] != given["bob"]["AWS_ACCESS_KEY_ID"]
    # The credentials are the STS session's, for that user (moto records the session name).
    import boto3

    who = boto3.client(
        "sts",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=given["ada"]["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=given["ada"]["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=given["ada"]["AWS_SESSION_TOKEN"],
    ).get_caller_identity()
    assert who["Arn"].endswith("/ada")
    # A lake in a folder gives no S3 credentials; a bad S3 URI stops the hub.
    monkeypatch.setenv("WORKBENCH_LAKE_URI", "/srv/workbench/lake")
    assert "pre_spawn_hook" not in _configured(mode="team").Spawner
    for bad in ("s3://lake/sandbox", "s3://Lake/main", "s3://lake/ma*n", "s3://lake/../x"):
        monkeypatch.setenv("WORKBENCH_LAKE_URI", bad)
        with pytest.raises(ConfigurationError, match="WORKBENCH_LAKE_URI="):
            configure(Config(), mode="team")


def _configured(mode: str) -> Config:
    c = Config()
    configure(c, mode=mode)
    return c


def test_a_users_lake_policy_reads_layers_and_writes_their_sandbox_only() -> None:
    """As MinIO evaluates it (moto does not enforce session policies): ``al`` reads the
    shared layers, reads and writes ``sandbox/al/``, and writes no shared table, reads no
    one else's sandbox (not even ``alice``'s), and keeps their notebooks prefix."""
    from workbench_hub.s3 import LakeScope, user_policy

    lake = LakeScope.parse("s3://lake/main")
    policy = user_policy("notebooks", lake, "al")
    assert len(json.dumps(policy, separators=(",", ":"))) < 2048  # AWS's session limit
    reads = ("s3:GetObject",)
    writes = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
    for layer in ("bronze", "silver", "gold"):
        key = f"main/{layer}/moves/_delta_log/00000000000000000003.json"
        assert _allowed(policy, "s3:GetObject", f"{LAKE}/{key}"), key
        for action in writes:
            assert not _allowed(policy, action, f"{LAKE}/{key}"), (action, key)
        for prefix in (f"main/{layer}/", f"main/{layer}/moves/"):
            assert _allowed(policy, "s3:ListBucket", LAKE, prefix), prefix
    assert _allowed(policy, "s3:ListBucket", LAKE, "main/")  # the layers' names
    own = "sandbox/al/silver/x/part-0.parquet"
    for action in (*reads, *writes):
        assert _allowed(policy, action, f"{LAKE}/{own}"), action
    assert _allowed(policy, "s3:ListBucket", LAKE, "sandbox/al/silver/")
    for key in (
        "sandbox/alice/silver/x/part-0.parquet",
        "sandbox/al",
        "sandbox/ali/x",
        "main/other/x",
        "main/silverx/t/part-0.parquet",
        "mainx/silver/t/part-0.parquet",
        "main",
        "x",
    ):
        for action in (*reads, *writes):
            assert not _allowed(policy, action, f"{LAKE}/{key}"), (action, key)
    for prefix in ("", "*", "sandbox/", "sandbox/alice/", "sandbox/al", "main", "main/x", None):
        assert not _allowed(policy, "s3:ListBucket", LAKE, prefix), prefix
    # The notebooks part is as before: al's prefix only.
    assert _allowed(policy, "s3:PutObject", "arn:aws:s3:::notebooks/al/close.ipynb")
    assert not _allowed(policy, "s3:GetObject", "arn:aws:s3:::notebooks/alice/close.ipynb")
    assert not _allowed(policy, "s3:GetObject", "arn:aws:s3:::lake-other/main/silver/x")


def test_workers_write_the_layers_and_the_service_reads_them() -> None:
    from workbench_hub.s3 import LakeScope, service_lake_policy, worker_lake_policy

    lake = LakeScope.parse("s3://lake/main/")
    worker, service = worker_lake_policy(lake), service_lake_policy(lake)
    table = f"{LAKE}/main/gold/balances/part-0.parquet"
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert _allowed(worker, action, table), action
    assert _allowed(service, "s3:GetObject", table)
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not _allowed(service, action, table), action
    for policy in (worker, service):
        assert _allowed(policy, "s3:ListBucket", LAKE, "main/gold/")
        for key in ("sandbox/ada/silver/x/p.parquet", "main/x", "notebooks/ada/x.ipynb"):
            assert not _allowed(policy, "s3:GetObject", f"{LAKE}/{key}"), key
        assert not _allowed(policy, "s3:ListBucket", LAKE, "sandbox/ada/")


@pytest.mark.parametrize("uri", ["s3://lake/main", "s3://lake", "s3://team-lake/a/b"])
def test_every_lake_policy_prefix_ends_with_a_slash(uri: str) -> None:
    from workbench_hub.s3 import LakeScope, service_lake_policy, user_policy, worker_lake_policy

    lake = LakeScope.parse(uri)
    for policy in (
        user_policy("notebooks", lake, "al"),
        worker_lake_policy(lake),
        service_lake_policy(lake),
    ):
        prefixes = _prefixes(policy)
        assert prefixes and all(p == "" or p.endswith("/") for p in prefixes), prefixes
        # A lake at the bucket's top: its layers only, never the whole bucket (sandboxes).
        assert "" not in prefixes or lake.prefix, prefixes


@pytest.fixture
def account_prefix() -> Iterator[str]:
    """A prefix no account on this machine has; accounts made with it are removed."""
    from tests.support.hub import remove_accounts

    prefix = f"wbt{secrets.token_hex(3)}-"
    yield prefix
    remove_accounts(prefix)


def _spawner(name: str, prefix: str, users: Path, **config: object) -> UserAccountSpawner:
    from types import SimpleNamespace

    c = Config()
    c.UserAccountSpawner.users_dir = str(users)
    c.UserAccountSpawner.account_prefix = prefix
    for key, value in config.items():
        setattr(c.UserAccountSpawner, key, value)
    user = SimpleNamespace(name=name, escaped_name=name, url=f"/user/{name}/", id=1)
    return UserAccountSpawner(config=c, user=user)


def test_each_user_gets_an_account_and_a_private_home(account_prefix: str, users_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("run as root (as CI does): only root makes OS accounts")
    spawner = _spawner("dora", account_prefix, users_dir)
    entry = spawner.ensure_account()
    assert entry.pw_name == f"{account_prefix}dora"
    assert entry.pw_uid != 0 and entry.pw_dir == str(users_dir / "dora")
    assert entry.pw_shell.endswith(("nologin", "false"))  # no login of its own
    home = (users_dir / "dora").stat()
    assert (home.st_uid, home.st_gid, home.st_mode & 0o777) == (entry.pw_uid, entry.pw_gid, 0o700)
    env = spawner.user_env({})
    assert (env["USER"], env["HOME"]) == (entry.pw_name, entry.pw_dir)
    assert env["SHELL"] != entry.pw_shell  # the lab's terminals need a real shell
    # The second time the same account, and a home widened meanwhile is private again.
    (users_dir / "dora").chmod(0o755)
    assert spawner.ensure_account().pw_uid == entry.pw_uid
    assert (users_dir / "dora").stat().st_mode & 0o777 == 0o700
    # The server process drops to the account before it runs anything.
    whoami = subprocess.run(
        ["id", "-un"], preexec_fn=spawner.make_preexec_fn("dora"), capture_output=True, text=True
    )
    assert whoami.stdout.strip() == entry.pw_name, whoami.stderr


def test_users_never_run_as_root_or_as_someone_elses_account(
    account_prefix: str, users_dir: Path
) -> None:
    if os.geteuid() != 0:
        pytest.fail("run as root (as CI does): only root makes OS accounts")
    with pytest.raises(ConfigurationError, match=r"'root' \(uid 0\)"):
        _spawner("alice", account_prefix, users_dir, accounts={"alice": "root"}).ensure_account()
    with pytest.raises(ConfigurationError, match="mapped to the account 'nosuch"):
        _spawner(
            "alice", account_prefix, users_dir, accounts={"alice": "nosuch-x"}
        ).ensure_account()
    # Without a prefix, a hub user named like an existing account (here `nobody`, home
    # /nonexistent) is not given it.
    with pytest.raises(ConfigurationError, match="existing account 'nobody', whose home"):
        _spawner("nobody", "", users_dir).ensure_account()
    with pytest.raises(InvalidInputError):
        _spawner("*", account_prefix, users_dir).ensure_account()
    with pytest.raises(ConfigurationError, match="at most 32 characters"):
        _spawner("a" * 30, account_prefix, users_dir).ensure_account()
    # An admin may map a user to an existing ordinary account; it is used as it is.
    mapped = _spawner("alice", account_prefix, users_dir, accounts={"alice": "nobody"})
    assert mapped.ensure_account().pw_name == "nobody"
    assert not any(e.pw_name.startswith(account_prefix) for e in pwd.getpwall())


def test_a_hub_that_is_not_root_warns_that_users_share_its_account(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    c = Config()
    with caplog.at_level("WARNING", logger="JupyterHub"):
        configure(c, mode="local")
    assert c.JupyterHub.spawner_class == "simple"
    assert "--allow-root" not in c.Spawner.args
    assert (
        "every user can read every other user's files and data and the workbench's secrets "
        "(key, database)"
    ) in caplog.text


def test_users_homes_must_be_reachable_and_outside_the_workbench_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.fail("run as root (as CI does): only root makes OS accounts")
    monkeypatch.setenv("WORKBENCH_HUB_USERS_DIR", str(tmp_path / "home" / "users"))
    with pytest.raises(ConfigurationError, match="inside the workbench home"):
        configure(Config(), mode="local")
    # pytest's own temporary folders are root's alone: no account could reach a home there.
    monkeypatch.setenv("WORKBENCH_HUB_USERS_DIR", str(tmp_path / "users"))
    with pytest.raises(ConfigurationError, match="is not traversable by others; chmod o\\+x"):
        configure(Config(), mode="local")
