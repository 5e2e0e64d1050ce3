"""A small client for Odoo's external API (XML-RPC and JSON-RPC), with readable errors.

Odoo reports errors as XML-RPC faults or JSON-RPC error objects carrying the Python
exception's name and message; :class:`OdooError` keeps the message and adds the reason
a person can act on.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import ssl
import urllib.error
import xmlrpc.client
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from .egress import http_connection
from .kinds import OdooConfig

PAGE_SIZE = 2000


class OdooError(Exception):
    """An error from Odoo or from reaching it; ``str()`` is one line for the user."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _network_error(exc: BaseException, url: str) -> OdooError:
    if isinstance(exc, socket.gaierror):
        return OdooError("host_not_found", f"host of {url} not found")
    if isinstance(exc, ConnectionRefusedError):
        return OdooError("connection_refused", f"connection to {url} refused")
    if isinstance(exc, ssl.SSLError):
        return OdooError("tls_error", f"TLS error talking to {url}: {exc.reason or exc}")
    if isinstance(exc, TimeoutError | socket.timeout):
        return OdooError("timeout", f"{url} did not answer in time")
    if isinstance(exc, urllib.error.URLError):
        return (
            _network_error(exc.reason, url)
            if isinstance(exc.reason, BaseException)
            else (OdooError("error", f"cannot reach {url}: {exc.reason}"))
        )
    return OdooError("error", f"cannot reach {url}: {exc}")


# Odoo's XML-RPC fault codes for its two access exceptions (odoo/service/wsgi_server.py).
FAULT_REASONS = {3: "authentication_failed", 4: "permission_denied"}


def _fault_message(text: str) -> str:
    """The last meaningful line of an Odoo traceback/fault string."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "Odoo reported an error"


def _reason_of(name_or_text: str) -> str:
    if "AccessDenied" in name_or_text:
        return "authentication_failed"
    if "AccessError" in name_or_text:
        return "permission_denied"
    if "database" in name_or_text.lower() and "not exist" in name_or_text.lower():
        return "database_not_found"
    return "error"


class _TimeoutTransport(xmlrpc.client.SafeTransport):
    """XML-RPC over one HTTP(S) connection with a timeout, opened to ``address`` if set."""

    def __init__(self, url: str, timeout: float, address: str | None) -> None:
        super().__init__()
        self._url = url
        self._timeout = timeout
        self._address = address

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        _, self._extra_headers, _ = self.get_host_info(host)  # user:password@ in the URL
        self._connection = host, http_connection(self._url, self._address, self._timeout)
        return self._connection[1]


class OdooClient:
    """Reads Odoo models on behalf of one connection."""

    def __init__(self, cfg: OdooConfig, timeout: float = 30.0) -> None:
        self.cfg = cfg
        self.url = str(cfg.url).rstrip("/")
        self.timeout = timeout
        secret = cfg.api_key or cfg.password
        self._secret = secret.get_secret_value() if secret else ""
        self._uid: int | None = None
        self._ids = itertools.count(1)

    # -- transport -----------------------------------------------------------------
    def _call(self, service: str, method: str, *args: Any) -> Any:
        if self.cfg.protocol == "jsonrpc":
            return self._jsonrpc(service, method, list(args))
        proxy = xmlrpc.client.ServerProxy(
            f"{self.url}/xmlrpc/2/{service}",
            transport=_TimeoutTransport(self.url, self.timeout, self.cfg._address),
            allow_none=True,
        )
        try:
            return getattr(proxy, method)(*args)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode in FAULT_REASONS:  # the message itself, first line first
                first = fault.faultString.strip().splitlines() or ["Odoo refused"]
                raise OdooError(FAULT_REASONS[fault.faultCode], first[0].strip()) from None
            raise OdooError(
                _reason_of(fault.faultString), _fault_message(fault.faultString)
            ) from None
        except xmlrpc.client.ProtocolError as exc:
            raise OdooError(
                "error", f"{self.url} answered HTTP {exc.errcode} {exc.errmsg}"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _network_error(exc, self.url) from None

    def _jsonrpc(self, service: str, method: str, args: list[Any]) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(self._ids),
            "params": {"service": service, "method": method, "args": args},
        }
        path = urlsplit(f"{self.url}/jsonrpc")
        conn = http_connection(self.url, self.cfg._address, self.timeout)
        try:
            conn.request(
                "POST",
                path.path + (f"?{path.query}" if path.query else ""),
                body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            if response.status >= 300:  # no redirects: they could lead anywhere
                raise OdooError(
                    "error", f"{self.url} answered HTTP {response.status} {response.reason}"
                )
            reply = json.load(response)
        except (OSError, http.client.HTTPException) as exc:
            raise _network_error(exc, self.url) from None
        finally:
            conn.close()
        if "error" in reply:
            data = reply["error"].get("data") or {}
            name = data.get("name", "")
            message = data.get("message") or reply["error"].get("message", "Odoo error")
            raise OdooError(_reason_of(name or message), _fault_message(message))
        return reply.get("result")

    # -- API -------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        return self._call("common", "version")

    def authenticate(self) -> int:
        if self._uid is None:
            uid = self._call(
                "common", "authenticate", self.cfg.database, self.cfg.login, self._secret, {}
            )
            if not uid:
                raise OdooError(
                    "authentication_failed",
                    f"Odoo refused login {self.cfg.login!r} on database {self.cfg.database!r}",
                )
            self._uid = int(uid)
        return self._uid

    def execute_kw(
        self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None
    ) -> Any:
        uid = self.authenticate()
        return self._call(
            "object",
            "execute_kw",
            self.cfg.database,
            uid,
            self._secret,
            model,
            method,
            args,
            kwargs or {},
        )

    def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str] | None = None,
        limit: int | None = None,
        order: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Yield records page by page, so large models never come back in one reply."""
        offset, remaining = 0, limit
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            kwargs: dict[str, Any] = {"offset": offset, "limit": size}
            if fields:
                kwargs["fields"] = fields
            if order:
                kwargs["order"] = order
            page = self.execute_kw(model, "search_read", [domain], kwargs)
            yield from page
            if len(page) < size:
                return
            offset += len(page)
            if remaining is not None:
                remaining -= len(page)

    def fields_get(self, model: str) -> dict[str, dict[str, Any]]:
        return self.execute_kw(
            model,
            "fields_get",
            [],
            {
                "attributes": [
                    "string",
                    "type",
                    "help",
                    "relation",
                    "required",
                    "readonly",
                    "selection",
                    "store",
                ]
            },
        )
