"""Managed ingestion (issue 16, must show 1 and 5): a pipeline of extract, merge and sql
steps, no notebook, runs on a real Temporal worker against a real PostgreSQL shaped like
Odoo. The first run copies everything; after 1% of the rows change and some are deleted,
the second reads only the changed rows (and the overlap window's), and silver equals the
source row by row, with DECIMAL sums equal to PostgreSQL's to the cent. The same with the
lake in an S3 bucket (moto) through a lake connection."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import boto3
import psycopg
import pytest

from tests.support.ingest import (
    TABLES,
    assert_same_rows,
    attempt_log,
    change_source,
    run_pipeline,
    source_database,
    source_rows,
)
from tests.support.postgres import postgres_settings
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lake import Lake
from workbench_server.lineage.service import LineageService
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.principal import local_principal

PIPELINE = """\
name: odoo_lake
steps:
  - id: extract
    kind: extract
    source: odoo
    tables: [account_move, account_move_line, account_account, res_partner, res_company]
    deletes: every run
    languages: [en_US, fr_FR]{lake}
  - id: silver
    kind: merge
    depends_on: [extract]
    tables:
      - bronze.account_move
      - bronze.account_move_line
      - bronze.account_account
      - bronze.res_partner
      - bronze.res_company
      - {{source: bronze.res_partner_by_company, target: silver.res_partner_by_company,
         keys: [id, company_id]}}{lake}
  - id: balances
    kind: sql
    depends_on: [silver]
    sql: |
      SELECT l.company_id, a.code, sum(l.balance) AS balance, count(*) AS lines
      FROM silver.account_move_line l JOIN silver.account_account a ON a.id = l.account_id
      GROUP BY ALL
    target: gold.balances{lake}
