"""The sandbox's price methods: Ozon's rules per item, paging, promotions."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chalicelib.clock import ManualClock
from local.sandbox.errors import ApiError
from local.sandbox.prices import import_prices, price_desk, product_info_prices
from local.sandbox.state import Sandbox


@pytest.fixture
def sandbox() -> Sandbox:
    sandbox = Sandbox(("7654321", "sandbox-test-key-01"), clock=ManualClock())
    sandbox.seed([f"PH-{n}" for n in range(5)])
    return sandbox


def item(offer_id: str = "PH-1", price: str = "1000", old_price: str = "0", min_price: str = "900", **extra) -> dict:
    return {"offer_id": offer_id, "price": price, "old_price": old_price, "min_price": min_price,
            "currency_code": "RUB", "vat": "0.2", **extra}


def code_of(sandbox: Sandbox, body_item: dict) -> str | None:
    (result,) = import_prices(sandbox, {"prices": [body_item]})["result"]
    return result["errors"][0]["code"] if result["errors"] else None


@pytest.mark.parametrize("fields, code", [
    ({"offer_id": "UNLISTED"}, "NOT_FOUND_ERROR"),
    ({"price": "-1"}, "price_negative"),
    ({"price": "390", "old_price": "405", "min_price": "300"}, "discount_for_low_price_is_too_small"),
    ({"price": "1000", "old_price": "1049"}, "discount_for_average_price_is_too_small"),
    ({"price": "20000", "old_price": "20499", "min_price": "19000"}, "discount_for_top_price_is_too_small"),
    ({"price": "100", "old_price": "1000", "min_price": "90"}, "discount_too_big"),
    ({"min_price": "0", "auto_action_enabled": "ENABLED"}, "action_price_enabled_min_price_missing"),
    ({"currency_code": "USD"}, "currency_code_invalid"),
    ({"vat": "0.18"}, "vat_invalid"),
])
def test_item_errors(sandbox, fields, code):
    # GIVEN an item breaking one rule WHEN imported THEN its per-item error names the rule
    assert code_of(sandbox, item(**fields)) == code


@pytest.mark.parametrize("fields", [
    {"price": "390", "old_price": "410", "min_price": "300"},
    {"price": "1000", "old_price": "1050"},
    {"price": "20000", "old_price": "20500", "min_price": "19000"},
])
def test_gap_boundaries_accepted(sandbox, fields):
    assert code_of(sandbox, item(**fields)) is None


def test_eleventh_change_rejected(sandbox):
    # GIVEN ten applied changes within an hour
    for step in range(10):
        assert code_of(sandbox, item(price=str(1000 + step))) is None

    # WHEN an eleventh comes THEN it is rejected, and after the hour it passes
    assert code_of(sandbox, item(price="1100")) == "TOO_MANY_REQUESTS"
    sandbox.clock.advance(3600)
    assert code_of(sandbox, item(price="1100")) is None


@pytest.mark.parametrize("body, message", [
    ({"prices": [item(price="1000,50")]}, "dot"),
    ({"prices": [item(price=1000)]}, "string"),
    ({"prices": [item(premium_price="900")]}, "premium_price"),
    ({"prices": [item()] * 1001}, "at most 1000"),
])
def test_request_rejected(sandbox, body, message):
    with pytest.raises(ApiError, match=message) as raised:
        import_prices(sandbox, body)
    assert raised.value.status == 400


def test_read_pages_numbers(sandbox):
    # GIVEN two priced products WHEN read in pages of 2
    import_prices(sandbox, {"prices": [item("PH-0", price="499.90"), item("PH-1")]})
    first = product_info_prices(sandbox, {"filter": {"visibility": "ALL"}, "limit": 2, "cursor": ""})
    second = product_info_prices(sandbox, {"filter": {"visibility": "ALL"}, "limit": 2, "cursor": first["cursor"]})

    # THEN prices are numbers, the cursor reaches the next page, and total_items counts all five
    assert first["items"][0]["price"]["price"] == 499.9
    assert [i["offer_id"] for i in first["items"] + second["items"]] == ["PH-0", "PH-1", "PH-2", "PH-3"]
    assert first["total_items"] == 5


def test_promotion_floor(sandbox):
    # GIVEN a price of 1000 with min_price 900 and a 30% promotion
    import_prices(sandbox, {"prices": [item()]})
    desk = price_desk(sandbox)
    desk.set_promotion("PH-1", "30")

    # THEN the promotion stops at min_price, unless it ignores it
    assert desk.selling_price("PH-1") == D("900")
    desk.set_promotion("PH-1", "30", ignores_min_price=True)
    assert desk.selling_price("PH-1") == D("700.00")


def test_auto_actions_off_ends_promotion(sandbox):
    import_prices(sandbox, {"prices": [item()]})
    desk = price_desk(sandbox)
    desk.set_promotion("PH-1", "30", ignores_min_price=True)

    import_prices(sandbox, {"prices": [item(auto_action_enabled="DISABLED")]})

    assert desk.selling_price("PH-1") == D("1000")
