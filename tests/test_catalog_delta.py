"""The catalog over Delta tables (issue 16): discovered from their log (schema,
partitions, rows, size, version, versions and last writer), previewed now or as of a
version through the lake library, with their versions listed; the default lake is every
user's source, a lake connection only its users'. Parquet datasets stay as they were."""

from __future__ import annotations

import json
import os
import uuid
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench_server.catalog import CatalogService
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.connections.kinds import LakeConfig
from workbench_server.errors import InvalidInputError, NotFoundError, SourceUnavailableError
from workbench_server.lake import DeleteMarker, Lake, WriterInfo
from workbench_server.principal import Principal, local_principal

MONEY = pa.decimal128(18, 2)
RUN = WriterInfo(pipeline="close", run_id="r-7", step="merge", attempt=2, user="ana")


def _moves(ids: list[int], companies: list[int], amounts: list[str]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "company_id": pa.array(companies, pa.int64()),
            "amount": pa.array([Decimal(a) for a in amounts], MONEY),
            "email": [f"p{i}@example.com" for i in ids],
        }
    )


def _history(lake: Lake) -> None:
    """Versions 0 (create) to 3: append, merge with a delete, overwrite of company 2."""
    lake.write(
        "silver.moves",
        _moves([1, 2, 3, 4], [1, 1, 2, 2], ["10.10", "-10.10", "5.00", "-5.00"]),
        partition_by=["company_id"],
        writer=WriterInfo(notebook="close.ipynb", user="bob"),
    )
    changes = _moves([2, 3], [1, 2], ["-10.15", "0"]).append_column("_op", pa.array(["u", "d"]))
    lake.write(
        "silver.moves",
        changes,
        mode="merge",
        keys=["id"],
        delete_marker=DeleteMarker(),
        writer=RUN,
    )
    lake.write(
        "silver.moves",
        _moves([4, 5], [2, 2], ["-5.00", "7.25"]),
        mode="overwrite",
        replace_where="company_id = 2",
        writer=RUN,
    )


def _files_on_disk(table: Path) -> list[Path]:
    return [p for p in table.rglob("*.parquet") if "_delta_log" not in p.parts]


def test_delta_tables_are_described_from_their_log(workbench, tmp_path: Path) -> None:
    workbench.settings.data_roots = [str(tmp_path)]
    folder = tmp_path / "finance"
    lake = Lake.at(str(folder), name="finance")
    _history(lake)
    # A Parquet dataset beside it is read as it was (footers, hive partitions).
    old = folder / "gold" / "archive" / "year=2025" / "part-0.parquet"
    old.parent.mkdir(parents=True)
    pq.write_table(pa.table({"total": [1.5, 2.5]}), old)
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="finance", settings={"kind": "lake", "location": str(folder)})
    )
    catalog = CatalogService(workbench, local_principal())
    assert catalog.scan("finance").stats["tables"] == 2

    moves = catalog.find("finance", "silver", "moves")
    current = lake.read("silver.moves")
    # Older versions' files are still in the folder; only the log's current ones count.
    current_files = pa.table(lake_dt(lake).get_add_actions(flatten=True))
    assert len(_files_on_disk(folder / "silver" / "moves")) > current_files.num_rows
    assert moves.row_estimate == current.num_rows == 4
    assert moves.size_bytes == sum(current_files.column("size_bytes").to_pylist())
    assert [(c.name, c.data_type, c.comment) for c in moves.columns] == [
        ("id", "int64", None),
        ("company_id", "int64", "partition column"),
        ("amount", "decimal128(18, 2)", None),
        ("email", "string", None),
    ]
    assert "pii" in next(c for c in moves.columns if c.name == "email").auto_tags
    extra = moves.extra
    assert (moves.kind, moves.layer, extra["format"]) == ("dataset", "silver", "delta")
    assert extra["files"] == current_files.num_rows
    assert extra["partitions"] == {"company_id": 2}
    assert (extra["version"], extra["versions"]) == (3, 4)
    assert extra["last_writer"] == "pipeline close run r-7 step merge attempt 2 by ana"
    assert extra["last_operation"] == "overwrite"
    assert extra["last_write"] == lake.versions("silver.moves", limit=1)[0].timestamp.isoformat()

    archive = catalog.find("finance", "gold", "archive")
    assert archive.extra == {"format": "parquet", "files": 1, "partitions": {"year": 1}}
    assert [c.name for c in archive.columns] == ["total", "year"]

    # Previews read the current version through the library, and any version asked for.
    now = catalog.preview(moves.id, limit=10)
    assert now.version is None
    assert sorted(r[0] for r in now.rows) == sorted(current.column("id").to_pylist())
    amounts = {r[0]: r[2] for r in now.rows}
    assert amounts[2] == "-10.15" and amounts[5] == "7.25"  # exact, as text
    first = catalog.preview(moves.id, limit=10, version=1)
    assert (first.version, first.notes[0]) == (1, "as of version 1")
    assert sorted(r[0] for r in first.rows) == [1, 2, 3, 4]
    assert catalog.preview(moves.id, limit=10, version=0).rows == []
    with pytest.raises(NotFoundError, match=r"silver.moves has versions 0 to 3, not 4"):
        catalog.preview(moves.id, version=4)
    with pytest.raises(NotFoundError, match="Parquet dataset without versions"):
        catalog.preview(archive.id, version=0)
    assert sorted(r[0] for r in catalog.preview(archive.id).rows) == [1.5, 2.5]

    # Versions, newest first, with who and how many rows.
    versions = catalog.versions(moves.id)
    assert [(v.version, v.mode) for v in versions] == [
        (3, "overwrite"),
        (2, "merge"),
        (1, "append"),
        (0, "create"),
    ]
    merge = versions[1]
    assert merge.writer == RUN and (merge.rows_updated, merge.rows_removed) == (1, 1)
    assert versions[2].writer_text == "notebook close.ipynb by bob"
    assert [v.version for v in catalog.versions(moves.id, limit=2, before=2)] == [1, 0]
    with pytest.raises(NotFoundError, match="Parquet dataset"):
        catalog.versions(archive.id)

    # A new version shows at the next scan.
    lake.write("silver.moves", _moves([9], [1], ["1.00"]), writer=RUN)
    catalog.scan("finance")
    again = catalog.find("finance", "silver", "moves")
    assert (again.extra["version"], again.extra["versions"], again.row_estimate) == (4, 5, 5)
    assert again.extra["last_operation"] == "append"


