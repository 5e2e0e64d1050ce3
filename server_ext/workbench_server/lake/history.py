"""A table's versions, read from its Delta log: when, who, what, how many rows.

Each version's commit file (``_delta_log/<version>.json``) is read directly through
pyarrow's filesystem rather than with ``DeltaTable.history()``: delta-rs 1.6 holds
Python's GIL for the whole of ``history()`` (its other calls release it), so on S3 every
thread of the process, a Jupyter server's event loop included, would wait for the
storage's round trips. Reading the files also gives each commit's added rows.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pyarrow.fs import FileSelector, FileType
from pydantic import ValidationError

from ..errors import InvalidInputError, NotFoundError, SourceUnavailableError
from .location import LakeLocation
from .models import COMMIT_KEY, MAX_VERSIONS, TableName, TableVersion, WriterInfo
from .tables import open_table

READERS = 8  # commit files read at once (S3 round trips overlap)


def latest_version(location: LakeLocation, table: TableName | str) -> int:
    """The newest version: the highest commit file in the log (a commit file is written
    once, whole, and a log clean-up keeps the newest), found by listing the log rather
    than by opening the table (which reads the log: 10-30 ms a table, paid by every sql
    step for each table it reads). A log without commit files is left to delta-rs."""
    fs, _ = location.filesystem()
    try:
        found = fs.get_file_info(FileSelector(f"{location.fs_path(table)}/_delta_log"))
    except OSError:  # no such table, or the storage failed: delta-rs says which
        found = []
    versions = [
        int(info.base_name[:-5])
        for info in found
        if info.type == FileType.File
        and info.base_name.endswith(".json")
        and info.base_name[:-5].isdigit()
    ]
    if versions:
        return max(versions)
    return open_table(location, table).version()


def versions(
    location: LakeLocation,
    table: TableName | str,
    *,
    limit: int = 100,
    before: int | None = None,
) -> list[TableVersion]:
    """Up to ``limit`` versions, newest first (below ``before`` when given).

    Versions whose commit file a log clean-up has removed (older than the layer's
    retention) are not listed.
    """
    table = TableName.parse(table)
    limit = max(1, min(limit, MAX_VERSIONS))
    latest = latest_version(location, table)
    top = latest if before is None else min(before - 1, latest)
    wanted = list(range(top, max(-1, top - limit), -1))
    if not wanted:
        return []
    fs, _ = location.filesystem()
    log = f"{location.fs_path(table)}/_delta_log"

    def read(version: int) -> str | None:
        try:
            with fs.open_input_stream(f"{log}/{version:020d}.json") as stream:
                return stream.read().decode("utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SourceUnavailableError(f"lake {location.name}: {exc}") from None

    with ThreadPoolExecutor(max_workers=min(READERS, len(wanted))) as pool:
        texts = list(pool.map(read, wanted))
    out = []
    for version, text in zip(wanted, texts, strict=True):
        if text is None:
            break  # cleaned up: so are all older ones
        out.append(parse_commit(version, text))
    return out


def written_by(
    location: LakeLocation,
    table: TableName | str,
    run_id: str,
    step: str | None = None,
    limit: int = MAX_VERSIONS,
) -> list[TableVersion]:
    """The versions a run (and step) wrote, newest first, among the last ``limit``."""
    return [
        v
        for v in versions(location, table, limit=limit)
        if v.writer is not None
        and v.writer.run_id == run_id
        and (step is None or v.writer.step == step)
    ]


def find_commit(location: LakeLocation, table: TableName | str, after: int, commit_id: str) -> int:
    """The version of the commit a write tagged ``commit_id``, committed after ``after``."""
    fs, _ = location.filesystem()
    log = f"{location.fs_path(table)}/_delta_log"
    version = after + 1
    while True:
        try:
            with fs.open_input_stream(f"{log}/{version:020d}.json") as stream:
                text = stream.read().decode("utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"{table}: the commit {commit_id} is not in its log") from None
        for line in text.splitlines():
            if '"commitInfo"' in line:
                custom = json.loads(line)["commitInfo"].get(COMMIT_KEY) or {}
                if isinstance(custom, dict) and custom.get("commit_id") == commit_id:
                    return version
        version += 1


def commit_info(location: LakeLocation, table: TableName | str, version: int) -> TableVersion:
    """Version ``version`` of ``table`` (not found if it does not exist or was cleaned up)."""
    found = versions(location, table, limit=1, before=version + 1)
    if not found or found[0].version != version:
        raise NotFoundError(f"{TableName.parse(table)} has no version {version}")
    return found[0]


def version_at(location: LakeLocation, table: TableName | str, when: datetime) -> int:
    """The version that was current at ``when``: the last one committed at or before it."""
    table = TableName.parse(table)
    if when.tzinfo is None:
        raise InvalidInputError("give the time with its zone (e.g. 2026-11-30T18:00:00+00:00)")
    dt = open_table(location, table)
    try:
        dt.load_as_version(when.astimezone(UTC))
    except Exception:
        raise NotFoundError(f"{table} did not exist yet at {when.isoformat()}") from None
    # Before the first commit delta-rs loads version 0 all the same.
    if dt.version() == 0 and commit_info(location, table, 0).timestamp > when:
        raise NotFoundError(f"{table} did not exist yet at {when.isoformat()}")
    return dt.version()


def parse_commit(version: int, text: str) -> TableVersion:
    """A :class:`TableVersion` from a commit file's actions."""
    info: dict[str, Any] = {}
    added_rows = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        if "commitInfo" in action:
            info = action["commitInfo"]
        elif "add" in action and action["add"].get("dataChange", True):
            stats = action["add"].get("stats")
            if stats:
                added_rows += int(json.loads(stats).get("numRecords", 0))
    operation = str(info.get("operation", "UNKNOWN"))
    metrics = info.get("operationMetrics") or {}
    custom = info.get(COMMIT_KEY) if isinstance(info.get(COMMIT_KEY), dict) else {}
    writer = _writer(custom, info)
    added, updated, removed = _rows(operation, metrics, custom, added_rows)
    return TableVersion(
        version=version,
        timestamp=datetime.fromtimestamp(int(info.get("timestamp", 0)) / 1000, UTC),
        operation=operation,
        mode=custom.get("mode") if isinstance(custom.get("mode"), str) else None,
        writer=writer,
        writer_text=writer.describe() if writer else "",
        rows_added=added,
        rows_updated=updated,
        rows_removed=removed,
        keys=_keys(custom),
        parameters={
            k: v
            for k, v in (info.get("operationParameters") or {}).items()
            if isinstance(v, (str, int, float, bool))
        },
        engine=info.get("engineInfo"),
    )


