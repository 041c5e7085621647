"""Apply a change of costs or fees to the stored price matrix, one input at a time.

A cost input (a cost CSV or one 1C price type) changes the cost of SKUs that already
have a matrix row: the row's fees, logistics leg and category stay. An operator CSV
changes fees, logistics, category, VAT and currency, and keeps each SKU's stored cost.
A SKU the input cannot apply to is reported with an issue naming it and skipped. Only
rows that differ from the stored ones are written, so loading the same input twice
writes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Iterable, Mapping

from chalicelib.onec.models import InputIssue
from chalicelib.prices.formula import CostInputs
from chalicelib.prices.inputs import OperatorRow, build_matrix
from chalicelib.prices.store import PriceStore


@dataclass
class MatrixUpdate:
    """The outcome of applying one input: rows written, rows already equal, SKUs skipped."""

    source: str
    rows_changed: int = 0
    rows_unchanged: int = 0
    issues: list[InputIssue] = field(default_factory=list)


def apply_costs(store: PriceStore, costs: Mapping[str, Decimal], *, source: str,
                currencies: Mapping[str, str] | None = None,
                issues: Iterable[InputIssue] = ()) -> MatrixUpdate:
    """Set the cost of every SKU of `costs` that has a matrix row, and write the changed rows.

    `currencies` gives the currency of each cost (1C prices carry one). A cost in
    another currency than the SKU's matrix row is skipped, because the formula adds it
    to the logistics leg as is. `issues` are problems the reader already found.
    """
    update = MatrixUpdate(source, issues=list(issues))
    matrix = store.read_inputs().matrix
    changed: list[CostInputs] = []
    for offer_id, cost in costs.items():
        stored = matrix.get(offer_id)
        if stored is None:
            update.issues.append(InputIssue(source, offer_id, str(cost),
                                            f"no operator row for SKU {offer_id}; add it to the operator CSV"))
            continue
        currency = (currencies or {}).get(offer_id, stored.currency)
        if currency != stored.currency:
            update.issues.append(InputIssue(
                source, offer_id, f"{cost} {currency}",
                f"SKU {offer_id}: the cost is in {currency} but the operator CSV prices it in "
                f"{stored.currency}; set the currency in the operator CSV or the 1C price type"))
            continue
        if stored.cost == cost:
            update.rows_unchanged += 1
            continue
        changed.append(replace(stored, cost=cost))
    store.put_inputs(changed)
    update.rows_changed = len(changed)
    return update


def apply_operator_rows(store: PriceStore, rows: Iterable[OperatorRow], *, source: str,
                        issues: Iterable[InputIssue] = ()) -> MatrixUpdate:
    """Set fees, logistics, category, VAT and currency of each SKU with a stored cost.

    A SKU without a cost yet, or of a category that has no pricing rule, is skipped
    with an issue. `issues` are problems the reader already found.
    """
    update = MatrixUpdate(source, issues=list(issues))
    stored = store.read_inputs()
    costs = {offer_id: row.cost for offer_id, row in stored.matrix.items()}
    build = build_matrix(rows, costs, stored.categories, source=source)
    update.issues.extend(build.issues)

    changed = [row for row in build.rows if stored.matrix.get(row.offer_id) != row]
    store.put_inputs(changed)
    update.rows_changed = len(changed)
    update.rows_unchanged = len(build.rows) - len(changed)
    return update
