"""How often one person may test connections: a sliding window per principal.

A connection test connects wherever a user points it and says how that went; repeated
quickly, that is a password-guessing or port-scanning tool. A handful a minute is plenty
for a person checking a form, and too few for either.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from ..errors import RateLimitedError

WINDOW_S = 60.0


class RateLimiter:
    """At most ``per_minute`` calls of :meth:`acquire` per key in any 60 seconds.

    ``per_minute`` of 0 or less turns the limit off. Kept in this process's memory: a
    restart forgets it, which costs a tester at most one extra window.
    """

    def __init__(
        self, per_minute: int, what: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.what = what
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> None:
        """Count one call for ``key``, or raise :class:`RateLimitedError` saying when to retry."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        with self._lock:
            for other in [k for k, calls in self._calls.items() if calls[-1] <= now - WINDOW_S]:
                del self._calls[other]  # nobody who stopped keeps a slot in memory
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - WINDOW_S:
                calls.popleft()
            if len(calls) >= self.per_minute:
                retry_after = max(1, math.ceil(calls[0] + WINDOW_S - now))
                raise RateLimitedError(
                    f"at most {self.per_minute} {self.what} a minute; try again in {retry_after} s",
                    retry_after,
                )
            calls.append(now)
