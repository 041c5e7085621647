"""Money as `Decimal`: strict parsing of input amounts and Ozon's price strings.

Amounts never pass through float. Input is rejected when it is not a plain decimal
number: `NaN`, `inf`, exponents such as `1e3`, negative values, empty text and more
than two fraction digits all raise `MoneyError`, whose message names the SKU, the
field and the value.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")

# Digits, optionally one dot and at most two fraction digits. No sign, no exponent.
_PLAIN_AMOUNT = re.compile(r"\d+(?:\.\d{1,2})?")
_ANY_DECIMAL = re.compile(r"\d+(?:\.\d+)?")


class MoneyError(ValueError):
    """An amount that cannot be used; `sku`, `field` and `value` name it."""

    def __init__(self, sku: str, field: str, value: object, reason: str) -> None:
        super().__init__(f"SKU {sku}: invalid {field} {value!r}: {reason}")
        self.sku = sku
        self.field = field
        self.value = value
        self.reason = reason


def parse_amount(text: object, *, sku: str, field: str, decimal_comma: bool = False,
                 allow_zero: bool = True) -> Decimal:
    """Parse a non-negative amount with at most two fraction digits.

    With `decimal_comma`, a comma is read as the decimal separator (1C writes
    `1499,90`) and spaces between digit groups are dropped (`1 499,90`).
    """
    if text is None:
        raise MoneyError(sku, field, text, "the value is missing")
    raw = str(text).strip()
    if decimal_comma:
        raw = raw.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not raw:
        raise MoneyError(sku, field, text, "the value is empty")
    if raw.startswith("-"):
        raise MoneyError(sku, field, text, "the amount is negative")
    if _PLAIN_AMOUNT.fullmatch(raw) is None:
        if _ANY_DECIMAL.fullmatch(raw) is not None:
            raise MoneyError(sku, field, text, "more than two decimal places; round it to kopecks")
        raise MoneyError(sku, field, text, "not a plain decimal number such as 1499.90")

    amount = Decimal(raw)
    if not allow_zero and amount == ZERO:
        raise MoneyError(sku, field, text, "the amount must be above zero")
    return amount


def parse_percent(text: object, *, sku: str, field: str) -> Decimal:
    """Parse a percentage 0 to 100 with at most two fraction digits (comma allowed)."""
    value = parse_amount(text, sku=sku, field=field, decimal_comma=True)
    if value >= 100:
        raise MoneyError(sku, field, text, "a percentage must be below 100")
    return value


def ceil_cents(amount: Decimal) -> Decimal:
    """Round up to whole kopecks, so a computed level never drops below its target."""
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def format_price(amount: Decimal) -> str:
    """Format an amount as Ozon takes it: a dot, at most two decimals, no exponent.

    Whole amounts are written without decimals (`"1448"`), others with two (`"1499.90"`).
    Raises ValueError for negative amounts and amounts with more than two decimals.
    """
    if amount < ZERO:
        raise ValueError(f"price {amount} is negative; Ozon takes prices of 0 and above")
    if amount != amount.quantize(CENT):
        raise ValueError(f"price {amount} has more than two decimals; round it before sending")
    if amount == amount.to_integral_value():
        return f"{amount.quantize(Decimal(1)):f}"
    return f"{amount.quantize(CENT):f}"


def to_decimal(number: float | int | str) -> Decimal:
    """Convert a number Ozon returned as JSON into a Decimal of kopecks.

    `/v5/product/info/prices` returns numbers; `str()` of a float gives its shortest
    repr, so 499.9 becomes Decimal("499.90") and not a binary fraction.
    """
    return Decimal(str(number)).quantize(CENT)
