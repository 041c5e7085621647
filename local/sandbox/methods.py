"""Ozon Seller API methods served by the sandbox: body validation and response shapes.

Shapes follow the official OpenAPI export (April 2026) and the 2026 changes: no `total`
in `/v4/product/info/stocks`, `total_items` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from local.sandbox import postings, prices
from local.sandbox.errors import ApiError
from local.sandbox.state import Sandbox, StockUpdate

# Values of `filter.visibility` that `/v4/product/info/stocks` accepts (v4Visibility).
VISIBILITY_VALUES = frozenset(
    {
        "ALL", "VISIBLE", "INVISIBLE", "EMPTY_STOCK", "NOT_MODERATED", "MODERATED",
        "DISABLED", "STATE_FAILED", "READY_TO_SUPPLY", "VALIDATION_STATE_PENDING",
        "VALIDATION_STATE_FAIL", "VALIDATION_STATE_SUCCESS", "TO_SUPPLY", "IN_SALE",
        "REMOVED_FROM_SALE", "BANNED", "OVERPRICED", "CRITICALLY_OVERPRICED",
        "EMPTY_BARCODE", "BARCODE_EXISTS", "QUARANTINE", "ARCHIVED", "OVERPRICED_WITH_STOCK",
        "PARTIAL_APPROVED", "AUTO_ARCHIVED", "MANUAL_ARCHIVED", "SEASONAL_AUTO_ARCHIVED",
        "VISIBLE_WITH_FBO_STOCK",
    }
)


@dataclass(frozen=True)
class OzonMethod:
    """A served method; `write` marks methods that change state (faults apply by default)."""

    handler: Callable[[Sandbox, dict], dict]
    write: bool


def warehouse_list(sandbox: Sandbox, body: dict) -> dict:
    """Handle `/v2/warehouse/list`: cursor paging over the seller's warehouses."""
    limit = _parse_limit(body.get("limit"), WAREHOUSE_PAGE_MAX)
    wanted = {_as_int(value, "warehouse_ids[]") for value in body.get("warehouse_ids") or []}
    warehouses = [w for w in sandbox.warehouse_list() if not wanted or w["warehouse_id"] in wanted]
    start = _parse_cursor(body.get("cursor")) or 0
    page = warehouses[start:start + limit]
    has_next = start + limit < len(warehouses)
    return {"warehouses": page, "cursor": str(start + limit) if has_next else "", "has_next": has_next}


def products_stocks(sandbox: Sandbox, body: dict) -> dict:
    """Handle `/v2/products/stocks`: validate the whole request, then report per item."""
    stocks = body.get("stocks")
    if not isinstance(stocks, list) or not stocks:
        raise ApiError(400, "stocks must be a non-empty array of product-warehouse items")
    max_items = sandbox.limits.max_stock_items
    if len(stocks) > max_items:
        raise ApiError(
            400,
            f"stocks has {len(stocks)} items, but a request takes at most {max_items} "
            "product-warehouse pairs; split it",
        )
    updates = [_parse_stock_item(item, index) for index, item in enumerate(stocks)]
    return {"result": sandbox.update_stocks(updates)}


def product_info_stocks(sandbox: Sandbox, body: dict) -> dict:
    """Handle `/v4/product/info/stocks`."""
    limit = _parse_limit(body.get("limit"), sandbox.limits.max_page_size)
    after = _parse_cursor(body.get("cursor"))
    filter_ = body.get("filter")
    if not isinstance(filter_, dict):
        raise ApiError(400, "filter is required and must be an object")

    max_values = sandbox.limits.max_filter_values
    offer_ids = _parse_list(filter_.get("offer_id"), "filter.offer_id", max_values, _as_offer_id)
    product_ids = _parse_list(filter_.get("product_id"), "filter.product_id", max_values, _as_int)
    visibility = filter_.get("visibility") or "ALL"
    if visibility not in VISIBILITY_VALUES:
        raise ApiError(400, f"filter.visibility {visibility!r} is not a known visibility value")

    return sandbox.product_stocks_page(
        offer_ids=offer_ids,
        product_ids=product_ids,
        visibility=visibility,
        after_product_id=after,
        limit=limit,
    )


