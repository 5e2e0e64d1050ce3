"""Worker memory over many runs, next to bare papermill's over as many executions.

Starts a Temporal dev server and a ``workbench worker`` on a fresh home (as
``benchmarks/pipelines.py`` does, with its trivial seeded notebook on kernel ``python3``),
runs ``--warmup`` one-step pipeline runs (the worker imports papermill and fills its caches
on the first ones), takes the worker's RSS, runs ``--runs`` more and takes it again:
``worker_rss_growth_mb`` is the difference. The RSS is also printed every ``--every``
runs, so a steady climb (a leak) is told from a step (a cache filling once).

The raw tool beside it: a child process that executes the same notebook with bare
``papermill.execute_notebook`` as many times (after the same warm-up), with its RSS taken
at the same points (``papermill_rss_growth_mb``).

    python benchmarks/worker_memory.py [--runs 200] [--warmup 10] [--every 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from pipelines import (
    NOTEBOOK,
    SEED,
    SINGLE,
    Bench,
    log,
    spawn_worker,
    stop_process,
    wait_for_server,
    write_notebook,
    write_spec,
)
from workbench_server import temporal
from workbench_server.core import Workbench
from workbench_server.settings import WorkbenchSettings

BARE_LOOP = """
import sys, psutil, papermill
notebook, out, warmup, runs, every = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
me = psutil.Process()
def rss():
    return me.memory_info().rss / 2**20
for i in range(warmup + runs):
    if i == warmup or (i > warmup and (i - warmup) % every == 0):
        print(i - warmup, rss(), flush=True)
    papermill.execute_notebook(notebook, out, parameters={"seed": i}, kernel_name="python3",
                               progress_bar=False)
print(runs, rss(), flush=True)
"""


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


Series = list[tuple[int, float]]  # (runs after the warm-up, RSS in MB)


async def worker_series(bench: Bench, warmup: int, runs: int, every: int) -> Series:
    await wait_for_server(bench.address)
    await bench.wait_for_worker()
    bench.registry.deploy(bench.specs[SINGLE])
    for _ in range(warmup):
        await bench.workbench_run(SINGLE)
    series = [(0, rss_mb(bench.worker.pid))]
    for done in range(1, runs + 1):
        await bench.workbench_run(SINGLE)
        if done % every == 0 or done == runs:
            series.append((done, rss_mb(bench.worker.pid)))
            proc = psutil.Process(bench.worker.pid)
            log(
                f"worker after {done} runs: {series[-1][1]:.1f} MB, "
                f"{proc.num_threads()} threads, {proc.num_fds()} open files"
            )
    return series


def papermill_series(root: Path, warmup: int, runs: int, every: int) -> Series:
    out = root / "bare.ipynb"
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            BARE_LOOP,
            str(root / "src" / NOTEBOOK),
            str(out),
            str(warmup),
            str(runs),
            str(every),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    series = []
    for line in found.stdout.splitlines():
        done, mb = line.split()
        series.append((int(done), float(mb)))
    return series


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wb-bench-worker-memory-"))
    home, src = root / "home", root / "src"
    (root / "temporal").mkdir()
    write_notebook(src / NOTEBOOK)
    specs = {SINGLE: write_spec(src, SINGLE, [("only", SEED, None)])}
    server = bench = workbench = None
    try:
        server, address = temporal.spawn_dev_server(root / "temporal")
        queue = f"bench-{uuid.uuid4().hex[:10]}"
        settings = WorkbenchSettings.from_env(home, temporal_address=address, task_queue=queue)
        settings.workbench_home.prepare()
        workbench = Workbench(settings)
        worker = spawn_worker(home, address, queue, 4)
        bench = Bench(root, home, address, queue, workbench, worker, 4, specs)
        started = time.perf_counter()
        worker = asyncio.run(worker_series(bench, args.warmup, args.runs, args.every))
        log(f"worker measured in {time.perf_counter() - started:.0f}s")
        bare = papermill_series(root, args.warmup, args.runs, args.every)
    finally:
        if bench is not None:
            stop_process(bench.worker, 40)
        if workbench is not None:
            workbench.close()
        if server is not None:
            stop_process(server, 15)
        shutil.rmtree(root, ignore_errors=True)

    growth = worker[-1][1] - worker[0][1]
    bare_growth = bare[-1][1] - bare[0][1]
    print(f"{'runs after warm-up':30} " + " ".join(f"{n:>7}" for n, _ in worker))
    print(f"{'workbench worker RSS (MB)':30} " + " ".join(f"{mb:7.1f}" for _, mb in worker))
    print(f"{'bare papermill loop RSS (MB)':30} " + " ".join(f"{mb:7.1f}" for _, mb in bare))
    print(f"worker_rss_growth_mb {growth:.1f} over {args.runs} runs", end=" ")
    print(f"(bare papermill {bare_growth:.1f})")
    print(
        json.dumps(
            {
                "benchmark": "worker_memory",
                "figures": {
                    "worker_rss_growth_mb": round(growth, 1),
                    "papermill_rss_growth_mb": round(bare_growth, 1),
                    "worker_rss_after_warmup_mb": round(worker[0][1], 1),
                    "papermill_rss_after_warmup_mb": round(bare[0][1], 1),
                },
                "units": {
                    "worker_rss_growth_mb": "MB",
                    "papermill_rss_growth_mb": "MB",
                    "worker_rss_after_warmup_mb": "MB",
                    "papermill_rss_after_warmup_mb": "MB",
                },
                "goals": {"worker_rss_growth_mb": f"< 10 over {args.runs} runs"},
            }
        )
    )
    sys.stdout.flush()
    # The Temporal SDK's Rust threads can abort the interpreter at shutdown
    # (temporalio/sdk-python#300): leave without teardown, as benchmarks/pipelines.py does.
    os._exit(0)


if __name__ == "__main__":
    main()
