"""The one Logger and Metrics of the service, and the guard that keeps secrets out of logs.

Nothing here logs events or headers. As a second line of defence, `register_secret`
adds a value (the Ozon Api-Key, the Client-Id) to a filter that masks it in every
formatted log line, whatever code produced the line.
"""

from __future__ import annotations

import logging
import threading

from aws_lambda_powertools import Logger, Metrics

SERVICE = "ozon-seller-ops"
MASK = "***"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="OzonSellerOps", service=SERVICE)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Mask `value` in every log line from now on. Values shorter than 4 characters are
    ignored, because masking them would garble ordinary text."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def mask_secrets(text: str) -> str:
    """Replace every registered secret in `text` with `***`."""
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class _SecretMaskingFormatter(logging.Formatter):
    """Wraps a handler's formatter and masks registered secrets in its output."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(self._inner.format(record))

    def __getattr__(self, name: str):
        # Powertools calls helpers such as append_keys on its formatter.
        return getattr(self._inner, name)


def _install_masking(target: logging.Logger) -> None:
    for handler in target.handlers:
        formatter = handler.formatter or logging.Formatter()
        if not isinstance(formatter, _SecretMaskingFormatter):
            handler.setFormatter(_SecretMaskingFormatter(formatter))


_install_masking(logger._logger)
_install_masking(logging.getLogger())
