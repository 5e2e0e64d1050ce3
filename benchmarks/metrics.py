"""What the workbench's metrics cost: a scrape of 10,000 series, and `%sql` with timings.

Two measurements, each against the raw tool in the same run, alternating:

- **Scrape.** This process's workbench registry is filled with 10,000 series (run-duration
  histograms of 590 pipelines, as a worker that ran them would hold) and served twice: by
  the worker's metrics endpoint (:class:`MetricsServer`: scrape token checked, its own
  threads) and by prometheus_client's own ``start_http_server`` on the same registry (the
  raw tool). While they are scraped, a thread observes a run's end every 20 ms, as a busy
  worker would: every scrape has new figures to show. Each target is scraped as
  Prometheus does, at a steady interval (``--scrape-interval``, 1 s by default; the two
  targets half an interval apart), after 3 untimed scrapes; each scrape is a full HTTP
  GET read to the end. ``scrape_ms`` is the workbench's median, ``raw_scrape_ms`` the raw
  tool's; the ratio is that of the medians.

  The workbench's endpoint answers with a snapshot of the registry rendered ahead of the
  scrape, never older than 1 s when the request arrives (docs/observability.md); the raw
  tool renders on request. So ``scrape_ms`` is the time Prometheus waits (its
  ``scrape_duration_seconds``), and the rendering is reported beside it: ``render_ms``
  and ``render_cpu_ms`` per render (wall and CPU time of the rendering thread),
  ``render_cpu_share`` (render CPU over the time measured: what rendering costs a core
  at this interval), ``renders_per_scrape``, ``rendered_on_request`` (scrapes that
  waited for a render of their own), and ``age_max_s`` / ``age_median_s``: how old the
  figures were that a scrape showed, from a gauge read at render time (the request's
  send time minus that reading; the run fails above 1 s).
- **Query overhead.** A real ``InteractiveShell`` set up by the workbench kernel
  extension (as benchmarks/sql_magic.py does, without a server) runs ``%sql lake SELECT
  1`` with the query timer on (each query noted; reports sent every 5 s to a local HTTP
  endpoint, as to a workbench server) and off, alternating query by query.
  ``metrics_overhead_ratio`` is the median over repetitions of the ratio of the on and
  off per-query medians.

Also shown: how long the server's collector takes to read the run history of 10,000 runs
(``db_refresh_ms``, SQLite; the server does this at most once per cache period).

And the built-in alert engine's delay: its own loop runs (every ``--alert-interval``
seconds, 2 by default) on a fresh home with a PipelineFailed rule to a local webhook; a
failed run of a pipeline with an SLA is recorded at a random moment of an interval, and
``alert_delay_s`` is the longest time over 5 repetitions from that record to the
webhook's receipt of the P1 (each repetition then records a successful run and waits for
the resolve notice). The goal is the interval + 1 s.

    python benchmarks/metrics.py [--reps 15] [--block 200] [--scrape-interval 1]
                                 [--alert-interval 2] [--only scrape|overhead|alerts]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SERIES = 10_000
PIPELINES = 590  # x (14 buckets + +Inf + _count + _sum) = 10,030 series
RUNS = 10_000
CLOCK = "benchmark_clock_seconds"
CHANGE_EVERY = 0.02  # s: a run ends on the worker 50 times a second while it is scraped
WARM_UP = 3


def fill_registry() -> int:
    """Observe one run per pipeline; the number of series the registry then exports."""
    from workbench_server.metrics.exposition import exposition
    from workbench_server.metrics.instruments import REGISTRY, run_finished

    for number in range(PIPELINES):
        run_finished(f"pipeline_{number:04d}", "succeeded", 1.0 + number % 300)
    text = exposition(REGISTRY).decode()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def get(url: str, token: str | None) -> tuple[float, float]:
    """One full scrape: its time (ms), and how old the figures it carried were (s)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    sent_at = time.time()
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or b"workbench_pipeline_run_duration_seconds_bucket" not in body:
        raise RuntimeError(f"scrape of {url} answered {response.status}")
    at = body.index(b"\n" + CLOCK.encode() + b" ") + len(CLOCK) + 2
    rendered_at = float(body[at : body.index(b"\n", at)])
    return elapsed, sent_at - rendered_at


