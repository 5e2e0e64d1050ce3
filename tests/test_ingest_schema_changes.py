"""A source table whose columns change under a running extract and merge (an Odoo
module installed, upgraded or removed), against a real PostgreSQL: a new nullable column
reaches bronze and silver with its values; a dropped or retyped column stops the step
naming the table, the column and what to do, and nothing is written (no NULLs written
over silver's values, nothing rounded)."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from tests.support.ingest import step_context
from tests.support.postgres import postgres_settings
from workbench_pipelines.ingest.extract import run_extract
from workbench_pipelines.ingest.merge import run_merge
from workbench_server.catalog import CatalogService
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.errors import InvalidInputError
from workbench_server.lake import Lake
from workbench_server.principal import local_principal


@pytest.fixture
def source(workbench, pg_cluster):
    with pg_cluster.fresh_database() as url:
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="src", settings=postgres_settings(url))
        )
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "CREATE TABLE notes (id int PRIMARY KEY, body text, amount numeric(12, 2), "
                "write_date timestamp DEFAULT now())"
            )
            db.execute("INSERT INTO notes (id, body, amount) VALUES (1, 'a', 1.10), (2, 'b', 2.20)")
        yield url


def _extract(workbench, mode: str = "incremental") -> None:
    config = {"source": "src", "tables": ["notes"], "mode": mode}
    run_extract(step_context(workbench, local_principal(), "extract", config))


def _merge(workbench) -> None:
    run_merge(step_context(workbench, local_principal(), "merge", {"tables": ["bronze.notes"]}))


def _sql(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        for statement in statements:
            db.execute(statement)


def test_a_new_column_reaches_bronze_silver_and_the_catalog_with_its_values(workbench, source):
    _extract(workbench, "full")
    _merge(workbench)
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("lake")
    assert "ref" not in {c.name for c in catalog.find("lake", "silver", "notes").columns}
    _sql(
        source,
        "ALTER TABLE notes ADD COLUMN ref text",
        "UPDATE notes SET ref = 'R-2', write_date = now() WHERE id = 2",
        "INSERT INTO notes (id, body, amount, ref) VALUES (3, 'c', 3.30, 'R-3')",
    )
    _extract(workbench)
    _merge(workbench)
    lake = Lake.default(workbench.settings)
    assert "ref" in lake.read("bronze.notes").schema.names
    silver = lake.read("silver.notes")
    assert silver.schema.field("ref").type == "string"
    rows = sorted((r["id"], r["ref"], r["amount"]) for r in silver.to_pylist())
    assert rows == [
        (1, None, Decimal("1.10")),
        (2, "R-2", Decimal("2.20")),
        (3, "R-3", Decimal("3.30")),
    ]
    for layer in ("bronze", "silver"):  # the catalog shows the column without a new scan
        assert "ref" in {c.name for c in catalog.find("lake", layer, "notes").columns}
    # A row the source did not change since keeps its value, and merging again is a no-op.
    _extract(workbench)
    _merge(workbench)
    assert sorted(r["ref"] or "" for r in lake.read("silver.notes").to_pylist()) == [
        "",
        "R-2",
        "R-3",
    ]


@pytest.mark.parametrize("created", [False, True], ids=["no_create_date", "create_date"])
def test_a_new_column_filled_at_the_source_reaches_every_silver_row(workbench, source, created):
    """Odoo adds a column and fills it with SQL (a default, a stored computed field)
    without touching write_date: rows not changed since still get their value in bronze
    and silver, those read before (one long ago, one inside the overlap window) alike, and
    a row whose new column is NULL stays as it was."""
    if created:  # the creation-time path of an incremental read
        _sql(source, "ALTER TABLE notes ADD COLUMN create_date timestamp DEFAULT now()")
    _sql(
        source,
        "UPDATE notes SET write_date = '2020-01-01 10:00' WHERE id = 1",
        "INSERT INTO notes (id, body, amount, write_date) VALUES (4, 'd', 4.40, now())",
    )
    _extract(workbench, "full")
    _merge(workbench)
    _sql(
        source,
        "ALTER TABLE notes ADD COLUMN ref text",
        "ALTER TABLE notes ADD COLUMN rate numeric(6, 3) DEFAULT 1.5",
        "UPDATE notes SET ref = 'R-' || id WHERE id <> 4",  # write_date not touched
        "UPDATE notes SET body = 'c', write_date = now() WHERE id = 4",  # changed meanwhile
    )
    lake = Lake.default(workbench.settings)
    bronze_before = lake.read("bronze.notes").num_rows
    _extract(workbench)
    _merge(workbench)
    rows = sorted(
        (r["id"], r["body"], r["ref"], r["rate"]) for r in lake.read("silver.notes").to_pylist()
    )
    assert rows == [
        (1, "a", "R-1", Decimal("1.500")),
        (2, "b", "R-2", Decimal("1.500")),
        (4, "c", None, Decimal("1.500")),
    ]
    # Bronze stays append-only: one row more per key, each the source's row as it is now.
    bronze = lake.read("bronze.notes")
    assert bronze.num_rows == bronze_before + 3
    # Nothing left to fill: the next runs add nothing to bronze and change nothing.
    _extract(workbench)
    _merge(workbench)
    assert lake.read("bronze.notes").num_rows == bronze_before + 3


def test_a_new_column_no_row_holds_yet_reaches_bronze_and_silver_at_once(workbench, source):
    """A field added with no value anywhere yet, on a table no row of which changed: bronze
    and silver get the column (no row read, none appended), so the next runs do not look
    again for rows holding a value in it (a read of the whole source table each run)."""
    _sql(source, "UPDATE notes SET write_date = '2020-01-01 10:00'")
    _extract(workbench, "full")
    _merge(workbench)
    lake = Lake.default(workbench.settings)
    bronze_before = lake.read("bronze.notes").num_rows
    _sql(source, "ALTER TABLE notes ADD COLUMN ref text")
    _extract(workbench)
    _merge(workbench)
    bronze = lake.read("bronze.notes")
    assert "ref" in bronze.schema.names and bronze.num_rows == bronze_before
    silver = sorted((r["id"], r["ref"]) for r in lake.read("silver.notes").to_pylist())
    assert silver == [(1, None), (2, None)]
    version = lake.version("bronze.notes")
    _extract(workbench)  # nothing new: no commit, no fill
    assert lake.version("bronze.notes") == version


def test_a_new_column_filled_in_a_sqlalchemy_source_reaches_every_silver_row(workbench):
    """The same through a SQLAlchemy source (SQLite here): the rows holding a value in
    the new column are asked for with the cursor's condition (OR ... IS NOT NULL)."""
    from datetime import datetime

    import sqlalchemy as sa

    path = workbench.settings.workbench_home.demo_dir / "shop.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, write_date DATETIME)")
        for i in range(1, 6):  # id 1 written long before the others
            stamp = datetime(2020 if i == 1 else 2026, 1, 1, 0, i)
            conn.exec_driver_sql("INSERT INTO orders VALUES (?, ?)", (i, stamp))
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="shop", settings={"kind": "sqlalchemy", "url": f"sqlite:///{path}"})
    )
    config = {"source": "shop", "tables": ["orders"]}
    merge = {"tables": ["bronze.orders"]}
    run_extract(step_context(workbench, local_principal(), "extract", config))
    run_merge(step_context(workbench, local_principal(), "merge", merge))
    with engine.begin() as conn:  # write_date not touched
        conn.exec_driver_sql("ALTER TABLE orders ADD COLUMN ref TEXT")
        conn.exec_driver_sql("UPDATE orders SET ref = 'R-' || id WHERE id <= 2")
    engine.dispose()
    run_extract(step_context(workbench, local_principal(), "extract", config))
    run_merge(step_context(workbench, local_principal(), "merge", merge))
    silver = Lake.default(workbench.settings).read("silver.orders").to_pylist()
    assert sorted((r["id"], r["ref"]) for r in silver) == [
        (1, "R-1"), (2, "R-2"), (3, None), (4, None), (5, None)
    ]  # fmt: skip