def warehouse_stocks(sandbox: Sandbox, body: dict) -> dict:
    """Handle `/v1/product/info/warehouse/stocks`."""
    if body.get("warehouse_id") is None:
        raise ApiError(400, "warehouse_id is required")
    warehouse_id = _as_int(body["warehouse_id"], "warehouse_id")
    limit = _parse_limit(body.get("limit"), sandbox.limits.max_page_size)
    after = _parse_cursor(body.get("cursor"))
    return sandbox.warehouse_stocks_page(warehouse_id, after, limit)


# /v1/warehouse/list was switched off on 7 Apr 2026 (Ozon Seller API changelog).
WAREHOUSE_PAGE_MAX = 200

OZON_METHODS: dict[str, OzonMethod] = {
    "/v2/warehouse/list": OzonMethod(warehouse_list, write=False),
    "/v2/products/stocks": OzonMethod(products_stocks, write=True),
    "/v4/product/info/stocks": OzonMethod(product_info_stocks, write=False),
    "/v1/product/info/warehouse/stocks": OzonMethod(warehouse_stocks, write=False),
    "/v1/product/import/prices": OzonMethod(prices.import_prices, write=True),
    "/v5/product/info/prices": OzonMethod(prices.product_info_prices, write=False),
    **postings.POSTING_METHODS,
}
STOCK_WRITE_PATH = "/v2/products/stocks"


def _parse_stock_item(item: Any, index: int) -> StockUpdate:
    where = f"stocks[{index}]"
    if not isinstance(item, dict):
        raise ApiError(400, f"{where} must be an object")

    warehouse_id = _as_int(item.get("warehouse_id"), f"{where}.warehouse_id", default=0)
    if warehouse_id <= 0:
        # Ozon's own wording for an item without a warehouse.
        raise ApiError(
            400,
            f"Request validation error: invalid ProductsStocksRequest.Stocks[{index}]: "
            "embedded message failed validation",
        )
    if item.get("stock") is None:
        raise ApiError(400, f"{where}.stock is required")
    stock = _as_int(item["stock"], f"{where}.stock")

    offer_id = item.get("offer_id")
    if offer_id is not None and not isinstance(offer_id, str):
        raise ApiError(400, f"{where}.offer_id must be a string, got {offer_id!r}")
    product_id = _as_int(item.get("product_id"), f"{where}.product_id", default=0)
    if not offer_id and product_id <= 0:
        raise ApiError(400, f"{where} needs an offer_id or a positive product_id")
    return StockUpdate(offer_id or None, product_id or None, stock, warehouse_id)


def _as_int(value: Any, name: str, default: int | None = None) -> int:
    """Read an int64 field, which protobuf JSON also allows as a decimal string."""
    if value is None and default is not None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise ApiError(400, f"{name} must be an integer, got {value!r}")


def _as_offer_id(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} items must be strings, got {value!r}")
    return value


def _parse_list(
    value: Any, name: str, max_length: int, parse: Callable[[Any, str], Any]
) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, f"{name} must be an array")
    if len(value) > max_length:
        raise ApiError(400, f"{name} has {len(value)} values, but at most {max_length} are allowed")
    return [parse(item, name) for item in value]


def _parse_limit(value: Any, max_page_size: int) -> int:
    if value is None:
        raise ApiError(400, "limit is required")
    limit = _as_int(value, "limit")
    if not 1 <= limit <= max_page_size:
        raise ApiError(400, f"limit must be between 1 and {max_page_size}, got {limit}")
    return limit


def _parse_cursor(value: Any) -> int | None:
    """Read a cursor: empty for the first page, else the last key of the previous page."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ApiError(
        400,
        f"cursor {value!r} is invalid. Pass the cursor of the previous page, or an empty "
        "one for the first page",
    )
