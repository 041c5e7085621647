"""The local Ozon sandbox, exercised over real HTTP on a manual clock."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
import requests

from chalicelib.clock import ManualClock
from local.sandbox import MAIN_WAREHOUSE_ID, FaultConfig, SandboxServer

CLIENT_ID = "1234567"
API_KEY = "5c1f0a8e-sandbox-test-key-93d4"
RFBS_WAREHOUSE_ID = 22142605387000
FOREIGN_WAREHOUSE_ID = 1020003080073000
UNKNOWN_WAREHOUSE_ID = 99999999999
STOCKS = "/v2/products/stocks"
REPO = Path(__file__).resolve().parents[2]
SPEC = "fixtures/ozon/openapi/ozon-seller-api.swagger.2026-04-16.json"


class Api:
    """Ozon calls with valid credentials over one keep-alive connection."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update({"Client-Id": CLIENT_ID, "Api-Key": API_KEY})

    def post(self, path: str, body: dict, **kwargs) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, timeout=10, **kwargs)

    def push(self, *items: tuple[str, int, int]) -> requests.Response:
        """Send (offer_id, stock, warehouse_id) items to /v2/products/stocks."""
        stocks = [{"offer_id": o, "stock": s, "warehouse_id": w} for o, s, w in items]
        return self.post(STOCKS, {"stocks": stocks})


def offers(count: int) -> list[str]:
    return [f"HC-{index:05d}" for index in range(count)]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(clock: ManualClock):
    with SandboxServer((CLIENT_ID, API_KEY), clock=clock) as server:
        yield server


@pytest.fixture
def api(server: SandboxServer) -> Api:
    return Api(server.base_url)


def test_warehouse_list_shape(api: Api) -> None:
    # GIVEN the default sandbox
    # WHEN the seller lists warehouses
    response = api.post("/v2/warehouse/list", {"limit": 200})

    # THEN only the seller's own warehouses come back, in the documented shape
    assert response.status_code == 200
    warehouses = {w["warehouse_id"]: w for w in response.json()["warehouses"]}
    assert set(warehouses) == {MAIN_WAREHOUSE_ID, RFBS_WAREHOUSE_ID}
    main = warehouses[MAIN_WAREHOUSE_ID]
    assert main["name"] == "Основной склад"
    assert main["is_rfbs"] is False
    assert main["is_kgt"] is False
    assert main["status"] == "created"
    assert response.json()["has_next"] is False


def test_warehouse_list_pages_by_cursor(api: Api) -> None:
    # GIVEN pages of one warehouse each
    first = api.post("/v2/warehouse/list", {"limit": 1}).json()
    second = api.post("/v2/warehouse/list", {"limit": 1, "cursor": first["cursor"]}).json()

    # THEN the first page reports more to follow and the second is the last
    assert first["has_next"] is True
    assert second["has_next"] is False
    assert first["warehouses"][0]["warehouse_id"] != second["warehouses"][0]["warehouse_id"]


def test_old_warehouse_list_is_gone(api: Api) -> None:
    # GIVEN the method Ozon switched off on 7 Apr 2026 THEN it returns 404
    assert api.post("/v1/warehouse/list", {}).status_code == 404


