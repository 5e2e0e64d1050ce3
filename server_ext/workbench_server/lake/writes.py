"""Writes: the one module that changes lake tables (data, and maintenance commits).

Every change is one Delta commit (delta-rs): readers see the version before or the
version after, never half of it, and a write that fails (its stream raised, the process
died) commits nothing; the files it had written are unreferenced and a vacuum removes
them. Each commit records its writer (:class:`~.models.WriterInfo`) in the commit's
custom metadata, and each function returns the version it made.

Concurrency: delta-rs retries a blind append's commit itself when another writer took
the version first. Other operations (merge, overwrite, delete, update, SCD2) conflict
when a concurrent commit touched what they read; they are run again from the start, up
to ``max_attempts`` times, from a source that can be read again (a stream is spooled to
a local Parquet file first).
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import (
    CommitProperties,
    DeltaTable,
    QueryBuilder,
    Schema,
    WriterProperties,
    convert_to_deltalake,
)
from deltalake import write_deltalake as _write_deltalake
from deltalake.exceptions import (
    CommitFailedError,
    DeltaError,
    DeltaProtocolError,
    SchemaMismatchError,
)
from pyarrow.fs import FileSelector

from ..errors import ConflictError, InvalidInputError, SourceUnavailableError, WorkbenchError
from ..sql_text import quote_identifier as _qi
from ..sql_text import quote_literal as _ql
from . import history, merging
from .location import LakeLocation
from .models import DeleteMarker, TableName, WriteMode, WriteResult, WriterInfo
from .scd2 import SCD2_COLUMNS, staged_changes
from .settings import LakeSettings
from .sources import Source
from .tables import is_delta, list_tables, open_table, parquet_files

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 5
# Delta keeps each file's statistics of the first 32 data columns unless told otherwise.
STATS_DEFAULT_COLUMNS = 32
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Row groups of DuckDB's own size: DuckDB reads a file's row groups in parallel, and
# delta-rs's default (a million rows) left a 1M-row table to one thread.
ROW_GROUP_ROWS = 122_880
# Commit retries delta-rs itself makes for a blind append (it only re-checks the log).
APPEND_COMMIT_RETRIES = 100


# -- the public functions ----------------------------------------------------------------
def write(
    location: LakeLocation,
    table: TableName | str,
    data: Any,
    *,
    mode: WriteMode = "append",
    keys: Sequence[str] | None = None,
    partition_by: Sequence[str] | None = None,
    replace_where: str | None = None,
    delete_marker: DeleteMarker | None = None,
    latest_by: str | None = None,
    schema_mode: Literal["merge", "overwrite"] | None = None,
    writer: WriterInfo | None = None,
    settings: LakeSettings | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
    opened: DeltaTable | None = None,
    stats_columns: Sequence[str] = (),
) -> WriteResult:
    """Write ``data`` (Arrow table or stream, pandas, DuckDB relation) to ``table``.

    - ``mode="append"`` adds rows; ``"overwrite"`` replaces the table, or only the rows
      matching ``replace_where`` (a SQL predicate, e.g. ``"company_id = 2"``);
      ``"merge"`` upserts by ``keys``, deleting the key where the source row carries
      ``delete_marker`` (e.g. bronze's ``_op = 'd'``), taking the last row per key by
      ``latest_by`` when the source holds several.
    - ``partition_by`` applies when the write creates the table (which it does, with
      the layer's retention, when the table does not exist).
    - ``schema_mode="merge"`` lets new columns in; a full overwrite replaces the schema.
    - ``opened``: the table as the caller opened it (to read its version) is brought up
      to date and written instead of being opened again, which reads its whole log.
    - ``stats_columns``: columns whose least and greatest value each file records in
      the log besides the first 32 (Delta's default) and the keys, so that readers skip
      files by them (e.g. a cursor and audit columns at the end of a wide table); applies
      when the write creates the table.
    """
    table = TableName.parse(table)
    if mode not in ("append", "overwrite", "merge"):
        raise InvalidInputError(f"mode {mode!r}: use append, overwrite or merge")
    keys = list(keys or [])
    if mode == "merge" and not keys:
        raise InvalidInputError(f"{table}: a merge needs keys= (the columns that identify a row)")
    if replace_where is not None and mode != "overwrite":
        raise InvalidInputError(f"{table}: replace_where= goes with mode='overwrite'")
    if (delete_marker is not None or latest_by is not None) and mode != "merge":
        raise InvalidInputError(f"{table}: delete_marker= and latest_by= go with mode='merge'")
    writer = writer or WriterInfo.from_env(tool="python")
    settings = settings or LakeSettings.from_env()
    _refuse_parquet(location, table)
    with Source(data) as source:
        _check_columns(
            table,
            source.schema,
            [*keys, *(partition_by or []), *([latest_by] if latest_by else [])],
        )
        if delete_marker is not None:
            _check_columns(table, source.schema, [delete_marker.column])
        if mode != "append":
            source.spool()
        created_schema = source.schema
        if delete_marker is not None:  # the marker says what to do; it is not data
            created_schema = created_schema.remove(
                created_schema.get_field_index(delete_marker.column)
            )
        extra = {"mode": mode, **({"keys": keys} if keys else {})}
        configuration = _stats_configuration(created_schema, partition_by, [*keys, *stats_columns])

        handles = [opened] if opened is not None else []
        created: list[bool] = []

        def attempt() -> WriteResult:
            if _create_if_missing(
                location, table, created_schema, partition_by, writer, settings, extra,
                configuration,
            ):  # fmt: skip
                created.append(True)
            if handles:  # the first attempt; a retry reads the table afresh
                dt = handles.pop()
                dt.update_incremental()
            else:
                dt = open_table(location, table)
            if mode == "merge":
                return _merge(
                    location, dt, table, source, keys, delete_marker, latest_by, writer, extra,
                    schema_mode == "merge",
                )  # fmt: skip
            return _write(
                dt, table, source, mode, partition_by, replace_where, schema_mode, writer, extra
            )

        with _dropped_if_left_empty(location, table, created):
            return _with_retries(table, source, attempt, max_attempts)


def write_scd2(
    location: LakeLocation,
    table: TableName | str,
    snapshot: Any,
    *,
    keys: Sequence[str],
    tracked: Sequence[str] | None = None,
    as_of: datetime | None = None,
    writer: WriterInfo | None = None,
    settings: LakeSettings | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> WriteResult:
    """Apply a source snapshot to an SCD type 2 dimension ``table``, in one commit.

    For each key: a new key gets a current row; a key whose ``tracked`` columns (default:
    every column but the keys) changed gets its current row closed (``valid_to`` =
    ``as_of``, ``is_current`` false) and a new current row (``valid_from`` = ``as_of``);
    a key missing from the snapshot gets its current row closed. Unchanged keys are not
    touched. ``as_of`` defaults to now (UTC).
    """
    table = TableName.parse(table)
    keys = list(keys)
    if not keys:
        raise InvalidInputError(f"{table}: SCD2 needs keys= (the columns that identify a row)")
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    writer = writer or WriterInfo.from_env(tool="scd2")
    settings = settings or LakeSettings.from_env()
    _refuse_parquet(location, table)
    with Source(snapshot) as source:
        clash = [c for c in SCD2_COLUMNS if c in source.schema.names]
        if clash:
            raise InvalidInputError(f"{table}: the snapshot may not have the columns {clash}")
        _check_columns(table, source.schema, [*keys, *(tracked or [])])
        source.spool()
        stamp = pa.timestamp("us", tz="UTC")
        schema = pa.schema(
            [
                *source.schema,
                pa.field("valid_from", stamp),
                pa.field("valid_to", stamp),
                pa.field("is_current", pa.bool_()),
            ]
        )
        # A dimension's rows are identified by key and valid_from (diff uses these).
        extra = {"mode": "scd2", "keys": [*keys, "valid_from"], "as_of": as_of.isoformat()}

        created: list[bool] = []

        def attempt() -> WriteResult:
            if _create_if_missing(location, table, schema, None, writer, settings, extra):
                created.append(True)
            dt = open_table(location, table)
            staged = staged_changes(location, table, dt.version(), source, keys, tracked, as_of)
            if staged.num_rows == 0:  # nothing changed: no commit
                return WriteResult(table=str(table), version=dt.version(), operation="NONE")
            predicate = " AND ".join(
                [*(f"t.{_qi(k)} = s.{_qi('_wb_mk_' + k)}" for k in keys), "t.is_current"]
            )
            values = {_qi(c): f"s.{_qi(c)}" for c in source.schema.names}
            metrics = (
                dt.merge(
                    staged,
                    predicate,
                    source_alias="s",
                    target_alias="t",
                    streamed_exec=False,
                    writer_properties=_properties(),
                    commit_properties=_commit(writer, extra),
                )
                .when_matched_update(
                    {"valid_to": "s._wb_as_of", "is_current": "false"}, predicate="s._wb_close"
                )
                .when_not_matched_insert(
                    {
                        **values,
                        "valid_from": "s._wb_as_of",
                        "valid_to": "s._wb_open",
                        "is_current": "true",
                    },
                    predicate="s._wb_insert",
                )
                .execute()
            )
            return WriteResult(
                table=str(table),
                version=dt.version(),
                operation="MERGE",
                rows_added=metrics.get("num_target_rows_inserted"),
                rows_updated=metrics.get("num_target_rows_updated"),
                rows_removed=0,
            )

        with _dropped_if_left_empty(location, table, created):
            return _with_retries(table, source, attempt, max_attempts)


def delete(
    location: LakeLocation,
    table: TableName | str,
    where: str | None = None,
    *,
    writer: WriterInfo | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> WriteResult:
    """Delete the rows matching ``where`` (a SQL predicate; None: every row)."""
    table = TableName.parse(table)
    writer = writer or WriterInfo.from_env(tool="python")

    def attempt() -> WriteResult:
        dt = open_table(location, table)
        metrics = dt.delete(
            where,
            writer_properties=_properties(),
            commit_properties=_commit(writer, {"mode": "delete"}),
        )
        return WriteResult(
            table=str(table),
            version=dt.version(),
            operation="DELETE",
            rows_added=0,
            rows_removed=metrics.get("num_deleted_rows"),
        )

    return _with_retries(table, None, attempt, max_attempts)


def update(
    location: LakeLocation,
    table: TableName | str,
    set_values: dict[str, str],
    where: str | None = None,
    *,
    writer: WriterInfo | None = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
) -> WriteResult:
    """Set columns to SQL expressions (``{"status": "'paid'"}``) where ``where`` holds."""
    table = TableName.parse(table)
    writer = writer or WriterInfo.from_env(tool="python")
    if not set_values:
        raise InvalidInputError(f"{table}: an update needs at least one column to set")

    def attempt() -> WriteResult:
        dt = open_table(location, table)
        metrics = dt.update(
            updates={_qi(k): v for k, v in set_values.items()},
            predicate=where,
            writer_properties=_properties(),
            commit_properties=_commit(writer, {"mode": "update"}),
        )
        return WriteResult(
            table=str(table),
            version=dt.version(),
            operation="UPDATE",
            rows_updated=metrics.get("num_updated_rows"),
        )

    return _with_retries(table, None, attempt, max_attempts)


def compact(
    location: LakeLocation, table: TableName | str, *, writer: WriterInfo
) -> tuple[int, int, int]:
    """Compact small files (OPTIMIZE); (version afterwards, files added, files removed)."""
    table = TableName.parse(table)

    def attempt() -> tuple[int, int, int]:
        dt = open_table(location, table)
        metrics = dt.optimize.compact(
            writer_properties=_properties(),
            commit_properties=_commit(writer, {"mode": "optimize"}),
        )
        return dt.version(), metrics.get("numFilesAdded", 0), metrics.get("numFilesRemoved", 0)

    return _with_retries(table, None, attempt, DEFAULT_ATTEMPTS)


def vacuum_files(
    location: LakeLocation, table: TableName | str, *, retention_hours: int, writer: WriterInfo
) -> tuple[int, int]:
    """Delete files no version younger than ``retention_hours`` needs; (version, files)."""
    table = TableName.parse(table)
    dt = open_table(location, table)
    try:
        deleted = dt.vacuum(
            retention_hours=retention_hours,
            dry_run=False,
            enforce_retention_duration=False,  # the layer's retention (settings) governs
            commit_properties=_commit(writer, {"mode": "vacuum"}),
        )
    except Exception as exc:
        raise _domain_error(table, exc) from exc
    return dt.version(), len(deleted)


def convert(
    location: LakeLocation,
    table: TableName | str,
    *,
    partitions: pa.Schema | None,
    writer: WriterInfo,
    settings: LakeSettings,
) -> int:
    """Make the Parquet files of ``table``'s folder a Delta table in place (version 0).

    Nothing is copied or moved: the one new object is the first commit of the log, put
    only if absent. Until it exists Parquet readers read the files as before; once it
    exists Delta readers read the same files.
    """
    table = TableName.parse(table)
    try:
        convert_to_deltalake(
            location.uri(table),
            mode="error",
            partition_by=Schema.from_arrow(partitions) if partitions is not None else None,
            partition_strategy="hive" if partitions is not None else None,
            configuration=settings.table_configuration(table.layer),
            storage_options=location.storage_options(),
            commit_properties=_commit(writer, {"mode": "convert"}),
        )
    except Exception as exc:
        raise _domain_error(table, exc) from exc
    return open_table(location, table).version()


# -- how each write is made ----------------------------------------------------------------
def _write(
    dt: DeltaTable,
    table: TableName,
    source: Source,
    mode: str,
    partition_by: Sequence[str] | None,
    replace_where: str | None,
    schema_mode: str | None,
    writer: WriterInfo,
    extra: dict[str, Any],
) -> WriteResult:
    replaced = _rows_replaced(dt, replace_where) if mode == "overwrite" else 0
    if mode == "overwrite" and replace_where is None and schema_mode is None:
        schema_mode = "overwrite"  # a full overwrite is a new table: CREATE OR REPLACE
    data = source.open()
    rows = data.num_rows if isinstance(data, pa.Table) else None
    counted = _Counted(data) if rows is None else None
    _write_deltalake(
        dt,
        counted.reader if counted is not None else data,
        mode=mode,
        partition_by=list(partition_by) if partition_by else None,
        predicate=replace_where,
        schema_mode=schema_mode,
        writer_properties=_properties(),
        commit_properties=_commit(
            writer,
            {**extra, **({"rows_replaced": replaced} if mode == "overwrite" else {})},
            retries=APPEND_COMMIT_RETRIES if mode == "append" else 0,
        ),
    )
    return WriteResult(
        table=str(table),
        version=dt.version(),
        operation="WRITE",
        rows_added=rows if counted is None else counted.rows,
        rows_removed=replaced,
    )


def _merge(
    location: LakeLocation,
    dt: DeltaTable,
    table: TableName,
    source: Source,
    keys: list[str],
    marker: DeleteMarker | None,
    latest_by: str | None,
    writer: WriterInfo,
    extra: dict[str, Any],
    new_columns: bool = False,
) -> WriteResult:
    """A merge by ``keys``; ``new_columns`` (``schema_mode="merge"``): the source's
    columns the table lacks are added to it, in the merge's own commit (delta-rs's merge
    does that; the copy-on-write path writes the table's columns only)."""
    data = source.open()
    if latest_by is not None:
        data = merging.latest_per_key(location, data, keys, latest_by)
    target = set(pa.schema(dt.schema().to_arrow()).names)
    missing = [k for k in keys if k not in target]
    if missing:
        raise InvalidInputError(f"{table} has no column {missing[0]!r} to merge by")
    if isinstance(data, pa.Table):
        merging.duplicated_keys(table, data, keys)
    spooled = source.spool_path if latest_by is None else None
    added = [
        n for n in data.schema.names if n not in target and (marker is None or n != marker.column)
    ]
    evolve = new_columns and bool(added)
    plan = (
        merging.copy_on_write(
            location, table, dt, data if isinstance(data, pa.Table) else spooled, keys, marker
        )
        if (isinstance(data, pa.Table) or spooled) and not evolve
        else None
    )
    if plan is not None:
        if not plan.actions:  # nothing matched, nothing new: no commit
            return WriteResult(table=str(table), version=dt.version(), operation="NONE")
        counts = {
            "rows_inserted": plan.inserted,
            "rows_updated": plan.updated,
            "rows_deleted": plan.deleted,
        }
        # This call leaves ``dt`` at the version it read: the commit is found by its id.
        commit_id = uuid.uuid4().hex
        read_version = dt.version()
        dt.create_write_transaction(
            plan.actions,
            mode="append",
            schema=dt.schema(),
            commit_properties=_commit(writer, {**extra, **counts, "commit_id": commit_id}),
        )
        return WriteResult(
            table=str(table),
            version=history.find_commit(location, table, read_version, commit_id),
            operation="MERGE",
            rows_added=plan.inserted,
            rows_updated=plan.updated,
            rows_removed=plan.deleted,
        )
    predicate = " AND ".join(f"t.{_qi(k)} = s.{_qi(k)}" for k in keys)
    merger = dt.merge(
        data,
        predicate,
        source_alias="s",
        target_alias="t",
        merge_schema=evolve,
        streamed_exec=not isinstance(data, pa.Table),
        writer_properties=_properties(),
        commit_properties=_commit(writer, extra),
    )
    if marker is not None:
        except_cols = [marker.column] if marker.column not in target else None
        is_delete = f"s.{_qi(marker.column)} = {_ql(marker.value)}"
        merger = (
            merger.when_matched_delete(predicate=is_delete)
            .when_matched_update_all(except_cols=except_cols)
            .when_not_matched_insert_all(
                predicate=f"s.{_qi(marker.column)} IS NULL OR NOT ({is_delete})",
                except_cols=except_cols,
            )
        )
    else:
        merger = merger.when_matched_update_all().when_not_matched_insert_all()
    metrics = merger.execute()
    return WriteResult(
        table=str(table),
        version=dt.version(),
        operation="MERGE",
        rows_added=metrics.get("num_target_rows_inserted"),
        rows_updated=metrics.get("num_target_rows_updated"),
        rows_removed=metrics.get("num_target_rows_deleted"),
    )


def _rows_replaced(dt: DeltaTable, replace_where: str | None) -> int:
    """Rows an overwrite replaces: all of them, or those matching its predicate."""
    if replace_where is None:
        actions = pa.table(dt.get_add_actions(flatten=True))
        return int(pc.sum(actions["num_records"]).as_py() or 0)
    try:
        found = (
            QueryBuilder()
            .register("t", dt)
            .execute(f"SELECT count(*) AS n FROM t WHERE {replace_where}")
        )
        return int(pa.table(found.read_all())["n"][0].as_py())
    except Exception as exc:
        raise InvalidInputError(f"replace_where {replace_where!r}: {_first_line(exc)}") from None


def _create_if_missing(
    location: LakeLocation,
    table: TableName,
    schema: pa.Schema,
    partition_by: Sequence[str] | None,
    writer: WriterInfo,
    settings: LakeSettings,
    extra: dict[str, Any],
    configuration: dict[str, str] | None = None,
) -> bool:
    """Create ``table`` (version 0, empty) with the layer's retention (and
    ``configuration``), unless it exists; whether this call created it.

    A table is created on its own commit so that two writers creating it at once agree
    (one creates it, the other finds it) and each write after is a plain write. The
    create is never retried: delta-rs would commit the loser's create again as the next
    version (a second, empty CREATE TABLE in the table's history). The loser's create
    fails (``mode="error"``, its commit not retried) and it finds the table.
    """
    if is_delta(location, table):
        return False
    # SQL reads lake names in any case (one DuckDB view for gold.Positive and
    # gold.positive): a second table of the same name in another case could not be read.
    twin = next(
        (
            t.table
            for t in list_tables(location)
            if t.table.lower() == str(table).lower() and t.table != str(table)
        ),
        None,
    )
    if twin is not None:
        raise InvalidInputError(
            f"{table}: the lake has {twin}, and SQL reads lake names in any case (one view "
            f"for both); write {twin}"
        )
    try:
        DeltaTable.create(
            location.uri(table),
            schema,
            mode="error",
            partition_by=list(partition_by) if partition_by else None,
            configuration={**settings.table_configuration(table.layer), **(configuration or {})},
            storage_options=location.storage_options(),
            commit_properties=_commit(writer, {**extra, "mode": "create"}, retries=0),
        )
    except Exception as exc:
        if is_delta(location, table):
            return False  # another writer created it first
        raise _domain_error(table, exc) from exc
    return True


@contextmanager
def _dropped_if_left_empty(location: LakeLocation, table: TableName, created: list[bool]):
    """Remove ``table`` when the write that ``created`` it failed and its log still holds
    only that empty create: a failed first write leaves no table (readers, the catalog
    and a notebook's ``CREATE TABLE`` would otherwise find an empty one).

    A table another write has committed to since (its log has a version 1) is kept.
    """
    try:
        yield
    except BaseException:
        if created:
            _drop_if_only_created(location, table)
        raise


def _drop_if_only_created(location: LakeLocation, table: TableName) -> None:
    fs, _ = location.filesystem()
    folder = location.fs_path(table)
    try:
        entries = fs.get_file_info(FileSelector(f"{folder}/_delta_log", allow_not_found=True))
        names = {info.base_name for info in entries}
        if names != {f"{0:020d}.json"}:  # another commit, a checkpoint: not ours alone
            return
        fs.delete_file(f"{folder}/_delta_log/{0:020d}.json")  # no longer a Delta table
        fs.delete_dir(folder)  # with the files the failed write left
    except OSError as exc:  # the write's own error matters more; say what is left
        log.warning("%s: could not remove the empty table a failed write made: %s", table, exc)


def _stats_configuration(
    schema: pa.Schema, partition_by: Sequence[str] | None, wanted: Sequence[str]
) -> dict[str, str]:
    """``delta.dataSkippingStatsColumns`` for a new table whose ``wanted`` columns are not
    all among the first 32 data columns (whose statistics Delta keeps by default): those
    32 and the wanted ones. Nothing when the default covers them."""
    partitions = set(partition_by or [])
    data = [name for name in schema.names if name not in partitions]
    default = data[:STATS_DEFAULT_COLUMNS]
    extra = [name for name in dict.fromkeys(wanted) if name in data and name not in default]
    if not extra:
        return {}
    listed = ",".join(
        name if _PLAIN_NAME.fullmatch(name) else "`" + name.replace("`", "``") + "`"
        for name in [*default, *extra]
    )
    return {"delta.dataSkippingStatsColumns": listed}


def _refuse_parquet(location: LakeLocation, table: TableName) -> None:
    if not is_delta(location, table) and parquet_files(location, table):
        raise ConflictError(
            f"{table} is a Parquet dataset, read-only until converted: run "
            "`workbench lake migrate` to make it a Delta table"
        )


def _check_columns(table: TableName, schema: pa.Schema, columns: Sequence[str]) -> None:
    for column in columns:
        if column not in schema.names:
            raise InvalidInputError(
                f"{table}: the data has no column {column!r} (it has {', '.join(schema.names)})"
            )


def _properties() -> WriterProperties:
    return WriterProperties(max_row_group_size=ROW_GROUP_ROWS)


def _commit(
    writer: WriterInfo, extra: dict[str, Any], retries: int | None = None
) -> CommitProperties:
    return CommitProperties(
        custom_metadata=writer.commit_metadata(extra), max_commit_retries=retries
    )


def _with_retries(
    table: TableName, source: Source | None, attempt: Callable[[], Any], max_attempts: int
) -> Any:
    """Run ``attempt``; again, after a short random pause, when its commit conflicted."""
    for number in range(1, max_attempts + 1):
        try:
            result = attempt()
        except CommitFailedError as exc:
            replayable = source is None or source.replayable
            if not replayable or number >= max_attempts:
                raise ConflictError(
                    f"{table}: concurrent writes changed what this write read, "
                    f"{number} time(s) ({_first_line(exc)}); run it again"
                ) from None
            log.info("%s: commit conflict on attempt %d, retrying", table, number)
            time.sleep(random.uniform(0.05, 0.25) * 2 ** (number - 1))  # noqa: S311
            continue
        except WorkbenchError:
            raise
        except Exception as exc:
            if source is not None:
                source.raise_caller_error()
            raise _domain_error(table, exc) from exc
        if isinstance(result, WriteResult):
            return result.model_copy(update={"commit_attempts": number})
        return result
    raise AssertionError("unreachable")


def _domain_error(table: TableName, exc: BaseException) -> BaseException:
    """A delta-rs error as the workbench's own, with its first line as the reason."""
    if isinstance(exc, WorkbenchError):
        return exc
    if isinstance(exc, SchemaMismatchError):
        return InvalidInputError(f"{table}: the data does not fit the table: {_first_line(exc)}")
    if isinstance(exc, (DeltaProtocolError, DeltaError)):
        return InvalidInputError(f"{table}: {_first_line(exc)}")
    if isinstance(exc, OSError):
        return SourceUnavailableError(f"{table}: the lake storage failed: {_first_line(exc)}")
    if type(exc) is Exception:  # how delta-rs reports Arrow errors (a cast that fails)
        return InvalidInputError(f"{table}: the data does not fit the table: {_first_line(exc)}")
    return exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class _Counted:
    """A stream that counts the rows passing through it."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.rows = 0
        self.reader = pa.RecordBatchReader.from_batches(reader.schema, self._batches(reader))

    def _batches(self, reader: pa.RecordBatchReader):
        for batch in reader:
            self.rows += batch.num_rows
            yield batch
