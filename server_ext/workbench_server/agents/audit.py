"""The audit log of agents' calls: one row per tool call or resource read, whatever its end.

Arguments are kept as the agent sent them, long text cut (a query's SQL is what an
auditor wants to read; a 1 MB literal is not). Results are never kept: they are the
data the call was allowed to read, and the log must not become a second copy of it.

Rows are written by one thread of the installation in batches (:class:`AuditLog`): a
commit of the metadata DB costs more than most calls (1-3 ms of fsync on SQLite, a
round trip on PostgreSQL), and an agent makes many small calls. A call's row is in the
DB at most :data:`FLUSH_SECONDS` after it ended, and at once when the server stops or
anyone reads the log through :func:`calls`; a server that dies abruptly (kill -9, power)
may lose that last fraction of a second of rows.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import delete, insert, select

from ..db.models import AgentCall
from ..errors import PermissionDeniedError

if TYPE_CHECKING:
    from ..core import Workbench
    from ..principal import Principal

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # characters of one argument's text kept
MAX_MESSAGE = 1000
KEEP_DAYS = 365
FLUSH_SECONDS = 0.25
MAX_PENDING = 10_000  # rows held at most if the DB cannot take them; older ones are logged


def _cut(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + f"… ({len(value):,} chars)"
    if depth > 3:
        return "…"
    if isinstance(value, dict):
        return {str(k)[:100]: _cut(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple):
        return [_cut(v, depth + 1) for v in value[:50]]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _cut(str(value), depth)


class AuditLog:
    """The installation's writer of agent calls (one per :class:`Workbench`)."""

    def __init__(self, workbench: Workbench) -> None:
        self.workbench = workbench
        self._pending: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="workbench-agent-audit", daemon=True)
        self._thread.start()

    def add(self, call: tuple[Any, ...]) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                dropped = _row(self._pending.pop(0))
                log.error("Agent audit backlog full; not kept: %s", dropped)
            self._pending.append(call)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write every row held now (in one transaction); a failure keeps them for the
        next try and is logged, never raised to a caller."""
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return
        try:
            # One executemany of plain rows on the table (Core): the ORM's unit of work
            # cost ~0.1 ms of CPU per row, and even its bulk insert a few µs more than
            # this, in a thread that shares the server's interpreter with its loop.
            with self.workbench.sessions.begin() as session:
                session.execute(insert(AgentCall.__table__), [_row(call) for call in rows])
        except Exception:
            log.exception("Could not write %d agent call(s) to the audit log", len(rows))
            with self._lock:
                self._pending[:0] = rows[-MAX_PENDING:]

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(10)
        self.flush()


def audit_log(workbench: Workbench) -> AuditLog:
    return workbench.resource("agents.audit", lambda: AuditLog(workbench))


def record(
    workbench: Workbench,
    principal: str,
    transport: str,
    tool: str,
    arguments: dict[str, Any],
    outcome: str,
    message: str | None,
    elapsed_ms: float,
) -> None:
    """Keep one call (written within :data:`FLUSH_SECONDS`). The row is made by the
    writer's thread (:func:`_row`): the caller, on the server's event loop, only notes it."""
    audit_log(workbench).add(
        (datetime.now(UTC), principal, transport, tool, arguments, outcome, message, elapsed_ms)
    )


def _row(call: tuple[Any, ...]) -> dict[str, Any]:
    at, principal, transport, tool, arguments, outcome, message, elapsed_ms = call
    return {
        "at": at,
        "principal": principal[:200],
        "transport": transport,
        "tool": tool[:100],
        "arguments": _cut(arguments),
        "outcome": outcome,
        "message": (message or None) and message[:MAX_MESSAGE],
        "elapsed_ms": round(elapsed_ms, 2),
    }


class AgentCallOut(BaseModel):
    at: datetime
    principal: str
    transport: str
    tool: str
    arguments: dict[str, Any]
    outcome: str
    message: str | None
    elapsed_ms: float


def calls(
    workbench: Workbench, principal: Principal, who: str | None = None, limit: int = 100
) -> list[AgentCallOut]:
    """The latest calls, newest first: one's own, or anyone's (``who``) for admins."""
    if who is not None and who != principal.name and not principal.admin:
        raise PermissionDeniedError("only admins read other users' agent calls")
    audit_log(workbench).flush()  # what this process holds is readable at once
    name = principal.name if who is None and not principal.admin else who
    query = select(AgentCall).order_by(AgentCall.id.desc()).limit(max(1, min(limit, 1000)))
    if name is not None:
        query = query.where(AgentCall.principal == name)
    with workbench.sessions() as session:
        return [
            AgentCallOut.model_validate(row, from_attributes=True) for row in session.scalars(query)
        ]


def prune(workbench: Workbench, days: int = KEEP_DAYS) -> int:
    """Forget calls older than ``days``; the number removed."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with workbench.sessions.begin() as session:
        return session.execute(delete(AgentCall).where(AgentCall.at < cutoff)).rowcount or 0
