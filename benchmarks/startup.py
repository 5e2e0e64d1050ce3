"""Start-up time and idle memory of `workbench up`, next to bare `jupyter lab`.

Alternates a bare JupyterLab start (ready = GET /api/status answers 200) with a
`workbench up` start on a warm home (ready = the banner with the URL, printed once
Temporal accepts connections and JupyterLab answers with the workbench's routes; the
core behind them opens in the background and the worker starts then, see README.md),
after one warm-up of each. What comes after the banner is timed too: the first answer of
the workbench's API asked right then (GET /workbench/api/version, which waits for the
core) and the worker's first poll (health ok), each from the banner. Then measures the
resident memory of the whole idle stack, process by process (supervisor, Temporal,
JupyterLab, worker), beside a bare JupyterLab's after the same idle time, and once more
after first use (a catalog search and the lake's table list over REST, which load the
search index's and the lake's libraries on demand).

Wall times on a shared machine swing with its load, so the table also gives each
start's spread, the load average before and after, and the CPU seconds each process
(with the children it waited for) spent until ready: the work a start costs, which the
load does not change. On two cores that sum, not one process's wall time, bounds a start.

``--against DIR`` adds a third contender in every repetition: ``workbench up`` with the
packages of an older checkout unpacked in DIR (``git archive COMMIT server_ext pipelines
kernels hub | tar -x -C DIR``, and the built ``server_ext/workbench_server/labextension``
copied beside it), imported first through PYTHONPATH, on the same home. Its idle memory is
measured too, and the ratios of this code to it (``ready_vs_against_ratio``,
``idle_rss_vs_against_mb``): a before/after pair from one run, at one load.

    python benchmarks/startup.py [--repeat 5] [--idle 20] [--against DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

URL_MARK = "/lab?token="
# An older checkout's package folders, in DIR of --against.
PACKAGE_DIRS = ("server_ext", "pipelines", "kernels", "hub")
# CPU seconds until ready, per start, by process: "bare lab", "up jupyterlab", ...
CPU: dict[str, list[float]] = collections.defaultdict(list)
# Seconds from the banner until the workbench's API answered / health was ok, per start.
AFTER: dict[str, list[float]] = collections.defaultdict(list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def workbench_cmd() -> list[str]:
    script = Path(sys.executable).with_name("workbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "workbench_server.cli"]


def stop(proc: subprocess.Popen[bytes]) -> None:
    tree = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for child in tree:
        if child.is_running():
            child.kill()


def part_of(proc: psutil.Process) -> str:
    cmdline = " ".join(proc.cmdline())
    for mark, name in (
        (" up ", "supervisor"),
        ("temporal", "temporal"),
        ("jupyterlab", "jupyterlab"),
        (" worker", "worker"),
    ):
        if mark in f"{cmdline} ":
            return name
    return "other"


def cpu_s(p: psutil.Process) -> float:
    """CPU seconds of ``p`` and of the children it has waited for."""
    t = p.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def tree_cpu(proc: subprocess.Popen[bytes]) -> dict[str, float]:
    """CPU seconds spent so far by each part of a process tree (its root too)."""
    parts: dict[str, float] = {}
    root = psutil.Process(proc.pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            name = part_of(p) if p.pid != root.pid else "root"
            parts[name] = parts.get(name, 0.0) + cpu_s(p)
        except psutil.Error:
            continue
    return parts


def stack_parts(proc: subprocess.Popen[bytes]) -> dict[str, float]:
    """RSS in MB of each process of the stack, by part."""
    parts: dict[str, float] = {}
    for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
        name = part_of(p)
        parts[name] = parts.get(name, 0.0) + p.memory_info().rss / 2**20
    return parts


def use(home: Path) -> None:
    """What a person does first: a catalog search and the lake's table list."""
    state = json.loads((home / "run" / "state.json").read_text())
    for path in ("/workbench/api/catalog/search?q=partner", "/workbench/api/lake/tables"):
        request = urllib.request.Request(
            state["url"].rstrip("/") + path, headers={"Authorization": f"token {state['token']}"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()


def start_bare_lab(workdir: Path) -> tuple[subprocess.Popen[bytes], float]:
    """A bare JupyterLab, and the seconds until /api/status answered 200."""
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_TOKEN=token)
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={workdir}",
        # The workbench's own server extension is enabled in this environment's
        # jupyter-config: a bare JupyterLab is one without it (it costs about 1 s of CPU).
        '--ServerApp.jpserver_extensions={"workbench_server": False}',
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
    )
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    elapsed = time.perf_counter() - started
                    CPU["bare lab"].append(sum(tree_cpu(proc).values()))
                    return proc, elapsed
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("bare jupyter lab exited") from None
            time.sleep(0.05)


