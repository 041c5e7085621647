"""The sandbox's state: one seller's catalogue, stock, history, limits and counters.

Every public method takes the one lock, so HTTP handler threads can call them at once.
Nothing here sleeps or does I/O while holding it.
"""

from __future__ import annotations

import bisect
import hmac
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from chalicelib.clock import Clock, ScaledClock
from local.sandbox.catalog import (
    DEFAULT_WAREHOUSES,
    Product,
    SeedSummary,
    StockSlot,
    Warehouse,
    build_products,
    iso_utc,
    plan_seed,
)
from local.sandbox.errors import ApiError, ErrorCodeStyle
from local.sandbox.faults import FaultConfig, FaultInjector, FaultKind, RequestFault
from local.sandbox.limits import Limits, SlidingWindowLimiter, retry_after_header

# Per-item error codes of /v2/products/stocks. PRODUCT_IS_ARCHIVED and
# STOCK_IS_NEGATIVE are the sandbox's names: Ozon's error table lists neither case.
NOT_FOUND_ERROR = "NOT_FOUND_ERROR"
WAREHOUSE_NOT_FOUND = "WAREHOUSE_NOT_FOUND"
PRODUCT_IS_ARCHIVED = "PRODUCT_IS_ARCHIVED"
STOCK_TOO_BIG = "STOCK_TOO_BIG"
STOCK_IS_NEGATIVE = "STOCK_IS_NEGATIVE"
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"

_ITEM_MESSAGES = {
    NOT_FOUND_ERROR: "Product not found in the seller's account",
    WAREHOUSE_NOT_FOUND: "Warehouse not found or not active",
    PRODUCT_IS_ARCHIVED: "Product is archived",
    STOCK_TOO_BIG: "Stock must be less than 1000000",
    STOCK_IS_NEGATIVE: "Stock must not be negative",
    TOO_MANY_REQUESTS: "Stock is updated too frequently",
}

_ARCHIVED_VISIBILITY = {"ARCHIVED", "AUTO_ARCHIVED", "MANUAL_ARCHIVED", "SEASONAL_AUTO_ARCHIVED"}
_ACTIVE_VISIBILITY = {"VISIBLE", "IN_SALE", "TO_SUPPLY", "MODERATED"}


@dataclass(frozen=True)
class StockUpdate:
    """One validated item of a `/v2/products/stocks` request."""

    offer_id: str | None
    product_id: int | None
    stock: int
    warehouse_id: int


@dataclass(frozen=True)
class StockRow:
    """One (product, warehouse) pair as the control endpoint reports it."""

    offer_id: str
    product_id: int
    sku: int
    warehouse_id: int
    free: int
    reserved: int
    updated_at: float
    archived: bool

    @property
    def present(self) -> int:
        return self.free + self.reserved

    def to_json(self) -> dict:
        return {
            "offer_id": self.offer_id,
            "product_id": self.product_id,
            "sku": self.sku,
            "warehouse_id": self.warehouse_id,
            "free_stock": self.free,
            "reserved": self.reserved,
            "present": self.present,
            "updated_at": iso_utc(self.updated_at),
            "archived": self.archived,
        }


class _Counters:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.items_applied = 0
        self.items_rejected: Counter[str] = Counter()

    def to_json(self) -> dict:
        return {
            "requests": dict(self.requests),
            "statuses": dict(self.statuses),
            "faults": dict(self.faults),
            "items_applied": self.items_applied,
            "items_rejected": dict(self.items_rejected),
        }


