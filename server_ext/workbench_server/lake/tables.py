"""Finding and opening a lake's tables: Delta tables, and Parquet datasets (read-only)."""

from __future__ import annotations

import re

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from pyarrow.fs import FileSelector, FileType

from ..errors import NotFoundError, SourceUnavailableError
from ..lake_layout import LAYERS
from .location import LakeLocation
from .models import NAME_PATTERN, TableInfo, TableName

_NAME = re.compile(NAME_PATTERN)


def is_delta(location: LakeLocation, table: TableName | str) -> bool:
    """Whether ``table`` is a Delta table: its log has a first commit, or a checkpoint
    once old commits are cleaned up.

    Asked through pyarrow's filesystem, which releases Python's GIL while it waits, not
    with ``DeltaTable.is_deltatable`` (delta-rs 1.6 holds the GIL there, as in
    ``history()``; see :mod:`.history`).
    """
    fs, _ = location.filesystem()
    log = f"{location.fs_path(table)}/_delta_log"
    try:
        found = fs.get_file_info([f"{log}/{0:020d}.json", f"{log}/_last_checkpoint"])
    except OSError as exc:
        raise SourceUnavailableError(f"lake {location.name}: {_first_line(exc)}") from None
    return any(info.type == FileType.File for info in found)


def open_table(
    location: LakeLocation, table: TableName | str, version: int | None = None
) -> DeltaTable:
    """The Delta table ``table`` (as of ``version``); not found with a hint otherwise."""
    table = TableName.parse(table)
    try:
        return DeltaTable(
            location.uri(table), version=version, storage_options=location.storage_options()
        )
    except TableNotFoundError:
        if version is not None and is_delta(location, table):
            raise NotFoundError(f"{table} has no version {version}") from None
        if parquet_files(location, table):
            raise NotFoundError(
                f"{table} is a Parquet dataset, not a Delta table (read-only, without "
                "versions); `workbench lake migrate` converts it"
            ) from None
        raise NotFoundError(f"no lake table {table} in {location.name}") from None
    except OSError as exc:
        raise SourceUnavailableError(f"lake {location.name}: {_first_line(exc)}") from None


def parquet_files(location: LakeLocation, table: TableName | str) -> list[str]:
    """The Parquet files of a dataset that is not a Delta table (paths in the lake's
    filesystem): ``<layer>/<name>/**.parquet`` or a single ``<layer>/<name>.parquet``."""
    table = TableName.parse(table)
    fs, _ = location.filesystem()
    folder = location.fs_path(table)
    info = fs.get_file_info([folder, f"{folder}.parquet"])
    if info[0].type == FileType.Directory:
        found = fs.get_file_info(FileSelector(folder, recursive=True))
        return sorted(
            f.path
            for f in found
            if f.type == FileType.File
            and f.path.endswith(".parquet")
            and not any(p.startswith(("_", ".")) for p in f.path[len(folder) + 1 :].split("/"))
        )
    if info[1].type == FileType.File:
        return [info[1].path]
    return []


def list_tables(location: LakeLocation) -> list[TableInfo]:
    """Every table of the lake's layers: Delta tables and Parquet datasets."""
    fs, root = location.filesystem()
    try:
        entries = fs.get_file_info([f"{root}/{layer}" for layer in LAYERS])
        out: list[TableInfo] = []
        for layer, entry in zip(LAYERS, entries, strict=True):
            if entry.type != FileType.Directory:
                continue
            for child in fs.get_file_info(FileSelector(entry.path)):
                name = child.base_name
                if child.type == FileType.File and name.endswith(".parquet"):
                    name = name.removesuffix(".parquet")
                elif child.type != FileType.Directory:
                    continue
                if not _NAME.fullmatch(name):
                    continue
                table = TableName(layer=layer, name=name)
                delta = child.type == FileType.Directory and is_delta(location, table)
                if not delta and not parquet_files(location, table):
                    continue  # an empty folder, or one a write is creating
                out.append(
                    TableInfo(
                        table=str(table),
                        format="delta" if delta else "parquet",
                        location=location.uri(table),
                    )
                )
    except OSError as exc:
        raise SourceUnavailableError(f"lake {location.name}: {_first_line(exc)}") from None
    # A folder and a file of the same name (a migration half done): one entry, Delta first.
    unique: dict[str, TableInfo] = {}
    for info in out:
        if info.table not in unique or info.format == "delta":
            unique[info.table] = info
    return sorted(unique.values(), key=lambda t: t.table)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