def test_update_applies_and_reads_back(server: SandboxServer, api: Api) -> None:
    # GIVEN one product with reserved units on the FBS warehouse
    server.sandbox.seed(["PH11042"], reserved_share=1.0, max_reserved=3)
    reserved = server.sandbox.stocks()[("PH11042", MAIN_WAREHOUSE_ID)].reserved
    assert reserved >= 1

    # WHEN 7 free units are pushed
    response = api.push(("PH11042", 7, MAIN_WAREHOUSE_ID))

    # THEN the item is applied and both read methods show present = free + reserved
    assert response.status_code == 200
    item = response.json()["result"][0]
    assert item["updated"] is True
    assert item["errors"] == []
    assert item["offer_id"] == "PH11042"
    assert item["warehouse_id"] == MAIN_WAREHOUSE_ID

    v4 = api.post("/v4/product/info/stocks", {"filter": {}, "limit": 10}).json()
    fbs = v4["items"][0]["stocks"][0]
    assert fbs["type"] == "fbs"
    assert fbs["reserved"] == reserved
    assert fbs["present"] == 7 + reserved
    assert fbs["warehouse_ids"] == [MAIN_WAREHOUSE_ID]
    assert "total" not in v4
    assert v4["total_items"] == 1

    body = {"warehouse_id": MAIN_WAREHOUSE_ID, "limit": 10}
    row = api.post("/v1/product/info/warehouse/stocks", body).json()["stocks"][0]
    assert row["free_stock"] == 7
    assert row["reserved"] == reserved
    assert row["present"] == 7 + reserved
    assert row["updated_at"].endswith("Z")
    assert datetime.fromisoformat(row["updated_at"].replace("Z", "+00:00")).tzinfo is not None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/warehouse/list", {"limit": 200}),
        (STOCKS, {"stocks": [{"offer_id": "PH11042", "stock": 4,
                              "warehouse_id": MAIN_WAREHOUSE_ID}]}),
        ("/v4/product/info/stocks", {"cursor": "", "filter": {"visibility": "ALL"}, "limit": 5}),
        ("/v1/product/info/warehouse/stocks",
         {"warehouse_id": MAIN_WAREHOUSE_ID, "cursor": "", "limit": 5}),
    ],
)
def test_responses_match_openapi(
    server: SandboxServer, api: Api, shared_dir: Path, path: str, body: dict
) -> None:
    # GIVEN the official OpenAPI export and a seeded sandbox
    spec = json.loads((shared_dir / SPEC).read_text(encoding="utf-8"))
    schema_ref = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
    schema = {**schema_ref["schema"], "components": spec["components"]}
    server.sandbox.seed(["PH11042", "PH11043"], reserved_share=0.5)

    # WHEN the method is called
    response = api.post(path, body)

    # THEN the 200 body validates against the method's response schema
    assert response.status_code == 200
    jsonschema.Draft7Validator(schema).validate(response.json())


def test_error_body_matches_openapi(server: SandboxServer, shared_dir: Path) -> None:
    # GIVEN int error codes, the type the official rpcStatus schema declares
    spec = json.loads((shared_dir / SPEC).read_text(encoding="utf-8"))
    schema = {"$ref": "#/components/schemas/rpcStatus", "components": spec["components"]}
    server.sandbox.set_faults(error_code_style="int")

    # WHEN a request fails
    response = requests.post(server.base_url + STOCKS, json={}, timeout=10)

    # THEN its body validates against rpcStatus
    assert response.status_code == 401
    jsonschema.Draft7Validator(schema).validate(response.json())


def test_more_than_100_items_rejected(server: SandboxServer, api: Api) -> None:
    # GIVEN 101 listed products
    server.sandbox.seed(offers(101))

    # WHEN all 101 go in one request
    response = api.push(*[(offer, 1, MAIN_WAREHOUSE_ID) for offer in offers(101)])

    # THEN the whole request is rejected with an error body and nothing is applied
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}
    assert "101" in response.json()["message"]
    assert server.sandbox.history() == {}


def test_exactly_100_items_accepted(server: SandboxServer, api: Api) -> None:
    # GIVEN 100 listed products
    server.sandbox.seed(offers(100))

    # WHEN all 100 go in one request
    response = api.push(*[(offer, 1, MAIN_WAREHOUSE_ID) for offer in offers(100)])

    # THEN every item is applied, in request order
    assert response.status_code == 200
    result = response.json()["result"]
    assert [item["offer_id"] for item in result] == offers(100)
    assert all(item["updated"] for item in result)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"stocks": []},
        {"stocks": [{"offer_id": "HC-00000", "stock": 1}]},
        {"stocks": [{"offer_id": "HC-00000", "warehouse_id": MAIN_WAREHOUSE_ID}]},
        {"stocks": [{"stock": 1, "warehouse_id": MAIN_WAREHOUSE_ID}]},
        {"stocks": [{"offer_id": "HC-00000", "stock": "many", "warehouse_id": 1}]},
        {"stocks": ["HC-00000"]},
    ],
)
def test_invalid_stock_body_rejected(server: SandboxServer, api: Api, body: dict) -> None:
    # GIVEN a listed product
    server.sandbox.seed(offers(1))

    # WHEN a malformed request arrives
    response = api.post(STOCKS, body)

    # THEN it gets HTTP 400 with the error body
    assert response.status_code == 400
    assert response.json()["details"] == []


