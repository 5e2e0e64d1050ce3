"""The one base class of every workbench REST handler, with the one error mapper."""

from __future__ import annotations

import json
import uuid
from typing import Any

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
        if _mapped_status(value) is not None:
            self.log.info("%s %s: %s", self.request.method, self.request.path, value)
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
        details = getattr(exc, "errors", None)
        if mapped is not None and isinstance(details, list):  # e.g. every error of a spec
            body["errors"] = [
                e.model_dump(mode="json") if isinstance(e, BaseModel) else e for e in details
            ]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, default=str))
