"""Costs from a 1C CommerceML offers package: one price type's `ЦенаЗаЕдиницу` per offer.

Reads `Предложение/Цены/Цена{ИдТипаЦены, ЦенаЗаЕдиницу, Валюта}` for the price type
chosen by configuration (for example the purchase price type) and streams the file
with `xml.etree.ElementTree.iterparse`, clearing each offer once read. Before that,
`sniff_document` of the stock reader rejects a DOCTYPE, entity declarations and
external references: a DTD can only come before the root element, so a file that
passes the sniff declares no entity. Amounts are read with a decimal comma
(`1499,90` is 1499.90). A bad amount or currency becomes an issue naming the offer
and the value, and the other offers proceed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from chalicelib.onec.commerceml import sniff_document
from chalicelib.onec.errors import RejectedFileError
from chalicelib.onec.models import InputIssue
from chalicelib.prices.money import MoneyError, parse_amount

OfferKey = Literal["id", "article"]

# 1C writes a currency as an ISO code or as its short Russian name.
_CURRENCY_NAMES = {"RUB": "RUB", "РУБ": "RUB", "РУБ.": "RUB", "643": "RUB", "BYN": "BYN", "KZT": "KZT",
                   "ТГ": "KZT", "EUR": "EUR", "USD": "USD", "CNY": "CNY"}


@dataclass
class OneCCosts:
    """Costs by offer key, the currency of each, and the issues found."""

    costs: dict[str, Decimal] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)
    issues: list[InputIssue] = field(default_factory=list)


def read_onec_costs(path: Path, price_type_id: str, *, key: OfferKey = "article",
                    source: str | None = None) -> OneCCosts:
    """Read the `price_type_id` price of every offer in `path`.

    `key` chooses how offers are named: their `Артикул` (Ozon's offer_id by default)
    or their 1C `Ид`. Raises RejectedFileError for unsafe, malformed or non-offers files.
    """
    source = source or path.name
    if sniff_document(path, source) != "offers":
        raise RejectedFileError(source, "это не пакет предложений: цен в нём нет. Укажите файл offers или prices")
    result = OneCCosts()
    try:
        for _, element in ElementTree.iterparse(path, events=("end",)):
            if _local(element.tag) == "Предложение":
                _read_offer(element, price_type_id, key, source, result)
                element.clear()
    except ElementTree.ParseError as error:
        raise RejectedFileError(source, f"файл повреждён, XML не читается ({error}). Выгрузите его заново") from error
    return result


def _read_offer(offer: ElementTree.Element, price_type_id: str, key: OfferKey, source: str,
                result: OneCCosts) -> None:
    fields = {_local(child.tag): (child.text or "").strip() for child in offer}
    name = fields.get("Артикул") if key == "article" else fields.get("Ид")
    if not name:
        result.issues.append(InputIssue(source, fields.get("Ид"), None,
                                        f"предложение {fields.get('Ид')!r} без {'артикула' if key == 'article' else 'Ид'}: "
                                        "цена не прочитана", "warning"))
        return
    price = _find_price(offer, price_type_id)
    if price is None:
        return
    amount_text, currency_text = price
    try:
        amount = parse_amount(amount_text, sku=name, field="ЦенаЗаЕдиницу", decimal_comma=True, allow_zero=False)
    except MoneyError as error:
        result.issues.append(InputIssue(source, name, amount_text, str(error)))
        return
    currency = _CURRENCY_NAMES.get((currency_text or "RUB").strip().upper())
    if currency is None:
        result.issues.append(InputIssue(source, name, currency_text,
                                        f"SKU {name}: unknown currency {currency_text!r} of the 1C price"))
        return
    result.costs[name] = amount
    result.currencies[name] = currency


def _find_price(offer: ElementTree.Element, price_type_id: str) -> tuple[str, str | None] | None:
    for child in offer:
        if _local(child.tag) != "Цены":
            continue
        for price in child:
            values = {_local(part.tag): (part.text or "").strip() for part in price}
            if values.get("ИдТипаЦены") == price_type_id:
                return values.get("ЦенаЗаЕдиницу", ""), values.get("Валюта")
    return None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
