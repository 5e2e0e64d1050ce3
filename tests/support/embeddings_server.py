"""A small HTTP server speaking OpenAI's embeddings protocol, for the rag step's tests.

No embeddings API can run here (they are hosted services or large models), so this
stands in for one, protocol-faithful: ``POST /v1/embeddings`` with a bearer key, a
``model`` and ``input`` (a string or a list of them) answers ``{"object": "list",
"data": [{"object": "embedding", "index": i, "embedding": [...]}], "model", "usage"}``;
a wrong key is a 401 with OpenAI's error body, an unknown model a 404, and the next
``fail_next`` requests a 503 (with ``Retry-After: 0``). Vectors are derived from the
text's SHA-256, so the same text always gets the same vector.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIMENSIONS = 8


def vector_of(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 255.0, 6) for b in digest[:dimensions]]


@dataclass
class EmbeddingsServer:
    url: str
    key: str
    model: str = "text-embedding-test"
    fail_next: int = 0
    requests: list[dict] = field(default_factory=list)  # bodies of answered requests
    statuses: list[int] = field(default_factory=list)


@contextmanager
def running_embeddings(key: str = "sk-test-key") -> Iterator[EmbeddingsServer]:
    """The server on 127.0.0.1 on a free port, stopped afterwards."""
    state = EmbeddingsServer(url="", key=key)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            state.statuses.append(status)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != "/v1/embeddings":
                return self._answer(404, _error(f"Unknown request URL: POST {self.path}"))
            if self.headers.get("Authorization") != f"Bearer {state.key}":
                return self._answer(401, _error("Incorrect API key provided.", "invalid_api_key"))
            with lock:
                if state.fail_next > 0:
                    state.fail_next -= 1
                    return self._answer(
                        503, _error("The server is overloaded.", None), {"Retry-After": "0"}
                    )
            try:
                body = json.loads(raw)
            except ValueError:
                return self._answer(400, _error("We could not parse the JSON body."))
            if body.get("model") != state.model:
                return self._answer(
                    404,
                    _error(f"The model `{body.get('model')}` does not exist", "model_not_found"),
                )
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                return self._answer(400, _error("'input' must be a string or a list of them"))
            dims = int(body.get("dimensions") or DIMENSIONS)
            state.requests.append(body)
            self._answer(
                200,
                {
                    "object": "list",
                    "data": [
                        {"object": "embedding", "index": i, "embedding": vector_of(t, dims)}
                        for i, t in enumerate(texts)
                    ],
                    "model": state.model,
                    "usage": {
                        "prompt_tokens": sum(len(t.split()) for t in texts),
                        "total_tokens": sum(len(t.split()) for t in texts),
                    },
                },
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _error(message: str, code: str | None = None) -> dict:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }
