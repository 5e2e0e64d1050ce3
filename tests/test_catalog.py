"""The catalog over a real Odoo-shaped PostgreSQL database: discovery, Odoo labels,
search, curation that survives re-scans, schema history, and failed scans."""

from __future__ import annotations

import json
import re
import time

import psycopg
import pytest

from tests.support.postgres import postgres_settings
from workbench_server.catalog import CatalogService, ColumnPatch, TablePatch
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.errors import (
    NotFoundError,
    PermissionDeniedError,
    SourceUnavailableError,
)
from workbench_server.principal import Principal, local_principal


@pytest.fixture(scope="module")
def odoo_copy(pg_cluster, odoo_db: str):
    """A private copy of the Odoo database that tests may change."""
    with pg_cluster.fresh_database() as url:
        from workbench_server.demo import build_dataset, write_postgres

        write_postgres(url, build_dataset())
        yield url


@pytest.fixture
def catalog(workbench, odoo_db: str) -> CatalogService:
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="odoo", settings=postgres_settings(odoo_db))
    )
    return CatalogService(workbench, local_principal())


def test_odoo_database_is_described_with_odoo_labels_and_relations(catalog) -> None:
    scan = catalog.scan("odoo")
    assert scan.status == "succeeded"
    assert scan.stats["odoo"] is True
    assert scan.stats["queries"] <= 8  # a fixed number, however many tables
    line = catalog.find("odoo", "public", "account_move_line")
    assert (line.label, line.odoo_model, line.module) == (
        "Journal Item",
        "account.move.line",
        "account",
    )
    assert line.row_estimate is not None and line.size_bytes > 0
    partner = next(c for c in line.columns if c.name == "partner_id")
    assert partner.label == "Partner"
    assert partner.relation == "res.partner"
    assert partner.references == "public.res_partner.id"
    assert partner.data_type == "integer"
    move_id = next(c for c in line.columns if c.name == "move_id")
    assert move_id.references == "public.account_move.id" and not move_id.nullable
    assert next(c for c in line.columns if c.name == "id").primary_key
    state = next(
        c for c in catalog.find("odoo", "public", "account_move").columns if c.name == "state"
    )
    assert ["posted", "Posted"] in state.selection
    partners = catalog.find("odoo", "public", "res_partner")
    pii = {c.name for c in partners.columns if "pii" in c.auto_tags}
    assert {"email", "phone", "street", "vat"} <= pii
    assert "name" not in pii and "id" not in pii


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("journal items", {"account_move_line"}),
        ("invoice", {"account_move", "account_move_line"}),
        ("acount move", {"account_move"}),
        ("account_move", {"account_move"}),
        ("Journal Entry", {"account_move"}),
        ("res.partner", {"res_partner"}),
    ],
)
def test_search_ranks_the_right_table_first(catalog, query: str, first: set[str]) -> None:
    catalog.scan("odoo")
    page = catalog.search(query)
    assert page.total > 0
    assert page.hits[0].table.name in first, [h.table.name for h in page.hits[:5]]
    assert page.facets["connection"] == {"odoo": page.total}


def test_search_is_permission_filtered(workbench, catalog) -> None:
    catalog.scan("odoo")
    stranger = CatalogService(workbench, Principal(name="stranger"))
    assert stranger.search("journal items").total == 0
    table_id = catalog.find("odoo", "public", "account_move").id
    with pytest.raises(NotFoundError):
        stranger.table(table_id)