def measure_scrape(home: Path, reps: int, interval: float) -> dict[str, float]:
    from prometheus_client import Gauge, start_http_server

    from workbench_server.metrics.exposition import MetricsServer
    from workbench_server.metrics.instruments import REGISTRY, run_finished
    from workbench_server.metrics.token import ScrapeToken
    from workbench_server.supervisor import free_port

    # When the registry was read: rendering reads it, so a scrape shows its own age.
    Gauge(CLOCK, "Benchmark only: the time a render read.", registry=REGISTRY).set_function(
        time.time
    )
    token = ScrapeToken.for_home(home)
    ours = MetricsServer("127.0.0.1", 0, token).start()
    raw_port = free_port("127.0.0.1")
    raw_server, _ = start_http_server(raw_port, addr="127.0.0.1", registry=REGISTRY)
    targets = {
        "workbench": (f"http://{ours.address}/metrics", token.token),
        "prometheus_client": (f"http://127.0.0.1:{raw_port}/metrics", None),
    }
    stop = threading.Event()

    def busy_worker() -> None:  # runs ending all the time: every scrape has news
        rng = random.Random(19)
        while not stop.wait(CHANGE_EVERY):
            run_finished(f"pipeline_{rng.randrange(PIPELINES):04d}", "succeeded", rng.random())

    changer = threading.Thread(target=busy_worker, daemon=True)
    changer.start()
    times: dict[str, list[float]] = {name: [] for name in targets}
    ages: list[float] = []
    try:
        # Like Prometheus: each target at a steady interval, the two half an interval
        # apart. The first scrapes (the workbench's learns the cadence there) are not timed.
        begin = time.monotonic() + 0.1
        stats = ours.snapshot.stats
        for number in range(WARM_UP + reps):
            if number == WARM_UP:
                renders, on_request = stats.ahead + stats.on_request, stats.on_request
                cpu, wall, measured_from = stats.cpu_seconds, stats.wall_seconds, time.monotonic()
            for name, phase in (("workbench", 0.0), ("prometheus_client", 0.5)):
                gc.collect()
                time.sleep(max(0.0, begin + (number + phase) * interval - time.monotonic()))
                took, age = get(*targets[name])
                if number >= WARM_UP:
                    times[name].append(took)
                    if name == "workbench":
                        ages.append(age)
        measured = time.monotonic() - measured_from
        rendered = stats.ahead + stats.on_request - renders
    finally:
        stop.set()
        changer.join()
        ours.stop()
        raw_server.shutdown()
        raw_server.server_close()
    if max(ages) > ours.snapshot.max_age:
        raise RuntimeError(f"a scrape served figures {max(ages):.3f} s old")
    return {
        "scrape_ms": statistics.median(times["workbench"]),
        "raw_scrape_ms": statistics.median(times["prometheus_client"]),
        "scrape_vs_raw_ratio": statistics.median(times["workbench"])
        / statistics.median(times["prometheus_client"]),
        "scrape_p90_ms": statistics.quantiles(times["workbench"], n=10)[-1],
        "raw_scrape_p90_ms": statistics.quantiles(times["prometheus_client"], n=10)[-1],
        "render_ms": (stats.wall_seconds - wall) / rendered * 1000,
        "render_cpu_ms": (stats.cpu_seconds - cpu) / rendered * 1000,
        "render_cpu_share": (stats.cpu_seconds - cpu) / measured,
        "renders_per_scrape": rendered / reps,
        "rendered_on_request": stats.on_request - on_request,
        "age_max_s": max(ages),
        "age_median_s": statistics.median(ages),
    }


