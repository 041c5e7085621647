"""Ozon push notices as they arrive, and the FBS queue messages built from them.

FBS notices carry no event id, so the dedupe key is built from the message type, the
posting number and the state or date the notice reports (Ozon Seller API docs, push
notifications).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TYPE_PING = "TYPE_PING"

# Notices about one FBS or rFBS posting: they go to the events queue.
POSTING_TYPES = frozenset({
    "TYPE_NEW_POSTING",
    "TYPE_POSTING_CANCELLED",
    "TYPE_STATE_CHANGED",
    "TYPE_CUTOFF_DATE_CHANGED",
    "TYPE_DELIVERY_DATE_CHANGED",
})

# Documented notices this service acknowledges without acting on them.
IGNORED_TYPES = frozenset({
    "TYPE_STOCKS_CHANGED",
    "TYPE_PRICE_INDEX_CHANGED",
    "TYPE_CREATE_OR_UPDATE_ITEM",
    "TYPE_CREATE_ITEM",
    "TYPE_UPDATE_ITEM",
    "TYPE_NEW_MESSAGE",
    "TYPE_UPDATE_MESSAGE",
    "TYPE_MESSAGE_READ",
    "TYPE_CHAT_CLOSED",
    "TYPE_FBO_POSTING_NEW",
    "TYPE_FBO_POSTING_CANCELLED",
    "TYPE_FBO_POSTING_STATE_CHANGED",
    "TYPE_FBO_POSTING_DELIVERY_DATE_CHANGED",
    "TYPE_FBO_STOCKS_CHANGED",
    "TYPE_ORDER_NEW",
    "TYPE_ORDER_CANCELLED",
    "TYPE_ORDER_STATE_CHANGED",
    "TYPE_DESCRIPTION_CATEGORY_TREE_CHANGED",
})

# Fields that tell two notices of one type and posting apart.
_DEDUPE_FIELDS = {
    "TYPE_NEW_POSTING": (),
    "TYPE_POSTING_CANCELLED": ("new_state", "changed_state_date"),
    "TYPE_STATE_CHANGED": ("new_state", "changed_state_date"),
    "TYPE_CUTOFF_DATE_CHANGED": ("new_cutoff_date",),
    "TYPE_DELIVERY_DATE_CHANGED": ("new_delivery_date_begin", "new_delivery_date_end"),
}


class NoticeError(ValueError):
    """A push notice lacks a field it needs; `code` is Ozon's error code for the reply."""

    def __init__(self, message: str, code: str = "ERROR_PARAMETER_VALUE_MISSED") -> None:
        super().__init__(message)
        self.code = code


def message_type(notice: dict[str, Any]) -> str:
    """Return the notice's `message_type`; raises NoticeError when it is missing."""
    value = notice.get("message_type")
    if not isinstance(value, str) or not value.strip():
        raise NoticeError("message_type is missing or not a string")
    return value.strip()


def posting_number(notice: dict[str, Any]) -> str:
    value = notice.get("posting_number")
    if not isinstance(value, str) or not value.strip():
        raise NoticeError(f"posting_number is missing in a {notice.get('message_type')} notice")
    return value.strip()


def dedupe_key(notice: dict[str, Any]) -> str:
    """Return the key that equal notices share: type, posting number, then state or date."""
    kind = message_type(notice)
    number = posting_number(notice)
    parts = [kind, number] + [str(notice.get(name) or "") for name in _DEDUPE_FIELDS.get(kind, ())]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    return f"{kind}#{number}#{digest}"


class FbsEventMessage(BaseModel):
    """A posting to re-read and act on. `action="pack"` is an operator's packing confirmation."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["fbs.event"] = "fbs.event"
    posting_number: str = Field(min_length=1)
    source: Literal["push", "poll", "operator", "recheck"]
    message_type: str = ""
    action: Literal["pack"] | None = None
    received_at: float


class LabelMessage(BaseModel):
    """A label to fetch; `task_id` is set once `/v3/posting/fbs/package-label/create` has returned it."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["fbs.label"] = "fbs.label"
    posting_number: str = Field(min_length=1)
    task_id: int | None = None
    polls: int = 0
