"""Builds the Telegram forwarder's adapters once per process from the settings.

AWS clients and queues are the stock flow's (`chalicelib.stock.wiring`). Credentials are
read on every invocation through a cached Secrets Manager provider, so a new bot token
reaches warm containers within SECRET_CACHE_SECONDS.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from chalicelib.names import QUEUE_ALERTS_TELEGRAM
from chalicelib.settings import get_settings
from chalicelib.stock import wiring as shared
from chalicelib.storage.queues import SqsQueue
from chalicelib.telegram.client import TelegramClient
from chalicelib.telegram.credentials import TelegramCredentials, load_telegram_credentials


@lru_cache(maxsize=1)
def _secrets() -> SecretsProvider:
    return SecretsProvider(boto3_client=shared.client("secretsmanager"))


def credentials() -> TelegramCredentials | None:
    """Return the bot token and chat id, or None when Telegram is not configured."""
    settings = get_settings()
    secrets = _secrets() if settings.telegram_secret_name else None
    return load_telegram_credentials(settings, secrets)


@lru_cache(maxsize=2)
def client(token: str) -> TelegramClient:
    """Return the client of the bot with `token`; a rotated token gets a new client."""
    settings = get_settings()
    return TelegramClient(settings.telegram_api_url, token, timeout=settings.telegram_timeout_seconds)


def queue() -> SqsQueue:
    return shared.queue(QUEUE_ALERTS_TELEGRAM)


def reset() -> None:
    """Forget every built adapter (tests and the local runner change settings)."""
    for cached in (_secrets, client):
        cached.cache_clear()
    shared.reset()
