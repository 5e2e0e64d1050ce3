"""The team stack's lake: the default lake in an S3 bucket (``$WORKBENCH_LAKE_URI``), as
the service, the workers and users' servers open it with the keys they are given.

A real S3 endpoint (moto's server); for temporary credentials, moto enforces its
authentication during the test, so a request without the session token is refused as
MinIO refuses it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pytest

from workbench_server.catalog import CatalogService
from workbench_server.connections import ConnectionCreate, ConnectionService, ConnectionUpdate
from workbench_server.connections.kinds import LakeConfig
from workbench_server.connections.probes import probe
from workbench_server.errors import (
    ConfigurationError,
    ConflictError,
    PermissionDeniedError,
    SourceUnavailableError,
)
from workbench_server.lake import Lake
from workbench_server.principal import Principal
from workbench_server.settings import WorkbenchSettings

AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*AWS_ENV, *(f"{n}_FILE" for n in AWS_ENV)):
        monkeypatch.delenv(name, raising=False)
    for name in ("WORKBENCH_LAKE_URI", "WORKBENCH_LAKE_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def _s3(endpoint: str, service: str = "s3", **keys: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=keys.get("key", "wb-admin"),
        aws_secret_access_key=keys.get("secret", "wb-admin-secret"),
        aws_session_token=keys.get("token"),
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"team-{uuid.uuid4().hex[:10]}"
    _s3(s3_endpoint).create_bucket(Bucket=name)
    return name


def _keys(bucket: str, endpoint: str, prefix: str) -> list[str]:
    found = _s3(endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in found)


def test_the_default_lake_is_the_bucket_workbench_lake_uri_names(
    s3_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As docker-compose.yml sets up the service and the workers: the URI, the endpoint,
    the access key id, and the secret key in a file (a docker secret)."""
    secret = tmp_path / "minio_lake_password"
    secret.write_text("lake-writer-secret\n")
    monkeypatch.setenv("WORKBENCH_LAKE_URI", f"s3://{bucket}/main")
    monkeypatch.setenv("WORKBENCH_LAKE_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "workbench-lake")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY_FILE", str(secret))
    settings = WorkbenchSettings.from_env(tmp_path / "home")
    assert "lake-writer-secret" not in repr(settings) + str(settings)

    lake = Lake.default(settings)
    assert (lake.name, lake.location.root) == ("lake", f"s3://{bucket}/main")
    written = lake.write("silver.moves", pa.table({"id": [1, 2], "amount": [10, -10]}))
    assert written.version == 1  # version 0 creates the table
    # In the bucket, not in the home folder.
    assert _keys(bucket, s3_endpoint, "main/silver/moves/_delta_log/")
    assert not (tmp_path / "home" / "lake" / "silver").exists()
    assert [t.table for t in lake.tables()] == ["silver.moves"]
    db = lake.connect()
    total = db.execute(f"SELECT sum(amount), count(*) FROM {lake.scan_sql('silver.moves')}")
    assert total.fetchone() == (0, 2)
    # A child (the worker `workbench up` starts) is told where the lake is, not its keys.
    child = settings.child_env()
    assert child["WORKBENCH_LAKE_URI"] == f"s3://{bucket}/main"
    assert child["WORKBENCH_LAKE_ENDPOINT_URL"].rstrip("/") == s3_endpoint
    assert "lake-writer-secret" not in json.dumps(child)


