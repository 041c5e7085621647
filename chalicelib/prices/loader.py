"""Load the price matrix from the operator's CSV and a cost source into the store.

Costs come from a cost CSV or from one price type of a 1C offers package. Every SKU
with a problem is left out and reported with an issue naming it; the others are
written. A change of costs is followed by a planning run (the caller starts it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from chalicelib.onec.models import InputIssue
from chalicelib.prices.inputs import build_matrix, read_costs_csv, read_operator_csv
from chalicelib.prices.onec_prices import OfferKey, read_onec_costs
from chalicelib.prices.store import PriceStore


@dataclass
class LoadResult:
    rows_written: int
    issues: list[InputIssue]


def load_matrix(store: PriceStore, operator_csv: Path, *, costs_csv: Path | None = None,
                onec_file: Path | None = None, price_type_id: str | None = None,
                onec_key: OfferKey = "article") -> LoadResult:
    """Read the inputs, build matrix rows for the categories that have a rule, and store them."""
    if (costs_csv is None) == (onec_file is None):
        raise ValueError("pass exactly one cost source: a cost CSV or a 1C offers file")
    operator_rows, issues = read_operator_csv(operator_csv)
    costs = _costs(costs_csv, onec_file, price_type_id, onec_key, issues)
    categories = set(store.load().rules)
    build = build_matrix(operator_rows, costs, categories, source=operator_csv.name)
    store.put_inputs(build.rows)
    # A SKU whose cost was rejected has no cost in the join either: report it once.
    reported = {issue.offer for issue in issues}
    return LoadResult(len(build.rows), issues + [i for i in build.issues if i.offer not in reported])


def _costs(costs_csv: Path | None, onec_file: Path | None, price_type_id: str | None, onec_key: OfferKey,
           issues: list[InputIssue]) -> dict[str, Decimal]:
    if costs_csv is not None:
        costs, cost_issues = read_costs_csv(costs_csv)
        issues.extend(cost_issues)
        return costs
    if not price_type_id:
        raise ValueError("reading costs from 1C needs the price type id; set ONEC_PRICE_TYPE_ID")
    result = read_onec_costs(onec_file, price_type_id, key=onec_key)
    issues.extend(result.issues)
    return result.costs


def main(argv: list[str] | None = None) -> int:
    """Load new costs and fees, then plan a price run at once, so a change of costs is pushed."""
    import argparse

    from chalicelib.prices import wiring
    from chalicelib.prices.planner import plan_prices
    from chalicelib.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m chalicelib.prices.loader", description=main.__doc__)
    parser.add_argument("--operator", type=Path, required=True, help="the operator's CSV of categories, fees, VAT")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--costs", type=Path, help="a CSV of offer_id;cost")
    source.add_argument("--onec", type=Path, help="a 1C offers package; ONEC_PRICE_TYPE_ID names the price type")
    parser.add_argument("--no-plan", action="store_true", help="load only; the hourly schedule plans later")
    args = parser.parse_args(argv)

    result = load_matrix(wiring.store(), args.operator, costs_csv=args.costs, onec_file=args.onec,
                         price_type_id=get_settings().onec_price_type_id)
    print(f"{result.rows_written} SKUs loaded, {len(result.issues)} rejected")
    for issue in result.issues:
        print(f"  {issue}")
    if not args.no_plan:
        plan = plan_prices(wiring.planner_deps())
        print(f"price run {plan.run_id}: {plan.skus_changed} SKUs queued in {plan.requests_planned} requests, "
              f"{len(plan.blocked)} blocked by the guard")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
