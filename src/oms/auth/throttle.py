"""Slows down password guessing: after too many failed logins for one email from one address
within a window, further attempts get 429 until the window has passed.

Kept in process memory on purpose: it needs no table and no clean-up job, and a guesser spread
over N worker processes still gets at most N times the budget, which is small."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from oms.errors import RateLimited


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window_s: float = 900.0, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        now = self.clock()
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def check(self, client: str, email: str) -> None:
        key = (client, email.strip().lower())
        with self._lock:
            q = self._recent(key)
            if len(q) >= self.max_failures:
                wait = math.ceil(self.window_s - (self.clock() - q[0]))
                raise RateLimited(
                    f"too many failed logins for {key[1]}; try again in {wait} s", retry_after_s=max(wait, 1)
                )

    def failed(self, client: str, email: str) -> None:
        key = (client, email.strip().lower())
        with self._lock:
            self._recent(key).append(self.clock())
            if len(self._failures) > 100_000:  # bound memory under a spray of random emails
                self._failures.clear()

    def succeeded(self, client: str, email: str) -> None:
        with self._lock:
            self._failures.pop((client, email.strip().lower()), None)
