"""Errors raised while reading 1C exports.

Messages of `RejectedFileError` are shown to the seller's staff, so they are in
Russian and name the fix to make in 1C.
"""

from __future__ import annotations


class OneCInputError(Exception):
    """Base class for problems in a 1C export."""


class RejectedFileError(OneCInputError):
    """A whole file of the exchange cannot be used; no offer of it is produced."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class QuantityError(OneCInputError):
    """A quantity that is not a whole number of units."""

    def __init__(self, value: str, *, fractional: bool) -> None:
        kind = "fractional" if fractional else "non-numeric"
        super().__init__(f"{kind} quantity {value!r}")
        self.value = value
        self.fractional = fractional
