"""The price formula: three levels per SKU from its cost inputs and its category's rule.

    landed   = cost + logistics leg
    divisor  = 1 - category fee % - acquiring % - VAT share of a gross price (vat / (1 + vat))
    level(m) = landed * (1 + m / 100) / divisor, rounded up as the rule sets

`m` is the rule's margin for the level: `min_margin` for `min_price`, `price_margin`
for `price`, `old_margin` for `old_price` (0 means no crossed-out price). Every step is
recorded, so an operator can see how a level came about (`chalicelib.prices.explain`).
Rounding is always upwards, so a rounded level is never below its computed target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from chalicelib.prices.money import CENT, ZERO, ceil_cents

Rounding = Literal["kopeck", "rouble", "ending90"]
ROUNDINGS: tuple[str, ...] = ("kopeck", "rouble", "ending90")
LEVEL_NAMES = ("min_price", "price", "old_price")

HUNDRED = Decimal(100)
ONE = Decimal(1)
NINETY_KOPECKS = Decimal("0.90")
# Below this share of the gross price left after fees and VAT, the formula's result is
# far above any sane price, so such inputs are rejected instead of priced.
MIN_DIVISOR = Decimal("0.05")


class FormulaError(ValueError):
    """The inputs or the rule of one SKU cannot produce prices; the message gives the reason."""


@dataclass(frozen=True, slots=True)
class PricingRule:
    """One version of a category's pricing rule. Margins are percent over landed cost."""

    category: str
    version: int
    min_margin: Decimal
    price_margin: Decimal
    old_margin: Decimal
    rounding: Rounding = "rouble"
    note: str = ""

    def __post_init__(self) -> None:
        if self.rounding not in ROUNDINGS:
            raise FormulaError(f"rule {self.category} v{self.version}: unknown rounding {self.rounding!r}; "
                               f"use one of {', '.join(ROUNDINGS)}")
        for name in ("min_margin", "price_margin", "old_margin"):
            if getattr(self, name) <= -HUNDRED:
                raise FormulaError(f"rule {self.category} v{self.version}: {name} must be above -100%")

    @property
    def label(self) -> str:
        return f"{self.category} v{self.version}"


@dataclass(frozen=True, slots=True)
class CostInputs:
    """One SKU's row of the price matrix. Percentages are 0-100; `vat` is a rate such as 0.2."""

    offer_id: str
    cost: Decimal
    logistics: Decimal
    fee_percent: Decimal
    acquiring_percent: Decimal
    vat: Decimal
    currency: str
    category: str


@dataclass(frozen=True, slots=True)
class Levels:
    """The three prices Ozon takes; `old_price` 0 means no crossed-out price."""

    min_price: Decimal
    price: Decimal
    old_price: Decimal

    def as_dict(self) -> dict[str, Decimal]:
        return {"min_price": self.min_price, "price": self.price, "old_price": self.old_price}


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a computation: what was done and the resulting amount."""

    name: str
    detail: str
    value: Decimal


@dataclass
class Computation:
    """The levels of one SKU and the steps and price rules that produced them."""

    offer_id: str
    rule: PricingRule
    levels: Levels
    steps: list[Step] = field(default_factory=list)
    rules_fired: list[str] = field(default_factory=list)


def round_up(amount: Decimal, rounding: Rounding) -> Decimal:
    """Round up to whole kopecks, whole roubles, or the next amount ending in .90."""
    if rounding == "kopeck":
        return ceil_cents(amount)
    if rounding == "rouble":
        return amount.to_integral_value(rounding=ROUND_CEILING).quantize(CENT)
    whole = (amount - NINETY_KOPECKS).to_integral_value(rounding=ROUND_CEILING)
    return max(whole, ZERO) + NINETY_KOPECKS


def compute_levels(inputs: CostInputs, rule: PricingRule) -> Computation:
    """Compute `min_price`, `price` and `old_price` before Ozon's rules are applied."""
    steps: list[Step] = []
    landed = inputs.cost + inputs.logistics
    steps.append(Step("landed cost", f"cost {inputs.cost} + logistics {inputs.logistics}", landed))

    divisor = _divisor(inputs, steps)
    min_price = _level(landed, divisor, rule.min_margin, rule.rounding, "min_price", steps)
    price = _level(landed, divisor, rule.price_margin, rule.rounding, "price", steps)
    if price < min_price:
        price = min_price
        steps.append(Step("price", "raised to min_price: the rule's price margin is below its min margin", price))

    old_price = ZERO
    if rule.old_margin > ZERO:
        old_price = _level(landed, divisor, rule.old_margin, rule.rounding, "old_price", steps)
    else:
        steps.append(Step("old_price", "the rule sets no crossed-out price", ZERO))
    return Computation(inputs.offer_id, rule, Levels(min_price, price, old_price), steps)


def _divisor(inputs: CostInputs, steps: list[Step]) -> Decimal:
    vat_share = inputs.vat / (ONE + inputs.vat)
    divisor = ONE - inputs.fee_percent / HUNDRED - inputs.acquiring_percent / HUNDRED - vat_share
    steps.append(Step(
        "share kept",
        f"1 - fee {inputs.fee_percent}% - acquiring {inputs.acquiring_percent}% "
        f"- VAT share {inputs.vat}/(1+{inputs.vat})",
        divisor.quantize(Decimal("0.000001"))))
    if divisor < MIN_DIVISOR:
        raise FormulaError(
            f"SKU {inputs.offer_id}: fees, acquiring and VAT leave {divisor:.4f} of the price; "
            f"check fee {inputs.fee_percent}% and acquiring {inputs.acquiring_percent}% in the operator CSV")
    return divisor


def _level(landed: Decimal, divisor: Decimal, margin: Decimal, rounding: Rounding, name: str,
           steps: list[Step]) -> Decimal:
    target = landed * (ONE + margin / HUNDRED) / divisor
    rounded = round_up(target, rounding)
    steps.append(Step(name, f"landed x (1 + {margin}%) / share kept = {target:.4f}, rounded up ({rounding})",
                      rounded))
    return rounded
