"""The stock worker: sends one planned request to Ozon and accounts for every item.

HTTP 200 is not success, so each item of `result` is read. Applied items go to the
ledger. Items rejected with a rate error (`TOO_MANY_REQUESTS`, the 30 s per-pair rule)
are queued again no sooner than 30 s later. Other rejections are journaled as permanent
failures with Ozon's code.

A request that fails as a whole (HTTP 429, 5xx, timeout) stretches the message's
visibility to the backoff and raises, so the batch reports it failed and SQS delivers it
again. After the queue's maxReceiveCount it goes to the dead-letter queue, and its pairs
are journaled as failed on the last receive.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Protocol, Sequence

from chalicelib.alerts import Notifier
from chalicelib.clock import Clock
from chalicelib.observability import logger, metrics
from chalicelib.ozon.errors import (
    RETRY_AFTER_ITEM_RATE_SECONDS,
    OzonAuthError,
    OzonContractError,
    OzonRateLimitedError,
    OzonRequestError,
    OzonRetryableError,
    classify_item_error,
)
from chalicelib.ozon.models import StockUpdate
from chalicelib.settings import Settings
from chalicelib.stock.messages import StockItem, StockPushMessage
from chalicelib.stock.schedule import RunSequence, retry_visibility_seconds
from chalicelib.storage.journal import Journal, StockFailure
from chalicelib.storage.ledger import AcceptedStock, StockLedger
from chalicelib.storage.limiter import RateLimiter
from chalicelib.storage.queues import SQS_DELAY_MAX_SECONDS, MessageQueue, OutgoingMessage
from aws_lambda_powertools.metrics import MetricUnit

STOCK_BUCKET = "stocks"


class StockWriter(Protocol):
    def update_stocks(self, items: Sequence[StockUpdate]) -> list: ...


@dataclass
class WorkerDeps:
    settings: Settings
    ledger: StockLedger
    journal: Journal
    queue: MessageQueue
    ozon: StockWriter
    limiter: RateLimiter
    notifier: Notifier
    clock: Clock
    rng: random.Random = field(default_factory=random.Random)
    # Wraps the send-and-account step; production passes Powertools' idempotent_function.
    idempotent: Callable[[Callable], Callable] = lambda function: function
    max_receive_count: int = 5
    seq_cache_seconds: float = 2.0


@dataclass
class Outcome:
    applied: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    requeued: int = 0
    superseded: int = 0

    def as_dict(self) -> dict:
        return {"applied": self.applied, "failed": self.failed, "requeued": self.requeued,
                "superseded": self.superseded}


class StockWorker:
    def __init__(self, deps: WorkerDeps) -> None:
        self._deps = deps
        self._push_once = deps.idempotent(self._send_and_account)
        self._runs = RunSequence(deps.journal.latest_seq, deps.seq_cache_seconds)

    def handle(self, body: dict, receipt_handle: str, receive_count: int) -> dict:
        """Process one queue message; raises OzonRetryableError to have it delivered again."""
        message = StockPushMessage.model_validate(body)
        logger.append_keys(run_id=message.run_id)
        try:
            return self._push_once(message=message.model_dump())
        except OzonRetryableError as error:
            self._back_off(message, error, receipt_handle, receive_count)
            raise
        except (OzonAuthError, OzonContractError) as error:
            kind = "ozon_auth" if isinstance(error, OzonAuthError) else "ozon_contract"
            self._deps.notifier.alert(kind, detail=f"HTTP {error.status} {error.path}")
            logger.error("stock push stopped", extra={"error": str(error)})
            raise

    def _send_and_account(self, message: dict) -> dict:
        push = StockPushMessage.model_validate(message)
        outcome = Outcome()
        if self._runs.is_superseded(push.seq):
            outcome.superseded = len(push.items)
            self._deps.journal.count(push.run_id, items_superseded=outcome.superseded)
            logger.info("message dropped: a newer run supersedes it", extra={"seq": push.seq})
            return outcome.as_dict()

        self._deps.limiter.acquire(STOCK_BUCKET)
        try:
            results = self._deps.ozon.update_stocks(
                [StockUpdate(offer_id=i.offer_id, warehouse_id=i.warehouse_id, stock=i.stock) for i in push.items])
        except OzonRequestError as error:
            # Ozon refused the request as a whole, for a reason a retry cannot fix.
            self._fail_items(push, push.items, str(error.code or f"HTTP_{error.status}"), error.message, outcome)
            self._account(push, outcome)
            return outcome.as_dict()

        retry = self._read_results(push, results, outcome)
        self._requeue(push, retry, outcome)
        self._account(push, outcome)
        return outcome.as_dict()

    def _read_results(self, push: StockPushMessage, results: list, outcome: Outcome) -> list[tuple[StockItem, str]]:
        by_pair = {(r.warehouse_id, r.offer_id): r for r in results}
        now = self._deps.clock.now()
        applied: list[tuple[tuple[int, str], AcceptedStock]] = []
        retry: list[tuple[StockItem, str]] = []
        for item in push.items:
            result = by_pair.get((item.warehouse_id, item.offer_id))
            if result is None:
                retry.append((item, "MISSING_IN_RESULT"))  # absent from Ozon's result: send it again
            elif result.updated:
                applied.append(((item.warehouse_id, item.offer_id), AcceptedStock(item.stock, push.seq, now)))
            else:
                error = result.errors[0] if result.errors else None
                code, text = (error.code, error.message) if error else ("UNKNOWN", "updated=false without errors")
                if classify_item_error(code, text) == "retry":
                    retry.append((item, code))
                else:
                    self._fail_items(push, [item], code, text, outcome)
        self._deps.ledger.record(applied)
        outcome.applied = len(applied)
        return retry

    def _requeue(self, push: StockPushMessage, retry: list[tuple[StockItem, str]], outcome: Outcome) -> None:
        if not retry:
            return
        if push.attempt + 1 >= self._deps.settings.max_item_attempts:
            for item, code in retry:
                self._fail_items(push, [item], f"RETRIES_EXHAUSTED:{code}",
                                 f"still refused after {push.attempt + 1} attempts", outcome)
            return
        # Ozon takes one update per pair per 30 s; wait at least that long, plus jitter.
        virtual = RETRY_AFTER_ITEM_RATE_SECONDS + self._deps.rng.uniform(0, 10)
        delay = min(SQS_DELAY_MAX_SECONDS, math.ceil(self._deps.clock.real_seconds(virtual)))
        again = StockPushMessage(run_id=push.run_id, seq=push.seq, attempt=push.attempt + 1,
                                 items=[item for item, _ in retry])
        self._deps.queue.send([OutgoingMessage(again.model_dump(), delay)])
        outcome.requeued = len(retry)

    def _fail_items(self, push: StockPushMessage, items: Sequence[StockItem], code: str, text: str,
                    outcome: Outcome) -> None:
        failed_at = datetime.fromtimestamp(self._deps.clock.now(), timezone.utc)
        for item in items:
            self._deps.journal.record_failure(StockFailure(
                f"run#{push.run_id}", f"fail#{item.warehouse_id}#{item.offer_id}", run_id=push.run_id,
                offer_id=item.offer_id, warehouse_id=item.warehouse_id, stock=item.stock, code=code,
                message=text[:500], failed_at=failed_at))
            outcome.failed[code] = outcome.failed.get(code, 0) + 1

    def _account(self, push: StockPushMessage, outcome: Outcome) -> None:
        failed = sum(outcome.failed.values())
        self._deps.journal.count(push.run_id, requests_sent=1, items_applied=outcome.applied,
                                 items_failed=failed, retries=outcome.requeued, failed_by_code=outcome.failed)
        metrics.add_metric(name="StockItemsApplied", unit=MetricUnit.Count, value=outcome.applied)
        metrics.add_metric(name="StockItemsFailed", unit=MetricUnit.Count, value=failed)
        logger.info("stock request done", extra={"items": len(push.items), **outcome.as_dict()})

    def _back_off(self, message: StockPushMessage, error: OzonRetryableError, receipt_handle: str,
                  receive_count: int) -> None:
        deps = self._deps
        retry_after = error.retry_after if isinstance(error, OzonRateLimitedError) else None
        seconds = retry_visibility_seconds(retry_after, receive_count, deps.clock, deps.rng)
        deps.queue.change_visibility(receipt_handle, seconds)
        deps.journal.count(message.run_id, retries=1)
        metrics.add_metric(name="OzonRetryableErrors", unit=MetricUnit.Count, value=1)
        logger.warning("stock request will be retried", extra={
            "error": str(error), "receive_count": receive_count, "visibility_seconds": seconds})
        if receive_count >= deps.max_receive_count:
            # This was the last delivery before the dead-letter queue, so journal the items as failed.
            outcome = Outcome()
            self._fail_items(message, message.items, f"DEAD_LETTER:{type(error).__name__}", str(error), outcome)
            deps.journal.count(message.run_id, items_failed=len(message.items), failed_by_code=outcome.failed)
