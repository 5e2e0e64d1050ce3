"""The audit log of agents' calls: one row per tool call or resource read, whatever its end.

Arguments are kept as the agent sent them, long text cut (a query's SQL is what an
auditor wants to read; a 1 MB literal is not). Results are never kept: they are the
data the call was allowed to read, and the log must not become a second copy of it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import delete, select

from ..db.models import AgentCall
from ..errors import PermissionDeniedError

if TYPE_CHECKING:
    from ..core import Workbench
    from ..principal import Principal

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # characters of one argument's text kept
MAX_MESSAGE = 1000
KEEP_DAYS = 365


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
    """Keep one call; a metadata DB that cannot take it is logged, never the caller's
    failure (the call already happened)."""
    try:
        with workbench.sessions.begin() as session:
            session.add(
                AgentCall(
                    principal=principal[:200],
                    transport=transport,
                    tool=tool[:100],
                    arguments=_cut(arguments),
                    outcome=outcome,
                    message=(message or None) and message[:MAX_MESSAGE],
                    elapsed_ms=round(elapsed_ms, 2),
                )
            )
    except Exception:
        log.exception("Could not audit agent call %s by %s", tool, principal)


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