def test_non_json_body_rejected(api: Api) -> None:
    # WHEN the body is not JSON
    response = api.session.post(api.base_url + STOCKS, data=b"stocks=1", timeout=10)

    # THEN it gets HTTP 400
    assert response.status_code == 400


def test_80_per_minute_limit(server: SandboxServer, api: Api, clock: ManualClock) -> None:
    # GIVEN 80 stock requests spread over the first 40 virtual seconds
    server.sandbox.seed(offers(1))
    start = clock.now()
    for _ in range(80):
        assert api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID)).status_code == 200
        clock.advance(0.5)

    # WHEN the 81st arrives at +40 s
    response = api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID))

    # THEN it gets 429 with Retry-After counting to when the first slot frees (+60 s)
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert retry_after == math.ceil(start + 60 - clock.now())
    assert response.json()["message"]

    # AND after waiting that long the next request goes through
    clock.advance(retry_after)
    assert api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID)).status_code == 200


def test_80_per_minute_is_sliding(server: SandboxServer, api: Api, clock: ManualClock) -> None:
    # GIVEN 80 requests at t and a rejected one at t+30
    server.sandbox.seed(offers(1))
    for _ in range(40):
        assert api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID)).status_code == 200
    clock.advance(1)
    for _ in range(40):
        assert api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID)).status_code == 200
    clock.advance(29)
    assert api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID)).status_code == 429

    # WHEN 60 s pass after the first 40 but not after the second 40
    clock.advance(30)

    # THEN exactly 40 slots are free again
    statuses = [api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID)).status_code for _ in range(41)]
    assert statuses.count(200) == 40
    assert statuses[-1] == 429


def test_50_per_second_limit(api: Api, clock: ManualClock) -> None:
    # GIVEN 50 read requests in the same virtual second
    for _ in range(50):
        assert api.post("/v2/warehouse/list", {"limit": 200}).status_code == 200

    # WHEN the 51st arrives
    response = api.post("/v2/warehouse/list", {"limit": 200})

    # THEN it gets 429 with Retry-After: 1, and the next second is free again
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    clock.advance(1)
    assert api.post("/v2/warehouse/list", {"limit": 200}).status_code == 200


def test_pair_30_second_rule(server: SandboxServer, api: Api, clock: ManualClock) -> None:
    # GIVEN a pair updated at t
    server.sandbox.seed(offers(1))
    assert api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID)).json()["result"][0]["updated"]

    # WHEN it is updated again at t+10 and t+20
    clock.advance(10)
    early = api.push(("HC-00000", 2, MAIN_WAREHOUSE_ID)).json()["result"][0]
    clock.advance(10)
    api.push(("HC-00000", 3, MAIN_WAREHOUSE_ID))

    # THEN those are rejected inside HTTP 200 as too frequent
    assert early["updated"] is False
    assert early["errors"] == [
        {"code": "TOO_MANY_REQUESTS", "message": "Stock is updated too frequently"}
    ]

    # AND the rejections did not restart the interval: t+30 is applied
    clock.advance(10)
    late = api.push(("HC-00000", 4, MAIN_WAREHOUSE_ID)).json()["result"][0]
    assert late["updated"] is True
    assert server.sandbox.stocks()[("HC-00000", MAIN_WAREHOUSE_ID)].free == 4


def test_same_pair_twice_in_one_request(server: SandboxServer, api: Api) -> None:
    # GIVEN a listed product
    server.sandbox.seed(offers(1))

    # WHEN one request carries the same pair twice
    result = api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID), ("HC-00000", 2, MAIN_WAREHOUSE_ID))

    # THEN the first is applied and the second is too frequent
    updated = [item["updated"] for item in result.json()["result"]]
    assert updated == [True, False]
    assert server.sandbox.stocks()[("HC-00000", MAIN_WAREHOUSE_ID)].free == 1


