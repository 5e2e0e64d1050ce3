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

Logs are kept from filling the disk: every ``log_check`` seconds a log in the home's
``logs/`` (each part's and ``workbench.log``) larger than ``log_max_bytes`` is copied
to ``NAME.1`` (the older copies move to ``.2`` ... ``.keep``, the oldest is dropped) and
truncated. Copy and truncate, not rename: each part's stdout and stderr *are* that file,
opened with O_APPEND, and a process cannot be told to reopen its stdout; with O_APPEND
its next write goes to the new end, so the file holds no hole. Lines written between
the copy and the truncation (microseconds) are lost, as with logrotate's copytruncate.

A ``kill -9`` of this process (or the OOM killer) stops no part by itself: the parts
get SIGTERM from the kernel (their parent-death signal) and go, but what they left
below them in sessions of their own (a kernel's daemon, a step's server: orphans this
subreaper adopted, or that would have come to it) was left running for good, adopted by
init. So a guard is started beside the parts: a ``/bin/sh`` (about 1 MB) that waits on a
pipe only this process holds the other end of. Every ``GUARD_INTERVAL`` s this process
writes its descendants (pid and start time) to ``run/stack.pids``; the pipe ends when
it dies, however it dies, and the guard then sends SIGTERM to each listed process that
is still the same one (its start time) and SIGKILL to those alive 5 s later. A normal
stop has stopped them all by then: the guard finds nothing to do. Their zombies are
init's to reap once they are re-parented to it.

A part may come with a liveness probe (Temporal does: a GET of its HTTP API's
``/api/v1/system-info``, which its frontend answers). A process that is stopped
(SIGSTOP) or hung still accepts TCP connections, its kernel completing the handshake,
so the probe waits for an HTTP answer. The worker's is a file its event loop touches
every 2 s (``run/worker.alive``): a loop that is stuck (SIGSTOP, a deadlock, a blocking
call on the loop) stops touching it while the process runs on, and Temporal may still
list its pollers (the SDK polls on threads of its own). One that misses ``failures``
probes in a row is killed (SIGKILL to its process group: a stopped process ignores
SIGTERM until resumed) and started again like one that crashed, health saying why.
The probes run in the same ``select`` loop as everything else: a hung part never
blocks Ctrl-C or the others.

It reads what to keep from the file descriptor named on its command line (a memfd the
supervisor wrote: command lines and environments stay out of files and of ``ps``).
Should that exec fail, ``workbench up`` runs this same :class:`Keeper` in its own
process with the same spec (not a second copy of its loop), its start's imports kept.
Nothing here may import a module outside the standard library.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
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
        self.live = LivenessProbe(spec["live"]) if spec.get("live") else None
        if self.live is not None:
            self.live.reset(_now())
        # Why this keeper killed the part (it stopped answering), for its exit's report.
        self.killed_because = ""

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
            self.killed_because = ""
            self.pid = _spawn(self.argv, self.env, log.fileno())
        if self.live is not None:
            self.live.reset(self.started_at)


class LivenessProbe:
    """Is a part still answering? Kind "http": an HTTP GET on loopback, without blocking:
    its socket waits in the keeper's ``select`` with the rest (see the module's
    docstring). Kind "file": a file the part touches every few seconds from its event
    loop (the worker's heartbeat), older than ``interval`` s is a miss: one ``stat``."""

    def __init__(self, spec: dict) -> None:
        self.kind: str = spec.get("kind", "http")
        self.path: str = spec["path"]
        self.address = (spec.get("ip", ""), spec.get("port", 0))
        self.request = (
            f"GET {spec['path']} HTTP/1.1\r\nHost: {spec.get('ip')}:{spec.get('port')}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        self.interval: float = spec["interval"]
        self.timeout: float = spec["timeout"]
        self.failures: int = spec["failures"]
        self.sock: socket.socket | None = None
        self.sent = False
        self.answer = b""
        self.deadline = 0.0
        self.next_at = 0.0
        self.misses = 0
        self.last_error = ""

    def reset(self, now: float) -> None:
        """A new start of the part: no misses, the first probe an interval on."""
        self.close()
        self.misses = 0
        self.next_at = now + self.interval

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def begin(self, now: float) -> None:
        if self.kind == "file":
            try:
                age = time.time() - os.stat(self.path).st_mtime
            except OSError as exc:
                self.finish(now, False, f"its heartbeat file {self.path} is missing ({exc})")
                return
            stuck = (
                f"its event loop has not run for {age:.0f} s (it touches {self.path} "
                "every few seconds)"
            )
            self.finish(now, age <= self.interval, stuck)
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex(self.address)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            self.finish(now, False, f"connection refused ({os.strerror(err)})")
            return
        self.sock, self.sent, self.answer = sock, False, b""
        self.deadline = now + self.timeout

    def on_writable(self, now: float) -> None:
        assert self.sock is not None
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.finish(now, False, f"connection failed ({os.strerror(err)})")
            return
        try:
            self.sock.send(self.request)  # a few dozen bytes: one send
        except OSError as exc:
            self.finish(now, False, f"connection failed ({exc.strerror})")
            return
        self.sent = True

    def on_readable(self, now: float) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self.finish(now, False, f"connection failed ({exc.strerror})")
            return
        self.answer += data
        if b"\r\n" in self.answer or not data:
            status = self.answer.split(b"\r\n", 1)[0].split(b" ")
            if len(status) > 1 and status[1] == b"200":
                self.finish(now, True, "")
            else:
                line = b" ".join(status[1:3]).decode(errors="replace")
                self.finish(now, False, f"answered {line or 'nothing'}")

    def expire(self, now: float) -> None:
        if self.sock is not None and now >= self.deadline:
            self.finish(now, False, f"no answer within {self.timeout:g} s")

    def finish(self, now: float, ok: bool, error: str) -> None:
        self.close()
        self.next_at = now + self.interval
        self.misses = 0 if ok else self.misses + 1
        self.last_error = error

    def dead(self) -> bool:
        return self.misses >= self.failures

    def wake_at(self) -> float:
        return self.deadline if self.sock is not None else self.next_at


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
            # Nothing else: not the lock on the home (inheritable, for the keeper's exec),
            # which a part outliving this process would hold against the next `up`.
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.execvpe(argv[0], argv, env)  # noqa: S606 - the supervisor's own argv
        finally:
            os._exit(127)
    os.close(devnull)
    return pid


def rotate_log(path: str, max_bytes: int, keep: int) -> bool:
    """Copy ``path`` to ``path.1`` and truncate it when it is larger than ``max_bytes``
    (see the module's docstring); ``path.1`` ... go one up, beyond ``keep`` dropped.
    Whether it rotated."""
    try:
        if os.stat(path).st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    for n in range(keep - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}.{n}", f"{path}.{n + 1}")
    with open(path, "rb") as src:
        fd = os.open(f"{path}.1", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.truncate(path, 0)
    return True


GUARD_INTERVAL = 2.0  # s between the lists of descendants the guard would stop
# The guard: returns from `read` when the keeper's end of its stdin closes (the keeper
# exited or was killed), then stops every listed process (pid and start time, one a line
# in $1) that is still that process: SIGTERM, and SIGKILL after 5 s.
GUARD = r"""
while read -r _; do :; done
[ -s "$1" ] || exit 0
alive() {
  { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  set -- "$2" ${stat##*) }
  [ "$2" != Z ] && eval "[ \"\${21}\" = \"\$1\" ]"
}
left=
while read -r pid started; do
  alive "$pid" "$started" && kill -TERM "$pid" 2>/dev/null && left="$left $pid:$started"
done < "$1"
i=0
while [ -n "$left" ] && [ $i -lt 25 ]; do
  sleep 0.2
  i=$((i + 1))
  still=
  for p in $left; do alive "${p%%:*}" "${p##*:}" && still="$still $p"; done
  left=$still
done
for p in $left; do kill -KILL "${p%%:*}" 2>/dev/null; done
rm -f "$1"
"""


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
        self.log_max_bytes: int = spec.get("log_max_bytes", 0)
        self.log_keep: int = spec.get("log_keep", 5)
        self.log_check: float = spec.get("log_check", 10.0)
        self.next_log_check = 0.0
        self.guard_pid: int | None = None
        self.guard_list = os.path.join(self.run_dir, "stack.pids")
        self.guarded: list[tuple[int, int]] = []
        self.next_guard = 0.0
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
        self.start_guard()
        code = 0
        while not self.stopping:
            self.reap()
            if _now() >= self.next_guard:
                self.list_for_guard()
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
            if self.log_max_bytes and _now() >= self.next_log_check:
                self.rotate_logs()
            timeout = 0.5
            if any(p.state == "starting" for p in self.parts):
                timeout = 0.1
            waiting = [p.restart_at - _now() for p in self.parts if p.state == "waiting"]
            probes = [p.live for p in self.parts if p.live is not None and p.state == "up"]
            probing = [probe.wake_at() - _now() for probe in probes]
            timeout = max(0.0, min([timeout, *waiting, *probing]))
            readers = [wake_r] + [p.sock for p in probes if p.sock is not None and p.sent]
            writers = [p.sock for p in probes if p.sock is not None and not p.sent]
            with contextlib.suppress(InterruptedError):
                readable, writable, _ = select.select(readers, writers, [], timeout)
                if wake_r in readable:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 512)
                now = _now()
                for probe in probes:
                    if probe.sock is not None and probe.sock in writable:
                        probe.on_writable(now)
                    elif probe.sock is not None and probe.sock in readable:
                        probe.on_readable(now)
        self.say("Stopping the workbench ...")
        self.stop_all()
        for name in ("state.json", self.components_file, "stack.pids"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.run_dir, name))
        for part in self.parts:
            if part.live is not None and part.live.kind == "file":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(part.live.path)
        self.say("Stopped.")
        return code

    def start_guard(self) -> None:
        """The guard that stops the stack should this process be killed (see the
        module's docstring). Without one (no /bin/sh), parts still get their parent-death
        signal."""
        guard_r, self.guard_w = os.pipe()  # both close-on-exec: only the keeper keeps
        devnull = os.open(os.devnull, os.O_WRONLY)
        pid = os.fork()
        if pid == 0:  # the guard: its own session, so Ctrl-C in the terminal skips it
            try:
                os.setsid()
                for sig in STOP_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                os.dup2(guard_r, 0)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                # Not the lock on the home: the next `up` may start while it stops the rest.
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))
                argv = ["/bin/sh", "-c", GUARD, "workbench-up-guard", self.guard_list]
                # An environment of its own: the keeper's may hold the DB URL's password
                # (the parts get theirs without it), which /proc/PID/environ shows.
                os.execve(argv[0], argv, {"PATH": "/usr/bin:/bin", "LC_ALL": "C"})  # noqa: S606
            finally:
                os._exit(127)
        os.close(guard_r)
        os.close(devnull)
        self.guard_pid = pid

    def list_for_guard(self) -> None:
        """Write this process's descendants (but the guard) for the guard, when changed."""
        self.next_guard = _now() + GUARD_INTERVAL
        found = sorted(p for p in _descendants(os.getpid()) if p[0] != self.guard_pid)
        if found == self.guarded:
            return
        temporary = self.guard_list + ".new"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.writelines(f"{pid} {started}\n" for pid, started in found)
            os.replace(temporary, self.guard_list)
        except OSError as exc:  # a full disk: the guard keeps the list before
            self.log(f"could not write {self.guard_list}: {exc}")
            return
        self.guarded = found

    def rotate_logs(self) -> None:
        """Rotate the logs grown past their size (see the module's docstring). A part
        still starting is left for the next check: its readiness is read in its log."""
        self.next_log_check = _now() + self.log_check
        for part in self.parts:
            if part.state == "starting":
                continue
            try:
                if rotate_log(part.log_path, self.log_max_bytes, self.log_keep):
                    part.log_offset = 0  # what it writes from now on is since its start
            except OSError as exc:  # a full disk, say: the next check tries again
                self.log(f"could not rotate {part.log_path}: {exc}")
        with contextlib.suppress(OSError):
            rotate_log(self.workbench_log, self.log_max_bytes, self.log_keep)

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
            elif part.live is not None:
                self.probe(part, now)
        elif part.state == "waiting" and now >= part.restart_at:
            part.start()
            part.restarted = True
            part.state = "starting"
            part.deadline = part.started_at + part.ready_timeout
            part.next_check = 0.0

    def probe(self, part: Part, now: float) -> None:
        """Start a liveness probe that is due, give up on one that took too long, and
        kill the part once it missed too many in a row (it is then restarted as a
        crashed one is, when its exit is reaped)."""
        live = part.live
        assert live is not None
        live.expire(now)
        if live.dead():
            silent = live.failures * live.interval
            part.killed_because = (
                f"it stopped answering (its liveness check failed {live.misses} times in a "
                f"row over {silent:g} s: {live.last_error}), so the keeper killed it"
            )
            self.say(f"workbench: {part.name} does not answer: {part.killed_because}")
            self.log(f"{part.name} does not answer: {part.killed_because}")
            live.reset(now)
            with contextlib.suppress(ProcessLookupError):
                # Its process group: a stopped process holds SIGTERM until resumed.
                os.killpg(part.pid, signal.SIGKILL)
        elif live.sock is None and now >= live.next_at:
            live.begin(now)

    def exited(self, part: Part) -> None:
        ran = _now() - part.started_at
        part.failures = 1 if ran > self.reset_after else part.failures + 1
        delay = min(self.max_delay, 2.0 ** (part.failures - 1))
        reason = part.killed_because or part.last_log_line() or "no output"
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
