"""The workbench next to its peers on the same notebook: bare papermill, jupyter-scheduler,
Dagster with dagstermill, and the workbench.

Each peer is installed by this script in a virtual environment of its own (a throwaway
folder, or ``--venvs DIR`` to keep and reuse them) from the package index; a peer whose
install fails is skipped with the reason, and the others are still measured. Every tool
runs the same seeded trivial notebook of benchmarks/pipelines.py (kernel ``python3`` of
the tool's own environment: seed a ``random.Random``, sum 1,000 draws, print it).

- **single job**: one execution, from the request to the result seen by the caller.
  - bare papermill: ``papermill.execute_notebook`` in this warm process (the raw tool);
  - jupyter-scheduler 2.x: ``POST /scheduler/jobs`` on its Jupyter server, then polling
    ``GET /scheduler/jobs/<id>`` every 50 ms until COMPLETED;
  - Dagster: a one-op job of ``define_dagstermill_op``, run by ``execute_job`` with the
    in-process executor in a warm process of its environment (dagstermill refuses
    ``execute_in_process``: its jobs must be reconstructable), and by ``dagster job
    execute`` from its CLI;
  - the workbench: a 1-step pipeline started through ``RunService.start`` (what the REST
    handler calls) on its own Temporal dev server and worker, awaited with ``wait``.
- **chain**: 5 steps, each after the previous one (jupyter-scheduler has no dependencies:
  5 jobs, each created when the one before completed; Dagster: 5 ops in one job).
  Dagster's figures are its in-process runs (``dagster``) and its CLI (``dagster-cli``).
- **schedule delay**: seconds from the tool's own scheduled time to the run started:
  jupyter-scheduler's job definition on ``* * * * *`` (its task runner polls every 10 s by
  default; start_time minus the minute), Dagster's daemon on ``* * * * *`` (the run's start
  minus its ``dagster/scheduled_execution_time`` tag), the workbench's ``interval: 10s``
  schedule (the run recorded as running minus Temporal's scheduled time). The first
  firing of each is a warm-up.

Single-job and chain figures are ratios to bare papermill measured in the same run
(``<tool>_single_ratio``, ``<tool>_chain_ratio``); the workbench should be ahead of every
peer on each, and on the schedule delay.

    python benchmarks/peers.py [--repeat 3] [--firings 2] [--venvs DIR]
                               [--peers scheduler,dagster]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipelines as wb  # the workbench side and the notebook, as benchmarks/pipelines.py

# The peers' environments have plain ipykernel only: every tool runs the notebook on
# ``python3`` (benchmarks/pipelines.py's default is the workbench's own kernel).
wb.KERNEL = "python3"

CHAIN = 5
PEER_PACKAGES = {
    "scheduler": ["jupyter-scheduler==2.12.1", "ipykernel", "papermill"],
    "dagster": ["dagster==1.13.27", "dagstermill==0.29.27", "ipykernel"],
}
DAGSTER_DEFS = """
from pathlib import Path

from dagster import DefaultScheduleStatus, Definitions, In, Nothing, ScheduleDefinition, job
from dagstermill import define_dagstermill_op

NOTEBOOK = str(Path(__file__).parent / "{notebook}")


def step(name, seed={seed}, after=False):
    # dagstermill replaces the notebook's parameters cell with one of its own, which sets
    # the op's inputs: the seed is an input with a default.
    ins = {{"seed": In(int, default_value=seed)}}
    if after:
        ins["after"] = In(Nothing)
    return define_dagstermill_op(name=name, notebook_path=NOTEBOOK, ins=ins)


only = step("only")


@job
def single():
    only()


ops = [step(f"s{{i}}", seed={seed} + i, after=i > 1) for i in range(1, {chain} + 1)]


@job
def chain():
    previous = None
    for op in ops:
        previous = op(after=previous) if previous is not None else op()


tick = step("tick")


@job
def ticking():
    tick()


