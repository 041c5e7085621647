"""Fault injection: which requests and items the sandbox fails on purpose."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from local.sandbox.errors import ErrorCodeStyle

# HTTP statuses an injected server error picks from.
_SERVER_ERROR_STATUSES = (500, 502, 503)


class FaultConfig(BaseModel):
    """Fault shares (0..1) and timings; changeable while the server runs.

    A request gets at most one request-level fault, so the four request shares must add
    up to 1 or less. Slow replies and timeouts sleep in real seconds, because they test
    the client's HTTP timeout rather than the virtual clock.
    """

    model_config = ConfigDict(extra="forbid")

    http_429_share: float = Field(default=0.0, ge=0.0, le=1.0)
    http_5xx_share: float = Field(default=0.0, ge=0.0, le=1.0)
    slow_share: float = Field(default=0.0, ge=0.0, le=1.0)
    slow_seconds: float = Field(default=2.0, ge=0.0)
    timeout_share: float = Field(default=0.0, ge=0.0, le=1.0)
    timeout_seconds: float = Field(default=15.0, ge=0.0)
    # Real Ozon may apply an update and then stall, so a retry after a timeout must not
    # assume the first attempt was lost.
    timeout_applies: bool = False
    item_rate_error_share: float = Field(default=0.0, ge=0.0, le=1.0)
    faults_on_reads: bool = False
    # Retry-After (virtual seconds) sent with an injected 429.
    retry_after_seconds: int = Field(default=1, ge=1)
    error_code_style: ErrorCodeStyle = "mixed"
    seed: int = 1

    @model_validator(mode="after")
    def _check_request_shares(self) -> "FaultConfig":
        total = self.http_429_share + self.http_5xx_share + self.slow_share + self.timeout_share
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"request fault shares add up to {total:.3f}, but http_429_share, "
                "http_5xx_share, slow_share and timeout_share must sum to 1 or less"
            )
        return self


class FaultKind(str, enum.Enum):
    HTTP_429 = "http_429"
    HTTP_5XX = "http_5xx"
    SLOW = "slow"
    TIMEOUT = "timeout"
    ITEM_RATE_ERROR = "item_rate_error"


@dataclass(frozen=True)
class RequestFault:
    """A fault drawn for one request, with the settings in force when it was drawn.

    `delay_seconds` is the real time to wait before replying. `applies` is True when a
    timed-out stock update is applied before the stall.
    """

    kind: FaultKind
    status: int = 200
    delay_seconds: float = 0.0
    retry_after: int | None = None
    applies: bool = False


class FaultInjector:
    """Draws faults from a seeded random stream, so a run with the same seed repeats.

    Not thread-safe: the sandbox calls it under its own lock.
    """

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)

    def draw_request_fault(self) -> RequestFault | None:
        """Pick at most one request-level fault for the next request."""
        config = self.config
        roll = self._random.random()
        for kind, share in (
            (FaultKind.HTTP_429, config.http_429_share),
            (FaultKind.HTTP_5XX, config.http_5xx_share),
            (FaultKind.SLOW, config.slow_share),
            (FaultKind.TIMEOUT, config.timeout_share),
        ):
            if roll < share:
                return self._describe(kind)
            roll -= share
        return None

    def draw_item_fault(self) -> bool:
        """Return True when the next stock item gets an injected TOO_MANY_REQUESTS."""
        share = self.config.item_rate_error_share
        return share > 0 and self._random.random() < share

    def _describe(self, kind: FaultKind) -> RequestFault:
        config = self.config
        if kind is FaultKind.HTTP_429:
            return RequestFault(kind, status=429, retry_after=config.retry_after_seconds)
        if kind is FaultKind.HTTP_5XX:
            return RequestFault(kind, status=self._random.choice(_SERVER_ERROR_STATUSES))
        if kind is FaultKind.SLOW:
            return RequestFault(kind, delay_seconds=config.slow_seconds)
        # A timeout that did not apply the update replies 504 once the stall ends.
        status = 200 if config.timeout_applies else 504
        return RequestFault(
            kind,
            status=status,
            delay_seconds=config.timeout_seconds,
            applies=config.timeout_applies,
        )
