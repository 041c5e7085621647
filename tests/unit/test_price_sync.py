"""The price planner and worker on in-memory adapters, against the sandbox's price desk.

`SandboxPrices` calls the sandbox's price handlers in-process and parses their results
with the client's models, so every item goes through Ozon's rules as the sandbox
enforces them.
"""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from chalicelib.alerts import InMemoryNotifier
from chalicelib.clock import ManualClock
from chalicelib.observability import SERVICE
from chalicelib.ozon.errors import OzonServerError
from chalicelib.ozon.prices import PriceUpdateResponse, ProductPricesPage
from chalicelib.prices.formula import CostInputs, PricingRule
from chalicelib.prices.guard import cost_floor
from chalicelib.prices.journal import InMemoryPriceJournal
from chalicelib.prices.planner import PlannerDeps, plan_prices
from chalicelib.prices.store import InMemoryPriceStore
from chalicelib.prices.worker import PriceWorker, WorkerDeps
from chalicelib.settings import Settings
from chalicelib.storage.limiter import BucketSpec, InMemoryRateLimiter
from chalicelib.storage.queues import InMemoryQueue
from local.sandbox import prices as sandbox_prices
from local.sandbox.state import Sandbox

HOUSEHOLD = PricingRule("household", 1, D("10"), D("35"), D("70"), "rouble")


class SandboxPrices:
    """The Ozon price methods of an in-process sandbox, returned as the client's models."""

    def __init__(self, sandbox: Sandbox, fail_with: Exception | None = None) -> None:
        self.sandbox = sandbox
        self.fail_with = fail_with
        self.sent: list[dict] = []

    def import_prices(self, items):
        if self.fail_with is not None:
            raise self.fail_with
        body = {"prices": [item.to_request() for item in items]}
        self.sent.extend(body["prices"])
        return PriceUpdateResponse.model_validate(sandbox_prices.import_prices(self.sandbox, body)).result

    def iter_prices(self, offer_ids=None, limit: int = 1000):
        cursor = ""
        while True:
            body = {"filter": {"visibility": "ALL"}, "limit": limit, "cursor": cursor}
            page = ProductPricesPage.model_validate(sandbox_prices.product_info_prices(self.sandbox, body))
            yield from page.items
            if not (page.cursor and page.items):
                return
            cursor = page.cursor


class Pipeline:
    """Planner and worker sharing one store, journal, queue, notifier and sandbox."""

    def __init__(self, offer_ids: list[str], settings: Settings | None = None, **ozon_options) -> None:
        self.clock = ManualClock()
        self.sandbox = Sandbox(("7654321", "unit-test-key-0001"), clock=self.clock)
        self.sandbox.seed(offer_ids)
        self.desk = sandbox_prices.price_desk(self.sandbox)
        self.ozon = SandboxPrices(self.sandbox, **ozon_options)
        self.settings = settings or Settings()
        self.store = InMemoryPriceStore()
        self.store.add_rule(HOUSEHOLD)
        self.journal = InMemoryPriceJournal()
        self.queue = InMemoryQueue()
        self.notifier = InMemoryNotifier()
        limiter = InMemoryRateLimiter({"global": BucketSpec(40, 10)}, self.clock)
        self.worker = PriceWorker(WorkerDeps(self.settings, self.store, self.journal, self.queue, self.ozon, limiter,
                                             self.notifier, self.clock, random.Random(3)))

    def costs(self, costs: dict[str, str], category: str = "household", currency: str = "RUB") -> None:
        self.store.put_inputs([CostInputs(o, D(c), D("20"), D("15"), D("1.5"), D("0.2"), currency, category)
                               for o, c in costs.items()])

    def plan(self, **options):
        deps = PlannerDeps(self.settings, self.store, self.journal, self.queue, self.ozon, self.notifier,
                           self.clock, random.Random(1))
        return plan_prices(deps, **options)

    def drain(self, kinds: tuple[str, ...] = ("price.push", "price.verify")) -> list[dict]:
        """Hand every queued message to the worker, oldest first; returns the outcomes."""
        outcomes = []
        while any(m.body["kind"] in kinds for m in self.queue.sent):
            message = next(m for m in self.queue.sent if m.body["kind"] in kinds)
            self.queue.sent.remove(message)
            outcomes.append(self.worker.handle(message.body, "receipt", 1))
        return outcomes


def offers(count: int) -> list[str]:
    return [f"PH-{n:05d}" for n in range(count)]


