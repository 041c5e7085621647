"""The operator's explain command: one SKU's levels, step by step."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chalicelib.prices.explain import explain_sku
from chalicelib.prices.formula import CostInputs, PricingRule
from chalicelib.prices.planner import policy_of
from chalicelib.prices.store import InMemoryPriceStore
from chalicelib.settings import Settings


@pytest.fixture
def store() -> InMemoryPriceStore:
    store = InMemoryPriceStore()
    store.add_rule(PricingRule("household", 1, D("10"), D("30"), D("31"), "ending90", "spring prices"))
    store.put_inputs([
        CostInputs("PH-1", D("1000"), D("50"), D("15"), D("1.5"), D("0.2"), "RUB", "household"),
        CostInputs("PH-2", D("100"), D("0"), D("0"), D("0"), D("0"), "RUB", "garden"),
    ])
    return store


def test_explain_steps(store):
    # GIVEN a SKU whose old_price margin is too close to its price
    lines = explain_sku("PH-1", store.load(), policy_of(Settings()), "en")

    # THEN the output walks from inputs through the formula and Ozon's rules to the result
    text = "\n".join(lines)
    assert lines[0] == "SKU: PH-1"
    assert "Rule: household v1" in text
    assert "landed cost: cost 1000 + logistics 50 -> 1050" in text
    assert "old_price_gap_400_to_10000" in text
    assert "Cost guard: floor 970.00 (3%) - passed" in text
    assert lines[-2] == "Accepted by Ozon: unknown"


def test_explain_russian_default(store):
    lines = explain_sku("PH-1", store.load(), policy_of(Settings()))
    assert lines[0] == "Товар: PH-1"


def test_explain_unknown_category(store):
    lines = explain_sku("PH-2", store.load(), policy_of(Settings()), "en")
    assert lines[-1].startswith("Cannot be priced: SKU PH-2: unknown category 'garden'")


def test_explain_unknown_sku(store):
    with pytest.raises(KeyError):
        explain_sku("PH-404", store.load(), policy_of(Settings()))
