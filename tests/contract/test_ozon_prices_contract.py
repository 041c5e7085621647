"""The client's price methods against the official Ozon Seller API OpenAPI export (April 2026).

Request bodies are validated strictly against the operation's schema (undeclared and
deprecated fields fail), and the documentation examples are parsed with the models.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib.ozon.client import OzonClient
from chalicelib.ozon.prices import (
    PATH_IMPORT_PRICES,
    PATH_PRODUCT_PRICES,
    PriceUpdate,
    PriceUpdateResponse,
    ProductPricesPage,
)
from chalicelib.prices.formula import Levels
from chalicelib.prices.pricing import to_item
from chalicelib.prices.formula import CostInputs
from tests.contract.test_ozon_contract import (  # noqa: F401  (pytest fixtures)
    EXAMPLES_DIR,
    SWITCH_OFF_MARKERS,
    client,
    deprecated_fields_sent,
    operation,
    ozon_server,
    request_schema,
    response_schema,
    spec,
    validation_errors,
)
from tests.unit.test_ozon_client import OzonTestServer, Reply

PRICE_PATHS = [PATH_IMPORT_PRICES, PATH_PRODUCT_PRICES]


def example(shared_dir: Path, name: str) -> Any:
    return json.loads((shared_dir / EXAMPLES_DIR / name).read_text(encoding="utf-8"))


def import_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """The import request schema, requiring `offer_id` or `product_id` in every item.

    The method description states that either identifies the product (offer_id wins when both
    are sent); the export leaves both optional.
    """
    schema = request_schema(spec, PATH_IMPORT_PRICES)
    schema["properties"]["prices"]["items"]["anyOf"] = [{"required": ["offer_id"]}, {"required": ["product_id"]}]
    return schema


def planned_update(offer_id: str, levels: Levels, *, rollback: bool = False) -> PriceUpdate:
    inputs = CostInputs(offer_id, Decimal(100), Decimal(0), Decimal(15), Decimal("1.5"), Decimal("0.2"), "RUB",
                        "household")
    item = to_item(offer_id, levels, inputs, rollback=rollback)
    item.pop("rollback", None)
    return PriceUpdate(**item, min_price_for_auto_actions_enabled=True,
                       auto_action_enabled="DISABLED" if rollback else None)


@pytest.fixture
def captured(shared_dir: Path, client: OzonClient, ozon_server: OzonTestServer) -> OzonTestServer:
    ozon_server.reply(PATH_IMPORT_PRICES, Reply(body=example(shared_dir, "v1_product_import_prices.response.json")))
    page = example(shared_dir, "v5_product_info_prices.response.json")
    page["cursor"] = ""
    ozon_server.reply(PATH_PRODUCT_PRICES, Reply(body=page))

    client.import_prices([
        planned_update("PH-1", Levels(Decimal("110"), Decimal("149.90"), Decimal("189.90"))),
        planned_update("PH-2", Levels(Decimal("1000"), Decimal("1200"), Decimal("0")), rollback=True),
    ])
    list(client.iter_prices())
    list(client.iter_prices(["PH-1", "PH-2"], limit=100))
    return ozon_server


@pytest.mark.parametrize("path", PRICE_PATHS)
def test_price_path_current(spec, path):
    # GIVEN a price path the client calls THEN the spec has it, neither deprecated nor switching off
    assert path in spec["paths"]
    assert operation(spec, path).get("deprecated") is not True
    description = operation(spec, path).get("description", "")
    assert [marker for marker in SWITCH_OFF_MARKERS if marker in description] == []


def test_import_body_valid(spec, captured):
    # GIVEN the bodies the client sent to /v1/product/import/prices
    schema = import_schema(spec)
    bodies = captured.bodies(PATH_IMPORT_PRICES)

    # THEN each validates, sends no deprecated field, and numbers go as strings
    assert bodies
    for body in bodies:
        assert validation_errors(body, schema) == []
        assert deprecated_fields_sent(body, schema) == []
        for item in body["prices"]:
            assert "premium_price" not in item
            assert all(isinstance(item[name], str) for name in ("price", "old_price", "min_price", "vat"))


def test_read_prices_body_valid(spec, captured):
    schema = request_schema(spec, PATH_PRODUCT_PRICES)
    bodies = captured.bodies(PATH_PRODUCT_PRICES)
    assert len(bodies) == 2
    for body in bodies:
        assert validation_errors(body, schema) == []
    assert bodies[1]["filter"]["offer_id"] == ["PH-1", "PH-2"]


def test_premium_price_rejected_by_schema(spec):
    # GIVEN the strict schema WHEN a body carries premium_price THEN it fails, so the check bites
    body = {"prices": [{"offer_id": "PH-1", "price": "100", "premium_price": "90"}]}
    assert validation_errors(body, import_schema(spec)) != []


def test_import_rejects_1001_items(client):
    items = [planned_update(f"PH-{n}", Levels(Decimal(1), Decimal(1), Decimal(0))) for n in range(1001)]
    with pytest.raises(ValueError, match="at most 1000"):
        client.import_prices(items)


def test_price_update_rejects_comma():
    with pytest.raises(ValueError, match="dot"):
        PriceUpdate(offer_id="PH-1", price="1499,90", old_price="0", min_price="0", vat="0.2")


def test_import_request_example_valid(spec, shared_dir):
    # GIVEN the documented request example THEN the strict schema accepts it
    body = example(shared_dir, "v1_product_import_prices.request.json")
    assert validation_errors(body, import_schema(spec)) == []


def test_import_response_example_parses(shared_dir):
    result = PriceUpdateResponse.model_validate(example(shared_dir, "v1_product_import_prices.response.json")).result
    assert result[0].offer_id == "PH8865"
    assert result[0].updated is True
    assert result[0].errors == []


def test_prices_response_example_parses(spec, shared_dir):
    # GIVEN the documented /v5/product/info/prices response WHEN parsed
    body = example(shared_dir, "v5_product_info_prices.response.json")
    page = ProductPricesPage.model_validate(body)

    # THEN numbers come back as Decimal, exactly
    item = page.items[0]
    assert item.offer_id == "356792"
    assert item.price.price == Decimal("499")
    assert item.price.old_price == Decimal("579")
    assert item.price.vat == Decimal("0.2")
    assert isinstance(item.price.min_price, Decimal)
    assert item.price.selling_price() == Decimal("499")
    assert validation_errors(body, response_schema(spec, PATH_PRODUCT_PRICES)) == []


def test_prices_float_read_exactly():
    page = ProductPricesPage.model_validate({"cursor": "", "items": [
        {"offer_id": "A", "product_id": 1, "price": {"price": 1499.9, "marketing_price": 1299.1}}]})
    assert page.items[0].price.price == Decimal("1499.9")
    assert page.items[0].price.selling_price() == Decimal("1299.1")
