"""OzonClient against the official Ozon Seller API OpenAPI export (April 2026).

The client runs against a local test server. Every request body it sends is validated
against the operation's request schema, and the documentation examples are parsed with
the response models. Request schemas are checked strictly: a field the spec does not
declare, or declares deprecated, fails the test.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from openapi_schema_validator import OAS30Validator
from pydantic import BaseModel

from chalicelib.ozon.client import OzonClient
from chalicelib.ozon.credentials import OzonCredentials
from chalicelib.ozon.models import (
    ItemError,
    ProductStocks,
    ProductStocksPage,
    StockRow,
    StockUpdate,
    StockUpdateResponse,
    StockUpdateResult,
    Warehouse,
    WarehouseListResponse,
    WarehouseStock,
    WarehouseStocksPage,
)
from tests.unit.test_ozon_client import OzonTestServer, Reply

SPEC_FILE = "fixtures/ozon/openapi/ozon-seller-api.swagger.2026-04-16.json"
EXAMPLES_DIR = "fixtures/ozon/examples"
CREDENTIALS = OzonCredentials(client_id="7654321", api_key="contract-test-key-0001")
WAREHOUSE_ID = 22142605386000

# Markers Ozon puts in a method description when the method is being switched off
# ("the method is becoming obsolete", "will be switched off").
SWITCH_OFF_MARKERS = ("Метод устаревает", "будет отключён", "будет отключен")


# ---------------------------------------------------------------- spec helpers


@pytest.fixture(scope="session")
def spec(shared_dir: Path) -> dict[str, Any]:
    # The export is 2.4 MB: load it once per session.
    return json.loads((shared_dir / SPEC_FILE).read_text(encoding="utf-8"))


def resolve_refs(node: Any, spec: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Return a deep copy of `node` with every local `$ref` replaced by its target."""
    if isinstance(node, list):
        return [resolve_refs(item, spec, seen) for item in node]
    if not isinstance(node, dict):
        return node

    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            raise AssertionError(f"recursive $ref {ref} in the spec")
        target: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return resolve_refs(target, spec, seen + (ref,))

    return {key: resolve_refs(value, spec, seen) for key, value in node.items()}


def operation(spec: dict[str, Any], path: str) -> dict[str, Any]:
    return spec["paths"][path]["post"]


def request_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    body = operation(spec, path)["requestBody"]["content"]["application/json"]["schema"]
    return forbid_undeclared(resolve_refs(body, spec))


def response_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    body = operation(spec, path)["responses"]["200"]["content"]["application/json"]["schema"]
    return resolve_refs(body, spec)


def forbid_undeclared(schema: Any) -> Any:
    """Set additionalProperties false on every object schema that lists properties.

    The export never forbids extra fields, so without this a misspelt or removed field
    in a request would pass validation.
    """
    if isinstance(schema, list):
        return [forbid_undeclared(item) for item in schema]
    if not isinstance(schema, dict):
        return schema

    strict = {key: forbid_undeclared(value) for key, value in schema.items()}
    if isinstance(strict.get("properties"), dict):
        strict.setdefault("additionalProperties", False)
        # Some properties carry a boolean `required: true`, which is not JSON Schema.
        for prop in strict["properties"].values():
            if isinstance(prop, dict) and isinstance(prop.get("required"), bool):
                del prop["required"]
    return strict


def validation_errors(body: Any, schema: dict[str, Any]) -> list[str]:
    validator = OAS30Validator(schema)
    return sorted(
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(body)
    )