def test_rescan_keeps_curation_and_records_history(workbench, pg_cluster, odoo_copy: str) -> None:
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="odoo_copy", settings=postgres_settings(odoo_copy))
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("odoo_copy")
    listed_before, _ = catalog.tables("odoo_copy")
    move = catalog.find("odoo_copy", "public", "account_move")
    assert move.history == []  # the first scan is the baseline
    catalog.edit_table(
        move.id, TablePatch(description="Posted and draft entries", tags=["Finance"])
    )
    catalog.edit_column(move.id, "ref", ColumnPatch(description="Supplier's reference"))
    with psycopg.connect(odoo_copy, autocommit=True) as db:
        db.execute("ALTER TABLE account_move ADD COLUMN close_batch varchar(20)")
        db.execute("ALTER TABLE account_move ALTER COLUMN ref TYPE text")
        db.execute("DROP TABLE hr_expense CASCADE")
    scan = catalog.scan("odoo_copy")
    # Dropping hr_expense also took the key account_move_line.expense_id pointed with.
    assert scan.stats["changes"] == {
        "column_added": 1,
        "type_changed": 1,
        "table_dropped": 1,
        "references_changed": 1,
    }

    move = catalog.find("odoo_copy", "public", "account_move")
    assert move.description == "Posted and draft entries" and move.tags == ["finance"]
    ref = next(c for c in move.columns if c.name == "ref")
    assert ref.description == "Supplier's reference" and ref.data_type == "text"
    assert "close_batch" in [c.name for c in move.columns]
    assert {(h.change, h.column, h.old, h.new) for h in move.history} == {
        ("column_added", "close_batch", None, "character varying(20)"),
        ("type_changed", "ref", "character varying", "text"),
    }
    dropped = catalog.find("odoo_copy", "public", "hr_expense")
    assert dropped.dropped_at is not None
    # Last seen by the first scan; dropped as of the second, which saw account_move.
    assert dropped.last_seen < dropped.dropped_at == move.last_seen
    assert [h.change for h in dropped.history] == ["table_dropped"]
    listed, tables = catalog.tables("odoo_copy")
    assert listed == listed_before - 1
    assert "hr_expense" not in [t.name for t in tables]
    _, with_dropped = catalog.tables("odoo_copy", include_dropped=True)
    assert "hr_expense" in [t.name for t in with_dropped]
    assert "hr_expense" not in [h.table.name for h in catalog.search("hr_expense").hits]

    # Odoo's own description changes in its registry, not in the tables it describes: a
    # relabelled field and a new selection value reach the catalog; the rest stays put.
    def partner() -> dict:
        return catalog.find("odoo_copy", "public", "res_partner").model_dump(exclude={"last_seen"})

    partner_before = partner()
    with psycopg.connect(odoo_copy, autocommit=True) as db:
        db.execute(
            'UPDATE ir_model_fields SET field_description = \'{"en_US": "Customer"}\''
            " WHERE model = 'account.move.line' AND name = 'partner_id'"
        )
        db.execute(
            "INSERT INTO ir_model_fields_selection (id, field_id, value, name, sequence)"
            " SELECT max(s.id) + 1, f.id, 'blocked', '{\"en_US\": \"Blocked\"}', 99"
            " FROM ir_model_fields_selection s, ir_model_fields f"
            " WHERE f.model = 'account.move' AND f.name = 'state' GROUP BY f.id"
        )
    # The relabel is history (the label is what people search and read by).
    assert catalog.scan("odoo_copy").stats["changes"] == {"label_changed": 1}
    line = catalog.find("odoo_copy", "public", "account_move_line")
    assert next(c for c in line.columns if c.name == "partner_id").label == "Customer"
    assert ("label_changed", "partner_id", "Partner", "Customer") in {
        (h.change, h.column, h.old, h.new) for h in line.history
    }
    move = catalog.find("odoo_copy", "public", "account_move")
    state = next(c for c in move.columns if c.name == "state")
    assert state.selection[-1] == ["blocked", "Blocked"]
    assert partner() == partner_before


def test_unreachable_source_fails_clearly_and_leaves_the_catalog(
    workbench, catalog, odoo_db
) -> None:
    catalog.scan("odoo")
    before = catalog.tables("odoo")
    service = ConnectionService(workbench, local_principal())
    from workbench_server.connections import ConnectionUpdate

    service.update("odoo", ConnectionUpdate(settings={"host": "no-such-host.invalid"}))
    with pytest.raises(
        SourceUnavailableError, match=r"cannot scan connection 'odoo': host not found"
    ):
        catalog.scan("odoo")
    assert catalog.tables("odoo") == before
    assert [s.status for s in catalog.scans("odoo")] == ["failed", "succeeded"]


def test_catalog_show_says_what_people_curated_and_what_changed(
    workbench, home, pg_cluster
) -> None:
    """``catalog show`` prints certification and column descriptions, and history that
    says what a column was, with no dangling arrow for a dropped one."""
    from tests.support.processes import base_env, run_workbench
    from workbench_server.demo import build_dataset, write_postgres

    with pg_cluster.fresh_database() as url:
        write_postgres(url, build_dataset())
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="erp", settings=postgres_settings(url))
        )
        catalog = CatalogService(workbench, local_principal())
        catalog.scan("erp")
        move = catalog.find("erp", "public", "account_move")
        catalog.edit_table(move.id, TablePatch(certified=True, steward="ana"))
        catalog.edit_column(move.id, "ref", ColumnPatch(description="The vendor's own number"))
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("ALTER TABLE account_move DROP COLUMN invoice_origin")
            db.execute("COMMENT ON TABLE account_move IS 'Entries of every journal'")
            db.execute(
                'UPDATE ir_model SET name = \'{"en_US": "Accounting Entry"}\''
                " WHERE model = 'account.move'"
            )
        assert catalog.scan("erp").stats["changes"] == {
            "column_dropped": 1,
            "comment_changed": 1,
            "label_changed": 1,
        }
        shown = run_workbench("catalog", "show", "erp", "account_move", env=base_env(home))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "erp:public.account_move (table) — Accounting Entry [account.move]"
    assert "  certified; steward: ana" in lines
    ref = next(i for i, line in enumerate(lines) if line.startswith("  ref "))
    assert lines[ref + 1].strip() == "The vendor's own number"
    assert not any(line.rstrip().endswith("->") for line in lines), shown.stdout
    history = [line.split(" ", 4)[-1] for line in lines if re.match(r"  \d{4}-", line)]
    assert sorted(history) == [
        "column_dropped invoice_origin (was character varying)",
        "comment_changed Journal Entry -> Entries of every journal",
        "label_changed Journal Entry -> Accounting Entry",
    ]


