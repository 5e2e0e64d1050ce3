"""The OCR flow for one principal: which lake, which Odoo connection, who sees what.

Anyone may upload a document; a non-admin sees only the documents they uploaded. Admins
review: they see the whole queue and approve or reject (a person does not approve their
own expense).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..connections.egress import EgressPolicy, pin
from ..connections.kinds import OcrConfig, OdooConfig
from ..connections.odoo import OdooClient, OdooError
from ..connections.service import ConnectionService
from ..core import Workbench
from ..errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from ..lake.location import LakeLocation
from ..principal import Principal
from . import flow
from .engines import OcrEngine, default_engine, engine_for
from .models import Extracted

__all__ = ["OcrService"]


class OcrService:
    """Documents, the review queue and decisions, as ``principal`` may see and make them."""

    def __init__(
        self,
        workbench: Workbench,
        principal: Principal,
        location: LakeLocation,
        engine: OcrEngine | None = None,
        ocr_connection: str | None = None,
    ) -> None:
        self.workbench = workbench
        self.principal = principal
        self.location = location
        self.engine = engine or (
            self._engine(ocr_connection) if ocr_connection else default_engine()
        )

    def _engine(self, connection: str) -> OcrEngine:
        """The engine of ``ocr`` connection ``connection``, checked by the network policy."""
        cfg = ConnectionService(self.workbench, self.principal).resolve(connection)
        if not isinstance(cfg, OcrConfig):
            raise InvalidInputError(f"connection {connection!r} is not an OCR connection")
        pinned = pin(connection, cfg, EgressPolicy.from_settings(self.workbench.settings))
        assert isinstance(pinned, OcrConfig)
        return engine_for(pinned)

    def _client(self, connection: str) -> OdooClient:
        cfg = ConnectionService(self.workbench, self.principal).resolve(connection)
        if not isinstance(cfg, OdooConfig):
            raise InvalidInputError(f"connection {connection!r} is not an Odoo connection")
        pinned = pin(connection, cfg, EgressPolicy.from_settings(self.workbench.settings))
        assert isinstance(pinned, OdooConfig)
        return OdooClient(pinned, timeout=60)

    def _mine(self, outcome: flow.Outcome, uploaded_by: str | None) -> None:
        if not self.principal.admin and uploaded_by != self.principal.name:
            raise NotFoundError(f"no document {outcome.document_id}")

    def _someone_elses(self, outcome: flow.Outcome) -> bool:
        """Whether ``outcome`` answers a document another user sent first, which this
        principal may not see (the review queue's rule: a non-admin sees their own)."""
        return (
            outcome.seen_before
            and not self.principal.admin
            and outcome.uploaded_by != self.principal.name
        )

    def upload(
        self, data: bytes, filename: str, connection: str, settings: flow.FlowSettings
    ) -> flow.Outcome:
        client = self._client(connection)
        try:
            outcome = flow.process_document(
                self.location, data, filename, self.engine, client, settings,
                source="rest", user=self.principal.name,
            )  # fmt: skip
        except OdooError as exc:
            raise InvalidInputError(f"Odoo connection {connection!r}: {exc}") from None
        if self._someone_elses(outcome):
            # The same file (by its SHA-256) is one document and one expense: never a
            # second claim, and nothing of the first sender's read, match or expense.
            raise ConflictError(
                f"{Path(filename).name}: this document was already submitted by someone "
                "else; it is not read or claimed again"
            )
        return outcome

    def scan_inbox(self, connection: str, settings: flow.FlowSettings) -> list[flow.Outcome]:
        client = self._client(connection)
        try:
            outcomes = flow.scan_lake_inbox(
                self.location, self.engine, client, settings, user=self.principal.name
            )
        except OdooError as exc:
            raise InvalidInputError(f"Odoo connection {connection!r}: {exc}") from None
        return [self._withheld(o) if self._someone_elses(o) else o for o in outcomes]

    @staticmethod
    def _withheld(outcome: flow.Outcome) -> flow.Outcome:
        """Another user's document as this one may see it: that it was sent, no more
        (not what became of it: an expense, the review queue, a rejection)."""
        return flow.Outcome(
            document_id=outcome.document_id,
            filename=outcome.filename,
            status="withheld",
            reason="already submitted by someone else",
            fields=Extracted(),
            seen_before=True,
        )

    def queue(self) -> list[flow.Outcome]:
        waiting = flow.review_queue(self.location)
        if self.principal.admin:
            return waiting
        return [o for o in waiting if o.uploaded_by == self.principal.name]

    def get(self, document_id: str) -> tuple[flow.Outcome, bytes, str]:
        outcome, content, mimetype = flow.document(self.location, document_id)
        self._mine(outcome, outcome.uploaded_by)
        return outcome, content, mimetype

    def _reviewer(self, document_id: str) -> flow.Outcome:
        outcome, _content, _type = self.get(document_id)
        if not self.principal.admin:
            raise PermissionDeniedError("only an administrator reviews documents")
        return outcome

    def approve(
        self,
        document_id: str,
        edits: dict[str, Any],
        connection: str,
        settings: flow.FlowSettings,
    ) -> flow.Outcome:
        self._reviewer(document_id)
        client = self._client(connection)
        return flow.approve(
            self.location, client, settings, document_id, edits, self.principal.name
        )

    def reject(self, document_id: str, reason: str) -> flow.Outcome:
        self._reviewer(document_id)
        return flow.reject(self.location, document_id, reason, self.principal.name)
