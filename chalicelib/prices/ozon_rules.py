"""Ozon's price rules, applied to computed levels before anything is sent.

The rules come from the Ozon Seller API docs for `/v1/product/import/prices`
(OpenAPI export of April 2026). When `old_price` is above 0, it must exceed `price` by
at least 20 RUB for a price below 400, by 5% of the price from 400 to 10,000, and by
500 RUB above 10,000. The discount must stay below 90%. Prices are strings with a dot
and at most two decimals, `currency_code` must equal the account's currency, and
`vat` takes only the listed rates. A failing gap is fixed by raising `old_price` or by clearing it with
"0", as configured, and every fix is reported by the name of the rule that fired.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Literal

from chalicelib.prices.formula import Computation, Levels, Rounding, Step, round_up
from chalicelib.prices.money import ZERO

GapPolicy = Literal["raise", "clear"]

LOW_PRICE_LIMIT = Decimal(400)
TOP_PRICE_LIMIT = Decimal(10_000)
LOW_PRICE_GAP = Decimal(20)
AVERAGE_PRICE_GAP_SHARE = Decimal("0.05")
TOP_PRICE_GAP = Decimal(500)
# The discount (old_price - price) / old_price must stay below 90%, so old_price < 10 x price.
MAX_OLD_TO_PRICE = Decimal(10)

# `vat` values of the Ozon Seller API docs (OpenAPI export of April 2026).
OZON_VAT_RATES = frozenset({"0", "0.05", "0.07", "0.1", "0.2", "0.22"})
OZON_CURRENCIES = frozenset({"RUB", "BYN", "KZT", "EUR", "USD", "CNY"})

RULE_GAP_LOW = "old_price_gap_below_400"
RULE_GAP_AVERAGE = "old_price_gap_400_to_10000"
RULE_GAP_TOP = "old_price_gap_above_10000"
RULE_DISCOUNT = "discount_below_90_percent"
RULE_MIN_ABOVE_PRICE = "min_price_not_above_price"


def required_gap(price: Decimal) -> tuple[Decimal, str]:
    """Return the minimum `old_price - price` for `price`, and the rule's name."""
    if price < LOW_PRICE_LIMIT:
        return LOW_PRICE_GAP, RULE_GAP_LOW
    if price <= TOP_PRICE_LIMIT:
        return (price * AVERAGE_PRICE_GAP_SHARE).quantize(Decimal("0.01")), RULE_GAP_AVERAGE
    return TOP_PRICE_GAP, RULE_GAP_TOP


def apply_ozon_rules(computation: Computation, policy: GapPolicy) -> Computation:
    """Fix the levels so Ozon accepts them; the names of the rules that fired are added."""
    levels = computation.levels
    rounding = computation.rule.rounding
    levels = _keep_min_below_price(levels, computation)
    levels = _fix_gap(levels, policy, rounding, computation)
    levels = _fix_discount(levels, policy, computation)
    computation.levels = levels
    return computation


def format_vat(vat: Decimal) -> str:
    """Write a VAT rate the way Ozon lists it: "0", "0.1", "0.2", "0.22"."""
    text = f"{vat.normalize():f}"
    return "0" if text in ("0", "0.0") else text


def _keep_min_below_price(levels: Levels, computation: Computation) -> Levels:
    if levels.min_price <= levels.price:
        return levels
    computation.rules_fired.append(RULE_MIN_ABOVE_PRICE)
    computation.steps.append(Step("min_price", f"lowered to price: {RULE_MIN_ABOVE_PRICE}", levels.price))
    return replace(levels, min_price=levels.price)


def _fix_gap(levels: Levels, policy: GapPolicy, rounding: Rounding, computation: Computation) -> Levels:
    if levels.old_price <= ZERO:
        return levels
    gap, rule = required_gap(levels.price)
    if levels.old_price - levels.price >= gap:
        return levels

    computation.rules_fired.append(rule)
    if policy == "clear":
        computation.steps.append(Step("old_price", f"cleared to 0: gap below {gap} ({rule})", ZERO))
        return replace(levels, old_price=ZERO)
    raised = round_up(levels.price + gap, rounding)
    computation.steps.append(Step("old_price", f"raised to price + {gap} ({rule})", raised))
    return replace(levels, old_price=raised)


def _fix_discount(levels: Levels, policy: GapPolicy, computation: Computation) -> Levels:
    if levels.old_price <= ZERO or levels.old_price < levels.price * MAX_OLD_TO_PRICE:
        return levels
    computation.rules_fired.append(RULE_DISCOUNT)
    if policy == "clear":
        computation.steps.append(Step("old_price", f"cleared to 0: discount of 90% or more ({RULE_DISCOUNT})", ZERO))
        return replace(levels, old_price=ZERO)
    capped = levels.price * MAX_OLD_TO_PRICE - Decimal("0.01")
    if capped - levels.price < required_gap(levels.price)[0]:
        # Below about 2.50 RUB no old_price meets both the gap and the discount rule.
        computation.steps.append(Step("old_price", f"cleared to 0: no value meets gap and discount ({RULE_DISCOUNT})",
                                      ZERO))
        return replace(levels, old_price=ZERO)
    computation.steps.append(Step("old_price", f"lowered below 10 x price ({RULE_DISCOUNT})", capped))
    return replace(levels, old_price=capped)


def gap_problem(levels: Levels) -> str | None:
    """Return the name of the Ozon rule `levels` break, or None (used by tests and the sandbox)."""
    if levels.old_price <= ZERO:
        return None
    gap, rule = required_gap(levels.price)
    if levels.old_price - levels.price < gap:
        return rule
    if levels.old_price >= levels.price * MAX_OLD_TO_PRICE:
        return RULE_DISCOUNT
    return None
