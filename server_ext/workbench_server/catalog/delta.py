"""Delta tables in the catalog: what their log says, and their rows as of a version.

A Delta table's current files are the ones its log adds and has not removed, not every
Parquet file in its folder (older versions' files stay until a vacuum). So the schema
and partition columns come from the log's metadata, files, rows and bytes from its add
actions (their statistics), the version from the log, and when, by whom and how the
table was last written from the lake library's versions. Previews read through the lake
library (``delta_scan``), now or as of a version.

Pipeline steps write the lake with the rights of users' code, so a table is read only if
its log names files inside its folder (no absolute path, no ``..``) and, in a local lake,
none of them (nor the folder) is a link: otherwise the service would read whatever a
step pointed it at.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..errors import NotFoundError
from ..lake import Lake, LakeSettings, TableName
from ..lake.models import NAME_PATTERN
from ..lake.tables import open_table
from ..lake_layout import LAYERS
from ..sql_text import quote_literal
from .discovered import FoundColumn, FoundTable
from .pii import PiiRules
from .preview import MAX_ROWS, Preview, fill_rows

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from ..lake.location import LakeLocation

# Commits that rewrite files without changing rows: not what "last written" means.
MAINTENANCE = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END"})
WRITER_LOOKBACK = 20  # versions looked through for the last write
COMMIT_FILE = re.compile(r"\d{20}\.json")
_TABLE_NAME = re.compile(NAME_PATTERN)


class UnsafeTable(Exception):
    """The table's log or folder points outside the table; ``str()`` says how."""


@dataclass(frozen=True)
class DeltaFolder:
    """A folder of the lake that holds a Delta table, as a listing found it."""

    layer: str  # a lake layer, or ``main`` for a table outside them
    name: str
    path: str  # in the lake's filesystem
    commits: int  # commit files in its log: the versions that can be listed
    unsafe: str | None = None  # why it must not be read (a file of its log is a link)

    @property
    def key(self) -> tuple[str, str]:
        return (self.layer, self.name)

    def table(self) -> TableName | None:
        """The lake library's name for it (tables of bronze, silver and gold)."""
        if self.layer in LAYERS and _TABLE_NAME.fullmatch(self.name):
            return TableName(layer=self.layer, name=self.name)
        return None


def table_uri(location: LakeLocation, path: str) -> str:
    return f"s3://{path}" if location.is_s3 else path


def open_folder(
    location: LakeLocation, folder: DeltaFolder, version: int | None = None
) -> DeltaTable:
    """The table (as of ``version``): through the lake library for a table of its layers
    (not found, with the reason, for a version whose log entry is gone)."""
    table = folder.table()
    if table is not None:
        return open_table(location, table, version)
    from deltalake import DeltaTable

    return DeltaTable(
        table_uri(location, folder.path),
        version=version,
        storage_options=location.storage_options(),
    )


def describe(location: LakeLocation, folder: DeltaFolder, pii: PiiRules) -> FoundTable:
    """The catalog entry of a Delta table, from its log (raises :class:`UnsafeTable`)."""
    import pyarrow as pa

    if folder.unsafe:
        raise UnsafeTable(folder.unsafe)
    dt = open_folder(location, folder)
    schema = pa.schema(dt.schema().to_arrow())
    partitions = list(dt.metadata().partition_columns)
    actions = pa.table(dt.get_add_actions(flatten=True))
    check_files(location, folder.path, [str(p) for p in actions.column("path").to_pylist()])
    sizes = actions.column("size_bytes").to_pylist()
    counts = (
        actions.column("num_records").to_pylist()
        if "num_records" in actions.column_names
        else [None] * len(sizes)
    )
    columns = [
        FoundColumn(
            name=field.name,
            position=i + 1,
            data_type=str(field.type),
            nullable=field.nullable,
            comment="partition column" if field.name in partitions else None,
            auto_tags=pii.tags(folder.name, field.name),
        )
        for i, field in enumerate(schema)
    ]
    extra: dict[str, object] = {
        "format": "delta",
        "files": len(sizes),
        "partitions": {
            column: len(set(actions.column(f"partition.{column}").to_pylist()))
            for column in partitions
            if f"partition.{column}" in actions.column_names
        },
        "version": dt.version(),
        "versions": folder.commits,
        **last_write(location, folder),
    }
    return FoundTable(
        schema=folder.layer,
        name=folder.name,
        kind="dataset",
        layer=folder.layer if folder.layer in LAYERS else None,
        row_estimate=_rows(counts, sizes),
        size_bytes=sum(sizes),
        columns=columns,
        extra=extra,
    )


