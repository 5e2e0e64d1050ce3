"""Run ``workbench`` commands as real processes and watch what they leave behind."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

# JupyterLab's URL with its token, or (``up --hub``) the hub's login page.
URL_RE = re.compile(r"(http://[\d.]+:\d+)/(?:lab\?token=(\S+)|hub/login)")


def terminate(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def workbench_argv(*args: str) -> list[str]:
    """The installed console script when there is one, so tests exercise the install."""
    script = shutil.which("workbench", path=str(Path(sys.executable).parent)) or shutil.which(
        "workbench"
    )
    return [script, *args] if script else [sys.executable, "-m", "workbench_server.cli", *args]


def run_workbench(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        workbench_argv(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


class WorkbenchUp:
    """A ``workbench up`` child: start it, wait for its URL, signal it, inspect its tree."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
        self.proc = subprocess.Popen(
            workbench_argv("up", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()
        self.url = ""
        self.token = ""

    def _pump(self, stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)
            self.lines.put(line)

    def wait_ready(self, timeout: float = 150) -> WorkbenchUp:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            match = URL_RE.search(line)
            if match:
                self.url, self.token = match.group(1), match.group(2) or ""
                return self
        raise AssertionError(
            f"workbench up not ready (exit {self.proc.poll()}):\n{''.join(self.stdout)}"
            f"{''.join(self.stderr)}"
        )

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 90) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            for child in self.descendants():
                child.kill()
            self.proc.kill()
            self.proc.wait()

    @property
    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "JUPYTER_TOKEN"))}
    env["WORKBENCH_HOME"] = str(home)
    return env


def still_alive(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


def send(proc: subprocess.Popen[str], sig: int) -> None:
    os.kill(proc.pid, sig)
