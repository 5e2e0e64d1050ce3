"""Superset's REST API as one connection's user: login, CSRF, databases, datasets, chart data.

Every request goes through the workbench's network policy (the address checked is the
address connected to, see :func:`~workbench_server.connections.egress.pin`). Superset's
write endpoints want a CSRF token bound to its session cookie as well as the bearer
token: both are taken at login and sent with each request.
"""

from __future__ import annotations

import http.client
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..connections.egress import http_connection
from ..errors import NotFoundError, SourceUnavailableError

if TYPE_CHECKING:
    from ..connections.kinds import SupersetConfig

MAX_ANSWER = 64 * 1024 * 1024  # a chart's data is bounded by its row limit; this bounds the rest


class SupersetError(SourceUnavailableError):
    """Superset could not be reached, refused the login, or refused a request."""


def rison_filters(**equal: str | int) -> str:
    """``?q=`` of a list endpoint filtered on ``column == value`` (Superset reads rison)."""

    def value(v: str | int) -> str:
        if isinstance(v, int):
            return str(v)
        return "'" + v.replace("!", "!!").replace("'", "!'") + "'"

    filters = ",".join(f"(col:{k},opr:eq,value:{value(v)})" for k, v in equal.items())
    return quote(f"(filters:!({filters}),page_size:100)", safe="(),:!'")


class SupersetClient:
    """A logged-in session with one Superset (``login`` first)."""

    def __init__(self, cfg: SupersetConfig, timeout: float = 30.0) -> None:
        self.cfg = cfg
        self.url = str(cfg.url).rstrip("/")
        self.timeout = timeout
        self._token = ""
        self._csrf = ""
        self._cookie = ""

    # -- transport ---------------------------------------------------------------------
    def _send(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, Any, http.client.HTTPMessage]:
        parts = urlsplit(self.url)
        headers = {"Accept": "application/json", "Referer": self.url}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._csrf:
            headers["X-CSRFToken"] = self._csrf
        if self._cookie:
            headers["Cookie"] = self._cookie
        conn = http_connection(self.url, self.cfg._address, self.timeout)
        try:
            conn.request(
                method,
                parts.path.rstrip("/") + path,
                body=None if body is None else json.dumps(body, default=str).encode(),
                headers=headers,
            )
            answer = conn.getresponse()
            raw = answer.read(MAX_ANSWER + 1)
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise SupersetError(f"cannot reach Superset at {self.url}: {reason}") from None
        finally:
            conn.close()
        if len(raw) > MAX_ANSWER:
            raise SupersetError(f"Superset at {self.url} answered more than {MAX_ANSWER} bytes")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw[:200].decode(errors="replace")
        return answer.status, parsed, answer.headers

    def call(self, method: str, path: str, body: Any = None, *, what: str = "") -> Any:
        """``path``'s JSON answer; a clear :class:`SupersetError` for any 4xx/5xx."""
        status, parsed, _ = self._send(method, path, body)
        if status == 404:
            raise NotFoundError(f"Superset at {self.url} has no {what or path}")
        if status >= 300:
            raise SupersetError(
                f"Superset at {self.url} refused to {what or method + ' ' + path} "
                f"(HTTP {status}): {_message(parsed)}"
            )
        return parsed

    # -- session -----------------------------------------------------------------------
    def login(self) -> SupersetClient:
        body = {
            "username": self.cfg.user,
            "password": self.cfg.password.get_secret_value() if self.cfg.password else "",
            "provider": "db",
            "refresh": False,
        }
        status, parsed, _ = self._send("POST", "/api/v1/security/login", body)
        if status == 401:
            raise SupersetError(
                f"Superset at {self.url} refused the login of {self.cfg.user!r}: "
                "wrong user or password"
            )
        if status != 200 or not isinstance(parsed, dict) or "access_token" not in parsed:
            raise SupersetError(
                f"{self.url} does not answer as Superset's API does "
                f"(login answered HTTP {status}): is it Superset's address?"
            )
        self._token = parsed["access_token"]
        status, parsed, headers = self._send("GET", "/api/v1/security/csrf_token/")
        if status != 200 or not isinstance(parsed, dict):
            raise SupersetError(f"Superset at {self.url} gave no CSRF token (HTTP {status})")
        self._csrf = parsed["result"]
        cookies = [c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []]
        self._cookie = "; ".join(c for c in cookies if c.startswith("session="))
        return self

    def version(self) -> str:
        """Superset's version (for the connection test)."""
        status, parsed, _ = self._send("GET", "/version")
        if status == 200 and isinstance(parsed, dict) and parsed.get("version_string"):
            return str(parsed["version_string"])[:40]
        return "?"

    # -- objects -----------------------------------------------------------------------
    def find(self, resource: str, **equal: str | int) -> list[dict[str, Any]]:
        found = self.call(
            "GET", f"/api/v1/{resource}/?q={rison_filters(**equal)}", what=f"{resource} list"
        )
        return list(found.get("result", []))

    def user_ids(self, usernames: list[str]) -> list[int]:
        """Superset user ids of those of ``usernames`` that Superset knows (others are
        left out; the users API may be off: then none)."""
        ids = []
        for name in usernames:
            try:
                found = self.find("security/users", username=name)
            except (SupersetError, NotFoundError):
                return ids
            ids.extend(int(u["id"]) for u in found if "id" in u)
        return ids

    def me(self) -> int | None:
        status, parsed, _ = self._send("GET", "/api/v1/me/")
        if status == 200 and isinstance(parsed, dict):
            return parsed.get("result", {}).get("id")
        return None


def _message(parsed: Any) -> str:
    if isinstance(parsed, dict):
        for key in ("message", "errors", "msg"):
            if key in parsed:
                value = parsed[key]
                text = json.dumps(value) if not isinstance(value, str) else value
                return text[:500]
    return str(parsed)[:500]
