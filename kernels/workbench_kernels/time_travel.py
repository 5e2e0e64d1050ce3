"""Reading a lake table as it was: ``lake_at`` and ``lake_at_run`` in the kernel's SQL.

::

    SELECT * FROM lake_at('silver.invoices', 3)                              -- version 3
    SELECT * FROM lake_at('silver.invoices', TIMESTAMPTZ '2026-11-30 18:00+01')  -- then
    SELECT * FROM lake_at('silver.invoices', DATE '2026-11-30')      -- midnight, session zone
    SELECT * FROM lake_at_run('silver.invoices', 'r-20261130')       -- as run r-... wrote it

Both are DuckDB table macros over ``delta_scan(<table>, version => ...)``, so they parse
and run in DuckDB like any table function (in ``%sql`` and on the session's connection
from Python alike). The version comes from Python functions asking the lake library: for
a time, the version current then (the last committed at or before it); for a run, the
last version whose commit records that run as its writer. A table a run only read has
no commit of that run: read it as of the run's time instead (``lake_at(t, TIMESTAMPTZ
...)``), which the error says.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    import duckdb

    from workbench_server.lake import Lake


class Session(Protocol):
    """What time travel needs of a lake session (lake_session.LakeSession)."""

    db: duckdb.DuckDBPyConnection
    resolver: Resolver | None

    @property
    def lake(self) -> Lake: ...


INTEGER_TYPES = frozenset(
    "TINYINT SMALLINT INTEGER BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT".split()
)
CACHE_SECONDS = 5.0  # DuckDB binds a macro's arguments more than once per query
MACROS = """
CREATE OR REPLACE MACRO lake_at(lake_table, point) AS TABLE
    SELECT * FROM delta_scan(
        lake_table_uri(lake_table),
        version => lake_version(
            lake_table, CAST(point AS VARCHAR), typeof(point), current_setting('TimeZone')
        )
    );
CREATE OR REPLACE MACRO lake_at_run(lake_table, run_id) AS TABLE
    SELECT * FROM delta_scan(
        lake_table_uri(lake_table), version => lake_run_version(lake_table, run_id)
    );
"""


def install(session: Session) -> None:
    """Define ``lake_at`` and ``lake_at_run`` in the session (after the delta extension)."""
    resolver = Resolver(session)
    db = session.db
    db.create_function("lake_table_uri", resolver.uri, ["VARCHAR"], "VARCHAR", side_effects=False)
    db.create_function(
        "lake_version",
        resolver.version,
        ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR"],
        "BIGINT",
        side_effects=False,
    )
    db.create_function(
        "lake_run_version",
        resolver.run_version,
        ["VARCHAR", "VARCHAR"],
        "BIGINT",
        side_effects=False,
    )
    db.execute(MACROS)
    session.resolver = resolver


class Resolver:
    """Versions of a session's lake tables, by number, time or run (briefly cached)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[str, ...], tuple[float, int | str]] = {}

    def _cached(self, key: tuple[str, ...], compute) -> int | str:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = compute()
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = (now + CACHE_SECONDS, value)
        return value

    def uri(self, table: str | None) -> str:
        """Where ``table`` lives, if it is a Delta table of this lake."""
        from workbench_server.errors import NotFoundError
        from workbench_server.lake import TableName

        name = str(TableName.parse(_given(table, "a lake table (e.g. 'silver.invoices')")))

        def compute() -> str:
            lake = self.session.lake_for(name)
            if not lake.exists(name):
                # The library says whether it is a Parquet dataset (no versions) or absent.
                lake.version(name)
                raise NotFoundError(f"no lake table {name} in {lake.name}")
            return lake.uri(name)

        return str(self._cached(("uri", name), compute))

    def version(self, table: str | None, point: str | None, kind: str, zone: str) -> int:
        """The version of ``table`` a point names: a version number, or a time (a naive
        one in the session's time zone)."""
        table = _given(table, "a lake table")
        point = _given(point, "a version or a time")
        if kind in INTEGER_TYPES or (kind == "VARCHAR" and point.strip().isdigit()):
            return self.numbered(table, int(point))
        when = parse_time(point, zone)
        return int(self._cached(("at", table, when.isoformat()), lambda: self.at(table, when)))

    def numbered(self, table: str, version: int) -> int:
        """``version`` if ``table`` has it (delta_scan's own error names no table)."""
        from workbench_server.errors import NotFoundError

        latest = self.session.lake_for(table).version(table)
        if not 0 <= version <= latest:
            raise NotFoundError(f"{table} has versions 0 to {latest}, not {version}")
        return version

    def at(self, table: str, when: datetime) -> int:
        return self.session.lake_for(table).version_at(table, when)

    def run_version(self, table: str | None, run: str | None) -> int:
        table = _given(table, "a lake table")
        run = _given(run, "a pipeline run id")
        return int(self._cached(("run", table, run), lambda: self.of_run(table, run)))

    def of_run(self, table: str, run: str) -> int:
        """The last version of ``table`` that run ``run`` wrote."""
        from workbench_server.errors import NotFoundError

        written = self.session.lake_for(table).written_by(table, run)
        if written:
            return written[0].version
        raise NotFoundError(
            f"run {run} wrote no version of {table}: for a table a run only read, read it as "
            f"of the run's time, lake_at('{table}', TIMESTAMPTZ '<when the run ran>')"
        )


def parse_time(text: str, zone: str = "UTC") -> datetime:
    """A time as DuckDB shows it (``2026-11-30 18:00:00+01``, a date, ISO text); one
    without a zone is in ``zone``."""
    from workbench_server.errors import InvalidInputError

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(
            f"{text!r} is neither a version number nor a time (e.g. TIMESTAMPTZ "
            "'2026-11-30 18:00:00+00')"
        ) from None
    if when.tzinfo is None:
        try:
            when = when.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            when = when.replace(tzinfo=UTC)
    return when


def _given(value: str | None, what: str) -> str:
    if value is None:
        from workbench_server.errors import InvalidInputError

        raise InvalidInputError(f"give {what}, not NULL")
    return value
