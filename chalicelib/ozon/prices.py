"""Request and response models of the Ozon Seller API price methods.

`/v1/product/import/prices` takes prices as strings with a dot and at most two
decimals. `/v5/product/info/prices` returns them as JSON numbers, so they are read
into `Decimal` through their shortest text form and never kept as float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from chalicelib.ozon.models import EmptyIfNull, ItemError, OzonModel, StringOrEmpty

PATH_IMPORT_PRICES = "/v1/product/import/prices"
PATH_PRODUCT_PRICES = "/v5/product/info/prices"
MAX_PRICE_UPDATES = 1000
MAX_PRICE_PAGE = 1000

Toggle = Literal["UNKNOWN", "ENABLED", "DISABLED"]


def _money(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return Decimal(str(value))


Money = Annotated[Decimal, BeforeValidator(_money)]


class PriceUpdate(BaseModel):
    """One item of `/v1/product/import/prices`. Prices are the strings Ozon takes.

    `premium_price` does not exist any more and cannot be set here.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_id: str = Field(min_length=1)
    price: str
    old_price: str
    min_price: str
    currency_code: str = "RUB"
    vat: str
    min_price_for_auto_actions_enabled: bool | None = None
    auto_action_enabled: Toggle | None = None

    @field_validator("price", "old_price", "min_price")
    @classmethod
    def _price_text(cls, value: str) -> str:
        whole, dot, fraction = value.partition(".")
        if not whole.isdigit() or (dot and not (fraction.isdigit() and len(fraction) <= 2)):
            raise ValueError(f"price {value!r} must be digits with a dot and at most two decimals")
        return value

    def to_request(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class PriceUpdateResult(OzonModel):
    """Ozon's verdict on one item: `updated` is False when `errors` explains why."""

    product_id: int = 0
    offer_id: StringOrEmpty = ""
    updated: bool
    errors: Annotated[list[ItemError], EmptyIfNull] = Field(default_factory=list)


class PriceUpdateResponse(OzonModel):
    result: Annotated[list[PriceUpdateResult], EmptyIfNull] = Field(default_factory=list)


class ItemPrice(OzonModel):
    """The `price` object of `/v5/product/info/prices`, amounts as Decimal.

    `marketing_price` is the price after Ozon's promotions and `marketing_seller_price`
    after the seller's; 0 means no such price.
    """

    price: Money
    old_price: Money = Decimal("0")
    min_price: Money = Decimal("0")
    marketing_price: Money = Decimal("0")
    marketing_seller_price: Money = Decimal("0")
    net_price: Money = Decimal("0")
    currency_code: StringOrEmpty = ""
    vat: Money = Decimal("0")
    auto_action_enabled: bool = False

    def selling_price(self) -> Decimal:
        """Return the lowest price a buyer pays: `price`, or a promotion price below it."""
        candidates = [self.price] + [p for p in (self.marketing_price, self.marketing_seller_price) if p > 0]
        return min(candidates)


class ProductPrices(OzonModel):
    offer_id: str
    product_id: int
    price: ItemPrice
    acquiring: Money = Decimal("0")


class ProductPricesPage(OzonModel):
    cursor: StringOrEmpty = ""
    items: Annotated[list[ProductPrices], EmptyIfNull] = Field(default_factory=list)
    total_items: int | None = None