def test_per_item_errors(server: SandboxServer, api: Api) -> None:
    # GIVEN 4 offers: one not listed, one archived, two active
    summary = server.sandbox.seed(offers(4), missing_share=0.25, archived_share=0.25, seed=3)
    missing = summary.missing_offer_ids[0]
    archived = summary.archived_offer_ids[0]
    active = [o for o in offers(4) if o not in (missing, archived)]

    # WHEN items of every kind go in one request
    response = api.push(
        (missing, 1, MAIN_WAREHOUSE_ID),
        (archived, 1, MAIN_WAREHOUSE_ID),
        (active[0], 1, FOREIGN_WAREHOUSE_ID),
        (active[0], 1, UNKNOWN_WAREHOUSE_ID),
        (active[0], 1_000_000, MAIN_WAREHOUSE_ID),
        (active[0], -1, MAIN_WAREHOUSE_ID),
        (active[1], 999_999, MAIN_WAREHOUSE_ID),
    )

    # THEN HTTP 200 carries one result per item, in order
    assert response.status_code == 200
    codes = [[e["code"] for e in item["errors"]] for item in response.json()["result"]]
    assert codes == [
        ["NOT_FOUND_ERROR"],
        ["PRODUCT_IS_ARCHIVED"],
        ["WAREHOUSE_NOT_FOUND"],
        ["WAREHOUSE_NOT_FOUND"],
        ["STOCK_TOO_BIG"],
        ["STOCK_IS_NEGATIVE"],
        [],
    ]
    assert server.sandbox.stats()["items_rejected"]["WAREHOUSE_NOT_FOUND"] == 2
    assert server.sandbox.stats()["items_applied"] == 1


def test_offer_id_wins_over_product_id(server: SandboxServer, api: Api) -> None:
    # GIVEN two products
    server.sandbox.seed(offers(2))
    rows = server.sandbox.stocks()
    other_product_id = rows[("HC-00001", MAIN_WAREHOUSE_ID)].product_id

    # WHEN an item names HC-00000 by offer_id and HC-00001 by product_id
    item = {"offer_id": "HC-00000", "product_id": other_product_id, "stock": 5,
            "warehouse_id": MAIN_WAREHOUSE_ID}
    result = api.post(STOCKS, {"stocks": [item]}).json()["result"][0]

    # THEN the offer_id's product gets the stock
    assert result["offer_id"] == "HC-00000"
    assert server.sandbox.stocks()[("HC-00000", MAIN_WAREHOUSE_ID)].free == 5
    assert server.sandbox.stocks()[("HC-00001", MAIN_WAREHOUSE_ID)].free == 0


def test_update_by_product_id(server: SandboxServer, api: Api) -> None:
    # GIVEN a product known by its product_id only, sent as a protobuf int64 string
    server.sandbox.seed(offers(1))
    product_id = server.sandbox.stocks()[("HC-00000", MAIN_WAREHOUSE_ID)].product_id

    # WHEN it is pushed without offer_id
    item = {"product_id": str(product_id), "stock": 3, "warehouse_id": MAIN_WAREHOUSE_ID}
    result = api.post(STOCKS, {"stocks": [item]}).json()["result"][0]

    # THEN it is applied and the result names the offer
    assert result["updated"] is True
    assert result["offer_id"] == "HC-00000"


def test_missing_credentials_401(server: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    # WHEN a request comes without Api-Key
    caplog.set_level(logging.DEBUG, logger="local.sandbox")
    response = requests.post(
        server.base_url + STOCKS, json={}, headers={"Client-Id": CLIENT_ID}, timeout=10
    )

    # THEN it gets 401 with the error body
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "details"}
    assert server.sandbox.stats()["statuses"]["401"] == 1


