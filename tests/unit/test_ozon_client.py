"""OzonClient over real HTTP against a scripted stdlib server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import logging
import pickle
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.observability import logger
from chalicelib.ozon.client import OzonClient
from chalicelib.ozon.credentials import (
    OzonCredentials,
    OzonCredentialsError,
    load_credentials,
)
from chalicelib.ozon.errors import (
    MAX_MESSAGE_CHARS,
    RETRY_AFTER_ITEM_RATE_SECONDS,
    OzonAuthError,
    OzonContractError,
    OzonError,
    OzonRateLimitedError,
    OzonRequestError,
    OzonRetryableError,
    OzonServerError,
    OzonTimeoutError,
    classify_item_error,
    parse_retry_after,
)
from chalicelib.ozon.models import (
    ProductStocksPage,
    StockUpdate,
    StockUpdateResult,
    WarehouseStock,
    parse_timestamp,
)
from chalicelib.settings import Settings

CLIENT_ID = "7654321"
API_KEY = "test-api-key-5f0c2b9e-1d3a-4e8f-9a77-c0ffee000001"
CREDENTIALS = OzonCredentials(client_id=CLIENT_ID, api_key=API_KEY)


# ---------------------------------------------------------------- scripted Ozon server


@dataclass
class Reply:
    """One scripted response: a dict body is sent as JSON, a str body as it is."""

    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: Any


class OzonTestServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 that records requests and plays replies.

    Replies are queued per path; the last one repeats. An unscripted path gets 404,
    as a switched-off Ozon method does.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._stopped = False

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def reply(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[path] = list(replies)

    def bodies(self, path: str) -> list[Any]:
        return [request.body for request in self.requests if request.path == path]

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            queue = self._replies.get(path)
            if not queue:
                return Reply(404, {"code": 5, "message": "Not Found"})
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else None
                server._record(RecordedRequest(self.path, dict(self.headers), body))

                reply = server._next_reply(self.path)
                time.sleep(reply.delay)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if isinstance(reply.body, str):
                    payload, content_type = reply.body.encode(), "text/html"
                else:
                    payload, content_type = json.dumps(reply.body).encode(), "application/json"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (timeout tests), so nothing reads the response.
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def ozon_server() -> Iterator[OzonTestServer]:
    server = OzonTestServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(ozon_server: OzonTestServer) -> OzonClient:
    return OzonClient(ozon_server.base_url, CREDENTIALS, timeout=2.0)


def stock_result(offer_id: str, warehouse_id: int = 22142605386000, **extra: Any) -> dict:
    return {
        "offer_id": offer_id,
        "product_id": 118597312,
        "warehouse_id": warehouse_id,
        "updated": True,
        "errors": [],
        **extra,
    }


# ---------------------------------------------------------------- requests sent


def test_auth_headers_sent(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN an Ozon method that returns 200
    ozon_server.reply("/v2/products/stocks", Reply(body={"result": [stock_result("PH11042")]}))

    # WHEN the client updates one stock
    client.update_stocks([StockUpdate(offer_id="PH11042", warehouse_id=22142605386000, stock=5)])

    # THEN the request carries the seller's Client-Id, Api-Key and a JSON content type
    headers = ozon_server.requests[0].headers
    assert headers["Client-Id"] == CLIENT_ID
    assert headers["Api-Key"] == API_KEY
    assert headers["Content-Type"] == "application/json"


def test_update_stocks_body_and_results(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN Ozon accepts one pair and rejects the other within HTTP 200
    rejected = stock_result(
        "PH-ARCHIVED",
        updated=False,
        errors=[{"code": "PRODUCT_IS_ARCHIVED", "message": "product is archived"}],
    )
    ozon_server.reply(
        "/v2/products/stocks",
        Reply(body={"result": [stock_result("PH11042"), rejected]}),
    )
    items = [
        StockUpdate(offer_id="PH11042", warehouse_id=22142605386000, stock=100),
        StockUpdate(offer_id="PH-ARCHIVED", warehouse_id=22142605386000, stock=0, product_id=42),
    ]

    # WHEN the client sends both
    results = client.update_stocks(items)

    # THEN the body lists each pair, omitting the unset product_id
    assert ozon_server.bodies("/v2/products/stocks") == [
        {
            "stocks": [
                {"offer_id": "PH11042", "warehouse_id": 22142605386000, "stock": 100},
                {
                    "offer_id": "PH-ARCHIVED",
                    "warehouse_id": 22142605386000,
                    "stock": 0,
                    "product_id": 42,
                },
            ]
        }
    ]
    # AND each item's verdict is returned
    assert [result.updated for result in results] == [True, False]
    assert results[1].errors[0].code == "PRODUCT_IS_ARCHIVED"


def test_more_than_100_rejected_before_send(ozon_server: OzonTestServer) -> None:
    # GIVEN 101 pairs and a hook that counts calls
    calls: list[str] = []
    limited = OzonClient(ozon_server.base_url, CREDENTIALS, before_request=calls.append)
    items = [StockUpdate(offer_id=f"SKU-{i}", warehouse_id=1, stock=i) for i in range(101)]

    # WHEN the client is asked to send them
    with pytest.raises(ValueError, match="101 stock updates"):
        limited.update_stocks(items)

    # THEN nothing reached the hook or the server
    assert calls == []
    assert ozon_server.requests == []


def test_empty_update_makes_no_call(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN no pairs WHEN the client updates THEN it returns nothing without a request
    assert client.update_stocks([]) == []
    assert ozon_server.requests == []


def test_before_request_hook_per_call(ozon_server: OzonTestServer) -> None:
    # GIVEN two pages of warehouse stock and a hook recording paths
    path = "/v1/product/info/warehouse/stocks"
    ozon_server.reply(
        path,
        Reply(body={"stocks": [warehouse_stock(1)], "cursor": "1", "has_next": True}),
        Reply(body={"stocks": [warehouse_stock(2)], "cursor": "2", "has_next": False}),
    )
    calls: list[str] = []
    hooked = OzonClient(ozon_server.base_url, CREDENTIALS, before_request=calls.append)

    # WHEN every row is read
    list(hooked.iter_warehouse_stocks(1020003080073000))

    # THEN the hook ran once before each HTTP call, with the path
    assert calls == [path, path]
    assert len(ozon_server.requests) == 2


# ---------------------------------------------------------------- status mapping

STATUS_CASES = [
    (429, OzonRateLimitedError),
    (500, OzonServerError),
    (502, OzonServerError),
    (503, OzonServerError),
    (408, OzonServerError),
    (401, OzonAuthError),
    (403, OzonAuthError),
    (404, OzonContractError),
    (405, OzonContractError),
    (410, OzonContractError),
    (400, OzonRequestError),
    (409, OzonRequestError),
    (422, OzonRequestError),
    (302, OzonContractError),
]


@pytest.mark.parametrize(("status", "error_class"), STATUS_CASES)
def test_status_maps_to_error(
    client: OzonClient, ozon_server: OzonTestServer, status: int, error_class: type
) -> None:
    # GIVEN Ozon returns an error status and its usual body
    ozon_server.reply(
        "/v2/products/stocks",
        Reply(status, {"code": 3, "message": "some failure", "details": []}),
    )

    # WHEN the client calls the method
    with pytest.raises(OzonError) as caught:
        client.post("/v2/products/stocks", {"stocks": []})

    # THEN the error class, path, status and Ozon's message are reported
    assert type(caught.value) is error_class
    assert caught.value.path == "/v2/products/stocks"
    assert caught.value.status == status
    assert caught.value.message == "some failure"


def test_error_classes_sorted_by_action() -> None:
    # GIVEN the error hierarchy THEN only 429, 5xx and timeouts are retryable
    assert issubclass(OzonRateLimitedError, OzonRetryableError)
    assert issubclass(OzonServerError, OzonRetryableError)
    assert issubclass(OzonTimeoutError, OzonRetryableError)
    assert not issubclass(OzonAuthError, OzonRetryableError)
    assert not issubclass(OzonContractError, OzonRetryableError)
    assert not issubclass(OzonRequestError, OzonRetryableError)


def test_retry_after_header_parsed(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a 429 with Retry-After in seconds
    ozon_server.reply(
        "/v2/products/stocks",
        Reply(
            429,
            {"code": 8, "message": "You have reached request rate limit per second"},
            {"Retry-After": "3"},
        ),
    )

    # WHEN the client calls
    with pytest.raises(OzonRateLimitedError) as caught:
        client.post("/v2/products/stocks", {"stocks": []})

    # THEN retry_after contains the seconds and the message gives the same delay
    assert caught.value.retry_after == 3.0
    assert "Retry after 3 s" in str(caught.value)


def test_retry_after_missing_is_none(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a 503 without Retry-After
    ozon_server.reply("/v2/products/stocks", Reply(503, {"code": 14, "message": "unavailable"}))

    # WHEN the client calls THEN the error has no retry delay
    with pytest.raises(OzonServerError) as caught:
        client.post("/v2/products/stocks", {"stocks": []})
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0.5", 0.5),
        (" 7 ", 7.0),
        ("", None),
        (None, None),
        ("-1", None),
        ("soon", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    # GIVEN "now" 10 s before the HTTP date in the table
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc).timestamp()

    # WHEN the header is parsed THEN it yields seconds, or None when unusable
    assert parse_retry_after(header, now=now) == expected


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"code": 8, "message": "You have reached request rate limit per second"},
            8,
            "You have reached request rate limit per second",
        ),
        (
            {"code": "RESOURCE_EXHAUSTED", "message": "Retry after 120 seconds"},
            "RESOURCE_EXHAUSTED",
            "Retry after 120 seconds",
        ),
        (
            {"error": {"code": "ERROR_UNKNOWN", "message": "nested", "details": None}},
            "ERROR_UNKNOWN",
            "nested",
        ),
        ({"message": "no code"}, None, "no code"),
        ([1, 2], None, "[1, 2]"),
    ],
)
def test_error_codes_int_and_string(
    client: OzonClient, ozon_server: OzonTestServer, body: Any, code: Any, message: str
) -> None:
    # GIVEN an error body with an int, a string, a nested or no code
    ozon_server.reply("/v2/products/stocks", Reply(400, body))

    # WHEN the client calls
    with pytest.raises(OzonRequestError) as caught:
        client.post("/v2/products/stocks", {"stocks": []})

    # THEN code keeps the type Ozon sent and message is Ozon's text
    assert caught.value.code == code
    assert type(caught.value.code) is type(code)
    assert caught.value.message == message


def test_non_json_error_body_truncated(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a proxy's HTML page instead of Ozon's JSON
    page = "<html><body>\n<h1>502 Bad Gateway</h1>\n" + "x" * 5000 + "</body></html>"
    ozon_server.reply("/v2/products/stocks", Reply(502, page))

    # WHEN the client calls
    with pytest.raises(OzonServerError) as caught:
        client.post("/v2/products/stocks", {"stocks": []})

    # THEN the class still follows the status and the text is shortened
    assert caught.value.code is None
    assert caught.value.message.startswith("<html><body> <h1>502 Bad Gateway</h1>")
    assert len(caught.value.message) <= MAX_MESSAGE_CHARS + len("...")


def test_200_non_json_is_contract_error(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a 200 whose body is not JSON
    ozon_server.reply("/v2/products/stocks", Reply(200, "maintenance"))

    # WHEN the client calls THEN the contract is reported broken
    with pytest.raises(OzonContractError, match="not JSON"):
        client.update_stocks([StockUpdate(offer_id="A", warehouse_id=1, stock=1)])


def test_200_wrong_shape_is_contract_error(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a 200 whose items lack the fields the service acts on
    ozon_server.reply("/v2/products/stocks", Reply(body={"result": [{"offer_id": "A"}]}))

    # WHEN the client parses it
    with pytest.raises(OzonContractError) as caught:
        client.update_stocks([StockUpdate(offer_id="A", warehouse_id=1, stock=1)])

    # THEN the error names the missing field and chains the validation error
    assert "result.0.warehouse_id" in caught.value.message
    assert caught.value.__cause__ is not None


def test_timeout_raises_timeout_error(ozon_server: OzonTestServer) -> None:
    # GIVEN a method that responds after 1 s and a client that waits 0.2 s
    ozon_server.reply("/v2/products/stocks", Reply(body={"result": []}, delay=1.0))
    impatient = OzonClient(ozon_server.base_url, CREDENTIALS, timeout=0.2)

    # WHEN the client calls
    started = time.monotonic()
    with pytest.raises(OzonTimeoutError) as caught:
        impatient.update_stocks([StockUpdate(offer_id="A", warehouse_id=1, stock=1)])

    # THEN it gives up near its timeout, reports the timeout and chains the requests error
    assert time.monotonic() - started < 0.9
    assert caught.value.status is None
    assert "timed out after 0.2 s" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_connection_refused_is_timeout_error(ozon_server: OzonTestServer) -> None:
    # GIVEN a port on 127.0.0.1 where nothing listens any more
    address = ozon_server.base_url
    ozon_server.stop()
    offline = OzonClient(address, CREDENTIALS, timeout=0.5)

    # WHEN the client calls THEN the failure is retryable
    with pytest.raises(OzonTimeoutError, match="connection failed"):
        offline.post("/v2/products/stocks", {"stocks": []})


# ---------------------------------------------------------------- paging


def product_stocks(product_id: int) -> dict:
    return {
        "offer_id": f"OFFER-{product_id}",
        "product_id": product_id,
        "stocks": [
            {
                "present": 10,
                "reserved": 2,
                "type": "fbs",
                "sku": 900 + product_id,
                "warehouse_ids": [1],
            }
        ],
    }


def warehouse_stock(sku: int) -> dict:
    return {
        "sku": sku,
        "product_id": sku + 1000,
        "offer_id": f"OFFER-{sku}",
        "warehouse_id": 1020003080073000,
        "present": 10,
        "reserved": 1,
        "free_stock": 9,
        "updated_at": "2025-09-15T10:36:24.417498Z",
    }


def test_product_stocks_cursor_paging(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN three pages: two with items, then an empty one
    path = "/v4/product/info/stocks"
    ozon_server.reply(
        path,
        Reply(body={"items": [product_stocks(1), product_stocks(2)], "cursor": "c1", "total": 3}),
        Reply(body={"items": [product_stocks(3)], "cursor": "c2", "total_items": 3}),
        Reply(body={"items": [], "cursor": ""}),
    )

    # WHEN every product is read
    products = list(client.iter_product_stocks(limit=2))

    # THEN all items arrive in order and each request passes the previous cursor
    assert [product.product_id for product in products] == [1, 2, 3]
    assert [body["cursor"] for body in ozon_server.bodies(path)] == ["", "c1", "c2"]
    assert ozon_server.bodies(path)[0]["filter"] == {"visibility": "ALL"}
    assert ozon_server.bodies(path)[0]["limit"] == 2


def test_product_stocks_stop_on_empty_cursor(
    client: OzonClient, ozon_server: OzonTestServer
) -> None:
    # GIVEN one page whose cursor is empty
    path = "/v4/product/info/stocks"
    ozon_server.reply(path, Reply(body={"items": [product_stocks(1)], "cursor": ""}))

    # WHEN read THEN one request is made
    assert len(list(client.iter_product_stocks(["OFFER-1"]))) == 1
    assert len(ozon_server.requests) == 1
    assert ozon_server.bodies(path)[0]["filter"] == {"offer_id": ["OFFER-1"]}


def test_product_stocks_offer_filter_chunks(
    client: OzonClient, ozon_server: OzonTestServer
) -> None:
    # GIVEN 2500 offer ids and an empty response
    path = "/v4/product/info/stocks"
    ozon_server.reply(path, Reply(body={"items": [], "cursor": ""}))
    offer_ids = [f"OFFER-{i}" for i in range(2500)]

    # WHEN they are read
    list(client.iter_product_stocks(offer_ids))

    # THEN the filter is split into requests of at most 1000 ids, keeping every id
    sizes = [len(body["filter"]["offer_id"]) for body in ozon_server.bodies(path)]
    assert sizes == [1000, 1000, 500]


def test_product_stocks_string_filter_rejected(
    client: OzonClient, ozon_server: OzonTestServer
) -> None:
    # GIVEN one offer id passed as a bare string WHEN read THEN TypeError, no request
    with pytest.raises(TypeError, match="PH11042"):
        list(client.iter_product_stocks("PH11042"))
    assert ozon_server.requests == []


def test_product_stocks_empty_filter_no_call(
    client: OzonClient, ozon_server: OzonTestServer
) -> None:
    # GIVEN an empty offer list WHEN read THEN nothing is requested
    assert list(client.iter_product_stocks([])) == []
    assert ozon_server.requests == []


def test_warehouse_stocks_cursor_has_next(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN two pages joined by has_next
    path = "/v1/product/info/warehouse/stocks"
    ozon_server.reply(
        path,
        Reply(body={"stocks": [warehouse_stock(1)], "cursor": "1", "has_next": True}),
        Reply(body={"stocks": [warehouse_stock(2)], "cursor": "2", "has_next": False}),
    )

    # WHEN the warehouse is read
    rows = list(client.iter_warehouse_stocks(1020003080073000, limit=1))

    # THEN both rows arrive, parsed, and the second request passes the first cursor
    assert [row.sku for row in rows] == [1, 2]
    assert rows[0].updated_at == datetime(2025, 9, 15, 10, 36, 24, 417498, tzinfo=timezone.utc)
    assert ozon_server.bodies(path) == [
        {"warehouse_id": 1020003080073000, "limit": 1, "cursor": ""},
        {"warehouse_id": 1020003080073000, "limit": 1, "cursor": "1"},
    ]


def test_warehouse_stocks_stop_on_empty_page(
    client: OzonClient, ozon_server: OzonTestServer
) -> None:
    # GIVEN an empty page with has_next=true
    path = "/v1/product/info/warehouse/stocks"
    ozon_server.reply(path, Reply(body={"stocks": [], "cursor": "x", "has_next": True}))

    # WHEN read THEN paging stops after that page
    assert list(client.iter_warehouse_stocks(1)) == []
    assert len(ozon_server.requests) == 1


def test_repeated_cursor_is_contract_error(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a method that returns the same cursor forever
    path = "/v1/product/info/warehouse/stocks"
    ozon_server.reply(
        path, Reply(body={"stocks": [warehouse_stock(1)], "cursor": "same", "has_next": True})
    )

    # WHEN read THEN paging stops with a contract error instead of looping
    with pytest.raises(OzonContractError, match="repeats"):
        list(client.iter_warehouse_stocks(1))
    assert len(ozon_server.requests) == 2


def test_invalid_page_limit_rejected(client: OzonClient) -> None:
    # GIVEN limits outside 1..1000 WHEN iterating THEN ValueError names the value
    with pytest.raises(ValueError, match="1001"):
        list(client.iter_warehouse_stocks(1, limit=1001))
    with pytest.raises(ValueError, match="0"):
        list(client.iter_product_stocks(limit=0))


def warehouse(warehouse_id: int | str, status: str = "created", **extra: Any) -> dict:
    return {"warehouse_id": warehouse_id, "name": f"FBS {warehouse_id}", "status": status, **extra}


def test_list_warehouses_one_page(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN two warehouses, one with a string id and a null list
    path = "/v2/warehouse/list"
    ozon_server.reply(
        path,
        Reply(
            body={
                "warehouses": [
                    warehouse("22142605386000"),
                    warehouse(2, "disabled", working_days=None),
                ],
                "cursor": "",
                "has_next": False,
            }
        ),
    )

    # WHEN listed
    warehouses = client.list_warehouses()

    # THEN one request was enough, string ids become ints and nulls become empty
    assert [w.warehouse_id for w in warehouses] == [22142605386000, 2]
    assert [w.is_active for w in warehouses] == [True, False]
    assert warehouses[1].working_days == []
    assert ozon_server.bodies(path) == [{"limit": 200}]


def test_list_warehouses_cursor_paging(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a first page that reports more to follow, then a last page
    path = "/v2/warehouse/list"
    ozon_server.reply(
        path,
        Reply(body={"warehouses": [warehouse(i) for i in range(1, 201)], "cursor": "c1",
                    "has_next": True}),
        Reply(body={"warehouses": [warehouse(201)], "cursor": "", "has_next": False}),
    )

    # WHEN listed THEN both pages are joined and the second request carries the cursor
    assert len(client.list_warehouses()) == 201
    assert [body.get("cursor") for body in ozon_server.bodies(path)] == [None, "c1"]


def test_list_warehouses_repeated_cursor(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a server that hands back the same cursor forever
    path = "/v2/warehouse/list"
    ozon_server.reply(
        path, Reply(body={"warehouses": [warehouse(1)], "cursor": "c1", "has_next": True})
    )

    # WHEN listed THEN paging stops with a contract error after the repeat
    with pytest.raises(OzonContractError, match="repeats"):
        client.list_warehouses()
    assert len(ozon_server.requests) == 2


# ---------------------------------------------------------------- secrets


def all_error_texts(error: BaseException) -> str:
    return " ".join([str(error), repr(error), repr(error.args)])


def test_secrets_absent_from_errors(client: OzonClient, ozon_server: OzonTestServer) -> None:
    # GIVEN a server that echoes the request headers into the error body
    ozon_server.reply(
        "/v2/products/stocks",
        Reply(401, {"code": 16, "message": f"Invalid Api-Key {API_KEY} for client {CLIENT_ID}"}),
    )

    # WHEN the call fails
    with pytest.raises(OzonAuthError) as caught:
        client.post("/v2/products/stocks", {"stocks": []})

    # THEN neither the key nor the client id appears in the error in any form
    text = all_error_texts(caught.value)
    assert API_KEY not in text
    assert CLIENT_ID not in text
    assert "Invalid Api-Key ***" in caught.value.message


def test_secrets_absent_from_timeout_error(ozon_server: OzonTestServer) -> None:
    # GIVEN a timeout, whose cause is a requests exception
    ozon_server.reply("/v2/products/stocks", Reply(body={}, delay=1.0))
    impatient = OzonClient(ozon_server.base_url, CREDENTIALS, timeout=0.2)

    # WHEN it fires
    with pytest.raises(OzonTimeoutError) as caught:
        impatient.post("/v2/products/stocks", {"stocks": []})

    # THEN the error text contains no secret
    assert API_KEY not in all_error_texts(caught.value)
    assert CLIENT_ID not in all_error_texts(caught.value)


def test_secrets_absent_from_reprs() -> None:
    # GIVEN credentials and a client WHEN shown THEN the values are masked
    client = OzonClient("http://127.0.0.1:9", CREDENTIALS)
    for text in (repr(CREDENTIALS), str(CREDENTIALS), repr(client)):
        assert API_KEY not in text
        assert CLIENT_ID not in text
    assert repr(CREDENTIALS) == "OzonCredentials(client_id=***, api_key=***)"


def test_headers_returns_both_values() -> None:
    # GIVEN credentials WHEN headers are built THEN they carry the real values
    assert CREDENTIALS.headers() == {"Client-Id": CLIENT_ID, "Api-Key": API_KEY}


def test_credentials_frozen() -> None:
    # GIVEN credentials WHEN a field is assigned THEN it is rejected
    with pytest.raises(AttributeError):
        CREDENTIALS.api_key = "other"  # type: ignore[misc]


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    # Powertools' Logger does not propagate to the root logger, so caplog misses it.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    previous = logger.log_level
    logger.addHandler(handler)
    logger.setLevel("DEBUG")
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_call_logged_without_secrets(
    client: OzonClient, ozon_server: OzonTestServer, debug_log: io.StringIO
) -> None:
    # GIVEN a successful update
    ozon_server.reply("/v2/products/stocks", Reply(body={"result": [stock_result("PH11042")]}))

    # WHEN the client calls at debug level
    client.update_stocks([StockUpdate(offer_id="PH11042", warehouse_id=22142605386000, stock=5)])

    # THEN one JSON line records path, status, duration and items, and no secret
    line = json.loads(debug_log.getvalue().strip().splitlines()[-1])
    assert line["path"] == "/v2/products/stocks"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["request_items"] == 1
    assert API_KEY not in debug_log.getvalue()
    assert CLIENT_ID not in debug_log.getvalue()


def test_pickled_error_keeps_fields() -> None:
    # GIVEN a rate-limit error WHEN pickled and restored THEN every field survives
    error = OzonRateLimitedError("/v2/products/stocks", 429, "RESOURCE_EXHAUSTED", "slow down", 2.5)
    restored = pickle.loads(pickle.dumps(error))
    assert (
        restored.path,
        restored.status,
        restored.code,
        restored.message,
        restored.retry_after,
    ) == ("/v2/products/stocks", 429, "RESOURCE_EXHAUSTED", "slow down", 2.5)


def test_error_str_says_where_what_and_next() -> None:
    # GIVEN an auth error WHEN shown THEN it names the path, status, Ozon's text and the fix
    text = str(OzonAuthError("/v2/products/stocks", 403, 7, "Api-key is deactivated"))
    assert "/v2/products/stocks" in text
    assert "HTTP 403" in text
    assert "Api-key is deactivated" in text
    assert "Stop and alert" in text


# ---------------------------------------------------------------- load_credentials


def test_credentials_from_env() -> None:
    # GIVEN no secret name and both variables set
    environ = {"OZON_CLIENT_ID": CLIENT_ID, "OZON_API_KEY": API_KEY}

    # WHEN loaded THEN the values come from the environment
    assert load_credentials(Settings(), environ=environ) == CREDENTIALS


def test_credentials_env_missing_named() -> None:
    # GIVEN only the client id WHEN loaded THEN the error names the missing variable only
    with pytest.raises(OzonCredentialsError, match="OZON_API_KEY not set") as caught:
        load_credentials(Settings(), environ={"OZON_CLIENT_ID": CLIENT_ID})
    assert CLIENT_ID not in str(caught.value)
    assert "OZON_CLIENT_ID" not in str(caught.value).split("not set")[0]


def test_empty_credentials_rejected() -> None:
    # GIVEN an empty key WHEN credentials are built THEN the field is named
    with pytest.raises(OzonCredentialsError, match="api_key"):
        OzonCredentials(client_id=CLIENT_ID, api_key=" ")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    # moto's server on 127.0.0.1: no AWS request leaves the machine.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def secrets_client(moto_url: str) -> Any:
    return boto3.client(
        "secretsmanager",
        region_name="eu-central-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_credentials_from_secret(secrets_client: Any) -> None:
    # GIVEN a secret with a numeric client id, as a hand-written secret may have
    secrets_client.create_secret(
        Name="ozon/ok", SecretString=json.dumps({"client_id": int(CLIENT_ID), "api_key": API_KEY})
    )
    settings = Settings(ozon_secret_name="ozon/ok")

    # WHEN loaded THEN both values come from the secret, as strings
    assert load_credentials(settings, secrets_client, environ={}) == CREDENTIALS


def test_secret_client_built_from_settings(
    secrets_client: Any, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a secret, fake AWS credentials and settings that point at the local endpoint
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    secrets_client.create_secret(
        Name="ozon/default-client",
        SecretString=json.dumps({"client_id": CLIENT_ID, "api_key": API_KEY}),
    )
    settings = Settings(
        ozon_secret_name="ozon/default-client", region="eu-central-1", aws_endpoint_url=moto_url
    )

    # WHEN loaded without a client THEN the one built from the settings reads the secret
    assert load_credentials(settings) == CREDENTIALS


@pytest.mark.parametrize(
    ("name", "secret", "expected"),
    [
        ("ozon/no-key", json.dumps({"client_id": CLIENT_ID}), "missing api_key"),
        ("ozon/empty", json.dumps({"client_id": "", "api_key": ""}), "missing client_id, api_key"),
        ("ozon/text", f"{CLIENT_ID}:{API_KEY}", "is not JSON"),
        ("ozon/list", json.dumps([CLIENT_ID, API_KEY]), "must be a JSON object"),
    ],
)
def test_bad_secret_named(secrets_client: Any, name: str, secret: str, expected: str) -> None:
    # GIVEN a malformed secret
    secrets_client.create_secret(Name=name, SecretString=secret)

    # WHEN loaded
    with pytest.raises(OzonCredentialsError) as caught:
        load_credentials(Settings(ozon_secret_name=name), secrets_client)

    # THEN the error names the secret and the problem, never the values
    assert expected in str(caught.value)
    assert name in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert CLIENT_ID not in str(caught.value)


def test_absent_secret_named(secrets_client: Any) -> None:
    # GIVEN no such secret WHEN loaded THEN the error names it and the fix
    with pytest.raises(OzonCredentialsError, match="ozon/absent.*exists") as caught:
        load_credentials(Settings(ozon_secret_name="ozon/absent"), secrets_client)
    assert caught.value.__cause__ is not None


# ---------------------------------------------------------------- models and item errors


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-09-15T10:36:24Z", datetime(2025, 9, 15, 10, 36, 24, tzinfo=timezone.utc)),
        ("2025-09-15T10:36:24.4Z", datetime(2025, 9, 15, 10, 36, 24, 400000, tzinfo=timezone.utc)),
        (
            "2023-08-01T08:40:46.648533678Z",
            datetime(2023, 8, 1, 8, 40, 46, 648533, tzinfo=timezone.utc),
        ),
        ("2025-09-15T13:36:24+03:00", datetime(2025, 9, 15, 10, 36, 24, tzinfo=timezone.utc)),
        (
            "2025-09-15T13:36:24.5+0300",
            datetime(2025, 9, 15, 10, 36, 24, 500000, tzinfo=timezone.utc),
        ),
        ("2025-09-15T05:36:24-05", datetime(2025, 9, 15, 10, 36, 24, tzinfo=timezone.utc)),
        ("2025-09-15T10:36:24", datetime(2025, 9, 15, 10, 36, 24, tzinfo=timezone.utc)),
        ("2025-09-15 10:36", datetime(2025, 9, 15, 10, 36, tzinfo=timezone.utc)),
        ("2025-09-15", datetime(2025, 9, 15, tzinfo=timezone.utc)),
        ("2026-01-01T01:30:00+03:00", datetime(2025, 12, 31, 22, 30, tzinfo=timezone.utc)),
        ("9999-12-31T23:59:59.999999900Z", None),
        ("9999-12-31T23:59:59.999999900+03:00", None),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        ("  ", None),
        (None, None),
        (datetime(2025, 1, 1, 12), datetime(2025, 1, 1, 12, tzinfo=timezone.utc)),
        (
            datetime(2025, 1, 1, 15, tzinfo=timezone(timedelta(hours=3))),
            datetime(2025, 1, 1, 12, tzinfo=timezone.utc),
        ),
    ],
)
def test_parse_timestamp(value: Any, expected: datetime | None) -> None:
    # GIVEN an Ozon timestamp WHEN parsed THEN it is aware UTC, or None for no value
    parsed = parse_timestamp(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


def test_nanoseconds_truncated_not_rounded() -> None:
    # GIVEN 9 fraction digits just under the next second
    parsed = parse_timestamp("2025-12-31T23:59:59.999999999Z")

    # THEN the value stays in the same second and year
    assert parsed == datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value", ["yesterday", "2025-13-01T00:00:00Z", "2025-02-30", "1700000000", 1700000000]
)
def test_parse_timestamp_invalid(value: Any) -> None:
    # GIVEN something that is not an ISO timestamp WHEN parsed THEN ValueError names it
    with pytest.raises(ValueError, match="invalid timestamp"):
        parse_timestamp(value)


def test_warehouse_stock_tolerant() -> None:
    # GIVEN a row with string ids, an unknown field and a null timestamp
    row = WarehouseStock.model_validate(
        {
            "sku": "147035011",
            "product_id": "28743",
            "offer_id": None,
            "warehouse_id": "1020003080073000",
            "present": 5,
            "reserved": 1,
            "free_stock": 4,
            "updated_at": None,
            "new_field": {"x": 1},
        }
    )

    # THEN ids are ints, the null offer id is empty and the timestamp is None
    assert (row.sku, row.product_id, row.warehouse_id) == (147035011, 28743, 1020003080073000)
    assert row.offer_id == ""
    assert row.updated_at is None


def test_product_stocks_total_or_total_items() -> None:
    # GIVEN the old `total` and the new `total_items` WHEN parsed THEN both fill total_items
    assert ProductStocksPage.model_validate({"items": [], "total": 7}).total_items == 7
    assert ProductStocksPage.model_validate({"items": [], "total_items": 8}).total_items == 8
    assert ProductStocksPage.model_validate({"items": None}).items == []


def test_stock_update_result_null_errors() -> None:
    # GIVEN a result whose errors list is null WHEN parsed THEN errors is empty
    result = StockUpdateResult.model_validate(
        {"offer_id": "A", "product_id": "1", "warehouse_id": 2, "updated": True, "errors": None}
    )
    assert result.errors == []
    assert result.product_id == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"offer_id": "", "warehouse_id": 1, "stock": 1},
        {"offer_id": "A", "warehouse_id": 0, "stock": 1},
        {"offer_id": "A", "warehouse_id": 1, "stock": -1},
        {"offer_id": "A", "warehouse_id": 1, "stock": 1, "quant_size": 1},
    ],
)
def test_stock_update_invalid(fields: dict) -> None:
    # GIVEN an empty offer, a zero warehouse, a negative stock or a removed field
    # WHEN built THEN validation fails
    with pytest.raises(ValueError):
        StockUpdate(**fields)


def test_stock_update_to_request_omits_none() -> None:
    # GIVEN an update without product_id WHEN serialised THEN product_id is absent
    request = StockUpdate(offer_id="PH11042", warehouse_id=5, stock=0).to_request()
    assert request == {"offer_id": "PH11042", "warehouse_id": 5, "stock": 0}


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("TOO_MANY_REQUESTS", "", "retry"),
        ("too_many_requests", "", "retry"),
        ("", "Stock is updated too frequently", "retry"),
        ("SOME_NEW_CODE", "Stock is updated too frequently, wait", "retry"),
        ("NOT_FOUND_ERROR", "Product not found", "permanent"),
        ("WAREHOUSE_NOT_FOUND", "", "permanent"),
        ("offer_id_not_found", "", "permanent"),
        ("PRODUCT_IS_ARCHIVED", "", "permanent"),
        ("STOCK_TOO_BIG", "", "permanent"),
        ("PRICE_IS_NOT_SENT", "", "permanent"),
    ],
)
def test_classify_item_error(code: str, message: str, expected: str) -> None:
    # GIVEN a per-item error WHEN classified THEN only the 30 s pair limit is retried
    assert classify_item_error(code, message) == expected


def test_item_retry_delay_is_30_seconds() -> None:
    # GIVEN Ozon's one-update-per-pair-per-30-s rule THEN the delay constant matches it
    assert RETRY_AFTER_ITEM_RATE_SECONDS == 30
