"""Write an :class:`OdooDemoDataset` into a DuckDB file or a PostgreSQL schema.

Both writers create the same tables (primary keys, NOT NULL, Odoo labels as comments);
PostgreSQL also gets Odoo's serial ids, foreign keys and the indexes Odoo declares on
journal items, so it can stand in for a real Odoo database.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict

from ..sql_text import quote_identifier as _quote
from ..sql_text import quote_literal as _literal
from .odoo_data import OdooDemoDataset, build_dataset
from .odoo_schema import TABLES, Table, column_sql_type

# Columns Odoo indexes (index=True) that reporting queries filter or join on.
_PG_INDEXES = {
    "account_move": ("date", "partner_id", "journal_id", "state"),
    "account_move_line": ("move_id", "account_id", "partner_id", "date", "journal_id"),
    "res_partner": ("commercial_partner_id",),
}
# NULL marker for the CSV staging files; the generator never produces this text, and with
# it '' stays an empty string instead of becoming NULL.
_NULL = r"\N"


class DemoSummary(BaseModel):
    """What was written: rows per table and the parameters that reproduce the data."""

    model_config = ConfigDict(frozen=True)

    seed: int
    months: int
    start_date: date
    end_date: date
    tables: dict[str, int]


class DemoTargetExistsError(RuntimeError):
    """The PostgreSQL schema already holds tables the demo would create."""


def generate_odoo_demo(
    path: Path, *, seed: int = 17, months: int = 12, end_date: date | None = None
) -> DemoSummary:
    """Generate the Odoo demo dataset and write it to the DuckDB file ``path``
    (replacing it atomically if it exists)."""
    return write_duckdb(Path(path), build_dataset(seed, months, end_date))


def _duckdb_create(table: Table) -> str:
    columns = [
        f"{_quote(c.name)} {column_sql_type(c, 'duckdb')}{'' if c.nullable else ' NOT NULL'}"
        for c in table.columns
    ]
    primary_key = ", ".join(_quote(c) for c in table.primary_key)
    return f"CREATE TABLE {_quote(table.name)} ({', '.join(columns)}, PRIMARY KEY ({primary_key}))"


def _pg_create(table: Table, schema: str) -> sql.Composed:
    columns = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name),
            # Odoo's ids come from a per-table sequence; SERIAL creates the same default.
            sql.SQL("SERIAL" if c.name == "id" else column_sql_type(c, "postgres")),
            sql.SQL("" if c.nullable else " NOT NULL"),
        )
        for c in table.columns
    ]
    columns.append(
        sql.SQL("CONSTRAINT {} PRIMARY KEY ({})").format(
            sql.Identifier(f"{table.name}_pkey"),
            sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key),
        )
    )
    target = sql.Identifier(schema, table.name)
    return sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(columns))


def write_duckdb(path: Path, dataset: OdooDemoDataset) -> DemoSummary:
    """Write ``dataset`` to the DuckDB file ``path``.

    The database is built in a hidden temporary directory next to ``path`` and moved into
    place with :func:`os.replace`, so readers see either the old file or the complete new
    one, and a failure leaves neither a partial file nor temporary files behind. Rows are
    loaded through CSV ``COPY`` because DuckDB's ``executemany`` inserts row by row (about
    1,000 times slower here).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        staged = workdir / path.name
        con = duckdb.connect(str(staged))
        try:
            # One transaction: committing each statement makes the load ~3x slower.
            con.execute("BEGIN")
            counts = {t.name: _load_duckdb_table(con, workdir, t, dataset) for t in TABLES}
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(staged, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _summary(dataset, counts)


def _load_duckdb_table(
    con: duckdb.DuckDBPyConnection, workdir: Path, table: Table, dataset: OdooDemoDataset
) -> int:
    con.execute(_duckdb_create(table))
    staging = workdir / f"{table.name}.csv"
    count = 0
    with staging.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for row in dataset.tables[table.name]:
            # str() of every other value (bool, Decimal, date, datetime) is what DuckDB
            # casts back to the column type; only NULL needs a marker.
            writer.writerow([_NULL if value is None else value for value in row])
            count += 1
    # Explicit dialect and no sniffing/parallel scan: 6x faster for files this small.
    con.execute(
        f"COPY {_quote(table.name)} FROM {_literal(str(staging))} (FORMAT csv, HEADER false,"
        f" DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULLSTR {_literal(_NULL)},"
        " ALLOW_QUOTED_NULLS false, AUTO_DETECT false, PARALLEL false)"
    )
    staging.unlink()
    # All comments of a table in one call: one execute per column costs ~0.3 s in total.
    comments = [f"COMMENT ON TABLE {_quote(table.name)} IS {_literal(table.label)}"]
    for column in table.columns:
        target = f"{_quote(table.name)}.{_quote(column.name)}"
        comments.append(f"COMMENT ON COLUMN {target} IS {_literal(column.label)}")
    con.execute(";\n".join(comments))
    return count


def write_postgres(
    conninfo: str, dataset: OdooDemoDataset, schema: str = "public", *, replace: bool = False
) -> DemoSummary:
    """Write ``dataset`` into ``schema`` of the PostgreSQL database at ``conninfo``.

    Everything happens in one transaction: tables with serial ids and primary keys, rows via
    ``COPY``, then foreign keys, indexes and comments; on any error nothing is left behind.
    If demo tables already exist the call fails with :class:`DemoTargetExistsError`, unless
    ``replace`` is true, in which case those tables (and only those) are dropped first.
    """
    with psycopg.connect(conninfo) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cur.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = %s AND table_name = ANY(%s) ORDER BY table_name",
            (schema, [t.name for t in TABLES]),
        )
        existing = [name for (name,) in cur.fetchall()]
        if existing and not replace:
            raise DemoTargetExistsError(
                f"schema {schema!r} already has demo tables ({', '.join(existing[:5])}); "
                "write to an empty schema or pass replace=True to drop them first"
            )
        for name in existing:
            cur.execute(sql.SQL("DROP TABLE {} CASCADE").format(sql.Identifier(schema, name)))
        counts = {table.name: _load_pg_table(cur, schema, table, dataset) for table in TABLES}
        for table in TABLES:
            _finish_pg_table(cur, schema, table)
    return _summary(dataset, counts)


