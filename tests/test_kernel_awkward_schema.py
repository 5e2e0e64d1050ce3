"""A PostgreSQL database no one here designed, used from a real kernel as an analyst would:
mixed-case names that differ only by case, spaces, quotes, reserved words, unicode,
``numeric`` without a precision, NULLs, time zones and large text."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from tests.support.kernels import KernelSession, workbench_kernel
from tests.support.odoo_server import OdooServer
from tests.support.postgres import postgres_settings
from tests.support.servers import workbench_server
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.core import Workbench
from workbench_server.principal import local_principal

AWKWARD = r"""
CREATE SCHEMA "Sales Data";
CREATE TABLE "Sales Data"."Order Lines" (
  "ID" serial PRIMARY KEY,
  "Customer Name" text,
  "select" text,
  "Amount" numeric,
  "amount" numeric(12,2),
  "Créé le" timestamptz,
  notes text,
  "weird""quote" text,
  "order" integer
);
INSERT INTO "Sales Data"."Order Lines"
  ("Customer Name", "select", "Amount", "amount", "Créé le", notes, "weird""quote", "order")
VALUES
  ('Zoë Café', 'a', 1234567.8912345678, 10.10, '2024-03-31 23:30:00+02',
   repeat('x', 200000), 'q"1', 1),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('O''Brien & Co', 'b', 0.1, 0.20, '2024-01-01 00:00:00-08', 'short', 'q2', 3);
