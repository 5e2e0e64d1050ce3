"""A PostgreSQL database in the lake session, with its ``numeric`` columns exact.

DuckDB's postgres scanner reads a ``numeric`` column without a declared precision as
DOUBLE, and it has no setting to do otherwise. Odoo declares every monetary field (and
every float field with digits) that way, so ``sum(balance)`` over journal items came back
as ``1.45e-11`` instead of 0. Here the database is attached under a hidden name and the
connection's name is a DuckDB catalog of views over it, with the same schemas and tables:

- a table without such columns is ``SELECT * FROM`` the scanned table (filters and
  projections still reach PostgreSQL);
- a table with them is read through ``postgres_query``, which casts those columns to
  ``numeric(38, 10)`` in PostgreSQL, so DuckDB receives DECIMAL(38,10): exact for every
  amount, and sums stay DECIMAL. PostgreSQL receives only the columns a query uses, but
  its filters are applied in DuckDB. Values with more than 10 decimals (Odoo's
  ``digits=0`` fields, such as currency rates) are rounded at the 10th. A ``money``
  column (which the scanner reads as text in the server's locale) is cast the same way.
  A value with more than 28 digits before the point (a ``numeric(50,4)`` column can hold
  one) does not fit: PostgreSQL refuses the cast with a bare "numeric field overflow",
  and :func:`too_wide` finds, once a query failed so, which table and column hold it.
"""

from __future__ import annotations

import re
from contextlib import suppress
from typing import Any

import duckdb

from workbench_server.sql_text import quote_identifier as _quote
from workbench_server.sql_text import quote_literal as _literal

# DuckDB's widest DECIMAL is 38 digits; 10 decimals leave 28 for the integer part, and a
# product of two such columns (quantity * price_unit) is DECIMAL(38,20) without overflow.
EXACT_SCALE = 10
EXACT_TYPE = f"numeric(38,{EXACT_SCALE})"
# DuckDB's own catalogs of every database; PostgreSQL's stay readable with %sql <name>.
SKIPPED_SCHEMAS = ("information_schema", "pg_catalog")

# Columns the scanner would read as DOUBLE: numeric without a precision, or one wider
# than DuckDB's DECIMAL (typmod is ((precision << 16) | scale) + 4); and ``money``, which
# it reads as text in the server's locale ("$1,234.56").
_INEXACT = """(a.atttypid = 'pg_catalog.numeric'::pg_catalog.regtype
  AND (a.atttypmod < 0 OR ((a.atttypmod - 4) >> 16) & 65535 > 38)
  OR a.atttypid = 'pg_catalog.money'::pg_catalog.regtype)"""
# Every column of the tables that have such columns, in order, as PostgreSQL names them:
# DuckDB's catalog renames a column whose name differs from an earlier one only by case
# ("Amount", "amount" -> "amount_1"), a name PostgreSQL does not know.
_INEXACT_TABLES_COLUMNS = f"""
SELECT n.nspname, c.relname, a.attname, {_INEXACT} AS inexact
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND c.oid IN (SELECT a.attrelid FROM pg_catalog.pg_attribute a
                WHERE {_INEXACT} AND a.attnum > 0 AND NOT a.attisdropped)
ORDER BY n.nspname, c.relname, a.attnum
"""


# PostgreSQL's words when a value does not fit ``EXACT_TYPE`` (DuckDB relays them).
OVERFLOW = "numeric field overflow"
INTEGER_DIGITS = 38 - EXACT_SCALE


def scanned_name(name: str) -> str:
    """The hidden name the scanner's catalog of connection ``name`` is attached under."""
    return f"wb_pg_{name}"


def secret_name(name: str) -> str:
    return f"wb_{name}"


def attach_postgres(db: duckdb.DuckDBPyConnection, name: str, settings: Any) -> None:
    """Attach PostgreSQL connection ``name`` read-only, as exact views named ``name``."""
    # The password goes into a DuckDB secret, which duckdb_secrets() redacts; an ATTACH
    # string would show it in duckdb_databases().
    secret = _quote(secret_name(name))
    parts = [
        "TYPE postgres",
        f"HOST {_literal(settings.host)}",
        f"PORT {int(settings.port)}",
        f"DATABASE {_literal(settings.database)}",
        f"USER {_literal(settings.user)}",
    ]
    if settings.password is not None:
        parts.append(f"PASSWORD {_literal(settings.password.get_secret_value())}")
    db.execute(f"CREATE OR REPLACE SECRET {secret} ({', '.join(parts)})")
    scanned = scanned_name(name)
    db.execute(f"ATTACH '' AS {_quote(scanned)} (TYPE postgres, SECRET {secret}, READ_ONLY)")
    try:
        db.execute("BEGIN")  # a thousand views in one catalog write, not one each
        own = True
    except duckdb.TransactionException:  # the notebook has a transaction open
        own = False
    try:
        _create_views(db, name, scanned)
        if own:
            db.execute("COMMIT")
    except Exception:
        if own:
            with suppress(duckdb.Error):
                db.execute("ROLLBACK")
        detach_postgres(db, name)
        raise