def test_wrong_credentials_403_no_leak(
    server: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN debug logging of the sandbox
    caplog.set_level(logging.DEBUG, logger="local.sandbox")

    # WHEN requests carry a wrong key, and the right key with a wrong Client-Id
    wrong_key = requests.post(
        server.base_url + STOCKS,
        json={},
        headers={"Client-Id": CLIENT_ID, "Api-Key": "wrong-" + API_KEY},
        timeout=10,
    )
    wrong_id = requests.post(
        server.base_url + STOCKS,
        json={},
        headers={"Client-Id": "7654321", "Api-Key": API_KEY},
        timeout=10,
    )

    # THEN both get 403, and no key shows up in a body, a header or the log
    assert wrong_key.status_code == 403
    assert wrong_id.status_code == 403
    for response in (wrong_key, wrong_id):
        assert API_KEY not in response.text
        assert API_KEY not in str(response.headers)
    assert API_KEY not in caplog.text


def test_unknown_path_404(api: Api) -> None:
    # WHEN a path the API does not have is called
    response = api.post("/v3/product/info/stocks", {})

    # THEN it gets 404 with the error body
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "details"}


def test_v4_cursor_paging(server: SandboxServer, api: Api, clock: ManualClock) -> None:
    # GIVEN 25 listed products
    server.sandbox.seed(offers(25))

    # WHEN they are read 10 at a time, following the cursor until a page is empty
    seen, cursor, pages = [], "", []
    while True:
        clock.advance(1)
        page = api.post(
            "/v4/product/info/stocks", {"cursor": cursor, "filter": {}, "limit": 10}
        ).json()
        pages.append(len(page["items"]))
        assert page["total_items"] == 25
        if not page["items"]:
            break
        seen += [item["offer_id"] for item in page["items"]]
        cursor = page["cursor"]

    # THEN every product comes once, in pages of 10, 10, 5 and a closing empty page
    assert pages == [10, 10, 5, 0]
    assert sorted(seen) == offers(25)
    assert page["cursor"] == ""


def test_v4_filters(server: SandboxServer, api: Api) -> None:
    # GIVEN 10 products, 2 archived
    summary = server.sandbox.seed(offers(10), archived_share=0.2)
    product_id = server.sandbox.stocks()[("HC-00009", MAIN_WAREHOUSE_ID)].product_id

    # WHEN they are filtered by offer_id and product_id, and by visibility
    by_ids = api.post(
        "/v4/product/info/stocks",
        {"filter": {"offer_id": ["HC-00001"], "product_id": [str(product_id)]}, "limit": 100},
    ).json()
    archived = api.post(
        "/v4/product/info/stocks", {"filter": {"visibility": "ARCHIVED"}, "limit": 100}
    ).json()

    # THEN each filter returns exactly its products
    assert [item["offer_id"] for item in by_ids["items"]] == ["HC-00001", "HC-00009"]
    assert by_ids["total_items"] == 2
    assert sorted(i["offer_id"] for i in archived["items"]) == sorted(summary.archived_offer_ids)


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {}},
        {"filter": {}, "limit": 0},
        {"filter": {}, "limit": 1001},
        {"limit": 10},
        {"filter": {"visibility": "SOMETIMES"}, "limit": 10},
        {"filter": {}, "limit": 10, "cursor": "not-a-cursor"},
    ],
)
def test_v4_invalid_request(api: Api, body: dict) -> None:
    # WHEN the read request breaks the schema
    response = api.post("/v4/product/info/stocks", body)

    # THEN it gets HTTP 400
    assert response.status_code == 400


def test_warehouse_stocks_paging(server: SandboxServer, api: Api) -> None:
    # GIVEN 5 products on the FBS warehouse
    server.sandbox.seed(offers(5))

    # WHEN they are read 2 at a time
    body = {"warehouse_id": MAIN_WAREHOUSE_ID, "limit": 2, "cursor": ""}
    pages = []
    while True:
        page = api.post("/v1/product/info/warehouse/stocks", body).json()
        pages.append(page)
        if not page["has_next"]:
            break
        body["cursor"] = page["cursor"]

    # THEN three pages come back, the last with has_next false
    assert [len(page["stocks"]) for page in pages] == [2, 2, 1]
    offer_ids = [row["offer_id"] for page in pages for row in page["stocks"]]
    assert sorted(offer_ids) == offers(5)


def test_warehouse_stocks_foreign_rejected(api: Api) -> None:
    # WHEN another seller's warehouse is read
    body = {"warehouse_id": FOREIGN_WAREHOUSE_ID, "limit": 10}
    response = api.post("/v1/product/info/warehouse/stocks", body)

    # THEN it gets HTTP 400
    assert response.status_code == 400


