"""The one signing scheme of both directions, Stripe's shape.

``Workbench-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{payload}")>``

The payload is the request body (a trigger call, or an event the workbench POSTs); for a
GET of a trigger status URL it is the request path, so a signature opens one run only.
A receiver checks the HMAC with a constant-time compare and that ``t`` is within its
window; several ``v1=`` may be present (while a secret is being replaced).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Workbench-Signature"
WINDOW_S = 300
SECRET_PREFIX = "wbsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    """A fresh secret: 256 random bits, recognisable by its prefix in a leak scanner."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    """The ``Workbench-Signature`` value for ``payload`` signed now (or at ``timestamp``)."""
    when = int(time.time()) if timestamp is None else timestamp
    return f"t={when},v1={signature(secret, when, payload)}"


class BadSignature(Exception):
    """Why a signature was refused, in one sentence for the log and the caller."""


def verify(
    secret: str, header: str, payload: bytes, *, window_s: int = WINDOW_S, now: float | None = None
) -> tuple[int, str]:
    """The header's timestamp and the matching signature; :class:`BadSignature` if the
    header is malformed, outside the window, or no ``v1`` matches."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise BadSignature(f"the {HEADER} header must read t=<unix seconds>,v1=<hex HMAC-SHA256>")
    moment = time.time() if now is None else now
    if abs(moment - timestamp) > window_s:
        raise BadSignature(
            f"the signature's timestamp is more than {window_s} s away from the server's "
            "clock: sign each request when it is sent"
        )
    expected = signature(secret, timestamp, payload)
    for candidate in candidates:
        if hmac.compare_digest(candidate, expected):
            return timestamp, candidate
    raise BadSignature("the signature does not match the body and the pipeline's trigger secret")
