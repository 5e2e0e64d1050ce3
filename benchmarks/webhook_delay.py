"""Delay from a run's end to its webhook delivery (issue 18, ``webhook_delay_ms``).

Starts its own Temporal dev server and ``workbench worker`` on a fresh home and task
queue, deploys a one-step pipeline (a trivial notebook, kernel ``python3``) through
``PipelineRegistry`` with a webhook target for ``run.succeeded`` on a receiver on
127.0.0.1, and starts runs through ``RunService.start`` (what the REST handlers and the
trigger URL call), four at a time. For each run: the time the receiver got the event
minus the run's ``finished_at`` (written by the worker in the transaction that queues
the delivery): ``webhook_delay_ms`` is the p95 (goal <= 500), after one warm-up run.

The raw floor, measured in the same run, alternating with the batches: the same signed
POST of a recorded event straight from this process to the same receiver
(``raw_post_ms``, median), i.e. what delivery costs without the outbox and Temporal.

    python benchmarks/webhook_delay.py [--runs 24]

``benchmarks/integrations.py`` reports the same figure with the MCP ones.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "source": "n = 0",
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": "print(sum(range(n + 1000)))",
            "outputs": [],
            "execution_count": None,
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
SPEC = """\
name: hooked
parameters:
  n: {type: integer, default: 0}
steps:
  - id: only
    notebook: only.ipynb
    kernel: python3
"""


class Receiver:
    """Records when each event arrives (by run id), answering 204 at once."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.raw: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/events":
                    receiver.arrived.setdefault(body["run"]["id"], at)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def raw_post_ms(url: str, payload: dict[str, Any], secret: str) -> float:
    """One signed POST of ``payload`` from this process, as the worker sends it."""
    from workbench_server.webhooks import signing

    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    clock = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10)
    conn.request(
        "POST",
        "/raw",
        body,
        {"Content-Type": "application/json", signing.HEADER: signing.header_value(secret, body)},
    )
    conn.getresponse().read()
    conn.close()
    return (time.perf_counter() - clock) * 1000


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def _measure(workbench: Any, receiver: Receiver, src: Path, runs: int) -> dict[str, Any]:
    from workbench_server.db.models import Run
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.pipelines.runs import RunService
    from workbench_server.principal import local_principal
    from workbench_server.webhooks.events import TargetIn, TargetService

    me = local_principal()
    PipelineRegistry(workbench, me).deploy(src / "pipeline.yaml")
    target = TargetService(workbench, me).create(
        "hooked", TargetIn(url=receiver.url + "/events", events=["run.succeeded"])
    )
    service = RunService(workbench, me)

    async def one(n: int) -> str:
        for _ in range(60):  # the worker may still be connecting
            try:
                run = await service.start("hooked", {"n": n})
                break
            except Exception:
                await asyncio.sleep(1)
        ended = await service.wait(run.id)
        if ended.status != "succeeded":
            raise RuntimeError(f"run {run.id} {ended.status}: {ended.error}")
        return run.id

    await one(0)  # warm-up: kernel, worker, Temporal
    delays: list[float] = []
    raw: list[float] = []
    payload = {"run": {"id": "raw", "outputs": {"steps": {"only": "succeeded"}}}}
    for batch in range(0, runs, 4):
        ids = await asyncio.gather(*(one(batch + i + 1) for i in range(min(4, runs - batch))))
        for _ in range(600):  # at most 30 s for the events to arrive
            if all(i in receiver.arrived for i in ids):
                break
            await asyncio.sleep(0.05)
        with workbench.sessions() as session:
            for run_id in ids:
                finished = session.get(Run, run_id).finished_at
                if run_id in receiver.arrived and finished is not None:
                    delays.append((receiver.arrived[run_id] - finished.timestamp()) * 1000)
        raw.extend(raw_post_ms(receiver.url, payload, target.secret) for _ in range(4))
    return {"delays_ms": delays, "raw_ms": raw, "runs": runs}


def measure_webhook_delay(runs: int = 24) -> dict[str, Any]:
    """The measurements (``delays_ms`` per run, ``raw_ms``), on a fresh temporary home
    with its own Temporal dev server and worker."""
    from workbench_server import temporal
    from workbench_server.core import Workbench
    from workbench_server.settings import WorkbenchSettings

    root = Path(tempfile.mkdtemp(prefix="wb-bench-webhooks-"))
    home, src = root / "home", root / "src"
    src.mkdir(parents=True)
    (root / "temporal").mkdir()
    (src / "only.ipynb").write_text(json.dumps(NOTEBOOK))
    (src / "pipeline.yaml").write_text(SPEC)
    server, address = temporal.spawn_dev_server(root / "temporal")
    receiver = Receiver()
    worker = None
    workbench = None
    try:
        queue = f"bench-{uuid.uuid4().hex[:10]}"
        settings = WorkbenchSettings.from_env(home, temporal_address=address, task_queue=queue)
        settings.workbench_home.prepare()
        workbench = Workbench(settings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
        with (root / "worker.log").open("ab") as log:
            worker = subprocess.Popen(
                temporal.worker_argv(home=home, address=address, task_queue=queue),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return asyncio.run(_measure(workbench, receiver, src, runs))
    finally:
        receiver.close()
        if worker is not None:
            worker.terminate()
            worker.wait(40)
        if workbench is not None:
            workbench.close()
        server.terminate()
        server.wait(20)
        shutil.rmtree(root, ignore_errors=True)


def figures(measured: dict[str, Any]) -> dict[str, float]:
    delays = measured["delays_ms"]
    return {
        "webhook_delay_ms": round(p95(delays), 1),
        "webhook_delay_median_ms": round(statistics.median(delays), 1),
        "webhook_raw_post_ms": round(statistics.median(measured["raw_ms"]), 2),
        "webhook_delivered": len(delays),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=24)
    args = parser.parse_args()
    measured = measure_webhook_delay(args.runs)
    found = figures(measured)
    print(f"runs measured: {found['webhook_delivered']} of {args.runs}")
    print("delay run end -> delivery, ms: " + " ".join(f"{d:.0f}" for d in measured["delays_ms"]))
    print(
        f"p95 {found['webhook_delay_ms']:.0f} ms, median {found['webhook_delay_median_ms']:.0f} "
        f"ms; the same signed POST straight from this process: "
        f"{found['webhook_raw_post_ms']:.2f} ms (median)"
    )
    units = {k: "ms" for k in found} | {"webhook_delivered": "runs"}
    line = {
        "benchmark": "webhook_delay",
        "figures": found,
        "units": units,
        "goals": {"webhook_delay_ms": "<= 500"},
    }
    print(json.dumps(line))


if __name__ == "__main__":
    sys.exit(main())
