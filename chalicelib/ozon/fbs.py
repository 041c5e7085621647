"""Client of the Ozon Seller API FBS methods: postings, packing, labels and carriages.

`OzonFbsClient` wraps an `OzonClient` and shares its transport, credentials, errors and
rate limiting. Like the stock methods, every call is made once and never retried here:
`/v4/posting/fbs/ship` and `/v1/carriage/*` are not idempotent, so callers re-read the
posting or carriage before they try again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Sequence, TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib.ozon.client import OzonClient
from chalicelib.ozon.errors import OzonContractError, OzonError, OzonRequestError
from chalicelib.ozon.fbs_models import (
    CarriageCreateResponse,
    CarriageDeliveryListResponse,
    CarriageResponse,
    CarriageSummary,
    FbsPosting,
    LabelTasksResponse,
    LabelTaskResponse,
    PostingResponse,
    ShipResponse,
    UnfulfilledPage,
)

PATH_POSTING_GET = "/v3/posting/fbs/get"
# /v3/posting/fbs/unfulfilled/list was switched off on 31 Aug 2026 (Ozon Seller API changelog).
PATH_UNFULFILLED_LIST = "/v4/posting/fbs/unfulfilled/list"
PATH_SHIP = "/v4/posting/fbs/ship"
# The older label methods were switched off on 2 Nov 2026 (Ozon Seller API changelog).
PATH_LABEL_CREATE = "/v3/posting/fbs/package-label/create"
PATH_LABEL_GET = "/v2/posting/fbs/package-label/get"
# /v2/posting/fbs/act/create was switched off on 7 Sep 2026 (Ozon Seller API changelog).
PATH_CARRIAGE_CREATE = "/v1/carriage/create"
PATH_CARRIAGE_APPROVE = "/v1/carriage/approve"
PATH_CARRIAGE_GET = "/v1/carriage/get"
PATH_CARRIAGE_DELIVERY_LIST = "/v1/carriage/delivery/list"

FBS_PATHS = (
    PATH_POSTING_GET, PATH_UNFULFILLED_LIST, PATH_SHIP, PATH_LABEL_CREATE, PATH_LABEL_GET,
    PATH_CARRIAGE_CREATE, PATH_CARRIAGE_APPROVE, PATH_CARRIAGE_GET,
)

# Per-request maximums from the Ozon Seller API docs.
MAX_UNFULFILLED_PAGE = 100
MAX_LABEL_POSTINGS = 1000

# Statuses the unfulfilled list is asked for: postings still to pack or to hand over.
UNFULFILLED_STATUSES = ("awaiting_packaging", "awaiting_deliver")

ModelT = TypeVar("ModelT", bound=BaseModel)


class PostingNotFoundError(OzonRequestError):
    """Ozon has no posting with this number, for example one forged in a push notice."""

    def advice(self) -> str:
        return "Do not act on this posting; check where its number came from."


class OzonFbsClient:
    """The FBS methods of the Ozon Seller API, called through `client`."""

    def __init__(self, client: OzonClient) -> None:
        self._client = client

    def get_posting(self, posting_number: str) -> FbsPosting:
        """Read one posting (`/v3/posting/fbs/get`).

        Raises PostingNotFoundError when Ozon does not know the number.
        """
        body = {"posting_number": posting_number, "with": {"analytics_data": False, "financial_data": False}}
        try:
            return self._call(PATH_POSTING_GET, body, PostingResponse).result
        except OzonError as error:
            if _is_posting_not_found(error):
                raise PostingNotFoundError(PATH_POSTING_GET, error.status, error.code,
                                           f"posting {posting_number} not found") from error
            raise

    def iter_unfulfilled(
        self,
        cutoff_from: datetime,
        cutoff_to: datetime,
        statuses: Sequence[str] = UNFULFILLED_STATUSES,
        limit: int = MAX_UNFULFILLED_PAGE,
    ) -> Iterator[FbsPosting]:
        """Yield every posting whose ship-by time is in [cutoff_from, cutoff_to].

        Uses `/v4/posting/fbs/unfulfilled/list` with cursor paging; `limit` is 1 to 100.
        """
        if not 1 <= limit <= MAX_UNFULFILLED_PAGE:
            raise ValueError(f"invalid page limit {limit!r}: expected 1 to {MAX_UNFULFILLED_PAGE}")
        cursor = ""
        while True:
            body = {
                "cursor": cursor,
                "limit": limit,
                "sort_dir": "ASC",
                "filter": {
                    "cutoff_from": _iso(cutoff_from),
                    "cutoff_to": _iso(cutoff_to),
                    "statuses": list(statuses),
                },
            }
            page = self._call(PATH_UNFULFILLED_LIST, body, UnfulfilledPage)
            yield from page.postings

            # An empty page ends the walk even when has_next is true.
            if not page.cursor or not page.postings or page.has_next is False:
                return
            if page.cursor == cursor:
                raise OzonContractError(PATH_UNFULFILLED_LIST, 200, message=f"cursor {cursor!r} repeats; paging stopped")
            cursor = page.cursor

    def ship(self, posting: FbsPosting) -> ShipResponse:
        """Pack `posting` into one package with all its products (`/v4/posting/fbs/ship`)."""
        products = [{"product_id": product.sku, "quantity": product.quantity} for product in posting.products]
        body = {
            "packages": [{"products": products}],
            "posting_number": posting.posting_number,
            "with": {"additional_data": True},
        }
        return self._call(PATH_SHIP, body, ShipResponse)

    def create_label_task(self, posting_numbers: Sequence[str]) -> LabelTasksResponse:
        """Ask Ozon to render the labels of up to 1000 packed postings."""
        if not posting_numbers or len(posting_numbers) > MAX_LABEL_POSTINGS:
            raise ValueError(
                f"{len(posting_numbers)} postings in one label task; Ozon takes 1 to {MAX_LABEL_POSTINGS}")
        return self._call(PATH_LABEL_CREATE, {"posting_numbers": list(posting_numbers)}, LabelTasksResponse)

    def get_label_task(self, task_id: int) -> LabelTaskResponse:
        return self._call(PATH_LABEL_GET, {"task_id": task_id}, LabelTaskResponse)

    def create_carriage(self, delivery_method_id: int, departure_date: datetime) -> int:
        """Create a carriage of every posting ready to ship; returns its id (status `new`)."""
        body = {"delivery_method_id": delivery_method_id, "departure_date": _iso(departure_date)}
        return self._call(PATH_CARRIAGE_CREATE, body, CarriageCreateResponse).carriage_id

    def approve_carriage(self, carriage_id: int) -> None:
        self._client.post(PATH_CARRIAGE_APPROVE, {"carriage_id": carriage_id})

    def get_carriage(self, carriage_id: int) -> CarriageResponse:
        return self._call(PATH_CARRIAGE_GET, {"carriage_id": carriage_id}, CarriageResponse)

    def list_carriages(self, delivery_method_id: int, departure_date: datetime) -> list[CarriageSummary]:
        """Return the carriages of a delivery method on the day of `departure_date`."""
        body = {"delivery_method_id": delivery_method_id, "departure_date": _iso(departure_date)}
        reply = self._call(PATH_CARRIAGE_DELIVERY_LIST, body, CarriageDeliveryListResponse)
        return [carriage for method in reply.result if method.delivery_method_id == delivery_method_id
                for carriage in method.carriages]

    def _call(self, path: str, body: dict[str, Any], model: type[ModelT]) -> ModelT:
        payload = self._client.post(path, body)
        try:
            return model.model_validate(payload)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()[:3])
            raise OzonContractError(path, 200, message=f"response does not match {model.__name__}: {problems}") from error


def _is_posting_not_found(error: OzonError) -> bool:
    # NOTE: Ozon rejects an unknown posting number with HTTP 404 (or 400) and a message
    # naming the posting. A 404 without that message means the method itself is gone.
    message = (error.message or "").lower()
    return error.status in (400, 404) and "posting" in message and "not found" in message


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
