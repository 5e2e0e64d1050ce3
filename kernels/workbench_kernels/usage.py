"""Which catalog tables this kernel's queries read, reported to the workbench in batches.

After each ``%sql`` query the query is noted in memory; the tables it names are found
with sqlglot (in the connection's dialect; parse results are cached per query text) when
the report is made, and counted. A background thread makes and sends the report every
few seconds, so a query never waits for this, not even for the parse (a few
milliseconds for a query not seen before); a pipeline step's kernel (which may be
stopped at once when its notebook ends) sends after every query instead. A kernel with
no workbench to report to notes nothing. Usage is a ranking hint: failures are ignored.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

from workbench_server.connections.kernel_access import (
    API_URL_ENV,
    KERNEL_LINEAGE_PATH,
    KERNEL_USAGE_PATH,
)

from .reporting import BatchedReporter

# Statements that write data; the server parses them for lineage.
WRITES = re.compile(
    r"\b(create\s+(or\s+replace\s+)?(temp\w*\s+)?(table|view)|insert\s+into|copy)\b", re.I
)

Key = tuple[str, str | None, str]  # connection, schema, table


@lru_cache(maxsize=512)
def tables_in(query: str, dialect: str) -> tuple[tuple[str | None, str | None, str], ...]:
    """(catalog, schema, table) of every table a query reads or writes; () if unparsable."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = sqlglot.parse(query, read=dialect)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError, ValueError):
        return ()
    found = []
    for statement in statements:
        if statement is None:
            continue
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if table.name and table.name not in ctes:
                found.append((table.catalog or None, table.db or None, table.name))
    return tuple(dict.fromkeys(found))


class UsageReporter(BatchedReporter):
    name = "workbench-usage"

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[dict[str, str]] = []
        self.counts: Counter[Key] = Counter()
        self.pending: list[Callable[[], list[Key]]] = []  # finds a query's tables

    @property
    def enabled(self) -> bool:
        """Whether there is a workbench to report to (a kernel it started)."""
        return bool(os.environ.get(API_URL_ENV))

    def note_query(self, find_tables: Callable[[], list[Key]]) -> None:
        """A query ran; ``find_tables`` (which parses it) is called when the report is
        made, off the query's path."""
        if not self.enabled:
            return
        with self.lock:
            self.pending.append(find_tables)
        self.noted()

    def flush(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, []
        found: Counter[Key] = Counter()
        for find_tables in pending:
            try:
                found.update(find_tables())
            except Exception:  # noqa: S112 - a hint lost, nothing more
                continue
        if found:
            with self.lock:
                self.counts.update(found)
        super().flush()

    def note_write(self, connection: str, sql: str, dialect: str) -> None:
        """A statement that writes data: its lineage is worked out by the workbench."""
        if not WRITES.search(sql):
            return
        notebook = os.environ.get("JPY_SESSION_NAME")
        job = f"notebook:{notebook}" if notebook else "kernel"
        item = {"connection": connection, "sql": sql, "dialect": dialect, "job": job}
        with self.lock:
            self.writes.append(item)
        self.note([])

    def note(self, keys: list[Key]) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.counts.update(keys)
            if not self.counts and not self.writes:
                return
        self.noted()

    def take(self) -> list[tuple[str, object]]:
        counts, self.counts = self.counts, Counter()
        writes, self.writes = self.writes, []
        requests: list[tuple[str, object]] = [(KERNEL_LINEAGE_PATH, item) for item in writes]
        if counts:
            tables = [
                {"connection": c, "schema": s, "name": n, "count": k}
                for (c, s, n), k in counts.items()
            ]
            requests.append((KERNEL_USAGE_PATH, {"tables": tables[:500]}))
        return requests


REPORTER = UsageReporter()
