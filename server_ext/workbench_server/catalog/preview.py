"""The first rows of a table, bounded in rows, bytes and time, read-only.

The query is ``SELECT * FROM schema.table LIMIT n`` with quoted identifiers, in a
read-only transaction with a statement timeout, so it never scans a whole table, never
writes, and never hangs: past the time bound it stops and says so. Rows are fetched in
small batches until the byte bound; long values are shortened. Values come back in JSON
form (exact decimals as text, dates as ISO text, binary as its size).
"""

from __future__ import annotations

import datetime as dt
import decimal
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..connections.kinds import DuckDBConfig, PostgresConfig

MAX_ROWS = 1000
MAX_VALUE_CHARS = 500


@dataclass
class Preview:
    columns: list[tuple[str, str]]  # (name, database type)
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0


def json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, decimal.Decimal):
        # Fixed-point text: str() writes a zero of DECIMAL(38,10) as '0E-10' and 0.0000001
        # as '1E-7'; 'f' keeps every digit and the scale, exact (NaN stays 'NaN').
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, dict | list):
        text = str(value)
        return value if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


def preview_postgres(
    cfg: PostgresConfig,
    schema: str,
    table: str,
    limit: int,
    max_bytes: int,
    timeout_s: float,
) -> Preview:
    """Raises ``psycopg.Error`` when the database cannot be reached or refuses."""
    try:
        return _preview(cfg, schema, table, limit, max_bytes, timeout_s)
    except _Cancelled as stopped:  # rolled back by leaving the transaction with an error
        return stopped.preview


def preview_duckdb(
    cfg: DuckDBConfig,
    schema: str,
    table: str,
    limit: int,
    max_bytes: int,
    timeout_s: float,
) -> Preview:
    """The same bounds on a DuckDB file, opened read-only; a timer interrupts the query.

    The file is the user's: its views run with external access off (see
    :mod:`..connections.duckdb_files`), and one that reads files, URLs or other databases
    is refused with :class:`PermissionDeniedError` instead of previewed.
    """
    import threading

    import duckdb

    from ..connections.duckdb_files import open_untrusted_duckdb, reads_outside
    from ..errors import PermissionDeniedError
    from ..sql_text import quote_identifier as quote

    started = time.perf_counter()
    limit = max(1, min(limit, MAX_ROWS))
    out = Preview(columns=[], rows=[])
    with open_untrusted_duckdb(cfg.path) as con:
        timer = threading.Timer(timeout_s, con.interrupt)
        timer.start()
        try:
            result = con.execute(f"SELECT * FROM {quote(schema)}.{quote(table)} LIMIT {limit}")
            out.columns = [(d[0], str(d[1]).lower()) for d in result.description or []]
            fill_rows(out, iter(lambda: result.fetchmany(100), []), limit, max_bytes)
        except duckdb.InterruptException:
            out.notes.append(f"stopped: the table did not answer within {timeout_s:g} s")
        except duckdb.Error as exc:
            if not reads_outside(exc):
                raise
            raise PermissionDeniedError(
                f"{schema}.{table} reads files, URLs or databases outside its DuckDB file, "
                "which previews do not allow; query it from a notebook instead"
            ) from None
        finally:
            timer.cancel()
    out.elapsed_ms = (time.perf_counter() - started) * 1000
    return out


def fill_rows(out: Preview, batches: Any, limit: int, max_bytes: int) -> None:
    """Rows from ``batches`` into ``out`` up to ``limit`` rows and ``max_bytes``."""
    size = 0
    for batch in batches:
        for record in batch:
            row = [json_value(v) for v in record]
            size += sum(len(str(v)) for v in row) + len(row)
            if size > max_bytes and out.rows:
                out.notes.append(
                    f"cut at {len(out.rows)} rows: the preview is limited to {max_bytes:,} bytes"
                )
                return
            out.rows.append(row)
            if len(out.rows) >= limit:
                out.notes.append(f"first {limit} rows")
                return


def _preview(
    cfg: PostgresConfig,
    schema: str,
    table: str,
    limit: int,
    max_bytes: int,
    timeout_s: float,
) -> Preview:
    import psycopg
    from psycopg import sql

    started = time.perf_counter()
    limit = max(1, min(limit, MAX_ROWS))
    query = sql.SQL("SELECT * FROM {}.{} LIMIT {}").format(
        sql.Identifier(schema), sql.Identifier(table), sql.Literal(limit)
    )
    out = Preview(columns=[], rows=[])
    with psycopg.connect(**cfg.psycopg_kwargs("workbench-preview", timeout_s)) as conn:
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout_s * 1000)}",)
            )
            try:
                cur.execute(query)
            except psycopg.errors.QueryCanceled:
                out.notes.append(
                    f"stopped: the table did not answer within {timeout_s:g} s (statement timeout)"
                )
                out.elapsed_ms = (time.perf_counter() - started) * 1000
                raise _Cancelled(out) from None
            types = {
                row[0]: row[1]
                for row in conn.execute(
                    "SELECT oid, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(%s)",
                    ([d.type_code for d in cur.description or []],),
                )
            }
            out.columns = [(d.name, types.get(d.type_code, "?")) for d in cur.description or []]
            fill_rows(out, iter(lambda: cur.fetchmany(100), []), limit, max_bytes)
    out.elapsed_ms = (time.perf_counter() - started) * 1000
    return out


class _Cancelled(Exception):
    """The statement timeout fired; carries the (empty) preview with its note."""

    def __init__(self, preview: Preview) -> None:
        super().__init__(preview.notes[0])
        self.preview = preview