def lake_dt(lake: Lake):
    from workbench_server.lake.tables import open_table

    return open_table(lake.location, "silver.moves")


def test_maintenance_is_not_the_last_write_and_a_new_table_has_no_rows(
    workbench, tmp_path: Path
) -> None:
    workbench.settings.data_roots = [str(tmp_path)]
    lake = Lake.at(str(tmp_path / "lake"), name="files")
    lake.write("gold.totals", pa.table({"total": [1, 2]}), writer=RUN)
    lake.write("gold.totals", pa.table({"total": [3]}), writer=RUN)
    lake.optimize("gold.totals")
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="files", settings={"kind": "lake", "location": lake.location.root})
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("files")
    totals = catalog.find("files", "gold", "totals")
    assert totals.extra["version"] == 3 and totals.row_estimate == 3
    assert totals.extra["files"] == 1  # compacted
    assert totals.extra["last_operation"] == "append"  # the optimize changed no rows
    assert catalog.versions(totals.id)[0].operation == "OPTIMIZE"


def test_the_default_lake_is_every_users_and_a_lake_connection_its_users_only(
    workbench, tmp_path: Path
) -> None:
    default = Lake.default(workbench.settings)
    _history(default)
    ada = Principal(name="ada")
    bob = Principal(name="bob")
    # Ada's own lake connection, which Bob may not use.
    workbench.settings.data_roots = [str(tmp_path)]
    private = Lake.at(str(tmp_path / "ada"), name="ada_lake")
    private.write("gold.salaries", pa.table({"salary": [123456]}), writer=RUN)
    ConnectionService(workbench, ada).create(
        ConnectionCreate(
            name="ada_lake", settings={"kind": "lake", "location": str(tmp_path / "ada")}
        )
    )

    sources = {s.connection: s for s in CatalogService(workbench, bob).sources()}
    assert set(sources) == {"lake"} and sources["lake"].scannable
    scan = CatalogService(workbench, bob).scan("lake")
    assert scan.status == "succeeded" and scan.stats["tables"] == 1
    CatalogService(workbench, ada).scan("ada_lake")

    for who in (ada, bob):
        catalog = CatalogService(workbench, who)
        moves = catalog.find("lake", "silver", "moves")
        assert moves.extra["version"] == 3
        assert len(catalog.versions(moves.id)) == 4
        assert catalog.preview(moves.id, version=1).rows
    ada_catalog, bob_catalog = CatalogService(workbench, ada), CatalogService(workbench, bob)
    salaries = ada_catalog.find("ada_lake", "gold", "salaries")
    assert ada_catalog.preview(salaries.id, version=1).rows == [[123456]]
    for call in (
        lambda: bob_catalog.versions(salaries.id),
        lambda: bob_catalog.preview(salaries.id, version=1),
        lambda: bob_catalog.table(salaries.id),
    ):
        with pytest.raises(NotFoundError, match=f"no catalog table {salaries.id}"):
            call()
    assert [h.table.name for h in bob_catalog.search("salaries").hits] == []
    assert [h.table.connection for h in bob_catalog.search("moves").hits] == ["lake"]
    # The source is nobody's: users cannot certify its tables, admins can.
    from workbench_server.catalog import TablePatch
    from workbench_server.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        bob_catalog.edit_table(moves.id, TablePatch(certified=True))
    admin = CatalogService(workbench, Principal(name="root", admin=True))
    assert admin.edit_table(moves.id, TablePatch(certified=True)).certified


