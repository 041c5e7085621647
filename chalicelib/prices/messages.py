"""Messages on the price push queue. Bodies carry ids and price strings, never credentials."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chalicelib.ozon.prices import MAX_PRICE_UPDATES


class PriceItem(BaseModel):
    """One SKU's levels as Ozon takes them (strings with a dot and at most two decimals).

    `rollback` marks a return to the last good levels after a read-back found the
    selling price below cost; such an item also switches off Ozon's auto-actions.
    """

    offer_id: str = Field(min_length=1)
    min_price: str
    price: str
    old_price: str
    vat: str
    currency_code: str
    rollback: bool = False


class PricePushMessage(BaseModel):
    """One `/v1/product/import/prices` request of one planning run: at most 1000 items.

    A worker drops the message when a newer run exists, because that run planned every
    SKU again from its latest target: pending changes coalesce to the newest levels.
    """

    kind: Literal["price.push"] = "price.push"
    run_id: str
    seq: int = Field(ge=1)
    items: list[PriceItem] = Field(min_length=1, max_length=MAX_PRICE_UPDATES)


class PriceVerifyMessage(BaseModel):
    """Read prices back from Ozon after a run's pushes, and roll back SKUs sold below cost."""

    kind: Literal["price.verify"] = "price.verify"
    run_id: str
    seq: int = Field(ge=1)


class OnecCostsRequest(BaseModel):
    """Read costs of the configured 1C price type from an uploaded exchange, then plan prices.

    The stock planner sends it after planning the exchange under `exchange_prefix`;
    `files` are the exchange's offers and prices packages, relative to that prefix.
    """

    kind: Literal["price.costs.onec"] = "price.costs.onec"
    exchange_prefix: str = Field(min_length=1)
    files: list[str] = Field(min_length=1)
