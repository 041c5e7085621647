"""Turns one HTTP request into a reply: auth, rate limits, faults, then the method.

Kept apart from the socket code so that the order of checks reads in one place:
unknown path (404), credentials (401/403), 50 requests/s and 80 stock requests/min
(429), injected faults, body validation (400), and finally the method itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from local.sandbox.control import CONTROL_PREFIX, run_control
from local.sandbox.errors import ApiError, error_body
from local.sandbox.faults import FaultKind, RequestFault
from local.sandbox.methods import OZON_METHODS, STOCK_WRITE_PATH, OzonMethod
from local.sandbox.state import Sandbox

logger = logging.getLogger("local.sandbox")


@dataclass
class Reply:
    """An HTTP reply, sent after `delay_seconds` of real time."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


def handle_request(
    sandbox: Sandbox,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> Reply:
    """Build the reply to one request. `headers` must be looked up case-insensitively."""
    if path.startswith(CONTROL_PREFIX):
        return _handle_control(sandbox, method, path, query, body)

    reply = _handle_ozon(sandbox, method, path, headers, body)
    sandbox.record_status(reply.status)
    return reply


def _handle_ozon(
    sandbox: Sandbox, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> Reply:
    sandbox.record_request(path)
    try:
        ozon_method = _route(method, path)
        auth_error = sandbox.check_credentials(headers.get("Client-Id"), headers.get("Api-Key"))
        if auth_error is not None:
            raise auth_error
        rate_headers = sandbox.admit(path, stock_write=path == STOCK_WRITE_PATH)

        fault = sandbox.draw_request_fault(write=ozon_method.write)
        if fault is not None and _fails_request(fault, ozon_method):
            return _fault_reply(sandbox, fault)

        payload = ozon_method.handler(sandbox, _parse_json(body))
        delay = fault.delay_seconds if fault is not None else 0.0
        return Reply(200, payload, rate_headers, delay_seconds=delay)
    except ApiError as error:
        # Credentials are never part of an ApiError message, so this line is safe to log.
        logger.debug("replied HTTP %s to %s: %s", error.status, path, error.message)
        return _error_reply(sandbox, error)


def _route(method: str, path: str) -> OzonMethod:
    ozon_method = OZON_METHODS.get(path)
    if ozon_method is None or method != "POST":
        raise ApiError(404, f"method {method} {path} not found")
    return ozon_method


def _fails_request(fault: RequestFault, ozon_method: OzonMethod) -> bool:
    """Tell whether the fault replaces the reply, as opposed to only delaying it."""
    if fault.kind in (FaultKind.HTTP_429, FaultKind.HTTP_5XX):
        return True
    # A stalled read has nothing to apply, so it replies normally after the delay.
    return fault.kind is FaultKind.TIMEOUT and ozon_method.write and not fault.applies


def _fault_reply(sandbox: Sandbox, fault: RequestFault) -> Reply:
    messages = {
        FaultKind.HTTP_429: "You have reached request rate limit per second",
        FaultKind.HTTP_5XX: "Internal error",
        FaultKind.TIMEOUT: "upstream request timeout",
    }
    error = ApiError(fault.status, messages[fault.kind], retry_after=fault.retry_after)
    reply = _error_reply(sandbox, error)
    reply.delay_seconds = fault.delay_seconds
    return reply


def _error_reply(sandbox: Sandbox, error: ApiError) -> Reply:
    style, sequence = sandbox.next_error_style()
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return Reply(error.status, error_body(error.status, error.message, style, sequence), headers)


def _parse_json(body: bytes) -> dict:
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError(400, f"request body is not valid JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise ApiError(400, "request body must be a JSON object")
    return parsed


def _handle_control(
    sandbox: Sandbox, method: str, path: str, query: Mapping[str, str], body: bytes
) -> Reply:
    try:
        return Reply(200, run_control(sandbox, method, path, _parse_json(body), dict(query)))
    except ApiError as error:
        return Reply(error.status, error_body(error.status, error.message, "string", 1))
