"""Unit tests of the stock worker on in-memory adapters."""

from __future__ import annotations

import random

import pytest

from chalicelib.alerts import InMemoryNotifier
from chalicelib.clock import ManualClock
from chalicelib.ozon.errors import OzonAuthError, OzonRateLimitedError, OzonRequestError, OzonServerError
from chalicelib.ozon.models import ItemError, StockUpdateResult
from chalicelib.settings import Settings
from chalicelib.stock.messages import StockPushMessage
from chalicelib.stock.worker import StockWorker, WorkerDeps
from chalicelib.storage.journal import InMemoryJournal
from chalicelib.storage.ledger import InMemoryStockLedger
from chalicelib.storage.limiter import BucketSpec, InMemoryRateLimiter
from chalicelib.storage.queues import InMemoryQueue

WAREHOUSE = 22142605386000


class OzonWriterTwin:
    """Answers `update_stocks` from a per-offer table of errors, or raises what it is given."""

    def __init__(self, item_errors: dict[str, str] | None = None, raise_error: Exception | None = None):
        self.item_errors = item_errors or {}
        self.raise_error = raise_error
        self.calls: list[list] = []

    def update_stocks(self, items):
        self.calls.append(list(items))
        if self.raise_error:
            raise self.raise_error
        return [
            StockUpdateResult(offer_id=i.offer_id, warehouse_id=i.warehouse_id, product_id=1,
                              updated=i.offer_id not in self.item_errors,
                              errors=[ItemError(code=self.item_errors[i.offer_id], message="x")]
                              if i.offer_id in self.item_errors else [])
            for i in items
        ]


@pytest.fixture
def worker_factory():
    def make(ozon: OzonWriterTwin, **overrides):
        clock = ManualClock()
        values = dict(
            settings=Settings(), ledger=InMemoryStockLedger(), journal=InMemoryJournal(),
            queue=InMemoryQueue(), ozon=ozon,
            limiter=InMemoryRateLimiter({"stocks": BucketSpec(75 / 60, 5)}, clock),
            notifier=InMemoryNotifier(), clock=clock, rng=random.Random(5))
        values.update(overrides)
        deps = WorkerDeps(**values)
        deps.journal.next_seq()
        return StockWorker(deps), deps
    return make


def message(offers: list[str], seq: int = 1, attempt: int = 0) -> dict:
    return StockPushMessage(run_id="r1", seq=seq, attempt=attempt,
                            items=[{"offer_id": o, "warehouse_id": WAREHOUSE, "stock": 3} for o in offers]).model_dump()


def test_applied_items_reach_ledger(worker_factory):
    worker, deps = worker_factory(OzonWriterTwin())

    outcome = worker.handle(message(["A", "B"]), "rh", 1)

    assert outcome["applied"] == 2
    assert deps.ledger.items[(WAREHOUSE, "A")].quantity == 3
    assert deps.journal.counters["r1"]["requests_sent"] == 1


def test_rate_error_items_requeued_after_30s(worker_factory):
    # GIVEN Ozon refuses B with the 30 s per-pair rule and C as unknown
    worker, deps = worker_factory(OzonWriterTwin({"B": "TOO_MANY_REQUESTS", "C": "NOT_FOUND_ERROR"}))

    outcome = worker.handle(message(["A", "B", "C"]), "rh", 1)

    # THEN B is queued again alone, at least 30 s later, and C is journaled for good
    again = deps.queue.sent[0]
    assert [i["offer_id"] for i in again.body["items"]] == ["B"]
    assert again.body["attempt"] == 1
    assert again.delay_seconds >= 30
    assert outcome["failed"] == {"NOT_FOUND_ERROR": 1}
    assert [f.offer_id for f in deps.journal.failures("r1")] == ["C"]


def test_rate_errors_give_up_after_max_attempts(worker_factory):
    worker, deps = worker_factory(OzonWriterTwin({"B": "TOO_MANY_REQUESTS"}), settings=Settings(max_item_attempts=3))

    outcome = worker.handle(message(["B"], attempt=2), "rh", 1)

    assert deps.queue.sent == []
    assert outcome["failed"] == {"RETRIES_EXHAUSTED:TOO_MANY_REQUESTS": 1}


def test_429_stretches_visibility_and_raises(worker_factory):
    worker, deps = worker_factory(OzonWriterTwin(raise_error=OzonRateLimitedError(
        "/v2/products/stocks", 429, "RESOURCE_EXHAUSTED", "slow down", retry_after=7)))

    with pytest.raises(OzonRateLimitedError):
        worker.handle(message(["A"]), "rh-1", 1)

    assert deps.queue.visibility == {"rh-1": 7}
    assert deps.ledger.items == {}


def test_last_receive_journals_dead_letter(worker_factory):
    worker, deps = worker_factory(OzonWriterTwin(raise_error=OzonServerError("/v2/products/stocks", 502)))

    with pytest.raises(OzonServerError):
        worker.handle(message(["A", "B"]), "rh", 5)

    codes = {f.code for f in deps.journal.failures("r1")}
    assert codes == {"DEAD_LETTER:OzonServerError"}


def test_request_error_fails_every_item(worker_factory):
    worker, deps = worker_factory(OzonWriterTwin(raise_error=OzonRequestError("/v2/products/stocks", 400, 3, "bad")))

    outcome = worker.handle(message(["A", "B"]), "rh", 1)

    assert outcome["failed"] == {"3": 2}


def test_auth_error_alerts_in_russian(worker_factory):
    worker, deps = worker_factory(OzonWriterTwin(raise_error=OzonAuthError("/v2/products/stocks", 403, 7, "denied")))

    with pytest.raises(OzonAuthError):
        worker.handle(message(["A"]), "rh", 1)

    assert "Ozon отклонил ключ API" in deps.notifier.sent[0]


def test_superseded_message_is_dropped(worker_factory):
    # GIVEN a newer planning run exists
    ozon = OzonWriterTwin()
    worker, deps = worker_factory(ozon)
    deps.journal.next_seq()

    # WHEN a message of the older run arrives
    outcome = worker.handle(message(["A"], seq=1), "rh", 1)

    # THEN nothing is sent to Ozon
    assert ozon.calls == []
    assert outcome["superseded"] == 1
