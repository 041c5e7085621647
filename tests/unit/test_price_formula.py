"""The price formula, Ozon's price rules, the guard and money parsing."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chalicelib.prices.formula import CostInputs, FormulaError, Levels, PricingRule, compute_levels, round_up
from chalicelib.prices.guard import check_levels, is_below_cost
from chalicelib.prices.money import MoneyError, format_price, parse_amount
from chalicelib.prices.ozon_rules import (
    RULE_DISCOUNT,
    RULE_GAP_AVERAGE,
    RULE_GAP_LOW,
    RULE_GAP_TOP,
    apply_ozon_rules,
    format_vat,
    gap_problem,
    required_gap,
)

RULE = PricingRule("household", 1, D("10"), D("30"), D("60"), "rouble")


def inputs(cost: str = "100", logistics: str = "0", fee: str = "0", acquiring: str = "0",
           vat: str = "0") -> CostInputs:
    return CostInputs("PH-1", D(cost), D(logistics), D(fee), D(acquiring), D(vat), "RUB", "household")


# ---------------------------------------------------------------- money


@pytest.mark.parametrize("text, expected", [("1499,90", D("1499.90")), ("1 499,90", D("1499.90")),
                                            ("0,5", D("0.5")), ("12", D("12"))])
def test_amount_decimal_comma(text, expected):
    # GIVEN a 1C amount WHEN parsed with a decimal comma THEN it is the exact Decimal
    assert parse_amount(text, sku="PH-1", field="cost", decimal_comma=True) == expected


@pytest.mark.parametrize("text, reason", [("NaN", "plain decimal"), ("inf", "plain decimal"),
                                          ("1e3", "plain decimal"), ("-5", "negative"), ("", "empty"),
                                          ("12.345", "two decimal"), ("  ", "empty")])
def test_amount_rejected(text, reason):
    # GIVEN a bad amount WHEN parsed THEN the error names the SKU, the value and the reason
    with pytest.raises(MoneyError) as raised:
        parse_amount(text, sku="PH-7", field="cost", decimal_comma=True)
    assert "PH-7" in str(raised.value)
    assert repr(text) in str(raised.value)
    assert reason in str(raised.value)


@pytest.mark.parametrize("amount, text", [(D("1448"), "1448"), (D("1448.00"), "1448"), (D("1499.9"), "1499.90"),
                                          (D("0"), "0"), (D("0.05"), "0.05")])
def test_format_price(amount, text):
    assert format_price(amount) == text


def test_format_price_rejects_three_decimals():
    with pytest.raises(ValueError, match="more than two decimals"):
        format_price(D("1.005"))


@pytest.mark.parametrize("vat, text", [(D("0"), "0"), (D("0.20"), "0.2"), (D("0.1"), "0.1"), (D("0.22"), "0.22")])
def test_format_vat(vat, text):
    assert format_vat(vat) == text


# ---------------------------------------------------------------- formula


@pytest.mark.parametrize("amount, rounding, expected", [
    (D("149.01"), "rouble", D("150.00")), (D("149.00"), "rouble", D("149.00")),
    (D("149.95"), "ending90", D("150.90")), (D("149.90"), "ending90", D("149.90")),
    (D("149.10"), "ending90", D("149.90")), (D("0.30"), "ending90", D("0.90")),
    (D("10.001"), "kopeck", D("10.01"))])
def test_round_up(amount, rounding, expected):
    assert round_up(amount, rounding) == expected


def test_levels_from_margins():
    # GIVEN cost 100, logistics 20, fee 15%, acquiring 1.5%, VAT 20% and margins 10/30/60
    computation = compute_levels(inputs("100", "20", "15", "1.5", "0.2"), RULE)

    # THEN each level is landed x (1 + margin) / (1 - 0.15 - 0.015 - 0.2/1.2), rounded up to roubles
    divisor = 1 - D("0.15") - D("0.015") - D("0.2") / D("1.2")
    assert computation.levels.min_price == round_up(D(120) * D("1.1") / divisor, "rouble")
    assert computation.levels.price == round_up(D(120) * D("1.3") / divisor, "rouble")
    assert computation.levels.old_price == round_up(D(120) * D("1.6") / divisor, "rouble")
    assert [step.name for step in computation.steps][:2] == ["landed cost", "share kept"]


def test_levels_are_decimal():
    computation = compute_levels(inputs("99.99", "0.01"), RULE)
    assert all(isinstance(value, D) for value in computation.levels.as_dict().values())


def test_no_old_price_margin():
    rule = PricingRule("household", 2, D("5"), D("20"), D("0"), "kopeck")
    assert compute_levels(inputs(), rule).levels.old_price == D(0)


def test_fees_eating_price_rejected():
    # GIVEN fees and VAT that leave under 5% of the price THEN the SKU cannot be priced
    with pytest.raises(FormulaError, match="PH-1"):
        compute_levels(inputs(fee="60", acquiring="30", vat="0.2"), RULE)


def test_rule_rejects_unknown_rounding():
    with pytest.raises(FormulaError, match="rounding"):
        PricingRule("x", 1, D(1), D(1), D(1), "pennies")


# ---------------------------------------------------------------- Ozon rules


@pytest.mark.parametrize("price, gap, rule", [(D("399.99"), D("20"), RULE_GAP_LOW),
                                              (D("400"), D("20.00"), RULE_GAP_AVERAGE),
                                              (D("10000"), D("500.00"), RULE_GAP_AVERAGE),
                                              (D("10000.01"), D("500"), RULE_GAP_TOP)])
def test_required_gap_bands(price, gap, rule):
    assert required_gap(price) == (gap, rule)


def rule_with(old_margin: str, rounding: str = "kopeck") -> PricingRule:
    return PricingRule("household", 1, D("0"), D("0"), D(old_margin), rounding)


@pytest.mark.parametrize("cost, old_margin, fired", [("300", "1", RULE_GAP_LOW), ("1000", "1", RULE_GAP_AVERAGE),
                                                     ("20000", "1", RULE_GAP_TOP)])
def test_gap_raised(cost, old_margin, fired):
    # GIVEN an old_price 1% above price, too close in every price band
    computation = compute_levels(inputs(cost), rule_with(old_margin))

    # WHEN Ozon's rules are applied with the raise policy
    apply_ozon_rules(computation, "raise")

    # THEN old_price is raised to the band's minimum gap and the band's rule is named
    levels = computation.levels
    assert computation.rules_fired == [fired]
    assert levels.old_price - levels.price == required_gap(levels.price)[0]
    assert gap_problem(levels) is None


def test_gap_cleared():
    computation = compute_levels(inputs("1000"), rule_with("1"))
    apply_ozon_rules(computation, "clear")
    assert computation.levels.old_price == D(0)
    assert computation.rules_fired == [RULE_GAP_AVERAGE]


def test_discount_capped_below_90():
    # GIVEN an old_price 20 times the price (a 95% discount)
    computation = compute_levels(inputs("1000"), rule_with("1900"))

    apply_ozon_rules(computation, "raise")

    # THEN old_price is lowered under 10 x price, and Ozon's rules hold
    assert RULE_DISCOUNT in computation.rules_fired
    assert computation.levels.old_price < computation.levels.price * 10
    assert gap_problem(computation.levels) is None


def test_discount_cleared():
    computation = compute_levels(inputs("1000"), rule_with("1900"))
    apply_ozon_rules(computation, "clear")
    assert computation.levels.old_price == D(0)


def test_tiny_price_old_cleared():
    # GIVEN a price of 1 RUB: no old_price meets both the 20 RUB gap and the 90% rule
    computation = compute_levels(inputs("1"), rule_with("0.5"))
    apply_ozon_rules(computation, "raise")
    assert computation.levels.old_price == D(0)


# ---------------------------------------------------------------- guard


def test_guard_floor_inclusive():
    # GIVEN cost 100 and a 3% threshold, the floor is 97
    at_floor = Levels(D("97"), D("97"), D("0"))
    below = Levels(D("96.99"), D("120"), D("0"))

    assert not check_levels(D(100), at_floor, D(3)).blocked
    assert check_levels(D(100), below, D(3)).below == {"min_price": D("96.99")}


def test_guard_ignores_cleared_old_price():
    assert not check_levels(D(100), Levels(D(100), D(100), D(0)), D(3)).blocked


def test_selling_price_below_cost():
    assert is_below_cost(D("96.99"), D(100), D(3))
    assert not is_below_cost(D("97"), D(100), D(3))
