"""Declarative steps one by one, as the worker's activity runs them (without Temporal):
what a failure leaves (no version), what a retry does (no second write), when deletes
are looked for, the other sources (Odoo's API, any SQLAlchemy database), what a sql
step may reach, and a merge's declared types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa

from tests.support.ingest import source_database, step_context
from tests.support.postgres import postgres_settings
from workbench_pipelines.ingest import watermarks
from workbench_pipelines.ingest.context import Progress, StepStopped
from workbench_pipelines.ingest.extract import run_extract
from workbench_pipelines.ingest.merge import run_merge
from workbench_pipelines.ingest.sql_step import run_sql
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.db.models import RunTable
from workbench_server.errors import InvalidInputError, PermissionDeniedError
from workbench_server.lake import Lake
from workbench_server.principal import local_principal

LINES = {"source": "odoo", "tables": ["account_move_line"], "deletes": "every 1d"}


@pytest.fixture
def source(pg_cluster):
    with source_database(pg_cluster) as url:
        yield url


@pytest.fixture
def odoo(workbench, source):
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="odoo", settings=postgres_settings(source))
    )
    return source


def _lake(workbench) -> Lake:
    return Lake.default(workbench.settings)


class _StopAfterFirstBatch(Progress):
    def check(self) -> None:
        if self.rows:
            raise StepStopped("stopped")


def test_a_step_stopped_or_failing_mid_stream_leaves_no_version(workbench, odoo, monkeypatch):
    import workbench_pipelines.ingest.extract as extract

    me, lake = local_principal(), _lake(workbench)
    monkeypatch.setattr(extract, "BATCH_ROWS", 500)  # several batches
    ctx = step_context(workbench, me, "extract", LINES, progress=_StopAfterFirstBatch())
    with pytest.raises(StepStopped):
        run_extract(ctx)
    # The table's first write, stopped half-way, leaves no table behind (not an empty one
    # that readers and the catalog would take for the source's).
    assert not lake.exists("bronze.account_move_line")
    assert lake.tables() == [] and ctx.tables == []

    run_extract(step_context(workbench, me, "extract", LINES))
    run_merge(step_context(workbench, me, "merge", {"tables": ["bronze.account_move_line"]}))
    failing = {
        "sql": "SELECT id, CASE WHEN id > 5000 THEN error('boom at ' || id) ELSE id END AS x "
        "FROM silver.account_move_line ORDER BY id",
        "target": "gold.x",
    }
    run_sql(step_context(workbench, me, "sql", {**failing, "sql": "SELECT 1 AS id, 1 AS x"}))
    ctx = step_context(workbench, me, "sql", failing)
    with pytest.raises(InvalidInputError, match="boom at"):
        run_sql(ctx)
    assert lake.version("gold.x") == 1 and lake.read("gold.x").num_rows == 1
    assert [t.access for t in ctx.tables] == ["read"]


def test_a_retry_finds_the_commit_of_the_attempt_whose_end_was_lost(workbench, odoo):
    me, lake = local_principal(), _lake(workbench)
    first = step_context(workbench, me, "extract", LINES)
    run_extract(first)
    again = step_context(
        workbench, me, "extract", LINES, run_id=first.run_id, attempt=2, record=False
    )
    run_extract(again)
    assert lake.version("bronze.account_move_line") == 1  # not written twice
    assert [(t.table, t.access, t.version) for t in again.tables] == [
        ("bronze.account_move_line", "write", 1)
    ]
    assert again.stats == {}  # nothing read from the source


def test_deletes_are_looked_for_on_their_schedule(workbench, odoo):
    me, lake = local_principal(), _lake(workbench)
    run_extract(step_context(workbench, me, "extract", LINES))
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("DELETE FROM account_move_line WHERE id IN (11, 12)")
    ctx = step_context(workbench, me, "extract", LINES)
    run_extract(ctx)
    assert ctx.stats["bronze.account_move_line"]["deletes_checked"] is False  # within 1d
    assert lake.read("bronze.account_move_line", where="_op = 'd'").num_rows == 0
    # A day later they are due: the keys are compared, the deleted rows marked.
    mark = watermarks.load(
        workbench, "extract", "lake", "bronze.account_move_line", "odoo", "public.account_move_line"
    )
    earlier = datetime.now(UTC) - timedelta(days=1, minutes=1)
    watermarks.save(
        workbench, "extract", "lake", "bronze.account_move_line", "odoo",
        "public.account_move_line", watermarks.Mark(mark.cursor_value, mark.cursor_id,
        mark.version, earlier), ctx.run_id,
    )  # fmt: skip
    ctx = step_context(workbench, me, "extract", LINES)
    run_extract(ctx)
    assert ctx.stats["bronze.account_move_line"]["deletes_checked"] is True
    gone = lake.read("bronze.account_move_line", where="_op = 'd'").to_pylist()
    assert sorted(r["id"] for r in gone) == [11, 12]
    assert all(r["company_id"] is None and r["_company_id"] == 1 for r in gone)


def test_a_delete_check_compares_keys_only_when_their_checksums_differ(workbench, odoo):
    """``deletes: every run`` sums the source's keys (count, sum, squares) against the
    keys bronze holds alive; the keys are compared one by one only when they differ, so
    a delete is caught, also when an insert keeps the count, or even the count and sum."""
    me, lake = local_principal(), _lake(workbench)
    every_run = {**LINES, "deletes": "every run"}
    columns = None
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("DELETE FROM account_move_line WHERE id BETWEEN 100 AND 130")  # a gap
        columns = _columns(db, "account_move_line")
    run_extract(step_context(workbench, me, "extract", every_run))

    def extract() -> dict:
        ctx = step_context(workbench, me, "extract", every_run)
        run_extract(ctx)
        return ctx.stats["bronze.account_move_line"]

    def deleted() -> list[int]:
        gone = lake.read("bronze.account_move_line", where="_op = 'd'").column("id")
        return sorted(gone.to_pylist())

    def copy_as(db, new_id: int, of: int) -> None:  # a row created now, with a new id
        rest = [c for c in columns if c not in ("id", "create_date", "write_date")]
        db.execute(
            f"INSERT INTO account_move_line (id, create_date, write_date, {', '.join(rest)}) "
            f"SELECT %s, now(), now(), {', '.join(rest)} FROM account_move_line WHERE id = %s",
            (new_id, of),
        )

    # Nothing deleted: the checksums match, no key is compared.
    stats = extract()
    assert stats["deletes_checked"] is True and stats["keys_compared"] is False
    # New and changed rows, nothing deleted: still matching, the rows written.
    with psycopg.connect(odoo, autocommit=True) as db:
        (top,) = db.execute("SELECT max(id) FROM account_move_line").fetchone()
        copy_as(db, top + 1, 5)
        db.execute("UPDATE account_move_line SET write_date = now() WHERE id = 6")
    stats = extract()
    assert stats["keys_compared"] is False and stats["rows_written"] == 2
    assert deleted() == []
    # One deleted, one inserted (the count kept): compared, the delete found.
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("DELETE FROM account_move_line WHERE id = 11")
        copy_as(db, top + 2, 5)
    stats = extract()
    assert stats["keys_compared"] is True and deleted() == [11]
    # Two deleted, two inserted into the gap with the same sum (99 + 131 = 110 + 120):
    # the sum of squares differs.
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute("DELETE FROM account_move_line WHERE id IN (99, 131)")
        copy_as(db, 110, 5)
        copy_as(db, 120, 5)
    stats = extract()
    assert stats["keys_compared"] is True and deleted() == [11, 99, 131]
    live = lake.read("bronze.account_move_line", where="id IN (110, 120)").column("_op")
    assert sorted(live.to_pylist()) == ["i", "i"]
    # And matching again afterwards.
    assert extract()["keys_compared"] is False


def test_an_odoo_api_source_reads_models_with_exact_amounts(workbench, odoo, odoo_api):
    me, lake = local_principal(), _lake(workbench)
    ConnectionService(workbench, me).create(
        ConnectionCreate(name="odoo_rpc", settings=odoo_api.settings())
    )
    config = {
        "source": "odoo_rpc",
        "tables": [
            {
                "model": "account.move.line",
                "columns": ["id", "move_id", "account_id", "balance", "debit", "write_date"],
            },
            {"model": "account.account"},
        ],
        "languages": ["en_US"],
    }
    ctx = step_context(workbench, me, "extract", config)
    run_extract(ctx)
    lines = lake.read("bronze.account_move_line")
    assert str(lines.schema.field("balance").type) == "decimal128(38, 10)"
    assert str(lines.schema.field("move_id").type) == "int64"  # the many2one's id
    db = lake.connect()
    scan = lake.scan_sql("bronze.account_move_line")
    ours = db.execute(f"SELECT count(*), sum(balance), sum(debit) FROM {scan}").fetchone()
    with psycopg.connect(odoo) as pg:
        theirs = pg.execute(
            "SELECT count(*), sum(balance), sum(debit) FROM account_move_line"
        ).fetchone()
    assert ours == theirs
    names = lake.read("bronze.account_account", columns=["id", "name_en_us"]).to_pylist()
    assert names and all(r["name_en_us"] for r in names)
    assert ctx.lineage and ctx.lineage[0][1].context.attachable == ["odoo_rpc"]


def test_a_sqlalchemy_source_reads_any_database(workbench):
    me, lake = local_principal(), _lake(workbench)
    path = workbench.settings.workbench_home.demo_dir / "shop.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    meta = sa.MetaData()
    orders = sa.Table(
        "orders", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("amount", sa.Numeric(12, 2)),
        sa.Column("write_date", sa.DateTime),
    )  # fmt: skip
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(orders.insert(), [
            {"id": i, "amount": Decimal(f"{i}.10"), "write_date": datetime(2026, 1, 1, 0, i)}
            for i in range(1, 51)
        ])  # fmt: skip
    engine.dispose()
    ConnectionService(workbench, me).create(
        ConnectionCreate(name="shop", settings={"kind": "sqlalchemy", "url": f"sqlite:///{path}"})
    )
    run_extract(step_context(workbench, me, "extract", {"source": "shop", "tables": ["orders"]}))
    got = lake.read("bronze.orders")
    assert str(got.schema.field("amount").type) == "decimal128(12, 2)"
    assert sum(got.column("amount").to_pylist()) == sum(Decimal(f"{i}.10") for i in range(1, 51))


def test_a_sql_step_reaches_nothing_but_the_lake(workbench, odoo, tmp_path):
    me, lake = local_principal(), _lake(workbench)
    run_extract(step_context(workbench, me, "extract", LINES))
    secret = tmp_path / "secret.csv"
    secret.write_text("key\nhunter2\n")
    ctx = step_context(
        workbench, me, "sql",
        {"sql": f"SELECT * FROM read_csv('{secret}')", "target": "gold.leak"},
    )  # fmt: skip
    with pytest.raises(PermissionDeniedError, match="lake tables only"):
        run_sql(ctx)
    assert not lake.exists("gold.leak")
    # Parameters are bound, never pasted into the SQL.
    ctx = step_context(
        workbench, me, "sql",
        {"sql": "SELECT count(*) AS n, $label AS label FROM bronze.account_move_line "
         "WHERE company_id = $company", "target": "gold.counted"},
        parameters={"company": 1, "label": "x'); DROP TABLE y; --", "unused": 3},
    )  # fmt: skip
    run_sql(ctx)
    assert lake.read("gold.counted").to_pylist() == [{"n": 6396, "label": "x'); DROP TABLE y; --"}]


def test_each_sql_step_gets_a_database_no_other_step_used(workbench):
    # The worker makes the next step's database ahead (a spare): it is a new one, not
    # the one the step before filled and locked.
    me, lake = local_principal(), _lake(workbench)
    for _ in range(2):  # twice: the second pair takes spares made during the first
        first = {"sql": "CREATE TEMP TABLE left_behind AS SELECT 42 AS x; SELECT 1 AS id",
                 "target": "gold.first"}  # fmt: skip
        run_sql(step_context(workbench, me, "sql", first))
        second = {"sql": "SELECT count(*) AS n FROM duckdb_tables() "
                  "WHERE table_name = 'left_behind'", "target": "gold.second"}  # fmt: skip
        run_sql(step_context(workbench, me, "sql", second))
        assert lake.read("gold.first").column("id").to_pylist() == [1]
        assert lake.read("gold.second").column("n").to_pylist() == [0]


def test_a_sql_step_runs_its_queries_in_one_session_each_reading_the_last_ones_output(
    workbench, odoo
):
    me, lake = local_principal(), _lake(workbench)
    run_extract(step_context(workbench, me, "extract", LINES))
    config = {
        "queries": [
            {"sql": "SELECT company_id, count(*) AS n FROM bronze.account_move_line "
             "WHERE company_id = $company GROUP BY ALL", "target": "gold.per_company"},
            {"sql": "SELECT sum(n) AS n FROM gold.per_company", "target": "gold.total",
             "mode": "append"},
            {"sql": "SELECT table_name, version FROM pinned_versions", "target": "gold.pins"},
            {"sql": "SELECT n, (SELECT count(*) FROM gold.total) AS totals FROM gold.total "
             "JOIN gold.per_company USING (n)", "target": "gold.both"},
        ]
    }  # fmt: skip
    ctx = step_context(workbench, me, "sql", config, parameters={"company": 1})
    run_sql(ctx)
    per_company = lake.read("gold.per_company").to_pylist()
    assert [r["company_id"] for r in per_company] == [1] and per_company[0]["n"] > 0
    # The second query read what the first wrote (in this session), not an older version.
    assert lake.read("gold.total").column("n").to_pylist() == [per_company[0]["n"]]
    assert lake.read("gold.pins").num_rows == 0  # the third names no lake table
    assert lake.read("gold.both").to_pylist() == [{"n": per_company[0]["n"], "totals": 1}]
    written = {t.table: t.version for t in ctx.tables if t.access == "write"}
    read = {t.table: t.version for t in ctx.tables if t.access == "read"}
    assert set(written) == {"gold.per_company", "gold.total", "gold.pins", "gold.both"}
    assert (
        read["gold.per_company"] == written["gold.per_company"] == lake.version("gold.per_company")
    )
    assert read["gold.total"] == written["gold.total"]
    # Lineage per output: each query's target has its own column edges.
    outputs = {
        (output, column)
        for _, recorded in ctx.lineage
        if recorded.edges
        for statement in recorded.found.statements
        for output in statement.outputs
        for column in statement.columns
    }
    assert {("gold.per_company", "n"), ("gold.total", "n"), ("gold.both", "totals")} <= outputs
    # A query may name a table with the lake's name before it, as the notebooks do (the
    # session then makes those names too; a step whose queries never do goes without).
    qualified = {"sql": "SELECT n FROM lake.gold.total JOIN \"LAKE\" . gold.per_company "
                 "USING (n)", "target": "gold.qualified"}  # fmt: skip
    run_sql(step_context(workbench, me, "sql", qualified))
    assert lake.read("gold.qualified").to_pylist() == [{"n": per_company[0]["n"]}]

    # A failing query: the ones before it are committed, it and those after are not; the
    # retry (attempt 2) runs only what is missing and reads the earlier commits.
    config = {
        "queries": [
            {"sql": "SELECT 7 AS x", "target": "gold.first_of_two"},
            {"sql": "SELECT x / 0 AS y, no_such_column FROM gold.first_of_two",
             "target": "gold.second_of_two"},
            {"sql": "SELECT 1 AS z", "target": "gold.third_of_two"},
        ]
    }  # fmt: skip
    run_id = ctx.run_id + "-retry"
    with pytest.raises(InvalidInputError, match=r"writing gold\.second_of_two.*no_such_column"):
        run_sql(step_context(workbench, me, "sql", config, run_id=run_id))
    assert lake.exists("gold.first_of_two") and not lake.exists("gold.second_of_two")
    assert not lake.exists("gold.third_of_two")
    first_version = lake.version("gold.first_of_two")
    config["queries"][1]["sql"] = "SELECT x + 1 AS y FROM gold.first_of_two"
    retry = step_context(workbench, me, "sql", config, run_id=run_id, attempt=2, record=False)
    run_sql(retry)
    assert lake.version("gold.first_of_two") == first_version  # not written twice
    assert lake.read("gold.second_of_two").column("y").to_pylist() == [8]
    assert lake.read("gold.third_of_two").column("z").to_pylist() == [1]


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT n FROM lake.gold.total", True),
        ('SELECT n FROM "LAKE" . gold.total', True),
        ("-- as lake.read(table, version=...) reads it\nSELECT 1 FROM gold.total", False),
        ("SELECT 'lake.gold.total' AS s /* lake.x */ FROM gold.total", False),
        ("SELECT t.lake FROM gold.total t", False),
    ],
)
def test_a_sql_step_tells_a_lake_qualified_name_from_a_comment_or_string(sql, named):
    # The close's own queries mention lake.read(...) in a comment: the lake-named views
    # (a second Delta log read per pinned table) are made only for a real name.
    from workbench_pipelines.ingest.sql_step import _names

    assert _names(sql, "lake") is named


def test_a_merge_enforces_the_declared_types(workbench, odoo):
    me, lake = local_principal(), _lake(workbench)
    run_extract(step_context(workbench, me, "extract", LINES))
    table = {
        "source": "bronze.account_move_line",
        "target": "silver.lines",
        "columns": {"id": "bigint", "balance": "decimal(18,2)", "name": "varchar"},
    }
    run_merge(step_context(workbench, me, "merge", {"tables": [table]}))
    schema = lake.read("silver.lines").schema
    assert schema.names == ["id", "balance", "name", "_source", "_run_id", "_extracted_at"]
    assert str(schema.field("id").type) == "int64"
    assert str(schema.field("balance").type) == "decimal128(18, 2)"
    bad = {**table, "target": "silver.bad", "columns": {"id": "bigint", "name": "integer"}}
    with pytest.raises(InvalidInputError, match=r"silver\.bad"):
        run_merge(step_context(workbench, me, "merge", {"tables": [bad]}))
    assert not lake.exists("silver.bad")


def test_an_integer_cursor_reads_only_rows_past_the_last_id(workbench, odoo):
    """``cursor: id`` for an append-only table: the id is the watermark."""
    me, lake = local_principal(), _lake(workbench)
    config = {
        "source": "odoo",
        "tables": [{"table": "account_move_line", "cursor": "id", "target": "bronze.lines"}],
    }
    run_extract(step_context(workbench, me, "extract", config))
    with psycopg.connect(odoo, autocommit=True) as db:
        (top,) = db.execute("SELECT max(id) FROM account_move_line").fetchone()
        db.execute(
            "INSERT INTO account_move_line SELECT * FROM account_move_line WHERE id <= 3"
            .replace("SELECT *", "SELECT id + %s AS id, " + ", ".join(
                f"{c}" for c in _columns(db, "account_move_line")[1:]
            )),
            (top,),
        )  # fmt: skip
    ctx = step_context(workbench, me, "extract", config)
    run_extract(ctx)
    stats = ctx.stats["bronze.lines"]
    assert not stats["full"] and stats["rows_read"] == 4 and stats["rows_written"] == 3
    mark = watermarks.load(
        workbench, "extract", "lake", "bronze.lines", "odoo", "public.account_move_line"
    )
    assert mark.cursor_id == top + 3 and mark.cursor_value is None
    assert lake.read("bronze.lines").num_rows == top + 3


def _columns(db, table: str) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    ]


def test_an_incremental_read_tells_new_rows_from_changed_ones_and_adds_none_twice(workbench, odoo):
    """New and changed rows get ``i`` and ``u`` (told by Odoo's create_date where it can,
    looked up in bronze where it cannot), and rows read again in the overlap window, or
    committed late inside it, are added once."""
    me, lake = local_principal(), _lake(workbench)
    table = "bronze.account_move_line"
    with psycopg.connect(odoo, autocommit=True) as db:
        (top,) = db.execute("SELECT max(write_date) FROM account_move_line").fetchone()
        # Inside the 10-minute overlap window below the watermark: one row to be read
        # again unchanged, one created there that changes later.
        db.execute(
            "UPDATE account_move_line SET write_date = %s WHERE id = 3",
            (top - timedelta(minutes=3),),
        )
        db.execute(
            "UPDATE account_move_line SET create_date = %s, write_date = %s WHERE id = 4",
            (top - timedelta(minutes=2), top - timedelta(minutes=2)),
        )
    run_extract(step_context(workbench, me, "extract", LINES))

    later, late = top + timedelta(hours=1), top - timedelta(minutes=5)
    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute(
            "UPDATE account_move_line SET name = 'changed', write_date = %s WHERE id IN (1, 4)",
            (later,),
        )
        db.execute("CREATE TEMP TABLE copies AS SELECT * FROM account_move_line WHERE id = 2")
        # A new row, and one a transaction that began before the last run committed late
        # (its dates inside the window, below the watermark).
        for new_id, stamp in ((900001, later), (900002, late)):
            db.execute(
                "UPDATE copies SET id = %s, create_date = %s, write_date = %s",
                (new_id, stamp, stamp),
            )
            db.execute("INSERT INTO account_move_line SELECT * FROM copies")
    ctx = step_context(workbench, me, "extract", LINES)
    run_extract(ctx)
    assert ctx.stats[table]["full"] is False
    written = lake.read(table, where=f"_run_id = '{ctx.run_id}'").to_pylist()
    assert {r["id"]: r["_op"] for r in written} == {1: "u", 4: "u", 900001: "i", 900002: "i"}
    assert {r["name"] for r in written if r["id"] in (1, 4)} == {"changed"}

    version = lake.version(table)
    again = step_context(workbench, me, "extract", LINES)
    run_extract(again)
    assert again.stats[table]["rows_read"] >= 3  # the window is read again...
    assert again.stats[table]["rows_written"] == 0  # ...and nothing in it added twice
    assert lake.version(table) == version  # nor an empty version
    ids = [r["id"] for r in lake.read(table, where="_op <> 'd'").to_pylist()]
    assert len(ids) == len(set(ids)) + 2  # only rows 1 and 4 have a second version


def test_a_merge_with_nothing_new_in_bronze_writes_nothing_and_records_what_it_used(
    workbench, odoo
):
    """A merge whose bronze table has no version since the last merge reads no row and
    commits nothing, yet records the versions it stands on (bronze and silver) and its
    columns' lineage as a merge that found changes does; the next bronze rows merge."""
    me, lake = local_principal(), _lake(workbench)
    table = {
        "source": "bronze.account_move_line",
        "target": "silver.lines",
        "columns": {"id": "bigint", "balance": "decimal(18,2)", "name": "varchar"},
    }
    run_extract(step_context(workbench, me, "extract", LINES))
    first = step_context(workbench, me, "merge", {"tables": [table]})
    run_merge(first)
    bronze, silver = lake.version("bronze.account_move_line"), lake.version("silver.lines")

    again = step_context(workbench, me, "merge", {"tables": [table]})
    run_merge(again)
    assert lake.version("silver.lines") == silver  # no empty version
    assert again.stats["silver.lines"] == {"changes": 0, "source_version": bronze, "read": 0}
    used = {(t.table, t.access, t.version) for t in again.tables}
    assert used == {("bronze.account_move_line", "read", bronze), ("silver.lines", "read", silver)}
    with workbench.sessions() as session:
        recorded = session.scalars(
            sa.select(RunTable.table_name).where(RunTable.run_id == again.run_id)
        ).all()
    assert sorted(recorded) == ["bronze.account_move_line", "silver.lines"]
    (edges,) = [found for _, found in again.lineage]
    (statement,) = edges.found.statements
    assert statement.columns["balance"][0].transformation == "expression"  # cast
    assert statement.columns["name"][0].transformation == "identity"

    with psycopg.connect(odoo, autocommit=True) as db:
        db.execute(
            "UPDATE account_move_line SET name = 'renamed', write_date = "
            "(SELECT max(write_date) FROM account_move_line) + interval '1 hour' WHERE id = 1"
        )
    run_extract(step_context(workbench, me, "extract", LINES))
    later = step_context(workbench, me, "merge", {"tables": [table]})
    run_merge(later)
    assert later.stats["silver.lines"]["changes"] == 1
    assert lake.read("silver.lines", where="id = 1").to_pylist()[0]["name"] == "renamed"
