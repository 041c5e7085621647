"""The price pipeline on the local stack: moto server, the Ozon sandbox's price desk, the pump."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from chalicelib.prices import wiring as price_wiring
from chalicelib.prices.guard import cost_floor
from chalicelib.prices.planner import policy_of
from chalicelib.prices.pricing import price_sku
from local.price_run import load_price_inputs, run_prices, write_price_inputs
from local.sandbox.prices import price_desk

pytestmark = pytest.mark.integration

# Fast read-backs: 10 virtual seconds after the last push.
ENVIRONMENT = {"PRICE_READBACK_DELAY_SECONDS": "10"}


def start(stack_factory, tmp_path, count: int, missing: int = 0):
    stack = stack_factory(clock_speed=20, environment=ENVIRONMENT)
    offer_ids = [f"PH-{n:05d}" for n in range(count)]
    stack.sandbox.seed(offer_ids[missing:])
    inputs = write_price_inputs(tmp_path / "prices", offer_ids, clearance_share=0.02)
    loaded = load_price_inputs(inputs)
    return stack, offer_ids, inputs, loaded


def test_price_run_pushes_and_blocks(stack_factory, tmp_path):
    # GIVEN 1,200 SKUs, 3 of them unknown to Ozon, 2 with bad inputs and ~2% priced under cost
    stack, offer_ids, inputs, loaded = start(stack_factory, tmp_path, 1200, missing=3)

    # WHEN the hourly schedule fires
    report = run_prices(stack, timeout=240)

    # THEN the bad inputs never reach the matrix, the blocked SKUs are journaled, the rest is sent
    expected = 1200 - len(inputs.rejected_offer_ids) - len(inputs.blocked_offer_ids)
    assert {issue.offer for issue in loaded.issues} == set(inputs.rejected_offer_ids)
    assert report.blocked == len(inputs.blocked_offer_ids) > 0
    assert {e.offer_id for e in report.events if e.kind == "block"} == set(inputs.blocked_offer_ids)
    assert report.planned == expected
    assert report.requests_planned == math.ceil(expected / 1000)
    assert report.requests_sent == report.requests_planned
    assert report.failed_by_code == {"NOT_FOUND_ERROR": 3}
    assert report.applied == expected - 3

    # AND the sandbox has the computed levels, none of them more than 3% below cost
    desk = price_desk(stack.sandbox)
    book = price_wiring.store().load()
    policy = policy_of(stack.settings)
    for offer_id in offer_ids[3:60]:
        if offer_id in inputs.rejected_offer_ids or offer_id in inputs.blocked_offer_ids:
            assert offer_id not in desk.offers
            continue
        inputs_row = book.matrix[offer_id]
        levels = price_sku(inputs_row, book.rules[inputs_row.category], policy).computation.levels
        assert desk.offers[offer_id].price == levels.price
        assert desk.offers[offer_id].min_price >= cost_floor(inputs_row.cost, Decimal(3))

    # WHEN the schedule fires again with nothing changed THEN only the 3 SKUs Ozon refused go again
    again = run_prices(stack, timeout=120)
    assert again.planned == 3
    assert again.requests_planned == 1
    assert again.applied == 0
    assert again.blocked == len(inputs.blocked_offer_ids)


def test_promotion_below_cost_rolled_back(stack_factory, tmp_path):
    # GIVEN a synced catalogue and two SKUs in a 75% promotion that ignores min_price
    stack, offer_ids, inputs, _ = start(stack_factory, tmp_path, 50)
    run_prices(stack, timeout=120)
    desk = price_desk(stack.sandbox)
    targets = [o for o in offer_ids[10:] if o in desk.offers][:2]
    for offer_id in targets:
        desk.set_promotion(offer_id, "75", ignores_min_price=True)
    costs = {o: price_wiring.store().load().matrix[o].cost for o in targets}
    assert all(desk.selling_price(o) < cost_floor(costs[o], Decimal(3)) for o in targets)

    # WHEN the next run reads prices back
    report = run_prices(stack, timeout=120)

    # THEN both SKUs are rolled back: promotion gone, selling price at the good levels, journaled
    assert report.rolled_back == 2
    assert {e.offer_id for e in report.events if e.kind == "rollback"} == set(targets)
    for offer_id in targets:
        assert desk.selling_price(offer_id) >= cost_floor(costs[offer_id], Decimal(3))

    # AND a further run has nothing to roll back
    assert run_prices(stack, timeout=120).rolled_back == 0