def test_catalog_commands(home, catalog) -> None:
    from tests.support.processes import base_env, run_workbench

    env = base_env(home)
    scanned = run_workbench("catalog", "scan", "odoo", env=env)
    assert scanned.returncode == 0, scanned.stderr
    assert re.match(r"odoo: \d+ tables, \d+ columns \(Odoo\); changes: none", scanned.stdout)
    found = run_workbench("catalog", "search", "acount", "move", env=env)
    assert found.stdout.splitlines()[0].startswith("odoo:public.account_move ")
    assert found.stderr.strip().endswith(" matches")  # several tables match
    # A single hit is counted in the singular (a trial user read "1 matches").
    one = run_workbench("catalog", "search", "phone_code", env=env)
    assert len(one.stdout.splitlines()) == 1, one.stdout
    assert one.stderr.strip() == "1 match"
    described = run_workbench(
        "catalog",
        "describe",
        "odoo",
        "account_move",
        "--description",
        "Entries",
        "--tag",
        "gl",
        env=env,
    )
    assert described.returncode == 0, described.stderr
    shown = run_workbench("catalog", "show", "odoo", "public.account_move", env=env).stdout
    assert (
        shown.splitlines()[0] == "odoo:public.account_move (table) — Journal Entry [account.move]"
    )
    assert "  Entries" in shown and "tags: gl" in shown
    assert re.search(r"^  partner_id +integer +Partner +-> public\.res_partner\.id", shown, re.M)
    missing = run_workbench("catalog", "show", "odoo", "nope", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "workbench: error: no table public.nope in the catalog of 'odoo'"
    )


def test_preview_is_bounded_and_masks_pii_for_those_who_may_not_see_it(
    workbench, catalog, odoo_db: str
) -> None:
    catalog.scan("odoo")
    lines = catalog.preview(catalog.find("odoo", "public", "account_move_line").id, limit=5)
    assert len(lines.rows) == 5 and lines.notes == ["first 5 rows"]
    assert [c.name for c in lines.columns][:2] == ["id", "move_id"]

    from workbench_server.connections import ConnectionUpdate

    ConnectionService(workbench, local_principal()).update(
        "odoo", ConnectionUpdate(shared_groups=["finance"])
    )
    partners = catalog.find("odoo", "public", "res_partner").id
    analyst = CatalogService(workbench, Principal(name="ana", groups=frozenset({"finance"})))
    masked = analyst.preview(partners, limit=50)
    email = [c.name for c in masked.columns].index("email")
    assert masked.columns[email].masked
    assert {row[email] for row in masked.rows} <= {"•••", None}
    assert any(row[email] == "•••" for row in masked.rows)
    assert "are masked" in masked.notes[-1]
    reader = CatalogService(
        workbench, Principal(name="ben", groups=frozenset({"finance", "pii-readers"}))
    )
    shown = reader.preview(partners, limit=50)
    with psycopg.connect(odoo_db) as db:
        emails = {r[0] for r in db.execute("SELECT email FROM res_partner")}
    assert {row[email] for row in shown.rows} <= emails
    assert not shown.columns[email].masked

    small = catalog.preview(partners, limit=1000, max_bytes=2_000)
    assert 0 < len(small.rows) < 50
    assert small.notes == [f"cut at {len(small.rows)} rows: the preview is limited to 2,000 bytes"]


def test_preview_of_a_slow_view_stops_at_its_timeout(workbench, pg_cluster) -> None:
    with pg_cluster.fresh_database() as url:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute('CREATE TABLE "Odd ""Name""" (id int, note text)')
            db.execute('INSERT INTO "Odd ""Name""" VALUES (1, %s)', ("quoted",))
            db.execute("CREATE VIEW slow AS SELECT 1 AS x FROM pg_sleep(30)")
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="scratch", settings=postgres_settings(url))
        )
        catalog = CatalogService(workbench, local_principal())
        catalog.scan("scratch")
        odd = catalog.preview(catalog.find("scratch", "public", 'Odd "Name"').id)
        assert odd.rows == [[1, "quoted"]] and odd.notes == []
        started = time.monotonic()
        slow = catalog.preview(catalog.find("scratch", "public", "slow").id, timeout_s=1)
        assert time.monotonic() - started < 5
        assert slow.rows == []
        assert slow.notes == ["stopped: the table did not answer within 1 s (statement timeout)"]


