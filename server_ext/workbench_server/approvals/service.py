"""Deciding approval gates, and the gates' own bookkeeping.

:class:`ApprovalService` is what every adapter uses (REST, CLI, the Pipelines panel, MCP):
the pending approvals a principal may decide, and ``decide``. A decision is written first,
in one conditional update (only a pending approval changes, so a second decision, by
anyone or by a link used twice, is refused), then signalled to the run's workflow; if the
signal cannot be delivered the decision is taken back and the caller told to try again.

The functions below the class are the gate's side, called by the worker's activities:
open a gate, note an escalation, end a gate at its timeout, settle the step's history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from workbench_pipelines.plan import APPROVAL_SIGNAL, ApprovalDecision, ApprovalRequest

from ..db.models import Approval, Pipeline, PipelineVersion, Run, StepRun
from ..errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SourceUnavailableError,
)
from ..pipelines.registry import PipelineRegistry
from ..principal import Principal
from . import links
from .events import ApprovalEvent, EventKind, approval_events
from .models import ApprovalOut, approval_out, may_decide

if TYPE_CHECKING:
    from ..core import Workbench

MAX_REASON_CHARS = 2000
DEFAULT_LINK_TTL = timedelta(days=7)
VIA = ("rest", "cli", "panel", "link", "mcp")


def _now() -> datetime:
    return datetime.now(UTC)


class ApprovalService:
    """Approval gates as one principal may see and decide them.

    A principal sees the approvals of runs they may see (:class:`PipelineRegistry`); they
    may decide one if they are an admin, one of its users or in one of its groups (by
    default the pipeline's owner and its ``access.operators``). Approvals of pipelines
    they may not see are not found (404); ones they see but may not decide are refused
    (403).
    """

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal
        self.registry = PipelineRegistry(workbench, principal)

    # -- reading ---------------------------------------------------------------------
    def pending(self) -> list[ApprovalOut]:
        """Pending approvals the principal may decide, oldest first."""
        visible = self.registry.visible_ids()
        with self.workbench.sessions() as session:
            query = (
                select(Approval, Pipeline.name, Run.pipeline_id)
                .join(Run, Run.id == Approval.run_id)
                .join(Pipeline, Pipeline.id == Run.pipeline_id)
                .where(Approval.status == "pending")
                .order_by(Approval.requested_at, Approval.id)
            )
            rows = session.execute(query).all()
        return [
            approval_out(row, name, self.principal)
            for row, name, pipeline_id in rows
            if (visible is None or pipeline_id in visible)
            and may_decide(self.principal, row.approvers or {})
        ]

    def get(self, run_id: str, step_id: str) -> ApprovalOut:
        """One approval of a run the principal may see."""
        row, name = self._row(run_id, step_id)
        return approval_out(row, name, self.principal)

    def _row(self, run_id: str, step_id: str) -> tuple[Approval, str]:
        visible = self.registry.visible_ids()
        with self.workbench.sessions() as session:
            found = session.execute(
                select(Approval, Pipeline.name, Run.pipeline_id)
                .join(Run, Run.id == Approval.run_id)
                .join(Pipeline, Pipeline.id == Run.pipeline_id)
                .where(Approval.run_id == run_id, Approval.step_id == step_id)
            ).first()
            run_visible = session.execute(
                select(Run.pipeline_id).where(Run.id == run_id)
            ).scalar_one_or_none()
            spec = None
            if found is None and run_visible is not None:
                spec = session.scalar(
                    select(PipelineVersion.spec)
                    .join(
                        Run,
                        (Run.pipeline_id == PipelineVersion.pipeline_id)
                        & (Run.version == PipelineVersion.version),
                    )
                    .where(Run.id == run_id)
                )
        if run_visible is None or (visible is not None and run_visible not in visible):
            raise NotFoundError(f"no run {run_id!r}")
        if found is None:
            raise NotFoundError(_no_approval(run_id, step_id, spec or {}))
        return found[0], found[1]

    # -- deciding --------------------------------------------------------------------
    async def decide(
        self, run_id: str, step_id: str, approve: bool, reason: str = "", via: str = "rest"
    ) -> ApprovalOut:
        """Approve (the run goes on) or reject (the run fails with ``reason``) a pending
        approval the principal may decide; returns it as decided."""
        row, name = self._row(run_id, step_id)
        if not may_decide(self.principal, row.approvers or {}):
            who = ", ".join(
                [
                    *(row.approvers or {}).get("users", []),
                    *[f"group {g}" for g in (row.approvers or {}).get("groups", [])],
                ]
            )
            raise PermissionDeniedError(
                f"you may see run {run_id} but not decide its approval {step_id!r}: "
                f"ask one of its approvers ({who or 'admins'})"
            )
        decision = ApprovalDecision(
            step_id=step_id,
            approved=approve,
            decided_by=self.principal.name,
            reason=_reason(reason, approve),
            via=via if via in VIA else "rest",
        )
        return await record_and_signal(self.workbench, run_id, decision, name)

    def link_token(
        self, run_id: str, step_id: str, approve: bool, ttl: timedelta = DEFAULT_LINK_TTL
    ) -> str:
        """A signed token that approves (or rejects) this approval once, until ``ttl``
        passes, recorded as decided by ``link:<principal>``; only for those who may
        decide it themselves."""
        row, _ = self._row(run_id, step_id)
        if not may_decide(self.principal, row.approvers or {}):
            raise PermissionDeniedError(
                f"you may not decide approval {step_id!r} of run {run_id}, so you may not "
                "make a link that does"
            )
        if row.status != "pending":
            raise ConflictError(f"approval {step_id!r} of run {run_id} is already {row.status}")
        return links.make_token(
            self.workbench.settings.workbench_home.secrets_key,
            run_id,
            step_id,
            approve,
            ttl.total_seconds(),
            f"link:{self.principal.name}",
        )


async def decide_with_token(workbench: Workbench, token: str, reason: str = "") -> ApprovalOut:
    """Take the decision a signed link carries (see :mod:`.links`): once, before it expires."""
    claims = links.verify(workbench.settings.workbench_home.secrets_key, token)
    decision = ApprovalDecision(
        step_id=claims.step_id,
        approved=claims.approve,
        decided_by=claims.issued_for,
        reason=_reason(reason, claims.approve, link=True),
        via="link",
    )
    with workbench.sessions() as session:
        name = session.scalar(
            select(Pipeline.name)
            .join(Run, Run.pipeline_id == Pipeline.id)
            .where(Run.id == claims.run_id)
        )
    if name is None:
        raise NotFoundError("the run this link decides no longer exists")
    return await record_and_signal(workbench, claims.run_id, decision, name)


def _reason(reason: str, approve: bool, link: bool = False) -> str:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInputError(f"reason: at most {MAX_REASON_CHARS} characters")
    if not approve and not reason:
        if link:
            return "rejected through a signed link"
        raise InvalidInputError("reason: say why you reject, e.g. --reason 'totals do not tie out'")
    return reason


async def record_and_signal(
    workbench: Workbench, run_id: str, decision: ApprovalDecision, pipeline: str
) -> ApprovalOut:
    """Write the decision (only over a pending approval), then signal the workflow."""
    status = "approved" if decision.approved else "rejected"
    decided_at = _now()
    with workbench.sessions.begin() as session:
        changed = session.execute(
            update(Approval)
            .where(
                Approval.run_id == run_id,
                Approval.step_id == decision.step_id,
                Approval.status == "pending",
            )
            .values(
                status=status,
                decided_by=decision.decided_by,
                decided_at=decided_at,
                reason=decision.reason or None,
                via=decision.via,
            )
        ).rowcount
        row = session.scalar(
            select(Approval).where(Approval.run_id == run_id, Approval.step_id == decision.step_id)
        )
        workflow_id = session.scalar(select(Run.workflow_id).where(Run.id == run_id))
    if row is None or workflow_id is None:
        raise NotFoundError(f"run {run_id} has no approval {decision.step_id!r}")
    if changed != 1:
        by = f" by {row.decided_by}" if row.decided_by else ""
        when = f" at {row.decided_at:%Y-%m-%d %H:%M UTC}" if row.decided_at else ""
        raise ConflictError(
            f"approval {decision.step_id!r} of run {run_id} was already {row.status}{by}{when}"
            " (a decision, or a link, counts once)"
        )
    try:
        client = await workbench.temporal_client()
        await client.get_workflow_handle(workflow_id).signal(APPROVAL_SIGNAL, decision)
    except Exception as exc:
        # The workflow is gone (the run ended meanwhile): the gate closes. Anything else
        # (Temporal unreachable): the decision is taken back, to be tried again.
        ended = _workflow_gone(exc)
        with workbench.sessions.begin() as session:
            session.execute(
                update(Approval)
                .where(
                    Approval.run_id == run_id,
                    Approval.step_id == decision.step_id,
                    Approval.status == status,
                    Approval.decided_by == decision.decided_by,
                )
                .values(
                    status="cancelled" if ended else "pending",
                    decided_by=None,
                    decided_at=_now() if ended else None,
                    reason=None,
                    via=None,
                )
            )
        if ended:
            raise ConflictError(
                f"run {run_id} ended before the decision reached it; nothing was decided"
            ) from exc
        raise SourceUnavailableError(
            f"the decision could not reach run {run_id} ({type(exc).__name__}); nothing was "
            "decided: try again shortly"
        ) from exc
    out = approval_out(row, pipeline, None)
    emit(workbench, "decided", out)
    return out


def _workflow_gone(exc: Exception) -> bool:
    from temporalio.service import RPCError, RPCStatusCode

    return isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND


def emit(workbench: Workbench, kind: EventKind, out: ApprovalOut) -> None:
    approval_events(workbench).emit(
        ApprovalEvent(
            id=f"{out.run_id}:{out.step_id}:{kind}",
            kind=kind,
            at=_now(),
            run_id=out.run_id,
            pipeline=out.pipeline,
            step_id=out.step_id,
            message=out.message,
            approvers=out.approvers,
            status=out.status,
            decided_by=out.decided_by,
            reason=out.reason,
            via=out.via,
        )
    )


# -- the gate's side (called by the worker's activities) -------------------------------


def open_gate(workbench: Workbench, request: ApprovalRequest) -> tuple[ApprovalOut, bool]:
    """Record the gate as pending (once: a retried activity finds it) and the step as
    ``waiting`` in the run's history; returns it and whether it was new."""
    config = request.config
    now = _now()
    with workbench.sessions.begin() as session:
        row = session.scalar(
            select(Approval).where(
                Approval.run_id == request.run_id, Approval.step_id == request.step_id
            )
        )
        new = row is None
        if row is None:
            row = Approval(
                run_id=request.run_id,
                step_id=request.step_id,
                status="pending",
                message=config.message,
                approvers={"users": config.users, "groups": config.groups},
                requested_at=now,
                expires_at=(
                    now + timedelta(seconds=config.timeout_s)
                    if config.timeout_s and config.on_timeout == "reject"
                    else None
                ),
            )
            session.add(row)
            step = session.scalar(
                select(StepRun).where(
                    StepRun.run_id == request.run_id,
                    StepRun.step_id == request.step_id,
                    StepRun.attempt == 1,
                )
            )
            if step is None:
                session.add(
                    StepRun(
                        run_id=request.run_id,
                        step_id=request.step_id,
                        attempt=1,
                        status="waiting",
                        started_at=now,
                    )
                )
        session.flush()
        out = approval_out(row, request.pipeline, None)
    return out, new


def mark(workbench: Workbench, request: ApprovalRequest, kind: EventKind) -> ApprovalOut:
    """Note an escalation (once) and fire its event."""
    with workbench.sessions.begin() as session:
        if kind == "escalated":
            session.execute(
                update(Approval)
                .where(
                    Approval.run_id == request.run_id,
                    Approval.step_id == request.step_id,
                    Approval.escalated_at.is_(None),
                )
                .values(escalated_at=_now())
            )
        row = session.scalar(
            select(Approval).where(
                Approval.run_id == request.run_id, Approval.step_id == request.step_id
            )
        )
        if row is None:
            raise NotFoundError(f"run {request.run_id} has no approval {request.step_id!r}")
        out = approval_out(row, request.pipeline, None)
    emit(workbench, kind, out)
    return out


def expire(workbench: Workbench, request: ApprovalRequest) -> ApprovalDecision:
    """The gate's timeout passed: reject it, unless someone decided first (then that
    decision stands and is returned)."""
    reason = "nobody decided before the approval's timeout"
    with workbench.sessions.begin() as session:
        changed = session.execute(
            update(Approval)
            .where(
                Approval.run_id == request.run_id,
                Approval.step_id == request.step_id,
                Approval.status == "pending",
            )
            .values(
                status="rejected",
                decided_by="timeout",
                decided_at=_now(),
                reason=reason,
                via="timeout",
            )
        ).rowcount
        row = session.scalar(
            select(Approval).where(
                Approval.run_id == request.run_id, Approval.step_id == request.step_id
            )
        )
        if row is None:
            raise NotFoundError(f"run {request.run_id} has no approval {request.step_id!r}")
        out = approval_out(row, request.pipeline, None)
    if changed:
        emit(workbench, "timed_out", out)
    return ApprovalDecision(
        step_id=request.step_id,
        approved=out.status == "approved",
        decided_by=out.decided_by or "timeout",
        reason=out.reason or "",
        via=out.via or "timeout",
    )


def settle(workbench: Workbench, run_id: str, decision: ApprovalDecision) -> None:
    """The step's history once the gate is passed: succeeded, or failed with the reason."""
    now = _now()
    with workbench.sessions.begin() as session:
        step = session.scalar(
            select(StepRun).where(
                StepRun.run_id == run_id, StepRun.step_id == decision.step_id, StepRun.attempt == 1
            )
        )
        if step is None:
            step = StepRun(run_id=run_id, step_id=decision.step_id, attempt=1, started_at=now)
            session.add(step)
        step.status = "succeeded" if decision.approved else "failed"
        step.finished_at = step.finished_at or now
        if step.started_at is not None:
            step.duration_s = (step.finished_at - step.started_at).total_seconds()
        step.error = None if decision.approved else rejection(decision)


def rejection(decision: ApprovalDecision) -> str:
    """A rejection as the run's history says it."""
    return f"rejected by {decision.decided_by}: {decision.reason or 'no reason given'}"


def cancel_pending(session: Any, run_id: str) -> None:
    """A run that ended while a gate waited: the gate is closed, nobody can decide it."""
    session.execute(
        update(Approval)
        .where(Approval.run_id == run_id, Approval.status == "pending")
        .values(status="cancelled", decided_at=_now())
    )
    session.execute(
        update(StepRun)
        .where(StepRun.run_id == run_id, StepRun.status == "waiting")
        .values(status="cancelled", finished_at=_now())
    )


def _no_approval(run_id: str, step_id: str, spec: dict[str, Any]) -> str:
    """Why run ``run_id`` has no approval ``step_id``: no such step, a step of another
    kind, or a gate the run has not reached yet (its version's ``spec`` says which)."""
    steps = {step.get("id"): step.get("kind") or "notebook" for step in spec.get("steps", [])}
    gates = ", ".join(sorted(s for s, kind in steps.items() if kind == "approval")) or "none"
    name = spec.get("name", "the pipeline")
    if step_id not in steps:
        return f"{name} has no step {step_id!r} in run {run_id}; its approval steps: {gates}"
    if steps[step_id] != "approval":
        return (
            f"step {step_id!r} of {name} is a {steps[step_id]} step, not an approval; "
            f"its approval steps: {gates}"
        )
    return (
        f"run {run_id} has no approval {step_id!r} yet: the run reaches it after the steps "
        "it depends on"
    )
