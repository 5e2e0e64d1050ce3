"""A worker's /metrics serves a snapshot rendered ahead of the scrape, never too old.

The figures a scrape shows were read at most ``max_age`` seconds before its request
arrived, however the data changes; the exposition parses as Prometheus' text format;
the scrape token is still required; and nothing is rendered while nobody scrapes.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from workbench_server.metrics.exposition import MetricsServer, Snapshot
from workbench_server.metrics.token import ScrapeToken

MAX_AGE = 0.5
INTERVAL = 0.3  # like Prometheus: a steady interval


@pytest.fixture
def served(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_METRICS_TOKEN_FILE", raising=False)
    registry = CollectorRegistry()
    counter = Counter("things", "Things done.", ["kind"], registry=registry)
    token = ScrapeToken.for_home(tmp_path)
    server = MetricsServer("127.0.0.1", 0, token, registry=registry, max_age=MAX_AGE).start()
    try:
        yield server, token.token, counter
    finally:
        server.stop()


# What Prometheus asks for: the endpoint answers Prometheus' text format, uncompressed,
# as it did before it served snapshots (no OpenMetrics, no gzip).
PROMETHEUS_ASKS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}


def scrape(server: MetricsServer, token: str | None, path: str = "/metrics") -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(
        f"http://{server.address}{path}", headers={**PROMETHEUS_ASKS, **headers}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
        assert response.headers.get("Content-Encoding") is None
        return response.read()


def things(body: bytes) -> float:
    """The counter's value, parsed as Prometheus parses a scrape."""
    (family,) = (f for f in text_string_to_metric_families(body.decode()) if f.name == "things")
    return sum(s.value for s in family.samples if s.name == "things_total")


def test_a_scrape_shows_every_increment_older_than_max_age(served) -> None:
    server, token, counter = served
    stop = threading.Event()
    made: list[tuple[float, int]] = []  # (when, how many so far) of each increment

    def busy() -> None:
        while not stop.wait(0.005):
            counter.labels("run").inc()
            made.append((time.monotonic(), len(made) + 1))

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        begin = time.monotonic()
        for number in range(12):
            time.sleep(max(0.0, begin + number * INTERVAL - time.monotonic()))
            sent = time.monotonic()
            shown = things(scrape(server, token))
            received = time.monotonic()
            older = [count for at, count in made if at <= sent - MAX_AGE]
            assert shown >= (older[-1] if older else 0), (number, shown, older[-1:])
            assert shown <= len(made) + 1 and received - sent < 5
    finally:
        stop.set()
        worker.join()
    stats = server.snapshot.stats
    # After the first scrapes the cadence is known: rendered ahead, at most once a
    # scrape (a snapshot still young enough at the next scrape serves that one too).
    assert stats.on_request <= 2 and stats.ahead >= 4, stats
    assert stats.ahead + stats.on_request <= 12, stats
    # An increment made just before a scrape is there once max_age has passed.
    counter.labels("late").inc()
    time.sleep(MAX_AGE)
    body = scrape(server, token)
    assert b'things_total{kind="late"} 1.0' in body


def test_the_exposition_is_prometheus_clients_own(served) -> None:
    server, token, counter = served
    counter.labels('quote " and \\ back\nslash').inc(3)
    body = scrape(server, token)
    assert body == generate_latest(server.registry)
    found = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert found[("things_total", (("kind", 'quote " and \\ back\nslash'),))] == 3


def test_the_token_is_still_required(served) -> None:
    server, token, _ = served
    for wrong in (None, token[:-1]):
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(server, wrong)
        assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as elsewhere:
        scrape(server, token, "/other")
    assert elsewhere.value.code == 404
    # Refused scrapes render nothing and teach the snapshot no cadence.
    assert server.snapshot.stats.ahead + server.snapshot.stats.on_request == 0


def test_nothing_is_rendered_while_nobody_scrapes() -> None:
    renders = []
    snapshot = Snapshot(lambda: renders.append(time.monotonic()) or b"x 1\n", MAX_AGE).start()
    try:
        for _ in range(4):
            assert snapshot.get("prometheus") == b"x 1\n"
            time.sleep(INTERVAL * 2)  # older than max_age at each scrape
        scraped = len(renders)
        assert scraped <= 4 + 1
        # One render ahead for the scrape that does not come, then nothing.
        time.sleep(INTERVAL * 2 * 4 + MAX_AGE)
        assert len(renders) <= scraped + 1
    finally:
        snapshot.stop()


def test_a_failing_render_ahead_is_tried_once_per_expected_scrape() -> None:
    calls = []
    failing = threading.Event()

    def render() -> bytes:
        calls.append(time.monotonic())
        if failing.is_set():
            raise RuntimeError("collector broke")
        return b"x 1\n"

    snapshot = Snapshot(render, MAX_AGE).start()
    try:
        for _ in range(3):
            snapshot.get("prometheus")
            time.sleep(INTERVAL * 2)
        failing.set()
        before = len(calls)
        time.sleep(INTERVAL * 2 * 3)
        assert len(calls) <= before + 1  # no loop of retries
        with pytest.raises(RuntimeError):
            snapshot.get("prometheus")  # the scrape renders, and fails as it would have
    finally:
        snapshot.stop()
