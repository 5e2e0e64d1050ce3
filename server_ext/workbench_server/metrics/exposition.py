"""The scrape itself: which figures a process exports, and a worker's own endpoint.

The workbench server exports this process's instruments, the metadata DB's totals and
disk use; a worker exports its own instruments (steps, notebooks, run durations,
OpenLineage, its CPU and memory) on a small HTTP server of its own, since a worker
serves nothing else. Both ask for the same scrape token.

A worker's endpoint serves a snapshot rendered ahead of the scrape (:class:`Snapshot`):
rendering 10,000 series takes prometheus_client 60 ms of CPU or more, and a busy machine
stretches that to several times as long, so the scrape would wait for it. The snapshot
is never older than :data:`MAX_AGE` when it is served; older, the scrape renders one.
"""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from ..errors import ConfigurationError
from .cdc import CdcCollector
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
        self.registry.register(CdcCollector(workbench))
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


MAX_AGE = 1.0
"""Seconds: the oldest snapshot a worker's ``/metrics`` serves. The figures a scrape
reads were taken at most this long before the scrape's request arrived."""


FORGET_AFTER = 600.0
"""Seconds after which a client that scraped once and never again is forgotten."""


@dataclass
class RenderStats:
    """What rendering has cost so far (for the benchmark and the tests)."""

    ahead: int = 0
    """Renders done before an expected scrape, by the snapshot's own thread."""
    on_request: int = 0
    """Renders a scrape waited for: no snapshot young enough, and none under way."""
    served: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    """CPU time of the rendering threads while rendering (``time.thread_time``)."""


@dataclass
class _Scraper:
    last: float
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=5))
    prepared: float | None = None
    """The expected scrape a render ahead was begun for (one try each, even if it fails)."""

    def interval(self) -> float | None:
        """Its usual interval, once it has scraped twice."""
        return statistics.median(self.intervals) if self.intervals else None