def test_plan_sends_changed_only():
    # GIVEN 30 priced SKUs synced once
    pipeline = Pipeline(offers(30))
    pipeline.costs({o: "100" for o in offers(30)})
    first = pipeline.plan()
    pipeline.drain()

    # WHEN costs of 5 SKUs change and the next run plans
    pipeline.costs({o: "150" for o in offers(5)})
    second = pipeline.plan()

    # THEN the first run sent all 30 and the second only the 5 changed ones
    assert first.skus_changed == 30
    assert second.skus_changed == 5
    assert second.requests_planned == 1


def test_levels_reach_sandbox():
    pipeline = Pipeline(offers(3))
    pipeline.costs({"PH-00000": "1000"})
    pipeline.plan()
    pipeline.drain()

    offer = pipeline.desk.offers["PH-00000"]
    assert offer.min_price < offer.price < offer.old_price
    assert pipeline.journal.counters(next(iter(pipeline.journal.runs)))["items_applied"] == 1


def test_requests_hold_1000_items():
    # GIVEN 2,500 SKUs to price
    pipeline = Pipeline(offers(2500))
    pipeline.costs({o: "100" for o in offers(2500)})

    # WHEN planned
    plan = pipeline.plan()

    # THEN three requests of at most 1000 items, then one read-back message
    pushes = [m for m in pipeline.queue.sent if m.body["kind"] == "price.push"]
    assert plan.requests_planned == 3
    assert [len(m.body["items"]) for m in pushes] == [1000, 1000, 500]
    assert pipeline.queue.sent[-1].body["kind"] == "price.verify"
    assert pipeline.queue.sent[-1].delay_seconds >= max(m.delay_seconds for m in pushes)


def test_items_are_ozon_strings():
    pipeline = Pipeline(offers(1))
    pipeline.costs({"PH-00000": "1499.90"})
    pipeline.plan()
    pipeline.drain()

    sent = pipeline.ozon.sent[0]
    assert set(sent) >= {"offer_id", "price", "old_price", "min_price", "currency_code", "vat"}
    assert "premium_price" not in sent
    assert all(isinstance(sent[name], str) for name in ("price", "old_price", "min_price", "vat"))
    assert sent["currency_code"] == "RUB"
    assert sent["vat"] == "0.2"


def test_block_keeps_last_good_prices():
    # GIVEN a SKU synced at cost 100
    pipeline = Pipeline(offers(2))
    pipeline.costs({"PH-00000": "100", "PH-00001": "100"})
    pipeline.plan()
    pipeline.drain()
    good_price = pipeline.desk.offers["PH-00000"].price

    # WHEN a new rule version sells 50% under landed cost
    pipeline.store.add_rule(PricingRule("household", 2, D("-60"), D("-50"), D("0"), "rouble"))
    plan = pipeline.plan()
    pipeline.drain()

    # THEN both SKUs are blocked, keep their prices, are journaled and alerted once each
    assert sorted(plan.blocked) == ["PH-00000", "PH-00001"]
    assert pipeline.desk.offers["PH-00000"].price == good_price
    events = pipeline.journal.events(plan.run_id, "block")
    assert {e.offer_id for e in events} == {"PH-00000", "PH-00001"}
    assert events[0].detail["cost"] == "100"
    assert events[0].detail["rule"] == "household v2"
    assert {"min_price", "price", "old_price"} <= set(events[0].detail)
    alerts = [text for text in pipeline.notifier.sent if "не отправлена" in text]
    assert len(alerts) == 2
    assert any("PH-00000" in text for text in alerts)


def test_rules_fired_logged(caplog):
    # GIVEN a rule whose old_price margin leaves too small a gap
    pipeline = Pipeline(offers(2))
    pipeline.store.add_rule(PricingRule("household", 2, D("10"), D("30"), D("31"), "rouble"))
    pipeline.costs({"PH-00000": "1000", "PH-00001": "1000"})

    # WHEN planned
    with caplog.at_level("INFO", logger=SERVICE):
        pipeline.plan()

    # THEN the run's log line counts the Ozon rule that fired
    record = next(r for r in caplog.records if r.getMessage() == "price run planned")
    assert record.ozon_rules_fired == {"old_price_gap_400_to_10000": 2}


