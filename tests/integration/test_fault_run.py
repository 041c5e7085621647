"""A 4,200-SKU sync while the sandbox injects HTTP 429, 5xx, timeouts and per-item rate errors."""

from __future__ import annotations

import time

import pytest

from local.sandbox.faults import FaultConfig

pytestmark = pytest.mark.integration

FAULTS = FaultConfig(http_429_share=0.20, http_5xx_share=0.10, timeout_share=0.05, timeout_seconds=2.5,
                     timeout_applies=True, item_rate_error_share=0.05, retry_after_seconds=2, seed=11)


def test_fault_run_applies_or_journals_every_pair(stack_factory, catalog):
    # GIVEN 4,200 SKUs and a sandbox that fails a third of the stock requests
    files = catalog(4200)
    stack = stack_factory(clock_speed=20, faults=FAULTS)
    stack.seed_sandbox(files, reserved_share=0.05)

    # WHEN the exchange is synced
    report = stack.sync(files, timeout=600)

    # THEN every pair is either applied with the expected value or journaled as a permanent failure
    checks = stack.check_pairs(files, report.failures)
    assert len(checks) == 4200
    unresolved = [c for c in checks if c.failure_code is None and c.ozon_stock != c.expected]
    assert unresolved == []
    assert report.items_applied + report.items_failed >= 4200
    assert report.retries > 0
    faults = stack.sandbox.stats()["faults"]
    assert faults.get("http_429", 0) > 0
    assert faults.get("http_5xx", 0) > 0


def test_no_stale_value_after_newer(stack_factory, catalog):
    # GIVEN export A is still being pushed under faults when export B changes every quantity
    first = catalog(1000, name="a", seed=1)
    second = catalog(1000, name="b", seed=2)
    stack = stack_factory(clock_speed=20, faults=FAULTS)
    stack.seed_sandbox(first)
    expected_a = stack.expected_on_hand(first)
    expected_b = stack.expected_on_hand(second)
    assert expected_a.keys() == expected_b.keys()

    stack.upload_exchange(first)
    time.sleep(1.5)
    report = stack.sync(second, timeout=600)

    # THEN once a pair holds B's value, no value from A is applied after it
    history = stack.sandbox.history()
    stale = []
    for (offer_id, warehouse), values in history.items():
        b_value, a_value = expected_b[(warehouse, offer_id)], expected_a[(warehouse, offer_id)]
        if a_value == b_value:
            continue
        applied = [value for _, value in values]
        if b_value in applied and a_value in applied[applied.index(b_value):]:
            stale.append(offer_id)
    assert stale == []

    # AND every pair ends at B's value unless B journaled it as failed
    checks = stack.check_pairs(second, report.failures)
    assert [c for c in checks if not c.matches] == []
