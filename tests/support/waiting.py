"""Waiting in tests for something a real process does: bounded, with what was awaited
named when it does not come."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def until(check: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """``check()``'s first truthy answer, asked every ``every`` seconds; an AssertionError
    naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"{what} within {timeout:g} s")


@contextmanager
def running_engine(engine: Any) -> Iterator[None]:
    """An alert engine's own loop (``run_forever``), in a thread, as the server runs it."""
    stop = threading.Event()

    async def main() -> None:
        task = asyncio.create_task(engine.run_forever())
        await asyncio.to_thread(stop.wait)
        task.cancel()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
