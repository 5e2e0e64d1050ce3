"""Discover a lake (a folder or an S3 prefix): Delta tables and Parquet datasets.

The lake layout (:mod:`..lake_layout`) says which folder is a dataset: ``<layer>/<name>``
for bronze, silver and gold, anything else at the top in the ``main`` layer. A dataset
folder with a Delta log is a Delta table, described from its log (:mod:`.delta`): its
current files are the log's, not every file in the folder. Any other dataset is Parquet,
read as before: one listing of its files, hive partition keys from their paths, the
schema from Parquet footers (merged over files, so added columns show) and the row
count from the same footers. Previews of Parquet datasets read only the first row
groups they need; those of Delta tables go through the lake library.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..lake_layout import LAYERS, MAIN, partition_values
from . import delta
from .delta import DeltaFolder, UnsafeTable
from .discovered import Discovery, FoundColumn, FoundTable
from .pii import DEFAULT_RULES, PiiRules
from .preview import Preview, json_value

if TYPE_CHECKING:
    from pyarrow.fs import FileInfo, FileSystem

    from ..lake.location import LakeLocation

log = logging.getLogger(__name__)

FOOTERS_PER_DATASET = 200  # beyond this, row counts are extrapolated from the footers read
READERS = 8  # folders examined at once (S3 round trips overlap; pyarrow frees the GIL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class LakeUnavailable(Exception):
    """The lake cannot be listed or a table's log read; ``str()`` says why."""


@dataclass
class _Dataset:
    layer: str
    name: str
    files: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes)
    partitions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


@dataclass
class _Lake:
    """What one walk of the lake found."""

    fs: FileSystem
    parquet: dict[tuple[str, str], _Dataset]
    delta: dict[tuple[str, str], DeltaFolder]


