"""The Ozon push webhook on the local stack: replies, sender checks, dedupe, forged postings.

The routes are served in-process on 127.0.0.1 through Chalice's LocalGateway, so every
request carries API Gateway's `requestContext.identity.sourceIp`. The sandbox's own push
notices are switched off here (every notice "lost"), so each test sends its notices itself.
"""

from __future__ import annotations

import http.client
import json
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from chalicelib.fbs import wiring as fbs_wiring
from chalicelib.fbs.intake import PushIntake, parse_networks
from chalicelib.fbs.models import Posting
from chalicelib.storage.errors import StorageError
from chalicelib.storage.queues import InMemoryQueue
from local.harness import LocalStack
from local.sandbox.postings import PushConfig, SandboxPosting

WEBHOOKS_DIR = "fixtures/ozon/webhooks"
WAREHOUSE_ID = 22142605386000
OUTSIDE_ADDRESS = "127.0.0.2"


@pytest.fixture(scope="module")
def stack():
    local = LocalStack(clock_speed=50)
    local.start()
    local.fbs.configure_push(PushConfig(lost_share=1.0))
    yield local
    local.stop()


def request_files(shared_dir: Path) -> list[Path]:
    return sorted((shared_dir / WEBHOOKS_DIR).glob("*.request*.json"))


