"""The lake library on S3 (moto's real S3 endpoint): the same writes, reads, versions,
diffs, maintenance and migration as on a folder, through a lake connection's endpoint
and keys; commits use S3's conditional puts, so concurrent appends lose nothing."""

from __future__ import annotations

import io
import multiprocessing
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.connections.kinds import LakeConfig
from workbench_server.errors import NotFoundError
from workbench_server.lake import DeleteMarker, Lake, WriterInfo
from workbench_server.principal import Principal, local_principal

MONEY = pa.decimal128(18, 2)


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"lake-{uuid.uuid4().hex[:10]}"
    _client(s3_endpoint).create_bucket(Bucket=name)
    return name


def _client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="wb-key",
        aws_secret_access_key="wb-secret",
        region_name="us-east-1",
    )


def _config(endpoint: str, bucket: str) -> LakeConfig:
    return LakeConfig(
        location=f"s3://{bucket}/finance",
        endpoint_url=endpoint,
        access_key_id="wb-key",
        secret_access_key="wb-secret",
    )


def _lake(endpoint: str, bucket: str) -> Lake:
    return Lake.at(f"s3://{bucket}/finance", storage=_config(endpoint, bucket), name="s3lake")


def test_writes_versions_reads_and_diffs_on_s3(s3_endpoint: str, bucket: str) -> None:
    lake = _lake(s3_endpoint, bucket)
    run = WriterInfo(pipeline="close", run_id="r-1", step="load", attempt=1)
    amounts = [Decimal(a) for a in ("100.10", "-100.05", "-0.05")]
    first = lake.write(
        "silver.moves",
        pa.table({"id": [1, 2, 3], "company_id": [1, 1, 2], "amount": pa.array(amounts, MONEY)}),
        partition_by=["company_id"],
        writer=run,
    )
    assert first.version == 1
    merged = lake.write(
        "silver.moves",
        pa.table(
            {
                "id": [2, 3],
                "company_id": [1, 2],
                "amount": pa.array([Decimal("-100.10"), Decimal("0")], MONEY),
                "_op": ["u", "d"],
            }
        ),
        mode="merge",
        keys=["id"],
        delete_marker=DeleteMarker(),
        writer=run,
    )
    assert (merged.version, merged.rows_updated, merged.rows_removed) == (2, 1, 1)
    current = lake.read("silver.moves")
    assert sum(current["amount"].to_pylist()) == Decimal("0.00")
    assert sum(lake.read("silver.moves", version=1)["amount"].to_pylist()) == Decimal("0.00")
    db = lake.connect()
    assert db.execute(f"SELECT sum(amount) FROM {lake.scan_sql('silver.moves', 1)}").fetchone() == (
        Decimal("0.00"),
    )

    replaced = lake.write(
        "silver.moves",
        pa.table({"id": [4], "company_id": [2], "amount": pa.array([Decimal("1.00")], MONEY)}),
        mode="overwrite",
        replace_where="company_id = 2",
    )
    assert replaced.version == 3
    versions = lake.versions("silver.moves")
    assert [v.operation for v in versions] == ["WRITE", "MERGE", "WRITE", "CREATE TABLE"]
    assert versions[1].writer == run
    assert lake.version_at("silver.moves", datetime.now(UTC)) == 3
    diff = lake.diff("silver.moves", 1, 3)
    assert (diff.added, diff.removed, diff.changed) == (1, 1, 1)
    assert diff.changed_rows[0].after == {"amount": "-100.10"}

    assert [t.table for t in lake.tables()] == ["silver.moves"]
    results = lake.maintain()
    assert all(r.error is None for r in results), results
    assert sorted(lake.read("silver.moves")["id"].to_pylist()) == [1, 2, 4]


def test_scd2_and_migration_on_s3(s3_endpoint: str, bucket: str) -> None:
    lake = _lake(s3_endpoint, bucket)
    jan, feb = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    lake.scd2("gold.dim", pa.table({"k": [1, 2], "v": ["a", "b"]}), keys=["k"], as_of=jan)
    second = lake.scd2("gold.dim", pa.table({"k": [1, 2], "v": ["a", "B"]}), keys=["k"], as_of=feb)
    assert (second.rows_added, second.rows_updated) == (1, 1)
    assert lake.read("gold.dim", where="is_current").sort_by("k")["v"].to_pylist() == ["a", "B"]

    s3 = _client(s3_endpoint)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"n": ["INV/1", "INV/2"]}), buffer)
    s3.put_object(Bucket=bucket, Key="finance/silver/invoices.parquet", Body=buffer.getvalue())
    with pytest.raises(NotFoundError, match="migrate"):
        lake.versions("silver.invoices")
    assert lake.read("silver.invoices").num_rows == 2
    results = {r.table: r.status for r in lake.migrate()}
    assert results == {"gold.dim": "already_delta", "silver.invoices": "converted"}
    assert lake.versions("silver.invoices")[0].operation == "CONVERT"
    assert lake.read("silver.invoices")["n"].to_pylist() == ["INV/1", "INV/2"]
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="finance/silver/")["Contents"]
    ]
    assert "finance/silver/invoices.parquet" not in keys


def _append_s3(endpoint: str, bucket: str, worker: int, count: int) -> None:
    lake = _lake(endpoint, bucket)
    for i in range(count):
        lake.write("bronze.events", pa.table({"worker": [worker], "seq": [i]}))


@pytest.mark.timeout(240)
def test_concurrent_appends_on_s3_lose_nothing(s3_endpoint: str, bucket: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_s3, args=(s3_endpoint, bucket, w, 15)) for w in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(200)
    assert [proc.exitcode for proc in procs] == [0, 0]
    rows = _lake(s3_endpoint, bucket).read("bronze.events")
    assert rows.num_rows == 30


def test_a_lake_connection_is_opened_for_those_who_may_use_it(
    workbench, s3_endpoint: str, bucket: str
) -> None:
    cfg = _config(s3_endpoint, bucket)
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(
            name="finance_lake",
            settings={**cfg.model_dump(mode="json"), "secret_access_key": "wb-secret"},
            shared_groups=["finance"],
        )
    )
    lake = Lake.of(workbench, Principal(name="ana", groups=frozenset({"finance"})), "finance_lake")
    lake.write("bronze.x", pa.table({"id": [1]}))
    assert lake.location.storage_options()["AWS_ALLOW_HTTP"] == "true"
    assert Lake.of(workbench, local_principal(), "finance_lake").read("bronze.x").num_rows == 1
    with pytest.raises(NotFoundError, match="finance_lake"):
        Lake.of(workbench, Principal(name="eve"), "finance_lake")
