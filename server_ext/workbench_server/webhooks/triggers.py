"""Trigger credentials: the per-pipeline secret that lets n8n (or any client) start runs.

The secret is made here, shown once (when created or rotated) and stored sealed with the
installation's key, like a connection's secrets. The pipeline's owner and admins create,
rotate and revoke it. A caller proves it holds the secret either as a bearer token or by
signing the body (``Workbench-Signature``, see :mod:`.signing`); a signed call is
accepted once: its signature is remembered for the replay window. Every refusal is
logged and counted on the credential, for its owner to see.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..db.models import Pipeline, TriggerCredential, TriggerNonce
from ..errors import NotFoundError, PermissionDeniedError
from ..pipelines.registry import PipelineRegistry
from ..principal import Principal
from . import signing

if TYPE_CHECKING:
    from ..core import Workbench

log = logging.getLogger(__name__)


class TriggerInfo(BaseModel):
    """What anyone who may see the pipeline may know of its trigger credential."""

    pipeline: str
    enabled: bool
    created_by: str | None = None
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    refused: int = 0
    last_refused_at: datetime | None = None
    last_refused_reason: str | None = None
    may_change: bool = False


class TriggerSecret(TriggerInfo):
    """The answer to creating or rotating: the one time the secret is shown."""

    secret: str


@dataclass(frozen=True)
class TriggerCaller:
    """A caller that proved it holds a pipeline's trigger secret."""

    credential_id: int
    pipeline: str
    sealed_secret: bytes

    @property
    def principal(self) -> Principal:
        # Runs it starts say who: the pipeline's trigger credential. It may run this
        # pipeline and read its runs only (the handlers check the pipeline named).
        return Principal(name=f"trigger:{self.pipeline}#{self.credential_id}", admin=True)


class TriggerRefused(Exception):
    """A trigger call without a valid credential; ``str()`` says why (401)."""


def _now() -> datetime:
    return datetime.now(UTC)


