"""Show how one SKU's three price levels are computed, step by step.

    python -m chalicelib.prices.explain PH-1001            # Russian (default)
    python -m chalicelib.prices.explain PH-1001 --lang en

Reads the SKU's matrix row, its category's newest rule and its price state from the
prices table named by the settings (TABLE_PRICES, AWS_ENDPOINT_URL, ...), and runs the
same steps as a planning run: the formula, Ozon's price rules, the guard.
Exit status: 0 when shown, 1 when the SKU cannot be priced, 2 when it is not in the matrix.
"""

from __future__ import annotations

import argparse
import sys

from chalicelib.prices.formula import Levels
from chalicelib.prices.pricing import PricingPolicy, SkuRejected, price_sku
from chalicelib.prices.store import PriceBook

LABELS = {
    "ru": {"sku": "Товар", "inputs": "Исходные данные", "rule": "Правило", "steps": "Расчёт",
           "fired": "Сработали правила Ozon", "none": "нет", "guard": "Проверка себестоимости",
           "floor": "нижняя граница", "blocked": "ЗАБЛОКИРОВАНО, не отправляется", "passed": "пройдена",
           "result": "Итог", "accepted": "Принято Ozon", "good": "Последние безопасные", "unknown": "нет данных",
           "rejected": "Не рассчитывается"},
    "en": {"sku": "SKU", "inputs": "Inputs", "rule": "Rule", "steps": "Steps", "fired": "Ozon rules fired",
           "none": "none", "guard": "Cost guard", "floor": "floor", "blocked": "BLOCKED, not sent",
           "passed": "passed", "result": "Result", "accepted": "Accepted by Ozon", "good": "Last good levels",
           "unknown": "unknown", "rejected": "Cannot be priced"},
}


def explain_sku(offer_id: str, book: PriceBook, policy: PricingPolicy, language: str = "ru") -> list[str]:
    """Return the lines that show how `offer_id`'s levels come about. Raises KeyError when unknown."""
    text = LABELS[language]
    inputs = book.matrix[offer_id]
    rule = book.rules.get(inputs.category)
    lines = [f"{text['sku']}: {offer_id}",
             f"{text['inputs']}: cost {inputs.cost}, logistics {inputs.logistics}, fee {inputs.fee_percent}%, "
             f"acquiring {inputs.acquiring_percent}%, VAT {inputs.vat}, {inputs.currency}, category {inputs.category}"]
    try:
        priced = price_sku(inputs, rule, policy)
    except SkuRejected as error:
        return lines + [f"{text['rejected']}: {error}"]

    computation = priced.computation
    lines.append(f"{text['rule']}: {computation.rule.label} (min {computation.rule.min_margin}%, "
                 f"price {computation.rule.price_margin}%, old {computation.rule.old_margin}%, "
                 f"rounding {computation.rule.rounding}) {computation.rule.note}".rstrip())
    lines.append(f"{text['steps']}:")
    lines += [f"  {number}. {step.name}: {step.detail} -> {step.value}"
              for number, step in enumerate(computation.steps, start=1)]
    lines.append(f"{text['fired']}: {', '.join(computation.rules_fired) or text['none']}")
    verdict = priced.verdict
    status = text["blocked"] + f" ({verdict.below})" if verdict.blocked else text["passed"]
    lines.append(f"{text['guard']}: {text['floor']} {verdict.floor:.2f} ({policy.threshold_percent}%) - {status}")
    lines.append(f"{text['result']}: {_levels(computation.levels)}")
    state = book.states.get(offer_id)
    lines.append(f"{text['accepted']}: {_levels(state.accepted) if state and state.accepted else text['unknown']}")
    lines.append(f"{text['good']}: {_levels(state.good) if state and state.good else text['unknown']}")
    return lines


def _levels(levels: Levels) -> str:
    return f"min_price {levels.min_price}, price {levels.price}, old_price {levels.old_price}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.prices.explain", description=__doc__.split("\n\n")[0])
    parser.add_argument("sku", help="the SKU (Ozon offer_id) to explain")
    parser.add_argument("--lang", choices=sorted(LABELS), default="ru", help="language of the output (default ru)")
    args = parser.parse_args(argv)

    from chalicelib.prices import wiring
    from chalicelib.prices.planner import policy_of
    from chalicelib.settings import get_settings

    book = wiring.store().load()
    try:
        lines = explain_sku(args.sku, book, policy_of(get_settings()), args.lang)
    except KeyError:
        print(f"SKU {args.sku} is not in the price matrix; load the operator CSV and costs first", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 1 if any(line.startswith(LABELS[args.lang]["rejected"]) for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
