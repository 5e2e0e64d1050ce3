"""Throughput and latency of the workbench REST API, next to bare jupyter-server.

Starts `workbench up` on a fresh home (Temporal, a worker, JupyterLab with the demo
catalog) and, beside it, a bare `jupyter server` with no extension. Then, after a
warm-up, alternates blocks of requests to each route, several times: 20 clients on
loopback, each with a keep-alive connection, at most 5,000 requests and 60 s of load
in all. Reports each route's throughput (median over the blocks), p50/p99 latency and
errors, and `search_vs_status_throughput`: catalog search against bare jupyter-server's
`/api/status`.

Last, the alias "bomb" of issue 15 (a 454-byte pipeline YAML that expands to 387
million values) is sent to `pipelines/validate` a few times while 4 clients keep asking
the same server's `/api/status`: how long the bomb takes to be answered, and the p99 of
`/api/status` meanwhile.

    python benchmarks/api.py [--repeat 3] [--block 250]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from startup import free_port, stop, workbench_up

CLIENTS = 20
MAX_REQUESTS = 5000
MAX_LOAD_S = 60.0
SEARCH_TERMS = (
    "partner", "invoice", "journal", "account", "move line", "product", "tax", "payment",
    "company", "currency", "bank", "customer", "vendor", "analytic", "balance", "partnr",
)  # fmt: skip


@dataclass
class Server:
    host: str
    port: int
    token: str
    prefix: str = "/"

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}", "Connection": "keep-alive"}


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    throughputs: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def call(conn: http.client.HTTPConnection, server: Server, method: str, path: str,
         body: bytes | None = None) -> tuple[int, bytes, float]:  # fmt: skip
    started = time.perf_counter()
    headers = server.headers()
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, data, time.perf_counter() - started


def run_block(server: Server, paths: Callable[[int], str], count: int) -> tuple[Result, float]:
    """``count`` GETs of ``paths(i)`` by CLIENTS threads; the result and the wall time."""
    result = Result()
    lock = threading.Lock()
    next_index = iter(range(count))

    def client() -> None:
        conn = server.connection()
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            try:
                status, _, took = call(conn, server, "GET", paths(i))
                ok = 200 <= status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = server.connection()
                ok, took = False, 0.0
            with lock:
                if ok:
                    result.latencies.append(took)
                else:
                    result.errors += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result, time.perf_counter() - started


def bare_jupyter_server(workdir: Path) -> tuple[subprocess.Popen[bytes], Server]:
    """`jupyter server` with every extension off (the raw tool the workbench builds on)."""
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        sys.executable, "-m", "jupyter_server", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={workdir}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        argv.append("--allow-root")
    # No configuration files at all: the installed extensions (the workbench's among
    # them, enabled in the environment's jupyter-config) are not loaded.
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_NO_CONFIG="1")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server("127.0.0.1", port, token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _, _ = call(server.connection(), server, "GET", "/api/status")
            if status == 200:
                status, _, _ = call(server.connection(), server, "GET", "/workbench/api/version")
                if status != 404:
                    raise RuntimeError("the bare jupyter server loaded the workbench extension")
                return proc, server
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("bare jupyter server did not start")


def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            status, body, _ = call(server.connection(), server, "GET", "/workbench/api/health")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"workbench health did not turn ok: {body[:300]!r}")


def alias_bomb(levels: int = 9) -> str:
    lines = ["name: bomb", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"steps: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def bomb_while_polling(server: Server, bombs: int, pollers: int = 4) -> tuple[list[float], Result]:
    """Bomb answer times, and /api/status latencies of ``pollers`` clients meanwhile."""
    polled = Result()
    stop_polling = threading.Event()
    lock = threading.Lock()

    def poll() -> None:
        conn = server.connection()
        while not stop_polling.is_set():
            try:
                status, _, took = call(conn, server, "GET", "/api/status")
                with lock:
                    if status == 200:
                        polled.latencies.append(took)
                    else:
                        polled.errors += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    polled.errors += 1
                conn = server.connection()
            time.sleep(0.01)
        conn.close()

    threads = [threading.Thread(target=poll) for _ in range(pollers)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    body = json.dumps({"text": alias_bomb()}).encode()
    times = []
    conn = server.connection()
    for _ in range(bombs):
        status, answer, took = call(conn, server, "POST", "/workbench/api/pipelines/validate", body)
        errors = json.loads(answer).get("errors", []) if status == 200 else []
        if status != 200 or not any("alias" in e["message"] for e in errors):
            raise RuntimeError(f"the bomb was not refused: {status} {answer[:300]!r}")
        times.append(took)
        time.sleep(0.3)
    time.sleep(0.3)
    stop_polling.set()
    for thread in threads:
        thread.join()
    return times, polled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="blocks per route")
    parser.add_argument("--block", type=int, default=200, help="requests per block")
    parser.add_argument("--bombs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(15)
    root = Path(tempfile.mkdtemp(prefix="wb-bench-api-"))
    home, workdir, bare_dir = root / "home", root / "notebooks", root / "bare"
    workdir.mkdir()
    bare_dir.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        print("starting workbench up (Temporal, worker, JupyterLab, demo data)...", flush=True)
        _, up = workbench_up(home, workdir, keep=True)
        assert up is not None
        procs.append(up)
        state = json.loads((home / "run" / "state.json").read_text())
        lab = urllib.parse.urlsplit(state.get("url") or "")
        token = state.get("token")
        if not (lab.port and token):
            raise RuntimeError(f"no lab address or token in {home}/run/state.json: {state}")
        workbench = Server("127.0.0.1", lab.port, token)
        wait_healthy(workbench)
        bare_proc, bare = bare_jupyter_server(bare_dir)
        procs.append(bare_proc)

        routes: dict[str, tuple[Server, Callable[[int], str]]] = {
            "status (bare jupyter-server)": (bare, lambda i: "/api/status"),
            "status (workbench server)": (workbench, lambda i: "/api/status"),
            "catalog search": (
                workbench,
                lambda i: (
                    "/workbench/api/catalog/search?"
                    + urllib.parse.urlencode({"q": SEARCH_TERMS[i % len(SEARCH_TERMS)]})
                ),
            ),
            "health": (workbench, lambda i: "/workbench/api/health"),
            "runs": (workbench, lambda i: "/workbench/api/runs?limit=50"),
            "connections": (workbench, lambda i: "/workbench/api/connections"),
        }
        warmup = 20
        budget = MAX_REQUESTS - warmup * len(routes)
        block = min(args.block, budget // (args.repeat * len(routes)))
        results = {name: Result() for name in routes}
        for server, paths in routes.values():  # warm-up, not counted
            run_block(server, paths, warmup)
        load_started = time.perf_counter()
        sent = warmup * len(routes)
        for _ in range(args.repeat):
            order = list(routes)
            rng.shuffle(order)  # alternate: no route always runs first or last
            for name in order:
                if time.perf_counter() - load_started > MAX_LOAD_S:
                    break
                server, paths = routes[name]
                got, wall = run_block(server, paths, block)
                sent += block
                results[name].latencies += got.latencies
                results[name].errors += got.errors
                results[name].throughputs.append(block / wall)
        load_s = time.perf_counter() - load_started

        bomb_times, polled = bomb_while_polling(workbench, args.bombs)
        _, quiet = bomb_while_polling_baseline(workbench)
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"{CLIENTS} clients, {sent} requests in {load_s:.1f} s of load, blocks of {block}")
    header = f"{'route':30} {'req/s (median)':>15} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    print(header)
    print("-" * len(header))
    for name, result in results.items():
        rate = statistics.median(result.throughputs) if result.throughputs else float("nan")
        print(
            f"{name:30} {rate:15.0f} {result.percentile(50) * 1000:8.1f} "
            f"{result.percentile(99) * 1000:8.1f} {result.errors:7d}"
        )
    search = statistics.median(results["catalog search"].throughputs)
    status = statistics.median(results["status (bare jupyter-server)"].throughputs)
    ratio = search / status
    errors = sum(r.errors for r in results.values()) + polled.errors
    print()
    print(f"search vs bare /api/status throughput: {ratio:.2f}")
    print(
        f"alias bomb answered in (max of {len(bomb_times)}): {max(bomb_times) * 1000:.1f} ms; "
        f"/api/status p99 meanwhile {polled.percentile(99) * 1000:.1f} ms "
        f"(without bombs {quiet.percentile(99) * 1000:.1f} ms, 4 clients)"
    )
    figures = {
        "search_vs_status_throughput": round(ratio, 3),
        "errors": errors,
        "bomb_answer_s": round(max(bomb_times), 4),
        "status_p99_during_bomb_ms": round(polled.percentile(99) * 1000, 1),
        "status_p99_without_bomb_ms": round(quiet.percentile(99) * 1000, 1),
    }
    units = {
        "search_vs_status_throughput": "ratio",
        "errors": "count",
        "bomb_answer_s": "s",
        "status_p99_during_bomb_ms": "ms",
        "status_p99_without_bomb_ms": "ms",
    }
    keys = {
        "status (bare jupyter-server)": "bare_status",
        "status (workbench server)": "status",
        "catalog search": "search",
        "health": "health",
        "runs": "runs",
        "connections": "connections",
    }
    for name, key in keys.items():
        figures[f"{key}_p99_ms"] = round(results[name].percentile(99) * 1000, 1)
        figures[f"{key}_rps"] = round(statistics.median(results[name].throughputs), 1)
        units[f"{key}_p99_ms"], units[f"{key}_rps"] = "ms", "req/s"
    print(
        json.dumps(
            {
                "benchmark": "api",
                "figures": figures,
                "units": units,
                "goals": {
                    "search_vs_status_throughput": ">= 0.8",
                    "errors": "== 0",
                    "bomb_answer_s": "< 1",
                    "status_p99_during_bomb_ms": "< 200",
                },
            }
        )
    )


def bomb_while_polling_baseline(server: Server) -> tuple[list[float], Result]:
    """The same polling for as long, without bombs: what /api/status costs anyway."""
    return bomb_while_polling(server, 0)


if __name__ == "__main__":
    main()
