"""Discover a lake (a folder or an S3 prefix) of Parquet datasets with pyarrow.

One listing of the files, grouped into datasets by the lake layout (layer from the
path: bronze, silver, gold). Per dataset: file count, bytes, hive partition keys, the
schema from Parquet footers (merged over files, so added columns show), and the row
count from the same footers. A dataset with a ``_delta_log`` is marked as Delta; its
data files are counted as they lie (the log is not replayed). Previews read only the
first row groups they need.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..lake_layout import MAIN, dataset_key, partition_values
from .discovered import Discovery, FoundColumn, FoundTable
from .pii import DEFAULT_RULES, PiiRules
from .preview import Preview, json_value

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

    from ..connections.kinds import LakeConfig

FOOTERS_PER_DATASET = 200  # beyond this, row counts are extrapolated from the footers read


class LakeUnavailable(Exception):
    """The lake cannot be listed; ``str()`` says why."""


@dataclass
class _Dataset:
    layer: str
    name: str
    base: str  # the dataset's folder, where hive partitions start
    files: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes)
    partitions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    delta: bool = False


def _filesystem(cfg: LakeConfig) -> tuple[FileSystem, str]:
    from pyarrow.fs import LocalFileSystem

    from ..connections.lake import s3_filesystem

    if cfg.is_s3:
        return s3_filesystem(cfg), cfg.location.removeprefix("s3://").rstrip("/")
    return LocalFileSystem(), cfg.location.rstrip("/")


def _datasets(cfg: LakeConfig) -> tuple[FileSystem, dict[tuple[str, str], _Dataset]]:
    from pyarrow.fs import FileSelector, FileType

    fs, root = _filesystem(cfg)
    try:
        infos = fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=False))
    except (OSError, FileNotFoundError) as exc:
        raise LakeUnavailable(f"cannot list {cfg.location}: {exc}") from None
    datasets: dict[tuple[str, str], _Dataset] = {}
    deltas: set[tuple[str, ...]] = set()
    # Pipeline steps write the lake: in a local one, a file or folder a step swapped for
    # a link could make the service read anything it may. Only what is really below the
    # lake's folder counts (a link made after this check is a race left to the OS rights
    # of the service's account).
    real_root = None if cfg.is_s3 else os.path.realpath(root)
    for info in infos:
        relative = info.path[len(root) + 1 :].split("/")
        if real_root is not None and os.path.realpath(info.path) != os.path.join(
            real_root, *relative
        ):
            continue
        if "_delta_log" in relative:
            deltas.add(tuple(relative[: relative.index("_delta_log")]))
        if info.type != FileType.File or not info.path.endswith(".parquet"):
            continue
        key = dataset_key(relative)
        if key is None:
            continue
        depth = 2 if key[0] != MAIN else 1
        dataset = datasets.setdefault(key, _Dataset(*key, "/".join([root, *relative[:depth]])))
        dataset.files.append((info.path, info.size or 0))
        for k, v in partition_values(relative[depth:]).items():
            dataset.partitions[k].add(v)
    for (layer, name), dataset in datasets.items():
        folder = (layer, name) if layer != MAIN else (name,)
        dataset.delta = folder in deltas
        dataset.files.sort()
    return fs, datasets


def discover_lake(cfg: LakeConfig, pii: PiiRules = DEFAULT_RULES) -> Discovery:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, datasets = _datasets(cfg)
    tables = []
    for (layer, name), dataset in sorted(datasets.items()):
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
                auto_tags=pii.tags(name, f.name),
            )
            for i, f in enumerate(schema or [])
        ]
        known = {c.name for c in columns}
        for key in sorted(dataset.partitions):
            if key not in known:
                columns.append(
                    FoundColumn(name=key, position=len(columns) + 1, data_type="partition")
                )
        tables.append(
            FoundTable(
                schema=layer,
                name=name,
                kind="dataset",
                layer=layer if layer != MAIN else None,
                row_estimate=rows,
                size_bytes=sum(size for _, size in dataset.files),
                columns=columns,
                extra={
                    "format": "delta" if dataset.delta else "parquet",
                    "files": len(dataset.files),
                    "partitions": {k: len(v) for k, v in sorted(dataset.partitions.items())},
                },
            )
        )
    return Discovery(tables=tables, queries=1)


def preview_lake(cfg: LakeConfig, schema: str, table: str, limit: int) -> Preview:
    import pyarrow.dataset as ds

    started = time.perf_counter()
    fs, datasets = _datasets(cfg)
    dataset = datasets.get((schema, table))
    if dataset is None:
        raise LakeUnavailable(f"{schema}.{table} is no longer in {cfg.location}")
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