every_minute = ScheduleDefinition(
    job=ticking, cron_schedule="* * * * *", default_status=DefaultScheduleStatus.RUNNING
)
defs = Definitions(jobs=[single, chain, ticking], schedules=[every_minute])
"""
DAGSTER_IN_PROCESS = """
# Run in the folder of dagster_defs.py: the notebook's kernel imports the job from it.
import json, sys, time
from dagster import DagsterInstance, execute_job, reconstructable
sys.path.insert(0, sys.argv[1])
import dagster_defs
instance = DagsterInstance.get()
in_process = {"execution": {"config": {"in_process": {}}}}
def run(name):
    job = reconstructable(getattr(dagster_defs, name))
    with execute_job(job, instance=instance, run_config=in_process) as result:
        assert result.success, name
out = {"single": [], "chain": []}
for name in ("single", "chain"):
    run(name)  # warm-up
for _ in range(int(sys.argv[2])):
    for name in ("single", "chain"):
        started = time.perf_counter()
        run(name)
        out[name].append(time.perf_counter() - started)
print(json.dumps(out))
"""
DAGSTER_TICKS = """
import json
from datetime import datetime
from dagster import DagsterInstance, RunsFilter
instance = DagsterInstance.get()
out = []
for record in instance.get_run_records(RunsFilter(job_name="ticking")):
    tags = record.dagster_run.tags
    key = "dagster/scheduled_execution_time"  # hidden (".dagster/...") in Dagster 1.13
    tag = tags.get("." + key) or tags.get(key)
    if tag and record.start_time:
        out.append({"scheduled": datetime.fromisoformat(tag).timestamp(),
                    "started": record.start_time})
print(json.dumps(out))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Figures:
    """One tool's times (seconds) and the reason it was skipped, if it was."""

    single: list[float] = field(default_factory=list)
    chain: list[float] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    skipped: str | None = None


