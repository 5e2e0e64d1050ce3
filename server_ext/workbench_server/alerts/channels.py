"""Sending an alert's notices: Slack-compatible webhooks, PagerDuty-v2-shaped webhooks
(n8n, PagerDuty itself) and e-mail. Every URL passes the egress policy first."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from ..connections.egress import EgressPolicy
from ..delivery import DeliveryFailed, post_json, send_mail, valid_smtp_url
from .rules import Channel, EmailChannel, SlackChannel

SMTP_URL_ENV = "WORKBENCH_SMTP_URL"
SMTP_FROM_ENV = "WORKBENCH_SMTP_FROM"
AGENT = "workbench-alerts"
# PagerDuty's severities for the plan's P1-P3.
PD_SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning"}

Action = Literal["trigger", "resolve"]


@dataclass(frozen=True)
class Notice:
    action: Action
    dedup_key: str
    rule: str
    severity: str
    summary: str
    labels: dict[str, str]
    source: str
    note: str = ""  # e.g. "escalated: not acknowledged 15m"

    @property
    def text(self) -> str:
        state = "FIRING" if self.action == "trigger" else "RESOLVED"
        note = f" ({self.note})" if self.note else ""
        return f"[{self.severity}] {state} {self.rule}: {self.summary}{note}"


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
            "custom_details": {
                **notice.labels,
                "priority": notice.severity,
                **({"escalation": notice.note} if notice.note else {}),
            },
        }
    return event


def send_email(channel: EmailChannel, notices: list[Notice]) -> None:
    url = channel.smtp_url or os.environ.get(SMTP_URL_ENV, "")
    if not valid_smtp_url(url):
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
    send_mail(url, message)


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
        post_json(channel.url, {"text": grouped_text(notices)}, policy, what, AGENT)
    elif isinstance(channel, EmailChannel):
        send_email(channel, notices)
    else:
        for notice in notices:
            post_json(
                channel.url, pagerduty_event(notice, channel.routing_key), policy, what, AGENT
            )