def post_raw(url: str, body: bytes, *, source: str = "127.0.0.1", headers: dict | None = None):
    """POST from a chosen loopback source address; returns (status, content type, JSON body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(source, 0))
    try:
        connection.request("POST", parts.path, body=body,
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read() or b"null")
    finally:
        connection.close()


def add_posting(stack: LocalStack, number: str) -> None:
    now = stack.clock.now()
    stack.fbs.book.add_posting(SandboxPosting(
        number, WAREHOUSE_ID, 18114520187000,
        [{"sku": 180550365, "offer_id": "250-7898-1", "name": "Кофе", "quantity": 1}], now, now + 7200))


def journal_events(number: str) -> list[str]:
    return [row.event for row in fbs_wiring.store().events(number)]


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


def assert_error_shape(body: dict) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["code"], str)


def test_fixtures_answered(stack, shared_dir):
    # GIVEN every push payload of the fixtures, 2025 and 2026 shapes
    files = request_files(shared_dir)
    assert len(files) >= 9

    for path in files:
        # WHEN Ozon sends it as it is
        status, content_type, body = post_raw(stack.fbs.push_url, path.read_bytes())

        # THEN it is acknowledged with 200 and JSON, a ping with version, name and time
        assert status == 200, path.name
        assert content_type == "application/json", path.name
        if json.loads(path.read_bytes())["message_type"] == "TYPE_PING":
            assert set(body) == {"version", "name", "time"}, path.name
        else:
            assert body == {"result": True}, path.name


def test_placeholder_types_answered(stack, shared_dir):
    # GIVEN fixtures whose message_type is the docs placeholder "string"
    for path in request_files(shared_dir):
        notice = json.loads(path.read_bytes())
        if notice["message_type"] != "string":
            continue
        notice["message_type"] = path.name.split(".")[0]

        # WHEN the real type is sent
        status, _, body = post_raw(stack.fbs.push_url, json.dumps(notice).encode())

        # THEN a ping gets version, name and time; others get result true
        assert status == 200, path.name
        if notice["message_type"] == "TYPE_PING":
            assert set(body) == {"version", "name", "time"}
            assert body["time"].endswith("Z")
        else:
            assert body == {"result": True}, path.name


def test_unknown_type_acknowledged(stack, capsys):
    # GIVEN a notice type this service has never heard of
    body = json.dumps({"message_type": "TYPE_SOMETHING_NEW", "posting_number": "1-2-3"}).encode()

    # WHEN it arrives
    status, _, reply = post_raw(stack.fbs.push_url, body)

    # THEN it is acknowledged and counted as a metric, never a 500
    assert status == 200
    assert reply == {"result": True}
    assert '"PushUnknownType"' in capsys.readouterr().out


def test_fixture_postings_unknown_to_ozon(stack, shared_dir):
    # GIVEN the fixtures' posting numbers, which the sandbox does not know
    notice = json.loads((shared_dir / WEBHOOKS_DIR / "TYPE_NEW_POSTING.request.2026.json").read_bytes())
    post_raw(stack.fbs.push_url, json.dumps(notice).encode())

    # THEN the pipeline re-reads it, journals that Ozon does not know it, and stores nothing
    assert wait_for(lambda: "posting_not_found" in journal_events(notice["posting_number"]))
    assert fbs_wiring.store().get(notice["posting_number"]) is None


def test_forged_posting_no_label(stack):
    # GIVEN a new-posting notice whose number Ozon does not know
    number = "99999999-0666-1"
    body = json.dumps({"message_type": "TYPE_NEW_POSTING", "posting_number": number,
                       "products": [{"sku": 1, "quantity": 1}], "in_process_at": "2026-12-01T10:00:00Z",
                       "warehouse_id": WAREHOUSE_ID, "seller_id": 15}).encode()

    # WHEN it is received
    status, _, _ = post_raw(stack.fbs.push_url, body)
    assert status == 200

    # THEN a journal entry records it, and no row, ship or label follows
    assert wait_for(lambda: "posting_not_found" in journal_events(number))
    assert fbs_wiring.store().get(number) is None
    assert not [key for key in stack.fbs.labels_in_s3() if number in key]
    assert number not in stack.fbs.book.label_creates


def test_outside_ranges_forbidden(stack):
    # GIVEN a request from an address outside the allowed ranges (127.0.0.1/32 locally)
    body = json.dumps({"message_type": "TYPE_PING", "time": "2026-12-01T10:00:00Z"}).encode()

    # WHEN it arrives
    status, content_type, reply = post_raw(stack.fbs.push_url, body, source=OUTSIDE_ADDRESS)

    # THEN it gets 403 with Ozon's error shape
    assert status == 403
    assert content_type == "application/json"
    assert_error_shape(reply)


def test_forwarded_header_ignored(stack):
    # GIVEN an outside request that claims an Ozon address in X-Forwarded-For
    body = json.dumps({"message_type": "TYPE_PING", "time": "2026-12-01T10:00:00Z"}).encode()
    headers = {"X-Forwarded-For": "195.34.21.10", "X-Real-IP": "195.34.21.10"}

    # WHEN it arrives THEN only API Gateway's source address counts
    status, _, reply = post_raw(stack.fbs.push_url, body, source=OUTSIDE_ADDRESS, headers=headers)
    assert status == 403
    assert_error_shape(reply)


def test_wrong_token_not_found(stack):
    # GIVEN the right sender but a wrong path token
    url = stack.fbs.push_url.rsplit("/", 1)[0] + "/not-our-token"

    # WHEN a notice arrives THEN it gets 404 with the error shape
    status, content_type, reply = post_raw(url, b'{"message_type": "TYPE_PING"}')
    assert status == 404
    assert content_type == "application/json"
    assert_error_shape(reply)


@pytest.mark.parametrize("body, code", [
    (b'{"message_type": "TYPE_NEW_POSTING", "posting_number": ', "ERROR_UNKNOWN"),
    (b'{"message_type": "TYPE_STATE_CHANGED",, "posting_number": "1-1-1"}', "ERROR_UNKNOWN"),
    (b'["TYPE_PING"]', "ERROR_UNKNOWN"),
    (b'{"posting_number": "1-1-1"}', "ERROR_PARAMETER_VALUE_MISSED"),
    (b'{"message_type": "TYPE_NEW_POSTING", "products": []}', "ERROR_PARAMETER_VALUE_MISSED"),
])
def test_malformed_body_rejected(stack, body, code):
    # GIVEN a body that is not JSON, not an object, or misses a required field
    # WHEN it arrives THEN it gets 400 with Ozon's error shape and code
    status, content_type, reply = post_raw(stack.fbs.push_url, body)
    assert status == 400
    assert content_type == "application/json"
    assert_error_shape(reply)
    assert reply["error"]["code"] == code


def test_queued_before_reply(stack):
    # GIVEN the intake with a queue that records what it was sent
    queue = InMemoryQueue()
    intake = PushIntake(token=lambda: "token", networks=parse_networks(["127.0.0.1/32"]),
                        store=fbs_wiring.store(), queue=queue, clock=stack.clock)
    notice = json.dumps({"message_type": "TYPE_STATE_CHANGED", "posting_number": "55555555-0001-1",
                         "new_state": "posting_delivered", "changed_state_date": "2026-12-01T10:00:00Z"})

    # WHEN it answers a notice and then a duplicate of it
    first = intake.handle("token", "127.0.0.1", notice)
    second = intake.handle("token", "127.0.0.1", notice)

    # THEN the message was queued before the first 200, and only once
    assert first.status == 200
    assert second.status == 200
    assert second.body == {"result": True}
    assert len(queue.sent) == 1
    assert queue.sent[0].body["posting_number"] == "55555555-0001-1"


def test_failed_queue_not_deduped(stack):
    # GIVEN a queue that fails once
    class FlakyQueue(InMemoryQueue):
        failures = 1

        def send(self, messages):
            if self.failures:
                self.failures -= 1
                raise StorageError("ozon-fbs-events", "SendMessageBatch", "unavailable", "retry")
            super().send(messages)

    queue = FlakyQueue()
    intake = PushIntake(token=lambda: "token", networks=parse_networks(["127.0.0.1/32"]),
                        store=fbs_wiring.store(), queue=queue, clock=stack.clock)
    notice = json.dumps({"message_type": "TYPE_NEW_POSTING", "posting_number": "55555555-0002-1"})

    # WHEN Ozon sends the notice and, after a 500, sends it again
    failed = intake.handle("token", "127.0.0.1", notice)
    retried = intake.handle("token", "127.0.0.1", notice)

    # THEN the failure has the error shape and the retry is queued, not taken for a duplicate
    assert failed.status == 500
    assert set(failed.body["error"]) == {"code", "message", "details"}
    assert retried.status == 200
    assert len(queue.sent) == 1


def test_five_copies_one_label(stack):
    # GIVEN a new posting at Ozon
    number = "77777777-0005-1"
    add_posting(stack, number)
    body = json.dumps({"message_type": "TYPE_NEW_POSTING", "posting_number": number,
                       "products": [{"sku": 180550365, "quantity": 1}], "in_process_at": "2026-12-01T10:00:00Z",
                       "warehouse_id": WAREHOUSE_ID, "seller_id": 15}).encode()

    # WHEN Ozon sends its notice five times
    replies = [post_raw(stack.fbs.push_url, body)[0] for _ in range(5)]
    assert replies == [200] * 5

    # THEN the posting is packed once and gets exactly one label in S3
    assert wait_for(lambda: any(number in key for key in stack.fbs.labels_in_s3()), timeout=60)
    time.sleep(2)
    assert len([key for key in stack.fbs.labels_in_s3() if number in key]) == 1
    assert stack.fbs.book.postings[number].ship_calls == 1
    assert stack.fbs.book.label_creates[number] == 1
    row = Posting.get(number)
    assert row.label_pages == 2
    assert row.label_sha256 and len(row.label_sha256) == 64


def test_label_download_presigned(stack):
    # GIVEN a labelled posting
    number = "77777777-0006-1"
    add_posting(stack, number)
    post_raw(stack.fbs.push_url, json.dumps({"message_type": "TYPE_NEW_POSTING", "posting_number": number}).encode())
    assert wait_for(lambda: bool((fbs_wiring.store().get(number) or Posting(number)).label_key), timeout=60)

    # WHEN the operator asks for its label
    url = f"{stack.fbs.webhook.base_url}/fbs/labels/{number}"
    denied = requests.get(url, timeout=10)
    reply = requests.get(url, headers=stack.fbs.operator_headers, timeout=10)

    # THEN only an operator gets a short-lived presigned URL, which downloads the PDF
    assert denied.status_code == 401
    assert reply.status_code == 200
    assert reply.json()["expires_in"] == stack.settings.fbs_presign_seconds
    pdf = requests.get(reply.json()["url"], timeout=10)
    assert pdf.content.startswith(b"%PDF-")


def test_ship_failed_not_resent(stack):
    # GIVEN a posting whose packing Ozon accepts with HTTP 200 but marks ship_failed
    number = "77777777-0007-1"
    add_posting(stack, number)
    stack.fbs.book.postings[number].fail_ship = True
    body = json.dumps({"message_type": "TYPE_NEW_POSTING", "posting_number": number}).encode()

    # WHEN its notice arrives twice
    post_raw(stack.fbs.push_url, body)
    assert wait_for(lambda: "ship_failed" in journal_events(number))
    post_raw(stack.fbs.push_url, json.dumps({"message_type": "TYPE_NEW_POSTING", "posting_number": number,
                                             "in_process_at": "2026-12-01T10:00:01Z"}).encode())
    time.sleep(2)

    # THEN the re-read caught the failure, the ship was sent once, and no label was asked for
    assert stack.fbs.book.postings[number].ship_calls == 1
    assert number not in stack.fbs.book.label_creates
    assert fbs_wiring.store().get(number).packed_at is None


def test_watchdog_warns_once(stack):
    # GIVEN an unpacked posting due in one hour, and one packed late
    from chalicelib.fbs.pipeline import merge_posting
    from chalicelib.fbs.watchdog import run_watchdog
    from chalicelib.ozon.fbs_models import FbsPosting

    store = fbs_wiring.store()
    now = store.now()
    for number, status, due in (("66666666-0001-1", "awaiting_packaging", now + timedelta(hours=1)),
                                ("66666666-0002-1", "awaiting_deliver", now - timedelta(hours=1))):
        api = FbsPosting.model_validate({"posting_number": number, "status": status,
                                         "delivery_method": {"id": 1, "warehouse_id": WAREHOUSE_ID},
                                         "shipment_date": due.isoformat(), "products": []})
        store.change(number, lambda current, api=api: merge_posting(current, api, now))

    # WHEN the watchdog runs twice
    first = run_watchdog(fbs_wiring.deps())
    second = run_watchdog(fbs_wiring.deps())

    # THEN the due posting is warned about once (the scheduled run may have been first),
    # and the late one is counted
    assert journal_events("66666666-0001-1").count("ship_by_warned") == 1
    assert second.warned == 0
    assert first.late >= 1
    assert store.get("66666666-0002-1").late is True


def test_lost_carriage_reply_not_created_twice(stack):
    # GIVEN a packed posting, and an Ozon that creates the carriage but replies after our timeout
    number = "77777777-0009-1"
    add_posting(stack, number)
    post_raw(stack.fbs.push_url, json.dumps({"message_type": "TYPE_NEW_POSTING", "posting_number": number}).encode())
    book = stack.fbs.book
    assert wait_for(lambda: book.postings[number].status == "awaiting_deliver", timeout=60)
    creates_before = book.carriage_calls["create"]
    book.stall_carriage_reply_seconds = 3.0  # the client gives up after OZON_TIMEOUT_SECONDS=2
    scan = f"{stack.fbs.webhook.base_url}/operator/dock-scan"

    # WHEN the operator scans, scans again at once, and scans once more after the create settled
    lost = requests.post(scan, json={"code": number}, headers=stack.fbs.operator_headers, timeout=30)
    early = requests.post(scan, json={"code": number}, headers=stack.fbs.operator_headers, timeout=30)
    stack.clock.sleep(310)
    found = requests.post(scan, json={"code": number}, headers=stack.fbs.operator_headers, timeout=30)

    # THEN the first scan gets "retry", the second "wait", and the third approves the carriage
    # that the lost call created, so Ozon received one create
    assert lost.status_code == 503, lost.text
    assert early.status_code == 409, early.text
    assert found.status_code == 200, found.text
    assert book.carriage_calls["create"] == creates_before + 1
    carriage_id = book.postings[number].carriage_id
    assert list(found.json()["carriages"].values()) == [carriage_id]
    assert book.carriages[carriage_id].status == "formed"
    assert Posting.get(number).carriage_id == carriage_id
