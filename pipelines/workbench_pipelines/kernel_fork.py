"""Kernels forked from a process that has already imported ipykernel and IPython.

A trivial step's CPU was mostly its kernel's start (0.39-0.43 s of 0.5 s), and more than
half of that start is importing ipykernel, IPython and jupyter_client. The worker's kernel
pool (kernel_pool.py) therefore starts its spares from a *fork server*: a small Python
process, started by the worker with the same interpreter and the pool's environment, that
imports those modules once and then forks one child per spare. Each child then runs
``ipykernel_launcher`` exactly as a started kernel would, with its own argv (connection
file), environment, working folder and session: everything with state (the zmq context
and sockets, the event loop, threads, the history) is made after the fork, in the child.
The server itself never creates a zmq context, a thread or an event loop (checked before
each fork), so nothing half-held is copied into a child.

What differs from a started kernel, and why it is safe:

- Random state: the child reseeds ``random`` (and nothing else is seeded at import).
- The string hash seed (``PYTHONHASHSEED``) is the server's for all its children: it is
  fixed at the interpreter's start. The same kernel started twice hashes differently;
  a notebook that depends on set order would only be as reproducible as before.
- The child is the server's, not the worker's: the worker holds a pidfd for it (sent over
  the server's socket, so the pid cannot be reused before the worker has it), signals it
  through that, and watches it end through it. Its exit status is not the worker's to
  read (reported as -1). The child is a session leader like a started kernel
  (``setsid``): interrupts and kills go to its process group.
- If the worker dies, the server sees its socket close and exits; its children see their
  parent change (``JPY_PARENT_PID`` is the server's) and exit, as kernels whose worker died
  did before.

Only plain ``python -m ipykernel_launcher`` kernels of the server's own interpreter are
forked, and only for the worker's own user (steps that run as their owner's OS account
start their own kernel as that account). Anything else, or a server that cannot start or
answer, falls back to starting the kernel as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from typing import Any

log = logging.getLogger(__name__)

LAUNCHER = "ipykernel_launcher"
# Imported by the server before it forks anything: what every ipykernel start imports.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.eventloops",
    "ipykernel.comm",
    "IPython.core.completerlib",
    "jupyter_client.session",
)
# Imported when installed: the default kernel's extension (it loads lazily itself).
PRELOAD_OPTIONAL = ("workbench_kernels",)
# What a spare may import ahead, in the forked child (the server must not: importing them
# starts threads), before its kernel starts: the lake API a report notebook imports
# (DuckDB, Arrow, delta-rs and the lake library; 0.2-0.8 s). Nothing of it is run.
PRELOADABLE = frozenset({"workbench_kernels.lake"})
# Run after a preloaded module's import, in the same child: the lake API's DuckDB database
# with the delta extension loaded (0.2-0.3 s of a report's first read), which the kernel's
# first lake session takes. Engine set-up only: no lake, connection or secret yet.
AHEAD = {"workbench_kernels.lake": ("workbench_kernels.lake_session", "prepare_ahead")}
MAX_MESSAGE = 1 << 20
REPLY_TIMEOUT_S = 10.0
REAP_EVERY_S = 0.5
UNKNOWN_STATUS = -1
_LAUNCHER_FILE = LAUNCHER  # sys.argv[0] of a kernel: the launcher's file, as with -m


# --- the server (run as ``python -m workbench_pipelines.kernel_fork FD``) ---------------


def _serve(fd: int) -> None:
    """Answer fork requests on the socket ``fd`` until it closes (the worker is gone)."""
    import importlib.util

    global _LAUNCHER_FILE
    if sys.path and (sys.path[0] == "" or os.path.realpath(sys.path[0]) == os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does: nothing imported from the folder
    spec = importlib.util.find_spec(LAUNCHER)
    _LAUNCHER_FILE = spec.origin if spec is not None and spec.origin else LAUNCHER
    for name in PRELOAD:
        importlib.import_module(name)
    for name in PRELOAD_OPTIONAL:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when this ends
    channel = socket.socket(fileno=fd)
    channel.sendall(b"ready")
    while True:
        _reap()
        readable, _, _ = select.select([channel], [], [], REAP_EVERY_S)
        if not readable:
            continue
        try:
            message = channel.recv(MAX_MESSAGE)
        except OSError:
            return
        if not message:
            return
        try:
            request = json.loads(message)
            _check(request)
            pid = os.fork()
        except Exception as exc:  # reported to the worker, which starts the kernel instead
            channel.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
            continue
        if pid == 0:  # the kernel: runs it, then ends as an interpreter does (atexit...)
            channel.close()
            sys.exit(_child(request))
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(channel, [json.dumps({"pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)


def _check(request: dict[str, Any]) -> None:
    """Refuse what a fork would not start as the kernelspec says."""
    argv = request["argv"]
    if os.path.realpath(argv[0]) != os.path.realpath(sys.executable):
        raise ValueError(f"another interpreter: {argv[0]}")
    if argv[1:3] != ["-m", LAUNCHER]:
        raise ValueError(f"not {LAUNCHER}: {argv[1:3]}")
    env = request["env"]
    changed = [
        k
        for k in set(env) | set(os.environ)
        if k.startswith("PYTHON") and env.get(k) != os.environ.get(k)
    ]
    if changed:  # read when an interpreter starts, so a fork would not have them
        raise ValueError(f"different interpreter settings: {sorted(changed)}")
    unknown = sorted(set(request.get("preload", ())) - PRELOADABLE)
    if unknown:
        raise ValueError(f"not preloadable: {unknown}")
    if threading.active_count() != 1 or ("zmq" in sys.modules and _has_zmq_context()):
        raise RuntimeError("the fork server holds threads or a zmq context")


def _has_zmq_context() -> bool:
    import zmq

    return zmq.Context._instance is not None


def _child(request: dict[str, Any]) -> int:
    """In the forked child: become the kernel the request describes and run it."""
    import importlib
    import random

    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    random.seed()
    for name in request.get("preload", ()):  # checked against PRELOADABLE
        with contextlib.suppress(Exception):  # the notebook's own import says what fails
            importlib.import_module(name)
            if name in AHEAD:
                module, function = AHEAD[name]
                getattr(importlib.import_module(module), function)()
    # What ``python -m ipykernel_launcher ARGS`` does (the server took the working folder
    # off sys.path already; the shell puts '' back as it starts). ipykernel read
    # JPY_PARENT_PID when the server imported it, so the parent is given here: the
    # kernel watches the server and ends once it has ended (and so the worker).
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = [_LAUNCHER_FILE, *request["argv"][3:]]
    try:
        IPKernelApp.launch_instance(parent_handle=os.getppid())
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    return 0


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# --- the worker's side ----------------------------------------------------------------


class ForkedProcess:
    """A forked kernel as jupyter_client's provisioner uses a Popen: through its pidfd."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self._pidfd: int | None = pidfd
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd is not None:
            readable, _, _ = select.select([self._pidfd], [], [], 0)
            if readable:  # a pidfd is readable once its process has ended
                self.returncode = UNKNOWN_STATUS
                self._close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if left == 0.0:
                raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0.0)
            assert self._pidfd is not None
            select.select([self._pidfd], [], [], left)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is not None or self._pidfd is None:
            raise ProcessLookupError(f"kernel {self.pid} has ended")
        signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._close()


