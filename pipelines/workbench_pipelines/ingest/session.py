"""A DuckDB session of one declarative step: its own database, bounded memory, the lake.

Each step gets a database of its own (not the lake library's shared one): it attaches
sources, makes views and temporary tables that no other step or reader may see. Memory
is bounded (DuckDB spills to the step's temporary folder beyond it), so a large extract
or merge streams instead of growing with the table.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from workbench_server.lake import Lake

from .context import Progress

MEMORY_LIMIT = "512MB"
THREADS = 2
# No extension is fetched or loaded behind the scenes: the ones a step needs (delta,
# httpfs, postgres_scanner) are loaded from their wheels, by name.
BASE_CONFIG = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
}


@contextmanager
def step_session(lake: Lake, progress: Progress) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh DuckDB database reading ``lake``'s tables, stopped with the attempt."""
    spill = tempfile.mkdtemp(prefix="workbench-step-duckdb-")
    db = duckdb.connect(":memory:", config=dict(BASE_CONFIG))
    try:
        db.execute("SET TimeZone = 'UTC'")  # Delta keeps timestamps in UTC, named so
        db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        db.execute(f"SET threads = {THREADS}")
        db.execute(f"SET temp_directory = '{spill}'")
        db.execute("SET preserve_insertion_order = false")
        lake.connect(db)
        progress.watch(db)
        yield db
    finally:
        db.close()
        shutil.rmtree(spill, ignore_errors=True)
