"""Telegram bot token and chat id.

Production reads them from the Secrets Manager secret named by TELEGRAM_SECRET_NAME
through Powertools Parameters; local runs read TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID.
The token is registered with the log filter as soon as it is loaded and never appears in
a repr, a str or an error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)

from chalicelib.observability import register_secret
from chalicelib.settings import Settings

ENV_BOT_TOKEN = "TELEGRAM_BOT_TOKEN"
ENV_CHAT_ID = "TELEGRAM_CHAT_ID"
SECRET_KEYS = ("bot_token", "chat_id")

# Seconds a secret read from Secrets Manager is cached, so that a new token lands soon.
SECRET_CACHE_SECONDS = 300


class TelegramCredentialsError(ValueError):
    """The Telegram settings are incomplete or malformed. The message never contains the token."""


@dataclass(frozen=True, repr=False)
class TelegramCredentials:
    """The bot token and the chat the alerts go to."""

    bot_token: str
    chat_id: str

    def __repr__(self) -> str:
        return f"TelegramCredentials(bot_token=***, chat_id={self.chat_id!r})"

    __str__ = __repr__


def load_telegram_credentials(settings: Settings, secrets: SecretsProvider | None = None, *,
                              environ: Mapping[str, str] | None = None) -> TelegramCredentials | None:
    """Load the credentials from Secrets Manager or from the environment.

    Returns None when Telegram is not configured at all. With `settings.telegram_secret_name`
    set, the secret must be the JSON object `{"bot_token": "...", "chat_id": "..."}`, read
    through `secrets` (cached for SECRET_CACHE_SECONDS). Raises TelegramCredentialsError
    naming what is missing.
    """
    if settings.telegram_secret_name:
        if secrets is None:
            raise TelegramCredentialsError("TELEGRAM_SECRET_NAME is set but no Secrets Manager provider was given")
        credentials = _from_secret(settings.telegram_secret_name, secrets)
    else:
        credentials = _from_environment(os.environ if environ is None else environ)

    if credentials is not None:
        register_secret(credentials.bot_token)
    return credentials


def _from_secret(name: str, secrets: SecretsProvider) -> TelegramCredentials:
    try:
        secret = secrets.get(name, transform="json", max_age=SECRET_CACHE_SECONDS)
    except TransformParameterError as error:
        raise TelegramCredentialsError(
            f'Secrets Manager secret {name!r} is not JSON; store {{"bot_token": "...", "chat_id": "..."}}'
        ) from error
    except GetParameterError as error:
        raise TelegramCredentialsError(
            f"cannot read Secrets Manager secret {name!r}: {error}; check that it exists and that the "
            "function role may call secretsmanager:GetSecretValue on it"
        ) from error

    if not isinstance(secret, dict):
        raise TelegramCredentialsError(f"Secrets Manager secret {name!r} must be a JSON object with bot_token "
                                       "and chat_id")
    missing = [key for key in SECRET_KEYS if not _text(secret.get(key))]
    if missing:
        raise TelegramCredentialsError(f"Secrets Manager secret {name!r} is missing {', '.join(missing)}; "
                                       "add it to the secret JSON")
    return TelegramCredentials(bot_token=_text(secret["bot_token"]), chat_id=_text(secret["chat_id"]))


def _from_environment(environ: Mapping[str, str]) -> TelegramCredentials | None:
    token = environ.get(ENV_BOT_TOKEN, "").strip()
    chat_id = environ.get(ENV_CHAT_ID, "").strip()
    if not token and not chat_id:
        return None
    if not token or not chat_id:
        missing = ENV_BOT_TOKEN if not token else ENV_CHAT_ID
        raise TelegramCredentialsError(f"{missing} is not set while the other Telegram variable is; set both, "
                                       "or set TELEGRAM_SECRET_NAME to read them from Secrets Manager")
    return TelegramCredentials(bot_token=token, chat_id=chat_id)


def _text(value: Any) -> str:
    # A chat id is a number, and a hand-written secret may store it as a JSON number.
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, str)):
        return str(value).strip()
    return ""