def test_duckdb_odoo_demo_is_described_like_postgres(workbench, tmp_path) -> None:
    from workbench_server.demo import generate_odoo_demo

    path = tmp_path / "odoo_demo.duckdb"
    generate_odoo_demo(path)
    workbench.settings.data_roots = [str(tmp_path)]  # where the file is (test_data_roots)
    service = ConnectionService(workbench, local_principal())
    service.create(ConnectionCreate(name="demo", settings={"kind": "duckdb", "path": str(path)}))
    catalog = CatalogService(workbench, local_principal())
    scan = catalog.scan("demo")
    assert scan.stats["odoo"] is True and scan.stats["queries"] <= 6
    line = catalog.find("demo", "main", "account_move_line")
    assert (line.label, line.odoo_model) == ("Journal Item", "account.move.line")
    partner = next(c for c in line.columns if c.name == "partner_id")
    assert (partner.label, partner.references) == ("Partner", "main.res_partner.id")
    assert catalog.search("journal items").hits[0].table.name == "account_move_line"
    rows = catalog.preview(line.id, limit=3)
    assert len(rows.rows) == 3 and rows.columns[0].name == "id"

    service.create(
        ConnectionCreate(
            name="gone", settings={"kind": "duckdb", "path": str(tmp_path / "missing.duckdb")}
        )
    )
    with pytest.raises(SourceUnavailableError, match=r"missing\.duckdb does not exist"):
        catalog.scan("gone")


def test_usage_ranks_tables_people_query_higher(catalog, monkeypatch) -> None:
    from workbench_server.catalog import snapshot

    catalog.scan("odoo")
    assert catalog.record_usage("odoo", [(None, "res_country")], 40) == 1
    assert catalog.search("res").hits[0].table.name == "res_country"
    # New usage is taken in without rebuilding the index (every USAGE_REFRESH_S).
    monkeypatch.setattr(snapshot, "USAGE_REFRESH_S", 0.0)
    catalog.record_usage("odoo", [("public", "res_partner")], 400)
    assert catalog.search("res").hits[0].table.name == "res_partner"
    assert catalog.record_usage("odoo", [(None, "no_such_table")]) == 0
    assert catalog.record_usage("nope", [(None, "res_partner")]) == 0


def test_odoo_api_is_described_through_the_external_api(workbench, odoo_api) -> None:
    service = ConnectionService(workbench, local_principal())
    service.create(
        ConnectionCreate(
            name="erp",
            settings=odoo_api.settings(),
        )
    )
    catalog = CatalogService(workbench, local_principal())
    scan = catalog.scan("erp")
    assert scan.stats["odoo"] is True and scan.stats["queries"] == 4
    lines = catalog.find("erp", "odoo", "account.move.line")
    assert (lines.kind, lines.label, lines.module) == ("model", "Journal Item", "account")
    partner = next(c for c in lines.columns if c.name == "partner_id")
    assert (partner.label, partner.relation, partner.references) == (
        "Partner",
        "res.partner",
        "odoo.res.partner.id",
    )
    move = catalog.find("erp", "odoo", "account.move")
    state = next(c for c in move.columns if c.name == "state")
    assert ["posted", "Posted"] in state.selection
    partners = catalog.find("erp", "odoo", "res.partner")
    assert "pii" in next(c for c in partners.columns if c.name == "email").auto_tags
    assert catalog.search("journal items").hits[0].table.name == "account.move.line"
    preview = catalog.preview(partners.id, limit=3)
    assert len(preview.rows) == 3 and "email" in [c.name for c in preview.columns]

    service.create(
        ConnectionCreate(
            name="erp_bad",
            settings=odoo_api.settings(password="wrong"),
        )
    )
    with pytest.raises(SourceUnavailableError, match="cannot scan connection 'erp_bad': auth"):
        catalog.scan("erp_bad")


def test_search_follows_edits_without_a_full_rebuild(catalog, monkeypatch) -> None:
    catalog.scan("odoo")
    assert catalog.search("zanzibar").total == 0
    from workbench_server.catalog import snapshot

    rebuilt = []
    original = snapshot.build
    monkeypatch.setattr(snapshot, "build", lambda *args: rebuilt.append(1) or original(*args))
    move = catalog.find("odoo", "public", "account_move")
    catalog.edit_table(move.id, TablePatch(description="Shipped to Zanzibar"))
    assert [h.table.name for h in catalog.search("zanzibar").hits] == ["account_move"]
    catalog.edit_table(move.id, TablePatch(description="Entries"))
    assert catalog.search("zanzibar").total == 0
    assert catalog.search("journal entry").hits[0].table.name == "account_move"
    assert rebuilt == []  # only the edited table's document was rebuilt


def test_a_scan_left_running_by_a_dead_process_is_marked_interrupted(workbench, catalog) -> None:
    from datetime import UTC, datetime, timedelta

    from workbench_server.db.models import CatalogScan

    with workbench.sessions.begin() as session:
        connection_id = catalog._connection("odoo").id
        session.add(
            CatalogScan(
                connection_id=connection_id,
                status="running",
                requested_by="someone",
                started_at=datetime.now(UTC) - timedelta(hours=2),
                stats={},
            )
        )
    catalog.scan("odoo")
    latest, orphan = catalog.scans("odoo")
    assert latest.status == "succeeded"
    assert orphan.status == "interrupted" and "stopped before it finished" in orphan.error