class TriggerService:
    """Trigger credentials of the pipelines a principal may see."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    def _pipeline(self, name: str, change: bool = False) -> tuple[int, bool]:
        out = PipelineRegistry(self.workbench, self.principal).get(name)  # 404 if not seen
        may_change = self.principal.may_change(out.owner)
        if change and not may_change:
            raise PermissionDeniedError(
                f"only {out.owner} (the owner of pipeline {name!r}) and admins may create, "
                "rotate or revoke its trigger secret"
            )
        with self.workbench.sessions() as session:
            pipeline_id = session.scalar(select(Pipeline.id).where(Pipeline.name == name))
        if pipeline_id is None:
            raise NotFoundError(f"no pipeline {name!r}")
        return pipeline_id, may_change

    def describe(self, name: str) -> TriggerInfo:
        pipeline_id, may_change = self._pipeline(name)
        with self.workbench.sessions() as session:
            row = session.scalar(
                select(TriggerCredential).where(TriggerCredential.pipeline_id == pipeline_id)
            )
            if row is None:
                return TriggerInfo(pipeline=name, enabled=False, may_change=may_change)
            return _info(name, row, may_change)

    def rotate(self, name: str) -> TriggerSecret:
        """A new secret (the old one stops working at once); shown in this answer only."""
        pipeline_id, _ = self._pipeline(name, change=True)
        secret = signing.new_secret()
        sealed = self.workbench.secret_box.seal({"secret": secret}) or b""
        with self.workbench.sessions.begin() as session:
            row = session.scalar(
                select(TriggerCredential).where(TriggerCredential.pipeline_id == pipeline_id)
            )
            if row is not None:  # replay memory of the old secret goes with it
                session.delete(row)
                session.flush()
            row = TriggerCredential(
                pipeline_id=pipeline_id,
                secret=sealed,
                created_by=self.principal.name,
                created_at=_now(),
                refused=0,
            )
            session.add(row)
            session.flush()
            info = _info(name, row, True)
        log.info("trigger secret of pipeline %s set by %s", name, self.principal.name)
        return TriggerSecret(**info.model_dump(), secret=secret)

    def revoke(self, name: str) -> None:
        pipeline_id, _ = self._pipeline(name, change=True)
        with self.workbench.sessions.begin() as session:
            row = session.scalar(
                select(TriggerCredential).where(TriggerCredential.pipeline_id == pipeline_id)
            )
            if row is None:
                raise NotFoundError(f"pipeline {name!r} has no trigger secret")
            session.delete(row)
        log.info("trigger secret of pipeline %s revoked by %s", name, self.principal.name)


def _info(name: str, row: TriggerCredential, may_change: bool) -> TriggerInfo:
    return TriggerInfo(
        pipeline=name,
        enabled=True,
        created_by=row.created_by,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        refused=row.refused or 0,
        last_refused_at=row.last_refused_at,
        last_refused_reason=row.last_refused_reason,
        may_change=may_change,
    )


def bearer(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate(
    workbench: Workbench,
    name: str,
    authorization: str,
    signature_header: str,
    payload: bytes,
    *,
    single_use: bool,
    source: str,
) -> TriggerCaller:
    """The caller, if it holds ``name``'s trigger secret; else :class:`TriggerRefused`
    (logged, and counted on the credential). With ``single_use`` a signature is accepted
    once within the replay window (a bearer token cannot be; send it over TLS only)."""
    with workbench.sessions() as session:
        found = session.execute(
            select(TriggerCredential)
            .join(Pipeline, Pipeline.id == TriggerCredential.pipeline_id)
            .where(Pipeline.name == name)
        ).scalar_one_or_none()
        credential = (found.id, found.secret) if found is not None else None
    if credential is None:
        # The same answer whether the pipeline exists or not.
        log.warning("trigger of pipeline %s refused from %s: no trigger secret", name, source)
        raise TriggerRefused("no valid trigger credential for this pipeline")
    credential_id, sealed = credential
    secret = workbench.secret_box.open(sealed, what=f"the trigger of pipeline {name!r}")["secret"]
    token = bearer(authorization)
    try:
        if signature_header:
            _, matched = signing.verify(secret, signature_header, payload)
            if single_use:
                _remember(workbench, credential_id, matched)
        elif token is not None:
            if not hmac.compare_digest(token.encode(), secret.encode()):
                raise signing.BadSignature("the bearer token is not the pipeline's trigger secret")
        else:
            raise signing.BadSignature(
                f"send the trigger secret as 'Authorization: Bearer <secret>' or sign the body "
                f"in a {signing.HEADER} header"
            )
    except signing.BadSignature as exc:
        _refused(workbench, credential_id, name, source, str(exc))
        raise TriggerRefused(str(exc)) from None
    with workbench.sessions.begin() as session:
        row = session.get(TriggerCredential, credential_id)
        if row is not None:
            row.last_used_at = _now()
    return TriggerCaller(credential_id, name, sealed)


def _remember(workbench: Workbench, credential_id: int, matched: str) -> None:
    digest = hashlib.sha256(matched.encode()).hexdigest()
    horizon = _now() - timedelta(seconds=2 * signing.WINDOW_S)
    try:
        with workbench.sessions.begin() as session:
            session.execute(delete(TriggerNonce).where(TriggerNonce.seen_at < horizon))
            session.add(TriggerNonce(credential_id=credential_id, digest=digest, seen_at=_now()))
    except IntegrityError:
        raise signing.BadSignature(
            "this signature was already used: sign every request anew (replay refused)"
        ) from None


def _refused(workbench: Workbench, credential_id: int, name: str, source: str, why: str) -> None:
    log.warning("trigger of pipeline %s refused from %s: %s", name, source, why)
    with workbench.sessions.begin() as session:
        row = session.get(TriggerCredential, credential_id)
        if row is not None:
            row.refused = (row.refused or 0) + 1
            row.last_refused_at = _now()
            row.last_refused_reason = why[:500]