# -- environments ---------------------------------------------------------------------------
def peer_venv(venvs: Path, peer: str) -> tuple[Path | None, str | None]:
    """The peer's environment (made and installed if absent): (its bin folder, None), or
    (None, why it could not be installed)."""
    folder = venvs / peer
    marker = folder / ".installed"
    if marker.exists():
        return folder / "bin", None
    shutil.rmtree(folder, ignore_errors=True)
    log(f"installing {peer} into {folder} ...")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
        subprocess.run(
            [str(folder / "bin" / "python"), "-m", "pip", "install", "-q", *PEER_PACKAGES[peer]],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except subprocess.CalledProcessError as exc:
        last = ((exc.stderr or "") + (exc.stdout or "")).strip().splitlines()
        return None, f"pip install {' '.join(PEER_PACKAGES[peer])} failed: {last[-1:]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"could not make its environment: {exc}"
    marker.write_text(" ".join(PEER_PACKAGES[peer]))
    return folder / "bin", None


def peer_env(root: Path) -> dict[str, str]:
    """A peer's environment variables: its Jupyter and Dagster state under ``root``, none
    of this process's workbench settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "JUPYTER"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(root / "jupyter" / "config"),
        JUPYTER_DATA_DIR=str(root / "jupyter" / "data"),
        JUPYTER_RUNTIME_DIR=str(root / "jupyter" / "runtime"),
        DAGSTER_HOME=str(root / "dagster"),
        PYTHONUNBUFFERED="1",
    )
    (root / "dagster").mkdir(parents=True, exist_ok=True)
    return env


# -- jupyter-scheduler ------------------------------------------------------------------------
class Scheduler:
    """A Jupyter server with jupyter-scheduler, driven over its REST API."""

    def __init__(self, bin_dir: Path, root: Path, notebooks: Path) -> None:
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = peer_env(root)
        self.log = (root / "scheduler.log").open("wb")
        self.proc = subprocess.Popen(
            [
                str(bin_dir / "jupyter"), "server", "--no-browser", "--allow-root",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={notebooks}",
                f"--SchedulerApp.db_url=sqlite:///{root / 'scheduler.sqlite'}",
                "--SchedulerApp.environment_manager_class="
                "jupyter_scheduler.environments.StaticEnvironmentManager",
            ],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            try:
                self.call("GET", "/scheduler/config")
                return
            except (OSError, urllib.error.URLError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"jupyter-scheduler did not start; see {self.log.name}"
                    ) from None
                time.sleep(0.2)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
        return json.loads(text) if text else {}

    def job(self, seed: int) -> float:
        """One job, request to COMPLETED seen by the caller (seconds)."""
        started = time.perf_counter()
        made = self.call("POST", "/scheduler/jobs", self._job_body("bench", seed))
        deadline = time.monotonic() + 300
        while True:
            job = self.call("GET", f"/scheduler/jobs/{made['job_id']}")
            if job["status"] == "COMPLETED":
                return time.perf_counter() - started
            # A job is STOPPED (its record's default) until its process says IN_PROGRESS.
            ended = job["status"] == "FAILED" or (job["status"] == "STOPPED" and job["start_time"])
            if ended or time.monotonic() > deadline:
                raise RuntimeError(
                    f"jupyter-scheduler job {made['job_id']} {job['status']}: "
                    f"{job.get('status_message') or 'no message'}"
                )
            time.sleep(0.05)

    def delays(self, firings: int) -> list[float]:
        """Seconds from each scheduled minute to its job's start (the first one left out)."""
        body = {**self._job_body("tick", wb.SEED), "schedule": "* * * * *", "timezone": "UTC"}
        definition = self.call("POST", "/scheduler/job_definitions", body)["job_definition_id"]
        deadline = time.monotonic() + 60 * (firings + 2) + 30
        while time.monotonic() < deadline:
            found = self.call("GET", f"/scheduler/jobs?job_definition_id={definition}")["jobs"]
            started = sorted(j["start_time"] / 1000 for j in found if j.get("start_time"))
            if len(started) > firings:
                return [moment - moment // 60 * 60 for moment in started[1 : firings + 1]]
            time.sleep(1)
        raise RuntimeError("jupyter-scheduler's schedule did not fire in time")

    @staticmethod
    def _job_body(name: str, seed: int) -> dict:
        return {
            "input_uri": wb.NOTEBOOK,
            "input_filename": wb.NOTEBOOK,
            "runtime_environment_name": "python3",
            "name": name,
            "parameters": {"seed": str(seed)},
            "output_formats": ["ipynb"],
        }

    def close(self) -> None:
        wb.stop_process(self.proc, 15)
        self.log.close()


def measure_scheduler(bin_dir: Path, root: Path, notebooks: Path, args) -> Figures:
    figures = Figures()
    root.mkdir(parents=True, exist_ok=True)
    server = Scheduler(bin_dir, root, notebooks)
    try:
        server.job(wb.SEED)  # warm-up
        for _ in range(args.repeat):
            figures.single.append(server.job(wb.SEED))
            started = time.perf_counter()
            for i in range(1, CHAIN + 1):
                server.job(wb.SEED + i)
            figures.chain.append(time.perf_counter() - started)
        log(f"jupyter-scheduler: {args.firings} firings of a * * * * * schedule ...")
        figures.delays = server.delays(args.firings)
    finally:
        server.close()
    return figures


# -- Dagster ---------------------------------------------------------------------------------
def measure_dagster(bin_dir: Path, root: Path, notebooks: Path, args) -> tuple[Figures, Figures]:
    """(in-process figures with the daemon's schedule delays, CLI figures)."""
    root.mkdir(parents=True, exist_ok=True)
    defs = notebooks / "dagster_defs.py"
    defs.write_text(DAGSTER_DEFS.format(notebook=wb.NOTEBOOK, chain=CHAIN, seed=wb.SEED))
    env = peer_env(root)
    python = str(bin_dir / "python")
    warm, cli = Figures(), Figures()
    done = subprocess.run(
        [python, "-c", DAGSTER_IN_PROCESS, str(notebooks), str(args.repeat)],
        env=env, capture_output=True, text=True, timeout=1800, cwd=notebooks,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"dagster in-process runs failed: {done.stderr.strip()[-800:]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    warm.single, warm.chain = times["single"], times["chain"]

    def cli_run(job: str) -> float:
        started = time.perf_counter()
        subprocess.run(
            [str(bin_dir / "dagster"), "job", "execute", "-f", str(defs), "-j", job],
            env=env, check=True, capture_output=True, timeout=600, cwd=notebooks,
        )  # fmt: skip
        return time.perf_counter() - started

    cli_run("single")  # warm-up: file caches
    for _ in range(args.repeat):
        cli.single.append(cli_run("single"))
        cli.chain.append(cli_run("chain"))

    log(f"dagster: {args.firings} firings of a * * * * * schedule by dagster-daemon ...")
    with (root / "dagster-daemon.log").open("wb") as out:
        daemon = subprocess.Popen(
            [str(bin_dir / "dagster-daemon"), "run", "-f", str(defs)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=notebooks,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60 * (args.firings + 3) + 120
        while time.monotonic() < deadline:
            time.sleep(2)
            found = subprocess.run(
                [python, "-c", DAGSTER_TICKS], env=env, capture_output=True, text=True, timeout=120
            )
            ticks = (
                json.loads(found.stdout.strip().splitlines()[-1]) if found.returncode == 0 else []
            )
            if len(ticks) > args.firings:
                ordered = sorted(ticks, key=lambda t: float(t["scheduled"]))
                warm.delays = [
                    t["started"] - float(t["scheduled"]) for t in ordered[1 : args.firings + 1]
                ]
                break
        else:
            raise RuntimeError(f"dagster's schedule did not fire in time; see {out.name}")
    finally:
        wb.stop_process(daemon, 30)
    return warm, cli


# -- the workbench ---------------------------------------------------------------------------
async def measure_workbench_async(bench: wb.Bench, args) -> tuple[Figures, Figures]:
    ours, bare = Figures(), Figures()
    await wb.wait_for_server(bench.address)
    await bench.wait_for_worker()
    for name in (wb.SINGLE, wb.CHAINED):
        await wb.deploy(bench, name)
    await bench.workbench_run(wb.SINGLE)  # warm-up of both
    await bench.papermill([wb.SEED])
    seeds = [wb.SEED + i for i in range(1, CHAIN + 1)]
    for rep in range(args.repeat):
        for side in ("wb", "pm") if rep % 2 == 0 else ("pm", "wb"):
            if side == "wb":
                ours.single.append((await bench.workbench_run(wb.SINGLE)).total_s)
                ours.chain.append((await bench.workbench_run(wb.CHAINED)).total_s)
            else:
                bare.single.append(await bench.papermill([wb.SEED]))
                bare.chain.append(await bench.papermill(seeds))
    log(f"workbench: {args.firings} firings of an interval: {wb.INTERVAL_S}s schedule ...")
    ours.delays = [f["running"] for f in await wb.schedule_firings(bench, args.firings)]
    return ours, bare


def measure_workbench(root: Path, args) -> tuple[Figures, Figures]:
    from workbench_server import temporal
    from workbench_server.core import Workbench
    from workbench_server.settings import WorkbenchSettings

    home, src = root / "home", root / "src"
    (root / "temporal").mkdir(parents=True)
    wb.write_notebook(src / wb.NOTEBOOK)
    steps = [
        (f"s{i:02d}", wb.SEED + i, f"s{i - 1:02d}" if i > 1 else None) for i in range(1, CHAIN + 1)
    ]
    specs = {
        wb.SINGLE: wb.write_spec(src, wb.SINGLE, [("only", wb.SEED, None)]),
        wb.CHAINED: wb.write_spec(src, wb.CHAINED, steps),
        wb.TICK: wb.write_spec(
            src,
            wb.TICK,
            [("tick", wb.SEED, None)],
            extra=f"schedule:\n  interval: {wb.INTERVAL_S}s",
        ),
    }
    server, bench, workbench = None, None, None
    try:
        server, address = temporal.spawn_dev_server(root / "temporal")
        queue = f"bench-{uuid.uuid4().hex[:10]}"
        settings = WorkbenchSettings.from_env(home, temporal_address=address, task_queue=queue)
        settings.workbench_home.prepare()
        workbench = Workbench(settings)
        worker = wb.spawn_worker(home, address, queue, 4)
        bench = wb.Bench(root, home, address, queue, workbench, worker, 4, specs)
        return asyncio.run(measure_workbench_async(bench, args))
    finally:
        if bench is not None:
            wb.stop_process(bench.worker, 40)
        if workbench is not None:
            workbench.close()
        if server is not None:
            wb.stop_process(server, 15)


# -- report ----------------------------------------------------------------------------------
def report(tools: dict[str, Figures], bare: Figures) -> None:
    """A table, which peer the workbench is ahead of on each measure, and the JSON line."""
    base_single, base_chain = median(bare.single), median(bare.chain)
    print(f"{'tool':22} {'single s':>9} {'x papermill':>12} {'chain s':>9} {'x papermill':>12} "
          f"{'sched delay s':>14}")  # fmt: skip
    print(f"{'bare papermill (warm)':22} {base_single:9.2f} {1:12.2f} {base_chain:9.2f} {1:12.2f}")
    measured: dict[str, dict[str, float]] = {}
    for name, got in tools.items():
        if got.skipped:
            print(f"{name:22} skipped: {got.skipped}")
            continue
        single, chain = median(got.single), median(got.chain)
        measured[name] = {"single_ratio": single / base_single, "chain_ratio": chain / base_chain}
        if got.delays:
            measured[name]["schedule_delay_s"] = median(got.delays)
        delay = measured[name].get("schedule_delay_s", float("nan"))
        print(f"{name:22} {single:9.2f} {single / base_single:12.2f} {chain:9.2f} "
              f"{chain / base_chain:12.2f} {delay:14.2f}")  # fmt: skip
    ours = measured.get("workbench", {})
    verdicts = [
        f"{measure} vs {name}: {'ahead' if ours[measure] < value else 'BEHIND'}"
        for name, values in measured.items()
        if name != "workbench"
        for measure, value in values.items()
        if measure in ours
    ]
    print("workbench: " + ("; ".join(verdicts) or "no peer measured"))
    figures = {
        f"{name.replace('-', '_')}_{measure}": round(value, 3)
        for name, values in measured.items()
        for measure, value in values.items()
    }
    units = {key: "s" if key.endswith("_s") else "ratio" for key in figures}
    print(json.dumps({"benchmark": "peers", "figures": figures, "units": units}))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--firings", type=int, default=2, help="schedule firings measured")
    parser.add_argument("--venvs", type=Path, help="keep the peers' environments here")
    parser.add_argument("--peers", default="scheduler,dagster")
    args = parser.parse_args()
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    root = Path(tempfile.mkdtemp(prefix="wb-bench-peers-"))
    venvs = args.venvs or root / "venvs"
    venvs.mkdir(parents=True, exist_ok=True)
    tools: dict[str, Figures] = {}
    try:
        log("workbench ...")
        tools["workbench"], bare = measure_workbench(root / "wb", args)
        notebooks = root / "notebooks"
        wb.write_notebook(notebooks / wb.NOTEBOOK)
        if "scheduler" in wanted:
            bin_dir, why = peer_venv(venvs, "scheduler")
            if bin_dir is None:
                tools["jupyter-scheduler"] = Figures(skipped=why)
            else:
                log("jupyter-scheduler ...")
                try:
                    tools["jupyter-scheduler"] = measure_scheduler(
                        bin_dir, root / "scheduler", notebooks, args
                    )
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    tools["jupyter-scheduler"] = Figures(skipped=f"failed: {exc}")
        if "dagster" in wanted:
            bin_dir, why = peer_venv(venvs, "dagster")
            if bin_dir is None:
                tools["dagster"] = Figures(skipped=why)
            else:
                log("dagster ...")
                try:
                    warm, cli = measure_dagster(bin_dir, root / "dagster", notebooks, args)
                    tools["dagster"], tools["dagster-cli"] = warm, cli
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    tools["dagster"] = Figures(skipped=f"failed: {exc}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(tools, bare)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the Temporal SDK's threads (see benchmarks/pipelines.py)


if __name__ == "__main__":
    main()