def _rows(counts: list[int | None], sizes: list[int]) -> int:
    """Rows from the files' statistics; files written without any are counted at the
    rows per byte of the others (0 when no file has statistics)."""
    known = [(n, s) for n, s in zip(counts, sizes, strict=True) if n is not None]
    rows = sum(n for n, _ in known)
    if len(known) == len(sizes) or not known:
        return rows
    unknown_bytes = sum(s for n, s in zip(counts, sizes, strict=True) if n is None)
    known_bytes = sum(s for _, s in known) or 1
    return rows + round(rows * unknown_bytes / known_bytes)


def last_write(location: LakeLocation, folder: DeltaFolder) -> dict[str, Any]:
    """When, by whom and how the table's data last changed (maintenance commits are
    passed over), from the lake library's versions."""
    table = folder.table()
    if table is None:
        return {"last_write": None, "last_writer": None, "last_operation": None}
    recent = Lake(location, LakeSettings()).versions(table, limit=WRITER_LOOKBACK)
    last = next((v for v in recent if v.operation not in MAINTENANCE), None)
    if last is None and recent:
        last = recent[0]
    if last is None:
        return {"last_write": None, "last_writer": None, "last_operation": None}
    return {
        "last_write": last.timestamp.isoformat(),
        "last_writer": last.writer_text or None,
        "last_operation": last.mode or last.operation.lower(),
    }


def _paths(dt: DeltaTable) -> list[str]:
    import pyarrow as pa

    return [str(p) for p in pa.table(dt.get_add_actions(flatten=True)).column("path").to_pylist()]


def check_files(location: LakeLocation, folder: str, paths: list[str]) -> None:
    """Raise :class:`UnsafeTable` unless every file the log names is inside ``folder``
    (and, on a local disk, reached through no link)."""
    relative = []
    for raw in paths:
        path = unquote(raw)
        if "://" in path or path.startswith("/") or ".." in path.split("/"):
            raise UnsafeTable(f"its log names a file outside its folder: {raw[:200]}")
        relative.append(path)
    if location.is_s3:
        return
    _, root = location.filesystem()
    # Where the folder really is when nothing below the lake's root is a link (the root
    # itself may be reached through one).
    real = os.path.join(os.path.realpath(root), os.path.relpath(folder, root))
    if os.path.realpath(folder) != real or os.path.realpath(f"{folder}/_delta_log") != (
        f"{real}/_delta_log"
    ):
        raise UnsafeTable("its folder or its log is a link")
    for path in relative:
        if os.path.realpath(os.path.join(folder, path)) != os.path.normpath(
            os.path.join(real, path)
        ):
            raise UnsafeTable(f"its file {path[:200]} is a link")


def preview(
    location: LakeLocation,
    folder: DeltaFolder,
    limit: int,
    max_bytes: int,
    timeout_s: float,
    version: int | None = None,
) -> Preview:
    """The first rows, now or as of ``version``, read with DuckDB's ``delta_scan``
    through the lake library; bounded in rows, bytes and time."""
    import duckdb

    from ..lake import engine

    started = time.perf_counter()
    limit = max(1, min(limit, MAX_ROWS))
    if folder.unsafe:
        raise UnsafeTable(folder.unsafe)
    table = folder.table()
    if table is None:
        if version is not None:
            raise NotFoundError(
                f"{folder.layer}.{folder.name} is outside the lake's layers "
                f"({', '.join(LAYERS)}): only its current rows can be previewed"
            )
        source = f"delta_scan({quote_literal(table_uri(location, folder.path))})"
        db = engine.connect(location)
    else:
        lake = Lake(location, LakeSettings())
        if version is not None:
            latest = lake.version(table)
            if not 0 <= version <= latest:
                raise NotFoundError(f"{table} has versions 0 to {latest}, not {version}")
        source = lake.scan_sql(table, version)
        db = lake.connect()
    try:
        check_files(location, folder.path, _paths(open_folder(location, folder, version)))
        out = Preview(columns=[], rows=[])
        timer = threading.Timer(timeout_s, db.interrupt)
        timer.start()
        try:
            result = db.execute(f"SELECT * FROM {source} LIMIT {limit}")
            out.columns = [(d[0], str(d[1]).lower()) for d in result.description or []]
            fill_rows(out, iter(lambda: result.fetchmany(100), []), limit, max_bytes)
        except duckdb.InterruptException:
            out.notes.append(f"stopped: the table did not answer within {timeout_s:g} s")
        except duckdb.IOException as exc:
            if version is None:
                raise
            raise NotFoundError(
                f"version {version} of {table} can no longer be read (its files were "
                f"vacuumed after the layer's retention): {str(exc).splitlines()[0][:200]}"
            ) from None
        finally:
            timer.cancel()
    finally:
        db.close()
    if version is not None:
        out.notes.insert(0, f"as of version {version}")
    out.elapsed_ms = (time.perf_counter() - started) * 1000
    return out