def _load_pg_table(
    cur: psycopg.Cursor[tuple[object, ...]], schema: str, table: Table, dataset: OdooDemoDataset
) -> int:
    target = sql.Identifier(schema, table.name)
    cur.execute(_pg_create(table, schema))
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names)
    count = 0
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, columns)) as copy:
        for row in dataset.tables[table.name]:
            copy.write_row(row)
            count += 1
    # COPY bypasses the id sequence: move it past the loaded ids so inserts keep working.
    restart = "SELECT setval(pg_get_serial_sequence({}, 'id'), coalesce(max(id), 0) + 1, false)"
    qualified = sql.Literal(target.as_string(cur.connection))
    cur.execute(sql.SQL(restart + " FROM {}").format(qualified, target))
    return count


def _finish_pg_table(cur: psycopg.Cursor[tuple[object, ...]], schema: str, table: Table) -> None:
    target = sql.Identifier(schema, table.name)
    for fk in table.foreign_keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} (id)").format(
                target,
                sql.Identifier(f"{table.name}_{fk.column}_fkey"),
                sql.Identifier(fk.column),
                sql.Identifier(schema, fk.ref_table),
            )
            + sql.SQL(" ON DELETE " + fk.on_delete.upper())  # one of Odoo's three policies
        )
    for column in _PG_INDEXES.get(table.name, ()):
        index = sql.Identifier(f"{table.name}__{column}_index")
        cur.execute(
            sql.SQL("CREATE INDEX {} ON {} ({})").format(index, target, sql.Identifier(column))
        )
    comment = sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(table.label))
    cur.execute(comment)
    for column in table.columns:
        cur.execute(
            sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                target, sql.Identifier(column.name), sql.Literal(column.label)
            )
        )


def _summary(dataset: OdooDemoDataset, counts: dict[str, int]) -> DemoSummary:
    return DemoSummary(
        seed=dataset.seed,
        months=dataset.months,
        start_date=dataset.start_date,
        end_date=dataset.end_date,
        tables=counts,
    )
