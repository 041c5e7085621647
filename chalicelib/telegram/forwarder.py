"""Texts for Telegram from SNS notifications of the `alerts` topic.

The SQS body is SNS's JSON envelope (`Type`, `MessageId`, `TopicArn`, `Subject`,
`Message`, `Timestamp`). A CloudWatch alarm's `Message` is JSON with `AlarmName`,
`NewStateValue`, `NewStateReason` and `AlarmDescription`; it becomes a short text in
Russian (default) or English. Any other message is a domain alert from
`chalicelib.alerts`, already in the seller's language, and is forwarded as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.telegram.client import fit_text

Language = Literal["ru", "en"]

NOTIFICATION = "Notification"

ALARM_TEXTS: dict[str, dict[str, str]] = {
    "ALARM": {
        "ru": "Тревога: {name}{description}. Причина: {reason}",
        "en": "Alarm: {name}{description}. Reason: {reason}",
    },
    "OK": {
        "ru": "Норма: {name} восстановлена",
        "en": "OK: {name} has recovered",
    },
    "INSUFFICIENT_DATA": {
        "ru": "Нет данных: {name}{description}. Причина: {reason}",
        "en": "No data: {name}{description}. Reason: {reason}",
    },
}

# Alarms named "<queue>-dlq-not-empty" watch a dead-letter queue. Their AlarmDescription is
# English, so the Russian text describes them itself.
DEAD_LETTER_ALARM_SUFFIX = "-dlq-not-empty"
DEAD_LETTER_DESCRIPTION_RU = ("сообщения очереди {queue} не обработаны после нескольких попыток "
                              "и перенесены в {queue}-dlq; нужен разработчик")

EMPTY_MESSAGE = {"ru": "(пустое оповещение: {subject})", "en": "(empty alert: {subject})"}


class InvalidNotificationError(ValueError):
    """The SQS body is not an SNS notification; retrying it cannot help."""


@dataclass(frozen=True)
class Notification:
    """One SNS notification, as SNS wraps it for an SQS subscription."""

    message_id: str
    subject: str
    message: str
    timestamp: str
    topic_arn: str


def parse_notification(body: str) -> Notification | None:
    """Parse an SQS body holding SNS's JSON envelope.

    Returns None for an envelope of another type (e.g. SubscriptionConfirmation), which
    carries no alert. Raises InvalidNotificationError when `body` is no SNS envelope.
    """
    try:
        envelope = json.loads(body)
    except ValueError as error:
        raise InvalidNotificationError(f"the SQS body is not JSON ({error}); expected an SNS envelope") from error
    if not isinstance(envelope, dict) or not isinstance(envelope.get("Type"), str):
        raise InvalidNotificationError("the SQS body has no SNS 'Type'; is RawMessageDelivery on for the queue?")
    if envelope["Type"] != NOTIFICATION:
        return None

    message = envelope.get("Message")
    if not isinstance(message, str):
        raise InvalidNotificationError(f"SNS notification {envelope.get('MessageId')!r} has no 'Message' text")
    return Notification(
        message_id=str(envelope.get("MessageId") or ""),
        subject=str(envelope.get("Subject") or ""),
        message=message,
        timestamp=str(envelope.get("Timestamp") or ""),
        topic_arn=str(envelope.get("TopicArn") or ""),
    )


def render_text(notification: Notification, language: Language = "ru") -> str:
    """Return the Telegram text of a notification, at most 4096 characters long."""
    alarm = _alarm_of(notification.message)
    if alarm is not None:
        text = render_alarm(alarm, language)
    elif notification.message.strip():
        text = notification.message.strip()
    else:
        text = EMPTY_MESSAGE[language].format(subject=notification.subject or notification.message_id)
    return fit_text(text)


def render_alarm(alarm: dict[str, Any], language: Language = "ru") -> str:
    """Return the short text of a CloudWatch alarm state change."""
    name = str(alarm.get("AlarmName") or "?")
    state = str(alarm.get("NewStateValue") or "")
    texts = ALARM_TEXTS.get(state)
    if texts is None:
        # A state CloudWatch may add later still reaches people, named as CloudWatch names it.
        texts = {"ru": f"{state}: {{name}}{{description}}. Причина: {{reason}}",
                 "en": f"{state}: {{name}}{{description}}. Reason: {{reason}}"}

    description = _alarm_description(name, alarm.get("AlarmDescription"), language)
    reason = _sentence(alarm.get("NewStateReason")) or "—"
    return texts[language].format(name=name, description=f" — {description}" if description else "",
                                  reason=reason)


def _alarm_of(message: str) -> dict[str, Any] | None:
    if not message.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    if isinstance(parsed, dict) and "AlarmName" in parsed and "NewStateValue" in parsed:
        return parsed
    return None


def _alarm_description(name: str, description: object, language: Language) -> str:
    if language == "ru" and name.endswith(DEAD_LETTER_ALARM_SUFFIX):
        return DEAD_LETTER_DESCRIPTION_RU.format(queue=name[: -len(DEAD_LETTER_ALARM_SUFFIX)])
    return _sentence(description)


def _sentence(value: object) -> str:
    # The templates end each part with their own period.
    return str(value).strip().rstrip(".").strip() if value else ""
