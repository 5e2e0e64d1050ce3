"""What an approval looks like to its users (REST, CLI, the run's history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ..db.models import Approval
from ..principal import Principal


class ApprovalOut(BaseModel):
    run_id: str
    pipeline: str
    step_id: str
    status: str = Field(description="pending, approved, rejected or cancelled")
    message: str
    approvers: dict[str, list[str]] = Field(description="users and groups who may decide")
    requested_at: datetime
    expires_at: datetime | None = None
    escalated_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    via: str | None = Field(None, description="rest, cli, panel, link, mcp or timeout")
    may_decide: bool = False  # the caller may approve or reject it (while pending)


def may_decide(principal: Principal, approvers: dict[str, Any]) -> bool:
    """Admins, the named users and members of the named groups may decide."""
    users = set(approvers.get("users") or [])
    groups = set(approvers.get("groups") or [])
    return principal.admin or principal.name in users or bool(principal.groups & groups)


def approval_out(row: Approval, pipeline: str, principal: Principal | None) -> ApprovalOut:
    approvers = row.approvers or {}
    return ApprovalOut(
        run_id=row.run_id,
        pipeline=pipeline,
        step_id=row.step_id,
        status=row.status,
        message=row.message or "",
        approvers={
            "users": list(approvers.get("users") or []),
            "groups": list(approvers.get("groups") or []),
        },
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        escalated_at=row.escalated_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
        via=row.via,
        may_decide=(
            row.status == "pending" and principal is not None and may_decide(principal, approvers)
        ),
    )
