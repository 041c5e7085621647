"""The price worker: sends one planned request to Ozon and accounts for every item.

HTTP 200 is not success: each item of `result` is read. Applied items become the
SKU's accepted and last good levels, and count against its hourly budget. An item
refused because the product changed price too often this hour is deferred: the next
run sends the SKU's latest target. Other refusals are journaled with Ozon's code.
Whole-request failures follow the stock worker: retryable ones (HTTP 429, 5xx,
timeouts) stretch the message's visibility and raise so SQS delivers it again, auth
and contract failures alert and raise, and a request Ozon refuses as a whole fails
its items. A `price.verify` message reads prices back and queues rollbacks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Protocol, Sequence

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.alerts import Notifier
from chalicelib.clock import Clock
from chalicelib.observability import logger, metrics
from chalicelib.ozon.errors import (
    OzonAuthError,
    OzonContractError,
    OzonRateLimitedError,
    OzonRequestError,
    OzonRetryableError,
)
from chalicelib.ozon.prices import PriceUpdate
from chalicelib.prices import alerts as _alert_texts  # noqa: F401  (registers the price alert texts)
from chalicelib.prices.budget import recent_changes
from chalicelib.prices.formula import Levels
from chalicelib.prices.journal import Event
from chalicelib.prices.messages import PriceItem, PricePushMessage, PriceVerifyMessage
from chalicelib.prices.planner import PlannerDeps, queue_requests
from chalicelib.prices.readback import read_back
from chalicelib.prices.store import PriceState, PriceStore
from chalicelib.settings import Settings
from chalicelib.stock.schedule import RunSequence, retry_visibility_seconds
from chalicelib.storage.limiter import RateLimiter
from chalicelib.storage.queues import MessageQueue

GLOBAL_BUCKET = "global"
# Per-item codes meaning "this product's price changed too often this hour".
_BUDGET_CODES = {"TOO_MANY_REQUESTS", "PRICE_UPDATE_TOO_FREQUENTLY"}


class PriceWriter(Protocol):
    def import_prices(self, items: Sequence[PriceUpdate]) -> list: ...

    def iter_prices(self, offer_ids=None, limit: int = 1000): ...


@dataclass
class WorkerDeps:
    settings: Settings
    store: PriceStore
    journal: object
    queue: MessageQueue
    ozon: PriceWriter
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
    deferred: int = 0
    superseded: int = 0

    def as_dict(self) -> dict:
        return {"applied": self.applied, "failed": self.failed, "deferred": self.deferred,
                "superseded": self.superseded}


class PriceWorker:
    def __init__(self, deps: WorkerDeps) -> None:
        self._deps = deps
        self._push_once = deps.idempotent(self._send_and_account)
        self._runs = RunSequence(deps.journal.latest_seq, deps.seq_cache_seconds)

    def handle(self, body: dict, receipt_handle: str, receive_count: int) -> dict:
        """Process one queue message; raises OzonRetryableError to have it delivered again."""
        if body.get("kind") == "price.verify":
            return self._verify(PriceVerifyMessage.model_validate(body))
        message = PricePushMessage.model_validate(body)
        logger.append_keys(run_id=message.run_id)
        try:
            return self._push_once(message=message.model_dump())
        except OzonRetryableError as error:
            self._back_off(message, error, receipt_handle, receive_count)
            raise
        except (OzonAuthError, OzonContractError) as error:
            kind = "ozon_auth" if isinstance(error, OzonAuthError) else "ozon_contract"
            self._deps.notifier.alert(kind, detail=f"HTTP {error.status} {error.path}")
            logger.error("price push stopped", extra={"error": str(error)})
            raise

    def _send_and_account(self, message: dict) -> dict:
        push = PricePushMessage.model_validate(message)
        outcome = Outcome()
        # Rollbacks are never dropped: their key is already stored, so no later run redoes them.
        rollback = all(item.rollback for item in push.items)
        if not rollback and self._runs.is_superseded(push.seq):
            outcome.superseded = len(push.items)
            self._deps.journal.count(push.run_id, items_superseded=outcome.superseded)
            logger.info("price message dropped: a newer run supersedes it", extra={"seq": push.seq})
            return outcome.as_dict()

        self._deps.limiter.acquire(GLOBAL_BUCKET)
        try:
            results = self._deps.ozon.import_prices([_update(item, self._deps.settings) for item in push.items])
        except OzonRequestError as error:
            self._fail(push, push.items, str(error.code or f"HTTP_{error.status}"), error.message, outcome)
            self._account(push, outcome)
            return outcome.as_dict()

        self._read_results(push, results, outcome)
        self._account(push, outcome)
        return outcome.as_dict()

    def _read_results(self, push: PricePushMessage, results: list, outcome: Outcome) -> None:
        by_offer = {r.offer_id: r for r in results}
        now = self._deps.clock.now()
        states = self._deps.store.states(item.offer_id for item in push.items)
        changed: dict[str, PriceState] = {}
        for item in push.items:
            result = by_offer.get(item.offer_id)
            if result is not None and result.updated:
                changed[item.offer_id] = _applied(states.get(item.offer_id), item, now)
                outcome.applied += 1
                continue
            error = result.errors[0] if result is not None and result.errors else None
            code, text = (error.code, error.message) if error else ("MISSING_IN_RESULT", "Ozon returned no result")
            if (code or "").upper() in _BUDGET_CODES:
                outcome.deferred += 1
            else:
                self._fail(push, [item], code, text, outcome)
        if changed:
            self._deps.store.save_states(changed)

    def _verify(self, message: PriceVerifyMessage) -> dict:
        """Read prices back after a run and queue rollbacks as a push of the same run."""
        deps = self._deps
        book = deps.store.load()
        checked = read_back(book, deps.ozon, deps.notifier, threshold=deps.settings.price_guard_threshold_percent,
                            now=deps.clock.now(), changes_per_hour=deps.settings.price_changes_per_hour)
        if checked.changed_states:
            deps.store.save_states(checked.changed_states)
        if checked.events:
            deps.journal.record(message.run_id, checked.events)
        if checked.items:
            planner = PlannerDeps(deps.settings, deps.store, deps.journal, deps.queue, None, deps.notifier,
                                  deps.clock, deps.rng)
            queue_requests(planner, message.run_id, message.seq, [checked.items])
        deps.journal.count(message.run_id, rolled_back=len(checked.items), skus_read_back=checked.skus_read,
                           deferred=checked.deferred)
        logger.info("prices read back", extra={"skus_read": checked.skus_read, "rolled_back": len(checked.items)})
        return {"skus_read": checked.skus_read, "rolled_back": len(checked.items)}

    def _fail(self, push: PricePushMessage, items: Sequence[PriceItem], code: str, text: str,
              outcome: Outcome) -> None:
        events = [Event("fail", item.offer_id, f"{code}: {text}"[:500],
                        {"code": code, "price": item.price, "min_price": item.min_price, "old_price": item.old_price})
                  for item in items]
        self._deps.journal.record(push.run_id, events)
        for _ in items:
            outcome.failed[code] = outcome.failed.get(code, 0) + 1

    def _account(self, push: PricePushMessage, outcome: Outcome) -> None:
        failed = sum(outcome.failed.values())
        self._deps.journal.count(push.run_id, requests_sent=1, items_sent=len(push.items),
                                 items_applied=outcome.applied, items_failed=failed, deferred=outcome.deferred,
                                 failed_by_code=outcome.failed)
        metrics.add_metric(name="PriceItemsApplied", unit=MetricUnit.Count, value=outcome.applied)
        metrics.add_metric(name="PriceItemsFailed", unit=MetricUnit.Count, value=failed)
        logger.info("price request done", extra={"items": len(push.items), **outcome.as_dict()})

    def _back_off(self, message: PricePushMessage, error: OzonRetryableError, receipt_handle: str,
                  receive_count: int) -> None:
        deps = self._deps
        retry_after = error.retry_after if isinstance(error, OzonRateLimitedError) else None
        seconds = retry_visibility_seconds(retry_after, receive_count, deps.clock, deps.rng)
        deps.queue.change_visibility(receipt_handle, seconds)
        deps.journal.count(message.run_id, retries=1)
        metrics.add_metric(name="OzonRetryableErrors", unit=MetricUnit.Count, value=1)
        logger.warning("price request will be retried", extra={
            "error": str(error), "receive_count": receive_count, "visibility_seconds": seconds})
        if receive_count >= deps.max_receive_count:
            # The last delivery before the dead-letter queue: journal the items as failed.
            outcome = Outcome()
            self._fail(message, message.items, f"DEAD_LETTER:{type(error).__name__}", str(error), outcome)
            deps.journal.count(message.run_id, items_failed=len(message.items), failed_by_code=outcome.failed)


def _update(item: PriceItem, settings: Settings) -> PriceUpdate:
    # A rollback also switches auto-actions off, so a promotion cannot pull the price down again.
    # NOTE: Ozon marked auto_action_enabled deprecated on 11 Sep 2026 (Ozon Seller API
    # changelog); the replacement for leaving auto-actions is not modelled yet.
    return PriceUpdate(offer_id=item.offer_id, price=item.price, old_price=item.old_price, min_price=item.min_price,
                       currency_code=item.currency_code, vat=item.vat,
                       min_price_for_auto_actions_enabled=True if settings.price_min_for_auto_actions else None,
                       auto_action_enabled="DISABLED" if item.rollback else None)


def _applied(state: PriceState | None, item: PriceItem, now: float) -> PriceState:
    state = state or PriceState()
    levels = Levels(Decimal(item.min_price), Decimal(item.price), Decimal(item.old_price))
    state.accepted = levels
    state.good = levels  # only guarded levels are ever queued, so applied ones are good
    state.changes = recent_changes(state.changes, now) + [now]
    return state
