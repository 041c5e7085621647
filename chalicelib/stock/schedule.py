"""Spacing planned requests over time with SQS message delays.

Request k of a wave is due at `(k + u) * 60 / rate` seconds, with `u` drawn uniformly
from [0, 1): one request per slot, jittered inside its slot, so any 60 s window holds
at most `rate + 1` requests and the run never leans on HTTP 429 to slow down. Delays are
computed in (possibly sped-up) virtual seconds and converted to the whole real seconds
that SQS takes; whatever lands beyond SQS's 900 s limit waits for the next wave.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable

from chalicelib.clock import Clock


@dataclass(frozen=True, slots=True)
class Wave:
    delays: list[int]  # real seconds, one per scheduled request
    remaining: int     # requests that did not fit before max_delay


def schedule_wave(count: int, requests_per_minute: float, max_delay: int, clock: Clock,
                  rng: random.Random) -> Wave:
    """Delays for up to `count` requests, starting now; stops at `max_delay` real seconds."""
    slot = 60.0 / requests_per_minute
    delays: list[int] = []
    for index in range(count):
        virtual = (index + rng.random()) * slot
        real = math.floor(clock.real_seconds(virtual))
        if real > max_delay:
            break
        delays.append(real)
    return Wave(delays, count - len(delays))


def full_jitter_backoff(attempt: int, rng: random.Random, base: float = 2.0, cap: float = 300.0) -> float:
    """Seconds to wait before retry number `attempt` (1-based): uniform in
    [0, min(cap, base * 2**attempt)], the "full jitter" of AWS's backoff guidance."""
    return rng.uniform(0.0, min(cap, base * 2.0 ** max(0, attempt)))


# SQS caps a visibility timeout change at 12 h; backoffs stay far below it.
VISIBILITY_MAX_SECONDS = 43_200


def retry_visibility_seconds(retry_after: float | None, receive_count: int, clock: Clock,
                             rng: random.Random) -> int:
    """Real seconds to hide a message before its next delivery: Ozon's `Retry-After` when it
    gave one (virtual seconds), else a full-jitter backoff for the receive count."""
    virtual = retry_after if retry_after else full_jitter_backoff(receive_count, rng)
    return min(VISIBILITY_MAX_SECONDS, max(1, math.ceil(clock.real_seconds(virtual))))


class RunSequence:
    """The newest planning-run number, read through `read_latest` and cached for
    `cache_seconds`; a message from a newer run than the cached one forces a re-read."""

    def __init__(self, read_latest: Callable[[], int], cache_seconds: float) -> None:
        self._read_latest = read_latest
        self._cache_seconds = cache_seconds
        self._latest, self._read_at = 0, -math.inf

    def is_superseded(self, seq: int) -> bool:
        if seq < self._latest:
            return True
        if time.monotonic() - self._read_at > self._cache_seconds or seq > self._latest:
            self._latest, self._read_at = self._read_latest(), time.monotonic()
        return seq < self._latest
