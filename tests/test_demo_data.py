"""The Odoo demo dataset looks and adds up like a real Odoo 17 database, in DuckDB and in
a real PostgreSQL, and is the same every time it is generated."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest

import workbench_server
from workbench_server.demo import (
    TABLES,
    DemoTargetExistsError,
    OdooDemoDataset,
    build_dataset,
    generate_odoo_demo,
    write_duckdb,
    write_postgres,
)

# Statements a finance user would run; they must work unchanged on DuckDB and PostgreSQL.
UNBALANCED_MOVES = """
    SELECT move_id FROM account_move_line
    GROUP BY move_id HAVING sum(debit) <> sum(credit) OR sum(balance) <> 0
"""
USER_COLUMNS = "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal"
TRIAL_BALANCE = """
    SELECT sum(l.balance), sum(l.debit), (SELECT count(*) FROM account_account)
    FROM account_move_line l JOIN account_account a ON a.id = l.account_id
    WHERE l.parent_state = 'posted'
"""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("demo") / "odoo.duckdb"
    generate_odoo_demo(path)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[object, ...]]:
    return con.execute(query).fetchall()


def file_digest(path: Path) -> str:
    """Hash of every row of every table, read back through DuckDB."""
    digest = hashlib.sha256()
    with duckdb.connect(str(path), read_only=True) as con:
        for table in TABLES:
            digest.update(repr(rows(con, f'SELECT * FROM "{table.name}" ORDER BY id')).encode())
    return digest.hexdigest()


def test_tables_carry_odoo_names_and_columns(demo_db: duckdb.DuckDBPyConnection) -> None:
    columns: dict[str, set[str]] = {}
    for table, column in rows(demo_db, USER_COLUMNS):
        columns.setdefault(str(table), set()).add(str(column))
    assert set(columns) == {t.name for t in TABLES}
    assert {"move_id", "move_name", "account_id", "partner_id", "debit", "credit", "balance",
            "amount_currency", "display_type", "parent_state", "tax_line_id", "product_id",
            "matching_number"} <= columns["account_move_line"]  # fmt: skip
    assert {"name", "move_type", "state", "invoice_date", "invoice_date_due", "amount_total",
            "amount_residual", "payment_state"} <= columns["account_move"]  # fmt: skip
    assert {"vat", "is_company", "customer_rank", "supplier_rank", "country_id"} <= columns[
        "res_partner"
    ]
    assert {"work_email", "private_email", "private_phone"} <= columns["hr_employee"]
    label = rows(demo_db, "SELECT comment FROM duckdb_tables() WHERE table_name = 'account_move'")
    assert label == [("Journal Entry",)]


def test_every_entry_balances_and_trial_balance_is_zero(
    demo_db: duckdb.DuckDBPyConnection,
) -> None:
    assert rows(demo_db, UNBALANCED_MOVES) == []
    total, debits, accounts = rows(demo_db, TRIAL_BALANCE)[0]
    assert total == 0
    assert debits > 1_000_000  # type: ignore[operator]
    assert 50 <= accounts <= 80  # type: ignore[operator]


def test_twelve_months_of_posted_entries_ending_october_2026(
    demo_db: duckdb.DuckDBPyConnection,
) -> None:
    months = rows(
        demo_db,
        "SELECT DISTINCT strftime(date, '%Y-%m') FROM account_move WHERE state = 'posted'"
        " ORDER BY 1",
    )
    assert [m for (m,) in months] == [f"2025-{m}" for m in (11, 12)] + [
        f"2026-{m:02d}" for m in range(1, 11)
    ]
    # The period ends on Saturday 2026-10-31: the last entries are dated on Friday.
    last = rows(demo_db, "SELECT max(date) FROM account_move")[0][0]
    assert date(2026, 10, 30) <= last <= date(2026, 10, 31)  # type: ignore[operator]
    moves, lines = rows(
        demo_db, "SELECT (SELECT count(*) FROM account_move), count(*) FROM account_move_line"
    )[0]
    assert 1_500 <= moves <= 2_500  # type: ignore[operator]
    assert 6_000 <= lines <= 10_000  # type: ignore[operator]


def test_documents_of_every_kind_with_a_minority_of_drafts_and_cancellations(
    demo_db: duckdb.DuckDBPyConnection,
) -> None:
    kinds = dict(rows(demo_db, "SELECT move_type, count(*) FROM account_move GROUP BY 1"))
    assert kinds["out_invoice"] > 400
    assert kinds["in_invoice"] > 200
    assert kinds["out_refund"] > 5
    assert kinds["in_receipt"] > 10  # posted expense reports
    assert kinds["entry"] > 500  # bank transactions and month-end entries
    states = dict(rows(demo_db, "SELECT state, count(*) FROM account_move GROUP BY 1"))
    assert 0 < states["draft"] + states["cancel"] < 0.05 * states["posted"]
    names = rows(
        demo_db,
        "SELECT name FROM account_move WHERE state = 'posted' AND move_type = 'out_invoice'"
        " ORDER BY id LIMIT 1",
    )
    assert names == [("INV/2025/00001",)]
    assert rows(demo_db, "SELECT DISTINCT name FROM account_move WHERE state = 'draft'") == [("/",)]


def test_expenses_are_reported_posted_and_reimbursed(demo_db: duckdb.DuckDBPyConnection) -> None:
    done = rows(
        demo_db,
        """SELECT count(*) FROM hr_expense e
           JOIN hr_expense_sheet s ON s.id = e.sheet_id
           JOIN account_move m ON m.expense_sheet_id = s.id
           JOIN account_move_line l ON l.move_id = m.id AND l.expense_id = e.id
           WHERE s.state = 'done' AND m.payment_state = 'paid' AND l.debit = e.total_amount""",
    )[0][0]
    assert done > 30  # type: ignore[operator]
    unreported = rows(demo_db, "SELECT count(*) FROM hr_expense WHERE sheet_id IS NULL")[0][0]
    assert unreported > 0  # type: ignore[operator]


def test_receivables_and_payables_follow_payments(demo_db: duckdb.DuckDBPyConnection) -> None:
    without_partner = rows(
        demo_db,
        """SELECT count(*) FROM account_move_line l JOIN account_account a ON a.id = l.account_id
           WHERE a.account_type IN ('asset_receivable', 'liability_payable')
             AND l.partner_id IS NULL""",
    )
    assert without_partner == [(0,)]
    by_state = rows(
        demo_db,
        """SELECT m.payment_state, count(*),
                  count(*) FILTER (WHERE m.amount_residual = abs(t.open)) AS consistent,
                  count(*) FILTER (WHERE m.payment_state = 'paid' AND m.amount_residual <> 0
                                      OR m.payment_state = 'not_paid'
                                         AND m.amount_residual <> m.amount_total
                                      OR m.payment_state = 'partial'
                                         AND NOT m.amount_residual
                                             BETWEEN 0.01 AND m.amount_total - 0.01) AS wrong
           FROM account_move m
           JOIN (SELECT l.move_id, sum(l.amount_residual) AS open FROM account_move_line l
                 WHERE l.display_type = 'payment_term' GROUP BY 1) t ON t.move_id = m.id
           WHERE m.state = 'posted' AND m.move_type IN ('out_invoice', 'in_invoice')
           GROUP BY 1""",
    )
    states = {state: (count, consistent, wrong) for state, count, consistent, wrong in by_state}
    assert {"paid", "partial", "not_paid", "reversed"} <= set(states)
    for count, consistent, wrong in states.values():
        assert consistent == count
        assert wrong == 0


def test_odoo_metadata_describes_every_column(demo_db: duckdb.DuckDBPyConnection) -> None:
    labels = dict(rows(demo_db, "SELECT model, name->>'en_US' FROM ir_model"))
    assert labels["account.move.line"] == "Journal Item"
    assert labels["account.move"] == "Journal Entry"
    assert labels["res.partner"] == "Contact"
    partner_field = rows(
        demo_db,
        """SELECT f.field_description->>'en_US', f.relation, f.ttype FROM ir_model_fields f
           JOIN ir_model m ON m.id = f.model_id
           WHERE m.model = 'account.move.line' AND f.name = 'partner_id'""",
    )
    assert partner_field == [("Partner", "res.partner", "many2one")]
    undocumented = rows(
        demo_db,
        f"""SELECT c.table_name, c.column_name FROM ({USER_COLUMNS}) c
           LEFT JOIN ir_model_fields f
             ON replace(f.model, '.', '_') = c.table_name AND f.name = c.column_name
           WHERE f.id IS NULL""",
    )
    assert undocumented == []
    modules = dict(
        rows(
            demo_db,
            "SELECT name, module FROM ir_model_data WHERE model = 'ir.model'"
            " AND name IN ('model_res_partner', 'model_account_move', 'model_hr_employee',"
            " 'model_hr_expense', 'model_product_template')",
        )
    )
    assert modules == {
        "model_res_partner": "base",
        "model_account_move": "account",
        "model_hr_employee": "hr",
        "model_hr_expense": "hr_expense",
        "model_product_template": "product",
    }
    move_types = rows(
        demo_db,
        """SELECT s.name->>'en_US' FROM ir_model_fields_selection s
           JOIN ir_model_fields f ON f.id = s.field_id
           WHERE f.model = 'account.move' AND f.name = 'move_type' AND s.value = 'out_invoice'""",
    )
    assert move_types == [("Customer Invoice",)]


def test_same_seed_gives_identical_data(tmp_path: Path) -> None:
    generate_odoo_demo(tmp_path / "a.duckdb", seed=5)
    generate_odoo_demo(tmp_path / "b.duckdb", seed=5)
    generate_odoo_demo(tmp_path / "c.duckdb", seed=6)
    assert file_digest(tmp_path / "a.duckdb") == file_digest(tmp_path / "b.duckdb")
    assert file_digest(tmp_path / "a.duckdb") != file_digest(tmp_path / "c.duckdb")
    # Another interpreter with other string hashing must produce the same rows too.
    script = (
        "from workbench_server.demo import build_dataset; print(build_dataset(5).fingerprint())"
    )
    package_root = str(Path(workbench_server.__path__[0]).parent)
    env = {**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": package_root}
    other = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == build_dataset(5).fingerprint()


def test_period_follows_months_and_end_date(tmp_path: Path) -> None:
    summary = generate_odoo_demo(tmp_path / "q1.duckdb", months=3, end_date=date(2026, 3, 15))
    assert (summary.start_date, summary.end_date, summary.months) == (
        date(2026, 1, 1),
        date(2026, 3, 15),
        3,
    )
    with duckdb.connect(str(tmp_path / "q1.duckdb"), read_only=True) as con:
        first, last, months = rows(
            con, "SELECT min(date), max(date), count(DISTINCT month(date)) FROM account_move"
        )[0]
        assert rows(con, UNBALANCED_MOVES) == []
        assert (
            summary.tables["account_move"] == rows(con, "SELECT count(*) FROM account_move")[0][0]
        )
    assert (first, months) == (date(2026, 1, 1), 3)
    assert last <= date(2026, 3, 15)  # type: ignore[operator]


def breaking(dataset: OdooDemoDataset, table: str) -> OdooDemoDataset:
    """The same dataset, except that producing ``table``'s rows fails after 100 rows."""

    def failing() -> Iterator[tuple[object, ...]]:
        yield from list(dataset.tables[table])[:100]
        raise RuntimeError("generation failed midway")

    return dataclasses.replace(dataset, tables={**dataset.tables, table: failing()})


