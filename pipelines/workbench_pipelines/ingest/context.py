"""What a declarative step attempt works with: who it acts for, its lake, its writer,
its progress (heartbeat details) and the way it is stopped."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench_server.errors import NotFoundError
from workbench_server.lake.models import TableVersion, WriteResult, WriterInfo

if TYPE_CHECKING:
    import duckdb

    from workbench_server.connections.kinds import KindConfig
    from workbench_server.core import Workbench
    from workbench_server.lake import Lake
    from workbench_server.lineage.service import RecordedSql
    from workbench_server.principal import Principal


class StepStopped(Exception):
    """The attempt was stopped from outside (cancelled or timed out)."""


@dataclass
class Progress:
    """Shared by the step's thread and the activity's heartbeat loop."""

    table: str = ""
    rows: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _sessions: list[duckdb.DuckDBPyConnection] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> None:
        """Raise :class:`StepStopped` once the attempt is being stopped."""
        if self.stop.is_set():
            raise StepStopped("stopped")

    def watch(self, db: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """``db``, interrupted when the attempt is stopped (a long query stops too)."""
        with self._lock:
            self._sessions.append(db)
        if self.stop.is_set():
            db.interrupt()
        return db

    def halt(self) -> None:
        """Stop from another thread: queries are interrupted, streams end at their next batch."""
        self.stop.set()
        with self._lock:
            sessions = list(self._sessions)
        for db in sessions:
            with contextlib.suppress(Exception):  # a closed one has nothing to interrupt
                db.interrupt()

    def details(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows}


@dataclass(frozen=True)
class TableAccess:
    """A lake table version the attempt read or wrote."""

    lake: str
    table: str
    access: str  # read | write
    version: int
    operation: str | None = None
    rows_added: int | None = None
    rows_updated: int | None = None
    rows_removed: int | None = None


@dataclass
class StepContext:
    """One attempt of one declarative step."""

    workbench: Workbench
    principal: Principal
    pipeline: str
    run_id: str
    step_id: str
    attempt: int
    config: dict[str, Any]
    parameters: dict[str, Any]
    progress: Progress
    log_file: Path | None = None
    kind: str = ""
    tables: list[TableAccess] = field(default_factory=list)
    lineage: list[tuple[str, RecordedSql]] = field(default_factory=list)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)  # per table written
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The worker's loop and Temporal client: changes are signalled through them from the
    # step's thread (see .changes); None outside a worker.
    loop: Any = None
    client: Any = None
    announced: bool = False  # the step told of its changes itself, batch by batch (cdc)
    _lakes: dict[str | None, Lake] = field(default_factory=dict)

    @property
    def job(self) -> str:
        """The lineage job of the step: ``<pipeline>.<step>``."""
        return f"{self.pipeline}.{self.step_id}"

    @property
    def writer(self) -> WriterInfo:
        return WriterInfo(
            pipeline=self.pipeline,
            run_id=self.run_id,
            step=self.step_id,
            attempt=self.attempt,
            user=self.principal.name,
            tool=self.kind or None,
        )

    def lake(self, name: str | None = None) -> Lake:
        """The default lake, or lake connection ``name`` if the owner may use it."""
        if name not in self._lakes:
            from workbench_server.lake import Lake

            self._lakes[name] = Lake.of(self.workbench, self.principal, name)
        return self._lakes[name]

    def connection(self, name: str) -> KindConfig:
        """Connection ``name`` of the owner, checked against the network policy and data
        roots, carrying the address its driver connects to."""
        from workbench_server.connections.egress import EgressPolicy, pin
        from workbench_server.connections.service import ConnectionService

        cfg = ConnectionService(self.workbench, self.principal).resolve(name)
        return pin(name, cfg, EgressPolicy.from_settings(self.workbench.settings))

    def read(self, lake: Lake, table: str, version: int) -> None:
        self._add(TableAccess(lake.name, table, "read", version))

    def wrote(self, lake: Lake, result: Any) -> None:
        """Record a write's :class:`~workbench_server.lake.WriteResult` (a new version)."""
        self._add(
            TableAccess(
                lake.name,
                result.table,
                "write",
                result.version,
                result.operation,
                result.rows_added,
                result.rows_updated,
                result.rows_removed,
            )
        )

    def _add(self, access: TableAccess) -> None:
        self.tables[:] = [  # in place: the attempt's lineage events hold this list
            t
            for t in self.tables
            if (t.lake, t.table, t.access) != (access.lake, access.table, access.access)
        ]
        self.tables.append(access)

    def log(self, message: str) -> None:
        """A line of the attempt's log (``workbench pipeline logs``)."""
        if self.log_file is None:
            return
        stamp = time.strftime("%H:%M:%S")
        with self.log_file.open("a", encoding="utf-8") as out:
            out.write(f"{stamp} {message}\n")


def as_result(table: str, version: TableVersion) -> WriteResult:
    """A version found in the log (an earlier attempt's commit) as the write it was."""
    return WriteResult(
        table=table,
        version=version.version,
        operation=version.operation,
        rows_added=version.rows_added,
        rows_updated=version.rows_updated,
        rows_removed=version.rows_removed,
    )


def require_table(lake: Lake, table: str, what: str) -> int:
    """The current version of ``table``, or a not-found naming the step's field."""
    if not lake.exists(table):
        raise NotFoundError(f"{what}: no lake table {table} in {lake.name} (has it been written?)")
    return lake.version(table)
