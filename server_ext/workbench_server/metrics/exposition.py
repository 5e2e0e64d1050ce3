"""The scrape itself: which figures a process exports, and a worker's own endpoint.

The workbench server exports this process's instruments, the metadata DB's totals and
disk use; a worker exports its own instruments (steps, notebooks, run durations,
OpenLineage, its CPU and memory) on a small HTTP server of its own, since a worker
serves nothing else. Both ask for the same scrape token.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from ..errors import ConfigurationError
from .collectors import DiskCollector, MetadataCollector, volumes_of
from .instruments import REGISTRY
from .task_queue import TaskQueueCollector
from .token import ScrapeToken

if TYPE_CHECKING:
    from ..core import Workbench

log = logging.getLogger(__name__)

METRICS_PORT_ENV = "WORKBENCH_METRICS_PORT"
METRICS_HOST_ENV = "WORKBENCH_METRICS_HOST"
DEFAULT_HOST = "127.0.0.1"


class _Process(Collector):
    """This process's instruments, inside a registry made per server."""

    def collect(self) -> Iterator:
        yield from REGISTRY.collect()


class ServerMetrics:
    """What the workbench server (or the hub's service) exports for ``workbench``: this
    process's instruments, the metadata DB's totals, disk use, and the task queue."""

    def __init__(self, workbench: Workbench, ttl: float = 15.0) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Process())
        self.registry.register(MetadataCollector(workbench, ttl))
        self.registry.register(DiskCollector(volumes_of(workbench)))
        self.task_queue: TaskQueueCollector | None = None
        if workbench.settings.temporal_address:
            self.task_queue = TaskQueueCollector(
                workbench.temporal_client, workbench.settings.task_queue, ttl
            )
            self.registry.register(self.task_queue)

    async def refresh(self) -> None:
        """Fetch what only the event loop can (Temporal's figures), before a scrape."""
        if self.task_queue is not None:
            await self.task_queue.refresh()


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(registry)


UNAUTHORIZED = b"a scrape token is required: Authorization: Bearer <token>\n"


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._answer(404, b"not found; metrics are at /metrics\n")
        elif not self.server.token.allows(self.headers.get("Authorization")):
            self._answer(401, UNAUTHORIZED, {"WWW-Authenticate": 'Bearer realm="metrics"'})
        else:
            self._answer(200, exposition(REGISTRY), {"Content-Type": CONTENT_TYPE_LATEST})

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per scrape every 15 s would drown the worker's log


class MetricsServer(ThreadingHTTPServer):
    """A worker's ``/metrics``, on threads of its own: a scrape still answers while the
    worker's event loop is busy."""

    daemon_threads = True

    def __init__(self, host: str, port: int, token: ScrapeToken) -> None:
        super().__init__((host, port), _Handler)
        self.token = token
        self._thread = threading.Thread(
            target=self.serve_forever, name="metrics", kwargs={"poll_interval": 0.5}, daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def worker_metrics_server(home: Path) -> MetricsServer | None:
    """The worker's endpoint when ``$WORKBENCH_METRICS_PORT`` is set (0: any free port),
    on ``$WORKBENCH_METRICS_HOST`` (127.0.0.1 unless set, e.g. to 0.0.0.0 in a
    container that Prometheus scrapes from another); None when the port is not set."""
    raw = os.environ.get(METRICS_PORT_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdecimal() or int(raw) > 65535:
        raise ConfigurationError(f"{METRICS_PORT_ENV}={raw[:20]!r}: a port number, 0 to 65535")
    host = os.environ.get(METRICS_HOST_ENV, "").strip() or DEFAULT_HOST
    try:
        return MetricsServer(host, int(raw), ScrapeToken.for_home(home)).start()
    except OSError as exc:
        raise ConfigurationError(
            f"metrics endpoint cannot listen on {host}:{raw} ({exc.strerror or exc}); "
            f"choose another {METRICS_PORT_ENV}"
        ) from None
