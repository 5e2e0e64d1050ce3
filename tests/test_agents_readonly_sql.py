"""query_sql on a real PostgreSQL as an agent would try it: what a read-only transaction
still lets through (functions that act outside the query, SQL given as text, statistics
that hold column values) is refused before it reaches the database."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from tests.support.postgres import postgres_settings


@pytest.fixture
def books(workbench: Any, odoo_db: str) -> Any:
    """Olga's Odoo database, scanned, shared with her group ``sales``."""
    from workbench_server.catalog import CatalogService
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.principal import Principal

    owner = Principal(name="olga", groups=frozenset({"sales"}))
    ConnectionService(workbench, owner).create(
        ConnectionCreate(name="books", shared_groups=["sales"], settings=postgres_settings(odoo_db))
    )
    CatalogService(workbench, owner).scan("books")
    return owner


def test_pii_stays_masked_through_sql_in_text_and_statistics(
    workbench: Any, odoo_db: str, books: Any
) -> None:
    from workbench_server.agents.tools import AgentTools
    from workbench_server.errors import PermissionDeniedError
    from workbench_server.principal import Principal

    with psycopg.connect(odoo_db, autocommit=True) as con:  # as any live Odoo database is
        con.execute("ANALYZE res_partner")
        emails = {r[0] for r in con.execute("SELECT email FROM res_partner WHERE email > ''")}
    # The statistics hold the column's values: its owner reads them there.
    stats = (
        "SELECT histogram_bounds::text, most_common_vals::text FROM pg_catalog.pg_stats "
        "WHERE tablename = 'res_partner' AND attname = 'email'"
    )
    assert any(e in str(AgentTools(workbench, books).query(stats, "books")) for e in emails)
    member = AgentTools(workbench, Principal(name="sam", groups=frozenset({"sales"})))
    plain = member.query("SELECT email FROM res_partner WHERE email > '' LIMIT 3", "books")
    assert {r[0] for r in plain["rows"]} == {"•••"}
    # Odoo's own session, idle after a lookup by e-mail: its last query text is shown
    # in pg_stat_activity to any session of the same role.
    odoo = psycopg.connect(odoo_db, application_name="odoo-worker", autocommit=True)
    probe = sorted(emails)[0]
    odoo.execute(f"SELECT id FROM res_partner WHERE email = '{probe}'").fetchall()
    for sql in (
        "SELECT query FROM pg_catalog.pg_stat_activity WHERE application_name = 'odoo-worker'",
        "SELECT s.query FROM pg_catalog.pg_stat_get_activity(NULL) AS s",
        "SELECT query_to_xml('select email from res_partner', true, false, '')",
        "SELECT pg_catalog.table_to_xml('res_partner', true, false, '')",
        "SELECT cursor_to_xml('c', 10, true, false, '')",
        stats,
    ):
        try:
            answer = str(member.query(sql, "books")["rows"])
        except PermissionDeniedError as refused:
            answer = str(refused)
        leaked = sorted(e for e in emails if e in answer)
        assert not leaked, (sql, leaked[:3])
    odoo.close()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT pg_advisory_lock(42)",
        "SELECT set_config('statement_timeout', '0', false)",
        "SELECT pg_notify('odoo_bus', 'hello')",
        "SELECT pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
        "WHERE application_name = 'odoo-worker'",
        "SELECT pg_read_file('/etc/hostname')",
        "WITH t AS (SELECT pg_catalog.pg_cancel_backend(1)) SELECT * FROM t",
    ],
)
def test_functions_that_act_outside_the_query_are_refused(
    workbench: Any, odoo_db: str, books: Any, sql: str
) -> None:
    """A read-only transaction still signals other sessions, takes locks, notifies, sets
    the session and reads the server's files: as the connection's owner too, refused,
    with a message that says what to do instead."""
    from workbench_server.agents.tools import AgentTools
    from workbench_server.errors import PermissionDeniedError

    with psycopg.connect(odoo_db, application_name="odoo-worker") as odoo:
        with pytest.raises(PermissionDeniedError, match="read-only") as refused:
            AgentTools(workbench, books).query(sql, "books")
        assert "(" in str(refused.value) and "not run" in str(refused.value)
        # Odoo's own session is still there.
        assert odoo.execute("SELECT 1").fetchone() == (1,)


