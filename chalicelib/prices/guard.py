"""The below-cost guard: a level more than the threshold below cost is never sent.

The threshold is a percentage of the SKU's purchase cost (3 by default). A level
equal to `cost * (1 - threshold / 100)` passes, and anything below it blocks the
whole SKU. An `old_price` of 0 means "no crossed-out price" and is not a level.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chalicelib.prices.formula import Levels
from chalicelib.prices.money import ZERO

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """The floor the levels were held to and the levels below it, by name."""

    floor: Decimal
    below: dict[str, Decimal]

    @property
    def blocked(self) -> bool:
        return bool(self.below)


def cost_floor(cost: Decimal, threshold_percent: Decimal) -> Decimal:
    """Return the lowest price allowed for `cost`: `cost` less `threshold_percent` of it."""
    return cost * (1 - threshold_percent / HUNDRED)


def check_levels(cost: Decimal, levels: Levels, threshold_percent: Decimal) -> GuardVerdict:
    """List the levels of `levels` below the floor of `cost`."""
    floor = cost_floor(cost, threshold_percent)
    below = {name: value for name, value in levels.as_dict().items()
             if not (name == "old_price" and value == ZERO) and value < floor}
    return GuardVerdict(floor, below)


def is_below_cost(selling_price: Decimal, cost: Decimal, threshold_percent: Decimal) -> bool:
    """Tell whether an effective selling price is more than the threshold below cost."""
    return selling_price < cost_floor(cost, threshold_percent)