"""


@pytest.fixture
def source(pg_cluster):
    with source_database(pg_cluster) as url:
        yield url


@pytest.fixture(params=["folder", "s3"])
def lake_of(request, workbench, s3_endpoint_if_needed):
    """The lake the pipeline writes: the default one (a folder), or a lake connection to
    an S3 bucket; ``(spec text for the steps, Lake)``."""
    me = local_principal()
    if request.param == "folder":
        return "", Lake.of(workbench, me, None)
    endpoint = s3_endpoint_if_needed
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="wb-key",
        aws_secret_access_key="wb-secret",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    ConnectionService(workbench, me).create(
        ConnectionCreate(
            name="s3lake",
            settings={
                "kind": "lake",
                "location": f"s3://{bucket}/finance",
                "endpoint_url": endpoint,
                "access_key_id": "wb-key",
                "secret_access_key": "wb-secret",
            },
        )
    )
    return "\n    lake: s3lake", Lake.of(workbench, me, "s3lake")


@pytest.fixture
def s3_endpoint_if_needed(request):
    if "s3" in request.node.name:
        return request.getfixturevalue("s3_endpoint")
    return None


def _deploy(folder: Path, workbench, lake_text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.yaml").write_text(PIPELINE.format(lake=lake_text))
    PipelineRegistry(workbench, local_principal()).deploy(folder / "pipeline.yaml")


def _silver(lake: Lake, table: str) -> list[dict]:
    return lake.read(f"silver.{table}").to_pylist()


def _sums(lake: Lake, url: str) -> tuple[tuple, tuple]:
    db = lake.connect()
    try:
        ours = db.execute(
            "SELECT sum(balance), sum(debit), sum(credit), sum(amount_third), count(*) "
            f"FROM {lake.scan_sql('silver.account_move_line')}"
        ).fetchone()
    finally:
        db.close()
    with psycopg.connect(url) as pg:
        theirs = pg.execute(
            "SELECT sum(balance), sum(debit), sum(credit), sum(amount_third::numeric(38,10)), "
            "count(*) FROM account_move_line"
        ).fetchone()
    return ours, theirs


def _written(run, table: str) -> int:
    (found,) = [t for t in run.tables if t.table == table and t.access == "write"]
    return found.rows_added


@pytest.mark.timeout(600)
def test_full_then_incremental_extract_keeps_silver_equal_to_the_source(
    tmp_path: Path, home: Path, workbench, worker, source, lake_of, temporal_address, task_queue
) -> None:
    lake_text, lake = lake_of
    me = local_principal()
    ConnectionService(workbench, me).create(
        ConnectionCreate(name="odoo", settings=postgres_settings(source))
    )
    _deploy(tmp_path / "src", workbench, lake_text)

    # -- run 1: everything, the first time --------------------------------------------
    first = run_pipeline(workbench, me, "odoo_lake", temporal_address, task_queue)
    assert first.status == "succeeded", [(a.step_id, a.error) for a in first.attempts]
    log = attempt_log(home, first.id, "extract")
    for table in TABLES:
        (count,) = psycopg.connect(source).execute(f"SELECT count(*) FROM {table}").fetchone()
        assert f"public.{table} -> bronze.{table}: full, {count} row(s) read" in log
    for table in TABLES:
        assert_same_rows(_silver(lake, table), source_rows(source, table))
    ours, theirs = _sums(lake, source)
    assert ours == theirs and isinstance(ours[0], Decimal)
    assert str(ours[0]) == str(theirs[0])  # the same digits, to the cent

    # Translated jsonb: the raw value and text per language.
    accounts = {a["id"]: a for a in _silver(lake, "account_account")}
    assert accounts[3]["name_fr_fr"] == "FR " + accounts[3]["name_en_us"]
    assert accounts[1]["name_fr_fr"] is None and accounts[1]["name_en_us"]
    # Company-dependent jsonb (Odoo 18): one row per company.
    by_company = {(r["id"], r["company_id"]): r for r in _silver(lake, "res_partner_by_company")}
    with psycopg.connect(source) as pg:
        expected = {
            (pid, int(company)): value
            for pid, values in pg.execute(
                "SELECT id, property_account_receivable_id FROM res_partner "
                "WHERE property_account_receivable_id IS NOT NULL"
            ).fetchall()
            for company, value in values.items()
        }
    assert {k: r["property_account_receivable_id"] for k, r in by_company.items()} == expected
    assert by_company[(100000, 2)]["property_account_receivable_id"] == 8

    # -- 1% of the rows change, some are deleted ----------------------------------------
    with psycopg.connect(source) as pg:
        marks = {t: pg.execute(f"SELECT max(write_date) FROM {t}").fetchone()[0] for t in TABLES}
    changed = change_source(source)
    second = run_pipeline(workbench, me, "odoo_lake", temporal_address, task_queue)
    assert second.status == "succeeded", [(a.step_id, a.error) for a in second.attempts]
    log = attempt_log(home, second.id, "extract")
    lines = changed["account_move_line"]
    assert len(lines["updated"]) == lines["rows"] // 100 and len(lines["deleted"]) == 5
    with psycopg.connect(source) as pg:
        for table in TABLES:
            # What an incremental run reads: rows changed since the watermark, and the
            # (unchanged) rows inside the 10-minute overlap window below it.
            (read,) = pg.execute(
                f"SELECT count(*) FROM {table} WHERE write_date >= %s - interval '10 minutes'",
                (marks[table],),
            ).fetchone()
            info = changed.get(table, {"updated": [], "deleted": []})
            written = len(info["updated"]) + len(info.get("deleted", []))
            assert f"-> bronze.{table}: incremental, {read} row(s) read, {written} written" in log
            if table in ("account_move", "account_move_line"):  # not the whole table
                assert read <= len(info["updated"]) + 10, (table, read)
    assert _written(second, "bronze.account_move_line") == len(lines["updated"]) + 5
    for table in TABLES:
        assert_same_rows(_silver(lake, table), source_rows(source, table))
    ours, theirs = _sums(lake, source)
    assert ours == theirs and str(ours[0]) == str(theirs[0])
    by_company = {(r["id"], r["company_id"]) for r in _silver(lake, "res_partner_by_company")}
    assert (100000, 2) in by_company and (100000, 1) not in by_company

    # Bronze is append-only: the deleted rows are there, marked deleted, with audit columns.
    bronze = lake.read("bronze.account_move_line", where="_op = 'd'").to_pylist()
    assert sorted(r["id"] for r in bronze) == lines["deleted"]
    assert {r["_run_id"] for r in bronze} == {second.id} and {r["_source"] for r in bronze} == {
        "odoo"
    }
    # The run shows every version it read and wrote.
    silver_write = [t for t in second.tables if t.table == "silver.account_move_line"]
    assert {t.access for t in silver_write} == {"read", "write"}
    reads = {(t.step_id, t.table): t.version for t in second.tables if t.access == "read"}
    assert reads[("balances", "silver.account_move_line")] == lake.version(
        "silver.account_move_line"
    )
    # Column lineage from the source columns through bronze and silver to gold.
    lineage = LineageService(workbench, me).graph(
        lake.name, "gold.balances", column="balance", depth=5
    )
    assert ("odoo", "public.account_move_line", "balance") in {
        (e.source.namespace, e.source.name, e.source_column) for e in lineage.edges
    }