def detach_postgres(db: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop what :func:`attach_postgres` made (views, attachment and secret)."""
    db.execute(f"DETACH DATABASE IF EXISTS {_quote(name)}")
    db.execute(f"DETACH DATABASE IF EXISTS {_quote(scanned_name(name))}")
    db.execute(f"DROP SECRET IF EXISTS {_quote(secret_name(name))}")


def _create_views(db: duckdb.DuckDBPyConnection, name: str, scanned: str) -> None:
    # (schema, table) -> its columns as PostgreSQL names them, each with whether it is inexact
    exact_reads: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for schema, table, column, inexact in db.execute(
        "SELECT * FROM postgres_query(?, ?)", [scanned, _INEXACT_TABLES_COLUMNS]
    ).fetchall():
        exact_reads.setdefault((schema, table), []).append((column, bool(inexact)))
    columns: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in db.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = ? AND NOT list_contains(?, schema_name) "
        "ORDER BY schema_name, table_name, column_index",
        [scanned, list(SKIPPED_SCHEMAS)],
    ).fetchall():
        columns.setdefault((schema, table), []).append(column)
    db.execute(f"ATTACH ':memory:' AS {_quote(name)}")
    for schema in sorted({schema for schema, _ in columns}):
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(name)}.{_quote(schema)}")
    views = _view_names(list(columns))
    for (schema, table), names in columns.items():
        target = f"{_quote(name)}.{_quote(schema)}.{_quote(views[(schema, table)])}"
        if (schema, table) in exact_reads:
            query = _exact_select(schema, table, exact_reads[(schema, table)], names)
            body = f"SELECT * FROM postgres_query({_literal(scanned)}, {_literal(query)})"
        else:
            body = f"SELECT * FROM {_quote(scanned)}.{_quote(schema)}.{_quote(table)}"
        db.execute(f"CREATE VIEW {target} AS {body}")
    # The scanner's catalog had PostgreSQL's default schema, so ``odoo.res_partner``
    # meant ``odoo.public.res_partner``; a DuckDB catalog's default schema is ``main``.
    if "main" not in {schema.lower() for schema, _ in columns}:
        for schema, table in columns:
            if schema == "public":
                view = _quote(views[(schema, table)])
                db.execute(
                    f"CREATE VIEW {_quote(name)}.main.{view} AS "
                    f"SELECT * FROM {_quote(name)}.public.{view}"
                )


def _view_names(tables: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The name of each table's view. DuckDB's names are not case sensitive, PostgreSQL's
    are: of tables (or schemas) whose names differ only by case (``"User"`` and
    ``"user"``), the first keeps its name and the next get DuckDB's suffix for a name
    taken (``user_1``), as its scanner does for such columns; one clash made the whole
    connection fail to attach."""
    taken: set[tuple[str, str]] = set()
    views: dict[tuple[str, str], str] = {}
    for schema, table in tables:
        view, n = table, 0
        while (schema.lower(), view.lower()) in taken:
            n += 1
            view = f"{table}_{n}"
        taken.add((schema.lower(), view.lower()))
        views[(schema, table)] = view
    return views


def _exact_select(
    schema: str, table: str, columns: list[tuple[str, bool]], names: list[str]
) -> str:
    """PostgreSQL's SELECT of every column, the inexact ones cast to ``EXACT_TYPE``, each
    named as the scanner names it (``names``, in the same order), as a table without
    inexact columns reads; a result with two columns named alike fails in DuckDB."""
    if len(names) != len(columns):  # the table changed between the two catalog reads
        names = [c for c, _ in columns]
    items = [
        f"{_quote(c)}::{EXACT_TYPE} AS {_quote(n)}" if inexact else f"{_quote(c)} AS {_quote(n)}"
        for (c, inexact), n in zip(columns, names, strict=True)
    ]
    return f"SELECT {', '.join(items)} FROM {_quote(schema)}.{_quote(table)}"


def too_wide(db: duckdb.DuckDBPyConnection, name: str, query: str) -> list[tuple[str, str, str]]:
    """The (schema, table, column) of connection ``name`` holding a value too wide for
    ``EXACT_TYPE``, among the tables ``query`` names (its columns first): asked after a
    query failed with :data:`OVERFLOW`, so the error can say where. Scans those tables
    in PostgreSQL once; nothing on the query path."""
    scanned = scanned_name(name)
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column, inexact in db.execute(
        "SELECT * FROM postgres_query(?, ?)", [scanned, _INEXACT_TABLES_COLUMNS]
    ).fetchall():
        if inexact and _names(query, table):
            tables.setdefault((schema, table), []).append(column)
    found = []
    limit = f"1e{INTEGER_DIGITS}"
    for (schema, table), columns in tables.items():
        checks = ", ".join(
            f"bool_or(round(abs({_quote(c)}::numeric), {EXACT_SCALE}) >= {limit})" for c in columns
        )
        sql = f"SELECT {checks} FROM {_quote(schema)}.{_quote(table)}"
        (flags,) = db.execute("SELECT * FROM postgres_query(?, ?)", [scanned, sql]).fetchall() or [
            ()
        ]
        wide = [c for c, flag in zip(columns, flags, strict=False) if flag]
        # The columns the query names come first: those are the ones it read.
        wide.sort(key=lambda c: not _names(query, c))
        found += [(schema, table, c) for c in wide]
    return found


def _names(query: str, word: str) -> bool:
    return re.search(rf"(?<![\w$]){re.escape(word)}(?![\w$])", query, re.IGNORECASE) is not None