class Sandbox:
    """A stateful stand-in for one seller's account on the Ozon Seller API.

    `credentials` is the (Client-Id, Api-Key) pair requests must carry. Time rules run on
    `clock.now()` in virtual seconds.
    """

    def __init__(
        self,
        credentials: tuple[str, str],
        clock: Clock | None = None,
        faults: FaultConfig | None = None,
        *,
        limits: Limits | None = None,
        warehouses: Iterable[Warehouse] = DEFAULT_WAREHOUSES,
    ) -> None:
        client_id, api_key = credentials
        if not client_id or not api_key:
            raise ValueError("sandbox credentials need a non-empty Client-Id and Api-Key")
        self._client_id = client_id.encode()
        self._api_key = api_key.encode()
        self.clock: Clock = clock or ScaledClock()
        self.limits = limits or Limits()
        self._warehouses = {warehouse.warehouse_id: warehouse for warehouse in warehouses}
        self._main_warehouse_id = _main_warehouse_id(self._warehouses.values())
        self._initial_faults = faults or FaultConfig()
        self._lock = threading.RLock()
        self._reset_locked()

    # --- auth, limits and faults -------------------------------------------------

    def check_credentials(self, client_id: str | None, api_key: str | None) -> ApiError | None:
        """Return the 401/403 error for missing or wrong credentials, or None when valid."""
        if not client_id or not api_key:
            return ApiError(401, "Client-Id and Api-Key headers are required")
        id_ok = hmac.compare_digest(client_id.encode(), self._client_id)
        key_ok = hmac.compare_digest(api_key.encode(), self._api_key)
        if not (id_ok and key_ok):
            return ApiError(403, "Invalid Api-Key, please check the key and try again")
        return None

    def admit(self, path: str, *, stock_write: bool) -> dict[str, str]:
        """Count a request against the rate limits; raise ApiError(429) when over.

        Returns the `Ratelimit-Remaining` header for an admitted request.
        """
        with self._lock:
            now = self.clock.now()
            wait = self._global_limiter.try_admit(now)
            if wait > 0:
                raise ApiError(429, "You have reached request rate limit per second", retry_after=1)
            if not stock_write:
                return {"Ratelimit-Remaining": str(self._global_limiter.remaining(now))}

            wait = self._stock_limiter.try_admit(now)
            if wait > 0:
                raise ApiError(
                    429,
                    f"You have reached the limit of {self.limits.stock_requests_per_window} "
                    f"stock update requests per {self.limits.stock_window_seconds:g} seconds",
                    retry_after=retry_after_header(wait),
                )
            return {"Ratelimit-Remaining": str(self._stock_limiter.remaining(now))}

    def draw_request_fault(self, *, write: bool) -> RequestFault | None:
        """Draw the injected fault for one request, if any."""
        with self._lock:
            if not write and not self._injector.config.faults_on_reads:
                return None
            fault = self._injector.draw_request_fault()
            if fault is not None:
                self._counters.faults[fault.kind.value] += 1
            return fault

    def next_error_style(self) -> tuple[ErrorCodeStyle, int]:
        """Return the error code style and this error's sequence number."""
        with self._lock:
            self._error_sequence += 1
            return self._injector.config.error_code_style, self._error_sequence

    def record_request(self, path: str) -> None:
        with self._lock:
            self._counters.requests[path] += 1

    def record_status(self, status: int) -> None:
        with self._lock:
            self._counters.statuses["5xx" if status >= 500 else str(status)] += 1

    # --- Ozon methods ---------------------------------------------------------------

    def warehouse_list(self) -> list[dict]:
        """Return this seller's warehouses as `/v2/warehouse/list` items."""
        return [w.to_json() for w in self._warehouses.values() if w.owned]

    def update_stocks(self, updates: list[StockUpdate]) -> list[dict]:
        """Apply stock items in request order; return the `/v2/products/stocks` result."""
        with self._lock:
            now = self.clock.now()
            return [self._update_one(update, now) for update in updates]

    def product_stocks_page(
        self,
        *,
        offer_ids: list[str],
        product_ids: list[int],
        visibility: str,
        after_product_id: int | None,
        limit: int,
    ) -> dict:
        """Return one `/v4/product/info/stocks` page, ordered by product_id.

        A product matches when its offer_id or its product_id is in the filter lists.
        Without lists every product matches. The cursor is the last product_id on the page, and is
        empty on an empty page.
        """
        with self._lock:
            matched = self._match_products(offer_ids, product_ids, visibility)
            if matched is self._products:
                keys = self._product_ids
            else:
                keys = [product.product_id for product in matched]
            start = 0 if after_product_id is None else bisect.bisect_right(keys, after_product_id)
            page = matched[start : start + limit]
            return {
                "cursor": str(page[-1].product_id) if page else "",
                "items": [self._product_stock_item(product) for product in page],
                "total_items": len(matched),
            }

    def warehouse_stocks_page(self, warehouse_id: int, after_sku: int | None, limit: int) -> dict:
        """Return one `/v1/product/info/warehouse/stocks` page, ordered by SKU."""
        with self._lock:
            warehouse = self._warehouses.get(warehouse_id)
            if warehouse is None or not warehouse.owned:
                raise ApiError(400, f"warehouse_id {warehouse_id} not found for this seller")

            skus = self._warehouse_skus.get(warehouse_id, [])
            start = 0 if after_sku is None else bisect.bisect_right(skus, after_sku)
            page = skus[start : start + limit]
            return {
                "stocks": [self._warehouse_stock_item(sku, warehouse_id) for sku in page],
                "cursor": str(page[-1]) if page else "",
                "has_next": start + limit < len(skus),
            }

    # --- seeding, inspection and control ------------------------------------------

    def seed(
        self,
        offer_ids: Iterable[str],
        *,
        missing_share: float = 0.0,
        archived_share: float = 0.0,
        reserved_share: float = 0.0,
        max_reserved: int = 3,
        seed: int = 1,
    ) -> SeedSummary:
        """List the catalogue's products as if the seller's account already had them.

        Replaces the previous catalogue, its stock and its history. `missing_share` of
        the offers stay unlisted (updates get NOT_FOUND_ERROR), `archived_share` are
        archived, and `reserved_share` get 1..`max_reserved` reserved units on the main
        FBS warehouse. Listed products start with 0 free units. All shares are of the
        whole offer list, and the same seed gives the same choice.
        """
        plan = plan_seed(
            offer_ids,
            missing_share=missing_share,
            archived_share=archived_share,
            reserved_share=reserved_share,
            max_reserved=max_reserved,
            seed=seed,
        )
        with self._lock:
            products = build_products(plan, self._main_warehouse_id, self.clock.now())
            self._install_catalog(products)
        return SeedSummary(
            listed=len(products),
            missing_offer_ids=[o for o in plan.offer_ids if o in plan.missing],
            archived_offer_ids=[o for o in plan.offer_ids if o in plan.archived],
            reserved_offer_ids=[o for o in plan.offer_ids if o in plan.reserved],
        )

    def stocks(self) -> dict[tuple[str, int], StockRow]:
        """Return every (offer_id, warehouse_id) pair's free stock and reserved units."""
        with self._lock:
            return {
                (product.offer_id, warehouse_id): StockRow(
                    offer_id=product.offer_id,
                    product_id=product.product_id,
                    sku=product.sku,
                    warehouse_id=warehouse_id,
                    free=slot.free,
                    reserved=slot.reserved,
                    updated_at=slot.updated_at,
                    archived=product.archived,
                )
                for product in self._products
                for warehouse_id, slot in product.stocks.items()
            }

    def history(
        self, offer_id: str | None = None
    ) -> dict[tuple[str, int], list[tuple[float, int]]]:
        """Return the applied (virtual time, stock) values per (offer_id, warehouse_id).

        Values come oldest first; `offer_id` narrows the result to one offer.
        """
        with self._lock:
            return {
                key: list(values)
                for key, values in self._history.items()
                if offer_id is None or key[0] == offer_id
            }

    def stats(self) -> dict:
        """Return request, status, fault and item counters."""
        with self._lock:
            return self._counters.to_json()

    @property
    def faults(self) -> FaultConfig:
        with self._lock:
            return self._injector.config

    def set_faults(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Replace the fault configuration, or change some of its fields.

        The random stream restarts from the (new) seed. Raises pydantic's ValidationError
        for invalid values.
        """
        with self._lock:
            if config is None:
                current = self._injector.config.model_dump()
                config = FaultConfig.model_validate({**current, **changes})
            self._injector = FaultInjector(config)
            return config

    def reset(self) -> None:
        """Drop the catalogue, stock, history, counters and limit windows; restore faults."""
        with self._lock:
            self._reset_locked()

    # --- internals ------------------------------------------------------------------

    def _reset_locked(self) -> None:
        limits = self.limits
        self._global_limiter = SlidingWindowLimiter(limits.requests_per_second, 1.0)
        self._stock_limiter = SlidingWindowLimiter(
            limits.stock_requests_per_window, limits.stock_window_seconds
        )
        self._injector = FaultInjector(self._initial_faults)
        self._counters = _Counters()
        self._error_sequence = -1
        self._install_catalog([])

    def _install_catalog(self, products: list[Product]) -> None:
        # Seeded products come in ascending product_id and SKU order.
        self._products = products
        self._product_ids = [product.product_id for product in products]
        self._by_offer_id = {product.offer_id: product for product in products}
        self._by_product_id = {product.product_id: product for product in products}
        self._by_sku = {product.sku: product for product in products}
        self._warehouse_skus: dict[int, list[int]] = {
            self._main_warehouse_id: [product.sku for product in products]
        }
        self._history: dict[tuple[str, int], list[tuple[float, int]]] = {}

    def _update_one(self, update: StockUpdate, now: float) -> dict:
        product = self._resolve(update)
        code = self._item_error(update, product, now)
        if code is not None:
            self._counters.items_rejected[code] += 1
            return _item_result(update, product, code)

        self._apply(product, update, now)
        self._counters.items_applied += 1
        return _item_result(update, product, None)

    def _resolve(self, update: StockUpdate) -> Product | None:
        # Ozon applies the change to the offer_id's product when both ids are sent.
        if update.offer_id:
            return self._by_offer_id.get(update.offer_id)
        return self._by_product_id.get(update.product_id)

    def _item_error(self, update: StockUpdate, product: Product | None, now: float) -> str | None:
        if product is None:
            return NOT_FOUND_ERROR
        warehouse = self._warehouses.get(update.warehouse_id)
        if warehouse is None or not warehouse.owned or warehouse.status != "created":
            return WAREHOUSE_NOT_FOUND
        if product.archived:
            return PRODUCT_IS_ARCHIVED
        if update.stock >= self.limits.stock_ceiling:
            return STOCK_TOO_BIG
        if update.stock < 0:
            return STOCK_IS_NEGATIVE

        slot = product.stocks.get(update.warehouse_id)
        if slot is not None and slot.applied_at is not None:
            if now - slot.applied_at < self.limits.pair_interval_seconds:
                return TOO_MANY_REQUESTS
        if self._injector.draw_item_fault():
            self._counters.faults[FaultKind.ITEM_RATE_ERROR.value] += 1
            return TOO_MANY_REQUESTS
        return None

    def _apply(self, product: Product, update: StockUpdate, now: float) -> None:
        slot = product.stocks.get(update.warehouse_id)
        if slot is None:
            slot = product.stocks[update.warehouse_id] = StockSlot()
            bisect.insort(self._warehouse_skus.setdefault(update.warehouse_id, []), product.sku)
        slot.free = update.stock
        slot.updated_at = now
        slot.applied_at = now
        key = (product.offer_id, update.warehouse_id)
        self._history.setdefault(key, []).append((now, update.stock))

    def _match_products(
        self, offer_ids: list[str], product_ids: list[int], visibility: str
    ) -> list[Product]:
        products = self._products
        if offer_ids or product_ids:
            found = [self._by_offer_id.get(offer_id) for offer_id in offer_ids]
            found += [self._by_product_id.get(product_id) for product_id in product_ids]
            unique = {product.product_id: product for product in found if product is not None}
            products = [unique[product_id] for product_id in sorted(unique)]

        # NOTE: the sandbox models only archived and active products, so other visibility
        # values (BANNED, EMPTY_STOCK, ...) match every product.
        if visibility in _ARCHIVED_VISIBILITY:
            return [product for product in products if product.archived]
        if visibility in _ACTIVE_VISIBILITY:
            return [product for product in products if not product.archived]
        return products

    def _product_stock_item(self, product: Product) -> dict:
        entries: dict[str, dict] = {}
        for warehouse_id, slot in product.stocks.items():
            stock_type = self._warehouses[warehouse_id].stock_type
            entry = entries.setdefault(
                stock_type,
                {
                    "type": stock_type,
                    "present": 0,
                    "reserved": 0,
                    "sku": product.sku,
                    "shipment_type": "SHIPMENT_TYPE_GENERAL",
                    "warehouse_ids": [],
                },
            )
            entry["present"] += slot.present
            entry["reserved"] += slot.reserved
            entry["warehouse_ids"].append(warehouse_id)
        return {
            "offer_id": product.offer_id,
            "product_id": product.product_id,
            "stocks": list(entries.values()),
        }

    def _warehouse_stock_item(self, sku: int, warehouse_id: int) -> dict:
        product = self._by_sku[sku]
        slot = product.stocks[warehouse_id]
        return {
            "sku": sku,
            "product_id": product.product_id,
            "offer_id": product.offer_id,
            "warehouse_id": warehouse_id,
            "present": slot.present,
            "reserved": slot.reserved,
            "free_stock": slot.free,
            "updated_at": iso_utc(slot.updated_at),
        }


def _item_result(update: StockUpdate, product: Product | None, code: str | None) -> dict:
    errors = [] if code is None else [{"code": code, "message": _ITEM_MESSAGES[code]}]
    return {
        "warehouse_id": update.warehouse_id,
        "product_id": product.product_id if product else (update.product_id or 0),
        "offer_id": product.offer_id if product else (update.offer_id or ""),
        "updated": code is None,
        "errors": errors,
    }


def _main_warehouse_id(warehouses: Iterable[Warehouse]) -> int:
    for warehouse in warehouses:
        if warehouse.owned and not warehouse.is_rfbs:
            return warehouse.warehouse_id
    raise ValueError("the sandbox needs at least one FBS warehouse owned by the seller")