def test_a_new_field_filled_in_odoo_reaches_every_silver_row_through_its_api(workbench, pg_cluster):
    """Through Odoo's external API (the project's stand-in over a database of its own): a
    field a module adds, filled without touching write_date, is read for every record
    once (Odoo answers an empty field False, so no domain can ask for the filled ones)."""
    import json

    from tests.support.odoo_server import running_odoo
    from workbench_server.demo import build_dataset, write_postgres

    with pg_cluster.fresh_database() as url:
        write_postgres(url, build_dataset())
        _sql(url, "UPDATE account_account SET write_date = '2020-01-01' WHERE id = 1")
        with running_odoo(url) as odoo:
            ConnectionService(workbench, local_principal()).create(
                ConnectionCreate(name="rpc", settings=odoo.settings())
            )
            config = {"source": "rpc", "tables": [{"model": "account.account"}],
                      "languages": ["en_US"]}  # fmt: skip
            merge = {"tables": ["bronze.account_account"]}
            run_extract(step_context(workbench, local_principal(), "extract", config))
            run_merge(step_context(workbench, local_principal(), "merge", merge))
            _sql(  # a module installed: the column, its field, values set by SQL
                url,
                "ALTER TABLE account_account ADD COLUMN x_note varchar",
                "UPDATE account_account SET x_note = 'note ' || id WHERE id IN (1, 2)",
                "INSERT INTO ir_model_fields (id, name, complete_name, model, model_id, "
                "field_description, ttype, required, readonly, store, translate, state) "
                "SELECT (SELECT max(id) + 1 FROM ir_model_fields), 'x_note', "
                "'account.account.x_note', 'account.account', id, "
                f"'{json.dumps({'en_US': 'Note'})}', 'char', false, false, true, false, 'base' "
                "FROM ir_model WHERE model = 'account.account'",
            )
            odoo.reload_registry()
            run_extract(step_context(workbench, local_principal(), "extract", config))
            run_merge(step_context(workbench, local_principal(), "merge", merge))
        with psycopg.connect(url) as db:
            expected = dict(db.execute("SELECT id, x_note FROM account_account").fetchall())
    silver = Lake.default(workbench.settings).read("silver.account_account").to_pylist()
    got = {r["id"]: r["x_note"] for r in silver}
    assert got == expected and got[1] == "note 1" and got[2] == "note 2"