def test_new_warehouse_pair_listed(server: SandboxServer, api: Api) -> None:
    # GIVEN a product pushed to the rFBS warehouse for the first time
    server.sandbox.seed(offers(1))
    assert api.push(("HC-00000", 4, RFBS_WAREHOUSE_ID)).json()["result"][0]["updated"]

    # WHEN both read methods are asked
    v4 = api.post("/v4/product/info/stocks", {"filter": {}, "limit": 10}).json()
    body = {"warehouse_id": RFBS_WAREHOUSE_ID, "limit": 10}
    rows = api.post("/v1/product/info/warehouse/stocks", body).json()["stocks"]

    # THEN the product shows an rfbs entry and a row on that warehouse
    types = {entry["type"]: entry["present"] for entry in v4["items"][0]["stocks"]}
    assert types == {"fbs": 0, "rfbs": 4}
    assert [row["free_stock"] for row in rows] == [4]


def test_history_order(server: SandboxServer, api: Api, clock: ManualClock) -> None:
    # GIVEN a pair updated three times, 30 s apart, with a rejected attempt between
    server.sandbox.seed(offers(1))
    start = clock.now()
    for value in (5, 3, 8):
        api.push(("HC-00000", value, MAIN_WAREHOUSE_ID))
        clock.advance(10)
        api.push(("HC-00000", 100, MAIN_WAREHOUSE_ID))
        clock.advance(20)

    # WHEN the history is read in Python and over HTTP
    history = server.sandbox.history()[("HC-00000", MAIN_WAREHOUSE_ID)]
    over_http = requests.get(server.base_url + "/_sandbox/history?offer_id=HC-00000", timeout=10)

    # THEN only applied values appear, oldest first, with their virtual times
    assert history == [(start, 5), (start + 30, 3), (start + 60, 8)]
    values = over_http.json()["history"][0]["values"]
    assert [value["stock"] for value in values] == [5, 3, 8]


def test_seed_shares_exact_and_repeatable(server: SandboxServer) -> None:
    # GIVEN a catalogue of 1,000 offers
    catalog = offers(1000)

    # WHEN it is seeded twice with the same seed and once with another
    first = server.sandbox.seed(catalog, missing_share=0.1, archived_share=0.05,
                                reserved_share=0.2, max_reserved=3, seed=42)
    second = server.sandbox.seed(catalog, missing_share=0.1, archived_share=0.05,
                                 reserved_share=0.2, max_reserved=3, seed=42)
    other = server.sandbox.seed(catalog, missing_share=0.1, seed=43)

    # THEN the counts match the shares exactly and the same seed gives the same choice
    assert first.listed == 900
    assert len(first.missing_offer_ids) == 100
    assert len(first.archived_offer_ids) == 50
    assert len(first.reserved_offer_ids) == 200
    assert first == second
    assert other.missing_offer_ids != first.missing_offer_ids


def test_seed_reserved_units(server: SandboxServer) -> None:
    # GIVEN every product with 1..3 reserved units
    server.sandbox.seed(offers(200), reserved_share=1.0, max_reserved=3)

    # WHEN the stock is inspected
    reserved = [row.reserved for row in server.sandbox.stocks().values()]

    # THEN each has between 1 and 3, and more than one value occurs
    assert min(reserved) == 1
    assert max(reserved) == 3


def test_seed_over_http_matches_python(server: SandboxServer) -> None:
    # GIVEN the same seeding sent over HTTP and called in Python
    body = {"offer_ids": offers(300), "missing_share": 0.1, "archived_share": 0.1, "seed": 5}
    over_http = requests.post(server.base_url + "/_sandbox/seed", json=body, timeout=10)
    in_python = server.sandbox.seed(offers(300), missing_share=0.1, archived_share=0.1, seed=5)

    # THEN both choose the same offers
    assert over_http.status_code == 200
    assert over_http.json() == in_python.to_json()


