"""What a run's status answer costs now that it asks Temporal whether the run's workflow
code fails on the worker (``RunService.status``, docs/pipelines.md "When the worker's
workflow code fails").

Starts its own Temporal dev server and ``workbench worker`` on a fresh home and task
queue, deploys a one-step pipeline whose notebook sleeps, and measures, alternating in
the same loop on one unfinished run: the run as recorded (``RunService.get``, the detail
before), its status answer (``RunService.status``, what GET runs/ID answers), the same
through a connection of its own (``status_blocking``, the CLI's and the MCP tool's), and
the raw tool: Temporal's DescribeWorkflowExecution alone. Twice on a healthy run (a
worker running the step) and twice on a stuck one (a worker on a copy of
workbench_pipelines whose run workflow raises AttributeError), interleaved.

    python benchmarks/run_status.py [--reps 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' dev server, worker and notebook helpers

SPEC = "name: slow\nsteps:\n  - id: s\n    notebook: slow.ipynb\n    kernel: python3\n"
RUN_CALL = "        return await self._run_plan(plan)\n"


def broken_package(into: Path) -> Path:
    """workbench_pipelines with its run workflow calling a method that is not there."""
    import workbench_pipelines

    target = into / "workbench_pipelines"
    shutil.copytree(
        Path(workbench_pipelines.__file__).parent,
        target,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    workflows = target / "workflows.py"
    text = workflows.read_text()
    assert text.count(RUN_CALL) == 1, "the run workflow's call this breaks has moved"
    workflows.write_text(text.replace(RUN_CALL, RUN_CALL.replace("_run_plan", "_run_plan_new")))
    return into


async def measure(runs, run_id: str, client, workflow_id: str, reps: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"get": [], "status": [], "blocking": [], "describe": []}
    for _ in range(3):  # warm-up
        await runs.status(run_id)
    for _ in range(reps):
        start = time.perf_counter()
        runs.get(run_id)
        times["get"].append(time.perf_counter() - start)
        start = time.perf_counter()
        await runs.status(run_id)
        times["status"].append(time.perf_counter() - start)
        start = time.perf_counter()
        await asyncio.to_thread(runs.status_blocking, run_id)
        times["blocking"].append(time.perf_counter() - start)
        start = time.perf_counter()
        await client.get_workflow_handle(workflow_id).describe()
        times["describe"].append(time.perf_counter() - start)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


async def run_all(tmp: Path, address: str, reps: int) -> list[tuple[str, float, dict]]:
    from tests.conftest import spawn_worker, stop_worker
    from tests.support.notebooks import write_notebook
    from workbench_server.core import Workbench
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.pipelines.runs import RunService
    from workbench_server.principal import Principal
    from workbench_server.settings import WorkbenchSettings

    alice = Principal(name="alice")
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    home = tmp / "home"
    settings = WorkbenchSettings.from_env(home, temporal_address=address, task_queue=queue)
    settings.workbench_home.prepare()
    core = Workbench(settings)
    folder = tmp / "flows"
    write_notebook(folder / "slow.ipynb", "import time; time.sleep(120)")
    (folder / "slow.yaml").write_text(SPEC)
    PipelineRegistry(core, alice).deploy(folder / "slow.yaml")
    runs = RunService(core, alice)
    client = await core.temporal_client()
    path = os.pathsep.join(
        p for p in (str(broken_package(tmp / "broken")), os.environ.get("PYTHONPATH")) if p
    )
    found = []
    try:
        for kind in ("healthy", "stuck", "healthy", "stuck"):
            env = {"PYTHONPATH": path} if kind == "stuck" else None
            worker = spawn_worker(home, address, queue, extra_env=env, log_name=f"{kind}.log")
            try:
                run = await runs.start("slow")
                workflow_id = runs._workflow_id(run.id)
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    now = await runs.status(run.id)
                    if now.error if kind == "stuck" else (now.status == "running" and now.attempts):
                        break
                    await asyncio.sleep(0.3)
                else:
                    raise SystemExit(f"the {kind} run never got there")
                load = os.getloadavg()[0]
                found.append((kind, load, await measure(runs, run.id, client, workflow_id, reps)))
                await client.get_workflow_handle(workflow_id).terminate("benchmark done")
            finally:
                stop_worker(worker)
    finally:
        core.close()
    return found


def main() -> None:
    from tests.support.temporal import dev_server

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-status-"))
    try:
        (tmp / "temporal").mkdir()
        with dev_server(tmp / "temporal") as address:
            found = asyncio.run(run_all(tmp, address, args.reps))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'run':8} {'load':>5} {'get':>7} {'status':>7} {'blocking':>9} {'describe':>9}  ms")
    for kind, load, m in found:
        print(
            f"{kind:8} {load:5.1f} {m['get']:7.1f} {m['status']:7.1f} {m['blocking']:9.1f} "
            f"{m['describe']:9.1f}"
        )
    figures = {}
    for kind in ("healthy", "stuck"):
        rows = [m for k, _, m in found if k == kind]
        added = statistics.median(m["status"] - m["get"] for m in rows)
        describe = statistics.median(m["describe"] for m in rows)
        figures[f"{kind}_status_added_ms"] = round(added, 2)
        figures[f"{kind}_blocking_ms"] = round(statistics.median(m["blocking"] for m in rows), 2)
        figures[f"{kind}_raw_describe_ms"] = round(describe, 2)
        figures[f"{kind}_added_vs_describe"] = round(added / describe, 2)
    units = {k: ("ratio" if k.endswith("vs_describe") else "ms") for k in figures}
    print(json.dumps({"benchmark": "run_status", "figures": figures, "units": units, "goals": {}}))


if __name__ == "__main__":
    sys.exit(main())