CREATE TABLE public."User" (id int PRIMARY KEY, "Name" text, balance numeric);
INSERT INTO public."User" VALUES (1, 'alice', 0.30), (2, 'bob', -1.005);
"""


@pytest.fixture
def jp_server_config(home: Path, workbench_kernelspec: None):
    return workbench_server(home)


@pytest.fixture
def awkward_db(pg_conninfo: str) -> str:
    with psycopg.connect(pg_conninfo, autocommit=True) as conn:
        conn.execute(AWKWARD)
    return pg_conninfo


@pytest.fixture
def connections(workbench: Workbench, awkward_db: str) -> ConnectionService:
    service = ConnectionService(workbench, local_principal())
    service.create(ConnectionCreate(name="shop", settings=postgres_settings(awkward_db)))
    return service


@pytest.fixture
def kernel(
    jp_serverapp, jp_asyncio_loop, http_server_client, connections
) -> Iterator[KernelSession]:
    with workbench_kernel(jp_serverapp, jp_asyncio_loop) as session:
        yield session


async def test_columns_differing_only_by_case_read_through_the_lake(
    kernel: KernelSession,
) -> None:
    """``"Amount" numeric`` beside ``"amount" numeric(12,2)`` in one table: DuckDB names
    the second ``amount_1``. The exact view asked PostgreSQL for ``amount_1``, so the whole
    connection failed to attach and every lake query on it (even of other tables) failed."""
    other = await kernel.value(
        'r = %sql lake SELECT sum(balance) AS s FROM shop.public."User"\n'
        "import json; print(json.dumps(str(r.DataFrame()['s'][0])))"
    )
    assert Decimal(other) == Decimal("-0.705")

    rows = await kernel.value(
        'r = %sql lake SELECT "ID", "Amount", amount_1, "Customer Name", "weird""quote" '
        'FROM shop."Sales Data"."Order Lines" ORDER BY "ID"\n'
        "import json; print(json.dumps([[None if v is None else str(v) for v in row] "
        "for row in r]))"
    )
    assert [[n, a and Decimal(a), b and Decimal(b), c, q] for n, a, b, c, q in rows] == [
        ["1", Decimal("1234567.8912345678"), Decimal("10.10"), "Zoë Café", 'q"1'],
        ["2", None, None, None, None],
        ["3", Decimal("0.1"), Decimal("0.20"), "O'Brien & Co", "q2"],
    ], rows

    # Copied into the lake, the amounts stay exact.
    made = await kernel.run(
        "%%sql lake\nCREATE OR REPLACE TABLE silver.order_lines AS "
        'SELECT * FROM shop."Sales Data"."Order Lines"'
    )
    assert made.status == "ok" and "silver.order_lines: version" in made.stdout, made.everything
    total = await kernel.value(
        'r = %sql lake SELECT sum("Amount") AS a, sum(amount_1) AS b, '
        "max(length(notes)) AS n FROM silver.order_lines\n"
        "import json; print(json.dumps([str(v) for v in list(r)[0]]))"
    )
    assert [Decimal(total[0]), Decimal(total[1]), int(total[2])] == [
        Decimal("1234567.9912345678"),
        Decimal("10.30"),
        200000,
    ]


async def test_tables_differing_only_by_case_are_both_readable_through_the_lake(
    kernel: KernelSession, awkward_db: str
) -> None:
    """PostgreSQL holds ``"User"`` and ``"user"`` side by side; DuckDB's names are not
    case sensitive, so the second view clashed with the first ("View with name user
    already exists!") and no table of the connection could be read in the lake."""
    with psycopg.connect(awkward_db, autocommit=True) as conn:
        conn.execute('CREATE TABLE public."user" (id int, note text)')
        conn.execute("INSERT INTO public.\"user\" VALUES (7, 'lower-case user')")
    first = await kernel.value(
        'r = %sql lake SELECT "Name" FROM shop.public."User" ORDER BY id\n'
        "import json; print(json.dumps([row[0] for row in r]))"
    )
    assert first == ["alice", "bob"]
    # The second gets DuckDB's own suffix for a name taken, as a column would.
    second = await kernel.value(
        "r = %sql lake SELECT note FROM shop.public.user_1\n"
        "import json; print(json.dumps([row[0] for row in r]))"
    )
    assert second == ["lower-case user"]
    # Other tables of the connection are unaffected, in the default schema too.
    count = await kernel.value(
        'r = %sql lake SELECT count(*) FROM shop."Sales Data"."Order Lines"\nprint(list(r)[0][0])'
    )
    assert count == 3


async def test_a_money_column_reads_as_an_exact_decimal_in_the_lake(
    kernel: KernelSession, awkward_db: str
) -> None:
    """PostgreSQL's ``money`` came into the lake as text formatted for the server's locale
    (``$1,234.56``): not summable, not comparable with the amounts beside it."""
    with psycopg.connect(awkward_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.wallet (id int, cash money)")
        conn.execute("INSERT INTO public.wallet VALUES (1, '1234.56'), (2, '-0.01'), (3, NULL)")
    got = await kernel.value(
        "r = %sql lake SELECT sum(cash) AS total, typeof(sum(cash)) AS t, "
        "max(cash) AS top FROM shop.public.wallet\n"
        "import json; print(json.dumps([str(v) for v in list(r)[0]]))"
    )
    total, kind, top = got
    assert kind.startswith("DECIMAL"), got
    assert (Decimal(total), Decimal(top)) == (Decimal("1234.55"), Decimal("1234.56"))


async def test_a_lake_table_written_with_sql_is_in_the_catalog_at_once(
    kernel: KernelSession, workbench: Workbench
) -> None:
    """The README: a ``%sql`` write is "seen at once by other kernels, pipeline steps and
    the catalog". The catalog learnt of it only at the next scan of the lake: an analyst
    who made ``gold.customer_totals`` did not find it in the panel."""
    import asyncio
    import time

    from workbench_server.catalog import CatalogService
    from workbench_server.errors import NotFoundError

    made = await kernel.run(
        "%%sql lake\nCREATE OR REPLACE TABLE gold.customer_totals AS "
        'SELECT "Customer Name" AS customer, sum("Amount") AS total '
        'FROM shop."Sales Data"."Order Lines" GROUP BY 1'
    )
    assert made.status == "ok", made.everything
    catalog = CatalogService(workbench, local_principal())
    deadline = time.monotonic() + 30
    while True:
        try:
            found = catalog.find("lake", "gold", "customer_totals")
            break
        except NotFoundError:
            assert time.monotonic() < deadline, "gold.customer_totals never reached the catalog"
            await asyncio.sleep(0.2)
    assert [c.name for c in found.columns] == ["customer", "total"]
    assert found.row_estimate == 3
    hits = catalog.search("customer_totals").hits
    assert [(h.table.connection, h.table.name) for h in hits][:1] == [("lake", "customer_totals")]
    # Searched as the SQL names it, with its layer (schema): every query word had to be a
    # word of the table's name, labels or columns, so "gold" matched nothing.
    hits = catalog.search("gold.customer_totals").hits
    assert [(h.table.connection, h.table.name) for h in hits][:1] == [("lake", "customer_totals")]


async def test_odoo_amounts_read_with_the_odoo_magic_are_decimal(
    kernel: KernelSession, workbench: Workbench, odoo_db: str, odoo_api: OdooServer
) -> None:
    """Odoo's external API sends amounts as floats; ``%odoo search_read`` gave a float64
    column, whose sum over balanced journal items is not 0 (money is Decimal end to end,
    as ``%sql`` and the lake give it)."""
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="erp_api", settings=odoo_api.settings())
    )
    with psycopg.connect(odoo_db) as conn:
        expected = conn.execute(
            "SELECT sum(balance), sum(debit), count(*) FROM account_move_line "
            "WHERE parent_state = 'posted'"
        ).fetchone()
    got = await kernel.value(
        "r = %odoo search_read account.move.line --domain \"[('parent_state','=','posted')]\" "
        "--fields balance,debit,name\n"
        "import json; print(json.dumps([str(r['balance'].sum()), str(r['debit'].sum()), "
        "len(r), type(r['balance'].iloc[0]).__name__, str(r['name'].dtype)]))"
    )
    assert got[3] == "Decimal", got
    assert (Decimal(got[0]), Decimal(got[1]), got[2]) == tuple(expected), (got, expected)
    assert "float" not in got[4] and "decimal" not in got[4].lower()  # text stays text