class Snapshot:
    """The exposition rendered a little before each expected scrape, served as bytes.

    Prometheus scrapes a target at a fixed interval. Each scraper (by client address)
    has its cadence noted; shortly before its next scrape is due, a thread of the
    snapshot's own renders the registry (the lead is a few times the recent render
    time, at most half of ``max_age``), and the scrape is then answered with those
    bytes. A scrape finds either a snapshot begun at most ``max_age`` seconds before it
    arrived, or one being rendered (it waits for that), or it renders one itself: the
    first scrapes, a scraper off its cadence, several scrapers out of step. So the
    figures a scrape shows are never older than ``max_age``, and rendering costs about
    one render per scrape, as rendering on request does: nothing is rendered when nobody
    scrapes, and a scraper that stops is forgotten after a few of its intervals.
    """

    def __init__(
        self,
        render: Callable[[], bytes],
        max_age: float = MAX_AGE,
    ) -> None:
        self._render_fn = render
        self.max_age = max_age
        self._clock = time.monotonic
        self._cond = threading.Condition()
        self._body: bytes | None = None
        self._began = float("-inf")  # when the served body's render began
        self._rendering = False
        self._stopped = False
        self._scrapers: dict[str, _Scraper] = {}
        self._walls: deque[float] = deque(maxlen=5)
        self.stats = RenderStats()
        self._thread = threading.Thread(target=self._ahead, name="metrics-render", daemon=True)

    def start(self) -> Snapshot:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(5)

    def get(self, scraper: str) -> bytes:
        """The exposition for a scrape by ``scraper`` (its address), at most ``max_age``
        seconds old."""
        with self._cond:
            arrived = self._clock()
            self._note(scraper, arrived)
            while True:
                if self._body is not None and arrived - self._began <= self.max_age:
                    self.stats.served += 1
                    return self._body
                if not self._rendering:
                    break
                self._cond.wait()  # a render is under way: it began before this scrape
            self._rendering = True
            self.stats.on_request += 1
        body = self._render()
        with self._cond:
            self.stats.served += 1
        return body

    def _note(self, scraper: str, now: float) -> None:
        known = self._scrapers.get(scraper)
        if known is None:
            self._scrapers[scraper] = _Scraper(now)
        else:
            known.intervals.append(now - known.last)
            known.last = now
        self._cond.notify_all()  # the render thread plans again

    def _render(self) -> bytes:
        """Render (the caller has set ``_rendering``) and keep the result."""
        try:
            began, cpu = self._clock(), time.thread_time()
            body = self._render_fn()
            wall = self._clock() - began
            with self._cond:
                self.stats.wall_seconds += wall
                self.stats.cpu_seconds += time.thread_time() - cpu
                self._walls.append(wall)
                if began > self._began:
                    self._body, self._began = body, began
            return body
        finally:
            with self._cond:
                self._rendering = False
                self._cond.notify_all()

    def _lead(self) -> float:
        """How long before an expected scrape to begin rendering for it."""
        recent = max(self._walls, default=0.05)
        return min(self.max_age / 2, max(0.1, 3 * recent + 0.05))

    def _due(self, now: float) -> tuple[float, _Scraper, float] | None:
        """When the next render ahead of a scrape should begin, and for which scraper;
        None when none is needed (no scraper with a known cadence, its next scrape
        already prepared for, or the snapshot will still be young enough then). The
        scraper's expected scrape comes last."""
        due: tuple[float, _Scraper, float] | None = None
        for name, scraper in list(self._scrapers.items()):
            interval = scraper.interval()
            forget = 3 * interval if interval is not None else FORGET_AFTER
            if now - scraper.last > forget + self.max_age:
                del self._scrapers[name]  # it stopped scraping (or changed its cadence)
                continue
            if interval is None or scraper.last + interval == scraper.prepared:
                continue
            expected = scraper.last + interval
            # The snapshot there is will do if it is still young enough a little after
            # the expected moment (scrapes come a few milliseconds late).
            if self._began + self.max_age >= expected + 0.1 * self.max_age:
                continue
            begin = expected - self._lead()
            if due is None or begin < due[0]:
                due = (begin, scraper, expected)
        return due

    def _ahead(self) -> None:
        with self._cond:
            while not self._stopped:
                now = self._clock()
                due = self._due(now)
                if due is None or self._rendering:
                    self._cond.wait()
                    continue
                begin, scraper, expected = due
                if begin > now:
                    self._cond.wait(begin - now)
                    continue
                scraper.prepared = expected
                self._rendering = True
                self.stats.ahead += 1
                self._cond.release()
                try:
                    self._render()
                except Exception:  # the next scrape renders (and fails) on request
                    log.warning("metrics: rendering ahead of a scrape failed", exc_info=True)
                finally:
                    self._cond.acquire()


UNAUTHORIZED = b"a scrape token is required: Authorization: Bearer <token>\n"


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._answer(404, b"not found; metrics are at /metrics\n")
        elif not self.server.token.allows(self.headers.get("Authorization")):
            self._answer(401, UNAUTHORIZED, {"WWW-Authenticate": 'Bearer realm="metrics"'})
        else:
            body = self.server.snapshot.get(self.client_address[0])
            self._answer(200, body, {"Content-Type": CONTENT_TYPE_LATEST})

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
    worker's event loop is busy. It serves a :class:`Snapshot` of ``registry`` (this
    process's instruments unless told), at most ``max_age`` seconds old."""

    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        token: ScrapeToken,
        registry: CollectorRegistry = REGISTRY,
        max_age: float = MAX_AGE,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.token = token
        self.registry = registry
        self.snapshot = Snapshot(lambda: exposition(registry), max_age)
        self._thread = threading.Thread(
            target=self.serve_forever, name="metrics", kwargs={"poll_interval": 0.5}, daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> MetricsServer:
        self.snapshot.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.snapshot.stop()


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
