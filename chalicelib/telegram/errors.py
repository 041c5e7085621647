"""Errors of the Telegram Bot API client, sorted by what the caller does next.

Retry later (`TelegramRetryableError`, `TelegramRateLimitedError` with its wait) or drop
the message and fix the configuration (`TelegramRejectedError`). No message, repr or
argument of these errors contains the bot token: the client never passes the request URL
in, and every text is masked for the secrets registered with
`chalicelib.observability.register_secret` (the client registers the token).
"""

from __future__ import annotations

from chalicelib.observability import mask_secrets

# Maximum length of Telegram's description kept in an error message, in characters.
MAX_DESCRIPTION_CHARS = 300


class TelegramError(Exception):
    """A call to the Telegram Bot API failed."""

    hint = "Check Telegram's description."

    def __init__(self, method: str, status: int | None = None, description: str = "") -> None:
        self.method = method
        self.status = status
        self.description = _clean(description)
        super().__init__(method, status, self.description)

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP response"
        description = f": {self.description}" if self.description else ""
        return f"Telegram {self.method} failed ({status}){description}. {self.advice()}"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(method={self.method!r}, status={self.status!r}, "
                f"description={self.description!r})")

    def advice(self) -> str:
        """Return what the operator or the caller should do about this error."""
        return self.hint


class TelegramRetryableError(TelegramError):
    """A failure that may pass later: HTTP 5xx, a timeout or a failed connection."""

    hint = "Retry later; the message stays in the queue."


class TelegramRateLimitedError(TelegramRetryableError):
    """HTTP 429: Telegram's flood control requires a wait of `retry_after_seconds` before any new call."""

    def __init__(self, method: str, retry_after_seconds: int, description: str = "") -> None:
        super().__init__(method, 429, description)
        self.retry_after_seconds = retry_after_seconds
        # Keep every constructor argument in args so that the error pickles whole.
        self.args = (method, retry_after_seconds, self.description)

    def advice(self) -> str:
        return f"Retry after {self.retry_after_seconds} s."


class TelegramRejectedError(TelegramError):
    """HTTP 4xx other than 429: the same request fails again until the configuration changes."""

    def __init__(self, method: str, status: int | None = None, description: str = "",
                 migrate_to_chat_id: int | None = None) -> None:
        super().__init__(method, status, description)
        self.migrate_to_chat_id = migrate_to_chat_id
        self.args = (method, status, self.description, migrate_to_chat_id)

    def advice(self) -> str:
        text = self.description.lower()
        if self.migrate_to_chat_id is not None:
            return (f"The group became a supergroup: set chat_id to {self.migrate_to_chat_id} in the "
                    "Telegram secret (or TELEGRAM_CHAT_ID).")
        if self.status in (401, 404):
            return ("The bot token is invalid or revoked: get the token from @BotFather and store it as "
                    "bot_token in the Telegram secret (or TELEGRAM_BOT_TOKEN).")
        if "chat not found" in text:
            return ("Check chat_id in the Telegram secret (or TELEGRAM_CHAT_ID), and add the bot to that "
                    "chat; in a private chat the user must send /start to the bot first.")
        if self.status == 403:
            return "Unblock the bot, or add it back to the chat, and give it the right to post there."
        return "Telegram rejected the request; retrying it unchanged fails again. Report it as a bug."


def _clean(text: str) -> str:
    text = mask_secrets(" ".join(str(text).split()))
    if len(text) > MAX_DESCRIPTION_CHARS:
        return text[:MAX_DESCRIPTION_CHARS] + "…"
    return text
