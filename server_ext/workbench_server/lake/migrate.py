"""``workbench lake migrate``: Parquet datasets of the layers become Delta tables.

In place and atomic: a dataset folder's files are neither copied nor moved; the one new
object is the log's first commit (``_delta_log/00000000000000000000.json``), which
delta-rs creates only if absent (a rename that does not replace on a local disk, a
conditional put on S3). Until it exists, Parquet readers read the files as before; from
then on, Delta readers read the same files as version 0. A single-file dataset
(``<layer>/<name>.parquet``) is first copied into ``<layer>/<name>/`` (both hold the
same rows while the copy is converted) and removed once the table exists.

Hive partition folders (``year=2026/``) become the table's partition columns, typed as
integers or dates when every value is one (strings otherwise), as DuckDB's
``hive_partitioning`` typed them for readers of the Parquet dataset.
"""

from __future__ import annotations

import re
from datetime import date

import pyarrow as pa
from pyarrow.fs import FileType

from ..errors import WorkbenchError
from . import writes
from .location import LakeLocation
from .models import MigrationResult, TableName, WriterInfo
from .settings import LakeSettings
from .tables import list_tables, parquet_files

MIGRATED_FILE = "part-00000-migrated.parquet"


def migrate(
    location: LakeLocation,
    settings: LakeSettings | None = None,
    writer: WriterInfo | None = None,
) -> list[MigrationResult]:
    """Convert every Parquet dataset of the lake's layers; report each."""
    settings = settings or LakeSettings.from_env()
    writer = writer or WriterInfo.from_env(tool="migrate")
    results = []
    for info in list_tables(location):
        table = TableName.parse(info.table)
        if info.format == "delta":
            results.append(MigrationResult(table=str(table), status="already_delta"))
            continue
        try:
            results.append(_convert(location, table, settings, writer))
        except (WorkbenchError, OSError, ValueError) as exc:
            message = str(exc).strip().splitlines()[0][:300] if str(exc) else type(exc).__name__
            results.append(MigrationResult(table=str(table), status="failed", message=message))
    return results


def _convert(
    location: LakeLocation, table: TableName, settings: LakeSettings, writer: WriterInfo
) -> MigrationResult:
    fs, _ = location.filesystem()
    folder = location.fs_path(table)
    files = parquet_files(location, table)
    single = fs.get_file_info(f"{folder}.parquet").type == FileType.File
    if single:
        copy = f"{folder}/{MIGRATED_FILE}"
        if any(f not in (copy, f"{folder}.parquet") for f in files):
            raise ValueError(
                f"both a folder {table.name}/ and a file {table.name}.parquet hold data; "
                "keep one of them and migrate again"
            )
        fs.create_dir(folder, recursive=True)
        fs.copy_file(f"{folder}.parquet", copy)  # again, if a previous migration stopped
        files = [copy]
    partitions = partition_schema([f[len(folder) + 1 :] for f in files])
    version = writes.convert(
        location, table, partitions=partitions, writer=writer, settings=settings
    )
    if single:
        fs.delete_file(f"{folder}.parquet")
    shown = f" partitioned by {', '.join(partitions.names)}" if partitions else ""
    return MigrationResult(
        table=str(table),
        status="converted",
        files=len(files),
        message=f"version {version}{shown}",
    )


def partition_schema(relative_paths: list[str]) -> pa.Schema | None:
    """The hive partition columns of a dataset's files, typed; None if unpartitioned.

    Every file must sit under the same partition keys in the same order.
    """
    layouts = set()
    values: dict[str, set[str]] = {}
    for path in relative_paths:
        parts = path.split("/")[:-1]
        keys = []
        for part in parts:
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise ValueError(f"{path}: a folder that is not a key=value partition")
            keys.append(key)
            values.setdefault(key, set()).add(value)
        layouts.add(tuple(keys))
    if len(layouts) != 1:
        raise ValueError(
            "its files are partitioned in different ways "
            f"({'; '.join('/'.join(k) or 'none' for k in sorted(layouts))})"
        )
    keys = next(iter(layouts))
    if not keys:
        return None
    return pa.schema([pa.field(key, _type_of(values[key])) for key in keys])


def _type_of(found: set[str]) -> pa.DataType:
    present = {v for v in found if v != "__HIVE_DEFAULT_PARTITION__"}
    if present and all(re.fullmatch(r"-?[0-9]{1,18}", v) for v in present):
        return pa.int64()
    if present and all(_is_date(v) for v in present):
        return pa.date32()
    return pa.string()


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) is not None
