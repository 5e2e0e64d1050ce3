"""Activities of an approval gate: open it, tell people, end it at its timeout, settle it.

The workflow waits for the decision itself (a signal, a durable timer for escalation
and timeout): no activity runs and no worker slot is held while a gate waits.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from workbench_server.approvals import links
from workbench_server.approvals import service as gates

from .plan import ApprovalDecision, ApprovalRequest, Notice

if TYPE_CHECKING:
    from workbench_server.core import Workbench

    from .run_activities import RunActivities

# Events of a gate as notifications know them (and the run's history lists them).
REQUESTED, ESCALATED, TIMED_OUT = "approval_requested", "approval_escalated", "approval_timeout"


class ApprovalNotice(BaseModel):
    request: ApprovalRequest
    event: str = Field(description="approval_requested, approval_escalated or approval_timeout")
    targets: list[str]


class ApprovalSettle(BaseModel):
    run_id: str
    decision: ApprovalDecision


class ApprovalActivities:
    """The gate's activities, on one installation's metadata DB."""

    def __init__(self, workbench: Workbench, runs: RunActivities) -> None:
        self.workbench = workbench
        self.runs = runs  # its notification bookkeeping and delivery

    @activity.defn(name="workbench.approval_open")
    async def approval_open(self, request: ApprovalRequest) -> None:
        def open_() -> None:
            out, new = gates.open_gate(self.workbench, request)
            if new:
                gates.emit(self.workbench, "requested", out)

        await asyncio.to_thread(open_)

    @activity.defn(name="workbench.approval_notify")
    async def approval_notify(self, data: ApprovalNotice) -> None:
        """Tell the targets (each once); a requested gate's targets get signed links."""
        failed = await asyncio.to_thread(self._notify, data)
        if failed:
            raise ApplicationError(f"could not notify {', '.join(failed)}")

    def _notify(self, data: ApprovalNotice) -> list[str]:
        request = data.request
        if data.event != REQUESTED:
            gates.mark(
                self.workbench, request, "escalated" if data.event == ESCALATED else "timed_out"
            )
        failed = []
        for target in data.targets:
            notice = Notice(
                run_id=request.run_id,
                pipeline=request.pipeline,
                event=data.event,
                targets=[target],
                status="waiting",
                logical_date=request.logical_date,
                step_id=request.step_id,
                message=request.config.message,
                links=self._links(request, target) if data.event == REQUESTED else {},
            )
            failed.extend(self.runs._notify(notice))
        return failed

    def _links(self, request: ApprovalRequest, target: str) -> dict[str, str]:
        key = self.workbench.settings.workbench_home.secrets_key
        ttl = request.config.timeout_s or gates.DEFAULT_LINK_TTL.total_seconds()
        return {
            decision: links.make_token(
                key, request.run_id, request.step_id, decision == "approve", ttl, f"link:{target}"
            )
            for decision in ("approve", "reject")
        }

    @activity.defn(name="workbench.approval_expire")
    async def approval_expire(self, request: ApprovalRequest) -> ApprovalDecision:
        return await asyncio.to_thread(gates.expire, self.workbench, request)

    @activity.defn(name="workbench.approval_settle")
    async def approval_settle(self, data: ApprovalSettle) -> None:
        await asyncio.to_thread(gates.settle, self.workbench, data.run_id, data.decision)
