"""Alerts on the local stack: SnsNotifier -> SNS (moto) -> SQS -> pump -> alerts_telegram -> fake Bot API."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from chalicelib import names
from chalicelib.alerts import SnsNotifier, render
from chalicelib.stock import wiring

pytestmark = pytest.mark.integration

DLQ_ALARM = {
    "AlarmName": "ozon-stock-push-dlq-not-empty",
    "AlarmDescription": "Stock push messages failed 5 times and moved to ozon-stock-push-dlq.",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint [2.0] was greater than the threshold (0.0).",
    "OldStateValue": "OK",
}


def wait_for_messages(stack, count: int, timeout: float = 30.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(stack.telegram.messages) >= count:
            return stack.telegram.messages
        time.sleep(0.1)
    raise AssertionError(f"{len(stack.telegram.messages)} of {count} alerts reached Telegram in {timeout:.0f} s; "
                         f"pump stats: {stack.pump.stats()}")


def queue_is_empty(stack, name: str) -> bool:
    attributes = stack.sqs.get_queue_attributes(QueueUrl=stack.resources.queue_url(name), AttributeNames=["All"])
    depth = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed")
    return all(attributes["Attributes"][key] == "0" for key in depth)


def test_alerts_reach_telegram(stack_factory, capfd):
    # GIVEN the local stack with its fake Telegram bot
    stack = stack_factory(clock_speed=20)
    token = stack.telegram.token
    notifier = SnsNotifier(wiring.client("sns"), stack.resources.topic_arn, "ru")

    # WHEN a domain alert goes through SnsNotifier and an alarm state change reaches the topic
    notifier.alert("ozon_auth", detail="HTTP 401")
    wiring.client("sns").publish(TopicArn=stack.resources.topic_arn, Subject="ALARM: ozon-stock-push-dlq-not-empty",
                                 Message=json.dumps(DLQ_ALARM))
    messages = wait_for_messages(stack, 2)

    # THEN the chat has the domain alert unchanged and the alarm as a short Russian text
    texts = sorted(message.text for message in messages)
    assert render("ozon_auth", "ru", detail="HTTP 401") in texts
    assert any(text.startswith("Тревога: ozon-stock-push-dlq-not-empty — сообщения очереди ozon-stock-push")
               for text in texts)
    assert all(message.link_preview_disabled for message in messages)
    assert stack.pump.run_until_idle(timeout=10.0, idle_for=0.5)
    assert queue_is_empty(stack, names.QUEUE_ALERTS_TELEGRAM)

    # AND the bot token is in no log line, DynamoDB item or S3 object
    output = capfd.readouterr()
    assert token not in output.out + output.err
    dynamodb = wiring.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            assert token not in str(page["Items"]), table
    s3 = wiring.client("s3")
    for key in s3.list_objects_v2(Bucket=stack.resources.bucket).get("Contents", []):
        body = s3.get_object(Bucket=stack.resources.bucket, Key=key["Key"])["Body"].read()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        assert token.encode() not in body, key["Key"]


def test_rate_limited_alert_arrives_later(stack_factory):
    # GIVEN Telegram's flood control for the next call, with a 2 s wait
    stack = stack_factory(clock_speed=20)
    stack.telegram.rate_limit_next(1, retry_after=2)
    started = time.monotonic()

    # WHEN an alert is published
    SnsNotifier(wiring.client("sns"), stack.resources.topic_arn, "ru").alert("ozon_contract", detail="/v2/x")

    # THEN it is sent again after the wait and delivered once
    (message,) = wait_for_messages(stack, 1)
    assert message.text == render("ozon_contract", "ru", detail="/v2/x")
    assert time.monotonic() - started >= 2.0
    assert stack.telegram.calls == 2


def test_rejected_alert_dropped(stack_factory):
    # GIVEN a chat id the bot is not in
    stack = stack_factory(clock_speed=20, environment={"TELEGRAM_CHAT_ID": "-100999"})

    # WHEN an alert is published
    SnsNotifier(wiring.client("sns"), stack.resources.topic_arn, "ru").alert("ozon_auth", detail="HTTP 403")

    # THEN Telegram is called once, and the record leaves the queue without reaching the DLQ
    deadline = time.monotonic() + 30
    while stack.telegram.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.pump.run_until_idle(timeout=10.0, idle_for=0.5)
    assert stack.telegram.calls == 1
    assert stack.telegram.messages == []
    assert queue_is_empty(stack, names.QUEUE_ALERTS_TELEGRAM)
    assert queue_is_empty(stack, f"{names.QUEUE_ALERTS_TELEGRAM}-dlq")
