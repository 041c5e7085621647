"""Alert texts for Telegram, and the alerts queue handler against the fake Bot API."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from moto.server import ThreadedMotoServer

from chalicelib.alerts import render
from chalicelib.observability import logger
from chalicelib.settings import Settings, get_settings
from chalicelib.storage.queues import InMemoryQueue
from chalicelib.telegram import handlers, wiring
from chalicelib.telegram.client import TelegramClient
from chalicelib.telegram.credentials import (
    TelegramCredentials,
    TelegramCredentialsError,
    load_telegram_credentials,
)
from chalicelib.telegram.forwarder import (
    InvalidNotificationError,
    Notification,
    parse_notification,
    render_text,
)
from chalicelib.telegram.handlers import AlertSender
from local.telegram_fake import TelegramFake

TOKEN = "7012345678:AAH-forwarder-token-9a8b7c6d5e4f"
CHAT_ID = "-1001234567890"
TOPIC_ARN = "arn:aws:sns:eu-central-1:123456789012:alerts"

ALARM = {
    "AlarmName": "ozon-stock-push-dlq-not-empty",
    "AlarmDescription": "Stock push messages failed 5 times and moved to ozon-stock-push-dlq.",
    "AWSAccountId": "123456789012",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint [3.0 (04/12/26 10:00:00)] was greater than the threshold (0.0).",
    "StateChangeTime": "2026-12-04T10:01:00.000+0000",
    "Region": "EU (Frankfurt)",
    "OldStateValue": "OK",
}


def envelope(message: str, subject: str = "ALARM: ozon-stock-push-dlq-not-empty", kind: str = "Notification") -> str:
    """The SQS body SNS writes for a subscribed queue without raw message delivery."""
    return json.dumps({
        "Type": kind, "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC_ARN, "Subject": subject,
        "Message": message, "Timestamp": "2026-12-04T10:01:00.123Z", "SignatureVersion": "1",
    })


def notification(message: str) -> Notification:
    return Notification(message_id="m-1", subject="s", message=message, timestamp="", topic_arn=TOPIC_ARN)


def sqs_event(*bodies: str) -> dict:
    return {"Records": [
        {"messageId": f"msg-{index}", "receiptHandle": f"handle-{index}", "body": body, "attributes": {},
         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
         "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:ozon-alerts-telegram", "awsRegion": "eu-central-1"}
        for index, body in enumerate(bodies)]}


@pytest.fixture
def fake() -> Iterator[TelegramFake]:
    server = TelegramFake(TOKEN, chat_ids=[CHAT_ID])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def queue() -> InMemoryQueue:
    return InMemoryQueue()


def run_batch(fake: TelegramFake, queue: InMemoryQueue, *bodies: str, language: str = "ru") -> list[str]:
    """Forward one batch; return the failed messageIds."""
    sender = AlertSender(TelegramClient(fake.base_url, TOKEN, timeout=0.5), CHAT_ID, queue, language)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=sqs_event(*bodies), record_handler=sender.forward,
                                        processor=processor)
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


# ---------------------------------------------------------------- texts


def test_alarm_text_russian():
    # GIVEN a DLQ alarm in state ALARM WHEN rendered by default
    text = render_text(notification(json.dumps(ALARM)))

    # THEN it is the short Russian text with the queue and CloudWatch's reason
    assert text == (
        "Тревога: ozon-stock-push-dlq-not-empty — сообщения очереди ozon-stock-push не обработаны после "
        "нескольких попыток и перенесены в ozon-stock-push-dlq; нужен разработчик. Причина: Threshold Crossed: "
        "1 datapoint [3.0 (04/12/26 10:00:00)] was greater than the threshold (0.0)")


def test_alarm_text_english():
    # GIVEN the same alarm WHEN rendered in English THEN the alarm's own description is used
    text = render_text(notification(json.dumps(ALARM)), "en")
    assert text.startswith("Alarm: ozon-stock-push-dlq-not-empty — Stock push messages failed 5 times and moved "
                           "to ozon-stock-push-dlq. Reason: Threshold Crossed")


def test_recovery_text_russian():
    # GIVEN the alarm back in state OK THEN the text states it has recovered
    recovered = dict(ALARM, NewStateValue="OK", OldStateValue="ALARM")
    assert render_text(notification(json.dumps(recovered))) == "Норма: ozon-stock-push-dlq-not-empty восстановлена"


def test_recovery_text_english():
    recovered = dict(ALARM, NewStateValue="OK", OldStateValue="ALARM")
    assert render_text(notification(json.dumps(recovered)), "en") == "OK: ozon-stock-push-dlq-not-empty has recovered"


def test_other_alarm_uses_description():
    # GIVEN an alarm that watches no DLQ WHEN rendered in Russian THEN its description is kept
    alarm = dict(ALARM, AlarmName="ozon-5xx-spike", AlarmDescription="Ozon answers 5xx to many calls.")
    text = render_text(notification(json.dumps(alarm)))
    assert text.startswith("Тревога: ozon-5xx-spike — Ozon answers 5xx to many calls. Причина: ")


def test_alarm_without_description():
    # GIVEN an alarm without a description THEN the text has no dash part
    alarm = dict(ALARM, AlarmName="custom", AlarmDescription=None)
    assert render_text(notification(json.dumps(alarm)), "en").startswith("Alarm: custom. Reason: ")


def test_domain_alert_passes_through():
    # GIVEN a domain alert, already localized by chalicelib.alerts
    alert = render("ozon_auth", "ru", detail="HTTP 401")

    # WHEN rendered THEN it is forwarded unchanged, even with English settings
    assert render_text(notification(alert), "en") == alert


def test_json_that_is_no_alarm_passes_through():
    # GIVEN a JSON message without alarm fields THEN it is forwarded as it is
    assert render_text(notification('{"kind": "custom"}')) == '{"kind": "custom"}'


def test_long_alert_cut_to_limit():
    # GIVEN a domain alert of 10,000 characters WHEN rendered
    text = render_text(notification("Ошибка. " * 1250))

    # THEN it fits Telegram's 4096 characters and shows it was cut
    assert len(text) <= 4096
    assert text.endswith("…")


def test_empty_alert_names_subject():
    # GIVEN a notification with an empty message THEN the text states so and names the subject
    empty = Notification(message_id="m-1", subject="ozon-seller-ops: test", message=" ", timestamp="", topic_arn="")
    assert render_text(empty) == "(пустое оповещение: ozon-seller-ops: test)"


def test_parse_envelope():
    # GIVEN an SQS body written by SNS WHEN parsed THEN subject and message are read
    parsed = parse_notification(envelope("text", subject="ozon-seller-ops: ozon_auth"))
    assert parsed.subject == "ozon-seller-ops: ozon_auth"
    assert parsed.message == "text"
    assert parsed.topic_arn == TOPIC_ARN


def test_parse_skips_other_types():
    # GIVEN a subscription confirmation THEN there is no alert to send
    assert parse_notification(envelope("confirm", kind="SubscriptionConfirmation")) is None


def test_parse_rejects_raw_body():
    # GIVEN a body without the SNS envelope THEN it is invalid, with the likely cause
    with pytest.raises(InvalidNotificationError, match="RawMessageDelivery"):
        parse_notification('{"AlarmName": "x"}')
    with pytest.raises(InvalidNotificationError, match="not JSON"):
        parse_notification("Тревога")


# ---------------------------------------------------------------- the handler's sender


def test_batch_sends_every_alert(fake, queue):
    # GIVEN a domain alert and an alarm WHEN the batch is forwarded
    alert = render("ozon_contract", "ru", detail="/v2/products/stocks")
    failed = run_batch(fake, queue, envelope(alert), envelope(json.dumps(ALARM)))

    # THEN both reach the chat in order, and nothing is left in the queue
    assert failed == []
    assert [m.text for m in fake.messages][0] == alert
    assert fake.messages[1].text.startswith("Тревога: ozon-stock-push-dlq-not-empty")


def test_rate_limited_record_waits(fake, queue):
    # GIVEN flood control with retry_after 7 s for the next call
    fake.rate_limit_next(1, retry_after=7)

    # WHEN a batch of three alerts is forwarded
    failed = run_batch(fake, queue, envelope("a"), envelope("b"), envelope("c"))

    # THEN all three stay in the queue, hidden for 7 s, and only one call reached Telegram
    assert failed == ["msg-0", "msg-1", "msg-2"]
    assert queue.visibility["handle-0"] == 7
    assert 6 <= queue.visibility["handle-2"] <= 7
    assert fake.calls == 1
    assert fake.messages == []


def test_rejected_record_acknowledged(fake, queue):
    # GIVEN a user who blocked the bot WHEN an alert is forwarded
    fake.block_chat(CHAT_ID)
    failed = run_batch(fake, queue, envelope("a"))

    # THEN it is dropped: not reported as failed, so SQS deletes it
    assert failed == []
    assert fake.messages == []


def test_server_error_record_retried(fake, queue):
    # GIVEN a 502 for the first call WHEN two alerts are forwarded
    fake.fail_next(1)
    failed = run_batch(fake, queue, envelope("a"), envelope("b"))

    # THEN the first is retried after the queue's own timeout, the second is sent
    assert failed == ["msg-0"]
    assert queue.visibility == {}
    assert [m.text for m in fake.messages] == ["b"]


def test_invalid_record_dropped(fake, queue):
    # GIVEN a body that is no SNS notification THEN it is acknowledged and nothing is sent
    assert run_batch(fake, queue, "not json", envelope("ok")) == []
    assert [m.text for m in fake.messages] == ["ok"]


def test_english_alarm_sent(fake, queue):
    # GIVEN ALERT_LANGUAGE=en WHEN an alarm is forwarded THEN the chat gets the English text
    run_batch(fake, queue, envelope(json.dumps(ALARM)), language="en")
    assert fake.messages[0].text.startswith("Alarm: ozon-stock-push-dlq-not-empty")


# ---------------------------------------------------------------- credentials and the entry point


@pytest.fixture
def handler_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    # Chalice's app logger has the service's name. Chalice sets it to ERROR when the app is
    # built while sys.stdout is not its handler's stream, as under pytest's capture, so an
    # integration test that imported app.py leaves ERROR behind. Hence an explicit level.
    previous = logger.log_level
    logger.addHandler(handler)
    logger.setLevel("INFO")
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_unconfigured_handler_acks(monkeypatch, handler_log):
    # GIVEN no Telegram settings at all
    for name in ("TELEGRAM_SECRET_NAME", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    wiring.reset()

    # WHEN a batch of two alerts arrives
    response = handlers.forward_from_queue(sqs_event(envelope("a"), envelope("b")), None)

    # THEN both are acknowledged and one warning names where the alerts remain
    assert response == {"batchItemFailures": []}
    lines = [json.loads(line) for line in handler_log.getvalue().splitlines()]
    warnings = [line for line in lines if line["level"] == "WARNING"]
    assert [line["message"] for line in warnings] == ["Telegram is not configured; alerts stay in SNS"]
    assert warnings[0]["records"] == 2
    get_settings.cache_clear()


def test_half_configured_raises(monkeypatch):
    # GIVEN a token without a chat id WHEN the handler runs THEN it fails naming the variable
    monkeypatch.delenv("TELEGRAM_SECRET_NAME", raising=False)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("TELEGRAM_CHAT_ID", raising=False)
    get_settings.cache_clear()

    with pytest.raises(TelegramCredentialsError, match="TELEGRAM_CHAT_ID is not set") as caught:
        handlers.forward_from_queue(sqs_event(envelope("a")), None)
    assert TOKEN not in str(caught.value)
    get_settings.cache_clear()


def test_credentials_from_environment():
    # GIVEN both variables WHEN loaded THEN the credentials are read and the repr hides the token
    credentials = load_telegram_credentials(Settings(), environ={"TELEGRAM_BOT_TOKEN": f" {TOKEN} ",
                                                                 "TELEGRAM_CHAT_ID": CHAT_ID})
    assert credentials == TelegramCredentials(bot_token=TOKEN, chat_id=CHAT_ID)
    assert TOKEN not in repr(credentials)
    assert TOKEN not in str(credentials)


def test_credentials_absent():
    # GIVEN no variables and no secret THEN Telegram is not configured
    assert load_telegram_credentials(Settings(), environ={}) is None


@pytest.fixture(scope="module")
def secrets_provider() -> Iterator[SecretsProvider]:
    # moto's server on 127.0.0.1: no AWS request leaves the machine.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client("secretsmanager", region_name="eu-central-1", endpoint_url=f"http://{host}:{port}",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    yield SecretsProvider(boto3_client=client)
    server.stop()


def test_credentials_from_secret(secrets_provider):
    # GIVEN a secret with a numeric chat id, as a hand-written secret may have
    secrets_provider.client.create_secret(
        Name="telegram/ok", SecretString=json.dumps({"bot_token": TOKEN, "chat_id": int(CHAT_ID)}))

    # WHEN loaded THEN both values come from the secret, as strings, and the environment is ignored
    credentials = load_telegram_credentials(Settings(telegram_secret_name="telegram/ok"), secrets_provider,
                                            environ={"TELEGRAM_BOT_TOKEN": "other", "TELEGRAM_CHAT_ID": "1"})
    assert credentials == TelegramCredentials(bot_token=TOKEN, chat_id=CHAT_ID)


@pytest.mark.parametrize(("name", "secret", "expected"), [
    ("telegram/no-chat", json.dumps({"bot_token": TOKEN}), "missing chat_id"),
    ("telegram/text", TOKEN, "is not JSON"),
    ("telegram/list", json.dumps([TOKEN, CHAT_ID]), "must be a JSON object"),
])
def test_bad_secret_named(secrets_provider, name, secret, expected):
    # GIVEN a malformed secret WHEN loaded THEN the error names what is wrong, never the token
    secrets_provider.client.create_secret(Name=name, SecretString=secret)
    with pytest.raises(TelegramCredentialsError, match=expected) as caught:
        load_telegram_credentials(Settings(telegram_secret_name=name), secrets_provider)
    assert TOKEN not in str(caught.value)


def test_missing_secret_named(secrets_provider):
    # GIVEN no such secret WHEN loaded THEN the error names it and the permission to check
    with pytest.raises(TelegramCredentialsError, match="telegram/absent.*GetSecretValue"):
        load_telegram_credentials(Settings(telegram_secret_name="telegram/absent"), secrets_provider)
