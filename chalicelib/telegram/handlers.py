"""Lambda entry point of the alerts queue: SNS notifications to Telegram; `app.py` routes here.

Outcome per record: sent, or dropped when Telegram rejects it for good (logged with the
reason), or left in the queue: a rate-limited record becomes visible again after
Telegram's `retry_after`, a record that failed otherwise after the queue's visibility
timeout. Neither the token nor an alert's text is logged.
"""

from __future__ import annotations

import math
import time
from typing import Callable

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.observability import logger, metrics
from chalicelib.settings import get_settings
from chalicelib.storage.errors import StorageError
from chalicelib.storage.queues import MessageQueue
from chalicelib.telegram import wiring
from chalicelib.telegram.client import METHOD_SEND_MESSAGE, TelegramClient
from chalicelib.telegram.credentials import TelegramCredentialsError
from chalicelib.telegram.errors import (
    TelegramRateLimitedError,
    TelegramRejectedError,
    TelegramRetryableError,
)
from chalicelib.telegram.forwarder import InvalidNotificationError, Language, parse_notification, render_text

# SQS accepts visibility timeouts of 0 to 43,200 seconds (12 hours).
MAX_VISIBILITY_SECONDS = 43_200


def forward_from_queue(event: dict, context) -> dict:
    """Alerts queue: send each SNS notification to the Telegram chat; returns the partial batch response."""
    _start(context)
    try:
        target = wiring.credentials()
    except TelegramCredentialsError as error:
        # Every record would fail the same way: the batch comes back after the visibility
        # timeout and ends in the dead-letter queue if the settings stay wrong.
        logger.error("Telegram settings are invalid; alerts stay in the queue", extra={"error": str(error)})
        raise

    if target is None:
        logger.warning("Telegram is not configured; alerts stay in SNS",
                       extra={"records": len(event.get("Records", []))})
        return {"batchItemFailures": []}

    sender = AlertSender(wiring.client(target.bot_token), target.chat_id, wiring.queue(),
                         get_settings().alert_language)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        return process_partial_response(event=event, record_handler=sender.forward, processor=processor,
                                        context=context)
    finally:
        _flush_metrics()


class AlertSender:
    """Sends the records of one batch to one chat.

    After a 429 the rest of the batch is not sent: Telegram's flood control applies to
    every call of the bot, so those records wait for the same `retry_after`.
    """

    def __init__(self, client: TelegramClient, chat_id: str, queue: MessageQueue, language: Language = "ru",
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._chat_id = chat_id
        self._queue = queue
        self._language = language
        self._monotonic = monotonic
        self._retry_at: float | None = None

    def forward(self, record: SQSRecord) -> None:
        """Send one record; raise to report it as a batch item failure."""
        logger.append_keys(message_id=record.message_id)
        self._wait_if_rate_limited(record)

        try:
            notification = parse_notification(record.body)
        except InvalidNotificationError as error:
            logger.error("alert dropped: the record is not an SNS notification", extra={"error": str(error)})
            metrics.add_metric(name="TelegramAlertsDropped", unit=MetricUnit.Count, value=1)
            return
        if notification is None:
            logger.info("SNS message without an alert skipped")
            return

        self._send(record, render_text(notification, self._language), notification.message_id)

    def _send(self, record: SQSRecord, text: str, sns_message_id: str) -> None:
        try:
            self._client.send_message(self._chat_id, text)
        except TelegramRateLimitedError as error:
            self._retry_at = self._monotonic() + error.retry_after_seconds
            self._delay(record, error.retry_after_seconds)
            logger.warning("Telegram rate-limited an alert; it is retried later",
                           extra={"retry_after_seconds": error.retry_after_seconds})
            raise
        except TelegramRejectedError as error:
            # The same request would be rejected again, so the record is acknowledged.
            logger.error("Telegram rejected an alert; it is dropped",
                         extra={"status": error.status, "description": error.description, "error": str(error),
                                "sns_message_id": sns_message_id})
            metrics.add_metric(name="TelegramAlertsDropped", unit=MetricUnit.Count, value=1)
            return
        except TelegramRetryableError as error:
            logger.warning("Telegram call failed; the alert is retried after the visibility timeout",
                           extra={"error": str(error)})
            raise

        logger.info("alert sent to Telegram", extra={"sns_message_id": sns_message_id})
        metrics.add_metric(name="TelegramAlertsSent", unit=MetricUnit.Count, value=1)

    def _wait_if_rate_limited(self, record: SQSRecord) -> None:
        if self._retry_at is None:
            return
        remaining = math.ceil(self._retry_at - self._monotonic())
        if remaining <= 0:
            return
        self._delay(record, remaining)
        raise TelegramRateLimitedError(METHOD_SEND_MESSAGE, remaining,
                                       "not sent: an earlier alert of this batch was rate-limited")

    def _delay(self, record: SQSRecord, seconds: int) -> None:
        visibility = min(max(seconds, 0), MAX_VISIBILITY_SECONDS)
        try:
            self._queue.change_visibility(record.receipt_handle, visibility)
        except StorageError as error:
            logger.warning("cannot delay the rate-limited alert; it returns after the queue's visibility timeout",
                           extra={"error": str(error)})


def _flush_metrics() -> None:
    # Powertools warns on an empty flush; a batch of skipped records adds none.
    if metrics.metric_set:
        metrics.flush_metrics()


def _start(context) -> None:
    logger.remove_keys(["run_id", "message_id"])
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
