"""Benchmark of price planning: 100,000 SKUs through read-back, formula, rules, guard and diff.

Builds an in-memory price store (three category rules, `--skus` matrix rows) in which
a share of SKUs already has its computed levels in Ozon, so only the rest changes.
A read-back source builds every SKU's prices as client models while planning reads them,
as the client does when it parses Ozon's pages, so that cost is in the timing. The planning call itself (`plan_prices`) is timed with
`time.process_time` (CPU seconds of this process). Memory is reported two ways: the
process's peak resident set (`ru_maxrss`, which includes the generated inputs) and the
peak Python heap allocated during planning alone (`tracemalloc`, in a second run,
because tracing slows it down). Requests are the push messages queued, against the
minimum ceil(changed / 1000).

Usage: python -m bench.price_plan [--skus 100000] [--changed-share 0.3]
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import time
import tracemalloc
from decimal import Decimal

from chalicelib.alerts import InMemoryNotifier
from chalicelib.clock import ManualClock
from chalicelib.ozon.prices import ProductPrices
from chalicelib.prices.formula import CostInputs, PricingRule
from chalicelib.prices.journal import InMemoryPriceJournal
from chalicelib.prices.planner import PlannerDeps, plan_prices, policy_of
from chalicelib.prices.pricing import price_sku
from chalicelib.prices.store import InMemoryPriceStore, PriceState
from chalicelib.settings import Settings
from chalicelib.storage.queues import InMemoryQueue

RULES = [PricingRule("household", 1, Decimal("12"), Decimal("35"), Decimal("70"), "ending90"),
         PricingRule("cosmetics", 1, Decimal("15"), Decimal("45"), Decimal("90"), "rouble"),
         PricingRule("garden", 1, Decimal("8"), Decimal("25"), Decimal("40"), "kopeck")]


class ListReader:
    """Ozon's read-back: one client model per SKU, built as it is read."""

    def __init__(self, rows: list[tuple[str, Decimal, Decimal, Decimal]]) -> None:
        self.rows = rows

    def iter_prices(self, offer_ids=None, limit: int = 1000):
        for number, (offer_id, min_price, price, old_price) in enumerate(self.rows, start=1):
            yield ProductPrices.model_validate({"offer_id": offer_id, "product_id": number, "price": {
                "price": float(price), "old_price": float(old_price), "min_price": float(min_price)}})


def build(skus: int, changed_share: float, seed: int = 1) -> tuple[InMemoryPriceStore, ListReader]:
    rng = random.Random(seed)
    store = InMemoryPriceStore()
    for rule in RULES:
        store.add_rule(rule)
    rows = [CostInputs(f"SKU-{n:06d}", Decimal(rng.randint(4000, 400000)) / 100, Decimal(rng.randint(20, 150)),
                       Decimal(rng.choice([12, 15, 18])), Decimal("1.5"), Decimal("0.2"), "RUB",
                       RULES[n % len(RULES)].category) for n in range(skus)]
    store.put_inputs(rows)

    policy = policy_of(Settings())
    products = []
    for row in rows:
        levels = price_sku(row, store.rules[row.category][1], policy).computation.levels
        if rng.random() < changed_share:
            levels = type(levels)(levels.min_price, levels.price - 1, levels.old_price)
        store.state_rows[row.offer_id] = PriceState(accepted=levels, good=levels)
        products.append((row.offer_id, levels.min_price, levels.price, levels.old_price))
    return store, ListReader(products)


def plan_once(store: InMemoryPriceStore, reader: ListReader) -> tuple[object, InMemoryQueue]:
    queue = InMemoryQueue()
    deps = PlannerDeps(Settings(), store, InMemoryPriceJournal(), queue, reader, InMemoryNotifier(), ManualClock(),
                       random.Random(2))
    return plan_prices(deps), queue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=100_000, help="SKUs in the matrix (default 100000)")
    parser.add_argument("--changed-share", type=float, default=0.3,
                        help="share of SKUs whose Ozon prices differ from the computed ones (default 0.3)")
    args = parser.parse_args()

    store, reader = build(args.skus, args.changed_share)
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    plan, queue = plan_once(store, reader)
    cpu, wall = time.process_time() - cpu_started, time.perf_counter() - wall_started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    tracemalloc.start()
    plan_once(store, reader)
    heap_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    pushes = sum(1 for m in queue.sent if m.body["kind"] == "price.push")
    print(f"skus {plan.skus_total}, changed {plan.skus_changed}, blocked {len(plan.blocked)}")
    print(f"planning CPU {cpu:.2f} s (wall {wall:.2f} s)")
    print(f"peak RSS of the process {rss_mb:.0f} MB, peak heap during planning {heap_mb:.0f} MB")
    print(f"requests {pushes}, minimum ceil(changed/1000) {math.ceil(plan.skus_changed / 1000)}")


if __name__ == "__main__":
    main()
