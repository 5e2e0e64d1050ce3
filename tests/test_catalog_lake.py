"""The catalog over a lake of Parquet datasets: a local folder and an S3 bucket (moto)."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench_server.catalog import CatalogService
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.errors import SourceUnavailableError
from workbench_server.principal import local_principal


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def test_lake_datasets_with_layers_partitions_and_merged_schemas(workbench, tmp_path) -> None:
    # Where the lakes are, the missing one included (test_data_roots).
    workbench.settings.data_roots = [str(tmp_path), "/no/such"]
    lake = tmp_path / "lake"
    events = lake / "bronze" / "events"
    _write(events / "year=2025" / "part-0.parquet", pa.table({"id": [1, 2], "amount": [1.5, 2.5]}))
    _write(events / "year=2026" / "part-0.parquet", pa.table({"id": [3], "amount": [4.0]}))
    _write(
        events / "year=2026" / "part-1.parquet",
        pa.table({"id": [4], "amount": [5.0], "channel": ["web"]}),
    )
    _write(lake / "silver" / "invoices.parquet", pa.table({"number": ["INV/1", "INV/2"]}))
    _write(lake / "silver" / "ledger" / "part-0.parquet", pa.table({"balance": [10]}))
    (lake / "silver" / "ledger" / "_delta_log").mkdir()
    (lake / "silver" / "ledger" / "_delta_log" / "00000000000000000000.json").write_text("{}")
    _write(lake / "gold" / "customers" / "p.parquet", pa.table({"name": ["A"], "email": ["a@x"]}))
    _write(lake / "_scratch" / "junk.parquet", pa.table({"x": [1]}))

    service = ConnectionService(workbench, local_principal())
    service.create(ConnectionCreate(name="files", settings={"kind": "lake", "location": str(lake)}))
    catalog = CatalogService(workbench, local_principal())
    scan = catalog.scan("files")
    assert scan.stats["tables"] == 4

    found = catalog.find("files", "bronze", "events")
    assert (found.kind, found.layer, found.row_estimate) == ("dataset", "bronze", 4)
    assert found.size_bytes == sum(p.stat().st_size for p in events.rglob("*.parquet"))
    assert [(c.name, c.data_type) for c in found.columns] == [
        ("id", "int64"),
        ("amount", "double"),
        ("channel", "string"),
        ("year", "partition"),
    ]
    assert found.extra == {"format": "parquet", "files": 3, "partitions": {"year": 2}}
    ledger = catalog.find("files", "silver", "ledger")
    assert (ledger.layer, ledger.extra["format"]) == ("silver", "delta")
    email = next(c for c in catalog.find("files", "gold", "customers").columns if c.name == "email")
    assert "pii" in email.auto_tags
    page = catalog.search("events")
    assert page.hits[0].table.name == "events" and page.facets["layer"] == {"bronze": 1}

    preview = catalog.preview(found.id, limit=10)
    assert sorted(row[0] for row in preview.rows) == [1, 2, 3, 4]
    assert "year" in [c.name for c in preview.columns]

    _write(lake / "silver" / "payments" / "p.parquet", pa.table({"id": [1]}))
    (lake / "silver" / "invoices.parquet").unlink()
    rescan = catalog.scan("files")
    assert rescan.stats["changes"] == {"table_added": 1, "table_dropped": 1}

    service.create(
        ConnectionCreate(name="nowhere", settings={"kind": "lake", "location": "/no/such/lake"})
    )
    with pytest.raises(SourceUnavailableError, match="cannot scan connection 'nowhere'"):
        catalog.scan("nowhere")


def test_s3_lake_is_scanned_through_its_endpoint(workbench, s3_endpoint: str) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="wb-key",
        aws_secret_access_key="wb-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="catalog-lake")
    for day in range(3):
        buffer = io.BytesIO()
        pq.write_table(pa.table({"n": list(range(day * 5, day * 5 + 5))}), buffer)
        s3.put_object(
            Bucket="catalog-lake",
            Key=f"prod/gold/numbers/day={day}/p.parquet",
            Body=buffer.getvalue(),
        )
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(
            name="s3lake",
            settings={
                "kind": "lake",
                "location": "s3://catalog-lake/prod",
                "endpoint_url": s3_endpoint,
                "access_key_id": "wb-key",
                "secret_access_key": "wb-secret",
            },
        )
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("s3lake")
    numbers = catalog.find("s3lake", "gold", "numbers")
    assert numbers.row_estimate == 15 and numbers.layer == "gold"
    assert [c.name for c in numbers.columns] == ["n", "day"]
    rows = catalog.preview(numbers.id, limit=100).rows
    assert sorted(r[0] for r in rows) == list(range(15))


def test_files_and_folders_linked_into_the_lake_are_not_read(workbench, tmp_path) -> None:
    """A pipeline step writes the lake with the rights of user code: a Parquet file or a
    dataset folder it links to elsewhere (another user's data, anything the service may
    read) is neither cataloged nor previewed."""
    import os

    workbench.settings.data_roots = [str(tmp_path)]  # where the lake is (test_data_roots)
    lake = tmp_path / "lake"
    _write(lake / "silver" / "ledger" / "part-0.parquet", pa.table({"balance": [10]}))
    private = tmp_path / "private"
    _write(private / "salaries" / "part-0.parquet", pa.table({"salary": [123456]}))
    os.symlink(
        private / "salaries" / "part-0.parquet", lake / "silver" / "ledger" / "part-1.parquet"
    )
    os.symlink(private / "salaries", lake / "silver" / "salaries")

    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="files", settings={"kind": "lake", "location": str(lake)})
    )
    catalog = CatalogService(workbench, local_principal())
    assert catalog.scan("files").stats["tables"] == 1
    ledger = catalog.find("files", "silver", "ledger")
    assert [c.name for c in ledger.columns] == ["balance"]
    assert ledger.row_estimate == 1
    preview = catalog.preview(ledger.id)
    assert preview.rows == [[10]]


def test_personal_columns_named_as_spreadsheets_name_them_are_tagged(workbench) -> None:
    """A table loaded from a spreadsheet or CSV names its columns for people: 'E-Mail',
    'Email Address', 'Kunde E-Mail', 'Phone Number'. Untagged, they would be copied to
    Superset, shown to agents and put into RAG chunks as any other column."""
    from workbench_server.lake import Lake

    Lake.default(workbench.settings).write(
        "silver.customer_list",
        pa.table(
            {
                "Customer": ["Ann Perrin"],
                "E-Mail": ["ann@perrin.example"],
                "Email Address": ["ann.perrin@example.com"],
                "Kunde E-Mail": ["ann@kunde.example"],
                "Phone Number": ["+33 6 12 34 56 78"],
                "IBAN": ["DE89370400440532013000"],
                "Open Amount": [12.5],
            }
        ),
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("lake")
    found = catalog.find("lake", "silver", "customer_list")
    tagged = {c.name for c in found.columns if "pii" in c.auto_tags}
    assert tagged == {"E-Mail", "Email Address", "Kunde E-Mail", "Phone Number", "IBAN"}