def test_a_folder_uri_is_the_default_lake_and_unset_is_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    assert Lake.default(WorkbenchSettings.from_env(home)).location.root == str(home / "lake")
    monkeypatch.setenv("WORKBENCH_LAKE_URI", str(tmp_path / "shared-lake"))
    lake = Lake.default(WorkbenchSettings.from_env(home))
    lake.write("gold.kpis", pa.table({"k": [1]}))
    assert (tmp_path / "shared-lake" / "gold" / "kpis" / "_delta_log").is_dir()


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("WORKBENCH_LAKE_URI", "lake/main", "absolute"),
        ("WORKBENCH_LAKE_URI", "s3://Team_Lake/main", "not a valid S3 bucket name"),
        ("WORKBENCH_LAKE_URI", "gs://lake/main", "s3://bucket/prefix"),
        ("WORKBENCH_LAKE_ENDPOINT_URL", "minio:9000", "WORKBENCH_LAKE_ENDPOINT_URL"),
        ("AWS_SECRET_ACCESS_KEY_FILE", "/nonexistent/secret", "cannot be read"),
    ],
)
def test_a_bad_lake_setting_stops_the_start_and_says_which(
    variable: str, value: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_LAKE_URI", "s3://lake/main")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        WorkbenchSettings.from_env(tmp_path / "home")
    assert variable in str(raised.value) and says in str(raised.value)


@contextmanager
def _enforced_auth() -> Iterator[None]:
    """moto checks signatures, keys and session tokens (and IAM policies) while this runs."""
    from moto import settings as moto_settings
    from moto.core.authorization import ActionAuthenticatorMixin

    before = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = before


def _temporary_credentials(endpoint: str, bucket: str) -> dict[str, str]:
    """STS AssumeRole, as the hub asks MinIO for a user's credentials."""
    role = f"lake-{uuid.uuid4().hex[:8]}"
    iam = _s3(endpoint, "iam")
    trust = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    made = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )
    reach = {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}*"]}
    iam.put_role_policy(
        RoleName=role,
        PolicyName="lake",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [reach]}),
    )
    return _s3(endpoint, "sts").assume_role(
        RoleArn=made["Role"]["Arn"], RoleSessionName="ada", DurationSeconds=900
    )["Credentials"]


