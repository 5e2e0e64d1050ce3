"""The serving database Superset reads: one DuckDB file per Superset connection.

Superset's ``duckdb`` driver (duckdb-engine) opens the file read-only for each query
(Superset uses no connection pool by default). Published tables are copied into it
(``<schema>.<table>``, only the columns published: pii columns never reach the file) and
the file is replaced as a whole: a new file is written next to it and renamed over it,
so a query in flight keeps reading the file it opened and the next one reads the new one;
Superset never sees a half-written table and never waits on a lock. Writers of one file
take a file lock (several workbench processes may publish at once).

Why a copy and not views over the Delta tables: Superset's process cannot download the
delta extension here, the views would give Superset's users every column of the lake
files (pii included) through custom SQL, and the file's DuckDB opens with external access
off. The price is freshness: Superset sees a table as of its last publish (a pipeline's
``publish`` step re-publishes it after each run). See docs/superset.md.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ..sql_text import quote_identifier as qi
from ..sql_text import quote_literal as ql

if TYPE_CHECKING:
    from ..lake import Lake

BOOKKEEPING = "_workbench"  # schema of the table listing what was published, and when


@dataclass(frozen=True)
class Served:
    schema: str
    table: str
    rows: int
    source: str
    version: int | None
    published_at: datetime


def serving_path(home: Path, connection: str) -> Path:
    return home / "serving" / f"superset-{connection}.duckdb"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the serving file's writer lock (one publish at a time per Superset
    connection, across processes). :func:`publish_table` expects it held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def publish_table(
    path: Path,
    lake: Lake,
    table: str,
    columns: Sequence[str],
    schema: str,
    name: str,
    version: int | None,
) -> Served:
    """Copy ``columns`` of lake ``table`` (as of ``version``) into the serving file as
    ``schema.name``; other published tables stay as they were. The caller holds
    :func:`locked` for ``path``."""
    if not columns:
        raise ValueError("no column to publish")
    with _replacing(path) as db:
        lake.connect(db)
        if path.exists():
            _copy_others(db, path, schema, name)
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(schema)}")
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(BOOKKEEPING)}")
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {qi(BOOKKEEPING)}.published (schema_name "
            "VARCHAR, table_name VARCHAR, source VARCHAR, version BIGINT, rows BIGINT, "
            "published_at TIMESTAMPTZ)"
        )
        listed = ", ".join(qi(c) for c in columns)
        db.execute(
            f"CREATE TABLE {qi(schema)}.{qi(name)} AS SELECT {listed} "
            f"FROM {lake.scan_sql(table, version)}"
        )
        rows = db.execute(f"SELECT count(*) FROM {qi(schema)}.{qi(name)}").fetchone()[0]
        at = datetime.now(UTC)
        db.execute(
            f"DELETE FROM {qi(BOOKKEEPING)}.published WHERE schema_name = ? AND table_name = ?",
            [schema, name],
        )
        db.execute(
            f"INSERT INTO {qi(BOOKKEEPING)}.published VALUES (?, ?, ?, ?, ?, ?)",
            [schema, name, f"{lake.name}:{table}", version, rows, at],
        )
    return Served(schema, name, rows, f"{lake.name}:{table}", version, at)


def remove_table(path: Path, schema: str, name: str) -> bool:
    """Take ``schema.name`` out of the serving file (the file replaced as by a publish, so
    a query in flight keeps its file); False if the file did not hold it. The caller holds
    :func:`locked` for ``path``."""
    if (schema, name) not in {(s.schema, s.table) for s in served(path)}:
        return False
    with _replacing(path) as db:
        _copy_others(db, path, schema, name)
        db.execute(
            f"DELETE FROM {qi(BOOKKEEPING)}.published WHERE schema_name = ? AND table_name = ?",
            [schema, name],
        )
    return True


@contextmanager
def _replacing(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB file made beside ``path`` that replaces it whole once the block ends
    without an error (a query in flight keeps the old file); nothing is left of it if the
    block fails."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        db = duckdb.connect(str(temp))
        try:
            yield db
            db.execute("CHECKPOINT")
        finally:
            db.close()
        os.replace(temp, path)
    finally:
        with suppress(FileNotFoundError):
            temp.unlink()
        with suppress(FileNotFoundError):
            temp.with_name(temp.name + ".wal").unlink()


def _copy_others(db: duckdb.DuckDBPyConnection, path: Path, schema: str, name: str) -> None:
    db.execute(f"ATTACH {ql(str(path))} AS previous (READ_ONLY)")
    try:
        tables = db.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'previous'"
        ).fetchall()
        for other_schema, other in tables:
            if (other_schema, other) == (schema, name):
                continue
            db.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(other_schema)}")
            db.execute(
                f"CREATE TABLE {qi(other_schema)}.{qi(other)} AS "
                f"FROM previous.{qi(other_schema)}.{qi(other)}"
            )
    finally:
        db.execute("DETACH previous")


def served(path: Path) -> list[Served]:
    """What the serving file holds, as its bookkeeping table lists it."""
    if not path.exists():
        return []
    with duckdb.connect(str(path), read_only=True) as db:
        try:
            rows = db.execute(
                f"SELECT schema_name, table_name, rows, source, version, published_at "
                f"FROM {qi(BOOKKEEPING)}.published ORDER BY 1, 2"
            ).fetchall()
        except duckdb.CatalogException:
            return []
    return [Served(s, t, r, src, v, at) for s, t, r, src, v, at in rows]
