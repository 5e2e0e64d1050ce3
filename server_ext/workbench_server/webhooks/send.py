"""One attempt to deliver an event: signed, POSTed through the network policy, recorded.

Redirects are not followed and no proxy is used (see :func:`..delivery.post_json`); any
2xx answer is success. The attempt's answer (status, time taken, or why it failed) is
written beside the delivery, whatever happens.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select

from ..connections.egress import EgressPolicy, UnknownHostError, http_connection
from ..db.models import AgentHook, WebhookAttempt, WebhookDelivery, WebhookTarget
from ..errors import NetworkPolicyError
from . import signing

if TYPE_CHECKING:
    from ..core import Workbench

TIMEOUT_S = 10.0
AGENT = "workbench-webhooks"


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: delivered, worth another try, or never deliverable."""

    delivered: bool
    retry: bool
    message: str = ""


def _post(url: str, body: bytes, headers: dict[str, str], address: str) -> int:
    parts = urlsplit(url)
    conn = http_connection(url, address, TIMEOUT_S)
    try:
        conn.request(
            "POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers
        )
        response = conn.getresponse()
        response.read(4096)
        return response.status
    finally:
        conn.close()


def attempt(workbench: Workbench, delivery_id: int, number: int, last: bool) -> Outcome:
    """POST delivery ``delivery_id`` (its attempt ``number``); ``last``: no retry follows,
    so a failure marks the delivery failed."""
    with workbench.sessions() as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:
            return Outcome(False, False, "the delivery no longer exists (its run was deleted)")
        if row.status == "delivered":
            return Outcome(True, False)
        if row.agent_id is not None:  # an agent's event: signed with the agent's secret
            target: AgentHook | WebhookTarget | None = session.get(AgentHook, row.agent_id)
        else:
            target = session.get(WebhookTarget, row.target_id) if row.target_id else None
        url, event, event_id, payload = row.url, row.event, row.event_id, row.payload
        sealed = target.secret if target is not None else None
        gone = "its agent was removed" if row.agent_id else "its webhook target was deleted"
    if sealed is None:
        outcome = Outcome(False, False, gone)
        _record(workbench, delivery_id, number, None, 0.0, outcome, last=True)
        return outcome
    secret = workbench.secret_box.open(sealed, what=f"webhook target of delivery {delivery_id}")
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": AGENT,
        "Workbench-Event": event,
        "Workbench-Event-Id": event_id,
        "Workbench-Delivery": str(delivery_id),
        "Workbench-Attempt": str(number),
        signing.HEADER: signing.header_value(secret["secret"], body),
    }
    clock = time.monotonic()
    status: int | None = None
    what = f"webhook {url!r}"
    try:
        target_address = EgressPolicy.from_settings(workbench.settings).check_url(url, what=what)
        status = _post(url, body, headers, target_address.address)
    except NetworkPolicyError as exc:  # never deliverable while the policy says so
        outcome = Outcome(False, False, str(exc))
    except UnknownHostError as exc:
        outcome = Outcome(False, True, f"{what} could not be reached: {exc}")
    except (OSError, http.client.HTTPException) as exc:
        outcome = Outcome(False, True, f"{what} could not be reached: {exc or type(exc).__name__}")
    else:
        if 200 <= status < 300:
            outcome = Outcome(True, False)
        else:  # 3xx included: redirects are not followed
            outcome = Outcome(False, True, f"{what} answered HTTP {status}")
    elapsed = round((time.monotonic() - clock) * 1000, 1)
    _record(workbench, delivery_id, number, status, elapsed, outcome, last)
    return outcome


def _record(
    workbench: Workbench,
    delivery_id: int,
    number: int,
    status: int | None,
    elapsed_ms: float,
    outcome: Outcome,
    last: bool,
) -> None:
    now = datetime.now(UTC)
    with workbench.sessions.begin() as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:
            return
        existing = session.scalar(
            select(WebhookAttempt.id).where(
                WebhookAttempt.delivery_id == delivery_id, WebhookAttempt.attempt == number
            )
        )
        if existing is None:
            session.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    attempt=number,
                    at=now,
                    status_code=status,
                    duration_ms=elapsed_ms,
                    error=outcome.message or None,
                )
            )
        row.attempts = max(row.attempts or 0, number)
        if outcome.delivered:
            row.status, row.delivered_at, row.last_error = "delivered", now, None
        elif last or not outcome.retry:
            row.status, row.last_error = "failed", outcome.message
        else:
            row.status, row.last_error = "retrying", outcome.message
