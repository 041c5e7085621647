"""From 1C offers to Ozon (warehouse, offer_id) pairs with their on-hand quantity.

Which 1C field becomes Ozon's `offer_id` (article, code or id) and which 1C warehouses
feed which Ozon warehouse are configuration. Two 1C offers that map to one `offer_id`
are both reported and neither is pushed: picking one would be a guess. Issue texts are
Russian, because the seller's operators fix them in 1C.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

from chalicelib.onec.models import InputIssue, StockOffer
from chalicelib.settings import WarehouseRoute
from chalicelib.storage.ledger import PairKey

OfferIdSource = Literal["article", "code", "id"]

# Ozon rejects offer ids longer than this.
OZON_OFFER_ID_MAX = 50
ALL_WAREHOUSES = "*"
# A duplicate id's message names this many of the offers that share it.
NAMED_DUPLICATES = 3
FIELD_NAMES = {"article": "артикула", "code": "кода", "id": "идентификатора"}


@dataclass
class MappedStock:
    """On-hand quantities by pair, plus what could not be mapped."""

    on_hand: dict[PairKey, int] = field(default_factory=dict)
    offers_read: int = 0
    issues: list[InputIssue] = field(default_factory=list)


def offer_id_of(offer: StockOffer, source: OfferIdSource) -> str | None:
    value = {"article": offer.article, "code": offer.code, "id": offer.onec_id}[source]
    value = (value or "").strip()
    return value or None


def route_quantity(offer: StockOffer, route: WarehouseRoute) -> int | None:
    """Compute the offer's on-hand quantity for one Ozon warehouse; None when the export
    has no figure for the 1C warehouses the route names."""
    if offer.deleted:
        return 0
    if route.onec_warehouses == [ALL_WAREHOUSES]:
        if offer.total is not None:
            return offer.total
        return sum(offer.by_warehouse.values())
    if not offer.by_warehouse:
        return None
    return sum(offer.by_warehouse.get(warehouse, 0) for warehouse in route.onec_warehouses)


def map_offers(
    offers: Iterable[StockOffer], source: OfferIdSource, routes: Sequence[WarehouseRoute]
) -> MappedStock:
    """Map every offer to its pairs; report offers without an id and duplicate ids."""
    mapped = MappedStock()
    owners: dict[str, StockOffer] = {}
    duplicated: dict[str, list[StockOffer]] = {}

    for offer in offers:
        mapped.offers_read += 1
        offer_id = offer_id_of(offer, source)
        if offer_id is None:
            mapped.issues.append(InputIssue(offer.source, offer.onec_id, None,
                f"у предложения нет {FIELD_NAMES[source]}, поэтому нет offer_id для Ozon; заполните "
                "его в 1С или выберите другой OFFER_ID_SOURCE (article, code, id)"))
            continue
        if len(offer_id) > OZON_OFFER_ID_MAX:
            mapped.issues.append(InputIssue(offer.source, offer.onec_id, offer_id,
                f"offer_id {offer_id!r} длиннее {OZON_OFFER_ID_MAX} символов, которые принимает Ozon; "
                "сократите его в 1С или выберите другой OFFER_ID_SOURCE"))
            continue
        if offer_id in duplicated:
            duplicated[offer_id].append(offer)
            continue
        if offer_id in owners:
            duplicated[offer_id] = [owners.pop(offer_id), offer]
            continue
        owners[offer_id] = offer

    for offer_id, offer in owners.items():
        _add_pairs(mapped, offer_id, offer, routes)
    for offer_id, copies in duplicated.items():
        names = ", ".join(copy.onec_id for copy in copies[:NAMED_DUPLICATES])
        more = f" и ещё {len(copies) - NAMED_DUPLICATES}" if len(copies) > NAMED_DUPLICATES else ""
        for copy in copies:
            mapped.issues.append(InputIssue(copy.source, copy.onec_id, offer_id,
                f"offer_id {offer_id!r} общий у {len(copies)} предложений 1С ({names}{more}); "
                "ни одно из них не передаётся, пока идентификаторы в 1С не станут уникальными"))
    return mapped


def _add_pairs(mapped: MappedStock, offer_id: str, offer: StockOffer, routes: Sequence[WarehouseRoute]) -> None:
    for route in routes:
        quantity = route_quantity(offer, route)
        if quantity is None:
            mapped.issues.append(InputIssue(offer.source, offer.onec_id, None,
                f"нет остатков по складам 1С {route.onec_warehouses} для склада Ozon "
                f"{route.ozon_warehouse_id}; на Ozon остаётся прежний остаток"))
            continue
        mapped.on_hand[(route.ozon_warehouse_id, offer_id)] = quantity
