"""Client of the Telegram Bot API method `sendMessage`.

The bot token is part of every request URL (`{base_url}/bot{token}/sendMessage`), so the
client keeps the URL out of everything it raises or logs. It makes one HTTP call per
message and never retries. The error class shows whether to retry (and when) or to drop
the message.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import requests

from chalicelib.observability import logger, mask_secrets, register_secret
from chalicelib.telegram.errors import (
    TelegramError,
    TelegramRateLimitedError,
    TelegramRejectedError,
    TelegramRetryableError,
)

METHOD_SEND_MESSAGE = "sendMessage"

# sendMessage takes 1-4096 characters of text (Telegram Bot API docs). The docs do not say
# whether a character is a code point or a UTF-16 code unit, so texts are cut to 4096 UTF-16
# code units, which is never more than 4096 code points.
MAX_TEXT_LENGTH = 4096
ELLIPSIS = "…"

# Wait used when a 429 response carries neither parameters.retry_after nor Retry-After, in
# seconds. The Bot API docs describe retry_after for flood-control errors, so this is a guess
# for responses from a proxy in front of Telegram.
DEFAULT_RETRY_AFTER_SECONDS = 30


class _MaskSecretsFilter(logging.Filter):
    """Masks registered secrets in a record before any handler formats it.

    urllib3 logs each request line, and so the token in the path, at DEBUG. The masking
    formatter of chalicelib.observability wraps only the handlers present at import time,
    so a handler added later (a test's, a debugging session's) would print the token.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        return True


_URLLIB3_LOGGER = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _MaskSecretsFilter) for f in _URLLIB3_LOGGER.filters):
    _URLLIB3_LOGGER.addFilter(_MaskSecretsFilter())


class TelegramClient:
    """Sends text messages as one bot. `timeout` is in seconds and bounds connecting and each read."""

    def __init__(self, base_url: str, token: str, *, session: requests.Session | None = None,
                 timeout: float = 10.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"invalid Telegram API URL {base_url!r}: expected http:// or https://")
        if not token or not token.strip():
            raise ValueError("the Telegram bot token is empty; set bot_token in the secret or TELEGRAM_BOT_TOKEN")
        if timeout <= 0:
            raise ValueError(f"invalid Telegram timeout {timeout!r}: expected seconds > 0")

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token.strip()
        self._session = session or requests.Session()

        # Masks the token in every log line, including urllib3's debug lines, which print the path.
        register_secret(self._token)

    def __repr__(self) -> str:
        return f"TelegramClient(base_url={self.base_url!r}, token=***)"

    def send_message(self, chat_id: str, text: str) -> None:
        """Send `text` to `chat_id` without a link preview, cut by `fit_text` to Telegram's limit.

        Raises TelegramRateLimitedError (429), TelegramRetryableError (5xx, timeout,
        connection failure) or TelegramRejectedError (other 4xx, with Telegram's description).
        """
        body = {
            "chat_id": chat_id,
            "text": fit_text(text),
            # link_preview_options replaced disable_web_page_preview in Bot API 7.0; both are
            # sent so that servers of either generation show no preview.
            "link_preview_options": {"is_disabled": True},
            "disable_web_page_preview": True,
        }
        response = self._post(METHOD_SEND_MESSAGE, body)
        logger.debug("Telegram call finished", extra={"method": METHOD_SEND_MESSAGE, "status": response.status_code})
        _raise_for_response(METHOD_SEND_MESSAGE, response)

    def _post(self, method: str, body: dict[str, Any]) -> requests.Response:
        url = f"{self.base_url}/bot{self._token}/{method}"
        try:
            # Redirects are not followed: requests would turn a redirected POST into a GET.
            return self._session.post(url, json=body, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as error:
            raise TelegramRetryableError(method, description=f"timed out after {self.timeout:g} s") \
                from self._scrubbed(error)
        except requests.ConnectionError as error:
            raise TelegramRetryableError(method, description=f"connection to {self.base_url} failed") \
                from self._scrubbed(error)
        except requests.RequestException as error:
            raise TelegramRetryableError(method, description=f"request failed: {type(error).__name__}") \
                from self._scrubbed(error)

    def _scrubbed(self, error: requests.RequestException) -> requests.RequestException:
        """Return a copy of `error` without the token and without its own cause chain.

        requests' messages contain the URL, and so the token, and a traceback prints the
        whole chain. The copy keeps the class and the rest of the text for diagnosis.
        """
        text = str(error).replace(self._token, "***")
        return type(error)(text)


def fit_text(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """Return `text` cut to `limit` UTF-16 code units, ending in "…" when it was cut."""
    if _utf16_length(text) <= limit:
        return text

    budget = limit - _utf16_length(ELLIPSIS)
    kept: list[str] = []
    for character in text:
        # A character outside the Basic Multilingual Plane takes two code units; it is
        # kept whole or dropped, never split.
        budget -= _utf16_length(character)
        if budget < 0:
            break
        kept.append(character)
    return "".join(kept).rstrip() + ELLIPSIS


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _raise_for_response(method: str, response: requests.Response) -> None:
    status = response.status_code
    payload = _decode(response)
    description = payload.get("description")
    if not isinstance(description, str):
        description = response.text if not payload else ""
    parameters = payload.get("parameters") if isinstance(payload.get("parameters"), dict) else {}

    if 200 <= status < 300:
        if payload.get("ok") is True:
            return
        raise TelegramRetryableError(method, status, f"the response is not {{\"ok\": true}}: {response.text}")
    if status == 429:
        raise TelegramRateLimitedError(method, _retry_after(parameters, response), description)
    if status >= 500:
        raise TelegramRetryableError(method, status, description)
    if 400 <= status < 500:
        raise TelegramRejectedError(method, status, description, _chat_id(parameters.get("migrate_to_chat_id")))
    # 1xx and 3xx: the client does not follow redirects, so TELEGRAM_API_URL is likely wrong.
    raise TelegramRejectedError(method, status, description or "unexpected HTTP status; check TELEGRAM_API_URL")


def _decode(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _retry_after(parameters: dict[str, Any], response: requests.Response) -> int:
    """Seconds to wait, from `parameters.retry_after`, else the Retry-After header, else the default."""
    for value in (parameters.get("retry_after"), response.headers.get("Retry-After")):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return math.ceil(seconds)
    return DEFAULT_RETRY_AFTER_SECONDS


def _chat_id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = [
    "DEFAULT_RETRY_AFTER_SECONDS",
    "MAX_TEXT_LENGTH",
    "TelegramClient",
    "TelegramError",
    "TelegramRateLimitedError",
    "TelegramRejectedError",
    "TelegramRetryableError",
    "fit_text",
]
