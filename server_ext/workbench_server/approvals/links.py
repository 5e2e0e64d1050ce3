"""Signed approval links: a token that approves or rejects one step of one run, until it
expires, once.

A token is ``<payload>.<signature>``, both base64url: the payload names the run, the step,
the decision, the expiry (Unix seconds) and whom it was made for (recorded as the
decider); the signature is HMAC-SHA256 under a key derived from the installation's
secrets key, so the server and the workers (which hold that key) make and check the same
tokens and nobody else can. A token is used once because a decision is taken once: the
approval is no longer pending after it. Rotating the secrets key voids outstanding links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..errors import InvalidInputError, PermissionDeniedError

MAX_TOKEN_CHARS = 2000
_PURPOSE = b"workbench approval links v1"


class LinkClaims(BaseModel):
    run_id: str
    step_id: str
    approve: bool
    expires: int  # Unix seconds
    issued_for: str


def _key(secrets_key: Path) -> bytes:
    return hmac.new(secrets_key.read_bytes().strip(), _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secrets_key: Path, claims: LinkClaims) -> str:
    payload = _b64(json.dumps(claims.model_dump(), separators=(",", ":")).encode())
    signature = hmac.new(_key(secrets_key), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(signature)}"


def make_token(
    secrets_key: Path, run_id: str, step_id: str, approve: bool, ttl_s: float, issued_for: str
) -> str:
    claims = LinkClaims(
        run_id=run_id,
        step_id=step_id,
        approve=approve,
        expires=int(time.time() + ttl_s),
        issued_for=issued_for,
    )
    return sign(secrets_key, claims)


def verify(secrets_key: Path, token: str, now: float | None = None) -> LinkClaims:
    """The token's claims if it is genuine and not expired.

    No token is a 403, a malformed one a 400; a forged, altered or expired one a 403
    that says which.
    """
    if not token:  # no credential at all: refused like any anonymous request
        raise PermissionDeniedError("this route needs the token of an approval link")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidInputError("token: not an approval link token; copy the whole link")
    payload, _, signature = token.partition(".")
    expected = hmac.new(_key(secrets_key), payload.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(signature)
    except ValueError:
        given = b""
    if not hmac.compare_digest(expected, given):
        raise PermissionDeniedError(
            "this approval link is not valid (altered, or made by another installation); "
            "open the run in the Pipelines panel to decide"
        )
    try:
        claims = LinkClaims.model_validate_json(_unb64(payload))
    except (ValueError, ValidationError):
        raise InvalidInputError("token: not an approval link token; copy the whole link") from None
    if (now if now is not None else time.time()) >= claims.expires:
        raise PermissionDeniedError(
            "this approval link has expired; open the run in the Pipelines panel to decide"
        )
    return claims
