"""Token buckets shared by every worker, so parallel Lambdas stay inside Ozon's limits.

A bucket holds at most `burst` tokens and refills at `rate` tokens per second; each
request takes one. Over any 60 s a bucket lets through at most `burst + 60 * rate`
requests, so the stock bucket is sized with `burst + 60 * rate <= 80`.

The DynamoDB bucket is an item `{pk, tokens, updated}` changed with optimistic
concurrency: read it, compute the refill, write it back on the condition that nobody
wrote in between. Time comes from the injected clock in (virtual) seconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.clock import Clock
from chalicelib.storage.errors import StorageError


@dataclass(frozen=True, slots=True)
class BucketSpec:
    rate: float  # tokens per second
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, got {self}")


class RateLimiter(Protocol):
    def acquire(self, bucket: str) -> float:
        """Wait for a token of `bucket`; return the seconds waited (virtual)."""
        ...


def _refill(tokens: float, updated: float, now: float, spec: BucketSpec) -> float:
    return min(float(spec.burst), tokens + max(0.0, now - updated) * spec.rate)


class DynamoRateLimiter:
    """Token buckets in a DynamoDB table with a string key `pk`."""

    def __init__(self, client, table: str, buckets: dict[str, BucketSpec], clock: Clock) -> None:
        self._client = client
        self._table = table
        self._buckets = buckets
        self._clock = clock

    def acquire(self, bucket: str) -> float:
        spec = self._buckets[bucket]
        waited = 0.0
        while True:
            now = self._clock.now()
            tokens, updated = self._read(bucket, spec, now)
            available = _refill(tokens, now if updated is None else updated, now, spec)
            if available < 1.0:
                pause = (1.0 - available) / spec.rate
                self._clock.sleep(pause)
                waited += pause
                continue
            if self._write(bucket, available - 1.0, now, updated):
                return waited

    def _read(self, bucket: str, spec: BucketSpec, now: float) -> tuple[float, float | None]:
        try:
            item = self._client.get_item(TableName=self._table, Key={"pk": {"S": bucket}},
                                         ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StorageError(self._table, "GetItem", str(error), "Check the rate-limit table exists.") from error
        if item is None:
            return float(spec.burst), None
        return float(item["tokens"]["N"]), float(item["updated"]["N"])

    def _write(self, bucket: str, tokens: float, now: float, seen: float | None) -> bool:
        if seen is None:
            condition, values = "attribute_not_exists(pk)", {}
        else:
            condition, values = "updated = :seen", {":seen": {"N": repr(seen)}}
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"pk": {"S": bucket}, "tokens": {"N": repr(tokens)}, "updated": {"N": repr(now)}},
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # another worker took a token first; read again
            raise StorageError(self._table, "PutItem", str(error), "Check the rate-limit table exists.") from error
        except BotoCoreError as error:
            raise StorageError(self._table, "PutItem", str(error), "Check the rate-limit table exists.") from error
        return True


class InMemoryRateLimiter:
    """The same buckets in process memory, for unit tests and single-process tools."""

    def __init__(self, buckets: dict[str, BucketSpec], clock: Clock) -> None:
        self._buckets = buckets
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, bucket: str) -> float:
        spec = self._buckets[bucket]
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock.now()
                tokens, updated = self._state.get(bucket, (float(spec.burst), now))
                available = _refill(tokens, updated, now, spec)
                if available >= 1.0:
                    self._state[bucket] = (available - 1.0, now)
                    return waited
            pause = (1.0 - available) / spec.rate
            self._clock.sleep(pause)
            waited += pause
