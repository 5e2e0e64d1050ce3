"""DuckDB sessions of declarative steps: bounded memory, the lake's tables readable.

Extract and merge steps share one DuckDB database per lake in the worker process, each
attempt with a connection of its own (a cursor: its temporary tables, registered streams
and settings stay its own; a source is attached under a name of its own and detached
after). Loading the delta extension costs about a third of a second per database, which
would be most of a small incremental run. The database's memory is bounded for all the
steps it serves together; beyond it DuckDB spills to a temporary folder.

A sql step runs the owner's query, so it gets a database of its own, which it locks
(:mod:`.sql_step`). Its setup (the delta extension loaded, about 0.3-0.5 s) would be most
of a small step's time, so one spare is made ahead, in the background, per lake: each sql
step takes a database nothing has used (only set up), and the next one is made once it
has finished (made while it ran, the loading stalled the step's own DuckDB calls).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import duckdb

from workbench_server.lake import Lake
from workbench_server.sql_text import quote_literal as ql

from .context import Progress

MEMORY_LIMIT = "1GB"
THREADS = 2
MAX_DATABASES = 8
SPARE_WAIT_S = 10.0
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
# Private databases made ahead for sql steps, per lake (see the module's docstring).
_spares: dict[tuple[str, str | None], Future] = {}
_maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-step-spare")


def _database(lake: Lake, spill: str) -> duckdb.DuckDBPyConnection:
    db = duckdb.connect(":memory:", config=dict(BASE_CONFIG))
    db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    db.execute(f"SET threads = {THREADS}")
    db.execute(f"SET temp_directory = {ql(spill)}")
    db.execute("SET preserve_insertion_order = false")
    lake.connect(db)
    return db


def _private(lake: Lake) -> tuple[duckdb.DuckDBPyConnection, str]:
    spill = tempfile.mkdtemp(prefix="workbench-step-duckdb-")
    try:
        return _database(lake, spill), spill
    except BaseException:
        shutil.rmtree(spill, ignore_errors=True)
        raise


def _take_spare(lake: Lake) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A new private database for ``lake``: the spare made ahead (waited for if it is
    being made), else one made here."""
    key = (lake.location.root, lake.location.duckdb_secret())
    with _lock:
        spare = _spares.pop(key, None)
    made = None
    if spare is not None and not spare.cancel():  # made or being made: take it
        try:
            made = spare.result(timeout=SPARE_WAIT_S)
        except Exception:  # failed or too slow: make one here
            spare.add_done_callback(_discard)
    return made or _private(lake)


def _make_spare(lake: Lake) -> None:
    """Start making the next spare for ``lake`` in the background, unless one is there.

    Called when a step's session closes, not when it opens: loading the delta extension
    into the spare stalled the step's own DuckDB calls meanwhile (a duckdb_columns() of
    1 ms took 0.4 s while a spare loaded beside it), about 0.3-0.7 s of each sql step."""
    key = (lake.location.root, lake.location.duckdb_secret())
    with _lock:
        if key not in _spares:
            _spares[key] = _maker.submit(_private, lake)
            while len(_spares) > MAX_DATABASES:
                _spares.pop(next(iter(_spares))).add_done_callback(_discard)


def _discard(spare: Future) -> None:
    """Close a spare nobody will take."""
    if spare.cancelled() or spare.exception() is not None:
        return
    db, spill = spare.result()
    db.close()
    shutil.rmtree(spill, ignore_errors=True)


def _close_spares() -> None:
    with _lock:
        spares = list(_spares.values())
        _spares.clear()
    for spare in spares:
        spare.cancel()
        if spare.done():
            _discard(spare)


atexit.register(_close_spares)


@contextmanager
def step_session(
    lake: Lake, progress: Progress, *, private: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection reading ``lake``'s tables, interrupted when the attempt is
    stopped: a cursor on the process's database for the lake, or (``private``) a new
    database of its own, closed afterwards."""
    if private:
        db, spill = _take_spare(lake)
        try:
            db.execute("SET TimeZone = 'UTC'")
            progress.watch(db)
            yield db
        finally:
            db.close()
            shutil.rmtree(spill, ignore_errors=True)
            _make_spare(lake)
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
