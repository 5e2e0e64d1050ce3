"""Team mode for real: each user's server gets S3 credentials for its own scope of the
team lake (issue 16): the layers to read, its user's sandbox to read and write.

A real JupyterHub configured by ``configure(c)`` (team mode, OIDC login through a real
provider, ``WORKBENCH_SPAWNER=local``) spawns ``ada``'s and ``al``'s servers; at each
spawn it asks the S3 endpoint's STS (moto's) for temporary credentials with a session
policy. moto records that policy without enforcing it, so the test reads, from moto, the
policy of the very credentials found in each server's process environment and in its
kernel, and evaluates it as MinIO does.
"""

from __future__ import annotations

import json
import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import psutil
import pytest
from cryptography.fernet import Fernet

from tests.support.hub import IP, Hub, running_hub
from tests.support.oidc import Account, running_provider
from tests.support.s3_policy import allowed
from workbench_server.supervisor import free_port

ACCOUNTS = {
    "ada": Account(secrets.token_urlsafe(12), ("workbench-users",)),
    "al": Account(secrets.token_urlsafe(12), ("workbench-users",)),
}
LAKE = "arn:aws:s3:::lake"
PROBE = """\
import json, os
print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(("AWS_", "WORKBENCH_"))}))
"""


@dataclass
class Stack:
    hub: Hub
    s3: str  # moto's endpoint
    hub_secret: str  # the MinIO password only the hub holds


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, temporal_address: str
) -> Iterator[Stack]:
    if shutil.which("configurable-http-proxy") is None:  # a failure, not a silent skip
        pytest.fail("the hub tests need `npm install -g configurable-http-proxy` (.ci/run does it)")
    root = tmp_path_factory.mktemp("lake-credentials")
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="workbench",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )
    for bucket in ("lake", "notebooks"):
        s3.create_bucket(Bucket=bucket)
    port = free_port(IP)
    public_url = f"http://{IP}:{port}"
    run_secrets = root / "run-secrets"
    run_secrets.mkdir(mode=0o700)
    hub_secret, client_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    for name, value in {
        "minio_workbench_password": hub_secret,
        "oidc_client_secret": client_secret,
        "workbench_secrets_key": Fernet.generate_key().decode(),
    }.items():
        (run_secrets / name).write_text(value + "\n")
        (run_secrets / name).chmod(0o600)
    state = root / "hub-state"
    state.mkdir(mode=0o700)
    client = {
        "client_id": "workbench-hub",
        "client_secret": client_secret,
        "redirect_uris": [f"{public_url}/hub/oauth_callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }
    with running_provider(root / "oidc", [client], ACCOUNTS) as provider:
        env = {
            "WORKBENCH_MODE": "team",
            "WORKBENCH_SPAWNER": "local",
            "WORKBENCH_HUB_IP": IP,
            "WORKBENCH_HUB_STATE_DIR": str(state),
            "WORKBENCH_PUBLIC_URL": public_url,
            "WORKBENCH_OIDC_ISSUER": provider.issuer,
            "WORKBENCH_OIDC_CLIENT_ID": "workbench-hub",
            "WORKBENCH_OIDC_CLIENT_SECRET_FILE": str(run_secrets / "oidc_client_secret"),
            "WORKBENCH_DB_URL": f"sqlite:///{root / 'metadata.sqlite'}",
            "WORKBENCH_SECRETS_KEY_FILE": str(run_secrets / "workbench_secrets_key"),
            "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
            "WORKBENCH_TASK_QUEUE": f"lake-{uuid.uuid4().hex[:8]}",
            # As docker-compose.yml gives them to the hub.
            "WORKBENCH_NOTEBOOKS_BUCKET": "notebooks",
            "WORKBENCH_LAKE_URI": "s3://lake/main",
            "WORKBENCH_S3_ENDPOINT": s3_endpoint,
            "WORKBENCH_S3_SECRET_KEY_FILE": str(run_secrets / "minio_workbench_password"),
        }
        with running_hub(root / "hub", port=port, env=env) as hub:
            for login, account in ACCOUNTS.items():
                answer = hub.login_oidc(login, account.password)
                assert answer.status_code == 302, (login, answer.status_code, answer.text[:300])
            hub.start_servers(*ACCOUNTS)
            yield Stack(hub, s3_endpoint, hub_secret)


def _session_policy(access_key_id: str) -> tuple[str, dict]:
    """The STS session behind an access key, as moto recorded it: (name, policy)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sts.models import sts_backends

    role = sts_backends[DEFAULT_ACCOUNT_ID]["global"].get_assumed_role_from_access_key(
        access_key_id
    )
    assert role is not None, f"{access_key_id} is no STS session's key"
    return role.session_name, json.loads(role.policy)


def _server_environ(hub: Hub, name: str) -> dict[str, str]:
    return psutil.Process(hub.server_pid(name)).environ()


def test_each_users_server_gets_lake_credentials_for_its_own_scope(stack: Stack) -> None:
    keys = {}
    for name in ACCOUNTS:
        environ = _server_environ(stack.hub, name)
        # The server's kernels (users' code) see the same, and nothing more.
        kernel = json.loads(stack.hub.run_in_kernel(name, PROBE).strip().splitlines()[-1])
        for where, seen in (("server", environ), ("kernel", kernel)):
            assert seen["WORKBENCH_LAKE_URI"] == "s3://lake/main", where
            assert seen["WORKBENCH_LAKE_SANDBOX_URI"] == f"s3://lake/sandbox/{name}", where
            assert seen["AWS_ACCESS_KEY_ID"] == environ["AWS_ACCESS_KEY_ID"], where
            # No credential of the hub's: neither its MinIO password nor its user's key.
            assert stack.hub_secret not in json.dumps(seen), where
            assert seen["AWS_ACCESS_KEY_ID"] != "workbench", where
            assert not {k for k in seen if "SECRET_KEY_FILE" in k or "S3_SECRET" in k}, where
        keys[name] = environ["AWS_ACCESS_KEY_ID"]
        session, policy = _session_policy(environ["AWS_ACCESS_KEY_ID"])
        assert session == name
        # What the credentials reach, as MinIO evaluates their session policy.
        other = "al" if name == "ada" else "ada"
        table = f"{LAKE}/main/silver/moves/_delta_log/00000000000000000001.json"
        assert allowed(policy, "s3:GetObject", table)
        assert not allowed(policy, "s3:PutObject", table)
        assert not allowed(policy, "s3:DeleteObject", table)
        own = f"{LAKE}/sandbox/{name}/silver/x/part-0.parquet"
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert allowed(policy, action, own), action
            assert not allowed(policy, action, f"{LAKE}/sandbox/{other}/silver/x/p.parquet")
        assert allowed(policy, "s3:ListBucket", LAKE, f"sandbox/{name}/")
        assert not allowed(policy, "s3:ListBucket", LAKE, f"sandbox/{other}/")
        assert not allowed(policy, "s3:ListBucket", LAKE, "sandbox/")
        assert allowed(policy, "s3:PutObject", f"arn:aws:s3:::notebooks/{name}/close.ipynb")
        assert not allowed(policy, "s3:GetObject", f"arn:aws:s3:::notebooks/{other}/x.ipynb")
    assert keys["ada"] != keys["al"]


def test_a_user_writes_their_sandbox_with_the_credentials_they_were_given(stack: Stack) -> None:
    """The credentials work from a kernel: ada's code writes and lists her sandbox (moto
    lets any key do anything; what they may do is the policy above)."""
    code = """\
import boto3, os
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"], region_name="us-east-1")
s3.put_object(Bucket="lake", Key="sandbox/ada/silver/x/part-0.parquet", Body=b"PAR1")
found = s3.list_objects_v2(Bucket="lake", Prefix="sandbox/ada/")["Contents"]
print(sorted(o["Key"] for o in found))
"""
    out = stack.hub.run_in_kernel("ada", code).strip().splitlines()[-1]
    assert out == "['sandbox/ada/silver/x/part-0.parquet']"


def test_a_users_kernel_reads_the_team_lake_and_writes_their_sandbox(stack: Stack) -> None:
    """The kernel's own lake, in a server the hub spawned: ``lake`` reads the team's
    tables and what al's notebook writes lands in his sandbox, never in the layers."""
    import pyarrow as pa

    from workbench_server.connections.kinds import LakeConfig
    from workbench_server.lake import Lake

    uri = "s3://lake/main"
    pipelines = LakeConfig(
        location=uri, endpoint_url=stack.s3, access_key_id="workbench-lake", secret_access_key="x"
    )
    Lake.at(uri, storage=pipelines).write("silver.moves", pa.table({"id": [1, 2, 3]}))
    code = """\
from workbench_kernels import lake
print(lake.sql("SELECT count(*) FROM silver.moves").fetchone()[0])
lake.sql("CREATE TABLE gold.mine AS SELECT id FROM silver.moves WHERE id > 1")
print(lake.sql("SELECT count(*) FROM gold.mine").fetchone()[0])
print(lake.versions("gold.mine").iloc[0]["writer"])
"""
    out = stack.hub.run_in_kernel("al", code).strip().splitlines()
    assert out[-3:-1] == ["3", "2"], out
    assert out[-1].endswith("by al"), out
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.s3,
        aws_access_key_id="workbench",
        aws_secret_access_key="x",
        region_name="us-east-1",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake").get("Contents", [])]
    assert any(k.startswith("sandbox/al/gold/mine/_delta_log/") for k in keys), keys
    assert not any(k.startswith("main/gold/") for k in keys), keys
