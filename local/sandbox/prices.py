"""The sandbox's price methods: `/v1/product/import/prices` and `/v5/product/info/prices`.

Each `Sandbox` gets one `PriceDesk` (created on first use) with the prices of its
listed products, their applied-change times and their promotions. The import checks
Ozon's rules per item and returns per-item errors inside HTTP 200:

    NOT_FOUND_ERROR                            the product is not listed
    price_negative                             a negative price, old_price or min_price
    discount_for_low_price_is_too_small        old_price gap under 20 RUB below 400 RUB
    discount_for_average_price_is_too_small    old_price gap under 5% from 400 to 10,000
    discount_for_top_price_is_too_small        old_price gap under 500 RUB above 10,000
    discount_too_big                           a discount of 90% or more
    action_price_enabled_min_price_missing     auto-actions on and no min_price
    TOO_MANY_REQUESTS                          over 10 applied changes this hour (the
                                               sandbox's name: Ozon documents the limit,
                                               not its code)
    currency_code_invalid, vat_invalid         the sandbox's names for a currency other
                                               than the account's and an unlisted VAT rate

A promotion lowers `marketing_price`, the price buyers pay, by a share of `price`.
It stops at `min_price` unless it ignores the min price; an auto-action promotion
ends when an import sets `auto_action_enabled` to `DISABLED`.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from local.sandbox.errors import ApiError
from local.sandbox.state import Sandbox

MAX_PRICE_ITEMS = 1000
CHANGES_PER_HOUR = 10
HOUR_SECONDS = 3600.0
VAT_RATES = {"0", "0.05", "0.07", "0.1", "0.2", "0.22"}
TOGGLES = {"UNKNOWN", "ENABLED", "DISABLED"}
_PRICE_TEXT = re.compile(r"-?\d+(?:\.\d{1,2})?")
ZERO = Decimal(0)
CENT = Decimal("0.01")

ITEM_MESSAGES = {
    "NOT_FOUND_ERROR": "Product not found",
    "price_negative": "Price must not be negative",
    "discount_for_low_price_is_too_small": "The difference between price and old_price must be at least 20 RUB",
    "discount_for_average_price_is_too_small": "The difference between price and old_price must be at least 5%",
    "discount_for_top_price_is_too_small": "The difference between price and old_price must be at least 500 RUB",
    "discount_too_big": "The discount must be less than 90%",
    "action_price_enabled_min_price_missing": "Set min_price or switch auto-actions off",
    "TOO_MANY_REQUESTS": "The price of this product has been changed 10 times in the last hour",
    "currency_code_invalid": "currency_code must match the currency of the seller's account",
    "vat_invalid": "vat must be one of 0, 0.05, 0.07, 0.1, 0.2, 0.22",
}


@dataclass
class Promotion:
    """A promotion on one offer: `discount_percent` off `price` while it runs."""

    discount_percent: Decimal
    ignores_min_price: bool = False
    auto_action: bool = True


@dataclass
class OfferPrice:
    price: Decimal = ZERO
    old_price: Decimal = ZERO
    min_price: Decimal = ZERO
    vat: str = "0"
    currency_code: str = "RUB"
    auto_action_enabled: bool = False
    changes: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class PriceRequestItem:
    offer_id: str | None
    product_id: int | None
    price: Decimal | None
    old_price: Decimal | None
    min_price: Decimal | None
    vat: str | None
    currency_code: str
    auto_action: str


class PriceDesk:
    """Prices, change times and promotions of one sandbox seller, behind one lock."""

    def __init__(self, sandbox: Sandbox, currency: str = "RUB") -> None:
        self._sandbox = sandbox
        self.currency = currency
        self._lock = threading.Lock()
        self.offers: dict[str, OfferPrice] = {}
        self.promotions: dict[str, Promotion] = {}
        self.history: dict[str, list[tuple[float, Decimal]]] = {}
        self.applied = 0
        self.rejected: dict[str, int] = {}

    # --- Ozon methods --------------------------------------------------------------------

    def import_prices(self, items: list[PriceRequestItem]) -> list[dict]:
        listed = self._listed({item.offer_id for item in items if item.offer_id})
        with self._lock:
            now = self._sandbox.clock.now()
            return [self._import_one(item, listed.get(item.offer_id or ""), now) for item in items]

    def prices_page(self, offer_ids: list[str], after: int | None, limit: int) -> dict:
        page = self._sandbox.product_stocks_page(offer_ids=offer_ids, product_ids=[], visibility="ALL",
                                                 after_product_id=after, limit=limit)
        with self._lock:
            items = [self._price_item(row["offer_id"], row["product_id"]) for row in page["items"]]
        return {"cursor": page["cursor"], "items": items, "total_items": page["total_items"]}

    # --- control, for tests and the local runner -----------------------------------------

    def set_promotion(self, offer_id: str, discount_percent: Decimal | str, *, ignores_min_price: bool = False,
                      auto_action: bool = True) -> None:
        with self._lock:
            self.promotions[offer_id] = Promotion(Decimal(discount_percent), ignores_min_price, auto_action)

    def set_price(self, offer_id: str, price: Decimal | str) -> None:
        """Change a price as a person in the seller's cabinet would; no change is counted."""
        with self._lock:
            self.offers.setdefault(offer_id, OfferPrice()).price = Decimal(price)

    def selling_price(self, offer_id: str) -> Decimal:
        with self._lock:
            return self._marketing_price(offer_id, self.offers.get(offer_id, OfferPrice()))

    def stats(self) -> dict:
        with self._lock:
            return {"items_applied": self.applied, "items_rejected": dict(self.rejected)}

    # --- internals -----------------------------------------------------------------------

    def _listed(self, offer_ids: set[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        requested = sorted(offer_ids)
        for start in range(0, len(requested), MAX_PRICE_ITEMS):
            page = self._sandbox.product_stocks_page(offer_ids=requested[start:start + MAX_PRICE_ITEMS],
                                                     product_ids=[], visibility="ALL", after_product_id=None,
                                                     limit=MAX_PRICE_ITEMS)
            found.update({row["offer_id"]: row["product_id"] for row in page["items"]})
        return found

    def _import_one(self, item: PriceRequestItem, product_id: int | None, now: float) -> dict:
        offer = self.offers.get(item.offer_id or "", OfferPrice())
        code = self._item_error(item, product_id, offer, now)
        result = {"product_id": product_id or item.product_id or 0, "offer_id": item.offer_id or "",
                  "updated": code is None, "errors": []}
        if code is not None:
            self.rejected[code] = self.rejected.get(code, 0) + 1
            result["errors"] = [{"code": code, "message": ITEM_MESSAGES[code]}]
            return result
        self._apply(item, offer, now)
        return result

    def _item_error(self, item: PriceRequestItem, product_id: int | None, offer: OfferPrice,
                    now: float) -> str | None:
        if product_id is None:
            return "NOT_FOUND_ERROR"
        levels = [value for value in (item.price, item.old_price, item.min_price) if value is not None]
        if any(value < ZERO for value in levels):
            return "price_negative"
        if item.currency_code != self.currency:
            return "currency_code_invalid"
        if item.vat is not None and item.vat not in VAT_RATES:
            return "vat_invalid"
        price = item.price if item.price is not None else offer.price
        old_price = item.old_price if item.old_price is not None else offer.old_price
        gap_code = _gap_error(price, old_price)
        if gap_code is not None:
            return gap_code
        auto_on = item.auto_action == "ENABLED" or (item.auto_action == "UNKNOWN" and offer.auto_action_enabled)
        if auto_on and not (item.min_price or offer.min_price):
            return "action_price_enabled_min_price_missing"
        if len([t for t in offer.changes if now - t < HOUR_SECONDS]) >= CHANGES_PER_HOUR:
            return "TOO_MANY_REQUESTS"
        return None

    def _apply(self, item: PriceRequestItem, offer: OfferPrice, now: float) -> None:
        offer_id = item.offer_id or ""
        for name in ("price", "old_price", "min_price"):
            value = getattr(item, name)
            if value is not None:
                setattr(offer, name, value)
        offer.vat = item.vat or offer.vat
        offer.currency_code = item.currency_code
        if item.auto_action != "UNKNOWN":
            offer.auto_action_enabled = item.auto_action == "ENABLED"
        if item.auto_action == "DISABLED":
            promotion = self.promotions.get(offer_id)
            if promotion is not None and promotion.auto_action:
                del self.promotions[offer_id]
        offer.changes = [t for t in offer.changes if now - t < HOUR_SECONDS] + [now]
        self.offers[offer_id] = offer
        self.history.setdefault(offer_id, []).append((now, offer.price))
        self.applied += 1

    def _marketing_price(self, offer_id: str, offer: OfferPrice) -> Decimal:
        promotion = self.promotions.get(offer_id)
        if promotion is None or offer.price <= ZERO:
            return offer.price
        discounted = (offer.price * (1 - promotion.discount_percent / 100)).quantize(CENT, ROUND_HALF_UP)
        if not promotion.ignores_min_price:
            discounted = max(discounted, offer.min_price)
        return min(discounted, offer.price)

    def _price_item(self, offer_id: str, product_id: int) -> dict:
        offer = self.offers.get(offer_id, OfferPrice())
        marketing = self._marketing_price(offer_id, offer)
        return {
            "offer_id": offer_id, "product_id": product_id, "acquiring": 0, "volume_weight": 0,
            "price": {
                "price": float(offer.price), "old_price": float(offer.old_price),
                "min_price": float(offer.min_price),
                "marketing_price": float(marketing) if offer_id in self.promotions else 0,
                "marketing_seller_price": 0, "net_price": 0, "retail_price": 0,
                "currency_code": offer.currency_code, "vat": float(Decimal(offer.vat)),
                "auto_action_enabled": offer.auto_action_enabled,
                "auto_add_to_ozon_actions_list_enabled": False,
            },
            "commissions": {"sales_percent_fbs": 0, "sales_percent_fbo": 0},
            "marketing_actions": {"actions": [], "ozon_actions_exist": offer_id in self.promotions},
        }


def _gap_error(price: Decimal, old_price: Decimal) -> str | None:
    if old_price <= ZERO:
        return None
    gap = old_price - price
    if price < 400 and gap < 20:
        return "discount_for_low_price_is_too_small"
    if 400 <= price <= 10_000 and gap < price * Decimal("0.05"):
        return "discount_for_average_price_is_too_small"
    if price > 10_000 and gap < 500:
        return "discount_for_top_price_is_too_small"
    if old_price >= price * 10:
        return "discount_too_big"
    return None


_desks: "weakref.WeakKeyDictionary[Sandbox, PriceDesk]" = weakref.WeakKeyDictionary()
_desks_lock = threading.Lock()


def price_desk(sandbox: Sandbox) -> PriceDesk:
    """Return the price desk of `sandbox`, creating it on first use."""
    with _desks_lock:
        desk = _desks.get(sandbox)
        if desk is None:
            desk = _desks[sandbox] = PriceDesk(sandbox)
        return desk


def import_prices(sandbox: Sandbox, body: dict) -> dict:
    """Handle `/v1/product/import/prices`: validate the request, then return a result per item."""
    prices = body.get("prices")
    if not isinstance(prices, list) or not prices:
        raise ApiError(400, "prices must be a non-empty array")
    if len(prices) > MAX_PRICE_ITEMS:
        raise ApiError(400, f"prices has {len(prices)} items, but a request takes at most {MAX_PRICE_ITEMS}; split it")
    items = [_parse_item(item, index) for index, item in enumerate(prices)]
    return {"result": price_desk(sandbox).import_prices(items)}


def product_info_prices(sandbox: Sandbox, body: dict) -> dict:
    """Handle `/v5/product/info/prices`: cursor paging, prices as JSON numbers."""
    limit = body.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PRICE_ITEMS:
        raise ApiError(400, f"limit must be an integer from 1 to {MAX_PRICE_ITEMS}, got {limit!r}")
    filter_ = body.get("filter")
    if not isinstance(filter_, dict):
        raise ApiError(400, "filter is required and must be an object")
    offer_ids = filter_.get("offer_id") or []
    if not isinstance(offer_ids, list) or len(offer_ids) > MAX_PRICE_ITEMS:
        raise ApiError(400, f"filter.offer_id must be an array of at most {MAX_PRICE_ITEMS} strings")
    cursor = body.get("cursor") or ""
    if cursor and not (isinstance(cursor, str) and cursor.isdigit()):
        raise ApiError(400, f"cursor {cursor!r} is invalid; pass the previous page's cursor or an empty one")
    return price_desk(sandbox).prices_page([str(o) for o in offer_ids], int(cursor) if cursor else None, limit)


def _parse_item(item: Any, index: int) -> PriceRequestItem:
    where = f"prices[{index}]"
    if not isinstance(item, dict):
        raise ApiError(400, f"{where} must be an object")
    if "premium_price" in item:
        raise ApiError(400, f"{where}.premium_price is not a field of this method any more")
    offer_id = item.get("offer_id") or None
    product_id = item.get("product_id") or None
    if offer_id is None and product_id is None:
        raise ApiError(400, f"{where} needs an offer_id or a product_id")
    auto_action = item.get("auto_action_enabled", "UNKNOWN")
    if auto_action not in TOGGLES:
        raise ApiError(400, f"{where}.auto_action_enabled must be one of {sorted(TOGGLES)}")
    return PriceRequestItem(offer_id, product_id, _price(item, "price", where), _price(item, "old_price", where),
                            _price(item, "min_price", where), item.get("vat"), item.get("currency_code") or "RUB",
                            auto_action)


def _price(item: dict, name: str, where: str) -> Decimal | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{where}.{name} must be a string such as \"1499.90\", got {value!r}")
    if _PRICE_TEXT.fullmatch(value) is None:
        raise ApiError(400, f"{where}.{name} {value!r} must have a dot and at most two decimals")
    return Decimal(value)