def test_only_lake_tables_have_versions(workbench) -> None:
    from workbench_server.bootstrap import ensure_demo

    ensure_demo(workbench)
    catalog = CatalogService(workbench, Principal(name="bob"))
    _, [table] = catalog.tables("demo_odoo", limit=1)
    assert catalog.preview(table.id, limit=1).version is None
    with pytest.raises(InvalidInputError, match="only lake tables have versions"):
        catalog.preview(table.id, version=1)
    with pytest.raises(NotFoundError, match="only lake tables have versions"):
        catalog.versions(table.id)


def test_a_table_whose_log_points_outside_it_is_neither_cataloged_nor_previewed(
    workbench, tmp_path: Path
) -> None:
    """Steps write the lake with users' rights: a log naming a file elsewhere (an absolute
    path, ``..``), or a data file swapped for a link, must not make the service read it."""
    workbench.settings.data_roots = [str(tmp_path)]
    root = tmp_path / "lake"
    lake = Lake.at(str(root), name="files")
    for name in ("ledger", "escape", "linked"):
        lake.write(f"silver.{name}", pa.table({"balance": [10]}), writer=RUN)
    private = tmp_path / "private.parquet"
    pq.write_table(pa.table({"balance": [999_999]}), private)
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="files", settings={"kind": "lake", "location": str(root)})
    )
    catalog = CatalogService(workbench, local_principal())
    assert catalog.scan("files").stats["tables"] == 3
    escape = catalog.find("files", "silver", "escape")
    linked = catalog.find("files", "silver", "linked")
    # escape: a commit adds a file by an absolute path.
    log = root / "silver" / "escape" / "_delta_log" / f"{2:020d}.json"
    add = {"path": str(private), "partitionValues": {}, "size": private.stat().st_size}
    add |= {"modificationTime": 0, "dataChange": True}
    commit = {"timestamp": 0, "operation": "WRITE"}
    log.write_text(f"{json.dumps({'add': add})}\n{json.dumps({'commitInfo': commit})}\n")
    # linked: its data file becomes a link to the private file.
    [data] = _files_on_disk(root / "silver" / "linked")
    data.unlink()
    os.symlink(private, data)
    with pytest.raises(SourceUnavailableError, match="names a file outside its folder"):
        catalog.preview(escape.id)
    assert catalog.preview(escape.id, version=1).rows == [[10]]  # before that commit
    for version in (None, 1):
        with pytest.raises(SourceUnavailableError, match="is a link"):
            catalog.preview(linked.id, version=version)
    rescan = catalog.scan("files")
    assert rescan.stats["tables"] == 1
    assert catalog.find("files", "silver", "ledger").row_estimate == 1
    for table in (escape, linked):
        assert catalog.table(table.id).dropped_at is not None


def test_delta_tables_in_an_s3_lake(workbench, s3_endpoint: str) -> None:
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="wb-key",
        aws_secret_access_key="wb-secret",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    settings = {
        "kind": "lake",
        "location": f"s3://{bucket}/finance",
        "endpoint_url": s3_endpoint,
        "access_key_id": "wb-key",
        "secret_access_key": "wb-secret",
    }
    lake = Lake.at(settings["location"], storage=LakeConfig(**settings), name="s3lake")
    _history(lake)
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="s3lake", settings=settings)
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("s3lake")
    moves = catalog.find("s3lake", "silver", "moves")
    assert (moves.row_estimate, moves.extra["version"], moves.extra["versions"]) == (4, 3, 4)
    assert moves.extra["last_writer"].startswith("pipeline close run r-7")
    assert sorted(r[0] for r in catalog.preview(moves.id, version=1).rows) == [1, 2, 3, 4]
    assert [v.version for v in catalog.versions(moves.id)] == [3, 2, 1, 0]