def test_odoo_user_without_technical_access_gets_a_catalog_through_fields_get(
    workbench, odoo_db: str
) -> None:
    from tests.support.odoo_server import running_odoo

    technical = {"ir.model", "ir.model.fields", "ir.model.fields.selection", "ir.model.data"}
    denied = {"clerk": technical | {"hr.employee", "hr.expense"}}
    with running_odoo(odoo_db, users={"clerk": "pw"}, api_keys={}, denied_models=denied) as odoo:
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(
                name="erp_clerk",
                settings=odoo.settings(
                    login="clerk",
                    password="pw",
                    models=["account.move", "account.move.line", "hr.employee", "no.such"],
                ),
            )
        )
        catalog = CatalogService(workbench, local_principal())
        scan = catalog.scan("erp_clerk")
    assert scan.status == "succeeded" and scan.stats["tables"] == 2
    lines = catalog.find("erp_clerk", "odoo", "account.move.line")
    partner = next(c for c in lines.columns if c.name == "partner_id")
    assert (partner.label, partner.relation, partner.references) == (
        "Partner",
        "res.partner",
        "odoo.res.partner.id",
    )
    state = next(
        c for c in catalog.find("erp_clerk", "odoo", "account.move").columns if c.name == "state"
    )
    assert ["posted", "Posted"] in state.selection
    with pytest.raises(NotFoundError):  # not readable for this login: not in its catalog
        catalog.find("erp_clerk", "odoo", "hr.employee")


def test_rescan_of_a_plain_database_sees_every_kind_of_change(workbench, pg_cluster) -> None:
    """Outside Odoo a re-scan recognises unchanged tables from pg_catalog's rows without
    rebuilding them; whatever changes a table's entry must still reach the catalog,
    including a rename of the column another table's foreign key points to."""
    with pg_cluster.fresh_database() as url:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "CREATE TABLE customer (id serial PRIMARY KEY, email text, region text);"
                "CREATE TABLE invoice (id serial PRIMARY KEY,"
                " customer_id integer REFERENCES customer (id), amount numeric(12,2) DEFAULT 0,"
                " state text, vat numeric GENERATED ALWAYS AS (amount * 0.2) STORED);"
                "CREATE TABLE untouched (id integer PRIMARY KEY, note text);"
                "COMMENT ON COLUMN invoice.state IS 'draft or posted'"
            )
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="plain", settings=postgres_settings(url))
        )
        catalog = CatalogService(workbench, local_principal())
        catalog.scan("plain")

        def detail(table: str) -> dict:
            found = catalog.find("plain", "public", table)
            return {
                "table": (found.kind, found.comment),
                "columns": [c.model_dump(exclude={"dropped_at"}) for c in found.columns],
            }

        before = {t: detail(t) for t in ("customer", "invoice", "untouched")}
        defaults = {c["name"]: c["default"] for c in before["invoice"]["columns"]}
        assert defaults["amount"] == "0"
        assert defaults["vat"] == "(amount * 0.2)"  # a generated column names its table's
        assert catalog.scan("plain").stats["changes"] == {}
        assert {t: detail(t) for t in before} == before  # an unchanged re-scan changes nothing

        with psycopg.connect(url, autocommit=True) as db:
            db.execute("ALTER TABLE customer RENAME COLUMN id TO customer_no")
        scan = catalog.scan("plain")
        # The rename, and the key of invoice that now points to the renamed column.
        assert scan.stats["changes"] == {
            "column_added": 1,
            "column_dropped": 1,
            "references_changed": 1,
        }
        invoice = {c["name"]: c for c in detail("invoice")["columns"]}
        assert invoice["customer_id"]["references"] == "public.customer.customer_no"

        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "ALTER TABLE invoice ALTER COLUMN amount SET DEFAULT 1;"
                "COMMENT ON COLUMN invoice.state IS 'draft, posted or cancelled';"
                "COMMENT ON TABLE invoice IS 'Customer invoices';"
                "ALTER TABLE invoice ALTER COLUMN state SET NOT NULL"
            )
        # Comments and nullability are history (a default is not).
        assert catalog.scan("plain").stats["changes"] == {
            "comment_changed": 2,
            "nullable_changed": 1,
        }
        history = {
            (h.change, h.column, h.old, h.new)
            for h in catalog.find("plain", "public", "invoice").history
        }
        assert {
            ("comment_changed", "state", "draft or posted", "draft, posted or cancelled"),
            ("comment_changed", None, None, "Customer invoices"),
            ("nullable_changed", "state", "yes", "no"),
        } <= history
        invoice = {c["name"]: c for c in detail("invoice")["columns"]}
        assert invoice["amount"]["default"] == "1"
        assert invoice["state"]["comment"] == "draft, posted or cancelled"
        assert invoice["state"]["nullable"] is False
        assert detail("invoice")["table"] == ("table", "Customer invoices")
        assert detail("untouched") == before["untouched"]

        # A login allowed one connection only (a common limit for catalog readers): the
        # columns, read over a second connection when the server allows one, come over
        # the first, and the catalog is the same.
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "CREATE ROLE one_session LOGIN PASSWORD 'pw' CONNECTION LIMIT 1;"
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO one_session"
            )
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(
                name="limited", settings=postgres_settings(url, user="one_session", password="pw")
            )
        )
        limited = catalog.scan("limited")
        assert limited.status == "succeeded" and limited.stats["tables"] == 3
        found = catalog.find("limited", "public", "invoice")
        assert [c.model_dump(exclude={"dropped_at"}) for c in found.columns] == [
            c.model_dump(exclude={"dropped_at"})
            for c in catalog.find("plain", "public", "invoice").columns
        ]