async def test_jupysqls_other_magics_fail_in_one_line_not_a_traceback(
    kernel: KernelSession, workbench: Workbench
) -> None:
    """jupysql's ``%sqlcmd profile`` does not quote column names, and ``%sqlplot`` needs
    matplotlib, which the workbench does not ship: both showed the analyst a raw Python
    traceback (DuckDB's ParserException, ModuleNotFoundError) instead of one line."""
    # Written by someone else (another kernel or a pipeline step): this kernel's first
    # magic is %sqlcmd, and the lake's tables must be there for it as for %sql.
    from workbench_server.lake import Lake

    Lake.default(workbench.settings).write(
        "silver.lines", pa.table({"Customer Name": ["Zoë"], "Amount": [Decimal("1.10")]})
    )
    profiled = await kernel.run("%sqlcmd profile --table silver.lines")
    assert profiled.error.get("ename") == "UsageError", profiled.everything
    assert profiled.error.get("traceback") == [], profiled.everything
    assert "Traceback" not in profiled.everything
    assert profiled.stderr.startswith("UsageError: %sqlcmd on connection 'lake': "), (
        profiled.everything
    )
    assert 'syntax error at or near "Name"' in profiled.stderr

    if importlib.util.find_spec("matplotlib") is None:
        plotted = await kernel.run("%sqlplot histogram --table silver.lines --column Amount")
        assert plotted.error.get("ename") == "UsageError", plotted.everything
        assert "Traceback" not in plotted.everything
        assert "matplotlib" in plotted.stderr and "pip install" in plotted.stderr

    # jupysql lists tables and columns of SQLAlchemy connections only: on the lake it said
    # "not with DBAPI connections", which tells an analyst nothing; now what works instead.
    for command in ("tables", "columns --table silver.lines"):
        listed = await kernel.run(f"%sqlcmd {command}")
        assert listed.error.get("ename") == "UsageError", listed.everything
        assert "DBAPI" not in listed.everything, listed.everything
        assert f"%sqlcmd {command.split()[0]} on connection 'lake'" in listed.stderr
        assert "SHOW ALL TABLES" in listed.stderr and "DESCRIBE" in listed.stderr
    # On a PostgreSQL connection jupysql answers them.
    await kernel.run("%sql shop")
    tables = await kernel.run("%sqlcmd tables --schema public")
    assert tables.status == "ok" and "User" in json.dumps(tables.displays), tables.everything
    await kernel.run("%sql lake")

    # jupysql's own one-line errors stay as they were.
    unknown = await kernel.run("%sqlcmd nonsense")
    assert "has no command: 'nonsense'" in unknown.stderr, unknown.everything
    assert "Traceback" not in unknown.everything


