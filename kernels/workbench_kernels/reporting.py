"""What a kernel tells the workbench off the query path: noted in memory, sent in batches.

A query only notes what it did (a lock and an append); a background thread sends what
was noted every few seconds, so a query never waits for a request. A pipeline step's
kernel (which may be stopped as soon as its notebook ends) sends after every note
instead. Reports are hints and figures: a failed send is dropped, never retried.
"""

from __future__ import annotations

import atexit
import os
import threading
import urllib.request

from .api import workbench_request

FLUSH_EVERY_S = 5.0
CONTEXT_ENV = "WORKBENCH_KERNEL_CONTEXT"  # "pipeline" in a step's kernel


class BatchedReporter:
    """Subclasses note under :attr:`lock`, call :meth:`noted`, and say in :meth:`take`
    what to send (emptying what they hold)."""

    name = "workbench-reports"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    @property
    def immediate(self) -> bool:
        # Read when something is noted, not when the module was imported: a pipeline
        # step's kernel may have been started ahead and given its step's environment
        # just before its first cell (pipelines/workbench_pipelines/kernel_pool.py).
        return os.environ.get(CONTEXT_ENV) == "pipeline"

    def take(self) -> list[tuple[str, object]]:
        """The (API path, JSON body) requests for what was noted; empties it."""
        raise NotImplementedError

    def noted(self) -> None:
        """Something was noted: send it now (a step's kernel) or soon (the thread)."""
        if self.immediate:
            self.flush()
        elif self.thread is None:
            self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self.thread.start()
            atexit.register(self.flush)

    def _loop(self) -> None:
        while True:
            threading.Event().wait(FLUSH_EVERY_S)
            self.flush()

    def flush(self) -> None:
        with self.lock:
            requests = self.take()
        for path, body in requests:
            request = workbench_request(path, body)
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    response.read()
            except OSError:
                pass  # a hint or a figure lost, nothing more