class _Walk:
    """Lists a lake's dataset folders, keeping what really lies below its root.

    Pipeline steps write the lake: in a local one, a file or folder a step swapped for
    a link could make the service read anything it may. Only what is really below the
    lake's folder counts (a link made after this check is a race left to the OS rights
    of the service's account).
    """

    def __init__(self, location: LakeLocation) -> None:
        self.location = location
        self.fs, self.root = location.filesystem()
        self.real_root = None if location.is_s3 else os.path.realpath(self.root)

    def inside(self, path: str) -> bool:
        if self.real_root is None:
            return True
        relative = path[len(self.root) + 1 :].split("/")
        return os.path.realpath(path) == os.path.join(self.real_root, *relative)

    def children(self, path: str) -> list[FileInfo]:
        from pyarrow.fs import FileSelector

        return [
            info
            for info in self.fs.get_file_info(FileSelector(path))
            if not info.base_name.startswith((".", "_")) and self.inside(info.path)
        ]

    def run(self, only: set[tuple[str, str]] | None = None) -> _Lake:
        """Every dataset of the lake, or only the ``(layer, name)`` ones in ``only``."""
        from pyarrow.fs import FileSelector, FileType

        found: list[tuple[str, str, FileInfo]] = []  # (layer, name, entry)
        try:
            if only is not None:
                found = self._named(only)
            else:
                top = self.fs.get_file_info(FileSelector(self.root, allow_not_found=False))
                for entry in top:
                    if entry.base_name.startswith((".", "_")) or not self.inside(entry.path):
                        continue
                    if entry.type == FileType.Directory and entry.base_name in LAYERS:
                        found += [(entry.base_name, _name(c), c) for c in self.children(entry.path)]
                    else:
                        found.append((MAIN, _name(entry), entry))
            with ThreadPoolExecutor(max_workers=READERS) as pool:
                examined = list(pool.map(lambda item: self.examine(*item), found))
        except OSError as exc:
            raise LakeUnavailable(f"cannot list {self.location.root}: {exc}") from None
        parquet: dict[tuple[str, str], _Dataset] = {}
        deltas: dict[tuple[str, str], DeltaFolder] = {}
        for (layer, name, _), result in zip(found, examined, strict=True):
            if isinstance(result, DeltaFolder):
                deltas[(layer, name)] = result
            elif result:
                dataset = parquet.setdefault((layer, name), _Dataset(layer, name))
                for path, size, partitions in result:
                    dataset.files.append((path, size))
                    for key, value in partitions.items():
                        dataset.partitions[key].add(value)
        for key in deltas.keys() & parquet.keys():  # a migration half done: Delta wins
            del parquet[key]
        for dataset in parquet.values():
            dataset.files.sort()
        return _Lake(self.fs, parquet, deltas)

    def _named(self, only: set[tuple[str, str]]) -> list[tuple[str, str, FileInfo]]:
        """The folder and single file each named dataset may be (those that exist)."""
        from pyarrow.fs import FileType

        paths = []
        for layer, name in sorted(only):
            if not _NAME.fullmatch(name) or (layer != MAIN and layer not in LAYERS):
                continue
            folder = f"{self.root}/{name}" if layer == MAIN else f"{self.root}/{layer}/{name}"
            paths += [(layer, name, folder), (layer, name, f"{folder}.parquet")]
        infos = self.fs.get_file_info([path for _, _, path in paths]) if paths else []
        return [
            (layer, name, info)
            for (layer, name, _), info in zip(paths, infos, strict=True)
            if info.type != FileType.NotFound and self.inside(info.path)
        ]

    def examine(
        self, layer: str, name: str, entry: FileInfo
    ) -> DeltaFolder | list[tuple[str, int, dict[str, str]]]:
        """A Delta table's folder, or the Parquet files of a dataset (none: not one)."""
        from pyarrow.fs import FileSelector, FileType

        if not _NAME.fullmatch(name):
            return []
        if entry.type == FileType.File:
            single = entry.base_name.endswith(".parquet")
            return [(entry.path, entry.size or 0, {})] if single else []
        if entry.type != FileType.Directory:
            return []
        log_files = self.fs.get_file_info(
            FileSelector(f"{entry.path}/_delta_log", allow_not_found=True)
        )
        names = {info.base_name for info in log_files}
        commits = sum(1 for n in names if delta.COMMIT_FILE.fullmatch(n))
        if commits or "_last_checkpoint" in names:
            # delta-rs would read a linked log file, and its error could show what it read.
            linked = next((i.base_name for i in log_files if not self.inside(i.path)), None)
            unsafe = f"its log file {linked} is a link" if linked else None
            return DeltaFolder(layer, name, entry.path, commits, unsafe)
        files = []
        for info in self.fs.get_file_info(FileSelector(entry.path, recursive=True)):
            relative = info.path[len(entry.path) + 1 :].split("/")
            if (
                info.type != FileType.File
                or not info.path.endswith(".parquet")
                or any(part.startswith((".", "_")) for part in relative)
                or not self.inside(info.path)
            ):
                continue
            files.append((info.path, info.size or 0, partition_values(relative)))
        return files


def _name(entry: FileInfo) -> str:
    return entry.base_name.removesuffix(".parquet")


def discover_lake(
    location: LakeLocation,
    pii: PiiRules = DEFAULT_RULES,
    only: set[tuple[str, str]] | None = None,
) -> Discovery:
    """The lake's datasets, or only the ``(layer, name)`` ones in ``only`` (after a
    write: far cheaper than the whole lake)."""
    lake = _Walk(location).run(only)
    tables = [_parquet_table(lake.fs, dataset, pii) for dataset in lake.parquet.values()]
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        described = list(
            pool.map(lambda folder: _delta_table(location, folder, pii), lake.delta.values())
        )
    tables += [table for table in described if table is not None]
    tables.sort(key=lambda t: t.key)
    return Discovery(tables=tables, queries=1)


