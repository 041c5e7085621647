"""Request limits of the Ozon Seller API, counted on the sandbox's virtual clock."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """The numeric limits the sandbox enforces (Ozon Seller API docs, 2026).

    Times are virtual seconds on the sandbox clock.
    """

    max_stock_items: int = 100
    stock_requests_per_window: int = 80
    stock_window_seconds: float = 60.0
    requests_per_second: int = 50
    pair_interval_seconds: float = 30.0
    # A stock of 1,000,000 or more is rejected with STOCK_TOO_BIG.
    stock_ceiling: int = 1_000_000
    max_page_size: int = 1000
    max_filter_values: int = 1000


class SlidingWindowLimiter:
    """At most `capacity` admitted events in any `window` seconds.

    Only admitted events take a slot: a rejected request does not push the window on,
    so a client that waits `Retry-After` seconds gets through. Not thread-safe: the
    sandbox calls it under its own lock.
    """

    def __init__(self, capacity: int, window: float) -> None:
        self.capacity = capacity
        self.window = window
        self._admitted: deque[float] = deque()

    def try_admit(self, now: float) -> float:
        """Admit an event at `now` and return 0, or return the seconds until a slot frees."""
        self._expire(now)
        if len(self._admitted) < self.capacity:
            self._admitted.append(now)
            return 0.0
        return self._admitted[0] + self.window - now

    def remaining(self, now: float) -> int:
        """Return how many events `now` could still admit."""
        self._expire(now)
        return self.capacity - len(self._admitted)

    def clear(self) -> None:
        self._admitted.clear()

    def _expire(self, now: float) -> None:
        while self._admitted and self._admitted[0] + self.window <= now:
            self._admitted.popleft()


def retry_after_header(wait_seconds: float) -> int:
    """Round a wait up to whole seconds, at least 1, as `Retry-After` requires."""
    return max(1, math.ceil(wait_seconds))
