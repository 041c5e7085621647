"""Errors of the Ozon Seller API client, and how callers should react to each.

The classes sort failures by what to do next: retry later (`OzonRetryableError`), stop
and alert (`OzonAuthError`, `OzonContractError`) or drop the request
(`OzonRequestError`). Every error carries the method path, the HTTP status, Ozon's
`code` (an int or a string, as Ozon sent it) and Ozon's message. Errors keep no
request headers, and their messages are masked for the credentials registered with
`chalicelib.observability.register_secret` (the client registers its own).
"""

from __future__ import annotations

import json
import math
import time
from email.utils import parsedate_to_datetime
from typing import Literal, Mapping

from chalicelib.observability import mask_secrets

# Ozon accepts one update per (product, warehouse) pair every 30 seconds; a sooner one
# fails with the per-item code TOO_MANY_REQUESTS (Ozon Seller API docs, /v2/products/stocks).
RETRY_AFTER_ITEM_RATE_SECONDS = 30

# Maximum length of the response text kept in an error message, in characters.
MAX_MESSAGE_CHARS = 300

_ITEM_RATE_CODES = frozenset({"TOO_MANY_REQUESTS"})
_ITEM_RATE_MESSAGE = "stock is updated too frequently"


class OzonError(Exception):
    """A call to the Ozon Seller API failed."""

    hint = "Check the request and Ozon's message."

    def __init__(
        self,
        path: str,
        status: int | None = None,
        code: int | str | None = None,
        message: str = "",
    ) -> None:
        self.path = path
        self.status = status
        self.code = code
        self.message = _clean_message(message)
        super().__init__(path, status, code, self.message)

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP response"
        code = f", code {self.code!r}" if self.code not in (None, "") else ""
        message = f": {self.message}" if self.message else ""
        return f"Ozon POST {self.path} failed ({status}{code}){message}. {self.advice()}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={self.path!r}, status={self.status!r}, "
            f"code={self.code!r}, message={self.message!r})"
        )

    def advice(self) -> str:
        """Return what the caller should do about this error."""
        return self.hint


class OzonRetryableError(OzonError):
    """A failure that may pass on a later attempt; `retry_after` is in seconds, if known."""

    hint = "Retry later with backoff."

    def __init__(
        self,
        path: str,
        status: int | None = None,
        code: int | str | None = None,
        message: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(path, status, code, message)
        self.retry_after = retry_after
        # Keep every constructor argument in args so that the error pickles whole.
        self.args = (path, status, code, self.message, retry_after)

    def advice(self) -> str:
        if self.retry_after is None:
            return self.hint
        return f"Retry after {self.retry_after:g} s."


class OzonRateLimitedError(OzonRetryableError):
    """HTTP 429: over 50 requests per second per Client-Id, or over a method's own limit."""

    hint = "Retry later and slow down: Ozon allows 50 requests per second per Client-Id."

    def advice(self) -> str:
        if self.retry_after is None:
            return self.hint
        return f"Retry after {self.retry_after:g} s (Retry-After) and slow down."


class OzonServerError(OzonRetryableError):
    """HTTP 5xx, or 408: Ozon failed to handle the request."""

    hint = "Retry later with backoff; alert if it lasts."


class OzonTimeoutError(OzonRetryableError):
    """No response in time, or the connection failed.

    A write may or may not have been applied, so re-read the state before retrying a
    call that is not idempotent (ship, carriage). Setting a stock is idempotent.
    """

    hint = "Retry later; re-read the state first if the call is not idempotent."


class OzonAuthError(OzonError):
    """HTTP 401 or 403: the key is invalid, expired, lacks a role or the offer is unsigned."""

    hint = (
        "Stop and alert: check the Client-Id and Api-Key, the key's roles and expiry "
        "(POST /v1/roles returns expires_at) and that the seller offer is signed."
    )


class OzonContractError(OzonError):
    """The method is gone (404, 405, 410) or its response does not parse."""

    hint = (
        "Stop and alert: Ozon switched the method off or changed it; check the Ozon "
        "Seller API changelog and update the client."
    )


class OzonRequestError(OzonError):
    """Any other 4xx: Ozon rejected the request as invalid, so retrying it unchanged fails again."""

    hint = "Fix the request; do not retry it unchanged."


def error_from_response(
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: str,
) -> OzonError:
    """Build the error for a non-2xx response from its status, headers and body."""
    code, message = parse_error_body(body)
    retry_after = parse_retry_after(headers.get("Retry-After"))

    if status == 429:
        return OzonRateLimitedError(path, status, code, message, retry_after)
    if status >= 500 or status == 408:
        return OzonServerError(path, status, code, message, retry_after)
    if status in (401, 403):
        return OzonAuthError(path, status, code, message)
    # NOTE: the stock methods return 404 only for an unknown path. Methods that return
    # 404 for a missing entity (a posting, say) need their own mapping.
    if status in (404, 405, 410):
        return OzonContractError(path, status, code, message)
    if 400 <= status < 500:
        return OzonRequestError(path, status, code, message)
    # 1xx and 3xx: the client does not follow redirects, so the method has moved.
    return OzonContractError(path, status, code, message or "unexpected HTTP status")


def parse_error_body(body: str) -> tuple[int | str | None, str]:
    """Return Ozon's `code` and `message` from an error body.

    Ozon sends `{code, message, details}`, with `code` an int or a string; the
    notification API nests the same fields under `error`. Any other body is returned
    as the message, shortened to MAX_MESSAGE_CHARS.
    """
    try:
        parsed = json.loads(body)
    except ValueError:
        return None, body

    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        parsed = parsed["error"]
    if not isinstance(parsed, dict):
        return None, body

    code = parsed.get("code")
    if not isinstance(code, (int, str)) or isinstance(code, bool):
        code = None
    message = parsed.get("message")
    return code, message if isinstance(message, str) else ""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return a Retry-After header value in seconds, or None when absent or invalid.

    The header contains either seconds or an HTTP date (RFC 9110); `now` is epoch seconds.
    """
    if value is None or not value.strip():
        return None

    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until_http_date(value, time.time() if now is None else now)

    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _seconds_until_http_date(value: str, now: float) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def classify_item_error(code: str, message: str) -> Literal["retry", "permanent"]:
    """Sort a per-item error of `/v2/products/stocks` into retry or permanent.

    Only the 30-second pair limit (TOO_MANY_REQUESTS, "Stock is updated too
    frequently") passes on a later attempt, after RETRY_AFTER_ITEM_RATE_SECONDS. Every
    other code (NOT_FOUND_ERROR, *_NOT_FOUND, PRODUCT_IS_ARCHIVED, STOCK_TOO_BIG, ...)
    fails the same way again until someone fixes the product or the data.
    """
    if (code or "").strip().upper() in _ITEM_RATE_CODES:
        return "retry"
    if _ITEM_RATE_MESSAGE in (message or "").lower():
        return "retry"
    return "permanent"


def _clean_message(message: str) -> str:
    # Bodies can be HTML error pages: collapse whitespace, cut, and mask any secret
    # that a misbehaving proxy might echo back.
    text = " ".join((message or "").split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "..."
    return mask_secrets(text)