def test_rows_past_the_limit_are_never_fetched_into_the_server(
    workbench: Any, odoo_db: str, books: Any
) -> None:
    """A query whose result is 300 MB answers its first 5 rows without the server ever
    holding the rest (the bounds are on what is read, not only on what is shown)."""
    import resource

    from workbench_server.agents.tools import AgentTools

    tools = AgentTools(workbench, books)
    tools.query("SELECT 1", "books")  # the driver and the catalog loaded
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    answer = tools.query(
        "SELECT g, repeat('x', 1000) AS filler FROM generate_series(1, 300000) g ORDER BY g",
        "books",
        limit=5,
    )
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 - peak
    assert [row[0] for row in answer["rows"]] == [1, 2, 3, 4, 5]
    assert answer["notes"] == ["first 5 rows"]
    assert grown < 100, f"the server's peak memory grew by {grown} MB for 5 rows"
    # An error past the first rows (here a division by zero at row 250) is still the
    # query's error, not the server's.
    from workbench_server.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="division by zero"):
        tools.query("SELECT 1 / (250 - g) FROM generate_series(1, 400) g", "books", limit=1000)
    # Past the time bound the answer says so, rows or none: the bound is the whole
    # answer's, not each fetch's (here every batch of rows alone is within it).
    started = time.perf_counter()
    slow = tools.query(
        "SELECT g, pg_sleep(0.01) FROM generate_series(1, 1000) g", "books", 1000, 2.0
    )
    assert "did not finish within 2 s" in slow["notes"][-1], slow
    assert time.perf_counter() - started < 6


MEMORY_HOG = "SELECT length(string_agg(repeat('x', 1000), '')) FROM range(1500000)"


def test_a_duckdb_query_is_bounded_in_memory(workbench: Any, tmp_path: Any) -> None:
    """The lake's sandbox and a DuckDB file run in the server's process: a query that
    would hold gigabytes (DuckDB allows 80 % of the machine) fails at 1 GB, saying so."""
    import resource

    import duckdb

    from workbench_server.agents.tools import AgentTools
    from workbench_server.catalog import CatalogService
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.errors import InvalidInputError
    from workbench_server.principal import local_principal

    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    workbench.settings.data_roots = [str(tmp_path)]
    me = local_principal()
    ConnectionService(workbench, me).create(
        ConnectionCreate(name="crm", settings={"kind": "duckdb", "path": str(path)})
    )
    CatalogService(workbench, me).scan("crm")
    tools = AgentTools(workbench, me)
    assert tools.query("SELECT count(*) FROM range(10)")["rows"] == [[10]]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    for connection in ("lake", "crm"):
        with pytest.raises(InvalidInputError, match="more than the 1GB of memory"):
            tools.query(MEMORY_HOG, connection)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 - peak
    assert grown < 1200, f"the server's peak memory grew by {grown} MB"
    # An ordinary query still runs after it, on the same bounds.
    assert tools.query("SELECT sum(range) FROM range(1000000)", "crm")["rows"] == [[499999500000]]


def test_functions_of_the_source_cannot_read_around_the_masks(
    workbench: Any, odoo_db: str, books: Any, tmp_path: Any
) -> None:
    """A function defined in the database (a DuckDB macro, a PostgreSQL SQL function)
    reads its tables inside itself, where the masks put on the query's tables do not
    reach: for a caller who may not see pii, only the engine's own functions run."""
    import duckdb

    from workbench_server.agents.tools import AgentTools
    from workbench_server.catalog import CatalogService
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.errors import PermissionDeniedError
    from workbench_server.principal import Principal

    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE res_partner (id INT, name TEXT, email TEXT)")
        con.execute("INSERT INTO res_partner VALUES (1, 'Azure', 'a@x.io')")
        con.execute("CREATE MACRO contact_of(i) AS (SELECT max(email) FROM res_partner)")
    workbench.settings.data_roots = [str(tmp_path)]
    ConnectionService(workbench, books).create(
        ConnectionCreate(
            name="crm", shared_groups=["sales"], settings={"kind": "duckdb", "path": str(path)}
        )
    )
    CatalogService(workbench, books).scan("crm")
    with psycopg.connect(odoo_db, autocommit=True) as con:  # an Odoo module's helper
        con.execute(
            "CREATE OR REPLACE FUNCTION partner_contact(pid int) RETURNS text LANGUAGE sql "
            "STABLE AS $$ SELECT email FROM res_partner WHERE id = pid $$"
        )
        (email,) = con.execute("SELECT partner_contact(1)").fetchone()
    try:
        member = AgentTools(workbench, Principal(name="sam", groups=frozenset({"sales"})))
        owner = AgentTools(workbench, books)
        for sql, connection, value in (
            ("SELECT contact_of(1) AS c", "crm", "a@x.io"),
            ("SELECT public.partner_contact(1) AS c", "books", email),
            ("SELECT partner_contact(id) AS c FROM res_partner WHERE id = 1", "books", email),
        ):
            assert owner.query(sql, connection)["rows"] == [[value]]
            with pytest.raises(PermissionDeniedError, match="contact") as refused:
                member.query(sql, connection)
            assert value not in str(refused.value)
            assert "built-in" in str(refused.value)
        # The engines' own functions still run for the member.
        plain = member.query("SELECT lower(name), length(email) FROM res_partner", "crm")
        assert plain["rows"] == [["azure", 3]]
    finally:
        with psycopg.connect(odoo_db, autocommit=True) as con:
            con.execute("DROP FUNCTION partner_contact(int)")