def bare_lab(workdir: Path) -> float:
    proc, elapsed = start_bare_lab(workdir)
    stop(proc)
    return elapsed


def bare_lab_rss(workdir: Path, idle: float) -> float:
    """RSS in MB of a bare JupyterLab server after ``idle`` seconds."""
    proc, _ = start_bare_lab(workdir)
    try:
        time.sleep(idle)
        return psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        stop(proc)


def workbench_up(
    home: Path, workdir: Path, keep: bool = False, against: Path | None = None
) -> tuple[float, subprocess.Popen[bytes] | None]:
    """Seconds until ``workbench up`` printed its URL (with --against's code from DIR)."""
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    label = "up"
    if against is not None:
        label = "against"
        paths = [str(against / d) for d in PACKAGE_DIRS if (against / d).is_dir()]
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(":")
    started = time.perf_counter()
    # Its messages go to a file: a start that fails says why (one failed at load 17).
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [*workbench_cmd(), "up", "--notebook-dir", str(workdir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if URL_MARK.encode() in line:
            elapsed = time.perf_counter() - started
            for part, seconds in tree_cpu(proc).items():
                CPU[f"{label} " + ("supervisor" if part == "root" else part)].append(seconds)
            after_banner(line.decode(), label)
            if keep:
                return elapsed, proc
            stop(proc)
            return elapsed, None
    code = proc.wait()
    errors.seek(0)
    said = errors.read().decode(errors="replace").strip().splitlines()[-3:]
    raise RuntimeError(f"{label}: workbench up exited with {code} before it was ready: {said}")


def after_banner(line: str, label: str = "up") -> None:
    """Seconds from the banner until the workbench's API answers a request made right
    then (it waits for the core), and until health is ok (the worker polls)."""
    url, _, token = line.strip().partition(URL_MARK)
    shown = time.perf_counter()
    for name, path in (("api", "/workbench/api/version"), ("all ok", "/workbench/api/health")):
        request = urllib.request.Request(url + path, headers={"Authorization": f"token {token}"})
        deadline = shown + 120
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        AFTER[name if label == "up" else f"{label} {name}"].append(time.perf_counter() - shown)


def stack_memory(proc: subprocess.Popen[bytes]) -> tuple[float, float]:
    """(RSS, PSS) in MB summed over the supervisor and every descendant."""
    rss = pss = 0
    for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
        info = p.memory_full_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--idle", type=float, default=20.0, help="seconds idle before measuring memory"
    )
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="an older checkout's packages (server_ext, pipelines, ...) to compare with",
    )
    args = parser.parse_args()
    against = args.against.resolve() if args.against else None
    if against is not None and not (against / "server_ext" / "workbench_server").is_dir():
        parser.error(f"--against: no server_ext/workbench_server in {against}")
    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="wb-bench-startup-"))
    home, workdir = root / "home", root / "notebooks"
    workdir.mkdir()
    try:
        first_start, _ = workbench_up(home, workdir)  # generates demo data, creates DBs
        bare_lab(workdir)  # warm-up: file caches, __pycache__
        CPU.clear()
        AFTER.clear()
        lab_times, up_times, against_times = [], [], []
        for _ in range(args.repeat):
            lab_times.append(bare_lab(workdir))
            up_times.append(workbench_up(home, workdir)[0])
            if against is not None:
                against_times.append(workbench_up(home, workdir, against=against)[0])
        cpu = {name: statistics.median(runs) for name, runs in CPU.items()}
        after = {name: statistics.median(runs) for name, runs in AFTER.items()}
        load_after = os.getloadavg()[0]
        _, proc = workbench_up(home, workdir, keep=True)
        assert proc is not None
        time.sleep(args.idle)
        rss_mb, pss_mb = stack_memory(proc)
        parts = stack_parts(proc)
        use(home)
        time.sleep(2)
        used_mb, _ = stack_memory(proc)
        used_parts = stack_parts(proc)
        stop(proc)
        against_rss = against_parts = None
        if against is not None:
            _, proc = workbench_up(home, workdir, keep=True, against=against)
            assert proc is not None
            time.sleep(args.idle)
            against_rss, _ = stack_memory(proc)
            against_parts = stack_parts(proc)
            stop(proc)
        lab_rss = bare_lab_rss(workdir, args.idle)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    lab_s, up_s = statistics.median(lab_times), statistics.median(up_times)
    print(f"{'measure':38} {'median':>9}  spread  runs")
    rows = [
        ("bare jupyter lab to /api/status 200", lab_s, lab_times),
        ("workbench up to its URL (warm home)", up_s, up_times),
    ]
    if against_times:
        rows.append(
            ("--against's workbench up to its URL", statistics.median(against_times), against_times)
        )
    for label, median, runs in rows:
        spread = max(runs) - min(runs)
        print(f"{label:38} {median:8.2f}s  {spread:5.2f}s  " + " ".join(f"{t:.2f}" for t in runs))
    print(f"{'workbench up, first start (demo data)':38} {first_start:8.2f}s")
    print(f"{'ratio workbench / bare lab':38} {up_s / lab_s:8.2f}")
    print(f"{'load average (1 min) before / after':38} {load_before:8.1f}   {load_after:.1f}")
    print("CPU seconds until ready (median of the timed starts):")
    for name in sorted(cpu):
        print(f"{'  ' + name:38} {cpu[name]:7.2f}s")
    up_cpu = sum(v for k, v in cpu.items() if k.startswith("up "))
    against_cpu = sum(v for k, v in cpu.items() if k.startswith("against "))
    print(f"{'  workbench up, all processes':38} {up_cpu:7.2f}s")
    print("after the banner (median of the timed starts):")
    print(f"{'  workbench API answers':38} {after.get('api', 0.0):7.2f}s")
    print(f"{'  health all ok (worker polls)':38} {after.get('all ok', 0.0):7.2f}s")
    print(f"{'idle stack RSS (sum over processes)':38} {rss_mb:7.0f}MB")
    print(f"{'idle stack PSS (shared pages split)':38} {pss_mb:7.0f}MB")
    for name in sorted(parts):
        print(f"{'  idle ' + name:38} {parts[name]:7.0f}MB  after use {used_parts[name]:.0f}MB")
    print(f"{'stack RSS after a search and lake list':38} {used_mb:7.0f}MB")
    print(f"{'bare jupyter lab idle RSS':38} {lab_rss:7.0f}MB")
    extra: dict[str, float] = {}
    if against is not None and against_rss is not None and against_parts is not None:
        against_s = statistics.median(against_times)
        print(f"--against: {against}")
        print(f"{'  ratio --against / bare lab':38} {against_s / lab_s:8.2f}")
        print(f"{'  ratio this code / --against':38} {up_s / against_s:8.2f}")
        print(f"{'  CPU until ready, all processes':38} {against_cpu:7.2f}s")
        print(f"{'  idle stack RSS':38} {against_rss:7.0f}MB")
        for name in sorted(against_parts):
            print(f"{'  idle ' + name:38} {against_parts[name]:7.0f}MB")
        extra = {
            "against_ready_s": round(against_s, 2),
            "against_ratio": round(against_s / lab_s, 2),
            "ready_vs_against_ratio": round(up_s / against_s, 2),
            "against_cpu_s": round(against_cpu, 2),
            "against_idle_rss_mb": round(against_rss),
            "idle_rss_vs_against_mb": round(rss_mb - against_rss),
            **{f"against_idle_{n}_rss_mb": round(mb) for n, mb in against_parts.items()},
        }
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "figures": {
                    "ready_s": round(up_s, 2),
                    "ready_ratio": round(up_s / lab_s, 2),
                    "idle_rss_mb": round(rss_mb),
                    "bare_lab_s": round(lab_s, 2),
                    "first_start_s": round(first_start, 2),
                    "idle_pss_mb": round(pss_mb),
                    "after_use_rss_mb": round(used_mb),
                    "bare_lab_rss_mb": round(lab_rss),
                    "load_avg_1m": round(max(load_before, load_after), 1),
                    "bare_lab_cpu_s": round(cpu.get("bare lab", 0.0), 2),
                    "api_after_ready_s": round(after.get("api", 0.0), 2),
                    "all_ok_after_ready_s": round(after.get("all ok", 0.0), 2),
                    "up_cpu_s": round(up_cpu, 2),
                    **{
                        f"{name.replace(' ', '_')}_cpu_s": round(seconds, 2)
                        for name, seconds in cpu.items()
                        if name.startswith("up ")
                    },
                    **{f"idle_{name}_rss_mb": round(mb) for name, mb in parts.items()},
                    **extra,
                },
                "units": {
                    "ready_s": "s",
                    "ready_ratio": "ratio",
                    "idle_rss_mb": "MB",
                    "bare_lab_s": "s",
                    "first_start_s": "s",
                    "idle_pss_mb": "MB",
                    "after_use_rss_mb": "MB",
                    "bare_lab_rss_mb": "MB",
                    "bare_lab_cpu_s": "s",
                    "up_cpu_s": "s",
                    "api_after_ready_s": "s",
                    "all_ok_after_ready_s": "s",
                },
                "goals": {"ready_s": "<= 10", "ready_ratio": "<= 1.25", "idle_rss_mb": "< 500"},
            }
        )
    )


if __name__ == "__main__":
    main()
