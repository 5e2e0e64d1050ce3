"""Reading tables, now or as of a version or a time, into Arrow (DuckDB's ``delta_scan``).

A Parquet dataset not yet converted is read as it is (current state only: it has no
versions).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from ..errors import InvalidInputError, NotFoundError, SourceUnavailableError
from ..sql_text import quote_identifier as _qi
from ..sql_text import quote_literal as _ql
from . import engine
from .history import latest_version, version_at
from .location import LakeLocation
from .models import TableName
from .tables import is_delta, parquet_files

BATCH_ROWS = 64 * 1024


def resolve_version(
    location: LakeLocation,
    table: TableName | str,
    version: int | None = None,
    as_of: datetime | None = None,
) -> int | None:
    """The version to read: ``version``, the one current at ``as_of``, or None (latest)."""
    if version is not None and as_of is not None:
        raise InvalidInputError("give a version or a time (as_of), not both")
    if as_of is not None:
        return version_at(location, table, as_of)
    if version is not None:
        latest = latest_version(location, table)
        if not 0 <= version <= latest:
            raise NotFoundError(
                f"{TableName.parse(table)} has versions 0 to {latest}, not {version}"
            )
    return version


def source_sql(location: LakeLocation, table: TableName | str, version: int | None = None) -> str:
    """SQL for the table's rows in a connection from :func:`engine.connect`: a
    ``delta_scan``, or ``read_parquet`` of a dataset not yet converted."""
    table = TableName.parse(table)
    if is_delta(location, table):
        return engine.scan_sql(location, str(table), version)
    files = parquet_files(location, table)
    if not files:
        raise NotFoundError(f"no lake table {table} in {location.name}")
    if version is not None:
        raise NotFoundError(
            f"{table} is a Parquet dataset without versions; `workbench lake migrate` "
            "converts it to a Delta table, which keeps them from then on"
        )
    prefix = "s3://" if location.is_s3 else ""
    listed = ", ".join(_ql(prefix + f) for f in files)
    return f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"


def _query(columns: Sequence[str] | None, source: str, where: str | None) -> str:
    selected = ", ".join(_qi(c) for c in columns) if columns else "*"
    return f"SELECT {selected} FROM {source}" + (f" WHERE {where}" if where else "")


def read(
    location: LakeLocation,
    table: TableName | str,
    *,
    version: int | None = None,
    as_of: datetime | None = None,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> pa.Table:
    """The table's rows (as of ``version`` or ``as_of``) as an Arrow table.

    ``where`` is a DuckDB SQL predicate, e.g. ``"company_id = 2"``.
    """
    version = resolve_version(location, table, version, as_of)
    source = source_sql(location, table, version)
    db = engine.connect(location)
    try:
        return db.execute(_query(columns, source, where)).to_arrow_table()
    except duckdb.Error as exc:
        raise _read_error(table, version, exc) from None
    finally:
        db.close()


def reader(
    location: LakeLocation,
    table: TableName | str,
    *,
    version: int | None = None,
    as_of: datetime | None = None,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> pa.RecordBatchReader:
    """The same rows as :func:`read`, streamed in batches (bounded memory)."""
    version = resolve_version(location, table, version, as_of)
    source = source_sql(location, table, version)
    db = engine.connect(location)
    try:
        result = db.execute(_query(columns, source, where)).to_arrow_reader(BATCH_ROWS)
    except duckdb.Error as exc:
        db.close()
        raise _read_error(table, version, exc) from None

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from result
        finally:
            db.close()

    return pa.RecordBatchReader.from_batches(result.schema, batches())


def _read_error(table: TableName | str, version: int | None, exc: duckdb.Error) -> Exception:
    text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.IOException):
        if version is not None:
            return NotFoundError(
                f"version {version} of {table} can no longer be read (its files were "
                f"vacuumed after the layer's retention): {text}"
            )
        return SourceUnavailableError(f"{table}: {text}")
    return InvalidInputError(f"{table}: {text}")
