"""The price sync on the local stack: input files, a run, and its report.

    files = write_price_inputs(folder, offer_ids)
    load_price_inputs(files)          # rules and matrix into the stack's prices table
    report = run_prices(stack)        # fire the schedule, wait until the pipeline is idle

The generated inputs contain a few deliberate problems, so a run shows every outcome.
A cost of NaN and a SKU of an unknown category are rejected. The `clearance` category's
rule prices under cost, so the guard blocks its SKUs.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Sequence

from chalicelib.prices import wiring as price_wiring
from chalicelib.prices.formula import PricingRule
from chalicelib.prices.journal import Event
from chalicelib.prices.loader import LoadResult, load_matrix

RULES = (
    PricingRule("household", 1, Decimal("12"), Decimal("35"), Decimal("70"), "ending90", "bundled local rule"),
    PricingRule("cosmetics", 1, Decimal("15"), Decimal("45"), Decimal("90"), "rouble", "bundled local rule"),
    # Sells 75-80% under landed cost: with the short logistics leg its SKUs get, every one
    # of them is priced more than 3% under cost and blocked by the guard.
    PricingRule("clearance", 1, Decimal("-80"), Decimal("-75"), Decimal("0"), "rouble", "bundled loss-making rule"),
)


@dataclass
class PriceInputs:
    operator_csv: Path
    costs_csv: Path
    blocked_offer_ids: list[str]
    rejected_offer_ids: list[str]


@dataclass
class PriceReport:
    """The counters and events of one price run, from the price journal."""

    run_id: str
    skus_total: int
    planned: int
    requests_planned: int
    requests_sent: int
    items_sent: int
    applied: int
    failed: int
    blocked: int
    rolled_back: int
    deferred: int
    input_errors: int
    failed_by_code: dict[str, int]
    elapsed_seconds: float
    events: list[Event] = field(default_factory=list)


def write_price_inputs(folder: Path, offer_ids: Sequence[str], *, seed: int = 7,
                       clearance_share: float = 0.01) -> PriceInputs:
    """Write an operator CSV and a cost CSV for `offer_ids`, with a few bad rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    operator = ["offer_id;category;logistics;fee_percent;acquiring_percent;vat;currency"]
    costs = ["offer_id;cost"]
    blocked, rejected = [], []
    for index, offer_id in enumerate(offer_ids):
        category = "household" if index % 3 else "cosmetics"
        if rng.random() < clearance_share:
            category = "clearance"
            blocked.append(offer_id)
        cost = f"{rng.randint(40, 4000)},{rng.choice(['00', '50', '90'])}"
        if index == 5:
            cost, category = "NaN", "household"
            rejected.append(offer_id)
        if index == 6:
            category = "garden"
            rejected.append(offer_id)
        logistics = 20 if category == "clearance" else rng.randint(20, 120)
        operator.append(f"{offer_id};{category};{logistics};{rng.choice([12, 15, 18])};1,5;0.2;RUB")
        costs.append(f"{offer_id};{cost}")
    blocked = [o for o in blocked if o not in rejected]
    operator_csv, costs_csv = folder / "operator.csv", folder / "costs.csv"
    operator_csv.write_text("\n".join(operator) + "\n", encoding="utf-8")
    costs_csv.write_text("\n".join(costs) + "\n", encoding="utf-8")
    return PriceInputs(operator_csv, costs_csv, blocked, rejected)


def load_price_inputs(inputs: PriceInputs) -> LoadResult:
    """Store the bundled rules (first versions only) and the matrix in the stack's prices table."""
    store = price_wiring.store()
    known = store.load().rules
    for rule in RULES:
        if rule.category not in known:
            store.add_rule(rule)
    return load_matrix(store, inputs.operator_csv, costs_csv=inputs.costs_csv)


def run_prices(stack, *, timeout: float = 300.0) -> PriceReport:
    """Fire the price schedule on `stack` and wait until the pushes and read-backs are done."""
    started = time.monotonic()
    result = stack.pump.fire_schedule("price_schedule")
    if not stack.pump.run_until_idle(timeout=timeout, idle_for=1.5):
        raise TimeoutError(f"the price run did not finish within {timeout:.0f} s; pump stats: {stack.pump.stats()}")
    return price_report(result["run_id"], time.monotonic() - started)


def price_report(run_id: str, elapsed: float) -> PriceReport:
    journal = price_wiring.journal()
    counters = journal.counters(run_id) or {}
    failed_by_code = {key.removeprefix("failed:"): value for key, value in counters.items()
                      if key.startswith("failed:")}
    return PriceReport(
        run_id=run_id, skus_total=counters.get("skus_total", 0), planned=counters.get("skus_changed", 0),
        requests_planned=counters.get("requests_planned", 0), requests_sent=counters.get("requests_sent", 0),
        items_sent=counters.get("items_sent", 0), applied=counters.get("items_applied", 0),
        failed=counters.get("items_failed", 0), blocked=counters.get("blocked", 0),
        rolled_back=counters.get("rolled_back", 0), deferred=counters.get("deferred", 0),
        input_errors=counters.get("input_errors", 0), failed_by_code=failed_by_code, elapsed_seconds=elapsed,
        events=journal.events(run_id))


def run_price_sync(stack, exchange_files: Sequence[Path], folder: Path, *, promotions: int = 3,
                   timeout: float = 600.0) -> list[PriceReport]:
    """`make run`'s price part: price the exchange's offers, then roll back a few promotions.

    The first run prices every offer. Then `promotions` priced SKUs get an auto-action
    promotion that ignores min_price and sells them far under cost, and the second run
    reads prices back and rolls them back. Prints one summary for both runs.
    """
    from local.sandbox.prices import price_desk

    offer_ids = sorted({offer_id for _, offer_id in stack.expected_on_hand(exchange_files)})
    inputs = write_price_inputs(folder / "prices", offer_ids)
    loaded = load_price_inputs(inputs)
    first = run_prices(stack, timeout=timeout)

    desk = price_desk(stack.sandbox)
    for offer_id in [o for o in offer_ids if o in desk.offers][:promotions]:
        desk.set_promotion(offer_id, "80", ignores_min_price=True)
    second = run_prices(stack, timeout=timeout)
    print_price_summary([first, second], len(loaded.issues))
    return [first, second]


def print_price_summary(reports: Sequence[PriceReport], input_errors: int) -> None:
    failed: dict[str, int] = {}
    for report in reports:
        for code, count in report.failed_by_code.items():
            failed[code] = failed.get(code, 0) + count
    rows = [
        ("price runs", ", ".join(report.run_id for report in reports)),
        ("price input errors", input_errors + sum(report.input_errors for report in reports)),
        ("prices planned", sum(report.planned for report in reports)),
        ("price requests sent", sum(report.requests_sent for report in reports)),
        ("prices sent", sum(report.items_sent for report in reports)),
        ("prices applied", sum(report.applied for report in reports)),
        ("prices failed by code", ", ".join(f"{c} {n}" for c, n in sorted(failed.items())) or "none"),
        ("blocked by the guard", reports[0].blocked),
        ("rolled back", sum(report.rolled_back for report in reports)),
        ("price time", f"{sum(report.elapsed_seconds for report in reports):.1f} s"),
    ]
    for name, value in rows:
        print(f"{name:>22}: {value}")