def deprecated_fields_sent(body: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Return the paths of fields in `body` that the schema marks deprecated."""
    found: list[str] = []
    if isinstance(body, dict):
        properties = schema.get("properties", {})
        for key, value in body.items():
            prop = properties.get(key, {})
            if prop.get("deprecated") is True:
                found.append(f"{where}{key}")
            found.extend(deprecated_fields_sent(value, prop, f"{where}{key}."))
    elif isinstance(body, list):
        for index, item in enumerate(body):
            found.extend(deprecated_fields_sent(item, schema.get("items", {}), f"{where}{index}."))
    return found


def stock_update_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """The `/v2/products/stocks` request schema, with two documented corrections.

    1. The export still lists `quant_size` as required, but Ozon removed the field on
       26 Jun 2025 (the export's own News tag), so it is dropped from `required`.
    2. The export requires `product_id`, but the method description allows
       `offer_id` or `product_id` (offer_id wins when both are sent). The correction
       requires one of the two.
    """
    schema = request_schema(spec, "/v2/products/stocks")
    item = schema["properties"]["stocks"]["items"]
    item["required"] = [
        name for name in item["required"] if name not in ("quant_size", "product_id")
    ]
    item["anyOf"] = [{"required": ["offer_id"]}, {"required": ["product_id"]}]
    return schema


# ---------------------------------------------------------------- running the client


@pytest.fixture
def ozon_server() -> Iterator[OzonTestServer]:
    server = OzonTestServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(ozon_server: OzonTestServer) -> OzonClient:
    return OzonClient(ozon_server.base_url, CREDENTIALS, timeout=2.0)


def example_reply(spec: dict[str, Any], path: str) -> dict[str, Any]:
    return copy.deepcopy(
        operation(spec, path)["responses"]["200"]["content"]["application/json"]["example"]
    )


def warehouse_list_reply(spec: dict[str, Any]) -> dict[str, Any]:
    # The documented /v2/warehouse/list example, with a boolean has_next (the example
    # writes "string" there) so that paging ends.
    reply = example_reply(spec, "/v2/warehouse/list")
    reply["has_next"] = False
    return reply


def product_stocks_reply() -> dict[str, Any]:
    # The export has no 200 example for /v4/product/info/stocks; this follows its schema.
    return {
        "cursor": "",
        "items": [
            {
                "offer_id": "PH11042",
                "product_id": 313455276,
                "stocks": [
                    {
                        "present": 12,
                        "reserved": 2,
                        "shipment_type": "SHIPMENT_TYPE_GENERAL",
                        "sku": 1826438473,
                        "type": "fbs",
                        "warehouse_ids": [WAREHOUSE_ID],
                    }
                ],
            }
        ],
        "total": 1,
    }


@pytest.fixture
def captured(
    spec: dict[str, Any], client: OzonClient, ozon_server: OzonTestServer
) -> OzonTestServer:
    """The test server after each client method ran once, with the requests it received."""
    ozon_server.reply("/v2/warehouse/list", Reply(body=warehouse_list_reply(spec)))
    ozon_server.reply("/v2/products/stocks", Reply(body=example_reply(spec, "/v2/products/stocks")))
    ozon_server.reply("/v4/product/info/stocks", Reply(body=product_stocks_reply()))
    ozon_server.reply(
        "/v1/product/info/warehouse/stocks",
        Reply(body=example_reply(spec, "/v1/product/info/warehouse/stocks")),
    )

    client.list_warehouses()
    client.update_stocks(
        [
            StockUpdate(offer_id="PH11042", warehouse_id=WAREHOUSE_ID, stock=100),
            StockUpdate(
                offer_id="PH11043", warehouse_id=WAREHOUSE_ID, stock=0, product_id=313455276
            ),
        ]
    )
    list(client.iter_product_stocks())
    list(client.iter_product_stocks(["PH11042", "PH11043"], limit=100))
    list(client.iter_warehouse_stocks(1020003080073000, limit=500))
    return ozon_server


CLIENT_PATHS = [
    "/v2/warehouse/list",
    "/v2/products/stocks",
    "/v4/product/info/stocks",
    "/v1/product/info/warehouse/stocks",
]


# ---------------------------------------------------------------- methods in force


def test_client_uses_listed_paths(captured: OzonTestServer) -> None:
    # GIVEN every client method ran THEN it called exactly the paths checked below
    assert {request.path for request in captured.requests} == set(CLIENT_PATHS)


@pytest.mark.parametrize("path", CLIENT_PATHS)
def test_path_in_spec_not_deprecated(spec: dict[str, Any], path: str) -> None:
    # GIVEN a path the client calls THEN the spec has it as POST, not deprecated
    assert path in spec["paths"]
    assert "post" in spec["paths"][path]
    assert operation(spec, path).get("deprecated") is not True


@pytest.mark.parametrize("path", CLIENT_PATHS)
def test_path_has_no_switch_off_notice(spec: dict[str, Any], path: str) -> None:
    # GIVEN a path the client calls THEN its description announces no switch-off
    description = operation(spec, path).get("description", "")
    assert [marker for marker in SWITCH_OFF_MARKERS if marker in description] == []


@pytest.mark.parametrize("path", CLIENT_PATHS)
def test_required_headers_sent(spec: dict[str, Any], captured: OzonTestServer, path: str) -> None:
    # GIVEN the header parameters the spec requires for the operation
    parameters = resolve_refs(operation(spec, path).get("parameters", []), spec)
    required = [p["name"] for p in parameters if p.get("in") == "header" and p.get("required")]

    # THEN every request to that path carried each of them
    for request in captured.requests:
        if request.path == path:
            assert [name for name in required if not request.headers.get(name)] == []


# ---------------------------------------------------------------- request bodies


def test_stock_update_body_valid(spec: dict[str, Any], captured: OzonTestServer) -> None:
    # GIVEN the bodies the client sent to /v2/products/stocks
    schema = stock_update_schema(spec)

    # THEN each validates against the corrected schema and sends no deprecated field
    for body in captured.bodies("/v2/products/stocks"):
        assert validation_errors(body, schema) == []
        assert deprecated_fields_sent(body, schema) == []


@pytest.mark.parametrize(
    "path",
    ["/v2/warehouse/list", "/v4/product/info/stocks", "/v1/product/info/warehouse/stocks"],
)
def test_read_body_valid(spec: dict[str, Any], captured: OzonTestServer, path: str) -> None:
    # GIVEN the bodies the client sent to a read method
    schema = request_schema(spec, path)
    bodies = captured.bodies(path)

    # THEN there was at least one, and each validates and sends no deprecated field
    assert bodies
    for body in bodies:
        assert validation_errors(body, schema) == []
        assert deprecated_fields_sent(body, schema) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"stocks": [{"offer_id": "A", "stock": 1}]}, "'warehouse_id' is a required property"),
        (
            {"stocks": [{"warehouse_id": 1, "stock": 1}]},
            "is not valid under any of the given schemas",
        ),
        (
            {"stocks": [{"offer_id": "A", "warehouse_id": 1, "stock": 1, "quant_size": 1}]},
            "Additional properties are not allowed ('quant_size' was unexpected)",
        ),
        (
            {"stocks": [{"offer_id": "A", "warehouse_id": 1, "stock": "1"}]},
            "'1' is not of type 'integer'",
        ),
    ],
)
def test_stock_schema_rejects_bad_bodies(spec: dict[str, Any], body: dict, expected: str) -> None:
    # GIVEN a body with a missing, misplaced or removed field
    # WHEN validated THEN the schema reports it, so the checks above can fail
    errors = validation_errors(body, stock_update_schema(spec))
    assert any(expected in error for error in errors), errors


def test_documented_request_example_valid(spec: dict[str, Any], shared_dir: Path) -> None:
    # GIVEN Ozon's own request example for /v2/products/stocks
    example = json.loads(
        (shared_dir / EXAMPLES_DIR / "v2_products_stocks.request.json").read_text()
    )

    # THEN the corrected schema accepts it and StockUpdate builds the same items
    assert validation_errors(example, stock_update_schema(spec)) == []
    rebuilt = [StockUpdate(**item).to_request() for item in example["stocks"]]
    assert rebuilt == example["stocks"]


# ---------------------------------------------------------------- responses


def test_stock_update_example_parses(shared_dir: Path) -> None:
    # GIVEN the documented /v2/products/stocks response
    example = json.loads(
        (shared_dir / EXAMPLES_DIR / "v2_products_stocks.response.json").read_text()
    )

    # WHEN parsed
    result = StockUpdateResponse.model_validate(example).result

    # THEN the one item is read field by field
    assert len(result) == 1
    assert result[0].offer_id == "PH11042"
    assert result[0].product_id == 118597312
    assert result[0].warehouse_id == 22142605386000
    assert result[0].updated is True
    assert result[0].errors == []


def test_warehouse_stocks_example_parses(spec: dict[str, Any]) -> None:
    # GIVEN the documented /v1/product/info/warehouse/stocks response
    page = WarehouseStocksPage.model_validate(
        example_reply(spec, "/v1/product/info/warehouse/stocks")
    )

    # THEN the row, its UTC timestamp and the paging fields are read
    row = page.stocks[0]
    assert (row.sku, row.offer_id, row.present, row.reserved, row.free_stock) == (
        147035011,
        "02105020-35",
        1000,
        0,
        1000,
    )
    assert row.updated_at is not None
    assert row.updated_at.isoformat() == "2025-09-15T10:36:24.417498+00:00"
    assert (page.cursor, page.has_next) == ("147035011", False)


def test_v2_warehouse_example_parses(spec: dict[str, Any]) -> None:
    # GIVEN the documented /v2/warehouse/list response, the shape the client moves to
    warehouses = example_reply(spec, "/v2/warehouse/list")["warehouses"]

    # WHEN its warehouses are parsed
    parsed = [Warehouse.model_validate(item) for item in warehouses]

    # THEN ids, names, limits and days are read
    assert parsed[0].warehouse_id == 20605650762000
    assert parsed[0].name == "17023"
    assert parsed[0].is_active is True
    assert parsed[0].postings_limit == -1
    assert parsed[0].working_days[0] == "MONDAY"


def test_client_parses_served_examples(
    spec: dict[str, Any], client: OzonClient, ozon_server: OzonTestServer
) -> None:
    # GIVEN the test server answers with the documented examples
    ozon_server.reply("/v2/products/stocks", Reply(body=example_reply(spec, "/v2/products/stocks")))
    ozon_server.reply(
        "/v1/product/info/warehouse/stocks",
        Reply(body=example_reply(spec, "/v1/product/info/warehouse/stocks")),
    )

    # WHEN the client calls the methods
    results = client.update_stocks(
        [StockUpdate(offer_id="PH11042", warehouse_id=WAREHOUSE_ID, stock=1)]
    )
    rows = list(client.iter_warehouse_stocks(1020003080073000))

    # THEN both responses come back parsed
    assert results[0].updated is True
    assert rows[0].warehouse_id == 1020003080073000


# Each response model, and where the spec schema of the objects it parses sits in the
# 200 response: a name steps into a property, "[]" into the items of an array.
MODEL_SCHEMAS = [
    (StockUpdateResult, "/v2/products/stocks", ["result", "[]"]),
    (ItemError, "/v2/products/stocks", ["result", "[]", "errors", "[]"]),
    (Warehouse, "/v2/warehouse/list", ["warehouses", "[]"]),
    (StockUpdateResponse, "/v2/products/stocks", []),
    (WarehouseListResponse, "/v2/warehouse/list", []),
    (ProductStocksPage, "/v4/product/info/stocks", []),
    (ProductStocks, "/v4/product/info/stocks", ["items", "[]"]),
    (StockRow, "/v4/product/info/stocks", ["items", "[]", "stocks", "[]"]),
    (WarehouseStock, "/v1/product/info/warehouse/stocks", ["stocks", "[]"]),
    (WarehouseStocksPage, "/v1/product/info/warehouse/stocks", []),
]


def schema_at(schema: dict[str, Any], steps: list[str]) -> dict[str, Any]:
    for step in steps:
        schema = schema["items"] if step == "[]" else schema["properties"][step]
    return schema


@pytest.mark.parametrize(("model", "path", "steps"), MODEL_SCHEMAS)
def test_model_fields_in_spec(
    spec: dict[str, Any], model: type[BaseModel], path: str, steps: list[str]
) -> None:
    # GIVEN the response schema of the objects a model parses
    properties = schema_at(response_schema(spec, path), steps)["properties"]

    # THEN every field the model reads is one the spec declares, under some alias
    undeclared = []
    for name, info in model.model_fields.items():
        aliases = getattr(info.validation_alias, "choices", None) or [name]
        if not any(alias in properties for alias in aliases):
            undeclared.append(name)
    assert undeclared == []
