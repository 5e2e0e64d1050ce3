"""What the workbench's metrics cost: a scrape of 10,000 series, and `%sql` with timings.

Two measurements, each against the raw tool in the same run, alternating:

- **Scrape.** This process's workbench registry is filled with 10,000 series (run-duration
  histograms of 590 pipelines, as a worker that ran them would hold) and served twice: by
  the worker's metrics endpoint (:class:`MetricsServer`: scrape token checked, its own
  threads) and by prometheus_client's own ``start_http_server`` on the same registry (the
  raw tool). Each scrape is a full HTTP GET read to the end. ``scrape_ms`` is the
  workbench's median; the ratio is the median of per-repetition ratios.
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

    python benchmarks/metrics.py [--reps 15] [--block 200] [--alert-interval 2]
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


def fill_registry() -> int:
    """Observe one run per pipeline; the number of series the registry then exports."""
    from workbench_server.metrics.exposition import exposition
    from workbench_server.metrics.instruments import REGISTRY, run_finished

    for number in range(PIPELINES):
        run_finished(f"pipeline_{number:04d}", "succeeded", 1.0 + number % 300)
    text = exposition(REGISTRY).decode()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def get(url: str, token: str | None) -> float:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or b"workbench_pipeline_run_duration_seconds_bucket" not in body:
        raise RuntimeError(f"scrape of {url} answered {response.status}")
    return elapsed


def measure_scrape(home: Path, reps: int) -> dict[str, float]:
    from prometheus_client import start_http_server

    from workbench_server.metrics.exposition import MetricsServer
    from workbench_server.metrics.instruments import REGISTRY
    from workbench_server.metrics.token import ScrapeToken
    from workbench_server.supervisor import free_port

    token = ScrapeToken.for_home(home)
    ours = MetricsServer("127.0.0.1", 0, token).start()
    raw_port = free_port("127.0.0.1")
    raw_server, _ = start_http_server(raw_port, addr="127.0.0.1", registry=REGISTRY)
    targets = {
        "workbench": (f"http://{ours.address}/metrics", token.token),
        "prometheus_client": (f"http://127.0.0.1:{raw_port}/metrics", None),
    }
    try:
        for url, secret in targets.values():  # warm-up
            for _ in range(3):
                get(url, secret)
        times: dict[str, list[float]] = {name: [] for name in targets}
        ratios = []
        for rep in range(reps):
            order = list(targets) if rep % 2 == 0 else list(reversed(targets))
            got = {}
            for name in order:
                gc.collect()
                got[name] = get(*targets[name])
                times[name].append(got[name])
            ratios.append(got["workbench"] / got["prometheus_client"])
    finally:
        ours.stop()
        raw_server.shutdown()
        raw_server.server_close()
    return {
        "scrape_ms": statistics.median(times["workbench"]),
        "raw_scrape_ms": statistics.median(times["prometheus_client"]),
        "scrape_vs_raw_ratio": statistics.median(ratios),
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
        "--alert-interval", type=float, default=2.0, help="the alert engine's interval (s)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="workbench-metrics-bench-") as tmp:
        root = Path(tmp)
        series = fill_registry()
        if series < SERIES:
            raise RuntimeError(f"only {series} series in the registry")
        scrape = measure_scrape(root / "home", args.reps * 2)
        overhead = measure_query_overhead(root, args.reps, args.block)
        db_ms = measure_db_refresh(root / "db-home", args.reps)
        alerts = measure_alert_delay(root / "alert-home", 5, args.alert_interval)
    rows = [
        (f"scrape, workbench worker endpoint ({series:,} series)", scrape["scrape_ms"], "ms"),
        ("scrape, prometheus_client start_http_server", scrape["raw_scrape_ms"], "ms"),
        ("scrape ratio workbench / raw", scrape["scrape_vs_raw_ratio"], ""),
        ("%sql lake SELECT 1, timings on", overhead["query_on_ms"], "ms"),
        ("%sql lake SELECT 1, timings off", overhead["query_off_ms"], "ms"),
        ("overhead ratio on / off", overhead["metrics_overhead_ratio"], ""),
        (f"collector read of {RUNS:,} runs (cache miss)", db_ms, "ms"),
        (
            f"alert delay, longest of 5 (interval {args.alert_interval:g} s)",
            alerts["alert_delay_s"],
            "s",
        ),
        ("alert delay, median of 5", alerts["alert_delay_median_s"], "s"),
    ]
    print(f"{'measure':58} {'median':>9}")
    for label, value, unit in rows:
        print(f"{label:58} {value:9.3f} {unit}")
    print(
        json.dumps(
            {
                "benchmark": "metrics",
                "figures": {
                    "scrape_ms": round(scrape["scrape_ms"], 3),
                    "raw_scrape_ms": round(scrape["raw_scrape_ms"], 3),
                    "scrape_vs_raw_ratio": round(scrape["scrape_vs_raw_ratio"], 3),
                    "metrics_overhead_ratio": round(overhead["metrics_overhead_ratio"], 4),
                    "query_on_ms": round(overhead["query_on_ms"], 4),
                    "query_off_ms": round(overhead["query_off_ms"], 4),
                    "db_refresh_ms": round(db_ms, 3),
                    "alert_delay_s": round(alerts["alert_delay_s"], 3),
                    "alert_delay_median_s": round(alerts["alert_delay_median_s"], 3),
                    "alert_interval_s": args.alert_interval,
                },
                "units": {
                    "scrape_ms": "ms",
                    "raw_scrape_ms": "ms",
                    "scrape_vs_raw_ratio": "ratio",
                    "metrics_overhead_ratio": "ratio",
                    "query_on_ms": "ms",
                    "query_off_ms": "ms",
                    "db_refresh_ms": "ms",
                    "alert_delay_s": "s",
                    "alert_delay_median_s": "s",
                    "alert_interval_s": "s",
                },
                "goals": {
                    "scrape_ms": "<= 20",
                    "metrics_overhead_ratio": "<= 1.02",
                    "alert_delay_s": f"<= {args.alert_interval + 1:g}",
                },
            }
        )
    )


if __name__ == "__main__":
    main()
