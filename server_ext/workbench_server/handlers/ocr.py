"""REST: /workbench/api/ocr — receipts and bills to Odoo expenses (docs/ocr.md).

- ``POST ocr/documents?filename=F&odoo=CONN`` with the file as the body: read, matched,
  and an ``hr.expense`` made in Odoo, or the document put in the review queue;
- ``POST ocr/inbox?odoo=CONN``: every document in the lake's ``inbox/receipts/`` (a
  folder, or an S3 prefix) through the same flow;
- ``GET ocr/review``: the queue (an admin sees all of it, others their own uploads);
- ``GET ocr/documents/<id>`` and ``.../file``: a document's fields and its file;
- ``POST ocr/documents/<id>/approve?odoo=CONN`` ``{"fields": {...}}`` and
  ``.../reject`` ``{"reason": "..."}``: an admin's decision.

``?lake=NAME`` picks a lake connection, as for /workbench/api/lake; ``?ocr=NAME`` an
``ocr`` connection (the company's OCR service; default: the offline engine).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..errors import InvalidInputError, NotFoundError
from ..ocr.engines import suffix_of
from ..ocr.models import MAX_DOCUMENT_BYTES, FlowSettings, Outcome
from .base import WorkbenchHandler

DOCUMENT = r"(?P<document_id>[0-9a-f]{64})"
_LAKE = re.compile(r"[a-z][a-z0-9_]{0,62}")
_CONNECTION = re.compile(r"[a-z][a-z0-9_]{0,62}")
_FILENAME = re.compile(r"[^/\\\x00-\x1f]{1,200}")
_OUTCOMES = TypeAdapter(list[Outcome])


class ApproveRequest(BaseModel):
    """The fields a reviewer corrected (vendor, vat, date, total, taxes, currency)."""

    model_config = ConfigDict(extra="forbid")
    fields: dict[str, Any] = Field(default_factory=dict, max_length=6)


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class _OcrHandler(WorkbenchHandler):
    auth_resource = "workbench.lake"

    def _service(self):
        """Called on the event loop; the result is used in a thread (it reads the metadata
        DB and the lake)."""
        from ..lake import Lake
        from ..ocr.service import OcrService

        name = self.get_query_argument("lake", None)
        if name is not None and not _LAKE.fullmatch(name):
            raise NotFoundError(f"no lake connection named {name[:64]!r}")
        ocr = self.get_query_argument("ocr", None)
        if ocr is not None and not _CONNECTION.fullmatch(ocr):
            raise InvalidInputError("ocr: the name of an OCR connection (default: offline)")
        workbench, principal = self.workbench, self.principal
        return lambda: OcrService(
            workbench,
            principal,
            Lake.of(workbench, principal, name).location,
            ocr_connection=ocr,
        )

    def _connection(self) -> str:
        name = self.get_query_argument("odoo", None)
        if name is None or not _CONNECTION.fullmatch(name):
            raise InvalidInputError("odoo: the name of the Odoo connection to create expenses in")
        return name

    def _flow_settings(self) -> FlowSettings:
        employee = self.get_query_argument("employee_id", None)
        return FlowSettings(
            employee_id=self.query_int("employee_id", 0, high=2**31 - 1, low=1)
            if employee is not None
            else None
        )


class DocumentsHandler(_OcrHandler):
    max_body_bytes = MAX_DOCUMENT_BYTES

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        filename = self.get_query_argument("filename", "")
        if not _FILENAME.fullmatch(filename):
            raise InvalidInputError("filename: the document's file name (PDF, PNG or JPEG)")
        suffix_of(filename)  # before anything else: a clear error for a wrong kind of file
        connection, settings, service = self._connection(), self._flow_settings(), self._service()
        body = self.request.body
        outcome = await asyncio.to_thread(
            lambda: service().upload(body, filename, connection, settings)
        )
        self.write_json(outcome, status=200 if outcome.seen_before else 201)


class InboxHandler(_OcrHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        connection, settings, service = self._connection(), self._flow_settings(), self._service()
        outcomes = await asyncio.to_thread(lambda: service().scan_inbox(connection, settings))
        self.set_header("Content-Type", "application/json")
        self.finish(_OUTCOMES.dump_json(outcomes))


class ReviewHandler(_OcrHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        service = self._service()
        queue = await asyncio.to_thread(lambda: service().queue())
        self.set_header("Content-Type", "application/json")
        self.finish(_OUTCOMES.dump_json(queue))


class DocumentHandler(_OcrHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, document_id: str) -> None:
        service = self._service()
        outcome, _content, _type = await asyncio.to_thread(lambda: service().get(document_id))
        self.write_json(outcome)


class DocumentFileHandler(_OcrHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, document_id: str) -> None:
        service = self._service()
        _outcome, content, mimetype = await asyncio.to_thread(lambda: service().get(document_id))
        self.set_header("Content-Type", mimetype)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox")
        self.set_header("Content-Disposition", "inline")
        # APIHandler.finish would say application/json whatever the file is
        tornado.web.RequestHandler.finish(self, content)


class ApproveHandler(_OcrHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, document_id: str) -> None:
        request = ApproveRequest.model_validate_json(self.request.body or b"{}")
        connection, settings, service = self._connection(), self._flow_settings(), self._service()
        outcome = await asyncio.to_thread(
            lambda: service().approve(document_id, request.fields, connection, settings)
        )
        self.write_json(outcome)


class RejectHandler(_OcrHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, document_id: str) -> None:
        request = RejectRequest.model_validate_json(self.request.body or b"{}")
        service = self._service()
        outcome = await asyncio.to_thread(lambda: service().reject(document_id, request.reason))
        self.write_json(outcome)


ROUTES = [
    (r"ocr/documents", DocumentsHandler),
    (r"ocr/inbox", InboxHandler),
    (r"ocr/review", ReviewHandler),
    (rf"ocr/documents/{DOCUMENT}", DocumentHandler),
    (rf"ocr/documents/{DOCUMENT}/file", DocumentFileHandler),
    (rf"ocr/documents/{DOCUMENT}/approve", ApproveHandler),
    (rf"ocr/documents/{DOCUMENT}/reject", RejectHandler),
]
