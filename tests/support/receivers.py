"""Real endpoints that notifications go to: an HTTP webhook receiver and an SMTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from workbench_server.supervisor import free_port


@dataclass
class Webhooks:
    """POSTs received, with the time each arrived; ``/fail`` answers 500."""

    url: str
    received: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)


@contextmanager
def webhook_receiver() -> Iterator[Webhooks]:
    hooks = Webhooks(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            payload = json.loads(self.rfile.read(length) or b"{}")
            hooks.received.append((time.time(), self.path, payload))
            self.send_response(500 if self.path == "/fail" else 204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hooks.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hooks
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    url: str
    messages: list[EmailMessage] = field(default_factory=list)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1: every message it accepts lands in ``messages``."""
    from aiosmtpd.controller import Controller

    port = free_port("127.0.0.1")
    box = Mailbox(url=f"smtp://127.0.0.1:{port}")

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