@pytest.fixture(scope="module")
def odoo18_copy(pg_cluster):
    """The demo database as Odoo 18 keeps company-dependent fields: ``ir_model_fields``
    has ``company_dependent``, and the field is a jsonb column of the model's table with
    the value for each company (``{"1": 17}``); Odoo 17 and older kept them in
    ``ir_property`` instead, so they were no column at all."""
    from workbench_server.demo import build_dataset, write_postgres

    with pg_cluster.fresh_database() as url:
        write_postgres(url, build_dataset())
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("ALTER TABLE ir_model_fields ADD COLUMN company_dependent boolean")
            receivable, payable = (
                db.execute(
                    "SELECT min(id) FROM account_account WHERE account_type = %s", (kind,)
                ).fetchone()[0]
                for kind in ("asset_receivable", "liability_payable")
            )
            for name, label, relation, value in (
                (
                    "property_account_receivable_id",
                    "Account Receivable",
                    "account.account",
                    receivable,
                ),
                ("property_account_payable_id", "Account Payable", "account.account", payable),
                ("barcode", "Barcode", None, "0421"),
            ):
                db.execute(f"ALTER TABLE res_partner ADD COLUMN {name} jsonb")
                db.execute(
                    f"UPDATE res_partner SET {name} = jsonb_build_object('1', %s::jsonb)",
                    (json.dumps(value),),
                )
                db.execute(
                    "INSERT INTO ir_model_fields (id, name, complete_name, model, model_id,"
                    " relation, field_description, ttype, store, state, company_dependent)"
                    " SELECT (SELECT max(id) + 1 FROM ir_model_fields), %s::text, %s::text,"
                    " 'res.partner', m.id, %s::text, jsonb_build_object('en_US', %s::text),"
                    " %s::text, true, 'base', true"
                    " FROM ir_model m WHERE m.model = 'res.partner'",
                    (
                        name,
                        f"res.partner.{name}",
                        relation,
                        label,
                        "many2one" if relation else "char",
                    ),
                )
        yield url


def test_company_dependent_fields_are_values_by_company_not_foreign_keys(
    workbench, odoo18_copy: str
) -> None:
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="odoo18", settings=postgres_settings(odoo18_copy))
    )
    catalog = CatalogService(workbench, local_principal())
    assert catalog.scan("odoo18").status == "succeeded"
    columns = {c.name: c for c in catalog.find("odoo18", "public", "res_partner").columns}
    receivable = columns["property_account_receivable_id"]
    assert receivable.company_dependent and receivable.references is None
    assert (receivable.data_type, receivable.odoo_type, receivable.relation) == (
        "jsonb",
        "many2one",
        "account.account",
    )
    assert receivable.label == "Account Receivable"
    assert columns["barcode"].company_dependent and columns["barcode"].references is None
    country = columns["country_id"]  # an ordinary many2one is still a key
    assert not country.company_dependent and country.references == "public.res_country.id"
    # What the catalog says is how to read it: the value for company 1 joins accounts.
    with psycopg.connect(odoo18_copy) as db:
        joined = db.execute(
            "SELECT count(*) FROM res_partner p JOIN account_account a"
            " ON a.id = (p.property_account_receivable_id ->> '1')::int"
        ).fetchone()[0]
        assert joined == db.execute("SELECT count(*) FROM res_partner").fetchone()[0]


