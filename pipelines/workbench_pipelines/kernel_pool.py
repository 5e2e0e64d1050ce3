"""Kernels started ahead of the steps that will use them: one spare per kernel name.

A notebook step waits for its kernel to start (the interpreter, ipykernel, IPython:
0.5-1 s on a loaded machine) before its first cell. The worker starts the next step's
kernel while nothing waits for it instead: once a step has taken the spare of its kernel
name, another is started in the background for the step after.

Nothing passes from one step to another. A spare is a fresh kernel process that has run
no code (after a notebook that imports the lake API it has imported that module too and
made its DuckDB database with the delta extension, see :meth:`KernelPool.take`: no name
set, no table read); it serves one attempt and is killed
with it, like any step's kernel. What is
the attempt's own reaches the spare when the attempt takes it, before any cell runs: its
environment (the connections token, the run and step, a lake's scoped credentials) and
its working folder, through a file only the worker's user may read, removed as soon as
it is read (never in a message, so no secret is sent to the kernel's channels). The
kernel's execution count and history are untouched, so the executed notebook is the
same as with a kernel started for the step.

Spares are only for steps that run as the worker's own user: a step that runs as its
owner's OS account gets a kernel started as that account, as before. A spare nobody
took within ``idle_s`` is stopped, so an idle worker holds no kernel for long.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from jupyter_core.utils import ensure_event_loop, run_sync

from .kernel_fork import KernelForker
from .notebook import HISTORY_ARGUMENT, StepKernelManager

log = logging.getLogger(__name__)

# The default kernel of a notebook step, and plain ipykernel's: Python kernels, which the
# prelude (Python code) can set up. Another kernel's steps start their own.
POOLED_KERNELS = ("workbench", "python3")
IDLE_S = 600.0

# Run silently (no history, no execution count, nothing on IOPub but busy/idle) in the
# spare when an attempt takes it; leaves no name behind in the user's namespace.
PRELUDE = """\
def _workbench_step_prelude(path):
    import json, os
    with open(path) as stream:
        spec = json.load(stream)
    os.remove(path)
    for name in spec["unset"]:
        os.environ.pop(name, None)
    os.environ.update(spec["set"])
    os.chdir(spec["cwd"])
    shell = get_ipython()
    if shell is not None and isinstance(shell.user_ns.get("_dh"), list):
        shell.user_ns["_dh"][:] = [spec["cwd"]]
_workbench_step_prelude({path!r})
del _workbench_step_prelude
"""


@dataclass
class _Spare:
    manager: StepKernelManager
    env: dict[str, str]
    expiry: threading.Timer


class KernelPool:
    """One spare kernel per pooled kernel name, started after the previous one was taken."""

    def __init__(
        self,
        base_env: Callable[[], dict[str, str]],
        kernels: Iterable[str] = POOLED_KERNELS,
        idle_s: float = IDLE_S,
        fork: bool = True,
    ) -> None:
        self.kernels = frozenset(kernels)
        self.idle_s = idle_s
        self._base_env = base_env
        self._folder = Path(tempfile.mkdtemp(prefix="workbench-kernels-"))  # 0700
        # Spares are forked from a process that has imported ipykernel (kernel_fork.py):
        # started with the first spare, stopped with the pool or when no spare is left.
        self._forker = KernelForker(base_env(), str(self._folder)) if fork else None
        self._spares: dict[str, _Spare] = {}
        self._preload: dict[str, tuple[str, ...]] = {}  # per kernel name, for its next spare
        self._lock = threading.Lock()
        self._closed = False
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel-pool")

    def take(
        self, kernel_name: str, env: dict[str, str], cwd: Path, preload: tuple[str, ...] = ()
    ) -> StepKernelManager | None:
        """The spare of ``kernel_name``, set up for an attempt with ``env`` in ``cwd``
        (its prelude runs when its client is ready), or None; a new spare is started,
        which imports ``preload`` ahead (what this attempt's notebook uses: the step
        after is likely the same notebook)."""
        if kernel_name not in self.kernels:
            return None
        with self._lock:
            if self._closed:
                return None
            self._preload[kernel_name] = tuple(preload)
            spare = self._spares.pop(kernel_name, None)
            self._starter.submit(self._start, kernel_name)
        if spare is None:
            return None
        spare.expiry.cancel()
        process = getattr(spare.manager.provisioner, "process", None)
        if process is None or process.poll() is not None:  # it died while waiting
            self._stop(spare)
            return None
        path = self._folder / f"prelude-{uuid.uuid4().hex}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(
                {
                    "cwd": str(cwd),
                    "set": {k: v for k, v in env.items() if spare.env.get(k) != v},
                    "unset": sorted(set(spare.env) - set(env)),
                },
                stream,
            )
        spare.manager.prelude = PRELUDE.format(path=str(path))
        spare.manager.prelude_file = path
        return spare.manager

    def close(self) -> None:
        """Stop the spares (and any being started); later takes get none. Once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            spares = list(self._spares.values())
            self._spares.clear()
            self._starter.submit(_close_loop)  # the starter thread's own, made by run_sync
        self._starter.shutdown(wait=True)
        for spare in spares:
            spare.expiry.cancel()
            self._stop(spare)
        if self._forker is not None:
            self._forker.close()
        with contextlib.suppress(OSError):
            for leftover in self._folder.iterdir():
                leftover.unlink()
            self._folder.rmdir()

    def _start(self, kernel_name: str) -> None:
        with self._lock:
            if self._closed or kernel_name in self._spares:
                return
            preload = self._preload.get(kernel_name, ())
        env = self._base_env()
        manager = StepKernelManager(kernel_name=kernel_name, env=env)
        manager.forker = self._forker
        manager.preload = preload
        try:
            run_sync(manager.start_kernel)(
                extra_arguments=[HISTORY_ARGUMENT], cwd=str(self._folder)
            )
        except Exception:
            log.warning("no spare %s kernel could be started", kernel_name, exc_info=True)
            return
        spare = _Spare(manager, env, threading.Timer(self.idle_s, self._expire, (kernel_name,)))
        spare.expiry.daemon = True
        with self._lock:
            keep = not self._closed and kernel_name not in self._spares
            if keep:
                self._spares[kernel_name] = spare
                spare.expiry.start()
        if not keep:
            self._stop(spare)

    def _expire(self, kernel_name: str) -> None:
        with self._lock:
            spare = self._spares.get(kernel_name)
            if spare is None or spare.expiry is not threading.current_thread():
                return
            del self._spares[kernel_name]
            # Stopped by the starter's thread, whose event loop lasts: a loop made in this
            # short-lived timer thread would hold its file descriptors until collected.
            self._starter.submit(self._stop, spare)
            if not self._spares and self._forker is not None:  # idle: no fork server,
                self._starter.submit(self._forker.close_if_idle)  # unless a step's kernel

    @staticmethod
    def _stop(spare: _Spare) -> None:
        spare.expiry.cancel()
        with contextlib.suppress(Exception):
            if spare.manager.has_kernel:
                run_sync(spare.manager.shutdown_kernel)(now=True)


def _close_loop() -> None:
    """Close the event loop run_sync made for this thread (the thread is ending)."""
    ensure_event_loop().close()
