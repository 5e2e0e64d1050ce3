"""Idle CPU of `workbench up`'s keeper and worker, next to a bare `jupyter lab`'s.

Idle, the keeper asks Temporal's HTTP API every 5 s and looks at the worker's heartbeat
file (run/worker.alive) every 5 s; the worker's event loop touches that file every 2 s.
What does keeping watch cost when nothing happens? Each repetition starts `workbench up`
on a warm home, waits until health is ok and ``--settle`` s more, then measures the CPU
seconds each process spends over ``--idle`` s of nothing: the keeper (the `up` process
itself), the worker, Temporal and JupyterLab; and a bare `jupyter lab` (the raw tool,
nothing of ours) over as long, started and measured in the same repetition.

``--against DIR`` alternates, in every repetition, `workbench up` with an older
checkout's packages unpacked in DIR (as ``benchmarks/startup.py --against``): a
before/after pair from one run, at one load. CPU seconds are what the load changes
least; the load average is printed beside each figure all the same.

    python benchmarks/idle_cpu.py [--repeat 2] [--idle 60] [--settle 10] [--against DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from startup import part_of, start_bare_lab, stop, workbench_up

PARTS = ("keeper", "worker", "temporal", "jupyterlab", "other")


def cpu_ns(proc: psutil.Process) -> float:
    """CPU seconds ``proc`` has run, summed over its threads, to the nanosecond: the
    scheduler's own count (/proc/PID/task/TID/schedstat). ``cpu_times`` counts in clock
    ticks of 10 ms, coarser than what a minute of idling costs the keeper or the worker."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            with open(f"/proc/{proc.pid}/task/{tid}/schedstat") as handle:
                total += int(handle.read().split()[0])
    except OSError:  # a thread gone meanwhile: the clock ticks instead
        times = proc.cpu_times()
        return times.user + times.system
    return total / 1e9


def idle_cpu(root: psutil.Process, seconds: float) -> dict[str, float]:
    """CPU seconds spent by each part of the tree under ``root`` over ``seconds``."""

    def sample() -> dict[int, tuple[str, float]]:
        found = {}
        for proc in [root, *root.children(recursive=True)]:
            try:
                name = "keeper" if proc.pid == root.pid else part_of(proc)
                found[proc.pid] = (name, cpu_ns(proc))
            except psutil.Error:
                continue
        return found

    before = sample()
    time.sleep(seconds)
    after = sample()
    spent: dict[str, float] = collections.defaultdict(float)
    for pid, (name, cpu) in after.items():
        spent[name] += cpu - before.get(pid, (name, 0.0))[1]
    return dict(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--against", type=Path, default=None)
    args = parser.parse_args()
    # ms of CPU per idle minute, by "label part"
    found: dict[str, list[float]] = collections.defaultdict(list)
    loads: list[str] = []
    per_minute = 60.0 / args.idle * 1000
    with tempfile.TemporaryDirectory(prefix="wb-idle-cpu-") as tmp:
        root = Path(tmp)
        workdir = root / "notebooks"
        workdir.mkdir()
        homes = {"up": root / "home", "against": root / "home-against"}
        # Warm-up: the homes prepared (migrations, demo data), the files in the page cache.
        for label in ["up"] + (["against"] if args.against else []):
            against = args.against if label == "against" else None
            _, proc = workbench_up(homes[label], workdir, keep=True, against=against)
            stop(proc)
        for repetition in range(args.repeat):
            contenders = ["up", "bare lab"] + (["against"] if args.against else [])
            if repetition % 2:
                contenders.reverse()
            for label in contenders:
                load = "/".join(f"{x:.1f}" for x in os.getloadavg())
                if label == "bare lab":
                    proc, _ = start_bare_lab(workdir)
                    time.sleep(args.settle)
                    spent = idle_cpu(psutil.Process(proc.pid), args.idle)
                    stop(proc)
                    found["bare lab"].append(sum(spent.values()) * per_minute)
                else:
                    against = args.against if label == "against" else None
                    _, proc = workbench_up(homes[label], workdir, keep=True, against=against)
                    time.sleep(args.settle)
                    spent = idle_cpu(psutil.Process(proc.pid), args.idle)
                    stop(proc)
                    for part in PARTS:
                        found[f"{label} {part}"].append(spent.get(part, 0.0) * per_minute)
                after = "/".join(f"{x:.1f}" for x in os.getloadavg())
                loads.append(f"{label}: {load} -> {after}")
                print(
                    f"round {repetition + 1} {label:9} load {load} -> {after}: "
                    + ", ".join(f"{k} {v * per_minute:.1f}" for k, v in sorted(spent.items()))
                    + " ms CPU/min",
                    flush=True,
                )
    median = {name: statistics.median(values) for name, values in found.items()}
    print()
    print(f"{'CPU per idle minute (median)':40} {'ms':>8}")
    for name in sorted(median):
        values = ", ".join(f"{v:.1f}" for v in found[name])
        print(f"{name:40} {median[name]:8.1f}   ({values})")
    figures = {
        f"{name.replace(' ', '_')}_idle_cpu_ms_per_min": round(value, 1)
        for name, value in median.items()
    }
    if args.against:
        for part in ("keeper", "worker"):
            then = median[f"against {part}"]
            figures[f"{part}_idle_cpu_vs_against_ms_per_min"] = round(
                median[f"up {part}"] - then, 1
            )
    print(
        json.dumps(
            {
                "benchmark": "idle_cpu",
                "figures": figures,
                "units": dict.fromkeys(figures, "ms"),
                "goals": {},
                "loads": loads,
            }
        )
    )


if __name__ == "__main__":
    main()
