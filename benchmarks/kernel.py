"""Workbench kernel start to first cell result, next to plain ipykernel.

Starts a real ``jupyter server`` with the workbench extension on a fresh home (its lake
holds one small seeded ``bronze.events`` table), and through its REST API
(``POST /api/kernels``, as JupyterLab does for a notebook) starts real kernel processes
of two specs, alternating them in pairs (the order flips every repetition) after one
untimed warm-up of each:

- ``python3``: plain ipykernel.
- ``workbench``: the workbench spec (ipykernel with ``--ext=workbench_kernels``), given
  its own token and the workbench API's address by the server, as every notebook's
  kernel is; a pipeline step's kernel gets the same from the worker.

A jupyter_client ``BlockingKernelClient`` connects with the kernel's connection file
and runs ``1+1``. Times are taken from the start request:

- ``ready``: the kernel answers ``kernel_info`` (its start-up, extensions included, is
  done);
- ``first cell``: ``1+1``'s result is in. ``kernel_start_ratio`` is the median of the
  per-pair ratios workbench / python3 (both measured back to back, which cancels most of
  the load other work puts on a shared machine);
- ``first sql``: the result of the kernel's second cell, a first query: ``%sql SELECT
  1`` on the lake (the default connection) in the workbench kernel, and in the plain
  kernel what a user does without the workbench, bare jupysql on DuckDB (``%load_ext
  sql``, ``duckdb.connect()``, ``%sql con --alias lake``, ``%sql SELECT 1``).
  ``first_sql_s`` is the workbench's, ``first_sql_ratio`` workbench / bare jupysql.

Kernels are shut down (untimed) before the next one starts.

    python benchmarks/kernel.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from startup import free_port, stop

SPECS = ("python3", "workbench")
FIRST_CELL = "1+1"
FIRST_SQL = {
    "workbench": "%sql SELECT 1 AS one",
    "python3": (
        "%load_ext sql\n"
        "import duckdb\n"
        "con = duckdb.connect()\n"
        "%sql con --alias lake\n"
        "%sql SELECT 1 AS one"
    ),
}
ROWS = 1_000
SEED = 20_261_206


@dataclass
class Server:
    port: int
    token: str
    runtime: Path

    def call(self, method: str, path: str, body: object = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None


def seed_lake(lake: Path) -> None:
    """``bronze/events``: ROWS seeded rows, so the lake session has a view to make."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(SEED)
    folder = lake / "bronze" / "events"
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "id": list(range(ROWS)),
            "account": [rng.randrange(100) for _ in range(ROWS)],
            "amount": [round(rng.gammavariate(2.0, 150.0), 2) for _ in range(ROWS)],
        }
    )
    pq.write_table(table, folder / "part-00000.parquet")


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], Server]:
    """``jupyter server`` with the workbench extension (enabled in the environment's
    jupyter-config) on a fresh home under ``root``."""
    home, workdir, runtime = root / "home", root / "notebooks", root / "runtime"
    workdir.mkdir()
    runtime.mkdir()
    seed_lake(home / "lake")
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        sys.executable, "-m", "jupyter_server", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={workdir}", f"--WorkbenchApp.home={home}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        argv.append("--allow-root")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(JUPYTER_TOKEN=token, JUPYTER_RUNTIME_DIR=str(runtime))
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(port, token, runtime)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            server.call("GET", "/workbench/api/version")
            return proc, server
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"the workbench server did not start; see {root / 'server.log'}")


def run_cell(client: Any, code: str) -> str:
    """Run ``code``; its result's text/plain (the reply must be ok)."""
    shown: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] in ("execute_result", "display_data"):
            shown.append(msg["content"]["data"].get("text/plain", ""))

    reply = client.execute_interactive(code, timeout=120, output_hook=hook)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code!r} failed: {reply['content']}")
    return "\n".join(shown)


def start_and_run(server: Server, spec: str) -> dict[str, float]:
    """Seconds from the start request to: ready, the first cell's result, the first
    query's result."""
    from jupyter_client import BlockingKernelClient

    started = time.perf_counter()
    kernel_id = server.call("POST", "/api/kernels", {"name": spec})["id"]
    client = BlockingKernelClient()
    client.load_connection_file(str(server.runtime / f"kernel-{kernel_id}.json"))
    # No heartbeat: it calls a kernel dead after one second without an answer, which a
    # loaded machine's kernel start can take (the server watches its kernels anyway).
    client.start_channels(hb=False)
    try:
        client.wait_for_ready(timeout=120)
        ready = time.perf_counter() - started
        if run_cell(client, FIRST_CELL).strip() != "2":
            raise RuntimeError(f"{spec}: 1+1 did not show 2")
        first_cell = time.perf_counter() - started
        shown = run_cell(client, FIRST_SQL[spec])
        first_sql = time.perf_counter() - started
        if "one" not in shown or "1" not in shown:
            raise RuntimeError(f"{spec}: the first query showed {shown!r}")
    finally:
        client.stop_channels()
        server.call("DELETE", f"/api/kernels/{kernel_id}")
    return {"ready": ready, "first_cell": first_cell, "first_sql": first_sql}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed pairs")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wb-bench-kernel-"))
    times: dict[str, dict[str, list[float]]] = {spec: {} for spec in SPECS}
    proc = None
    try:
        proc, server = start_server(root)
        for spec in SPECS:  # warm-up: file caches, the server's first kernel start
            start_and_run(server, spec)
        for rep in range(args.repeat):
            for spec in SPECS if rep % 2 == 0 else SPECS[::-1]:
                for name, seconds in start_and_run(server, spec).items():
                    times[spec].setdefault(name, []).append(seconds)
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)

    def paired(name: str) -> float:
        pairs = zip(times["workbench"][name], times["python3"][name], strict=True)
        return statistics.median(a / b for a, b in pairs)

    med = {spec: {n: statistics.median(v) for n, v in t.items()} for spec, t in times.items()}
    load = os.getloadavg()
    print(f"{args.repeat} pairs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'from the start request to':42} {'python3':>9} {'workbench':>10} {'ratio':>7}")
    labels = {
        "ready": "kernel_info answered",
        "first_cell": "first cell's result (1+1)",
        "first_sql": "first query's result (see docstring)",
    }
    for name, label in labels.items():
        print(
            f"{label:42} {med['python3'][name]:8.3f}s {med['workbench'][name]:9.3f}s "
            f"{paired(name):6.2f}x"
        )
    figures = {
        "kernel_start_ratio": paired("first_cell"),
        "workbench_first_cell_s": med["workbench"]["first_cell"],
        "python3_first_cell_s": med["python3"]["first_cell"],
        "kernel_start_extra_s": med["workbench"]["first_cell"] - med["python3"]["first_cell"],
        "first_sql_s": med["workbench"]["first_sql"],
        "jupysql_first_sql_s": med["python3"]["first_sql"],
        "first_sql_ratio": paired("first_sql"),
        "kernel_ready_ratio": paired("ready"),
    }
    print(
        json.dumps(
            {
                "benchmark": "kernel",
                "figures": {k: round(v, 3) for k, v in figures.items()},
                "units": {k: "ratio" if k.endswith("_ratio") else "s" for k in figures},
                "goals": {"kernel_start_ratio": "<= 1.2"},
            }
        )
    )


if __name__ == "__main__":
    main()
