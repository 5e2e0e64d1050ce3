"""Lineage of SQL text: what a statement writes, what it reads, and column by column how."""

from __future__ import annotations

from workbench_server.lineage import ColumnSource, sql_lineage

MONTHLY = """
CREATE TABLE gold.monthly_balance AS
WITH lines AS (
    SELECT account_id, date, debit, credit
    FROM silver.journal_items
    WHERE parent_state = 'posted'
)
SELECT l.account_id,
       a.code AS account_code,
       date_trunc('month', l.date) AS month,
       sum(l.debit - l.credit) AS balance
FROM lines AS l
JOIN silver.accounts AS a ON a.id = l.account_id
GROUP BY 1, 2, 3
"""


def test_create_table_as_through_a_cte_and_a_join() -> None:
    found = sql_lineage(MONTHLY)
    [statement] = found.statements
    assert statement.kind == "create_table_as"
    assert statement.outputs == ["gold.monthly_balance"]
    assert sorted(statement.inputs) == ["silver.accounts", "silver.journal_items"]  # not "lines"
    assert statement.columns == {
        "account_id": [ColumnSource("silver.journal_items", "account_id", "identity")],
        "account_code": [ColumnSource("silver.accounts", "code", "identity")],
        "month": [ColumnSource("silver.journal_items", "date", "expression")],
        "balance": [
            ColumnSource("silver.journal_items", "credit", "aggregation"),
            ColumnSource("silver.journal_items", "debit", "aggregation"),
        ],
    }
    assert found.warnings == []


def test_insert_select_maps_columns_by_position_and_copy_counts_both_ways() -> None:
    found = sql_lineage(
        "INSERT INTO silver.partners (partner_id, email_domain) "
        "SELECT id, split_part(email, '@', 2) FROM bronze.res_partner;\n"
        "COPY (SELECT partner_id FROM silver.partners) TO '/lake/gold/p.parquet' "
        "(FORMAT parquet);\n"
        "COPY bronze.rates FROM '/incoming/rates.csv'"
    )
    insert, export, load = found.statements
    assert (insert.kind, insert.outputs, insert.inputs) == (
        "insert",
        ["silver.partners"],
        ["bronze.res_partner"],
    )
    assert insert.columns == {
        "partner_id": [ColumnSource("bronze.res_partner", "id", "identity")],
        "email_domain": [ColumnSource("bronze.res_partner", "email", "expression")],
    }
    assert (export.outputs, export.inputs) == (["/lake/gold/p.parquet"], ["silver.partners"])
    assert (load.outputs, load.inputs) == (["bronze.rates"], ["/incoming/rates.csv"])
    assert found.outputs == ["silver.partners", "/lake/gold/p.parquet", "bronze.rates"]


def test_postgres_dialect_and_plain_reads() -> None:
    found = sql_lineage(
        "SELECT p.name, count(*) FROM public.res_partner p "
        "JOIN public.account_move m ON m.partner_id = p.id GROUP BY p.name",
        dialect="postgres",
    )
    [statement] = found.statements
    assert statement.kind == "select" and statement.outputs == []
    assert sorted(statement.inputs) == ["public.account_move", "public.res_partner"]


def test_sql_that_cannot_be_parsed_gives_a_warning_not_an_error() -> None:
    found = sql_lineage("CREATE TABLE x AS SELEC broken FROM")
    assert found.statements == []
    assert found.warnings[0].startswith("SQL could not be parsed (duckdb):")
    ambiguous = sql_lineage("CREATE TABLE x AS SELECT id FROM a JOIN b ON a.k = b.k")
    assert ambiguous.outputs == ["x"] and sorted(ambiguous.inputs) == ["a", "b"]


def test_files_read_through_duckdb_table_functions_are_inputs() -> None:
    found = sql_lineage(
        "COPY (SELECT p.account_id, sum(p.debit) AS debit "
        "FROM read_parquet('/lake/silver/lines.parquet') AS p "
        "JOIN read_csv_auto('/drop/budget.csv') AS b USING (account_id) GROUP BY 1) "
        "TO '/lake/gold/debits.parquet' (FORMAT parquet)"
    )
    [statement] = found.statements
    assert statement.inputs == ["/lake/silver/lines.parquet", "/drop/budget.csv"]
    assert statement.outputs == ["/lake/gold/debits.parquet"]
    assert statement.columns["debit"] == [
        ColumnSource("/lake/silver/lines.parquet", "debit", "aggregation")
    ]
    # A list of files is no one dataset: table level only, no guess.
    many = sql_lineage("CREATE TABLE t AS SELECT a FROM read_parquet(['/a.parquet', '/b.parquet'])")
    assert many.statements[0].inputs == []
