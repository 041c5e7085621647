"""TelegramClient over real HTTP against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import io
import logging
import pickle
import socket
import traceback
from typing import Iterator

import pytest

from chalicelib.observability import logger
from chalicelib.telegram.client import DEFAULT_RETRY_AFTER_SECONDS, MAX_TEXT_LENGTH, TelegramClient, fit_text
from chalicelib.telegram.errors import (
    TelegramError,
    TelegramRateLimitedError,
    TelegramRejectedError,
    TelegramRetryableError,
)
from local.telegram_fake import TelegramFake

TOKEN = "7012345678:AAH-test-token-4f1c9d2e8b7a6c5d"
CHAT_ID = "-1001234567890"


@pytest.fixture
def fake() -> Iterator[TelegramFake]:
    server = TelegramFake(TOKEN, chat_ids=[CHAT_ID])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(fake: TelegramFake) -> TelegramClient:
    return TelegramClient(fake.base_url, TOKEN, timeout=2.0)


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    # Powertools' Logger does not propagate to the root logger, so caplog misses it.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    root_handler = logging.StreamHandler(stream)
    previous, previous_root = logger.log_level, logging.getLogger().level
    logger.addHandler(handler)
    logger.setLevel("DEBUG")
    # urllib3 logs each request line, token included, at DEBUG on the root logger's handlers.
    logging.getLogger().addHandler(root_handler)
    logging.getLogger().setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)
    logging.getLogger().removeHandler(root_handler)
    logging.getLogger().setLevel(previous_root)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _full_text(error: BaseException) -> str:
    """Everything a log line or a traceback could show of `error`, its chain included."""
    return "".join(traceback.format_exception(error)) + repr(error) + repr(error.args)


def test_send_delivers_message(client, fake):
    # GIVEN the fake bot WHEN a message is sent
    client.send_message(CHAT_ID, "Тревога: очередь не пуста")

    # THEN the chat has it, without a link preview
    (message,) = fake.messages
    assert message.chat_id == CHAT_ID
    assert message.text == "Тревога: очередь не пуста"
    assert message.link_preview_disabled is True


def test_send_cuts_long_text(client, fake):
    # GIVEN a text of 5000 characters WHEN it is sent
    client.send_message(CHAT_ID, "я" * 5000)

    # THEN Telegram accepts it cut to 4096 characters, ending in "…"
    (message,) = fake.messages
    assert len(message.text) == MAX_TEXT_LENGTH
    assert message.text.endswith("…")


def test_rate_limit_carries_retry_after(client, fake):
    # GIVEN flood control for the next call
    fake.rate_limit_next(1, retry_after=17)

    # WHEN a message is sent THEN the error carries how long to wait
    with pytest.raises(TelegramRateLimitedError) as caught:
        client.send_message(CHAT_ID, "x")
    assert caught.value.retry_after_seconds == 17
    assert caught.value.status == 429
    assert isinstance(caught.value, TelegramRetryableError)
    assert fake.messages == []


def test_server_error_is_retryable(client, fake):
    # GIVEN a 502 for the next call WHEN a message is sent THEN the error is retryable
    fake.fail_next(1, status=502)
    with pytest.raises(TelegramRetryableError) as caught:
        client.send_message(CHAT_ID, "x")
    assert caught.value.status == 502
    assert not isinstance(caught.value, TelegramRateLimitedError)


def test_unknown_chat_rejected(client, fake):
    # GIVEN a chat the bot is not in WHEN a message is sent
    with pytest.raises(TelegramRejectedError) as caught:
        client.send_message("-100999", "x")

    # THEN the error carries Telegram's description and what to check
    assert caught.value.status == 400
    assert caught.value.description == "Bad Request: chat not found"
    assert "chat_id" in str(caught.value)


def test_blocked_bot_rejected(client, fake):
    # GIVEN a user who blocked the bot WHEN a message is sent THEN it is rejected with 403
    fake.block_chat(CHAT_ID)
    with pytest.raises(TelegramRejectedError) as caught:
        client.send_message(CHAT_ID, "x")
    assert caught.value.status == 403
    assert "bot was blocked" in caught.value.description
    assert "Unblock the bot" in str(caught.value)


def test_wrong_token_rejected(fake):
    # GIVEN a client with a revoked token
    revoked = "7012345678:AAH-revoked-token-000000000000"
    client = TelegramClient(fake.base_url, revoked, timeout=2.0)

    # WHEN a message is sent THEN it is rejected as unauthorized, the token unnamed
    with pytest.raises(TelegramRejectedError) as caught:
        client.send_message(CHAT_ID, "x")
    assert caught.value.status == 401
    assert caught.value.description == "Unauthorized"
    assert "@BotFather" in str(caught.value)
    assert revoked not in _full_text(caught.value)


def test_timeout_is_retryable(fake):
    # GIVEN a response that takes longer than the client's timeout
    fake.stall_next(1, seconds=1.5)
    client = TelegramClient(fake.base_url, TOKEN, timeout=0.3)

    # WHEN a message is sent THEN the error is retryable and names the timeout
    with pytest.raises(TelegramRetryableError) as caught:
        client.send_message(CHAT_ID, "x")
    assert caught.value.status is None
    assert "timed out after 0.3 s" in str(caught.value)


def _error_of(client: TelegramClient, chat_id: str = CHAT_ID) -> TelegramError:
    with pytest.raises(TelegramError) as caught:
        client.send_message(chat_id, "x")
    return caught.value


def test_errors_never_contain_token(fake):
    # GIVEN every kind of failure, the refused connection (whose requests text names the URL) included
    client = TelegramClient(fake.base_url, TOKEN, timeout=0.3)
    errors: list[TelegramError] = []
    fake.rate_limit_next(1, retry_after=3)
    errors.append(_error_of(client))
    fake.fail_next(1)
    errors.append(_error_of(client))
    fake.stall_next(1, seconds=1.0)
    errors.append(_error_of(client))
    errors.append(_error_of(client, chat_id="-1"))
    closed = TelegramClient(f"http://127.0.0.1:{_closed_port()}", TOKEN, timeout=1.0)
    errors.append(_error_of(closed))

    # THEN no message, repr, args or traceback (causes included) contains the token
    for error in errors:
        assert TOKEN not in _full_text(error), type(error).__name__
    # AND the connection error still names what failed
    assert isinstance(errors[-1], TelegramRetryableError)
    assert "connection to http://127.0.0.1" in str(errors[-1])
    assert "ConnectionError" in _full_text(errors[-1])


def test_logs_never_contain_token(client, fake, debug_log):
    # GIVEN debug logging everywhere, urllib3's request lines included
    fake.fail_next(1)

    # WHEN one call fails and one succeeds
    with pytest.raises(TelegramRetryableError):
        client.send_message(CHAT_ID, "x")
    client.send_message(CHAT_ID, "x")

    # THEN the lines were written, and none contains the token
    logged = debug_log.getvalue()
    assert "Telegram call finished" in logged
    assert "sendMessage" in logged
    assert TOKEN not in logged


def test_repr_hides_token(client):
    # GIVEN a client WHEN shown THEN the token is masked
    assert TOKEN not in repr(client)
    assert "token=***" in repr(client)


def test_rate_limit_without_retry_after(client, fake):
    # GIVEN a 429 response without parameters or Retry-After, as a proxy might send
    fake.rate_limit_next(1, retry_after=None)

    # WHEN a message is sent THEN the default wait applies
    with pytest.raises(TelegramRateLimitedError) as caught:
        client.send_message(CHAT_ID, "x")
    assert caught.value.retry_after_seconds == DEFAULT_RETRY_AFTER_SECONDS


def test_migrated_group_names_new_chat():
    # GIVEN Telegram's response for a group upgraded to a supergroup
    error = TelegramRejectedError("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat",
                                  migrate_to_chat_id=-1009876543210)

    # WHEN shown THEN it names the chat id to configure
    assert "-1009876543210" in str(error)


def test_pickled_error_keeps_fields():
    # GIVEN a rate-limit error WHEN pickled and restored THEN every field survives
    restored = pickle.loads(pickle.dumps(TelegramRateLimitedError("sendMessage", 9, "Too Many Requests")))
    assert restored.retry_after_seconds == 9
    assert restored.description == "Too Many Requests"


def test_fit_text_keeps_short_text():
    # GIVEN a text within the limit THEN it is unchanged
    assert fit_text("Норма: очередь восстановлена") == "Норма: очередь восстановлена"


def test_fit_text_counts_utf16_units():
    # GIVEN a text of emoji, each two UTF-16 code units
    text = "🔥" * 3000

    # WHEN cut THEN it fits 4096 code units, keeps whole emoji and ends in "…"
    cut = fit_text(text)
    assert len(cut.encode("utf-16-le")) // 2 <= MAX_TEXT_LENGTH
    assert cut == "🔥" * 2047 + "…"


def test_client_rejects_bad_settings():
    # GIVEN invalid settings WHEN a client is built THEN each is rejected by name
    with pytest.raises(ValueError, match="Telegram API URL"):
        TelegramClient("api.telegram.org", TOKEN)
    with pytest.raises(ValueError, match="token is empty"):
        TelegramClient("https://api.telegram.org", " ")
    with pytest.raises(ValueError, match="timeout"):
        TelegramClient("https://api.telegram.org", TOKEN, timeout=0)
