"""Messages sent out of the workbench: a JSON POST to a webhook, a mail through SMTP.

Run notifications (the workers) and alert notices (the server) both send this way: a
webhook's host is checked against the network policy and the checked address is the
one connected to, redirects are not followed, and every failure is a
:class:`DeliveryFailed` whose message says why, never a raw traceback.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from .connections.egress import EgressPolicy, UnknownHostError, http_connection
from .errors import NetworkPolicyError, WorkbenchError

TIMEOUT_S = 10.0


class DeliveryFailed(WorkbenchError):
    """A message did not reach its target; ``str()`` says why."""


def post_json(url: str, body: object, policy: EgressPolicy, what: str, agent: str) -> None:
    """POST ``body`` as JSON to ``url`` if ``policy`` allows its host (``what`` names the
    target in errors, ``agent`` is the User-Agent)."""
    try:
        target = policy.check_url(url, what=what)
    except NetworkPolicyError as exc:  # nothing was sent: the same for any port
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
            headers={"Content-Type": "application/json", "User-Agent": agent},
        )
        response = conn.getresponse()
        response.read(1024)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{what} could not be reached: {exc}") from None
    finally:
        conn.close()
    if response.status >= 300:  # redirects are not followed: they could lead anywhere
        raise DeliveryFailed(f"{what} answered HTTP {response.status} {response.reason}")


def valid_smtp_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("smtp", "smtps") and bool(parts.hostname)


def send_mail(url: str, message: EmailMessage) -> None:
    """Send ``message`` through the SMTP server of ``url`` (``smtp://[user:password@]host
    [:port][?starttls=true]`` or ``smtps://...``; check it with :func:`valid_smtp_url`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "smtps"
    port = parts.port or (465 if secure else 25)
    try:
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_S, context=ssl.create_default_context())
            if secure
            else smtplib.SMTP(host, port, timeout=TIMEOUT_S)
        )
        with client:
            if not secure and parse_qs(parts.query).get("starttls", ["false"])[0] == "true":
                client.starttls(context=ssl.create_default_context())
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"the SMTP server {host}:{port} refused: {exc}") from None
