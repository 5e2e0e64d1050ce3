"""Sending an alert's notices: Slack-compatible webhooks, PagerDuty-v2-shaped webhooks
(n8n, PagerDuty itself) and e-mail. Every URL passes the egress policy first."""

from __future__ import annotations

import http.client
import json
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal
from urllib.parse import unquote, urlsplit

from ..connections.egress import EgressPolicy, UnknownHostError, http_connection
from ..errors import NetworkPolicyError, WorkbenchError
from .rules import Channel, EmailChannel, SlackChannel

TIMEOUT_S = 10.0
SMTP_URL_ENV = "WORKBENCH_SMTP_URL"
SMTP_FROM_ENV = "WORKBENCH_SMTP_FROM"
# PagerDuty's severities for the plan's P1-P3.
PD_SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning"}

Action = Literal["trigger", "resolve"]


class DeliveryFailed(WorkbenchError):
    """A notice did not reach its channel; the message says why."""


@dataclass(frozen=True)
class Notice:
    action: Action
    dedup_key: str
    rule: str
    severity: str
    summary: str
    labels: dict[str, str]
    source: str

    @property
    def text(self) -> str:
        state = "FIRING" if self.action == "trigger" else "RESOLVED"
        return f"[{self.severity}] {state} {self.rule}: {self.summary}"


def pagerduty_event(notice: Notice, routing_key: str) -> dict:
    """A PagerDuty Events API v2 event (what n8n flows and PagerDuty both accept)."""
    event: dict = {
        "routing_key": routing_key,
        "event_action": notice.action,
        "dedup_key": notice.dedup_key,
    }
    if notice.action == "trigger":
        event["payload"] = {
            "summary": notice.text[:1024],
            "severity": PD_SEVERITY[notice.severity],
            "source": notice.source,
            "component": notice.rule,
            "custom_details": {**notice.labels, "priority": notice.severity},
        }
    return event


def post_json(url: str, body: dict, policy: EgressPolicy, what: str) -> None:
    try:
        target = policy.check_url(url, what=what)
    except NetworkPolicyError as exc:
        raise DeliveryFailed(str(exc)) from None
    except UnknownHostError as exc:
        raise DeliveryFailed(f"{what} could not be reached: {exc}") from None
    parts = urlsplit(url)
    conn = http_connection(url, target.address, TIMEOUT_S)
    try:
        conn.request(
            "POST",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "workbench-alerts"},
        )
        response = conn.getresponse()
        response.read(1024)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{what} could not be reached: {exc}") from None
    finally:
        conn.close()
    if response.status >= 300:  # redirects are not followed: they could lead anywhere
        raise DeliveryFailed(f"{what} answered HTTP {response.status} {response.reason}")


def send_email(channel: EmailChannel, notices: list[Notice]) -> None:
    url = channel.smtp_url or os.environ.get(SMTP_URL_ENV, "")
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise DeliveryFailed(
            f"no SMTP server: give the channel an smtp_url or set {SMTP_URL_ENV} "
            "(smtp://host:port or smtps://host)"
        )
    message = EmailMessage()
    message["Subject"] = f"[workbench] {grouped_text(notices).splitlines()[0]}"[:300]
    message["From"] = os.environ.get(SMTP_FROM_ENV) or f"workbench@{socket.getfqdn()}"
    message["To"] = ", ".join(channel.to)
    message.set_content(
        "\n\n".join(
            f"{n.text}\n\nalert: {n.dedup_key}\n"
            + "\n".join(f"  {k}: {v}" for k, v in sorted(n.labels.items()))
            for n in notices
        )
        + "\n"
    )
    secure = parts.scheme == "smtps"
    port = parts.port or (465 if secure else 25)
    try:
        client = (
            smtplib.SMTP_SSL(
                parts.hostname, port, timeout=TIMEOUT_S, context=ssl.create_default_context()
            )
            if secure
            else smtplib.SMTP(parts.hostname, port, timeout=TIMEOUT_S)
        )
        with client:
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"the SMTP server {parts.hostname}:{port} refused: {exc}") from None


def grouped_text(notices: list[Notice]) -> str:
    """One notice's text, or a first line counting several and then each on its line."""
    if len(notices) == 1:
        return notices[0].text
    firing = sum(1 for n in notices if n.action == "trigger")
    counts = ", ".join(
        f"{count} {state}"
        for count, state in ((firing, "firing"), (len(notices) - firing, "resolved"))
        if count
    )
    return f"{len(notices)} alerts ({counts})\n" + "\n".join(n.text for n in notices)


def deliver(name: str, channel: Channel, notices: list[Notice], policy: EgressPolicy) -> None:
    """Send ``notices`` (several only to a channel that groups them) to ``channel``;
    raises :class:`DeliveryFailed` saying why not. A PagerDuty event is one alert, so a
    webhook channel gets one request each."""
    what = f"alert channel {name!r}"
    if isinstance(channel, SlackChannel):
        post_json(channel.url, {"text": grouped_text(notices)}, policy, what)
    elif isinstance(channel, EmailChannel):
        send_email(channel, notices)
    else:
        for notice in notices:
            post_json(channel.url, pagerduty_event(notice, channel.routing_key), policy, what)