def test_failed_write_leaves_no_file_and_keeps_the_previous_one(tmp_path: Path) -> None:
    target = tmp_path / "odoo.duckdb"
    dataset = build_dataset()
    with pytest.raises(RuntimeError, match="midway"):
        write_duckdb(target, breaking(dataset, "account_move_line"))
    assert list(tmp_path.iterdir()) == []

    write_duckdb(target, dataset)
    before = file_digest(target)
    with pytest.raises(RuntimeError, match="midway"):
        write_duckdb(target, breaking(dataset, "res_partner"))
    assert list(tmp_path.iterdir()) == [target]
    assert file_digest(target) == before


def test_postgres_database_is_odoo_shaped(pg_conninfo: str) -> None:
    dataset = build_dataset()
    summary = write_postgres(pg_conninfo, dataset)
    assert summary.tables == dataset.row_counts()
    with psycopg.connect(pg_conninfo) as conn:
        assert conn.execute(UNBALANCED_MOVES).fetchall() == []
        assert conn.execute(TRIAL_BALANCE).fetchone()[0] == 0  # type: ignore[index]
        foreign_keys = conn.execute(
            """SELECT conname FROM pg_constraint
               WHERE contype = 'f' AND conrelid = 'account_move_line'::regclass"""
        ).fetchall()
        assert ("account_move_line_partner_id_fkey",) in foreign_keys
        comments = conn.execute(
            """SELECT obj_description('account_move_line'::regclass),
                      col_description('account_move_line'::regclass, 2)"""
        ).fetchone()
        assert comments == ("Journal Item", "Journal Entry")
        label = conn.execute(
            """SELECT field_description->>'en_US', relation FROM ir_model_fields
               WHERE model = 'account.move.line' AND name = 'partner_id'"""
        ).fetchone()
        assert label == ("Partner", "res.partner")
        # Odoo inserts without giving ids: the sequences continue after the loaded rows.
        new_id = conn.execute(
            "INSERT INTO res_partner (name, active) VALUES ('New customer', true) RETURNING id"
        ).fetchone()
        assert new_id == (summary.tables["res_partner"] + 1,)
        conn.rollback()

    with pytest.raises(DemoTargetExistsError, match="replace=True"):
        write_postgres(pg_conninfo, dataset)
    write_postgres(pg_conninfo, dataset, replace=True)


def test_failed_postgres_write_leaves_nothing(pg_conninfo: str) -> None:
    dataset = build_dataset()
    with pytest.raises(RuntimeError, match="midway"):
        write_postgres(pg_conninfo, breaking(dataset, "account_move"), schema="odoo")
    with psycopg.connect(pg_conninfo) as conn:
        left = conn.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema IN ('odoo', 'public')"
        ).fetchone()
        schema = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'odoo'").fetchone()
    assert (left, schema) == ((0,), (0,))
