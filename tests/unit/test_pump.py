"""Event pump tests against a real moto server over HTTP.

Queues have a 1 s visibility timeout and a dead-letter queue after 2 receives, so the
retry paths play out in seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
import uuid
from dataclasses import dataclass

import boto3
import pytest
from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent, SQSEvent
from moto.server import ThreadedMotoServer

from chalicelib.clock import ManualClock
from local.pump import EventPump, parse_schedule_interval
from tests.unit import pump_app
from tests.unit.pump_app import ORDERS_QUEUE, QUEUES, SLOW_QUEUE, WINDOW_QUEUE, journal

REGION = "eu-central-1"
VISIBILITY_TIMEOUT_SECONDS = 1
# The window queue's visibility timeout must outlast its 3 s batching window. Otherwise
# the first message of a batch is delivered again while the window is still open. The
# window is wide so that a loaded machine still sends the late messages inside it.
WINDOW_VISIBILITY_TIMEOUT_SECONDS = 8
MAX_RECEIVE_COUNT = 2


@dataclass
class Queues:
    urls: dict[str, str]
    dlq_urls: dict[str, str]


@pytest.fixture(scope="module")
def endpoint_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def sqs(endpoint_url):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def queues(sqs):
    """Fresh source queues for the app's queue names, each with its own DLQ."""
    suffix = uuid.uuid4().hex[:8]
    visibility_timeouts = {WINDOW_QUEUE: WINDOW_VISIBILITY_TIMEOUT_SECONDS}
    urls, dlq_urls = {}, {}
    for name in QUEUES:
        dlq_url = sqs.create_queue(QueueName=f"{name}-{suffix}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
        urls[name] = sqs.create_queue(
            QueueName=f"{name}-{suffix}",
            Attributes={
                "VisibilityTimeout": str(visibility_timeouts.get(name, VISIBILITY_TIMEOUT_SECONDS)),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        dlq_urls[name] = dlq_url
    return Queues(urls, dlq_urls)


@pytest.fixture(autouse=True)
def clear_journal():
    journal.clear()


@pytest.fixture
def make_pump(sqs, queues):
    pumps = []

    def make(**options):
        pump = EventPump(pump_app.app, sqs, queue_urls=queues.urls, **options)
        pumps.append(pump)
        return pump

    yield make
    for pump in pumps:
        pump.stop()


def send(sqs, queue_url, action, **fields):
    body = json.dumps({"action": action, "ref": uuid.uuid4().hex, **fields})
    return sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"]


def depth(sqs, queue_url):
    """Visible, in-flight and delayed message counts of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


def delivered_ids(handler):
    return [record["messageId"] for call in journal.of(handler) for record in call.records]


# SQS batches -----------------------------------------------------------------------------


def test_batch_has_distinct_ids(sqs, queues, make_pump):
    # GIVEN three messages on the orders queue (batch size 3)
    sent = [send(sqs, queues.urls[ORDERS_QUEUE], "ok") for _ in range(3)]
    pump = make_pump()

    # WHEN the pump runs one round
    invocations = pump.drain_once()

    # THEN one invocation carries the three real, distinct messageIds
    assert invocations == 1
    ids = delivered_ids("orders")
    assert len(set(ids)) == 3
    assert set(ids) == set(sent)


def test_batch_size_honoured(sqs, queues, make_pump):
    # GIVEN seven messages on a queue whose handler takes batches of 3
    sent = [send(sqs, queues.urls[ORDERS_QUEUE], "ok") for _ in range(7)]
    pump = make_pump()

    # WHEN the pump runs until the queue is empty
    idle = pump.run_until_idle(timeout=10, idle_for=0.3)

    # THEN no batch exceeds 3 records and every message arrived exactly once
    assert idle
    sizes = [len(call.records) for call in journal.of("orders")]
    assert max(sizes) <= 3
    assert sorted(delivered_ids("orders")) == sorted(sent)
    assert depth(sqs, queues.urls[ORDERS_QUEUE]) == (0, 0, 0)


def test_handler_gets_chalice_event(sqs, queues, make_pump):
    # GIVEN two messages with known bodies
    queue_url = queues.urls[ORDERS_QUEUE]
    bodies = {json.dumps({"action": "ok", "offer_id": offer}) for offer in ("A-1", "B-2")}
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    pump = make_pump(function_timeout_seconds=30, memory_limit_in_mb=256)

    # WHEN the pump runs one round
    pump.drain_once()

    # THEN the Chalice wrapping ran: an SQSEvent whose records carry the bodies
    (call,) = journal.of("orders")
    assert isinstance(call.event, SQSEvent)
    assert {record.body for record in call.event} == bodies
    assert journal.middleware_calls == 1

    # AND the context looks like Lambda's
    context = call.context
    assert context.function_name == "pump-test-local-orders"
    assert context.memory_limit_in_mb == 256
    assert context.invoked_function_arn == (
        f"arn:aws:lambda:{REGION}:123456789012:function:pump-test-local-orders"
    )
    assert context.log_group_name == "/aws/lambda/pump-test-local-orders"
    assert 0 < context.get_remaining_time_in_millis() <= 30_000


def test_request_ids_unique(sqs, queues, make_pump):
    # GIVEN six messages, two batches of 3
    for _ in range(6):
        send(sqs, queues.urls[ORDERS_QUEUE], "ok")
    pump = make_pump()

    # WHEN the pump runs until idle
    pump.run_until_idle(timeout=10, idle_for=0.3)

    # THEN every invocation had its own aws_request_id
    request_ids = [call.context.aws_request_id for call in journal.of("orders")]
    assert len(request_ids) >= 2
    assert len(set(request_ids)) == len(request_ids)


def test_record_shape(sqs, queues, make_pump):
    # GIVEN a message with a string and a binary message attribute
    queue_url = queues.urls[ORDERS_QUEUE]
    body = json.dumps({"action": "ok"})
    message_id = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={
            "trace": {"DataType": "String", "StringValue": "t-1"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )["MessageId"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    pump = make_pump()

    # WHEN the pump delivers it
    pump.drain_once()

    # THEN the record has Lambda's SQS shape
    (record,) = journal.of("orders")[0].records
    assert record["messageId"] == message_id
    assert record["receiptHandle"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    assert record["awsRegion"] == REGION
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"]["trace"] == {
        "stringValue": "t-1",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AAE="


def test_batching_window_fills_batch(sqs, queues, make_pump):
    # GIVEN one message now and two more 0.3 s later, for a 3 s batching window
    queue_url = queues.urls[WINDOW_QUEUE]
    sent = [send(sqs, queue_url, "ok")]
    late = threading.Timer(0.3, lambda: sent.extend(send(sqs, queue_url, "ok") for _ in range(2)))
    pump = make_pump()

    # WHEN the pump runs one round
    late.start()
    invocations = pump.drain_once()
    late.join()

    # THEN the window collected all three into one batch
    assert invocations == 1
    assert sorted(delivered_ids("window")) == sorted(sent)


# Outcomes ------------------------------------------------------------------------------


def test_partial_failure_keeps_failed(sqs, queues, make_pump):
    # GIVEN a batch in which the handler reports one message as failed
    queue_url = queues.urls[ORDERS_QUEUE]
    send(sqs, queue_url, "ok")
    failed_id = send(sqs, queue_url, "fail")
    send(sqs, queue_url, "ok")
    pump = make_pump()

    # WHEN the pump runs one round
    pump.drain_once()

    # THEN only the failed message is left, invisible until its timeout ends
    assert depth(sqs, queue_url) == (0, 1, 0)
    assert pump.stats()["orders"]["failures_reported"] == 1
    assert pump.stats()["orders"]["deleted"] == 2

    # WHEN the visibility timeout has passed
    time.sleep(VISIBILITY_TIMEOUT_SECONDS + 0.2)
    pump.drain_once()

    # THEN the failed message alone comes back, on its second receive
    second = journal.of("orders")[1].records
    assert [record["messageId"] for record in second] == [failed_id]
    assert second[0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_invalid_response_fails_batch(sqs, queues, make_pump):
    # GIVEN a handler that reports an itemIdentifier that is not in the batch
    queue_url = queues.urls[ORDERS_QUEUE]
    send(sqs, queue_url, "ok")
    send(sqs, queue_url, "bogus")
    pump = make_pump()

    # WHEN the pump runs one round
    pump.drain_once()

    # THEN the whole batch stays, as Lambda treats a malformed response
    assert depth(sqs, queue_url) == (0, 2, 0)
    assert pump.stats()["orders"]["invalid_responses"] == 1
    assert pump.stats()["orders"]["deleted"] == 0


def test_exception_keeps_batch(sqs, queues, make_pump, caplog):
    # GIVEN a batch whose handler raises
    queue_url = queues.urls[ORDERS_QUEUE]
    ids = [send(sqs, queue_url, "ok", secret="price-7781"), send(sqs, queue_url, "raise")]
    pump = make_pump()

    # WHEN the pump runs one round
    with caplog.at_level(logging.ERROR, logger="local.pump"):
        pump.drain_once()

    # THEN nothing is deleted
    assert depth(sqs, queue_url) == (0, 2, 0)
    assert pump.stats()["orders"]["exceptions"] == 1

    # AND the log names the handler and the messageIds but no body
    assert "orders" in caplog.text
    for message_id in ids:
        assert message_id in caplog.text
    assert "price-7781" not in caplog.text


def test_timeout_keeps_batch(sqs, queues, make_pump):
    # GIVEN a handler that runs 0.3 s under a 0.1 s function timeout
    queue_url = queues.urls[SLOW_QUEUE]
    send(sqs, queue_url, "sleep", seconds=0.3)
    pump = make_pump(function_timeout_seconds=0.1)

    # WHEN the pump runs one round
    pump.drain_once()

    # THEN the invocation counts as timed out and the message stays
    assert pump.stats()["slow"]["timeouts"] == 1
    assert depth(sqs, queue_url) == (0, 1, 0)


def test_dlq_after_max_receives(sqs, queues, make_pump):
    # GIVEN a message that makes its handler raise every time
    queue_url = queues.urls[ORDERS_QUEUE]
    message_id = send(sqs, queue_url, "raise")
    pump = make_pump()

    # WHEN the pump runs until the source queue is empty
    idle = pump.run_until_idle(timeout=10, idle_for=0.3)

    # THEN the handler saw it maxReceiveCount times and SQS moved it to the DLQ
    assert idle
    assert delivered_ids("orders") == [message_id] * MAX_RECEIVE_COUNT
    moved = sqs.receive_message(QueueUrl=queues.dlq_urls[ORDERS_QUEUE], WaitTimeSeconds=1)
    assert [message["MessageId"] for message in moved["Messages"]] == [message_id]


def test_delayed_message_delivered(sqs, queues, make_pump):
    # GIVEN a message sent with a 1 s delay
    queue_url = queues.urls[ORDERS_QUEUE]
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"action": "ok"}), DelaySeconds=1)
    pump = make_pump()

    # WHEN the pump polls at once
    early = pump.drain_once()

    # THEN nothing is delivered yet
    assert early == 0

    # WHEN the pump runs until idle
    idle = pump.run_until_idle(timeout=10, idle_for=0.3)

    # THEN the message arrived after its delay
    assert idle
    assert len(delivered_ids("orders")) == 1
    assert time.monotonic() - sent_at >= 1


def test_run_until_idle_times_out(sqs, queues, make_pump):
    # GIVEN a handler busy for longer than the wait
    send(sqs, queues.urls[SLOW_QUEUE], "sleep", seconds=1.5)
    pump = make_pump()

    # WHEN the caller waits only 0.5 s
    idle = pump.run_until_idle(timeout=0.5, idle_for=0.1)

    # THEN the wait reports failure
    assert idle is False


def test_idle_for_whole_timeout(make_pump):
    # GIVEN empty queues
    pump = make_pump()

    # WHEN the caller waits exactly as long as the idle period it needs
    idle = pump.run_until_idle(timeout=0.5, idle_for=0.5)

    # THEN the pump reports idle
    assert idle is True


# Concurrency -----------------------------------------------------------------------------


def test_concurrency_cap_honoured(sqs, queues, make_pump):
    # GIVEN eight slow messages for a handler with maximum_concurrency=2
    for _ in range(8):
        send(sqs, queues.urls[SLOW_QUEUE], "sleep", seconds=0.25)
    pump = make_pump()

    # WHEN the pump runs until idle
    idle = pump.run_until_idle(timeout=15, idle_for=0.3)

    # THEN exactly two invocations overlapped at most
    assert idle
    assert len(journal.of("slow")) == 8
    assert journal.max_running == 2

    # AND the middleware ran on every concurrent invocation
    assert journal.middleware_calls == 8


def test_first_calls_keep_middleware(sqs):
    # GIVEN fresh apps with many middleware, so building the chain takes a while
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    failures = []
    try:
        for _ in range(30):
            app, calls = app_with_middleware(count=300)
            pump = EventPump(app, sqs, queue_urls={})
            barrier = threading.Barrier(4)

            # WHEN four first invocations start at the same moment
            def fire(pump=pump, barrier=barrier):
                barrier.wait()
                try:
                    pump.fire_schedule("tick")
                except ValueError as error:
                    failures.append(error)

            threads = [threading.Thread(target=fire) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            # THEN every invocation ran through every middleware
            assert len(calls) == 4 * 300
    finally:
        sys.setswitchinterval(previous_interval)
    assert failures == []


def app_with_middleware(count):
    app = Chalice(app_name="middleware-race")
    calls = []

    def record_call(event, get_response):
        calls.append(1)
        return get_response(event)

    for _ in range(count):
        app.register_middleware(record_call, "all")

    @app.schedule("rate(1 hour)", name="tick")
    def tick(event):
        return None

    return app, calls


def test_default_concurrency_when_unset(make_pump):
    # GIVEN the orders handler has no maximum_concurrency, and slow has 2
    # WHEN the pump is built with default_concurrency=3
    pump = make_pump(default_concurrency=3)

    # THEN the default applies only where the decorator left it unset
    assert pump.concurrency == {"orders": 3, "slow": 2, "window": 3}


def test_missing_queue_url(sqs, queues):
    # GIVEN queue URLs without the slow queue
    urls = {name: url for name, url in queues.urls.items() if name != SLOW_QUEUE}

    # WHEN / THEN building the pump names the queue
    with pytest.raises(ValueError, match="pump-slow"):
        EventPump(pump_app.app, sqs, queue_urls=urls)


# Schedules ---------------------------------------------------------------------------------


def test_rate_fires_on_clock(make_pump):
    # GIVEN a pump on a manual clock and a rate(1 minute) schedule
    clock = ManualClock(start=1_764_806_400.0)
    pump = make_pump(clock=clock)

    # WHEN less than a minute has passed
    clock.advance(59)
    pump.drain_once()

    # THEN the schedule has not fired
    assert journal.of("every_minute") == []

    # WHEN the minute is complete
    clock.advance(1)
    pump.drain_once()

    # THEN it fired once with an EventBridge scheduled event
    (call,) = journal.of("every_minute")
    assert isinstance(call.event, CloudWatchEvent)
    assert call.event.detail_type == "Scheduled Event"
    assert call.event.source == "aws.events"
    assert call.event.time == "2025-12-04T00:01:00Z"
    assert call.event.region == REGION
    assert call.event.detail == {}
    assert call.event.resources == [
        f"arn:aws:events:{REGION}:123456789012:rule/pump-test-local-every_minute-event"
    ]
    assert journal.of("nightly") == []


def test_rate_speed_in_background(make_pump):
    # GIVEN rate(1 minute) sped up 120 times, so once every 0.5 s
    pump = make_pump(schedule_speed=120)

    # WHEN the pump runs for 1.3 s
    pump.start()
    time.sleep(1.3)
    pump.stop()

    # THEN it fired twice, and the cron schedule never fired by itself
    assert len(journal.of("every_minute")) == 2
    assert journal.of("nightly") == []
    assert pump.stats()["every_minute"]["invocations"] == 2


def test_cron_fires_manually(make_pump):
    # GIVEN a cron schedule
    pump = make_pump()

    # WHEN a test fires it by name
    pump.fire_schedule("nightly")

    # THEN the handler got one scheduled event with a unique id
    (call,) = journal.of("nightly")
    assert call.event.detail_type == "Scheduled Event"
    assert call.event.event_id
    assert call.context.function_name == "pump-test-local-nightly"


def test_fire_returns_result(make_pump):
    # GIVEN a schedule handler that returns the event id
    pump = make_pump()

    # WHEN it is fired by name
    result = pump.fire_schedule("every_minute")

    # THEN the caller gets the handler's result
    assert result == {"fired": journal.of("every_minute")[0].event.event_id}


def test_fire_unknown_schedule(make_pump):
    pump = make_pump()

    with pytest.raises(ValueError, match="no schedule handler named 'hourly'"):
        pump.fire_schedule("hourly")


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60.0),
        ("rate(5 minutes)", 300.0),
        ("rate(1 hour)", 3600.0),
        ("rate(2 days)", 172800.0),
        ("cron(0 3 * * ? *)", None),
        (Rate(3, unit=Rate.HOURS), 10800.0),
    ],
)
def test_schedule_interval(expression, seconds):
    assert parse_schedule_interval(expression) == seconds


@pytest.mark.parametrize(
    "expression", ["rate(0 minutes)", "rate(5 weeks)", "every 5 minutes", "cron(0 3 * *)"]
)
def test_schedule_interval_invalid(expression):
    with pytest.raises(ValueError, match="invalid schedule"):
        parse_schedule_interval(expression)