@pytest.fixture(scope="module")
def odoo_people_copy(pg_cluster):
    """The demo database with the personal fields Odoo 17/18 keeps on users, partners,
    bank accounts and employees (the demo leaves most of them out), and one user."""
    from workbench_server.demo import build_dataset, write_postgres

    with pg_cluster.fresh_database() as url:
        write_postgres(url, build_dataset())
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "CREATE TABLE res_users (id serial PRIMARY KEY, login varchar NOT NULL,"
                " password varchar, partner_id int REFERENCES res_partner (id),"
                " company_id int REFERENCES res_company (id), active boolean, share boolean,"
                " signature jsonb, totp_secret varchar, notification_type varchar)"
            )
            db.execute(
                "INSERT INTO res_users (login, password, partner_id, company_id, active, share)"
                " SELECT 'admin', %s, min(p.id), min(c.id), true, false"
                " FROM res_partner p, res_company c",
                (HASH,),
            )
            db.execute(
                "CREATE TABLE res_partner_bank (id serial PRIMARY KEY,"
                " acc_number varchar NOT NULL, sanitized_acc_number varchar,"
                " acc_holder_name varchar, partner_id int, bank_id int, active boolean)"
            )
            db.execute(
                "ALTER TABLE res_partner ADD COLUMN partner_latitude numeric,"
                " ADD COLUMN partner_longitude numeric, ADD COLUMN signup_token varchar,"
                " ADD COLUMN email_normalized varchar, ADD COLUMN phone_sanitized varchar"
            )
            db.execute(
                "ALTER TABLE hr_employee ADD COLUMN pin varchar, ADD COLUMN barcode varchar,"
                " ADD COLUMN distance_home_work int, ADD COLUMN distance_home_work_unit varchar,"
                " ADD COLUMN km_home_work int, ADD COLUMN country_of_birth int,"
                " ADD COLUMN place_of_birth varchar, ADD COLUMN country_id int,"
                " ADD COLUMN visa_no varchar, ADD COLUMN visa_expire date,"
                " ADD COLUMN permit_no varchar, ADD COLUMN work_permit_expiration_date date,"
                " ADD COLUMN ssnid varchar, ADD COLUMN sinid varchar,"
                " ADD COLUMN identification_id varchar, ADD COLUMN passport_id varchar,"
                " ADD COLUMN gender varchar, ADD COLUMN marital varchar,"
                " ADD COLUMN spouse_complete_name varchar, ADD COLUMN spouse_birthdate date,"
                " ADD COLUMN children int, ADD COLUMN emergency_contact varchar,"
                " ADD COLUMN emergency_phone varchar, ADD COLUMN private_car_plate varchar,"
                " ADD COLUMN study_field varchar, ADD COLUMN study_school varchar,"
                " ADD COLUMN certificate varchar, ADD COLUMN bank_account_id int,"
                " ADD COLUMN legal_name varchar, ADD COLUMN x_studio_base_salary numeric"
            )
        yield url


HASH = "$pbkdf2-sha512$600000$c2FsdHNhbHQ$" + "a" * 86

PERSONAL = {
    "res_users": {"login", "password", "signature", "totp_secret"},
    "res_partner": {
        "email",
        "phone",
        "mobile",
        "street",
        "street2",
        "zip",
        "city",
        "vat",
        "partner_latitude",
        "partner_longitude",
        "signup_token",
        "email_normalized",
        "phone_sanitized",
    },
    "res_partner_bank": {"acc_number", "sanitized_acc_number", "acc_holder_name"},
    "hr_employee": {
        "work_email",
        "work_phone",
        "mobile_phone",
        "private_email",
        "private_phone",
        "private_street",
        "private_city",
        "private_zip",
        "private_country_id",
        "birthday",
        "pin",
        "barcode",
        "distance_home_work",
        "km_home_work",
        "country_of_birth",
        "place_of_birth",
        "country_id",
        "visa_no",
        "visa_expire",
        "permit_no",
        "work_permit_expiration_date",
        "ssnid",
        "sinid",
        "identification_id",
        "passport_id",
        "gender",
        "marital",
        "spouse_complete_name",
        "spouse_birthdate",
        "children",
        "emergency_contact",
        "emergency_phone",
        "private_car_plate",
        "study_field",
        "study_school",
        "certificate",
        "bank_account_id",
        "legal_name",
    },
}
NOT_PERSONAL = {
    "res_users": {"id", "partner_id", "company_id", "active", "share", "notification_type"},
    "res_partner": {"id", "name", "is_company", "customer_rank", "country_id", "company_id"},
    "res_partner_bank": {"id", "partner_id", "bank_id", "active"},
    "hr_employee": {
        "id",
        "name",
        "job_title",
        "department_id",
        "company_id",
        "employee_type",
        "distance_home_work_unit",
        "x_studio_base_salary",
    },
    "res_company": {"street", "city", "zip", "vat", "name"},
    "product_template": {"name", "list_price"},
}