async def test_an_interrupted_query_says_so_in_one_line_and_the_next_runs_clean(
    kernel: KernelSession, awkward_db: str
) -> None:
    """Kernel > Interrupt during a long PostgreSQL query showed a 23-frame
    KeyboardInterrupt traceback, and the next query on the connection printed jupysql's
    JupySQLRollbackPerformed warning with a file path: the transaction the cancel left
    aborted was never rolled back."""
    assert kernel.interrupt is not None
    running = asyncio.ensure_future(kernel.run("%sql shop SELECT pg_sleep(60) AS slept"))
    sleeping = (
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
        "AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
    )
    with psycopg.connect(awkward_db, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while not conn.execute(sleeping).fetchone()[0]:
            assert time.monotonic() < deadline, "the query never reached PostgreSQL"
            assert not running.done(), running.result().everything
            await asyncio.sleep(0.1)
        await kernel.interrupt()
        outcome = await asyncio.wait_for(running, 30)
        # Cancelled on the server, not left sleeping for the rest of its minute.
        deadline = time.monotonic() + 10
        while conn.execute(sleeping).fetchone()[0]:
            assert time.monotonic() < deadline, "the query still runs in PostgreSQL"
            await asyncio.sleep(0.1)
    assert outcome.status == "error", outcome.everything
    assert outcome.error["ename"] == "UsageError", outcome.everything
    assert outcome.error["evalue"] == "connection 'shop': query interrupted"
    assert "KeyboardInterrupt" not in outcome.everything
    after = await kernel.run('%sql shop SELECT count(*) AS n FROM public."User"')
    assert after.status == "ok", after.everything
    assert "ROLLBACK" not in after.everything and "Rollback" not in after.everything
    assert "2" in json.dumps(after.displays)


async def test_an_amount_too_wide_for_the_lake_names_its_table_and_column(
    kernel: KernelSession, awkward_db: str
) -> None:
    """A ``numeric(50,4)`` value with more than 28 digits before the point does not fit the
    lake's DECIMAL(38,10): the analyst saw only DuckDB's bare "numeric field overflow",
    naming neither the table nor the column, nor what to do about it."""
    with psycopg.connect(awkward_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.ledger (id int, note text, huge numeric(50,4))")
        conn.execute(
            "INSERT INTO public.ledger VALUES (1, 'ok', 12.5), "
            "(2, 'wide', 123456789012345678901234567890.1234)"
        )
    failed = await kernel.run("%sql lake SELECT sum(huge) FROM shop.public.ledger")
    assert failed.status == "error", failed.everything
    message = failed.error["evalue"]
    assert "Traceback" not in failed.everything
    assert "connection 'shop'" in message, message
    assert "public.ledger" in message and "huge" in message, message
    assert "28" in message and "%sql shop" in message, message
    # Only the columns read: the table's other columns still read through the lake.
    fine = await kernel.value(
        "r = %sql lake SELECT note FROM shop.public.ledger ORDER BY id\n"
        "import json; print(json.dumps([row[0] for row in r]))"
    )
    assert fine == ["ok", "wide"]
    # The advice works: read in PostgreSQL itself, as text, the value is whole.
    read = await kernel.value(
        "r = %sql shop SELECT huge::text AS h FROM public.ledger WHERE id = 2\n"
        "import json; print(json.dumps(list(r)[0][0]))"
    )
    assert read == "123456789012345678901234567890.1234"


async def test_odoo_amounts_show_their_currencys_digits(
    kernel: KernelSession, workbench: Workbench, odoo_db: str, odoo_api: OdooServer
) -> None:
    """``%odoo`` showed a monetary 1250.00 as ``1250.0`` (the float's shortest repr): exact,
    but not how Odoo or the ledger writes it. The field's currency (Odoo's field metadata)
    gives its digits; the currency's column is read for that and not added to the frame."""
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="erp_api", settings=odoo_api.settings())
    )
    with psycopg.connect(odoo_db) as conn:
        line_id, debit = conn.execute(
            "SELECT id, debit FROM account_move_line WHERE debit > 0 AND debit = trunc(debit) "
            "ORDER BY id LIMIT 1"
        ).fetchone()
    got = await kernel.value(
        f"r = %odoo search_read account.move.line --domain \"[('id','=',{line_id})]\" "
        "--fields debit,credit,name\n"
        "import json; print(json.dumps([str(r['debit'].iloc[0]), str(r['credit'].iloc[0]), "
        "list(r.columns)]))"
    )
    assert got == [f"{int(debit)}.00", "0.00", ["debit", "credit", "name"]], got
    # Every field read, the currency among them: the same digits.
    everything = await kernel.value(
        f"r = %odoo search_read account.move.line --domain \"[('id','=',{line_id})]\"\n"
        "import json; print(json.dumps(str(r['debit'].iloc[0])))"
    )
    assert everything == f"{int(debit)}.00"
