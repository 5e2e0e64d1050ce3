"""Reading tables, now or as of a version or a time, into Arrow (DuckDB's ``delta_scan``).

A Parquet dataset not yet converted is read as it is (current state only: it has no
versions).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidInputError, NotFoundError, SourceUnavailableError
from ..sql_text import quote_identifier as _qi
from ..sql_text import quote_literal as _ql
from . import engine
from .history import latest_version, version_at
from .location import LakeLocation
from .models import TableName
from .tables import is_delta, parquet_files

if TYPE_CHECKING:
    from deltalake import DeltaTable

BATCH_ROWS = 64 * 1024
# Reader features a plain read of a table's Parquet files honours; a table that needs
# another (deletion vectors, column mapping, ...) is read through delta_scan.
PLAIN_READER_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
# A partition value DuckDB's hive partitioning reads back from a path exactly as written.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.\-]*")


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


def files_sql(
    location: LakeLocation,
    table: TableName | str,
    dt: DeltaTable,
    *,
    equal: Mapping[str, Any] | None = None,
    ranges: Mapping[str, tuple[Any, Any]] | None = None,
) -> str | None:
    """The files of ``dt`` (a table at the version it was opened) that can hold rows
    whose partition columns have the ``equal`` values and whose columns lie within
    ``ranges`` (inclusive bounds, None for an open end), chosen by the partition values
    and statistics in the log already read, as one ``read_parquet`` with the partition
    columns typed. It reads only those files and not the log again, as ``delta_scan``
    does for each query (about 10 ms for a table of a few versions, more than reading a
    few small files). The conditions still have to be applied to the rows: a file whose
    range overlaps holds others too.

    ``""`` when no file can hold such rows; None when a plain Parquet read would not read
    the table as a Delta reader does (deletion vectors, column mapping, a partition value
    the path would not give back as written): use :func:`source_sql` then.
    """
    if set(dt.protocol().reader_features or ()) - PLAIN_READER_FEATURES:
        return None
    metadata = dt.metadata()
    if metadata.configuration.get("delta.columnMapping.mode", "none") != "none":
        return None
    schema = pa.schema(dt.schema().to_arrow())
    hive_types = {}
    for name in metadata.partition_columns:
        duck_type = _hive_type(schema.field(name).type)
        if duck_type is None:
            return None
        hive_types[name] = duck_type
    actions = pa.table(dt.get_add_actions(flatten=True))
    keep = pc.is_valid(actions["path"])
    for name, value in (equal or {}).items():
        if name not in hive_types:
            continue  # not a partition column: the condition is the caller's
        column = actions[f"partition.{name}"]
        keep = pc.and_(keep, pc.is_null(column) if value is None else pc.equal(column, value))
    for name, (low, high) in (ranges or {}).items():
        for bound, stat, compare in ((low, "max", pc.greater_equal), (high, "min", pc.less_equal)):
            if bound is None or f"{stat}.{name}" not in actions.column_names:
                continue  # no statistics: the file may hold anything
            column = actions[f"{stat}.{name}"]
            inside = compare(column, pa.scalar(bound).cast(column.type))
            keep = pc.and_(keep, pc.or_(pc.is_null(column), inside))
    kept = actions.filter(pc.fill_null(keep, False))
    for name, duck_type in hive_types.items():
        if duck_type == "VARCHAR":
            values = kept[f"partition.{name}"].drop_null().to_pylist()
            if any(not _PLAIN_VALUE.fullmatch(v) for v in values):
                return None
    root = location.uri(table)
    files = [
        path if "://" in path or path.startswith("/") else f"{root}/{path}"
        for path in kept["path"].to_pylist()
    ]
    if not files:
        return ""
    listed = ", ".join(_ql(f) for f in files)
    typed = ", ".join(f"{_ql(name)}: {duck_type}" for name, duck_type in hive_types.items())
    return (
        f"read_parquet([{listed}], hive_partitioning = true, hive_types = {{{typed}}}, "
        "union_by_name = true)"
    )


def _hive_type(arrow_type: pa.DataType) -> str | None:
    """The DuckDB type a partition column of ``arrow_type`` is read as from a path."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    return None


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
