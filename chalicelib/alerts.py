"""Domain alerts for people: published to SNS, from where they reach Telegram.

Texts are Russian by default, English when ALERT_LANGUAGE=en. They name the problem and
what to do; they never carry credentials.
"""

from __future__ import annotations

from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.observability import logger

MESSAGES = {
    "ozon_auth": {
        "ru": "Ozon отклонил ключ API ({detail}). Синхронизация остатков остановлена. "
              "Проверьте Client-Id и Api-Key в Secrets Manager и срок действия ключа.",
        "en": "Ozon rejected the API key ({detail}). Stock sync has stopped. "
              "Check the Client-Id and Api-Key in Secrets Manager and the key's expiry.",
    },
    "ozon_contract": {
        "ru": "Метод Ozon {detail} не отвечает как ожидалось (отключён или изменён). "
              "Синхронизация остатков остановлена; нужен разработчик.",
        "en": "Ozon method {detail} does not answer as expected (switched off or changed). "
              "Stock sync has stopped; a developer is needed.",
    },
}


class Notifier(Protocol):
    def alert(self, kind: str, **fields: str) -> None: ...


def render(kind: str, language: str = "ru", **fields: str) -> str:
    texts = MESSAGES[kind]
    return texts.get(language, texts["ru"]).format(**fields)


class SnsNotifier:
    """Publishes alerts to one SNS topic. A failed publish is logged, not raised: the
    alert must not turn a handled failure into a crash."""

    def __init__(self, client, topic_arn: str, language: str = "ru") -> None:
        self._client = client
        self._topic_arn = topic_arn
        self._language = language

    def alert(self, kind: str, **fields: str) -> None:
        text = render(kind, self._language, **fields)
        try:
            self._client.publish(TopicArn=self._topic_arn, Subject=f"ozon-seller-ops: {kind}", Message=text)
        except (ClientError, BotoCoreError) as error:
            logger.error("alert publish failed", extra={"alert": kind, "topic": self._topic_arn, "error": str(error)})


class InMemoryNotifier:
    def __init__(self, language: str = "ru") -> None:
        self.sent: list[str] = []
        self._language = language

    def alert(self, kind: str, **fields: str) -> None:
        self.sent.append(render(kind, self._language, **fields))
