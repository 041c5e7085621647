"""OzonFbsClient against the official Ozon Seller API OpenAPI export (April 2026).

Request bodies of the methods in the export (`/v3/posting/fbs/get`, `/v4/posting/fbs/ship`,
`/v1/carriage/create`, `/v1/carriage/approve`, `/v1/carriage/get`) are validated strictly
against its schemas, and its examples are parsed with the response models.

Three methods were added after the export: `/v4/posting/fbs/unfulfilled/list`,
`/v3/posting/fbs/package-label/create` and `/v2/posting/fbs/package-label/get`. They are
checked against the shapes the Ozon Seller API docs of September 2026 give for them,
written out below as JSON schemas: cursor paging with `limit` up to 100, no `result`
wrapper, `posting_numbers` (1 to 1000) for the label task and `task_id` to read it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from chalicelib.ozon.client import OzonClient
from chalicelib.ozon.fbs import (
    PATH_CARRIAGE_APPROVE,
    PATH_CARRIAGE_CREATE,
    PATH_CARRIAGE_DELIVERY_LIST,
    PATH_CARRIAGE_GET,
    PATH_LABEL_CREATE,
    PATH_LABEL_GET,
    PATH_POSTING_GET,
    PATH_SHIP,
    PATH_UNFULFILLED_LIST,
    OzonFbsClient,
    PostingNotFoundError,
)
from chalicelib.ozon.fbs_models import (
    FbsPosting,
    LabelTaskResponse,
    LabelTasksResponse,
    PostingResponse,
    ShipResponse,
    UnfulfilledPage,
)
from tests.contract.test_ozon_contract import (
    CREDENTIALS,
    EXAMPLES_DIR,
    SWITCH_OFF_MARKERS,
    example_reply,
    forbid_undeclared,
    operation,
    request_schema,
    response_schema,
    spec,  # noqa: F401  (the session fixture with the loaded export)
    validation_errors,
)
from tests.unit.test_ozon_client import OzonTestServer, Reply

SPEC_PATHS = [PATH_POSTING_GET, PATH_SHIP, PATH_CARRIAGE_CREATE, PATH_CARRIAGE_APPROVE, PATH_CARRIAGE_GET,
              PATH_CARRIAGE_DELIVERY_LIST]
POSTING_NUMBER = "57195475-0050-3"
# Two delivery methods with their carriages of the day, written to the export's schema.
DELIVERY_LIST_REPLY = {"result": [
    {"delivery_method_id": 18114520187000, "departure_date": "2026-12-04T00:00:00Z", "errors": [],
     "carriages": [{"id": "27015712", "status": "new", "postings_count": 3, "quantum_count": 0},
                   {"id": "27015713", "status": "cancelled", "postings_count": 0, "quantum_count": 0}]},
    {"delivery_method_id": 22000000000001, "carriages": [{"id": "27015714", "status": "formed"}]}]}
DAY = datetime(2026, 12, 4, tzinfo=timezone.utc)

# Shapes of the methods newer than the export (Ozon Seller API docs, September 2026).
UNFULFILLED_REQUEST_2026 = {
    "type": "object",
    "additionalProperties": False,
    "required": ["limit", "filter"],
    "properties": {
        "cursor": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "sort_dir": {"type": "string", "enum": ["ASC", "DESC"]},
        "filter": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cutoff_from": {"type": "string", "format": "date-time"},
                "cutoff_to": {"type": "string", "format": "date-time"},
                "delivery_method_ids": {"type": "array", "items": {"type": "integer"}},
                "provider_ids": {"type": "array", "items": {"type": "integer"}},
                "statuses": {"type": "array", "items": {"type": "string"}},
                "warehouse_ids": {"type": "array", "items": {"type": "integer"}},
                "last_changed_status_date": {"type": "object"},
            },
        },
        "with": {"type": "object"},
    },
}
LABEL_CREATE_REQUEST_2026 = {
    "type": "object",
    "additionalProperties": False,
    "required": ["posting_numbers"],
    "properties": {"posting_numbers": {"type": "array", "minItems": 1, "maxItems": 1000,
                                       "items": {"type": "string"}}},
}
LABEL_GET_REQUEST_2026 = {
    "type": "object",
    "additionalProperties": False,
    "required": ["task_id"],
    "properties": {"task_id": {"type": "integer"}},
}
UNFULFILLED_REPLY_2026 = {"postings": [], "cursor": "", "has_next": False}
LABEL_CREATE_REPLY_2026 = {"tasks": [{"task_id": 5819327210249, "task_type": "big_label"}]}
LABEL_GET_REPLY_2026 = {
    "status": {"code": "completed", "postings_count": 1, "printed_postings_count": 1, "unprinted_postings": []},
    "file_url": "https://cdn1.ozone.ru/s3/ozon-disk-api/techdoc/seller-api/label.pdf",
    "error": {"code": "", "message": ""},
}


def posting_example(shared_dir: Path) -> dict[str, Any]:
    # The documented /v3/posting/fbs/get example of the 2025 export (SKU 180550365).
    return json.loads((shared_dir / EXAMPLES_DIR / "v3_posting_fbs_get.response.json").read_text(encoding="utf-8"))


@pytest.fixture
def server() -> Iterator[OzonTestServer]:
    test_server = OzonTestServer()
    test_server.start()
    yield test_server
    test_server.stop()


@pytest.fixture
def fbs(server: OzonTestServer) -> OzonFbsClient:
    return OzonFbsClient(OzonClient(server.base_url, CREDENTIALS, timeout=2.0))


@pytest.fixture
def captured(spec: dict[str, Any], shared_dir: Path, server: OzonTestServer, fbs: OzonFbsClient) -> OzonTestServer:
    """The test server after each FBS method ran once, with the requests it received."""
    server.reply(PATH_POSTING_GET, Reply(body=posting_example(shared_dir)))
    server.reply(PATH_SHIP, Reply(body=example_reply(spec, PATH_SHIP)))
    server.reply(PATH_CARRIAGE_CREATE, Reply(body={"carriage_id": 2}))
    server.reply(PATH_CARRIAGE_APPROVE, Reply(body={}))
    server.reply(PATH_CARRIAGE_GET, Reply(body={"carriage_id": 2, "status": "received"}))
    server.reply(PATH_CARRIAGE_DELIVERY_LIST, Reply(body=DELIVERY_LIST_REPLY))
    server.reply(PATH_UNFULFILLED_LIST, Reply(body=UNFULFILLED_REPLY_2026))
    server.reply(PATH_LABEL_CREATE, Reply(body=LABEL_CREATE_REPLY_2026))
    server.reply(PATH_LABEL_GET, Reply(body=LABEL_GET_REPLY_2026))

    posting = fbs.get_posting(POSTING_NUMBER)
    fbs.ship(posting)
    fbs.create_carriage(posting.delivery_method.id, DAY)
    fbs.approve_carriage(2)
    fbs.get_carriage(2)
    fbs.list_carriages(posting.delivery_method.id, DAY)
    list(fbs.iter_unfulfilled(DAY, DAY.replace(day=11)))
    fbs.create_label_task([POSTING_NUMBER])
    fbs.get_label_task(5819327210249)
    return server


@pytest.mark.parametrize("path", SPEC_PATHS)
def test_path_in_spec_current(spec: dict[str, Any], path: str) -> None:
    # GIVEN a method the FBS client calls THEN the export has it, not deprecated or being switched off
    assert path in spec["paths"]
    assert operation(spec, path).get("deprecated") is not True
    description = operation(spec, path).get("description", "")
    assert not any(marker in description for marker in SWITCH_OFF_MARKERS)


@pytest.mark.parametrize("path", SPEC_PATHS)
def test_request_body_valid(spec: dict[str, Any], captured: OzonTestServer, path: str) -> None:
    # GIVEN the body the client sent WHEN validated strictly against the export THEN it conforms
    bodies = captured.bodies(path)
    assert bodies, path
    schema = forbid_undeclared(request_schema(spec, path))
    for body in bodies:
        assert validation_errors(body, schema) == [], body


@pytest.mark.parametrize("path, schema", [
    (PATH_UNFULFILLED_LIST, UNFULFILLED_REQUEST_2026),
    (PATH_LABEL_CREATE, LABEL_CREATE_REQUEST_2026),
    (PATH_LABEL_GET, LABEL_GET_REQUEST_2026),
])
def test_newer_request_body_valid(captured: OzonTestServer, path: str, schema: dict[str, Any]) -> None:
    # GIVEN a method newer than the export WHEN its body is checked against the documented shape THEN it conforms
    bodies = captured.bodies(path)
    assert bodies, path
    for body in bodies:
        assert validation_errors(body, schema) == [], body


def test_newer_methods_absent_from_export(spec: dict[str, Any]) -> None:
    # GIVEN the April 2026 export THEN the three newer methods are indeed not in it (else test them strictly)
    for path in (PATH_UNFULFILLED_LIST, PATH_LABEL_CREATE, PATH_LABEL_GET):
        assert path not in spec["paths"], path


def test_ship_sends_sku_as_product_id(captured: OzonTestServer) -> None:
    # GIVEN the documented posting (SKU 180550365, quantity 1) WHEN packed
    body = captured.bodies(PATH_SHIP)[0]

    # THEN one package carries the Ozon SKU as product_id, with its quantity
    assert body["posting_number"] == POSTING_NUMBER
    assert body["packages"] == [{"products": [{"product_id": 180550365, "quantity": 1}]}]


def test_posting_example_parses(shared_dir: Path) -> None:
    # GIVEN the documented /v3/posting/fbs/get example WHEN parsed THEN the fields the pipeline uses are read
    posting = PostingResponse.model_validate(posting_example(shared_dir)).result
    assert posting.posting_number == POSTING_NUMBER
    assert posting.status == "awaiting_packaging"
    assert posting.warehouse_id == 18114520187000
    assert posting.shipment_date == datetime(2021, 11, 23, 10, tzinfo=timezone.utc)
    assert posting.products[0].sku == 180550365


def test_ship_example_parses(spec: dict[str, Any], shared_dir: Path) -> None:
    # GIVEN the documented ship reply THEN the accepted posting numbers are read
    reply = json.loads((shared_dir / EXAMPLES_DIR / "v4_posting_fbs_ship.response.json").read_text())
    assert ShipResponse.model_validate(reply).result == ["89491381-0072-1"]


def test_newer_replies_parse() -> None:
    # GIVEN the documented 2026 reply shapes THEN the models read them
    assert UnfulfilledPage.model_validate(UNFULFILLED_REPLY_2026).cursor == ""
    assert LabelTasksResponse.model_validate(LABEL_CREATE_REPLY_2026).tasks[0].task_id == 5819327210249
    task = LabelTaskResponse.model_validate(LABEL_GET_REPLY_2026)
    assert task.status.code == "completed"
    assert task.file_url.endswith(".pdf")


def test_unfulfilled_pages_by_cursor(server: OzonTestServer, fbs: OzonFbsClient, shared_dir: Path) -> None:
    # GIVEN two pages joined by a cursor
    posting = posting_example(shared_dir)["result"]
    second = dict(posting, posting_number="57195475-0050-4")
    server.reply(PATH_UNFULFILLED_LIST,
                 Reply(body={"postings": [posting], "cursor": "c1", "has_next": True}),
                 Reply(body={"postings": [second], "cursor": "", "has_next": False}))

    # WHEN listed
    postings = list(fbs.iter_unfulfilled(DAY, DAY, limit=1))

    # THEN both pages are read, the second with the first page's cursor
    assert [p.posting_number for p in postings] == [POSTING_NUMBER, "57195475-0050-4"]
    assert [body["cursor"] for body in server.bodies(PATH_UNFULFILLED_LIST)] == ["", "c1"]


def test_unknown_posting_raises(server: OzonTestServer, fbs: OzonFbsClient) -> None:
    # GIVEN Ozon answers 404 "Posting not found" WHEN a posting is read THEN PostingNotFoundError is raised
    server.reply(PATH_POSTING_GET, Reply(status=404, body={"code": 5, "message": "Posting not found", "details": []}))
    with pytest.raises(PostingNotFoundError):
        fbs.get_posting("00000000-0000-0")


def test_unfulfilled_limit_checked(fbs: OzonFbsClient) -> None:
    # GIVEN a page size above Ozon's 100 THEN the client refuses before calling
    with pytest.raises(ValueError, match="1 to 100"):
        list(fbs.iter_unfulfilled(DAY, DAY, limit=101))


def test_export_posting_example_parses(spec: dict[str, Any]) -> None:
    # GIVEN the April 2026 export's own /v3/posting/fbs/get example THEN the model reads it too
    posting = PostingResponse.model_validate(example_reply(spec, PATH_POSTING_GET)).result
    assert posting.posting_number
    assert posting.delivery_method.warehouse_id > 0


def test_posting_model_fields_in_spec(spec: dict[str, Any]) -> None:
    # GIVEN the posting model THEN every field it reads is declared by the export's posting schema
    schema = spec["components"]["schemas"]["v3FbsPostingDetail"]["properties"]
    for name in FbsPosting.model_fields:
        assert name in schema, name


def test_delivery_list_reply_parsed(spec: dict[str, Any], server: OzonTestServer, fbs: OzonFbsClient) -> None:
    # GIVEN a /v1/carriage/delivery/list reply that conforms to the export (which has no example)
    assert validation_errors(DELIVERY_LIST_REPLY, forbid_undeclared(
        response_schema(spec, PATH_CARRIAGE_DELIVERY_LIST))) == []
    server.reply(PATH_CARRIAGE_DELIVERY_LIST, Reply(body=DELIVERY_LIST_REPLY))

    # WHEN the client lists the carriages of the first delivery method
    carriages = fbs.list_carriages(18114520187000, DAY)

    # THEN only that method's carriages come back, their string ids read as integers
    assert [(c.id, c.status) for c in carriages] == [(27015712, "new"), (27015713, "cancelled")]
