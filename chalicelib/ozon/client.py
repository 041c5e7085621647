"""Client of the Ozon Seller API stock methods.

The client makes one HTTP call per method call (or per page) and never retries. It
raises an `OzonError` subclass whose class shows whether to retry, alert or drop the
request, and it leaves pacing to the `before_request` hook. HTTP 200 does not mean
every item succeeded: callers read `StockUpdateResult.updated` and `errors` per item.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Sequence, TypeVar

import requests
from pydantic import BaseModel, ValidationError

from chalicelib.observability import logger, register_secret
from chalicelib.ozon.credentials import OzonCredentials
from chalicelib.ozon.errors import (
    OzonContractError,
    OzonError,
    OzonTimeoutError,
    error_from_response,
)
from chalicelib.ozon.models import (
    ProductStocks,
    ProductStocksPage,
    StockUpdate,
    StockUpdateResponse,
    StockUpdateResult,
    Warehouse,
    WarehouseListResponse,
    WarehouseStock,
    WarehouseStocksPage,
)
from chalicelib.ozon.prices import (
    MAX_PRICE_PAGE,
    MAX_PRICE_UPDATES,
    PATH_IMPORT_PRICES,
    PATH_PRODUCT_PRICES,
    PriceUpdate,
    PriceUpdateResponse,
    PriceUpdateResult,
    ProductPrices,
    ProductPricesPage,
)

# /v1/warehouse/list was switched off on 7 Apr 2026 (Ozon Seller API docs, April 2026).
PATH_WAREHOUSE_LIST = "/v2/warehouse/list"
PATH_STOCKS_UPDATE = "/v2/products/stocks"
PATH_PRODUCT_STOCKS = "/v4/product/info/stocks"
PATH_WAREHOUSE_STOCKS = "/v1/product/info/warehouse/stocks"

# Per-request maximums from the Ozon Seller API docs.
MAX_STOCK_UPDATES = 100
MAX_WAREHOUSE_PAGE = 200
MAX_STOCK_PAGE = 1000
# NOTE: Ozon documents 1000 filter values for /v5/product/info/prices; the same limit
# is assumed for the offer_id filter of /v4/product/info/stocks.
MAX_OFFER_FILTER = 1000

ModelT = TypeVar("ModelT", bound=BaseModel)


class OzonClient:
    """Calls the Ozon Seller API with the seller's credentials.

    `before_request(path)` runs before every HTTP call, so a rate limiter can wait or
    raise there. `timeout` is in seconds and bounds both connecting and each read.
    """

    def __init__(
        self,
        base_url: str,
        credentials: OzonCredentials,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        before_request: Callable[[str], None] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"invalid Ozon base URL {base_url!r}: expected http:// or https://")
        if timeout <= 0:
            raise ValueError(f"invalid Ozon timeout {timeout!r}: expected seconds > 0")

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._credentials = credentials
        self._session = session or requests.Session()
        self._before_request = before_request

        # Mask the credentials in log lines and error messages even when they came
        # from somewhere other than load_credentials.
        register_secret(credentials.client_id)
        register_secret(credentials.api_key)

    def __repr__(self) -> str:
        return f"OzonClient(base_url={self.base_url!r}, credentials={self._credentials!r})"

    # ------------------------------------------------------------ methods

    def list_warehouses(self) -> list[Warehouse]:
        """Return every FBS and rFBS warehouse of the seller (`/v2/warehouse/list`)."""
        warehouses: list[Warehouse] = []
        cursor = ""
        while True:
            body: dict[str, Any] = {"limit": MAX_WAREHOUSE_PAGE}
            if cursor:
                body["cursor"] = cursor
            page = self._call(PATH_WAREHOUSE_LIST, body, WarehouseListResponse)
            warehouses.extend(page.warehouses)
            if not page.has_next or not page.cursor:
                return warehouses
            cursor = _next_cursor(PATH_WAREHOUSE_LIST, cursor, page.cursor)

    def update_stocks(self, items: Sequence[StockUpdate]) -> list[StockUpdateResult]:
        """Set the available stock of up to 100 (offer, warehouse) pairs.

        Returns Ozon's result for each pair; a pair failed unless `updated` is True.
        Raises ValueError before any call when `items` contains more than 100 pairs.
        """
        if len(items) > MAX_STOCK_UPDATES:
            raise ValueError(
                f"{len(items)} stock updates in one request; Ozon accepts at most "
                f"{MAX_STOCK_UPDATES}: split them into batches"
            )
        if not items:
            return []

        body = {"stocks": [item.to_request() for item in items]}
        return self._call(PATH_STOCKS_UPDATE, body, StockUpdateResponse).result

    def iter_product_stocks(
        self,
        offer_ids: Sequence[str] | None = None,
        limit: int = MAX_STOCK_PAGE,
    ) -> Iterator[ProductStocks]:
        """Yield the FBS, rFBS and FBP stock of every product (`/v4/product/info/stocks`).

        With `offer_ids`, only those products are read; an empty sequence reads nothing.
        `limit` is the page size, 1 to 1000.
        """
        _check_limit(limit, MAX_STOCK_PAGE)
        if isinstance(offer_ids, str):
            # A str is a Sequence[str] too, and would be split into one-letter offers.
            raise TypeError(f"offer_ids must be a list of offer ids, got the string {offer_ids!r}")
        if offer_ids is None:
            yield from self._iter_product_stocks_pages({"visibility": "ALL"}, limit)
            return

        for start in range(0, len(offer_ids), MAX_OFFER_FILTER):
            chunk = list(offer_ids[start : start + MAX_OFFER_FILTER])
            yield from self._iter_product_stocks_pages({"offer_id": chunk}, limit)

    def iter_warehouse_stocks(
        self,
        warehouse_id: int,
        limit: int = MAX_STOCK_PAGE,
    ) -> Iterator[WarehouseStock]:
        """Yield the stock of every product in one FBS or rFBS warehouse.

        Uses `/v1/product/info/warehouse/stocks`; `limit` is the page size, 1 to 1000.
        """
        _check_limit(limit, MAX_STOCK_PAGE)
        cursor = ""
        while True:
            body = {"warehouse_id": warehouse_id, "limit": limit, "cursor": cursor}
            page = self._call(PATH_WAREHOUSE_STOCKS, body, WarehouseStocksPage)
            yield from page.stocks

            # An empty page ends the walk even with has_next=true, because Ozon's list
            # methods can report has_next=true at the end.
            if not (page.has_next and page.cursor and page.stocks):
                return
            cursor = _next_cursor(PATH_WAREHOUSE_STOCKS, cursor, page.cursor)

    def import_prices(self, items: Sequence[PriceUpdate]) -> list[PriceUpdateResult]:
        """Set the prices of up to 1000 products (`/v1/product/import/prices`).

        Returns Ozon's result per item; an item failed unless `updated` is True.
        Raises ValueError before any call when `items` contains more than 1000 items.
        """
        if len(items) > MAX_PRICE_UPDATES:
            raise ValueError(
                f"{len(items)} price updates in one request; Ozon accepts at most "
                f"{MAX_PRICE_UPDATES}: split them into batches"
            )
        if not items:
            return []
        body = {"prices": [item.to_request() for item in items]}
        return self._call(PATH_IMPORT_PRICES, body, PriceUpdateResponse).result

    def iter_prices(
        self, offer_ids: Sequence[str] | None = None, limit: int = MAX_PRICE_PAGE
    ) -> Iterator[ProductPrices]:
        """Yield the prices of every product, or of `offer_ids` (`/v5/product/info/prices`)."""
        _check_limit(limit, MAX_PRICE_PAGE)
        if isinstance(offer_ids, str):
            raise TypeError(f"offer_ids must be a list of offer ids, got the string {offer_ids!r}")
        if offer_ids is None:
            yield from self._iter_price_pages({"visibility": "ALL"}, limit)
            return
        for start in range(0, len(offer_ids), MAX_OFFER_FILTER):
            chunk = list(offer_ids[start : start + MAX_OFFER_FILTER])
            yield from self._iter_price_pages({"offer_id": chunk, "visibility": "ALL"}, limit)

    def _iter_price_pages(self, filter_: dict[str, Any], limit: int) -> Iterator[ProductPrices]:
        cursor = ""
        while True:
            body = {"filter": filter_, "limit": limit, "cursor": cursor}
            page = self._call(PATH_PRODUCT_PRICES, body, ProductPricesPage)
            yield from page.items
            if not (page.cursor and page.items):
                return
            cursor = _next_cursor(PATH_PRODUCT_PRICES, cursor, page.cursor)

    def _iter_product_stocks_pages(
        self, filter_: dict[str, Any], limit: int
    ) -> Iterator[ProductStocks]:
        cursor = ""
        while True:
            body = {"filter": filter_, "limit": limit, "cursor": cursor}
            page = self._call(PATH_PRODUCT_STOCKS, body, ProductStocksPage)
            yield from page.items

            if not (page.cursor and page.items):
                return
            cursor = _next_cursor(PATH_PRODUCT_STOCKS, cursor, page.cursor)

    # ------------------------------------------------------------ transport

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` as JSON to `path` and return the decoded JSON object.

        Raises the OzonError subclass that matches the failure: a non-2xx status, a
        timeout or connection failure, or a 2xx body that is not a JSON object.
        """
        if self._before_request is not None:
            self._before_request(path)

        started = time.perf_counter()
        response = self._send(path, body)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)

        logger.debug(
            "Ozon call finished",
            extra={
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "request_items": _count_items(body),
            },
        )

        if not 200 <= response.status_code < 300:
            raise error_from_response(path, response.status_code, response.headers, response.text)
        return _decode_object(path, response)

    def _send(self, path: str, body: dict[str, Any]) -> requests.Response:
        headers = {**self._credentials.headers(), "Content-Type": "application/json"}
        try:
            # Redirects are not followed: requests would turn a redirected POST into a GET.
            return self._session.post(
                self.base_url + path,
                json=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except (requests.Timeout, requests.ConnectionError) as error:
            raise OzonTimeoutError(path, message=_transport_message(error, self.timeout)) from error
        except requests.RequestException as error:
            raise OzonError(path, message=f"request failed: {type(error).__name__}") from error

    def _call(self, path: str, body: dict[str, Any], model: type[ModelT]) -> ModelT:
        payload = self.post(path, body)
        try:
            return model.model_validate(payload)
        except ValidationError as error:
            raise OzonContractError(
                path, 200, message=f"response does not match {model.__name__}: {_summary(error)}"
            ) from error


def _check_limit(limit: int, maximum: int) -> None:
    if not 1 <= limit <= maximum:
        raise ValueError(f"invalid page limit {limit!r}: expected 1 to {maximum}")


def _next_cursor(path: str, sent: str, received: str) -> str:
    # A cursor that does not move would page forever.
    if received == sent:
        raise OzonContractError(path, 200, message=f"cursor {received!r} repeats; paging stopped")
    return received


def _decode_object(path: str, response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError as error:
        raise OzonContractError(
            path, response.status_code, message=f"response body is not JSON: {response.text}"
        ) from error
    if not isinstance(payload, dict):
        raise OzonContractError(
            path,
            response.status_code,
            message=f"response body is not a JSON object: {response.text}",
        )
    return payload


def _count_items(body: dict[str, Any]) -> int:
    # Items sent in the top-level lists of a request body, e.g. the pairs of an update.
    return sum(len(value) for value in body.values() if isinstance(value, list))


def _transport_message(error: requests.RequestException, timeout: float) -> str:
    if isinstance(error, requests.Timeout):
        return f"timed out after {timeout:g} s"
    # The exception text names the host and port but never the headers.
    return f"connection failed: {type(error).__name__}"


def _summary(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
        for item in error.errors()[:3]
    ]
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