class _Sink(BaseHTTPRequestHandler):
    """Takes the kernel's timing reports, as the workbench server's route does."""

    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def workbench_shell(lake: Path):
    """benchmarks/sql_magic.py's workbench shell (the kernel extension, no server)."""
    spec = importlib.util.spec_from_file_location(
        "bench_sql_magic", Path(__file__).with_name("sql_magic.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.workbench_ops(lake)["one_row"]


def measure_query_overhead(root: Path, reps: int, block: int) -> dict[str, float]:
    from workbench_kernels.timings import TIMER
    from workbench_server.connections.kernel_access import API_URL_ENV

    lake = root / "lake"
    (lake / "bronze").mkdir(parents=True)
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    os.environ[API_URL_ENV] = f"http://127.0.0.1:{sink.server_address[1]}"
    one_row = workbench_shell(lake)
    sys.stdout = sys.stderr  # jupysql's chatter stays off the report
    try:
        for _ in range(50):  # warm-up, both ways
            TIMER.off = False
            one_row()
            TIMER.off = True
            one_row()
        per_query: dict[bool, list[float]] = {True: [], False: []}
        ratios = []
        for rep in range(reps):
            # On and off alternate query by query (the first of each pair alternates too),
            # so both see the same moments of a shared machine's load.
            times: dict[bool, list[float]] = {True: [], False: []}
            gc.collect()
            for number in range(block):
                for on in (True, False) if (rep + number) % 2 == 0 else (False, True):
                    TIMER.off = not on
                    started = time.perf_counter()
                    rows = one_row()
                    times[on].append((time.perf_counter() - started) * 1000)
                if rows != [(1,)]:
                    raise RuntimeError(f"%sql lake SELECT 1 returned {rows!r}")
            medians = {on: statistics.median(values) for on, values in times.items()}
            for on, value in medians.items():
                per_query[on].append(value)
            ratios.append(medians[True] / medians[False])
        TIMER.off = False
        TIMER.flush()
    finally:
        sys.stdout = sys.__stdout__
        sink.shutdown()
    if not _Sink.received:
        raise RuntimeError("the timer never reported to the endpoint")
    return {
        "query_on_ms": statistics.median(per_query[True]),
        "query_off_ms": statistics.median(per_query[False]),
        "metrics_overhead_ratio": statistics.median(ratios),
        "reports_sent": _Sink.received,
    }


def measure_db_refresh(home: Path, reps: int) -> float:
    """The server's collector reading 10,000 runs of 100 pipelines (cache miss)."""
    from datetime import UTC, datetime

    from workbench_server.core import Workbench
    from workbench_server.db.models import Pipeline, Run
    from workbench_server.metrics.collectors import MetadataCollector
    from workbench_server.settings import WorkbenchSettings

    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    core = Workbench(settings)
    try:
        with core.sessions.begin() as session:
            pipelines = [
                Pipeline(name=f"p{n:03d}", owner="me", current_version=1) for n in range(100)
            ]
            session.add_all(pipelines)
            session.flush()
            at = datetime(2026, 12, 1, tzinfo=UTC)
            session.add_all(
                Run(
                    id=f"r{n:05d}",
                    pipeline_id=pipelines[n % 100].id,
                    version=1,
                    status=("succeeded", "succeeded", "failed", "cancelled")[n % 4],
                    trigger="manual",
                    parameters={},
                    logical_date="2026-12-01",
                    workflow_id=f"w{n}",
                    requested_by="me",
                    started_at=at,
                    finished_at=at,
                )
                for n in range(RUNS)
            )
        collector = MetadataCollector(core, ttl=0)
        collector.figures()
        times = []
        for _ in range(reps):
            started = time.perf_counter()
            figures = collector.figures()
            times.append((time.perf_counter() - started) * 1000)
        if figures is None or sum(figures.runs.values()) != RUNS:
            raise RuntimeError("the collector did not count every run")
        return statistics.median(times)
    finally:
        core.close()


def measure_alert_delay(home: Path, reps: int, interval: float) -> dict[str, float]:
    """Seconds from a failed run's record to its P1 at a webhook, by the engine's loop."""
    import asyncio
    from datetime import UTC, datetime

    from workbench_server.alerts.engine import AlertEngine
    from workbench_server.core import Workbench
    from workbench_server.db.models import Pipeline, PipelineVersion, Run
    from workbench_server.settings import WorkbenchSettings

    received: list[tuple[float, dict]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((time.time(), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    (home / "alerts.yaml").write_text(
        f"interval_seconds: {interval}\n"
        "channels:\n"
        f"  pager: {{type: webhook, url: 'http://127.0.0.1:{hook.server_address[1]}/'}}\n"
        "rules:\n"
        "  - {name: PipelineFailed, kind: pipeline_failed, severity: P1, channels: [pager]}\n"
    )
    core = Workbench(settings)
    stop = threading.Event()

    async def engine() -> None:
        task = asyncio.create_task(AlertEngine(core).run_forever())
        await asyncio.to_thread(stop.wait)
        task.cancel()

    loop = threading.Thread(target=asyncio.run, args=(engine(),), daemon=True)
    loop.start()

    def record(n: int, status: str) -> float:
        with core.sessions.begin() as session:
            session.add(
                Run(
                    id=f"run{n:04d}",
                    pipeline_id=1,
                    version=1,
                    status=status,
                    trigger="manual",
                    parameters={},
                    logical_date="2026-12-01",
                    workflow_id=f"w{n}",
                    requested_by="me",
                    started_at=datetime.now(UTC),
                    finished_at=datetime.now(UTC),
                )
            )
        return time.time()

    def wait_for(count: int) -> float:
        deadline = time.monotonic() + interval * 3 + 30
        while len(received) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no alert after {interval * 3 + 30:g} s")
            time.sleep(0.01)
        return received[count - 1][0]

    try:
        with core.sessions.begin() as session:
            session.add(Pipeline(id=1, name="month_close", owner="me", current_version=1))
            session.add(
                PipelineVersion(
                    pipeline_id=1,
                    version=1,
                    content_hash="0" * 64,
                    spec={"name": "month_close", "sla": {"max_duration": "1h"}},
                    snapshot_dir="",
                    deployed_by="me",
                )
            )
        delays = []
        for rep in range(reps):
            # Anywhere in the interval: right after an evaluation is the worst case.
            time.sleep(random.uniform(0, interval))
            failed_at = record(2 * rep, "failed")
            delays.append(wait_for(2 * rep + 1) - failed_at)
            if received[-1][1]["event_action"] != "trigger":
                raise RuntimeError(f"expected a trigger, got {received[-1][1]}")
            record(2 * rep + 1, "succeeded")
            wait_for(2 * rep + 2)
        return {"alert_delay_s": max(delays), "alert_delay_median_s": statistics.median(delays)}
    finally:
        stop.set()
        loop.join(10)
        hook.shutdown()
        core.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--block", type=int, default=200, help="queries per timed block")
    parser.add_argument(
        "--scrape-interval", type=float, default=1.0, help="seconds between scrapes of a target"
    )
    parser.add_argument(
        "--alert-interval", type=float, default=2.0, help="the alert engine's interval (s)"
    )
    parser.add_argument(
        "--only", choices=("scrape", "overhead", "alerts"), help="one measurement alone"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="workbench-metrics-bench-") as tmp:
        root = Path(tmp)
        series = fill_registry()
        if series < SERIES:
            raise RuntimeError(f"only {series} series in the registry")
        figures: dict[str, float] = {}
        rows = []
        if args.only in (None, "scrape"):
            scrape = measure_scrape(root / "home", args.reps * 2, args.scrape_interval)
            figures.update(scrape)
            rows += [
                (f"scrape, workbench worker endpoint ({series:,} series)", "scrape_ms", "ms"),
                ("  90th percentile", "scrape_p90_ms", "ms"),
                ("scrape, prometheus_client start_http_server", "raw_scrape_ms", "ms"),
                ("  90th percentile", "raw_scrape_p90_ms", "ms"),
                ("scrape ratio workbench / raw (of the medians)", "scrape_vs_raw_ratio", ""),
                ("render ahead of a scrape, wall time (mean)", "render_ms", "ms"),
                ("render, CPU time (mean)", "render_cpu_ms", "ms"),
                ("render CPU / time measured", "render_cpu_share", ""),
                ("renders per scrape", "renders_per_scrape", ""),
                ("scrapes that waited for a render of their own", "rendered_on_request", ""),
                ("age of the figures a scrape showed, longest", "age_max_s", "s"),
                ("age of the figures a scrape showed, median", "age_median_s", "s"),
            ]
        if args.only in (None, "overhead"):
            figures.update(measure_query_overhead(root, args.reps, args.block))
            figures["db_refresh_ms"] = measure_db_refresh(root / "db-home", args.reps)
            rows += [
                ("%sql lake SELECT 1, timings on", "query_on_ms", "ms"),
                ("%sql lake SELECT 1, timings off", "query_off_ms", "ms"),
                ("overhead ratio on / off", "metrics_overhead_ratio", ""),
                (f"collector read of {RUNS:,} runs (cache miss)", "db_refresh_ms", "ms"),
            ]
        if args.only in (None, "alerts"):
            figures.update(measure_alert_delay(root / "alert-home", 5, args.alert_interval))
            figures["alert_interval_s"] = args.alert_interval
            rows += [
                (
                    f"alert delay, longest of 5 (interval {args.alert_interval:g} s)",
                    "alert_delay_s",
                    "s",
                ),
                ("alert delay, median of 5", "alert_delay_median_s", "s"),
            ]
    print(f"{'measure':58} {'median':>9}")
    for label, name, unit in rows:
        print(f"{label:58} {figures[name]:9.3f} {unit}")
    units = {
        "scrape_ms": "ms",
        "scrape_p90_ms": "ms",
        "raw_scrape_ms": "ms",
        "raw_scrape_p90_ms": "ms",
        "scrape_vs_raw_ratio": "ratio",
        "render_ms": "ms",
        "render_cpu_ms": "ms",
        "render_cpu_share": "ratio",
        "renders_per_scrape": "ratio",
        "rendered_on_request": "count",
        "age_max_s": "s",
        "age_median_s": "s",
        "metrics_overhead_ratio": "ratio",
        "query_on_ms": "ms",
        "query_off_ms": "ms",
        "reports_sent": "count",
        "db_refresh_ms": "ms",
        "alert_delay_s": "s",
        "alert_delay_median_s": "s",
        "alert_interval_s": "s",
    }
    goals = {
        "scrape_ms": "<= 20",
        "metrics_overhead_ratio": "<= 1.02",
        "alert_delay_s": f"<= {args.alert_interval + 1:g}",
    }
    print(
        json.dumps(
            {
                "benchmark": "metrics",
                "figures": {name: round(value, 4) for name, value in figures.items()},
                "units": {name: units[name] for name in figures},
                "goals": {name: goal for name, goal in goals.items() if name in figures},
            }
        )
    )


if __name__ == "__main__":
    main()
