"""Cost inputs from files: the cost CSV, the operator's CSV and costs read from 1C.

The operator's CSV has one row per SKU with its category (which names the pricing
rule), logistics leg, category fee, acquiring, VAT rate and currency:

    offer_id;category;logistics;fee_percent;acquiring_percent;vat;currency
    PH-1001;household;45,00;15;1.5;0.2;RUB

The cost CSV has `offer_id;cost`. Both take `;` or `,` as the delimiter (sniffed from
the header) and a decimal comma in amounts. A bad row is rejected with an issue naming
the SKU and the value, and the other rows proceed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Mapping

from chalicelib.onec.models import InputIssue
from chalicelib.prices.formula import CostInputs
from chalicelib.prices.money import MoneyError, parse_amount, parse_percent
from chalicelib.prices.ozon_rules import OZON_CURRENCIES, OZON_VAT_RATES, format_vat

OPERATOR_COLUMNS = ("offer_id", "category", "logistics", "fee_percent", "acquiring_percent", "vat", "currency")
COST_COLUMNS = ("offer_id", "cost")


@dataclass
class OperatorRow:
    """One SKU of the operator's CSV, validated; the cost comes from elsewhere."""

    offer_id: str
    category: str
    logistics: Decimal
    fee_percent: Decimal
    acquiring_percent: Decimal
    vat: Decimal
    currency: str


@dataclass
class MatrixBuild:
    rows: list[CostInputs] = field(default_factory=list)
    issues: list[InputIssue] = field(default_factory=list)


def read_csv_rows(path: Path, required: tuple[str, ...]) -> Iterable[dict[str, str]]:
    """Yield the rows of a `;`- or `,`-separated CSV (UTF-8, BOM allowed) as dicts."""
    text = path.read_text(encoding="utf-8-sig")
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    missing = [name for name in required if name not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path.name}: missing columns {', '.join(missing)}; expected {delimiter.join(required)}")
    yield from reader


def read_costs_csv(path: Path) -> tuple[dict[str, Decimal], list[InputIssue]]:
    """Read `offer_id;cost` rows; a bad cost becomes an issue for its SKU."""
    costs: dict[str, Decimal] = {}
    issues: list[InputIssue] = []
    for row in read_csv_rows(path, COST_COLUMNS):
        offer_id = (row.get("offer_id") or "").strip()
        if not offer_id:
            continue
        try:
            costs[offer_id] = parse_amount(row.get("cost"), sku=offer_id, field="cost", decimal_comma=True,
                                           allow_zero=False)
        except MoneyError as error:
            issues.append(InputIssue(path.name, offer_id, str(row.get("cost")), str(error)))
    return costs, issues


def read_operator_csv(path: Path) -> tuple[list[OperatorRow], list[InputIssue]]:
    """Read the operator's CSV; a bad row becomes an issue for its SKU."""
    rows: list[OperatorRow] = []
    issues: list[InputIssue] = []
    for raw in read_csv_rows(path, OPERATOR_COLUMNS):
        offer_id = (raw.get("offer_id") or "").strip()
        if not offer_id:
            continue
        try:
            rows.append(_operator_row(offer_id, raw))
        except MoneyError as error:
            issues.append(InputIssue(path.name, offer_id, str(error.value), str(error)))
    return rows, issues


def build_matrix(operator_rows: Iterable[OperatorRow], costs: Mapping[str, Decimal], categories: set[str],
                 *, source: str = "matrix") -> MatrixBuild:
    """Join operator rows with costs; SKUs without a cost or with an unknown category are rejected."""
    build = MatrixBuild()
    for row in operator_rows:
        cost = costs.get(row.offer_id)
        if cost is None:
            build.issues.append(InputIssue(source, row.offer_id, None,
                                           f"SKU {row.offer_id}: no cost in the cost CSV or the 1C price type"))
            continue
        if row.category not in categories:
            build.issues.append(InputIssue(source, row.offer_id, row.category,
                                           f"SKU {row.offer_id}: unknown category {row.category!r}; "
                                           "add a pricing rule for it or fix the operator CSV"))
            continue
        build.rows.append(CostInputs(row.offer_id, cost, row.logistics, row.fee_percent, row.acquiring_percent,
                                     row.vat, row.currency, row.category))
    return build


def _operator_row(offer_id: str, raw: dict[str, str]) -> OperatorRow:
    category = (raw.get("category") or "").strip()
    if not category:
        raise MoneyError(offer_id, "category", raw.get("category"), "the category is empty")
    logistics = parse_amount(raw.get("logistics"), sku=offer_id, field="logistics", decimal_comma=True)
    fee = parse_percent(raw.get("fee_percent"), sku=offer_id, field="fee_percent")
    acquiring = parse_percent(raw.get("acquiring_percent"), sku=offer_id, field="acquiring_percent")
    vat = _vat(offer_id, raw.get("vat"))
    currency = (raw.get("currency") or "RUB").strip().upper()
    if currency not in OZON_CURRENCIES:
        raise MoneyError(offer_id, "currency", raw.get("currency"),
                         f"Ozon takes {', '.join(sorted(OZON_CURRENCIES))}")
    return OperatorRow(offer_id, category, logistics, fee, acquiring, vat, currency)


def _vat(offer_id: str, text: str | None) -> Decimal:
    raw = (text or "").strip().replace(",", ".")
    try:
        value = Decimal(raw)
    except ArithmeticError:
        value = None
    if value is None or not value.is_finite() or format_vat(value) not in OZON_VAT_RATES:
        raise MoneyError(offer_id, "vat", text, f"Ozon takes the VAT rates {', '.join(sorted(OZON_VAT_RATES))}")
    return value
