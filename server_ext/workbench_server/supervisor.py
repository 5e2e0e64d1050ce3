"""Start, watch and stop the local stack's processes as one unit.

Every child gets its own session (so Ctrl-C in the terminal reaches only the
supervisor, which then stops children in order) and a parent-death signal (so a killed
supervisor takes its children with it). The supervisor registers as a child subreaper:
grandchildren such as kernels that outlive their parent are re-parented to it, so
"no orphan left" can be checked and enforced by walking its own children.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .cli.up_keeper import last_log_line
from .errors import WorkbenchError

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


class StartupError(WorkbenchError):
    """A component failed to become ready; the message names it and says why."""


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not Linux: fall back to process-group clean-up only
        return None


def become_subreaper() -> None:
    libc = _libc()
    if libc is not None:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = _libc()
    if libc is not None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def port_in_use(ip: str, port: int) -> bool:
    """True when something already listens on ``ip:port`` (or it cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers bind: connections of a crashed predecessor still in TIME_WAIT do not
        # make the port "in use" (they did, without this, after a crash).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return True
    return False


def free_port(ip: str) -> int:
    """A port free at this moment. Released at once: until its server binds it, any
    process's bind to port 0 may be handed it (see :func:`reserve_port`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


def reserve_port(ip: str) -> int:
    """A free port for a server we are about to start, kept from everyone else meanwhile.

    A port from :func:`free_port` is free again the moment it is returned, and in the
    second or so before our server binds it any other bind to port 0 on the machine may
    get it: Temporal's dev server, which picks its internal services' ports that way, once
    took the HTTP port chosen for it ('failed listening for HTTP API on 127.0.0.1:58097:
    bind: address already in use'), and so may a kernel or another test's server. Here
    one connection to the port is closed from the listening side first, which leaves
    that side in TIME_WAIT (a minute on Linux): meanwhile the kernel hands the port to no
    bind to port 0 and no outgoing connection, while a server that sets SO_REUSEADDR
    binds it at once (Go's, Tornado's and Node's servers do; the listener here sets it
    too, which the rebind needs). The same trick as Temporal's own free-port helper."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((ip, 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with socket.create_connection((ip, port), timeout=5):
            accepted, _ = listener.accept()
            accepted.close()  # the listening side closes first: its end is in TIME_WAIT
    return port


ReadyCheck = Callable[["Component"], Awaitable[bool]]


@dataclass
class Component:
    """One supervised process and how to tell that it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready: ReadyCheck
    ready_timeout: float = 60.0
    stop_timeout: float = 15.0
    poll_interval: float = 0.1
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    _log_offset: int = field(default=0, repr=False)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output_since_start(self) -> str:
        """What this start of the process wrote to its log so far."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(self._log_offset)
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def last_log_line(self) -> str:
        """The last meaningful line this start wrote to its log, for error messages."""
        return last_log_line(self.output_since_start())


class Supervisor:
    """Starts components in order, waits for readiness, stops them in reverse."""

    def __init__(self, *, subreaper: bool = False) -> None:
        self.components: list[Component] = []
        # Children that existed before us are not ours to stop.
        self._preexisting = {p.pid for p in psutil.Process().children(recursive=True)}
        if subreaper:
            become_subreaper()

    def spawn(self, component: Component) -> None:
        self._start(component)
        self.components.append(component)

    def restart(self, component: Component) -> None:
        """Start a component that exited again (its log goes on in the same file)."""
        assert not component.running()
        self._start(component)

    def _start(self, component: Component) -> None:
        component.log_path.parent.mkdir(parents=True, exist_ok=True)
        with component.log_path.open("ab") as log:
            log.write(
                f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {component.name}\n".encode()
            )
            component._log_offset = log.tell()
            component.started_at = time.monotonic()
            component.process = subprocess.Popen(
                component.argv,
                env=component.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    async def wait_ready(self, component: Component) -> None:
        deadline = time.monotonic() + component.ready_timeout
        while True:
            if not component.running():
                raise StartupError(self.exit_reason(component))
            with contextlib.suppress(Exception):
                if await component.ready(component):
                    log.info(
                        "%s ready %.2f s after it was started",
                        component.name,
                        time.monotonic() - component.started_at,
                    )
                    return
            if time.monotonic() > deadline:
                reason = component.last_log_line()
                raise StartupError(
                    f"{component.name} was not ready within {component.ready_timeout:g} s"
                    + (f"; last log line: {reason}" if reason else "")
                )
            await asyncio.sleep(component.poll_interval)

    @staticmethod
    def exit_reason(component: Component) -> str:
        """What to say of a component that exited before it was ready."""
        code = component.process.returncode if component.process else None
        reason = component.last_log_line() or "no output"
        return f"{component.name} exited during start-up (exit code {code}): {reason}"

    def reap_zombies(self) -> int:
        """Collect exited processes that were re-parented to this subreaper (children of
        kernels that timed out or were cancelled): without it they pile up as zombies
        until the stack stops. Components are left to their own ``Popen``."""
        ours = {c.process.pid for c in self.components if c.process is not None}
        reaped = 0
        for child in psutil.Process().children():
            if child.pid in ours or child.pid in self._preexisting:
                continue
            with contextlib.suppress(psutil.Error, ChildProcessError):
                if child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)
                    reaped += 1
        return reaped

    def exited(self) -> Component | None:
        """The first component that is no longer running, if any."""
        return next((c for c in self.components if not c.running()), None)

    async def stop_all(self) -> None:
        """Stop in reverse start order, then make sure no descendant survives."""
        for component in reversed(self.components):
            await self._stop(component)
        await asyncio.to_thread(self.reap_orphans, 5.0)

    def reap_orphans(self, timeout: float) -> None:
        """Terminate whatever we started that is still below us (re-parented orphans too)."""
        ours = [
            p for p in psutil.Process().children(recursive=True) if p.pid not in self._preexisting
        ]
        _terminate(ours, timeout)

    async def _stop(self, component: Component) -> None:
        if component.process is None:
            return
        descendants = _descendants(component.pid)
        if component.running():
            with contextlib.suppress(ProcessLookupError):
                component.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(component.process.wait, component.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(component.pid, signal.SIGKILL)
                await asyncio.to_thread(component.process.wait)
        _terminate(descendants, timeout=3.0)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _terminate(processes: list[psutil.Process], timeout: float) -> None:
    alive = [p for p in processes if p.is_running()]
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, still = psutil.wait_procs(alive, timeout=timeout)
    for proc in still:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(still, timeout=timeout)