def test_a_write_is_cataloged_by_scanning_only_its_table(workbench, tmp_path: Path) -> None:
    """After a write (a notebook's CREATE TABLE, a pipeline step), the catalog takes in that
    table alone: the rest of the lake is neither read nor changed."""
    lake = Lake.default(workbench.settings)
    lake.write("silver.moves", _moves([1], [1], ["1.00"]), writer=RUN)
    lake.write("gold.totals", pa.table({"total": [1]}), writer=RUN)
    catalog = CatalogService(workbench, Principal(name="bob"))
    catalog.scan("lake")
    totals_before = catalog.find("lake", "gold", "totals")

    lake.write("silver.fresh", pa.table({"id": [1, 2]}), writer=RUN)
    lake.write("gold.totals", pa.table({"total": [2]}), writer=RUN)  # not named below
    scan = catalog.scan("lake", tables=["silver.fresh", "silver.gone"])
    assert scan.stats["only"] == ["silver.fresh", "silver.gone"]
    assert scan.stats["tables"] == 1 and scan.stats["changes"] == {"table_added": 1}
    fresh = catalog.find("lake", "silver", "fresh")
    assert (fresh.row_estimate, fresh.extra["version"]) == (2, 1)
    totals = catalog.find("lake", "gold", "totals")
    assert totals.extra == totals_before.extra and totals.last_seen == totals_before.last_seen
    assert catalog.find("lake", "silver", "moves").dropped_at is None

    # A named table that is gone is marked dropped; only a lake's tables can be named.
    import shutil

    shutil.rmtree(lake.location.root + "/silver/fresh")
    assert catalog.scan("lake", tables=["silver.fresh"]).stats["changes"] == {"table_dropped": 1}
    assert catalog.table(fresh.id).dropped_at is not None
    for bad in (["fresh"], ["silver.x;drop"], [], ["silver.a"] * 1001):
        with pytest.raises(InvalidInputError, match="tables: "):
            catalog.scan("lake", tables=bad)


def test_a_linked_log_file_is_not_read_and_a_linked_lake_root_is_fine(
    workbench, tmp_path: Path
) -> None:
    """A commit file swapped for a link to a file of the service's (delta-rs would read
    it, and its error could show what it read) leaves the table out; a lake whose folder
    is itself reached through a link (as the admin set it up) is read as usual."""
    workbench.settings.data_roots = [str(tmp_path)]
    real = tmp_path / "disks" / "lake"
    lake = Lake.at(str(real), name="files")
    lake.write("silver.ledger", pa.table({"balance": [10]}), writer=RUN)
    lake.write("silver.tampered", pa.table({"balance": [20]}), writer=RUN)
    secret = tmp_path / "service-secret.txt"
    secret.write_text('{"not": "a commit"} the service key: s3cr3t\n')
    commit = real / "silver" / "tampered" / "_delta_log" / f"{1:020d}.json"
    commit.unlink()
    os.symlink(secret, commit)
    linked_root = tmp_path / "lake-link"
    os.symlink(real, linked_root)
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="files", settings={"kind": "lake", "location": str(linked_root)})
    )
    catalog = CatalogService(workbench, local_principal())
    assert catalog.scan("files").stats["tables"] == 1
    ledger = catalog.find("files", "silver", "ledger")
    assert ledger.extra["version"] == 1 and catalog.preview(ledger.id).rows == [[10]]
    assert catalog.preview(ledger.id, version=1).rows == [[10]]
    with pytest.raises(NotFoundError):
        catalog.find("files", "silver", "tampered")


def test_a_zero_amount_is_previewed_as_a_number_people_read(workbench) -> None:
    """Odoo's unconstrained numeric reaches the lake as DECIMAL(38,10): a zero debit was
    previewed as '0E-10' (Python's text of a zero with ten decimals), in the panel, REST and
    `workbench catalog preview` alike. Amounts are plain decimal text, exact and unrounded."""
    lake = Lake.default(workbench.settings)
    amounts = ["0", "-748.9", "25878.68", "1E+3", "0.0000000001"]
    lake.write(
        "gold.tb_zero",
        pa.table(
            {
                "id": pa.array(range(len(amounts)), pa.int64()),
                "debit": pa.array(
                    [Decimal(a).quantize(Decimal("1E-10")) for a in amounts],
                    pa.decimal128(38, 10),
                ),
            }
        ),
        writer=RUN,
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("lake", tables=["gold.tb_zero"])
    table = catalog.find("lake", "gold", "tb_zero")
    rows = sorted(catalog.preview(table.id, limit=10).rows)
    assert [r[1] for r in rows] == [
        "0.0000000000",
        "-748.9000000000",
        "25878.6800000000",
        "1000.0000000000",
        "0.0000000001",
    ]
