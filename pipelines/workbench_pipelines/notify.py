"""Tell people about runs: e-mail through the team's SMTP server, or a webhook.

Targets come from the pipeline spec (``email:someone@example.com``,
``webhook:https://...``). A webhook receives a JSON object; its ``text`` field makes it
readable by chat tools that accept incoming webhooks. E-mail needs
``WORKBENCH_SMTP_URL`` (``smtp://[user:password@]host[:port][?starttls=true]`` or
``smtps://...``) and optionally ``WORKBENCH_SMTP_FROM``; without it, e-mail targets are
recorded as skipped rather than silently dropped.

A webhook's host must pass the workbench's network policy (``WORKBENCH_EGRESS_DENY`` /
``WORKBENCH_EGRESS_ALLOW``, see ``workbench_server.connections.egress``): the URL is a
user's, and the worker sits beside the metadata DB and Temporal. The POST goes to the
address that was checked, without proxies or redirects. The SMTP server is the admin's
and is not checked.
"""

from __future__ import annotations

import os
import socket
from email.message import EmailMessage

from workbench_server.connections.egress import EgressPolicy
from workbench_server.delivery import post_json, send_mail, valid_smtp_url

from .plan import Notice

SMTP_URL_ENV = "WORKBENCH_SMTP_URL"
SMTP_FROM_ENV = "WORKBENCH_SMTP_FROM"
PUBLIC_URL_ENV = "WORKBENCH_PUBLIC_URL"  # where people open the workbench (approval links)


class NotConfigured(Exception):
    """This kind of target cannot be reached from this installation."""


def subject(notice: Notice) -> str:
    what = {
        "failure": "failed",
        "success": "succeeded",
        "sla_miss": f"missed its SLA ({notice.sla_deadline})",
        "approval_requested": f"waits for your approval of {notice.step_id}",
        "approval_escalated": f"still waits for approval of {notice.step_id}",
        "approval_timeout": f"approval of {notice.step_id} timed out; it still waits",
    }.get(notice.event, notice.event)
    return f"[workbench] {notice.pipeline} run for {notice.logical_date} {what}"


def body(notice: Notice) -> str:
    lines = [
        subject(notice),
        "",
        f"pipeline: {notice.pipeline}",
        f"run: {notice.run_id}",
        f"logical date: {notice.logical_date}",
        f"status: {notice.status}",
    ]
    if notice.sla_deadline:
        lines.append(f"SLA deadline: {notice.sla_deadline}")
    if notice.step_id:
        lines += ["", notice.message or f"approval step {notice.step_id} waits for a decision"]
        lines += ["", *approval_links(notice)]
    if notice.failed_steps:
        lines += ["", f"failed steps: {', '.join(notice.failed_steps)}"]
        lines += [f"  {step}: {error}" for step, error in notice.failed_steps.items()]
    if notice.skipped_steps:
        skipped = ", ".join(
            f"{step} (after {' and '.join(causes)})"
            for step, causes in notice.skipped_steps.items()
        )
        lines += ["", f"skipped because a step they depend on failed: {skipped}"]
    if notice.error and not (notice.failed_steps or notice.skipped_steps):
        lines.append(f"error: {notice.error}")
    return "\n".join(lines) + "\n"


def approval_links(notice: Notice) -> list[str]:
    """How to decide: signed links (with ``WORKBENCH_PUBLIC_URL``, openable ones), or
    where the run is decided in the workbench."""
    if not notice.links:
        return [
            f"decide in the Pipelines panel, or: workbench approve {notice.run_id} "
            f"{notice.step_id} [--reject --reason ...]"
        ]
    base = os.environ.get(PUBLIC_URL_ENV, "").rstrip("/")
    lines = []
    for decision, token in notice.links.items():
        if base:
            lines.append(f"{decision}: {base}/workbench/api/approvals/link?link_token={token}")
        else:
            lines.append(
                f'{decision}: POST {{"token": "{token}"}} to /workbench/api/approvals/link'
            )
    return [*lines, "each link works once, until it expires"]


def deliver(target: str, notice: Notice) -> None:
    kind, _, address = target.partition(":")
    if kind == "webhook":
        post_webhook(address, notice)
    elif kind == "email":
        send_email(address, notice)
    else:
        raise NotConfigured(f"unknown kind of notification target {kind!r}")


def post_webhook(url: str, notice: Notice, policy: EgressPolicy | None = None) -> None:
    """POST ``notice`` to ``url`` if ``policy`` (default: the environment's) allows its host."""
    payload = {**notice.model_dump(exclude={"targets"}), "text": subject(notice)}
    post_json(url, payload, policy or EgressPolicy.from_env(), "the webhook", "workbench-notify")


def send_email(address: str, notice: Notice) -> None:
    url = os.environ.get(SMTP_URL_ENV)
    if not url:
        raise NotConfigured(f"no SMTP server configured (set {SMTP_URL_ENV})")
    if not valid_smtp_url(url):
        raise NotConfigured(f"{SMTP_URL_ENV} must look like smtp://host:port or smtps://host")
    message = EmailMessage()
    message["Subject"] = subject(notice)
    message["From"] = os.environ.get(SMTP_FROM_ENV) or f"workbench@{socket.getfqdn()}"
    message["To"] = address
    message.set_content(body(notice))
    send_mail(url, message)
