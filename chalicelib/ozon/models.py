"""Request and response models of the Ozon Seller API stock methods.

Response models are tolerant, because Ozon's responses drift from its own schema.
Unknown fields are ignored, and int64 ids may arrive as strings (pydantic's lax mode
converts them). A `null` in place of a list or a string means "empty", and timestamps
come in several ISO forms. Fields that a caller acts on (ids, quantities, `updated`)
stay required, so a body without them fails validation and the client reports a
broken contract.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

# Ozon writes timestamps in UTC with 0 to 9 fraction digits, for example
# "2025-09-15T10:36:24.417498Z" or "9999-12-31T23:59:59.999999900Z". The offset is
# optional: the API runs in UTC, so a value without one is read as UTC.
_TIMESTAMP = re.compile(
    r"""
    (?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})
    (?:[Tt\ ]
        (?P<hour>\d{2}):(?P<minute>\d{2})
        (?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
    )?
    \s*(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?
    """,
    re.VERBOSE,
)

# Ozon marks "no end" with 9999-12-31... and "not set" with Go's zero time
# 0001-01-01T00:00:00Z (both appear in the Ozon Seller API docs examples).
_NO_END_YEAR = 9999
_NOT_SET_YEAR = 1


def parse_timestamp(value: object) -> datetime | None:
    """Parse an Ozon timestamp into an aware UTC datetime.

    Accepts ISO 8601 strings with 0-9 fraction digits (truncated to microseconds), `Z`
    or a numeric offset (none means UTC), and datetime objects (naive ones are UTC).
    Returns None for None, an empty string, the "no end" year 9999 and the "not set"
    year 1. Raises ValueError for any other value.
    """
    if value is None:
        return None

    if isinstance(value, datetime):
        return _to_utc(value)

    if not isinstance(value, str):
        raise ValueError(f"invalid timestamp {value!r}: expected an ISO 8601 string")

    text = value.strip()
    if not text:
        return None

    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(
            f"invalid timestamp {value!r}: expected ISO 8601, e.g. 2026-01-31T12:00:00Z"
        )

    year = int(match["year"])
    if year in (_NO_END_YEAR, _NOT_SET_YEAR):
        return None

    try:
        parsed = datetime(
            year,
            int(match["month"]),
            int(match["day"]),
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
            _microseconds(match["fraction"]),
            tzinfo=_offset(match["offset"]),
        )
    except ValueError as error:
        raise ValueError(f"invalid timestamp {value!r}: {error}") from error

    return parsed.astimezone(timezone.utc)


def _microseconds(fraction: str | None) -> int:
    # Nanosecond digits are cut, not rounded, so .999999900 cannot roll into the next second.
    if not fraction:
        return 0
    return int(fraction[:6].ljust(6, "0"))


def _offset(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return timezone.utc

    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _none_as_empty_string(value: Any) -> Any:
    return "" if value is None else value


UtcTimestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
EmptyIfNull = BeforeValidator(_none_as_empty_list)
StringOrEmpty = Annotated[str, BeforeValidator(_none_as_empty_string)]


class OzonModel(BaseModel):
    """Base of the response models: ignores fields this service does not read."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---------------------------------------------------------------- /v2/products/stocks


class StockUpdate(BaseModel):
    """One (offer, warehouse) pair for `/v2/products/stocks`.

    `stock` is the quantity available to sell, reserved units excluded. When both
    `offer_id` and `product_id` are sent, Ozon applies the update to `offer_id`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_id: str = Field(min_length=1)
    warehouse_id: int = Field(gt=0)
    stock: int = Field(ge=0)
    product_id: int | None = Field(default=None, gt=0)

    def to_request(self) -> dict[str, Any]:
        """Return the item as Ozon expects it in `stocks[]`, without unset fields."""
        return self.model_dump(exclude_none=True)


class ItemError(OzonModel):
    """A per-item error inside an HTTP 200 response."""

    code: StringOrEmpty = ""
    message: StringOrEmpty = ""


class StockUpdateResult(OzonModel):
    """Ozon's verdict on one pair: `updated` is False when `errors` explains why."""

    offer_id: StringOrEmpty = ""
    product_id: int = 0
    warehouse_id: int
    updated: bool
    errors: Annotated[list[ItemError], EmptyIfNull] = Field(default_factory=list)


class StockUpdateResponse(OzonModel):
    """Body of a `/v2/products/stocks` response."""

    result: Annotated[list[StockUpdateResult], EmptyIfNull] = Field(default_factory=list)


# ---------------------------------------------------------------- /v1/warehouse/list


class Warehouse(OzonModel):
    """An FBS or rFBS warehouse of the seller, in the fields v1 and v2 of the list share.

    `status` is `created` for an active warehouse; other values Ozon documents are
    `new`, `disabled`, `blocked`, `disabled_due_to_limit` and `error`. `working_days`
    are "1".."7" in v1 and "MONDAY".."SUNDAY" in v2.
    """

    warehouse_id: int
    name: StringOrEmpty = ""
    status: StringOrEmpty = ""
    is_rfbs: bool = False
    is_kgt: bool = False
    has_postings_limit: bool = False
    # -1 means no limit.
    postings_limit: int | None = None
    working_days: Annotated[list[str], EmptyIfNull] = Field(default_factory=list)

    @property
    def is_active(self) -> bool:
        return self.status == "created"


class WarehouseListResponse(OzonModel):
    """Body of a `/v2/warehouse/list` response."""

    warehouses: Annotated[list[Warehouse], EmptyIfNull] = Field(default_factory=list)
    cursor: StringOrEmpty = ""
    has_next: bool = False


# ---------------------------------------------------------------- /v4/product/info/stocks


class StockRow(OzonModel):
    """Stock of one product under one fulfilment type (`fbs`, `rfbs`, `fbo`, ...).

    `present` includes `reserved`, so the quantity available to sell is
    `present - reserved`.
    """

    present: int
    reserved: int
    type: StringOrEmpty = ""
    sku: int = 0
    shipment_type: StringOrEmpty = ""
    # Marked deprecated in the April 2026 OpenAPI export; still sent.
    warehouse_ids: Annotated[list[int], EmptyIfNull] = Field(default_factory=list)


class ProductStocks(OzonModel):
    """Stock rows of one product from `/v4/product/info/stocks`."""

    offer_id: StringOrEmpty = ""
    product_id: int
    stocks: Annotated[list[StockRow], EmptyIfNull] = Field(default_factory=list)


class ProductStocksPage(OzonModel):
    """One page of `/v4/product/info/stocks`.

    Ozon removed `total` on 23 Nov 2026 in favour of `total_items`; either is accepted.
    """

    items: Annotated[list[ProductStocks], EmptyIfNull] = Field(default_factory=list)
    cursor: StringOrEmpty = ""
    total_items: int | None = Field(
        default=None, validation_alias=AliasChoices("total_items", "total")
    )


# ---------------------------------------------------------------- /v1/product/info/warehouse/stocks


class WarehouseStock(OzonModel):
    """Stock of one product in one FBS or rFBS warehouse.

    `present` includes `reserved`. `free_stock` is what Ozon counts as available; it is
    None when Ozon leaves it out.
    """

    sku: int = 0
    product_id: int = 0
    offer_id: StringOrEmpty = ""
    warehouse_id: int
    present: int
    reserved: int
    free_stock: int | None = None
    updated_at: UtcTimestamp = None

    @model_validator(mode="after")
    def _require_product_key(self) -> WarehouseStock:
        if not (self.sku or self.product_id or self.offer_id):
            raise ValueError("stock row has none of sku, product_id and offer_id")
        return self


class WarehouseStocksPage(OzonModel):
    """One page of `/v1/product/info/warehouse/stocks`."""

    stocks: Annotated[list[WarehouseStock], EmptyIfNull] = Field(default_factory=list)
    cursor: StringOrEmpty = ""
    has_next: bool = False