def test_temporary_credentials_reach_the_lake_with_their_session_token(
    s3_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the hub gives a user's server (AWS_ENDPOINT_URL_S3 and temporary keys) opens
    the lake for delta-rs's writes, pyarrow's listings and DuckDB's reads; the same keys
    without the session token are refused."""
    granted = _temporary_credentials(s3_endpoint, bucket)
    monkeypatch.setenv("WORKBENCH_LAKE_URI", f"s3://{bucket}/main")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", granted["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", granted["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", granted["SessionToken"])
    settings = WorkbenchSettings.from_env(tmp_path / "home")
    assert granted["SessionToken"] not in repr(settings)

    with _enforced_auth():
        lake = Lake.default(settings)
        lake.write("silver.moves", pa.table({"id": [1, 2, 3]}))
        lake.write("silver.moves", pa.table({"id": [4]}))
        assert [t.table for t in lake.tables()] == ["silver.moves"]
        assert lake.read("silver.moves", version=1).num_rows == 3
        db = lake.connect()
        assert db.execute(f"SELECT count(*) FROM {lake.scan_sql('silver.moves')}").fetchone() == (
            4,
        )
        monkeypatch.delenv("AWS_SESSION_TOKEN")
        without = Lake.default(WorkbenchSettings.from_env(tmp_path / "home"))
        with pytest.raises(SourceUnavailableError, match="ACCESS_DENIED"):
            without.tables()
        with pytest.raises(SourceUnavailableError, match="ACCESS_DENIED"):
            without.write("silver.other", pa.table({"id": [1]}))


# -- what the service never does on a user's behalf ----------------------------------------
ADA = Principal(name="ada", groups=frozenset({"finance"}))


def test_an_s3_lake_connection_without_keys_is_not_opened_with_the_services_own(
    workbench, s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service holds S3 credentials of its own (the team lake's reader, an instance
    role); a user's lake connection that names a bucket but no keys must not borrow them:
    browsing, scanning and testing it are refused, saying to add the keys."""
    _s3(s3_endpoint).put_object(Bucket=bucket, Key="main/gold/pay/p.parquet", Body=b"PAR1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "workbench-lake-reader")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-services-own")
    service = ConnectionService(workbench, ADA)
    settings = {"kind": "lake", "location": f"s3://{bucket}/main", "endpoint_url": s3_endpoint}
    service.create(ConnectionCreate(name="borrowed", settings=settings))

    with pytest.raises(PermissionDeniedError) as refused:
        Lake.of(workbench, ADA, "borrowed").tables()
    assert "'borrowed'" in str(refused.value) and "access_key_id" in str(refused.value)
    with pytest.raises(SourceUnavailableError, match="access_key_id"):
        CatalogService(workbench, ADA).scan("borrowed")
    tested = asyncio.run(probe("borrowed", service.resolve("borrowed")))
    assert (tested.ok, tested.reason) == (False, "denied") and "access_key_id" in tested.message

    # With its own keys, the same connection opens.
    service.update(
        "borrowed", ConnectionUpdate(settings={"access_key_id": "ada", "secret_access_key": "x"})
    )
    assert Lake.of(workbench, ADA, "borrowed").tables()[0].table == "gold.pay"


def test_no_connection_can_be_named_lake(workbench) -> None:
    """``lake`` is the default lake in every kernel (``%sql lake``), the catalog and
    lineage: a user's connection of that name would stand in for it."""
    service = ConnectionService(workbench, ADA)
    with pytest.raises(ConflictError) as refused:
        service.create(ConnectionCreate(name="lake", settings={"kind": "duckdb"}))
    assert "default lake" in str(refused.value)
    assert [c.name for c in service.list() if not c.builtin] == []
    assert Lake.of(workbench, ADA, "lake").location.root == workbench.settings.lake_root


# -- a user's kernel in team mode ----------------------------------------------------------
def test_a_users_kernel_reads_the_team_lake_and_writes_their_sandbox(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With what the hub gives ada's server (the lake's and her sandbox's URIs, the
    endpoint, temporary credentials), her kernel's ``lake`` reads the team's tables, and
    what she writes goes to her sandbox, which her session then reads in place of the
    team's table of that name; the team's tables are never changed from a notebook."""
    from workbench_kernels import lake as notebook
    from workbench_kernels.api import Bootstrap
    from workbench_kernels.lake_writes import LakeWriteError
    from workbench_kernels.registry import KernelConnections
    from workbench_kernels.usage import REPORTER

    money = pa.decimal128(18, 2)
    pipelines = Lake.at(
        f"s3://{bucket}/main",
        storage=LakeConfig(
            location=f"s3://{bucket}/main",
            endpoint_url=s3_endpoint,
            access_key_id="workbench-lake",
            secret_access_key="x",
        ),
    )
    amounts = pa.array([Decimal("100.10"), Decimal("-40.05"), Decimal("-60.05")], money)
    pipelines.write("silver.moves", pa.table({"id": [1, 2, 3], "amount": amounts}))
    granted = _temporary_credentials(s3_endpoint, bucket)
    for name, value in {
        "WORKBENCH_LAKE_URI": f"s3://{bucket}/main",
        "WORKBENCH_LAKE_SANDBOX_URI": f"s3://{bucket}/sandbox/ada",
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_ACCESS_KEY_ID": granted["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": granted["SecretAccessKey"],
        "AWS_SESSION_TOKEN": granted["SessionToken"],
        "JUPYTERHUB_USER": "ada",
    }.items():
        monkeypatch.setenv(name, value)
    # The service says where its own lake is; the kernel goes by its own environment.
    connections = KernelConnections(
        fetch=lambda: Bootstrap(lake="/srv/workbench/lake"), usable=lambda names: names
    )
    connections.refresh()
    notebook.install(connections)
    lake = notebook.connection()
    REPORTER.writes.clear()

    with _enforced_auth():
        assert lake.sql("SELECT sum(amount) FROM silver.moves").fetchone() == (Decimal("0.00"),)
        lake.sql("CREATE TABLE gold.mine AS SELECT id, amount FROM silver.moves WHERE id > 1")
        lake.sql("INSERT INTO gold.mine VALUES (9, 1.25)")
        assert lake.sql("SELECT count(*), sum(amount) FROM gold.mine").fetchone() == (
            3,
            Decimal("-98.85"),
        )
        with pytest.raises(LakeWriteError, match=r"silver\.moves is the team's"):
            lake.sql("INSERT INTO silver.moves VALUES (4, 1.00)")
        with pytest.raises(PermissionDeniedError, match="your sandbox"):
            lake.write("silver.moves", pa.table({"id": [4], "amount": pa.array([1], money)}))
        # Her own copy of a team table: read in its place in her session.
        lake.sql("CREATE TABLE silver.moves AS SELECT * FROM silver.moves WHERE id = 1")
        assert lake.sql("SELECT count(*) FROM silver.moves").fetchone() == (1,)
        assert lake.read("silver.moves", version=1)["id"].tolist() == [1]
        assert [v for v in lake.versions("gold.mine").index] == [2, 1, 0]
        assert set(lake.tables()["table"]) == {"gold.mine", "silver.moves"}
    # Her own silver.moves is not the team's: no lineage says her notebook wrote that.
    assert REPORTER.writes == []

    keys = _keys(bucket, s3_endpoint, "")
    assert any(k.startswith("sandbox/ada/gold/mine/_delta_log/") for k in keys)
    assert any(k.startswith("sandbox/ada/silver/moves/_delta_log/") for k in keys)
    assert not any(k.startswith("main/gold/") for k in keys)
    assert pipelines.version("silver.moves") == 1 and pipelines.read("silver.moves").num_rows == 3


# -- a notebook step in the workers --------------------------------------------------------
STEP = """\
import os
import pyarrow as pa
from workbench_server.lake import Lake
from workbench_server.lake_env import lake_from_env

assert "AWS_SECRET_ACCESS_KEY_FILE" not in os.environ, "the worker's login reached the step"
found = lake_from_env()
Lake.at(found.location, storage=found).write(
    "bronze.from_step", pa.table({"key": [os.environ["AWS_ACCESS_KEY_ID"]]})
)
"""
LAKE_PIPELINE = """\
name: lake_step
steps:
  - {id: load, notebook: load.ipynb, kernel: python3}
"""


@pytest.mark.timeout(300)
def test_a_notebook_step_writes_the_team_lake_with_temporary_credentials_of_its_own(
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
    home: Path,
    workbench,
    temporal_address: str,
    task_queue: str,
) -> None:
    """A worker set up as compose does (the lake, its MinIO login, the password in a
    file) runs a notebook step: the step's kernel gets neither the login nor the file,
    but credentials of its own from the lake's STS, whose session policy is the workers'
    scope (the layers of the lake, nothing else), and writes the team lake with them."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sts.models import sts_backends

    from tests.conftest import spawn_worker, stop_worker
    from tests.support.notebooks import write_notebook
    from tests.support.processes import base_env, run_workbench
    from workbench_hub.s3 import LakeScope, worker_lake_policy

    secret = tmp_path / "minio_lake_password"
    secret.write_text("lake-writer-secret\n")
    uri = f"s3://{bucket}/main"
    lake_env = {
        "WORKBENCH_LAKE_URI": uri,
        "WORKBENCH_LAKE_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "workbench-lake",
        "AWS_SECRET_ACCESS_KEY_FILE": str(secret),
    }
    src = tmp_path / "src"
    write_notebook(src / "load.ipynb", STEP)
    (src / "lake_step.yaml").write_text(LAKE_PIPELINE)
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    worker = spawn_worker(home, temporal_address, task_queue, extra_env=lake_env)
    try:
        deployed = run_workbench("pipeline", "deploy", str(src / "lake_step.yaml"), env=env)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        ran = run_workbench("pipeline", "run", "lake_step", "--wait", env=env, timeout=240)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    finally:
        stop_worker(worker)

    admin = LakeConfig(
        location=uri, endpoint_url=s3_endpoint, access_key_id="x", secret_access_key="y"
    )
    (key,) = Lake.at(uri, storage=admin).read("bronze.from_step")["key"].to_pylist()
    assert key != "workbench-lake"
    role = sts_backends[DEFAULT_ACCOUNT_ID]["global"].get_assumed_role_from_access_key(key)
    assert role is not None, "the step's key is no STS session's"
    assert json.loads(role.policy) == worker_lake_policy(LakeScope.parse(uri))
    assert role.session_name.startswith("load-1-")


def test_testing_the_built_in_lake_tests_the_installations_lake(
    workbench, s3_endpoint: str, bucket: str
) -> None:
    """The catalog's built-in ``lake`` is tested as the installation opens it, with its
    own keys (which stay in the service), not refused as a connection without keys."""
    from workbench_server.catalog.default_lake import ensure_default_lake

    workbench.settings = workbench.settings.model_copy(
        update={
            "lake": LakeConfig(
                location=f"s3://{bucket}/main",
                endpoint_url=s3_endpoint,
                access_key_id="workbench-lake-reader",
                secret_access_key="reader-secret",
            )
        }
    )
    ensure_default_lake(workbench)
    service = ConnectionService(workbench, ADA)
    assert service.resolve("lake").secrets() == {}  # what kernels get: no key
    tested = asyncio.run(probe("lake", service.resolve_for_test("lake")))
    assert tested.ok, tested.message
