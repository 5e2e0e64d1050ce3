"""The one base class of every workbench REST handler, with the one error mapper."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, ClassVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import OperationalError
from tornado.web import HTTPError

from ..core import Workbench
from ..errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    SourceUnavailableError,
)
from ..principal import Principal
from .redact import redact

# Domain error -> HTTP status. Anything not listed is a 500 with no internals in the body.
STATUS_OF: dict[type[Exception], int] = {
    ValidationError: 400,
    InvalidInputError: 400,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    RateLimitedError: 429,
    ConfigurationError: 503,
    SourceUnavailableError: 502,
    OperationalError: 503,  # the metadata DB is down or unreachable: try again later
}


def _mapped_status(exc: BaseException | None) -> int | None:
    for cls in type(exc).__mro__ if exc is not None else ():
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return None


# Bounds every route shares: request bodies, and whole numbers in queries and paths.
MAX_BODY_BYTES = 1024 * 1024
MAX_INT = 2**63 - 1  # the largest id a database stores (BIGINT, SQLite INTEGER)
_WHOLE = re.compile(r"[0-9]{1,19}")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²", int() does not


def _what_failed(exc: BaseException) -> str:
    """For the log: where a request was invalid and why, never what it said.

    Pydantic's own message carries ``input_value`` (a mistyped field's content, e.g. a
    password sent under the wrong ``kind``); a domain error's message may name what the
    request asked for. Only locations and error types are logged.
    """
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'} [{e['type']}]"
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        shown = ", ".join(parts[:10]) + (f" and {len(parts) - 10} more" if len(parts) > 10 else "")
        return f"{type(exc).__name__}: {shown}"
    return type(exc).__name__


def _unavailable_message(exc: OperationalError) -> str:
    """The driver's reason, never the SQL, its parameters or the DB's URL."""
    reason = " ".join(line.strip() for line in str(exc.orig or "").splitlines() if line.strip())
    return f"the metadata database is unavailable ({reason or 'no answer'}); try again shortly"


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "invalid request: " + "; ".join(parts)


class WorkbenchHandler(ExtensionHandlerMixin, APIHandler):
    """Authenticated, authorized JSON handler whose errors never leak internals."""

    auth_resource = "workbench"
    max_body_bytes: ClassVar[int] = MAX_BODY_BYTES
    """Larger request bodies are refused (413) before anything reads them."""

    async def prepare(self) -> None:
        size = len(self.request.body or b"")
        if size > self.max_body_bytes:
            raise HTTPError(
                413,
                f"the request body has {size:,} bytes; this route accepts at most "
                f"{self.max_body_bytes:,}",
            )
        await super().prepare()

    def query_int(
        self, name: str, default: int, *, high: int, low: int = 0, clamp: bool = False
    ) -> int:
        """The whole number in query argument ``name`` (``default`` when absent), from
        ``low`` to ``high``; above ``high`` it is ``high`` if ``clamp``, else refused.

        Raises :class:`InvalidInputError` (400) for anything else: ``abc``, ``1e3``,
        ``-1``, ``1.5``, digits of other scripts and numbers no database could hold.
        """
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        if not _DIGITS.fullmatch(raw):
            raise InvalidInputError(f"{name}: a whole number from {low} to {high}")
        # (A number too long to be one is above any bound: it is never converted.)
        value = int(raw) if len(raw) <= len(str(MAX_INT)) else None
        if value is None or value > high:
            if clamp:
                return high
            raise InvalidInputError(f"{name}: a whole number from {low} to {high}")
        if value < low:
            raise InvalidInputError(f"{name}: a whole number from {low} to {high}")
        return value

    def query_bool(self, name: str, default: bool) -> bool:
        """``true`` or ``false`` in query argument ``name``; anything else is refused."""
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        if raw not in ("true", "false"):
            raise InvalidInputError(f"{name}: true or false")
        return raw == "true"

    @staticmethod
    def path_id(raw: str, what: str) -> int:
        """A numeric id from the URL (the route's pattern made it digits); an id no
        database could hold names nothing there: 404."""
        if not _WHOLE.fullmatch(raw) or int(raw) > MAX_INT:
            raise NotFoundError(f"no {what} {raw[:24]}")
        return int(raw)

    def _request_summary(self) -> str:
        # Tornado logs HTTPErrors with this, the full URI: tokens in it are hidden.
        return redact(super()._request_summary())

    @property
    def workbench(self) -> Workbench:
        return self.settings["workbench"]

    @property
    def principal(self) -> Principal:
        """The core's view of the user making this request."""
        return self.settings["workbench_principals"].principal(self)

    def write_json(
        self, payload: BaseModel | dict[str, Any] | list[Any], status: int = 200
    ) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        if isinstance(payload, BaseModel):
            self.finish(payload.model_dump_json(by_alias=True))
        else:
            self.finish(json.dumps(payload, default=str))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        status = _mapped_status(value)
        if status is not None:
            # The answer tells the caller what was wrong; the log says where, not what.
            self.log.info(
                "%s %s: %d %s (ref %s)",
                self.request.method,
                self.request.path,
                status,
                _what_failed(value),
                self._error_ref,
            )
        elif not isinstance(value, HTTPError):
            self.log.error(
                "Unexpected error in %s %s (ref %s)",
                self.request.method,
                self.request.path,
                self._error_ref,
                exc_info=(typ, value, tb),
            )
        else:
            super().log_exception(typ, value, tb)

    @property
    def _error_ref(self) -> str:
        if not hasattr(self, "_ref"):
            self._ref = uuid.uuid4().hex[:12]
        return self._ref

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        mapped = _mapped_status(exc)
        if mapped is not None:
            status_code = mapped
        elif exc is not None and not isinstance(exc, HTTPError):
            status_code = 500
        self.set_status(status_code)  # first: the reason phrase follows the status
        if mapped is not None:
            message = (
                _validation_message(exc)
                if isinstance(exc, ValidationError)
                else _unavailable_message(exc)
                if isinstance(exc, OperationalError)
                else str(exc)
            )
        elif isinstance(exc, HTTPError):
            message = exc.log_message or self._reason
        elif exc is not None:
            message = f"internal error; the server log has the details (ref {self._error_ref})"
        else:
            message = self._reason
        body: dict[str, Any] = {"message": message, "reason": self._reason}
        if exc is not None and not isinstance(exc, HTTPError):
            body["ref"] = self._error_ref  # the same as in the server's log line
        details = getattr(exc, "errors", None)
        if mapped is not None and isinstance(details, list):  # e.g. every error of a spec
            body["errors"] = [
                e.model_dump(mode="json") if isinstance(e, BaseModel) else e for e in details
            ]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, default=str))


class UnknownRouteHandler(WorkbenchHandler):
    """The last workbench route: a path under the API that no route matches (a misspelt
    name, a malformed id) answers a JSON 404 as every other API answer, not Jupyter's HTML
    page; to a caller who is not signed in, 403 as the workbench's routes do."""

    async def prepare(self) -> None:
        await super().prepare()
        if self.current_user is None:
            raise HTTPError(403)
        raise NotFoundError(
            f"no workbench API answers {self.request.method} {self.request.path[:200]}: "
            "check the URL (a run id is 32 hexadecimal characters, a pipeline name lower "
            "case letters, digits, - and _)"
        )
