"""Unit tests of mapping, scheduling and planning, on in-memory adapters."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from chalicelib.clock import ManualClock
from chalicelib.onec.models import StockExchange, StockOffer
from chalicelib.settings import Settings, WarehouseRoute
from chalicelib.stock.mapping import map_offers
from chalicelib.stock.planner import DESIRED_KEY, PlannerDeps, PlanningError, continue_plan, plan_exchange
from chalicelib.stock.messages import StockPlanContinuation, StockPushMessage
from chalicelib.stock.schedule import schedule_wave
from chalicelib.storage.blobs import InMemoryBlobStore
from chalicelib.storage.journal import InMemoryJournal
from chalicelib.storage.ledger import AcceptedStock, InMemoryStockLedger
from chalicelib.storage.queues import InMemoryQueue

WAREHOUSE = 22142605386000


def offer(onec_id: str, article: str | None, total: int | None = 5, by_warehouse=None, deleted=False,
          source: str = "offers.xml") -> StockOffer:
    return StockOffer(onec_id=onec_id, article=article, code=None, name=None, total=total,
                      by_warehouse=by_warehouse or {}, source=source, deleted=deleted)


def exchange(offers: list[StockOffer], only_changes: bool = False) -> StockExchange:
    return StockExchange(only_changes=only_changes, warehouses={}, _offers=iter(offers))


@dataclass
class Warehouse:
    warehouse_id: int
    status: str = "created"


@dataclass
class Row:
    offer_id: str
    reserved: int


class OzonStockTwin:
    """In-memory stand-in for the read side of the Ozon client."""

    def __init__(self, reserved: dict[str, int] | None = None, warehouses=(WAREHOUSE,)) -> None:
        self.reserved = reserved or {}
        self.warehouses = [Warehouse(w) for w in warehouses]

    def list_warehouses(self):
        return self.warehouses

    def iter_warehouse_stocks(self, warehouse_id: int, limit: int = 1000):
        return [Row(offer_id, count) for offer_id, count in self.reserved.items()]


@pytest.fixture
def deps_factory():
    def make(**overrides) -> PlannerDeps:
        values = dict(
            settings=Settings(), ledger=InMemoryStockLedger(), journal=InMemoryJournal(),
            push_queue=InMemoryQueue(), plan_queue=InMemoryQueue(), blobs=InMemoryBlobStore(),
            ozon=OzonStockTwin(), clock=ManualClock(), rng=random.Random(3))
        values.update(overrides)
        return PlannerDeps(**values)
    return make


def sent_items(queue: InMemoryQueue) -> list[dict]:
    return [item for message in queue.sent for item in message.body["items"]]


def test_mapping_reports_duplicate_offer_ids():
    # GIVEN two 1C offers with one article and a third with its own
    offers = [offer("a", "HC-1"), offer("b", "HC-1"), offer("c", "HC-2")]

    # WHEN they are mapped by article
    mapped = map_offers(offers, "article", [WarehouseRoute(ozon_warehouse_id=WAREHOUSE)])

    # THEN only the unique one becomes a pair, and both duplicates are reported by name
    assert mapped.on_hand == {(WAREHOUSE, "HC-2"): 5}
    assert [issue.offer for issue in mapped.issues] == ["a", "b"]
    assert all("'HC-1'" in issue.message for issue in mapped.issues)
    assert all("a, b" in issue.message for issue in mapped.issues)


def test_mapping_sums_routed_warehouses():
    offers = [offer("a", "HC-1", total=9, by_warehouse={"w1": 4, "w2": 3, "w3": 2})]
    routes = [WarehouseRoute(ozon_warehouse_id=1, onec_warehouses=["w1", "w2"]),
              WarehouseRoute(ozon_warehouse_id=2, onec_warehouses=["w3"]),
              WarehouseRoute(ozon_warehouse_id=3)]

    mapped = map_offers(offers, "article", routes)

    assert mapped.on_hand == {(1, "HC-1"): 7, (2, "HC-1"): 2, (3, "HC-1"): 9}


def test_mapping_zeroes_deleted_and_reports_missing_id():
    mapped = map_offers([offer("a", "HC-1", deleted=True), offer("b", None)], "article",
                        [WarehouseRoute(ozon_warehouse_id=WAREHOUSE)])

    assert mapped.on_hand == {(WAREHOUSE, "HC-1"): 0}
    assert mapped.issues[0].offer == "b"
    assert "OFFER_ID_SOURCE" in mapped.issues[0].message


def test_schedule_keeps_any_minute_under_rate():
    # GIVEN 400 requests at 75 a minute on a real-time clock
    wave = schedule_wave(400, 75, 900, ManualClock(), random.Random(1))

    # THEN no 60 s window contains more than 76 of them, and all fit before 900 s
    assert wave.remaining == 0
    delays = sorted(wave.delays)
    busiest = max(sum(1 for d in delays if start <= d < start + 60) for start in range(0, 330))
    assert busiest <= 76


def test_schedule_defers_what_passes_max_delay():
    wave = schedule_wave(2000, 75, 900, ManualClock(), random.Random(1))

    assert max(wave.delays) <= 900
    assert wave.remaining == 2000 - len(wave.delays)
    assert 1124 <= len(wave.delays) <= 1127


def test_schedule_scales_with_clock_speed():
    wave = schedule_wave(750, 75, 900, ManualClock(speed=10), random.Random(1))

    assert max(wave.delays) <= 60


def test_plan_subtracts_reserved_and_chunks_by_100(deps_factory):
    # GIVEN 250 offers with 5 units each, 2 of them reserved for one offer
    deps = deps_factory(ozon=OzonStockTwin(reserved={"HC-0003": 2, "HC-0004": 9}))
    offers = [offer(f"id{i}", f"HC-{i:04d}") for i in range(250)]

    # WHEN the exchange is planned
    result = plan_exchange(exchange(offers), "inbox/1c/x/", deps)

    # THEN 3 requests carry all 250 pairs, with reserved units taken off and never below 0
    assert result.requests_planned == 3
    assert [len(m.body["items"]) for m in deps.push_queue.sent] == [100, 100, 50]
    for message in deps.push_queue.sent:
        StockPushMessage.model_validate(message.body)
    stocks = {item["offer_id"]: item["stock"] for item in sent_items(deps.push_queue)}
    assert stocks["HC-0003"] == 3
    assert stocks["HC-0004"] == 0
    assert stocks["HC-0005"] == 5


def test_plan_sends_only_changed_pairs(deps_factory):
    # GIVEN a ledger that already contains the stock of 3 of 4 offers
    deps = deps_factory()
    for i in range(3):
        deps.ledger.items[(WAREHOUSE, f"HC-{i}")] = AcceptedStock(5, 1, 0.0)
    offers = [offer(f"id{i}", f"HC-{i}") for i in range(4)]

    # WHEN planned normally, then with --full
    changed = plan_exchange(exchange(offers), "x", deps)
    full = plan_exchange(exchange(offers), "x", deps, full=True)

    # THEN the normal run sends one pair and the full one all four
    assert changed.pairs_changed == 1
    assert full.pairs_changed == 4


def test_plan_unchanged_export_sends_nothing(deps_factory):
    deps = deps_factory()
    offers = [offer(f"id{i}", f"HC-{i}") for i in range(3)]
    plan_exchange(exchange(offers), "x", deps)
    deps.ledger.record([((WAREHOUSE, f"HC-{i}"), AcceptedStock(5, 1, 0.0)) for i in range(3)])
    deps.push_queue.sent.clear()

    result = plan_exchange(exchange(offers), "x", deps)

    assert result.requests_planned == 0
    assert deps.push_queue.sent == []


def test_change_package_keeps_unlisted_pairs(deps_factory):
    # GIVEN a full export of two offers, then a change package for one
    deps = deps_factory()
    plan_exchange(exchange([offer("a", "HC-1", total=5), offer("b", "HC-2", total=7)]), "x", deps)
    deps.push_queue.sent.clear()

    plan_exchange(exchange([offer("a", "HC-1", total=2)], only_changes=True), "y", deps)

    # THEN the desired state keeps HC-2 and only HC-1 is pushed
    desired = {o: q for _, o, q in deps.blobs.get_json(DESIRED_KEY)["pairs"]}
    assert desired == {"HC-1": 2, "HC-2": 7}
    assert [i["offer_id"] for i in sent_items(deps.push_queue)] == ["HC-1", "HC-2"]


def test_full_export_zeroes_vanished_offers(deps_factory):
    deps = deps_factory()
    plan_exchange(exchange([offer("a", "HC-1"), offer("b", "HC-2")]), "x", deps)
    deps.push_queue.sent.clear()

    plan_exchange(exchange([offer("a", "HC-1")]), "y", deps)

    assert {i["offer_id"]: i["stock"] for i in sent_items(deps.push_queue)} == {"HC-1": 5, "HC-2": 0}


def test_export_with_errors_keeps_vanished_offers(deps_factory):
    # GIVEN a second export where HC-2 is missing and another offer has a duplicate id
    deps = deps_factory()
    plan_exchange(exchange([offer("a", "HC-1"), offer("b", "HC-2")]), "x", deps)
    deps.push_queue.sent.clear()

    result = plan_exchange(exchange([offer("a", "HC-1"), offer("c", "HC-3"), offer("d", "HC-3")]), "y", deps)

    # THEN HC-2 keeps its 5 units instead of being zeroed, and a warning gives the reason
    assert {i["offer_id"]: i["stock"] for i in sent_items(deps.push_queue)}["HC-2"] == 5
    assert any("не обнуляются" in issue.message for issue in result.issues)


def test_long_run_continues_in_waves(deps_factory):
    # GIVEN a 60 s SQS delay cap and 200 requests at 75 a minute
    deps = deps_factory(settings=Settings(max_delay_seconds=60))
    offers = [offer(f"id{i}", f"HC-{i:05d}") for i in range(20_000)]

    result = plan_exchange(exchange(offers), "x", deps)

    # THEN the first wave contains about 76 requests and a continuation carries the rest
    assert result.requests_planned == 200
    first = len(deps.push_queue.sent)
    assert 74 <= first <= 77
    continuation = StockPlanContinuation.model_validate(deps.plan_queue.sent[0].body)
    assert continuation.offset == first
    assert deps.plan_queue.sent[0].delay_seconds == 60

    # WHEN the continuation fires, the next wave follows; nothing is dropped or sent twice
    while deps.plan_queue.sent:
        message = deps.plan_queue.sent.pop(0)
        continue_plan(StockPlanContinuation.model_validate(message.body), deps)
    offers_sent = [i["offer_id"] for i in sent_items(deps.push_queue)]
    assert len(offers_sent) == 20_000
    assert len(set(offers_sent)) == 20_000


def test_continuation_of_superseded_run_is_dropped(deps_factory):
    deps = deps_factory(settings=Settings(max_delay_seconds=60))
    plan_exchange(exchange([offer(f"id{i}", f"HC-{i:05d}") for i in range(20_000)]), "x", deps)
    continuation = StockPlanContinuation.model_validate(deps.plan_queue.sent[0].body)
    deps.journal.next_seq()
    deps.push_queue.sent.clear()

    assert continue_plan(continuation, deps) == 0
    assert deps.push_queue.sent == []


def test_planner_requires_routes_for_many_warehouses(deps_factory):
    deps = deps_factory(ozon=OzonStockTwin(warehouses=(1, 2)))

    with pytest.raises(PlanningError, match="WAREHOUSE_ROUTES"):
        plan_exchange(exchange([offer("a", "HC-1")]), "x", deps)
