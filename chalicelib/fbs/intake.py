"""Intake of Ozon push notifications: check the sender, dedupe, queue, acknowledge.

Replies follow Ozon's contract (Ozon Seller API docs, push notifications): `TYPE_PING`
gets HTTP 200 `{"version", "name", "time"}`, every other type HTTP 200 `{"result": true}`,
and a failure 4xx/5xx `{"error": {"code", "message", "details"}}`. A duplicate is answered
200, because Ozon suspends a URL when fewer than half of its replies are 200.

A posting notice is on the events queue before the 200 goes out. The dedupe claim is
written first and deleted again when the queue rejects the message, so Ozon's retry of
that notice is not mistaken for a duplicate.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.clock import Clock
from chalicelib.fbs.messages import (
    IGNORED_TYPES,
    POSTING_TYPES,
    TYPE_PING,
    FbsEventMessage,
    NoticeError,
    dedupe_key,
    message_type,
    posting_number,
)
from chalicelib.fbs.store import ClaimTaken, FbsStore
from chalicelib.observability import logger, metrics
from chalicelib.storage.errors import StorageError
from chalicelib.storage.queues import MessageQueue, OutgoingMessage

APP_NAME = "ozon-seller-ops"
APP_VERSION = "1.0"
DEDUPE_SK = "dedupe"

# Ozon's error codes for push replies.
ERROR_UNKNOWN = "ERROR_UNKNOWN"
ERROR_PARAMETER_VALUE_MISSED = "ERROR_PARAMETER_VALUE_MISSED"


@dataclass(frozen=True)
class PushReply:
    """An HTTP reply to Ozon: status code and JSON body."""

    status: int
    body: dict[str, Any]


def error_reply(status: int, code: str, message: str) -> PushReply:
    return PushReply(status, {"error": {"code": code, "message": message, "details": None}})


def parse_networks(cidrs: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Parse the allowed sender ranges; raises ValueError naming an invalid one."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as error:
            raise ValueError(f"invalid push sender range {cidr!r} in OZON_PUSH_CIDRS: {error}") from error
    return networks


class PushIntake:
    """Handles push notices. `token` returns our secret path token (None when unset)."""

    def __init__(self, *, token: Callable[[], str | None], networks: Sequence, store: FbsStore,
                 queue: MessageQueue, clock: Clock) -> None:
        self._token = token
        self._networks = list(networks)
        self._store = store
        self._queue = queue
        self._clock = clock

    def handle(self, path_token: str, source_ip: str | None, raw_body: bytes | str | None) -> PushReply:
        """Check the sender and the token, then reply to the notice in `raw_body`."""
        if not self._allowed(source_ip):
            logger.warning("push from outside the allowed ranges rejected", extra={"source_ip": source_ip})
            metrics.add_metric(name="PushForbidden", unit=MetricUnit.Count, value=1)
            return error_reply(403, ERROR_UNKNOWN, "sender address is not allowed")
        if not self._token_matches(path_token):
            logger.warning("push with a wrong path token rejected", extra={"source_ip": source_ip})
            return error_reply(404, ERROR_UNKNOWN, "not found")

        try:
            notice = _parse(raw_body)
            return self._answer(notice)
        except NoticeError as error:
            logger.warning("invalid push notice rejected", extra={"error": str(error), "source_ip": source_ip})
            metrics.add_metric(name="PushInvalid", unit=MetricUnit.Count, value=1)
            return error_reply(400, error.code, str(error))
        except StorageError as error:
            logger.error("push notice not queued", extra={"error": str(error)})
            return error_reply(500, ERROR_UNKNOWN, "notice not stored, send it again")

    def _answer(self, notice: dict[str, Any]) -> PushReply:
        kind = message_type(notice)
        if kind == TYPE_PING:
            started = datetime.fromtimestamp(self._clock.now(), timezone.utc)
            return PushReply(200, {"version": APP_VERSION, "name": APP_NAME,
                                   "time": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
        if kind in POSTING_TYPES:
            self._queue_posting(kind, notice)
        elif kind in IGNORED_TYPES:
            metrics.add_metric(name="PushIgnored", unit=MetricUnit.Count, value=1)
        else:
            logger.info("push of an unknown type acknowledged", extra={"message_type": kind[:80]})
            metrics.add_metric(name="PushUnknownType", unit=MetricUnit.Count, value=1)
        return PushReply(200, {"result": True})

    def _queue_posting(self, kind: str, notice: dict[str, Any]) -> None:
        number = posting_number(notice)
        key = f"dedupe#{dedupe_key(notice)}"
        try:
            self._store.claim(key, DEDUPE_SK, posting_number=number)
        except ClaimTaken:
            metrics.add_metric(name="PushDuplicate", unit=MetricUnit.Count, value=1)
            return

        message = FbsEventMessage(posting_number=number, source="push", message_type=kind,
                                  received_at=self._clock.now())
        try:
            self._queue.send([OutgoingMessage(message.model_dump())])
        except StorageError:
            self._store.release(key, DEDUPE_SK)
            raise
        metrics.add_metric(name="PushQueued", unit=MetricUnit.Count, value=1)

    def _allowed(self, source_ip: str | None) -> bool:
        if not source_ip:
            return False
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def _token_matches(self, path_token: str) -> bool:
        expected = self._token()
        if not expected:
            logger.error("push token is not configured; set OZON_PUSH_TOKEN_SECRET_NAME or OZON_PUSH_TOKEN")
            return False
        return hmac.compare_digest(path_token.encode(), expected.encode())


def _parse(raw_body: bytes | str | None) -> dict[str, Any]:
    if raw_body is None or not raw_body.strip():
        raise NoticeError("request body is empty", ERROR_PARAMETER_VALUE_MISSED)
    try:
        notice = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NoticeError(f"request body is not valid JSON: {error}", ERROR_UNKNOWN) from error
    if not isinstance(notice, dict):
        raise NoticeError("request body must be a JSON object", ERROR_UNKNOWN)
    return notice