def test_bad_inputs_rejected_per_sku():
    # GIVEN one good SKU, one of an unknown category and one in another currency
    pipeline = Pipeline(offers(3))
    pipeline.costs({"PH-00000": "100"})
    pipeline.costs({"PH-00001": "100"}, category="garden")
    pipeline.costs({"PH-00002": "100"}, currency="USD")

    plan = pipeline.plan()

    # THEN the bad ones are rejected with messages naming SKU and value, the good one goes
    events = {e.offer_id: e for e in pipeline.journal.events(plan.run_id, "input")}
    assert sorted(events) == ["PH-00001", "PH-00002"]
    assert "PH-00001" in events["PH-00001"].message
    assert "'garden'" in events["PH-00001"].message
    assert "USD" in events["PH-00002"].message
    assert plan.skus_changed == 1


def test_budget_defers_eleventh_change():
    # GIVEN a SKU whose cost changes 11 times within an hour
    pipeline = Pipeline(offers(1))
    plans = []
    for step in range(11):
        pipeline.costs({"PH-00000": str(100 + 10 * step)})
        plans.append(pipeline.plan())
        pipeline.drain()
        pipeline.clock.advance(60)

    # THEN ten changes are applied and the eleventh waits for the next window
    assert len(pipeline.desk.offers["PH-00000"].changes) == 10
    assert plans[-1].deferred == 1

    # WHEN the hour has passed THEN the latest target goes out
    pipeline.clock.advance(3600)
    last = pipeline.plan()
    pipeline.drain()
    assert last.skus_changed == 1
    assert pipeline.desk.offers["PH-00000"].changes[-1] == pipeline.clock.now()


def test_pending_changes_coalesce():
    # GIVEN two runs planned before any worker ran, with different costs
    pipeline = Pipeline(offers(1))
    pipeline.costs({"PH-00000": "100"})
    pipeline.plan(read_back_first=False)
    pipeline.costs({"PH-00000": "200"})
    pipeline.plan(read_back_first=False)

    # WHEN the workers run
    outcomes = pipeline.drain(("price.push",))

    # THEN the older run's message is dropped and only the latest target is applied
    assert outcomes[0]["superseded"] == 1
    assert len(pipeline.desk.history["PH-00000"]) == 1
    assert pipeline.desk.offers["PH-00000"].min_price >= 200


def test_promotion_below_cost_rolls_back():
    # GIVEN a synced SKU and an auto-action promotion of 70% that ignores min_price
    pipeline = Pipeline(offers(2))
    pipeline.costs({"PH-00000": "1000", "PH-00001": "1000"})
    pipeline.plan()
    pipeline.drain()
    pipeline.desk.set_promotion("PH-00000", "70", ignores_min_price=True)
    assert pipeline.desk.selling_price("PH-00000") < 970

    # WHEN the next run reads prices back
    plan = pipeline.plan()
    pipeline.drain()

    # THEN the SKU is rolled back to its good levels with auto-actions off, once
    assert plan.rolled_back == 1
    assert pipeline.desk.selling_price("PH-00000") >= 970
    assert pipeline.desk.offers["PH-00000"].auto_action_enabled is False
    assert [e.offer_id for e in pipeline.journal.events(plan.run_id, "rollback")] == ["PH-00000"]
    assert sum("PH-00000" in text for text in pipeline.notifier.sent) == 1


def test_rollback_never_superseded():
    # GIVEN a rollback queued by a read-back, and a newer run planned before it is sent
    pipeline = Pipeline(offers(1))
    pipeline.costs({"PH-00000": "1000"})
    pipeline.plan()
    pipeline.drain()
    pipeline.desk.set_promotion("PH-00000", "70", ignores_min_price=True)
    pipeline.plan()
    pipeline.costs({"PH-00000": "1000.50"})
    pipeline.plan(read_back_first=False)

    # WHEN the workers run
    pipeline.drain()

    # THEN the rollback was applied all the same
    assert pipeline.desk.selling_price("PH-00000") >= 970


def test_rollback_is_idempotent():
    # GIVEN a promotion that auto-actions do not control, so a rollback cannot end it
    pipeline = Pipeline(offers(1))
    pipeline.costs({"PH-00000": "1000"})
    pipeline.plan()
    pipeline.drain()
    pipeline.desk.set_promotion("PH-00000", "70", ignores_min_price=True, auto_action=False)

    # WHEN two runs read the same prices back
    first = pipeline.plan()
    pipeline.drain()
    second = pipeline.plan()
    pipeline.drain()

    # THEN one rollback and one alert, not one per run
    assert first.rolled_back == 1
    assert second.rolled_back == 0
    assert sum("PH-00000" in text for text in pipeline.notifier.sent) == 1