def test_personal_fields_of_odoo_models_are_tagged_and_masked(
    workbench, odoo_people_copy: str
) -> None:
    from workbench_server.connections import ConnectionUpdate

    connections = ConnectionService(workbench, local_principal())
    connections.create(
        ConnectionCreate(name="people", settings=postgres_settings(odoo_people_copy))
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("people")
    for table in PERSONAL.keys() | NOT_PERSONAL.keys():
        columns = {c.name: c for c in catalog.find("people", "public", table).columns}
        tagged = {name for name, c in columns.items() if "pii" in c.auto_tags}
        assert PERSONAL.get(table, set()) - tagged == set(), table
        assert NOT_PERSONAL.get(table, set()) & tagged == set(), table

    # The password hash is masked for anyone the connection is shared with.
    connections.update("people", ConnectionUpdate(shared_groups=["finance"]))
    users = catalog.find("people", "public", "res_users").id
    analyst = CatalogService(workbench, Principal(name="ana", groups=frozenset({"finance"})))
    preview = analyst.preview(users)
    password = [c.name for c in preview.columns].index("password")
    assert preview.columns[password].masked and preview.rows[0][password] == "•••"
    assert HASH not in json.dumps(preview.rows)
    assert catalog.preview(users).rows[0][password] == HASH  # the owner sees it
    # A personal column added since the scan (auth_oauth installed) is masked too.
    with psycopg.connect(odoo_people_copy, autocommit=True) as db:
        db.execute("ALTER TABLE res_users ADD COLUMN oauth_access_token varchar")
        db.execute("UPDATE res_users SET oauth_access_token = 'ya29.token'")
    preview = analyst.preview(users)
    token = [c.name for c in preview.columns].index("oauth_access_token")
    assert preview.columns[token].masked and preview.rows[0][token] == "•••"


def test_admins_add_pii_patterns_and_the_next_scan_applies_them(
    workbench, odoo_people_copy: str
) -> None:
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="people", settings=postgres_settings(odoo_people_copy))
    )
    catalog = CatalogService(workbench, local_principal())

    def tagged(table: str) -> set[str]:
        columns = catalog.find("people", "public", table).columns
        return {c.name for c in columns if "pii" in c.auto_tags}

    catalog.scan("people")
    assert "x_studio_base_salary" not in tagged("hr_employee")
    assert "ref" not in tagged("res_partner")
    workbench.settings = workbench.settings.model_copy(
        update={"pii_columns": ["X_STUDIO_.*salary.*", r"res_partner\.ref"]}
    )
    catalog.scan("people")  # nothing changed in the database: the rules did
    assert "x_studio_base_salary" in tagged("hr_employee")
    assert "ref" in tagged("res_partner")
    assert "ref" not in tagged("account_move")  # the pattern named one table


def test_pii_patterns_setting_is_checked(home, monkeypatch) -> None:
    from workbench_server.settings import WorkbenchSettings

    monkeypatch.setenv("WORKBENCH_PII_COLUMNS", r"x_.*salary, hr_employee\.x_nick")
    settings = WorkbenchSettings.from_env(home)
    assert settings.pii_columns == ["x_.*salary", r"hr_employee\.x_nick"]
    monkeypatch.setenv("WORKBENCH_PII_COLUMNS", "x_((")
    with pytest.raises(ValueError, match=r"PII column pattern 'x_\(\(' is not a regular"):
        WorkbenchSettings.from_env(home)


def test_a_pii_tag_is_removed_only_by_the_connections_owner_or_an_admin(workbench, home) -> None:
    """bob uses alice's connection through a group and is no pii reader: the column
    alice tagged pii by hand is masked in his previews. Untagging it himself unmasked it
    for him and everyone (his PATCH was accepted); now it is refused and stays masked.
    Describing the column, and tagging another one pii, he still may."""
    import duckdb

    path = home / "demo" / "staff.duckdb"  # a folder connections may use
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE TABLE staff AS SELECT 'Ana' AS name, 5400.00 AS salary")
    alice = Principal(name="alice")
    bob = Principal(name="bob", groups=frozenset({"finance"}))
    ConnectionService(workbench, alice).create(
        ConnectionCreate(
            name="alice_staff",
            shared_groups=["finance"],
            settings={"kind": "duckdb", "path": str(path)},
        )
    )
    owner, member = CatalogService(workbench, alice), CatalogService(workbench, bob)
    owner.scan("alice_staff")
    table = owner.find("alice_staff", "main", "staff")
    owner.edit_column(table.id, "salary", ColumnPatch(tags=["pii", "money"]))

    def salary_seen_by_bob() -> object:
        preview = member.preview(table.id, limit=5)
        return preview.rows[0][[c.name for c in preview.columns].index("salary")]

    assert salary_seen_by_bob() == "•••"
    for patch in (ColumnPatch(tags=["money"]), ColumnPatch(tags=[])):
        with pytest.raises(PermissionDeniedError, match="pii"):
            member.edit_column(table.id, "salary", patch)
    owner.edit_table(table.id, TablePatch(tags=["pii"]))
    with pytest.raises(PermissionDeniedError, match="pii"):
        member.edit_table(table.id, TablePatch(tags=[]))
    assert salary_seen_by_bob() == "•••"
    # What bob may do: describe it, keep its tags as they are, tag another column pii.
    member.edit_column(table.id, "salary", ColumnPatch(description="gross", tags=["pii", "money"]))
    member.edit_column(table.id, "name", ColumnPatch(tags=["pii"]))
    preview = member.preview(table.id, limit=5)
    assert preview.rows[0] == ["•••", "•••"]
    # The owner (and an admin) may untag.
    owner.edit_column(table.id, "salary", ColumnPatch(tags=["money"]))
    assert salary_seen_by_bob() != "•••"
