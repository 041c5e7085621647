"""Request and response models of the Ozon Seller API FBS methods: postings, labels, carriages.

Like the stock models, they ignore unknown fields and accept int64 ids as strings. Shapes
of methods newer than the April 2026 OpenAPI export (`/v4/posting/fbs/unfulfilled/list`,
`/v3/posting/fbs/package-label/create`, `/v2/posting/fbs/package-label/get`) follow the
Ozon Seller API docs of September 2026: no `result` wrapper, cursor paging.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from chalicelib.ozon.models import EmptyIfNull, OzonModel, StringOrEmpty, UtcTimestamp

# Ozon API posting statuses in the order a posting moves through them. Push notices use
# other names (`posting_created`...), so workers act on these, read back from the API.
STATUS_ORDER = {
    "acceptance_in_progress": 0,
    "awaiting_registration": 1,
    "awaiting_approve": 2,
    "awaiting_packaging": 3,
    "awaiting_verification": 3,
    "awaiting_deliver": 4,
    "arbitration": 5,
    "client_arbitration": 5,
    "driver_pickup": 5,
    "delivering": 6,
    "delivered": 7,
    "not_accepted": 7,
    "cancelled": 8,
}
CANCELLED = "cancelled"
AWAITING_PACKAGING = "awaiting_packaging"
AWAITING_DELIVER = "awaiting_deliver"
SHIP_FAILED = "ship_failed"


def status_rank(status: str) -> int:
    """Return how far `status` is in a posting's life; unknown statuses rank lowest."""
    return STATUS_ORDER.get(status, -1)


class DeliveryMethod(OzonModel):
    """The delivery method of a posting; its `id` is what `/v1/carriage/create` takes."""

    id: int
    warehouse_id: int
    name: StringOrEmpty = ""


class FbsProduct(OzonModel):
    """One product line of a posting; `sku` is the Ozon SKU that `/v4/posting/fbs/ship` calls `product_id`."""

    sku: int
    quantity: int
    offer_id: StringOrEmpty = ""
    name: StringOrEmpty = ""


class Cancellation(OzonModel):
    cancel_reason_id: int = 0
    cancel_reason: StringOrEmpty = ""
    cancellation_initiator: StringOrEmpty = ""


class FbsPosting(OzonModel):
    """One FBS posting as `/v3/posting/fbs/get` and the v4 lists return it.

    `shipment_date` is the ship-by deadline and can move, so it is read on every visit.
    """

    posting_number: str
    status: str
    substatus: StringOrEmpty = ""
    delivery_method: DeliveryMethod
    in_process_at: UtcTimestamp = None
    shipment_date: UtcTimestamp = None
    products: Annotated[list[FbsProduct], EmptyIfNull] = Field(default_factory=list)
    cancellation: Cancellation | None = None

    @property
    def warehouse_id(self) -> int:
        return self.delivery_method.warehouse_id


class PostingResponse(OzonModel):
    """The reply of `/v3/posting/fbs/get`."""

    result: FbsPosting


class UnfulfilledPage(OzonModel):
    """One page of `/v4/posting/fbs/unfulfilled/list`; an empty `cursor` ends the list."""

    postings: Annotated[list[FbsPosting], EmptyIfNull] = Field(default_factory=list)
    cursor: StringOrEmpty = ""
    has_next: bool | None = None


class ShipResponse(OzonModel):
    """The reply of `/v4/posting/fbs/ship`: the posting numbers Ozon accepted.

    HTTP 200 does not prove the posting was packed: re-read it and check `substatus`.
    """

    result: Annotated[list[str], EmptyIfNull] = Field(default_factory=list)


class LabelTask(OzonModel):
    task_id: int
    task_type: StringOrEmpty = ""


class LabelTasksResponse(OzonModel):
    """The reply of `/v3/posting/fbs/package-label/create`."""

    tasks: Annotated[list[LabelTask], EmptyIfNull] = Field(default_factory=list)


class UnprintedPosting(OzonModel):
    posting_number: str
    message: StringOrEmpty = ""


class LabelTaskState(OzonModel):
    code: str
    postings_count: int = 0
    printed_postings_count: int = 0
    unprinted_postings: Annotated[list[UnprintedPosting], EmptyIfNull] = Field(default_factory=list)


class LabelTaskError(OzonModel):
    code: StringOrEmpty = ""
    message: StringOrEmpty = ""


class LabelTaskResponse(OzonModel):
    """The reply of `/v2/posting/fbs/package-label/get`: `status.code` is
    `pending`, `in_progress`, `completed` or `error`; `file_url` is set when completed."""

    status: LabelTaskState
    file_url: StringOrEmpty = ""
    error: LabelTaskError | None = None


class CarriageCreateResponse(OzonModel):
    carriage_id: int


class CarriageSummary(OzonModel):
    """One carriage in `/v1/carriage/delivery/list`; Ozon writes its id as a string."""

    id: int
    status: StringOrEmpty = ""
    postings_count: int = 0


class DeliveryMethodCarriages(OzonModel):
    delivery_method_id: int
    carriages: list[CarriageSummary] = Field(default_factory=list)


class CarriageDeliveryListResponse(OzonModel):
    """The reply of `/v1/carriage/delivery/list`: per delivery method, its carriages of the day."""

    result: list[DeliveryMethodCarriages] = Field(default_factory=list)


class CarriageResponse(OzonModel):
    """The reply of `/v1/carriage/get`."""

    carriage_id: int
    status: StringOrEmpty = ""
    delivery_method_id: int = 0
    warehouse_id: int = 0
    departure_date: UtcTimestamp = None


def posting_day(shipment_date: datetime) -> str:
    """Return the UTC day (YYYY-MM-DD) of a ship-by time; labels are filed under it."""
    return shipment_date.strftime("%Y-%m-%d")
