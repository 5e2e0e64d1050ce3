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

import http.client
import json
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from workbench_server.connections.egress import EgressPolicy, UnknownHostError, http_connection
from workbench_server.errors import NetworkPolicyError

from .plan import Notice

SMTP_URL_ENV = "WORKBENCH_SMTP_URL"
SMTP_FROM_ENV = "WORKBENCH_SMTP_FROM"
TIMEOUT_S = 10.0


class NotConfigured(Exception):
    """This kind of target cannot be reached from this installation."""


class DeliveryFailed(Exception):
    """The target was tried and did not accept the message; ``str()`` says why."""


def subject(notice: Notice) -> str:
    what = {
        "failure": "failed",
        "success": "succeeded",
        "sla_miss": f"missed its SLA ({notice.sla_deadline})",
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
    policy = policy or EgressPolicy.from_env()
    try:
        target = policy.check_url(url, what="the webhook")
    except NetworkPolicyError as exc:  # nothing was sent: the same for any port
        raise DeliveryFailed(str(exc)) from None
    except UnknownHostError as exc:
        raise DeliveryFailed(f"the webhook could not be reached: {exc}") from None
    payload = {**notice.model_dump(exclude={"targets"}), "text": subject(notice)}
    parts = urlsplit(url)
    conn = http_connection(url, target.address, TIMEOUT_S)
    try:
        conn.request(
            "POST",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "workbench-notify"},
        )
        response = conn.getresponse()
        response.read(1024)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"the webhook could not be reached: {exc}") from None
    finally:
        conn.close()
    if response.status >= 300:  # redirects are not followed: they could lead anywhere
        raise DeliveryFailed(f"the webhook answered HTTP {response.status} {response.reason}")


def send_email(address: str, notice: Notice) -> None:
    url = os.environ.get(SMTP_URL_ENV)
    if not url:
        raise NotConfigured(f"no SMTP server configured (set {SMTP_URL_ENV})")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise NotConfigured(f"{SMTP_URL_ENV} must look like smtp://host:port or smtps://host")
    message = EmailMessage()
    message["Subject"] = subject(notice)
    message["From"] = os.environ.get(SMTP_FROM_ENV) or f"workbench@{socket.getfqdn()}"
    message["To"] = address
    message.set_content(body(notice))
    secure = parts.scheme == "smtps"
    port = parts.port or (465 if secure else 25)
    try:
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(
                parts.hostname, port, timeout=TIMEOUT_S, context=ssl.create_default_context()
            )
            if secure
            else smtplib.SMTP(parts.hostname, port, timeout=TIMEOUT_S)
        )
        with client:
            if not secure and parse_qs(parts.query).get("starttls", ["false"])[0] == "true":
                client.starttls(context=ssl.create_default_context())
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"the SMTP server {parts.hostname}:{port} refused: {exc}") from None