def test_item_errors_journaled():
    # GIVEN a SKU the sandbox does not list
    pipeline = Pipeline(offers(1))
    pipeline.costs({"PH-00000": "100", "UNLISTED-1": "100"})
    plan = pipeline.plan()
    pipeline.drain()

    failures = pipeline.journal.events(plan.run_id, "fail")
    assert [f.offer_id for f in failures] == ["UNLISTED-1"]
    assert failures[0].detail["code"] == "NOT_FOUND_ERROR"
    assert pipeline.journal.counters(plan.run_id)["failed:NOT_FOUND_ERROR"] == 1


def test_server_error_retried():
    # GIVEN Ozon returns HTTP 503
    pipeline = Pipeline(offers(1), fail_with=OzonServerError("/v1/product/import/prices", 503, message="down"))
    pipeline.costs({"PH-00000": "100"})
    pipeline.plan(read_back_first=False)
    message = next(m for m in pipeline.queue.sent if m.body["kind"] == "price.push")

    # WHEN the worker handles the message THEN it raises and stretches the visibility
    with pytest.raises(OzonServerError):
        pipeline.worker.handle(message.body, "receipt-1", 2)
    assert pipeline.queue.visibility["receipt-1"] >= 1


def test_dead_letter_journaled():
    pipeline = Pipeline(offers(1), fail_with=OzonServerError("/v1/product/import/prices", 503, message="down"))
    pipeline.costs({"PH-00000": "100"})
    plan = pipeline.plan(read_back_first=False)
    message = next(m for m in pipeline.queue.sent if m.body["kind"] == "price.push")

    with pytest.raises(OzonServerError):
        pipeline.worker.handle(message.body, "receipt-1", 5)

    assert [e.detail["code"] for e in pipeline.journal.events(plan.run_id, "fail")] == ["DEAD_LETTER:OzonServerError"]


# ---------------------------------------------------------------- property


money = st.decimals(min_value=D("1"), max_value=D("50000"), places=2)
margins = st.decimals(min_value=D("-60"), max_value=D("150"), places=1)
percent = st.decimals(min_value=D("0"), max_value=D("30"), places=1)
sku_inputs = st.tuples(money, st.decimals(min_value=D("0"), max_value=D("500"), places=2), percent, percent,
                       st.sampled_from(["0", "0.1", "0.2", "0.22"]),
                       st.one_of(st.none(), st.tuples(st.integers(1, 95), st.booleans())))


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(skus=st.lists(sku_inputs, min_size=1, max_size=8),
       rule=st.tuples(margins, margins, margins, st.sampled_from(["kopeck", "rouble", "ending90"])),
       gap_policy=st.sampled_from(["raise", "clear"]))
def test_guard_property(skus, rule, gap_policy):
    # GIVEN random costs, fees, a random rule and random promotions
    ids = offers(len(skus))
    pipeline = Pipeline(ids, Settings(price_old_gap_policy=gap_policy))
    pipeline.store.add_rule(PricingRule("household", 2, *rule))
    pipeline.store.put_inputs([CostInputs(o, cost, logistics, fee, acquiring, D(vat), "RUB", "household")
                               for o, (cost, logistics, fee, acquiring, vat, _) in zip(ids, skus)])

    # WHEN two runs plan and push, with promotions starting in between
    plans = [pipeline.plan()]
    pipeline.drain()
    for offer_id, (*_, promotion) in zip(ids, skus):
        if promotion is not None:
            pipeline.desk.set_promotion(offer_id, str(promotion[0]), ignores_min_price=promotion[1])
    alerts_before = len(pipeline.notifier.sent)
    plans.append(pipeline.plan())
    pipeline.drain()

    # THEN no level sent is more than 3% below its SKU's cost
    costs = dict(zip(ids, (s[0] for s in skus)))
    for item in pipeline.ozon.sent:
        floor = cost_floor(costs[item["offer_id"]], D(3))
        for name in ("min_price", "price"):
            assert D(item[name]) >= floor, item
        assert D(item["old_price"]) == 0 or D(item["old_price"]) >= floor, item

    # AND every blocked SKU got exactly one block alert in its run
    for plan, texts in ((plans[0], pipeline.notifier.sent[:alerts_before]),
                        (plans[1], pipeline.notifier.sent[alerts_before:])):
        block_alerts = [t for t in texts if "не отправлена" in t]
        assert len(block_alerts) == len(plan.blocked)
        for offer_id in plan.blocked:
            assert sum(f"товара {offer_id} " in t for t in block_alerts) == 1
