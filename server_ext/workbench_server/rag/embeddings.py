"""Vectors from an embeddings API speaking OpenAI's protocol (an ``embedding`` connection).

``POST {base}/embeddings`` with ``{"model", "input": [texts], "encoding_format": "float"}``
(and ``dimensions`` when the connection sets it) answers ``{"data": [{"index": i,
"embedding": [...]}, ...]}``. Texts go in batches of the connection's ``batch_size``; a
batch that fails with a connection error, a timeout, HTTP 429 or a 5xx is sent again
after a pause (the server's ``Retry-After`` when it gives one, bounded), at most
``ATTEMPTS`` times. A 4xx other than 429 (a wrong key, an unknown model, a text too
long) fails at once. Every error names the connection and says what the API answered.

The request goes to the address the network policy checked when the connection was
pinned (:func:`~workbench_server.connections.egress.pin`), and never follows a redirect.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from ..connections.egress import http_connection
from ..connections.kinds import EmbeddingConfig
from ..errors import InvalidInputError, SourceUnavailableError

ATTEMPTS = 4
FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 20.0
_RETRIED_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EmbeddingClient:
    """Embeds texts with connection ``name``'s API (settings pinned by the caller)."""

    def __init__(
        self,
        name: str,
        settings: EmbeddingConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        check: Callable[[], None] | None = None,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.name = name
        self.settings = settings
        self.requests = 0
        self.retries = 0
        self.attempts = attempts
        self._sleep = sleep
        self._check = check or (lambda: None)
        url = str(settings.url).rstrip("/")
        self.url = url if url.endswith("/embeddings") else f"{url}/embeddings"

    @property
    def model(self) -> str:
        return self.settings.model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, asked ``batch_size`` texts at a time."""
        vectors: list[list[float]] = []
        size = self.settings.batch_size
        for first in range(0, len(texts), size):
            self._check()
            vectors.extend(self._batch(list(texts[first : first + size])))
        return vectors

    def _batch(self, texts: list[str]) -> list[list[float]]:
        body: dict = {"model": self.settings.model, "input": texts, "encoding_format": "float"}
        if self.settings.dimensions is not None:
            body["dimensions"] = self.settings.dimensions
        pause = FIRST_PAUSE_S
        for attempt in range(1, self.attempts + 1):
            self.requests += 1
            status, reply, wait = self._post(json.dumps(body).encode())
            if status == 200:
                return self._vectors(reply, len(texts))
            reason = _reason(status, reply)
            if status not in _RETRIED_STATUS and status != 0:
                raise InvalidInputError(f"{self._what} answered {reason}")
            if attempt == self.attempts:
                raise SourceUnavailableError(
                    f"{self._what} failed {attempt} times, last with {reason}"
                    if attempt > 1
                    else f"{self._what} failed: {reason}"
                )
            self.retries += 1
            self._check()
            self._sleep(min(LONGEST_PAUSE_S, wait if wait is not None else pause))
            pause *= 2
        raise AssertionError("unreachable")

    @property
    def _what(self) -> str:
        return f"embedding connection {self.name!r} ({self.url})"

    def _post(self, payload: bytes) -> tuple[int, object, float | None]:
        """(HTTP status, or 0 for no answer; the parsed reply or the error; Retry-After)."""
        s = self.settings
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if s.api_key is not None:
            headers["Authorization"] = f"Bearer {s.api_key.get_secret_value()}"
        parts = urlsplit(self.url)
        conn = http_connection(self.url, s._address, s.timeout_s)
        try:
            conn.request(
                "POST", parts.path + (f"?{parts.query}" if parts.query else ""), payload, headers
            )
            response = conn.getresponse()
            raw = response.read(64 * 1024 * 1024)
            wait = _retry_after(response.getheader("Retry-After"))
            try:
                reply: object = json.loads(raw) if raw else None
            except ValueError:
                reply = raw[:200].decode("utf-8", "replace")
            return response.status, reply, wait
        except (OSError, http.client.HTTPException) as exc:
            return 0, f"{type(exc).__name__}: {exc}", None
        finally:
            conn.close()

    def _vectors(self, reply: object, count: int) -> list[list[float]]:
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, list) or len(data) != count:
            got = len(data) if isinstance(data, list) else "no"
            raise InvalidInputError(
                f"{self._what} answered {got} embedding(s) for {count} text(s): is it an "
                "OpenAI-compatible embeddings API?"
            )
        ordered = sorted(
            data, key=lambda item: item.get("index", 0) if isinstance(item, dict) else 0
        )
        vectors = []
        for item in ordered:
            vector = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(vector, list) or not vector:
                raise InvalidInputError(
                    f"{self._what} answered an embedding that is not a list of numbers "
                    "(ask for encoding_format float)"
                )
            vectors.append([float(x) for x in vector])
        if len({len(v) for v in vectors}) > 1:
            raise InvalidInputError(f"{self._what} answered vectors of different lengths")
        return vectors


def _reason(status: int, reply: object) -> str:
    if status == 0:
        return f"no answer ({reply})"
    message = None
    if isinstance(reply, dict):
        error = reply.get("error")
        message = error.get("message") if isinstance(error, dict) else error or reply.get("detail")
    elif isinstance(reply, str):
        message = reply
    text = f"HTTP {status}"
    return f"{text}: {str(message)[:300]}" if message else text


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the usual pause instead
