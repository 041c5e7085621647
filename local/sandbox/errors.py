"""Ozon error bodies (`rpcStatus`) and the exception that carries them.

Ozon documents the error body as `{"code": <int32>, "message", "details": []}`, yet its
own 429 example carries a string code (`"RESOURCE_EXHAUSTED"`). The sandbox can send
either form, or alternate between them, so that clients learn to parse both.
"""

from __future__ import annotations

from typing import Literal

ErrorCodeStyle = Literal["int", "string", "mixed"]

# HTTP status -> (gRPC status number, gRPC status name), as the Ozon gateway maps them.
_GRPC_STATUS: dict[int, tuple[int, str]] = {
    400: (3, "INVALID_ARGUMENT"),
    401: (16, "UNAUTHENTICATED"),
    403: (7, "PERMISSION_DENIED"),
    404: (5, "NOT_FOUND"),
    405: (12, "UNIMPLEMENTED"),
    413: (3, "INVALID_ARGUMENT"),
    429: (8, "RESOURCE_EXHAUSTED"),
    500: (13, "INTERNAL"),
    502: (14, "UNAVAILABLE"),
    503: (14, "UNAVAILABLE"),
    504: (4, "DEADLINE_EXCEEDED"),
}


class ApiError(Exception):
    """A request-level failure, returned as an HTTP error status with an error body.

    `retry_after` is in virtual seconds and becomes the `Retry-After` header.
    """

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def error_code(status: int, style: ErrorCodeStyle, sequence: int) -> int | str:
    """Return the `code` for an HTTP status: an int, a string, or each in turn.

    With style "mixed" even `sequence` numbers get the int and odd ones the string, so a
    run of errors shows both forms.
    """
    number, name = _GRPC_STATUS.get(status, (2, "UNKNOWN"))
    if style == "int" or (style == "mixed" and sequence % 2 == 0):
        return number
    return name


def error_body(status: int, message: str, style: ErrorCodeStyle, sequence: int) -> dict:
    """Build the Ozon error body for an HTTP error status."""
    return {"code": error_code(status, style, sequence), "message": message, "details": []}
