"""``workbench approve`` and ``workbench approvals``: decide approval gates from a terminal."""

from __future__ import annotations

import asyncio

import click

from . import home_option


def _local(home: str | None):
    from ..approvals.service import ApprovalService
    from ..principal import local_principal
    from .connection import _workbench

    return ApprovalService(_workbench(home, "decide approvals"), local_principal())


@click.command()
@home_option
@click.argument("run_id")
@click.argument("step")
@click.option("--reject", is_flag=True, help="Reject (the run fails) instead of approving.")
@click.option("--reason", default="", help="Why; required with --reject.")
def approve(home: str | None, run_id: str, step: str, reject: bool, reason: str) -> None:
    """Approve (or --reject) approval STEP of run RUN_ID; its next steps run, or the run
    fails with the reason."""
    from ..approvals.models import ApprovalOut
    from .remote import service_from_env

    client = service_from_env()
    if client is not None and home is None:
        action = "reject" if reject else "approve"
        answer = client.call(
            "POST", f"runs/{run_id}/approvals/{step}/{action}", {"reason": reason, "via": "cli"}
        )
        decided = ApprovalOut.model_validate(answer)
    else:
        decided = asyncio.run(_local(home).decide(run_id, step, not reject, reason, via="cli"))
    why = f": {decided.reason}" if decided.reason else ""
    click.echo(f"{decided.step_id} of run {decided.run_id} {decided.status}{why}")


@click.command()
@home_option
def approvals(home: str | None) -> None:
    """Approvals waiting for a decision that you may take."""
    from ..approvals.models import ApprovalOut
    from .remote import service_from_env

    client = service_from_env()
    if client is not None and home is None:
        pending = [ApprovalOut.model_validate(a) for a in client.call("GET", "approvals")]
    else:
        pending = _local(home).pending()
    if not pending:
        click.echo("no approvals wait for you")
    for item in pending:
        click.echo(
            f"{item.run_id}  {item.pipeline}  {item.step_id}  since "
            f"{item.requested_at:%Y-%m-%d %H:%M %Z}  {item.message}"
        )
