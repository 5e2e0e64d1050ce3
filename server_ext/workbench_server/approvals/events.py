"""The approval event hook: other parts of the workbench (outgoing webhooks, the MCP
server, chat bots) learn that an approval was requested, escalated, decided or timed out.

Two ways to listen, both per installation:

- in process: ``approval_events(workbench).subscribe(callback)`` (returns a function that
  unsubscribes);
- in every process that fires events, without code of your own there: an entry point in
  the group ``workbench.approval_events`` naming a callable that takes an
  :class:`ApprovalEvent` (loaded once per installation on first use).

Where events fire: ``requested``, ``escalated`` and ``timed_out`` in the worker (from the
gate's activities, so at least once: an activity retried after a worker died may fire
again; ``id`` is the same each time, for de-duplication); ``decided`` in the process
that recorded the decision (the server for REST, panel, links and MCP; the CLI's own
process for local ``workbench approve``), exactly once per decision. A listener that
raises is logged and never changes the decision or the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from ..core import Workbench

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "workbench.approval_events"
EventKind = Literal["requested", "escalated", "decided", "timed_out"]


class ApprovalEvent(BaseModel):
    """One thing that happened to one approval gate."""

    id: str = Field(description="run:step:kind, the same for a re-fired event")
    kind: EventKind
    at: datetime
    run_id: str
    pipeline: str
    step_id: str
    message: str = ""
    approvers: dict[str, list[str]] = Field(default_factory=dict)
    status: str = Field(description="the approval's status after the event")
    decided_by: str | None = None
    reason: str | None = None
    via: str | None = None


Listener = Callable[[ApprovalEvent], object]


class ApprovalEvents:
    """The listeners of one installation."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._loaded = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every later event; returns the unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _load_entry_points(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            for point in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    self._listeners.append(point.load())
                except Exception:
                    log.warning(
                        "approval event listener %s did not load", point.name, exc_info=True
                    )

    def emit(self, event: ApprovalEvent) -> None:
        """Tell every listener; a failing listener is logged and the others still hear."""
        self._load_entry_points()
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.warning("approval event listener failed on %s", event.id, exc_info=True)


def approval_events(workbench: Workbench) -> ApprovalEvents:
    """The installation's approval event hook."""
    return workbench.resource("approval_events", ApprovalEvents)