def _delta_table(location: LakeLocation, folder: DeltaFolder, pii: PiiRules) -> FoundTable | None:
    """The table's entry; None for one pointing outside itself. A log the storage did not
    serve fails the scan (the catalog stays as it was); a log delta-rs cannot make sense
    of is cataloged without columns, with the reason, and the rest of the lake is not held
    back by it."""
    from ..errors import SourceUnavailableError

    try:
        return delta.describe(location, folder, pii)
    except UnsafeTable as exc:
        log.warning("Lake %s: %s.%s is not cataloged: %s", location.name, *folder.key, exc)
        return None
    except (OSError, SourceUnavailableError) as exc:
        raise LakeUnavailable(
            f"cannot read the Delta log of {folder.layer}.{folder.name}: {_first_line(exc)}"
        ) from None
    except Exception as exc:  # delta-rs's own errors: a log it cannot read
        log.warning("Lake %s: cannot read %s.%s: %s", location.name, *folder.key, exc)
        return FoundTable(
            schema=folder.layer,
            name=folder.name,
            kind="dataset",
            layer=folder.layer if folder.layer in LAYERS else None,
            extra={"format": "delta", "versions": folder.commits, "error": _first_line(exc)},
        )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _parquet_table(fs: FileSystem, dataset: _Dataset, pii: PiiRules) -> FoundTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas, rows, read = [], 0, 0
    for path, _ in dataset.files[:FOOTERS_PER_DATASET]:
        with fs.open_input_file(path) as handle:
            metadata = pq.ParquetFile(handle).metadata
        schemas.append(metadata.schema.to_arrow_schema())
        rows += metadata.num_rows
        read += 1
    if read < len(dataset.files):
        rows = round(rows * len(dataset.files) / read)
    schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else None
    columns = [
        FoundColumn(
            name=f.name,
            position=i + 1,
            data_type=str(f.type),
            nullable=f.nullable,
            auto_tags=pii.tags(dataset.name, f.name),
        )
        for i, f in enumerate(schema or [])
    ]
    known = {c.name for c in columns}
    for key in sorted(dataset.partitions):
        if key not in known:
            columns.append(FoundColumn(name=key, position=len(columns) + 1, data_type="partition"))
    return FoundTable(
        schema=dataset.layer,
        name=dataset.name,
        kind="dataset",
        layer=dataset.layer if dataset.layer != MAIN else None,
        row_estimate=rows,
        size_bytes=sum(size for _, size in dataset.files),
        columns=columns,
        extra={
            "format": "parquet",
            "files": len(dataset.files),
            "partitions": {k: len(v) for k, v in sorted(dataset.partitions.items())},
        },
    )


def preview_lake(
    location: LakeLocation,
    schema: str,
    table: str,
    limit: int,
    max_bytes: int = 1_000_000,
    timeout_s: float = 5.0,
    version: int | None = None,
) -> Preview:
    """The first rows of a dataset: a Delta table's now or as of ``version`` (through
    the lake library), a Parquet dataset's as its files lie (it has no versions)."""
    from ..errors import NotFoundError

    lake = _Walk(location).run({(schema, table)})  # that dataset's folder alone
    found = lake.delta.get((schema, table))
    if found is not None:
        try:
            return delta.preview(location, found, limit, max_bytes, timeout_s, version)
        except UnsafeTable as exc:
            raise LakeUnavailable(f"{schema}.{table} is not previewed: {exc}") from None
    dataset = lake.parquet.get((schema, table))
    if dataset is None:
        raise LakeUnavailable(f"{schema}.{table} is no longer in {location.root}")
    if version is not None:
        raise NotFoundError(
            f"{schema}.{table} is a Parquet dataset without versions; `workbench lake "
            "migrate` converts it to a Delta table, which keeps them from then on"
        )
    return _preview_parquet(lake.fs, dataset, limit)


def _preview_parquet(fs: FileSystem, dataset: _Dataset, limit: int) -> Preview:
    import pyarrow.dataset as ds

    started = time.perf_counter()
    source = ds.dataset(
        [path for path, _ in dataset.files],
        filesystem=fs,
        format="parquet",
        partitioning="hive",
        partition_base_dir=dataset.files[0][0].rsplit("/", 1)[0]
        if not dataset.partitions
        else None,
    )
    head = source.head(limit)
    rows: list[list[Any]] = [
        [json_value(v) for v in record.values()] for record in head.to_pylist()
    ]
    out = Preview(columns=[(f.name, str(f.type)) for f in head.schema], rows=rows)
    if len(rows) == limit:
        out.notes.append(f"first {limit} rows")
    out.elapsed_ms = (time.perf_counter() - started) * 1000
    return out