def test_a_dropped_column_stops_the_extract_naming_it_and_writes_nothing(workbench, source):
    _extract(workbench, "full")
    _merge(workbench)
    lake = Lake.default(workbench.settings)
    before = lake.version("bronze.notes")
    _sql(
        source,
        "ALTER TABLE notes DROP COLUMN body",
        "UPDATE notes SET amount = 2.25, write_date = now() WHERE id = 2",
    )
    with pytest.raises(InvalidInputError) as refused:
        _extract(workbench)
    message = str(refused.value)
    assert "bronze.notes" in message and "body" in message
    assert "columns:" in message  # what to do: list the columns to extract without it
    assert lake.version("bronze.notes") == before
    assert sorted(r["body"] for r in lake.read("silver.notes").to_pylist()) == ["a", "b"]


def test_a_column_listed_without_the_dropped_one_goes_on(workbench, source):
    _extract(workbench, "full")
    _merge(workbench)
    _sql(
        source,
        "ALTER TABLE notes DROP COLUMN body",
        "UPDATE notes SET amount = 2.25, write_date = now() WHERE id = 2",
    )
    config = {
        "source": "src",
        "tables": [{"table": "notes", "columns": ["id", "amount", "write_date"]}],
        "mode": "incremental",
    }
    run_extract(step_context(workbench, local_principal(), "extract", config))
    lake = Lake.default(workbench.settings)
    rows = lake.read("bronze.notes").to_pylist()
    assert (2, Decimal("2.25")) in {(r["id"], r["amount"]) for r in rows}
    _merge(workbench)  # silver keeps the values it had (as the message says)
    silver = sorted(
        (r["id"], r["body"], r["amount"]) for r in lake.read("silver.notes").to_pylist()
    )
    assert silver == [(1, "a", Decimal("1.10")), (2, "b", Decimal("2.25"))]


def test_a_retyped_column_stops_the_extract_naming_both_types(workbench, source):
    _extract(workbench, "full")
    lake = Lake.default(workbench.settings)
    before = lake.version("bronze.notes")
    _sql(
        source,
        "ALTER TABLE notes ALTER COLUMN amount TYPE numeric(14, 4)",
        "UPDATE notes SET amount = 2.2525, write_date = now() WHERE id = 2",
    )
    with pytest.raises(InvalidInputError) as refused:
        _extract(workbench)
    message = str(refused.value)
    assert "bronze.notes" in message and "amount" in message
    assert "DECIMAL(12,2)" in message and "DECIMAL(14,4)" in message
    assert "CREATE OR REPLACE TABLE bronze.notes" in message
    assert lake.version("bronze.notes") == before


def test_a_merge_never_rounds_a_retyped_bronze_column_into_silver(workbench, source):
    _extract(workbench, "full")
    _merge(workbench)
    lake = Lake.default(workbench.settings)
    # Bronze rebuilt in the new type, as the extract's message says, then a new row.
    bronze = lake.read("bronze.notes")
    index = bronze.schema.get_field_index("amount")
    import pyarrow as pa

    wider = bronze.set_column(
        index, pa.field("amount", pa.decimal128(14, 4)), bronze["amount"].cast(pa.decimal128(14, 4))
    )
    lake.write("bronze.notes", wider, mode="overwrite")
    _sql(source, "ALTER TABLE notes ALTER COLUMN amount TYPE numeric(14, 4)")
    _sql(source, "UPDATE notes SET amount = 2.2525, write_date = now() WHERE id = 2")
    _extract(workbench)
    with pytest.raises(InvalidInputError) as refused:
        _merge(workbench)
    message = str(refused.value)
    assert "silver.notes" in message and "amount" in message
    assert "DECIMAL(12,2)" in message and "DECIMAL(14,4)" in message
    assert sorted(r["amount"] for r in lake.read("silver.notes").to_pylist()) == [
        Decimal("1.10"),
        Decimal("2.20"),
    ]
