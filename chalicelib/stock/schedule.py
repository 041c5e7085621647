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
from dataclasses import dataclass

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
