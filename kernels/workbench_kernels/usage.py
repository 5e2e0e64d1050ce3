"""Which catalog tables this kernel's queries read, reported to the workbench in batches.

After each ``%sql`` query the tables it names are found with sqlglot (in the
connection's dialect; parse results are cached per query text) and counted in memory.
A background thread sends the counts every few seconds, so a query never waits for
this; a pipeline step's kernel (which may be stopped at once when its notebook ends)
sends after every query instead. Usage is a ranking hint: failures are ignored.
"""

from __future__ import annotations

import os
import re
from collections import Counter
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
        if not os.environ.get(API_URL_ENV):
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
