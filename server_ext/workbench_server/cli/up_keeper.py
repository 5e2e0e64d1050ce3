"""What ``workbench up`` becomes once its stack is up: a small loop that keeps it up.

Starting the stack needs click, the settings (pydantic) and asyncio; keeping it up does
not, and the process that keeps it lives as long as the stack. So once the banner is
printed, ``workbench up`` replaces itself (``execve``: the same process, its children,
its lock on the home, its subreaper role and its terminal) with this script, run as
``python -S`` with the standard library only: about 12 MB instead of 40.

It does what the supervisor did from there on (see :mod:`workbench_server.cli.up`):
the worker that just started is "starting" until it polls; a crashed worker or
Temporal is started again after 1, 2, 4 ... s (at most a minute apart; a start that then
ran for a minute resets the count) and health learns of it through ``run/components.json``;
the front (JupyterLab or the hub) ending stops everything; Ctrl-C (SIGINT, SIGTERM,
SIGHUP) stops the components in reverse start order, then whatever they left behind.

It reads what to keep from the file descriptor named on its command line (a memfd the
supervisor wrote: command lines and environments stay out of files and of ``ps``).
Nothing here may import a module outside the standard library.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import sys
import time
from datetime import UTC, datetime

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _now() -> float:
    return time.monotonic()


REASON_CHARS = 300  # of a log line quoted in a message


def last_log_line(output: str) -> str:
    """The last meaningful line of a part's output, for the message that says why it
    stopped. A long line keeps its start and its end: a Go server's error chain (Temporal's)
    names the cause last, after hundreds of characters of call sites ('... failed listening
    for HTTP API on 127.0.0.1:58097: listen tcp 127.0.0.1:58097: bind: address already in
    use'), which the first 300 characters cut off."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    if len(line) <= REASON_CHARS:
        return line
    head = 60
    return f"{line[:head]} ... {line[-(REASON_CHARS - head - 5) :]}"


def write_component_state(
    path: str, name: str, status: str, code: int | None, reason: str, restarts: int
) -> None:
    """What health reports about a restarted part (``run/components.json``); the
    supervisor writes it the same way before it hands over."""
    try:
        with open(path) as handle:
            states = json.load(handle)
    except (OSError, ValueError):
        states = {}
    states[name.lower()] = {
        "status": status,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "exit_code": code,
        "reason": reason,
        "restarts": restarts,
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(states, handle)


class Part:
    """One process of the stack, as the supervisor handed it over."""

    def __init__(self, spec: dict) -> None:
        self.name: str = spec["name"]
        self.argv: list[str] = spec["argv"]
        self.env: dict[str, str] = spec["env"]
        self.log_path: str = spec["log_path"]
        self.ready: dict = spec["ready"]
        self.ready_timeout: float = spec["ready_timeout"]
        self.stop_timeout: float = spec["stop_timeout"]
        self.poll_interval: float = spec["poll_interval"]
        self.pid: int | None = spec["pid"]
        self.started_at: float = spec["started_at"]
        self.log_offset: int = spec["log_offset"]
        self.returncode: int | None = None
        # "up" (ready or not being waited for), "starting" (until ready or its
        # deadline), "waiting" (exited, started again at ``restart_at``)
        self.state: str = "starting" if spec.get("starting") else "up"
        self.deadline = self.started_at + self.ready_timeout
        self.restart_at = 0.0
        self.failures = 0
        self.restarted = False  # a start by this keeper (its messages say so)
        self.last_exit: tuple[int | None, str] = (None, "")
        self.next_check = 0.0

    def running(self) -> bool:
        return self.pid is not None and self.returncode is None

    def output_since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(self.log_offset)
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def last_log_line(self) -> str:
        return last_log_line(self.output_since_start())

    def is_ready(self) -> bool:
        if self.ready["kind"] == "port":
            try:
                socket.create_connection((self.ready["ip"], self.ready["port"]), 1.0).close()
            except OSError:
                return False
            return True
        if self.ready["kind"] == "log":
            return self.ready["text"] in self.output_since_start()
        return True

    def start(self) -> None:
        """Start the process again, its output appended to the same log."""
        with open(self.log_path, "ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"\n=== {stamp} starting {self.name}\n".encode())
            self.log_offset = log.tell()
            self.started_at = _now()
            self.returncode = None
            self.pid = _spawn(self.argv, self.env, log.fileno())


def _spawn(argv: list[str], env: dict[str, str], log_fd: int) -> int:
    """As the supervisor starts a child: its own session, stdin from /dev/null, output to
    its log, SIGTERM when this process dies."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    pid = os.fork()
    if pid == 0:  # the child: only async-signal-safe work until exec
        try:
            os.setsid()
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            os.dup2(devnull, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.execvpe(argv[0], argv, env)  # noqa: S606 - the supervisor's own argv
        finally:
            os._exit(127)
    os.close(devnull)
    return pid


def _proc_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, state, start time) of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), fields[0], int(fields[19]))
    return table


def _descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, start time) of every descendant of ``pid``."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for child, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append((child, table[child][2]))
        todo.extend(children.get(child, []))
    return found


def _alive(proc: tuple[int, int]) -> bool:
    """Still running (not a zombie, not a new process that got the same pid)."""
    pid, started = proc
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0] != "Z" and int(fields[19]) == started


class Keeper:
    def __init__(self, spec: dict) -> None:
        self.parts = [Part(p) for p in spec["parts"]]
        self.front = next(p for p in self.parts if p.name == spec["front"])
        self.run_dir: str = spec["run_dir"]
        self.components_file: str = spec["components_file"]
        self.workbench_log: str = spec["workbench_log"]
        self.max_delay: float = spec["restart_max_delay"]
        self.reset_after: float = spec["restart_reset"]
        self.stopping = False

    # -- what others read ------------------------------------------------------------

    def say(self, message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    def log(self, message: str) -> None:
        stamp = time.time()
        millis = int((stamp % 1) * 1000)
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(stamp))},{millis:03d}"
        with contextlib.suppress(OSError), open(self.workbench_log, "a") as handle:
            handle.write(f"{line} INFO workbench_server.supervisor: {message}\n")

    def component_state(
        self, name: str, status: str, code: int | None, reason: str, restarts: int
    ) -> None:
        write_component_state(
            os.path.join(self.run_dir, self.components_file), name, status, code, reason, restarts
        )

    # -- the loop ----------------------------------------------------------------------

    def reap(self) -> None:
        """Collect every exited child: a part's exit code, or an orphan re-parented to
        this subreaper (a kernel's child), which would otherwise stay a zombie."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for part in self.parts:
                if part.pid == pid and part.returncode is None:
                    part.returncode = os.waitstatus_to_exitcode(status)

    def run(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        # The supervisor blocked these before it handed over: one that came meanwhile
        # is delivered now.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        code = 0
        while not self.stopping:
            self.reap()
            if not self.front.running():
                self.say(
                    f"workbench: error: {self.front.name} stopped unexpectedly (exit code "
                    f"{self.front.returncode}): {self.front.last_log_line() or 'no output'}; "
                    "stopping the rest"
                )
                code = 1
                break
            for part in self.parts:
                if part is not self.front:
                    self.tend(part)
            timeout = 0.5
            if any(p.state == "starting" for p in self.parts):
                timeout = 0.1
            waiting = [p.restart_at - _now() for p in self.parts if p.state == "waiting"]
            timeout = max(0.0, min([timeout, *waiting]))
            with contextlib.suppress(InterruptedError):
                if select.select([wake_r], [], [], timeout)[0]:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 512)
        self.say("Stopping the workbench ...")
        self.stop_all()
        for name in ("state.json", self.components_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.run_dir, name))
        self.say("Stopped.")
        return code

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def tend(self, part: Part) -> None:
        """One step of keeping ``part`` up (see the module's docstring)."""
        now = _now()
        if part.state == "starting":
            if not part.running():
                if part.restarted:
                    self.say(
                        f"workbench: {part.name} exited during start-up (exit code "
                        f"{part.returncode}): {part.last_log_line() or 'no output'}"
                    )
                self.exited(part)
            elif now >= part.next_check and part.is_ready():
                part.state = "up"
                self.log(f"{part.name} ready {now - part.started_at:.2f} s after it was started")
                code, reason = part.last_exit
                if part.restarted:
                    self.say(f"workbench: {part.name} is running again")
                self.component_state(part.name, "running", code, reason, part.failures)
            elif now > part.deadline:
                reason = part.last_log_line()
                self.say(
                    f"workbench: {part.name} was not ready within {part.ready_timeout:g} s"
                    + (f"; last log line: {reason}" if reason else "")
                )
                part.state = "up"
            else:
                part.next_check = now + part.poll_interval
        elif part.state == "up":
            if not part.running():
                self.exited(part)
        elif part.state == "waiting" and now >= part.restart_at:
            part.start()
            part.restarted = True
            part.state = "starting"
            part.deadline = part.started_at + part.ready_timeout
            part.next_check = 0.0

    def exited(self, part: Part) -> None:
        ran = _now() - part.started_at
        part.failures = 1 if ran > self.reset_after else part.failures + 1
        delay = min(self.max_delay, 2.0 ** (part.failures - 1))
        reason = part.last_log_line() or "no output"
        part.last_exit = (part.returncode, reason)
        self.say(
            f"workbench: {part.name} stopped unexpectedly (exit code {part.returncode}): "
            f"{reason}; restarting it in {delay:g} s"
        )
        self.component_state(part.name, "restarting", part.returncode, reason, part.failures)
        part.state = "waiting"
        part.restart_at = _now() + delay

    # -- stopping ----------------------------------------------------------------------

    def stop_all(self) -> None:
        """In reverse start order, then whatever is still below this process."""
        for part in reversed(self.parts):
            self.stop(part)
        self.terminate(_descendants(os.getpid()), 5.0)

    def wait(self, done, timeout: float) -> bool:
        deadline = _now() + timeout
        while True:
            self.reap()
            if done():
                return True
            if _now() > deadline:
                return False
            time.sleep(0.05)

    def stop(self, part: Part) -> None:
        if part.pid is None:
            return
        descendants = _descendants(part.pid)
        if part.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(part.pid, signal.SIGTERM)
            if not self.wait(lambda: not part.running(), part.stop_timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(part.pid, signal.SIGKILL)
                self.wait(lambda: not part.running(), 30.0)
        self.terminate(descendants, 3.0)

    def terminate(self, procs: list[tuple[int, int]], timeout: float) -> None:
        alive = [p for p in procs if _alive(p)]
        for pid, _ in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if self.wait(lambda: not any(_alive(p) for p in alive), timeout):
            return
        for proc in alive:
            if _alive(proc):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc[0], signal.SIGKILL)
        self.wait(lambda: not any(_alive(p) for p in alive), timeout)


def main(argv: list[str]) -> int:
    # argv: ["up", FD]: "up" keeps the process recognisable as `workbench up` in ps.
    fd = int(argv[-1])
    with os.fdopen(fd, "rb") as handle:
        spec = json.loads(handle.read())
    return Keeper(spec).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
