"""DuckDB sessions of declarative steps: bounded memory, the lake's tables readable.

Extract and merge steps share one DuckDB database per lake in the worker process, each
attempt with a connection of its own (a cursor: its temporary tables, registered streams
and settings stay its own; a source is attached under a name of its own and detached
after). Loading the delta extension costs about a third of a second per database, which
would be most of a small incremental run. The database's memory is bounded for all the
steps it serves together; beyond it DuckDB spills to a temporary folder.

A sql step runs the owner's query, so it gets a database of its own, which it locks
(:mod:`.sql_step`).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from workbench_server.lake import Lake
from workbench_server.sql_text import quote_literal as ql

from .context import Progress

MEMORY_LIMIT = "1GB"
THREADS = 2
MAX_DATABASES = 8
# No extension is fetched or loaded behind the scenes: the ones a step needs (delta,
# httpfs, postgres_scanner) are loaded from their wheels, by name.
BASE_CONFIG = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
}

_shared: dict[tuple[str, str | None], duckdb.DuckDBPyConnection] = {}
_lock = threading.Lock()
_spill = tempfile.mkdtemp(prefix="workbench-steps-duckdb-")
atexit.register(shutil.rmtree, _spill, True)


def _database(lake: Lake, spill: str) -> duckdb.DuckDBPyConnection:
    db = duckdb.connect(":memory:", config=dict(BASE_CONFIG))
    db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    db.execute(f"SET threads = {THREADS}")
    db.execute(f"SET temp_directory = {ql(spill)}")
    db.execute("SET preserve_insertion_order = false")
    lake.connect(db)
    return db


@contextmanager
def step_session(
    lake: Lake, progress: Progress, *, private: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection reading ``lake``'s tables, interrupted when the attempt is
    stopped: a cursor on the process's database for the lake, or (``private``) a new
    database of its own, closed afterwards."""
    if private:
        spill = tempfile.mkdtemp(prefix="workbench-step-duckdb-")
        db = _database(lake, spill)
        try:
            db.execute("SET TimeZone = 'UTC'")
            progress.watch(db)
            yield db
        finally:
            db.close()
            shutil.rmtree(spill, ignore_errors=True)
        return
    key = (lake.location.root, lake.location.duckdb_secret())
    with _lock:
        parent = _shared.pop(key, None) or _database(lake, _spill)
        _shared[key] = parent  # most recently used last
        while len(_shared) > MAX_DATABASES:  # not closed: a step may still use it
            _shared.pop(next(iter(_shared)))
        cursor = parent.cursor()
    try:
        cursor.execute("SET TimeZone = 'UTC'")  # Delta keeps timestamps in UTC, named so
        progress.watch(cursor)
        yield cursor
    finally:
        cursor.close()