class KernelForker:
    """The worker's fork server: started on first use, asked for one kernel at a time."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self._env = env
        self._cwd = cwd
        self._lock = threading.Lock()
        self._server: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None
        self._broken = False
        self._children: weakref.WeakSet[ForkedProcess] = weakref.WeakSet()

    def spawn(
        self, argv: list[str], env: dict[str, str], cwd: str, preload: tuple[str, ...] = ()
    ) -> ForkedProcess | None:
        """A kernel forked with ``argv`` (``python -m ipykernel_launcher ...``), ``env``
        and ``cwd``, having imported ``preload`` (of :data:`PRELOADABLE`), or None when it
        cannot be forked (then start it as before)."""
        with self._lock:
            if self._broken:
                return None
            try:
                channel = self._ensure()
                channel.settimeout(REPLY_TIMEOUT_S)
                request = {"argv": argv, "env": env, "cwd": cwd, "preload": list(preload)}
                channel.sendall(json.dumps(request).encode())
                message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 1)
            except (OSError, ValueError, RuntimeError):
                log.warning("the kernel fork server stopped answering", exc_info=True)
                self._broken = True
                self._stop()
                return None
            if not message:
                self._broken = True
                self._stop()
                return None
            reply = json.loads(message)
            if "error" in reply or not fds:
                for fd in fds:
                    os.close(fd)
                log.info("kernel not forked (%s): started instead", reply.get("error"))
                return None
            child = ForkedProcess(reply["pid"], fds[0])
            self._children.add(child)
            return child

    def close(self) -> None:
        """Stop the server; kernels it forked that still run end within a second or so
        (they watch it): for the worker's end, once its steps have stopped."""
        with self._lock:
            self._stop()

    def close_if_idle(self) -> bool:
        """Stop the server unless a kernel it forked still runs (a step's); True if stopped."""
        with self._lock:
            if any(child.poll() is None for child in list(self._children)):
                return False
            self._stop()
            return True

    def _ensure(self) -> socket.socket:
        if self._channel is not None and self._server is not None and self._server.poll() is None:
            return self._channel
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._server = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=self._env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            theirs.close()
        self._channel = ours
        ours.settimeout(REPLY_TIMEOUT_S * 3)
        if ours.recv(16) != b"ready":
            raise RuntimeError("the kernel fork server did not start")
        return ours

    def _stop(self) -> None:
        if self._channel is not None:
            with contextlib.suppress(OSError):
                self._channel.close()
            self._channel = None
        if self._server is not None:
            server, self._server = self._server, None
            with contextlib.suppress(OSError):
                server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)


def forked_provisioner(forker: KernelForker, manager: Any) -> Any:
    """A provisioner for ``manager`` that forks its kernel from ``forker`` when it can."""
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class ForkedProvisioner(LocalProvisioner):  # type: ignore[misc]
        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            env = kwargs.get("env")
            cwd = kwargs.get("cwd") or os.getcwd()
            process = None
            if env is not None:
                preload = tuple(getattr(manager, "preload", ()))
                process = forker.spawn(list(cmd), dict(env), str(cwd), preload)
            if process is None:
                return await super().launch_kernel(cmd, **kwargs)
            self.process = process
            self.pid = process.pid
            self.pgid = process.pid  # a session leader (setsid)
            self.cwd = cwd
            return self.connection_info

    return ForkedProvisioner(
        kernel_id=manager.kernel_id, kernel_spec=manager.kernel_spec, parent=manager
    )


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