def _keys(custom: dict[str, Any]) -> list[str] | None:
    keys = custom.get("keys")
    if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
        return keys
    return None


def _writer(custom: dict[str, Any], info: dict[str, Any]) -> WriterInfo | None:
    fields = {k: v for k, v in custom.items() if k in WriterInfo.model_fields}
    if not fields and info.get("userName"):  # written by another Delta writer (Spark, …)
        fields = {"user": info["userName"]}
    if not fields:
        return None
    try:
        return WriterInfo.model_validate(fields)
    except ValidationError:
        return None


def _rows(
    operation: str, metrics: dict[str, Any], custom: dict[str, Any], added_rows: int
) -> tuple[int | None, int | None, int | None]:
    """(added, updated, removed) rows of a commit, from its operation metrics."""
    if operation == "MERGE":
        return (
            metrics.get("num_target_rows_inserted"),
            metrics.get("num_target_rows_updated"),
            metrics.get("num_target_rows_deleted"),
        )
    if "rows_inserted" in custom:  # a merge computed by DuckDB, committed as an overwrite
        return custom.get("rows_inserted"), custom.get("rows_updated"), custom.get("rows_deleted")
    if operation == "WRITE":
        removed = custom.get("rows_replaced")
        if removed is None:
            removed = 0 if (metrics.get("num_removed_files") or 0) == 0 else None
        return metrics.get("num_added_rows", added_rows), 0, removed
    if operation == "DELETE":
        return 0, 0, metrics.get("num_deleted_rows")
    if operation == "UPDATE":
        return 0, metrics.get("num_updated_rows"), 0
    if operation in ("OPTIMIZE", "VACUUM START", "VACUUM END", "CREATE TABLE"):
        return 0, 0, 0
    if operation == "CONVERT":
        return added_rows, 0, 0
    return (added_rows or None), None, None