def test_seed_rejects_bad_share(server: SandboxServer) -> None:
    # WHEN a share above 1 is sent
    body = {"offer_ids": offers(3), "missing_share": 1.5}
    response = requests.post(server.base_url + "/_sandbox/seed", json=body, timeout=10)

    # THEN the control endpoint returns 400 naming the field
    assert response.status_code == 400
    assert "missing_share" in response.json()["message"]


def test_request_fault_shares(server: SandboxServer, api: Api, clock: ManualClock) -> None:
    # GIVEN 20% injected 429s and 10% injected 5xx with a fixed seed
    server.sandbox.seed(offers(1))
    server.sandbox.set_faults(http_429_share=0.2, http_5xx_share=0.1, seed=7)

    # WHEN 400 stock requests are sent, one per virtual second
    statuses = []
    for _ in range(400):
        response = api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID))
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "1"
        clock.advance(1)

    # THEN the shares come out roughly as configured and the counters agree
    share_429 = statuses.count(429) / len(statuses)
    share_5xx = sum(status >= 500 for status in statuses) / len(statuses)
    assert 0.14 <= share_429 <= 0.26
    assert 0.05 <= share_5xx <= 0.15
    stats = server.sandbox.stats()
    assert stats["faults"]["http_429"] == statuses.count(429)
    assert stats["statuses"]["5xx"] == sum(status >= 500 for status in statuses)


def test_item_rate_error_share(server: SandboxServer, api: Api, clock: ManualClock) -> None:
    # GIVEN 30% injected per-item rate errors
    server.sandbox.seed(offers(100))
    server.sandbox.set_faults(item_rate_error_share=0.3, seed=11)

    # WHEN 5 requests of 100 fresh pairs each are sent, 30 s apart
    rejected = 0
    for _ in range(5):
        result = api.push(*[(o, 1, MAIN_WAREHOUSE_ID) for o in offers(100)]).json()["result"]
        rejected += sum(not item["updated"] for item in result)
        clock.advance(30)

    # THEN about 30% come back as TOO_MANY_REQUESTS
    assert 0.22 <= rejected / 500 <= 0.38
    assert server.sandbox.stats()["items_rejected"]["TOO_MANY_REQUESTS"] == rejected


def test_reads_skip_faults_by_default(server: SandboxServer, api: Api, clock: ManualClock) -> None:
    # GIVEN every request set to fail with 5xx
    server.sandbox.set_faults(FaultConfig(http_5xx_share=1.0))

    # WHEN a read and a write are sent
    read = api.post("/v2/warehouse/list", {"limit": 200})
    write = api.push(("HC-00000", 1, MAIN_WAREHOUSE_ID))

    # THEN the read is clean and the write fails
    assert read.status_code == 200
    assert write.status_code >= 500

    # AND with faults_on_reads the read fails too
    server.sandbox.set_faults(faults_on_reads=True)
    assert api.post("/v2/warehouse/list", {"limit": 200}).status_code >= 500


def test_slow_answer_still_applies(server: SandboxServer, api: Api) -> None:
    # GIVEN every write replied to 0.3 real seconds late
    server.sandbox.seed(offers(1))
    server.sandbox.set_faults(slow_share=1.0, slow_seconds=0.3)

    # WHEN a write is sent
    response = api.push(("HC-00000", 6, MAIN_WAREHOUSE_ID))

    # THEN it succeeds after the delay
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.3


@pytest.mark.parametrize("applies", [True, False])
def test_timeout_applies_flag(server: SandboxServer, api: Api, applies: bool) -> None:
    # GIVEN every write stalling 0.5 real seconds, and a client waiting 0.1 s
    server.sandbox.seed(offers(1))
    server.sandbox.set_faults(timeout_share=1.0, timeout_seconds=0.5, timeout_applies=applies)

    # WHEN a write is sent
    body = {"stocks": [{"offer_id": "HC-00000", "stock": 6, "warehouse_id": MAIN_WAREHOUSE_ID}]}
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.post(api.base_url + STOCKS, json=body, timeout=0.1)

    # THEN the update was applied or not, as configured
    history = server.sandbox.history().get(("HC-00000", MAIN_WAREHOUSE_ID), [])
    assert [value for _, value in history] == ([6] if applies else [])
    assert server.sandbox.stats()["faults"]["timeout"] == 1


