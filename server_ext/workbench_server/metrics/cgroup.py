"""CPU and memory of the container (the cgroup) a process runs in, from the kernel's files.

In a container a process's own figures miss its children (kernels, papermill's) and the
container's limit. cgroup v2 (``/sys/fs/cgroup/memory.current``) and v1
(``/sys/fs/cgroup/memory/memory.usage_in_bytes``) are both read; outside a cgroup the
collector exports nothing. Names are the workbench's, so they never clash with
cAdvisor's ``container_*`` series of the same containers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

ROOT = Path("/sys/fs/cgroup")
NO_LIMIT = 2**62  # v1 reports "no limit" as a huge number near 2**63


def _number(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdecimal() else None


def _v2_cpu_seconds(path: Path) -> float | None:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec" and value.strip().isdecimal():
                return int(value) / 1e6
    except OSError:
        return None
    return None


class CgroupCollector(Collector):
    def __init__(self, root: Path = ROOT) -> None:
        self.root = root

    def figures(self) -> tuple[int | None, int | None, float | None]:
        """(memory used, memory limit, CPU seconds) of this process's cgroup."""
        if (self.root / "memory.current").exists():  # v2
            used = _number(self.root / "memory.current")
            limit = _number(self.root / "memory.max")  # "max": no limit
            cpu = _v2_cpu_seconds(self.root / "cpu.stat")
        else:  # v1
            used = _number(self.root / "memory" / "memory.usage_in_bytes")
            limit = _number(self.root / "memory" / "memory.limit_in_bytes")
            nanoseconds = _number(self.root / "cpuacct" / "cpuacct.usage")
            cpu = nanoseconds / 1e9 if nanoseconds is not None else None
        return used, limit if limit is not None and limit < NO_LIMIT else None, cpu

    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        used, limit, cpu = self.figures()
        if used is not None:
            yield GaugeMetricFamily(
                "workbench_container_memory_bytes",
                "Memory used by this process's container (cgroup), children included.",
                value=used,
            )
        if limit is not None:
            yield GaugeMetricFamily(
                "workbench_container_memory_limit_bytes",
                "Memory limit of this process's container (cgroup), when it has one.",
                value=limit,
            )
        if cpu is not None:
            yield CounterMetricFamily(
                "workbench_container_cpu_seconds",
                "CPU time used by this process's container (cgroup), children included.",
                value=cpu,
            )
