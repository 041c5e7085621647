"""One SKU from matrix row to checked levels: formula, Ozon's rules, guard.

`price_sku` is what the planner and the operator's explain command both run, so the
explanation shows exactly the steps a run takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chalicelib.prices.formula import Computation, CostInputs, FormulaError, Levels, PricingRule, compute_levels
from chalicelib.prices.guard import GuardVerdict, check_levels
from chalicelib.prices.money import ZERO, format_price
from chalicelib.prices.ozon_rules import OZON_VAT_RATES, GapPolicy, apply_ozon_rules, format_vat


class SkuRejected(ValueError):
    """A SKU whose inputs cannot be priced; the message names the SKU and the value."""

    def __init__(self, offer_id: str, value: str | None, message: str) -> None:
        super().__init__(message)
        self.offer_id = offer_id
        self.value = value


@dataclass(frozen=True, slots=True)
class PricingPolicy:
    """What a run needs from the settings to price a SKU."""

    threshold_percent: Decimal
    gap_policy: GapPolicy
    account_currency: str


@dataclass
class PricedSku:
    computation: Computation
    verdict: GuardVerdict


def price_sku(inputs: CostInputs, rule: PricingRule | None, policy: PricingPolicy) -> PricedSku:
    """Compute and check one SKU's levels; raises SkuRejected for inputs that cannot be priced."""
    _check_inputs(inputs, rule, policy)
    try:
        computation = compute_levels(inputs, rule)
    except FormulaError as error:
        raise SkuRejected(inputs.offer_id, None, str(error)) from error
    apply_ozon_rules(computation, policy.gap_policy)
    return PricedSku(computation, check_levels(inputs.cost, computation.levels, policy.threshold_percent))


def to_item(offer_id: str, levels: Levels, inputs: CostInputs, *, rollback: bool = False) -> dict:
    """Build the queue item of `levels`: Ozon's strings; `min_price` always sent."""
    item = {"offer_id": offer_id, "min_price": format_price(levels.min_price), "price": format_price(levels.price),
            "old_price": format_price(levels.old_price), "vat": format_vat(inputs.vat),
            "currency_code": inputs.currency}
    if rollback:
        item["rollback"] = True
    return item


def _check_inputs(inputs: CostInputs, rule: PricingRule | None, policy: PricingPolicy) -> None:
    sku = inputs.offer_id
    if rule is None:
        raise SkuRejected(sku, inputs.category, f"SKU {sku}: unknown category {inputs.category!r}; "
                                                "add a pricing rule for it or fix the operator CSV")
    if not inputs.cost.is_finite() or inputs.cost <= ZERO:
        raise SkuRejected(sku, str(inputs.cost), f"SKU {sku}: invalid cost {inputs.cost}; it must be above zero")
    if inputs.cost != inputs.cost.quantize(Decimal("0.01")):
        raise SkuRejected(sku, str(inputs.cost), f"SKU {sku}: cost {inputs.cost} has more than two decimals")
    if inputs.currency != policy.account_currency:
        raise SkuRejected(sku, inputs.currency, f"SKU {sku}: currency {inputs.currency} differs from the Ozon "
                                                f"account's {policy.account_currency}; Ozon would reject it")
    if format_vat(inputs.vat) not in OZON_VAT_RATES:
        raise SkuRejected(sku, str(inputs.vat), f"SKU {sku}: VAT rate {inputs.vat} is not one Ozon takes")