@pytest.mark.parametrize(
    ("style", "expected"), [("int", [int, int]), ("string", [str, str]), ("mixed", [int, str])]
)
def test_error_code_style(server: SandboxServer, style: str, expected: list[type]) -> None:
    # GIVEN an error code style
    server.sandbox.set_faults(error_code_style=style)

    # WHEN two errors are produced
    codes = [
        requests.post(server.base_url + STOCKS, json={}, timeout=10).json()["code"]
        for _ in range(2)
    ]

    # THEN the codes have the configured types
    assert [type(code) for code in codes] == expected


def test_faults_over_http(server: SandboxServer) -> None:
    # WHEN faults are changed over HTTP, then with an impossible total
    changed = requests.post(
        server.base_url + "/_sandbox/faults", json={"http_429_share": 0.5}, timeout=10
    )
    invalid = requests.post(
        server.base_url + "/_sandbox/faults", json={"http_5xx_share": 0.6}, timeout=10
    )

    # THEN the first takes effect and the second is rejected
    assert changed.status_code == 200
    assert server.sandbox.faults.http_429_share == 0.5
    assert invalid.status_code == 400
    assert server.sandbox.faults.http_5xx_share == 0.0


def test_control_stocks_stats_reset(server: SandboxServer, api: Api) -> None:
    # GIVEN one applied update
    server.sandbox.seed(offers(2), reserved_share=0.5, seed=2)
    api.push(("HC-00000", 9, MAIN_WAREHOUSE_ID))

    # WHEN the control endpoints are read, then the sandbox is reset
    stocks = requests.get(server.base_url + "/_sandbox/stocks", timeout=10).json()["stocks"]
    stats = requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()
    requests.post(server.base_url + "/_sandbox/reset", json={}, timeout=10)

    # THEN they report the state, and reset empties it
    by_offer = {row["offer_id"]: row for row in stocks}
    assert by_offer["HC-00000"]["free_stock"] == 9
    assert all(row["present"] == row["free_stock"] + row["reserved"] for row in stocks)
    assert stats["requests"] == {STOCKS: 1}
    assert stats["items_applied"] == 1
    assert server.sandbox.stocks() == {}
    assert server.sandbox.stats()["items_applied"] == 0


def test_concurrent_writers(server: SandboxServer, clock: ManualClock) -> None:
    # GIVEN 4,000 products and 8 client threads
    catalog = offers(4000)
    server.sandbox.seed(catalog)
    batches = [catalog[start : start + 100] for start in range(0, 4000, 100)]

    def push(batch: list[str]) -> list[dict]:
        api = Api(server.base_url)
        return api.push(*[(o, 2, MAIN_WAREHOUSE_ID) for o in batch]).json()["result"]

    # WHEN 40 requests of 100 distinct pairs run at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [item for result in pool.map(push, batches) for item in result]

    # THEN every item is applied exactly once
    assert all(item["updated"] for item in results)
    assert server.sandbox.stats()["items_applied"] == 4000
    assert {row.free for row in server.sandbox.stocks().values()} == {2}


def test_rejects_non_loopback_host() -> None:
    # WHEN the server is asked to bind to every interface
    # THEN it refuses
    with pytest.raises(ValueError, match="loopback"):
        SandboxServer((CLIENT_ID, API_KEY), host="0.0.0.0")


def test_standalone_reads_key_from_env() -> None:
    # GIVEN the key in an environment variable only
    env = {**os.environ, "SANDBOX_TEST_KEY": API_KEY}
    command = [sys.executable, "-m", "local.sandbox", "--port", "0", "--client-id", CLIENT_ID,
               "--api-key-env", "SANDBOX_TEST_KEY", "--clock-speed", "10"]

    # WHEN the sandbox runs as its own process
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().strip()
        response = Api(base_url).post("/v2/warehouse/list", {"limit": 200})
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)

    # THEN it serves requests with that key, exits cleanly and logs no key
    assert base_url.startswith("http://127.0.0.1:")
    assert response.status_code == 200
    assert process.returncode == 0
    assert API_KEY not in stderr
