"""Time sources shared by the pipeline and the local Ozon sandbox.

The local stack can run on a sped-up clock so that rate limits measured in minutes
(80 stock requests per minute) play out in seconds. Both sides compute virtual time
from the same origin and speed, so they agree without talking to each other.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Protocol


class Clock(Protocol):
    """Virtual wall-clock time in epoch seconds, and sleeping in virtual seconds."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def real_seconds(self, seconds: float) -> float:
        """Convert a virtual duration to the real duration it takes."""
        ...


class ScaledClock:
    """A clock running `speed` times faster than real time from `origin` (epoch seconds).

    With speed 1 this is the system clock. `real_time` and `real_sleep` are injected so
    that tests can drive the clock by hand.
    """

    def __init__(
        self,
        speed: float = 1.0,
        origin: float | None = None,
        real_time: Callable[[], float] = time.time,
        real_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError(f"clock speed must be a positive number, got {speed!r}")
        self.speed = speed
        self._real_time = real_time
        self._real_sleep = real_sleep
        self.origin = real_time() if origin is None else origin

    def now(self) -> float:
        return self.origin + (self._real_time() - self.origin) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._real_sleep(seconds / self.speed)

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.speed


class ManualClock:
    """A clock that only moves when told to; `sleep` advances it instantly."""

    def __init__(self, start: float = 1_764_806_400.0, speed: float = 1.0) -> None:
        self._now = start
        self.speed = speed

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.speed
