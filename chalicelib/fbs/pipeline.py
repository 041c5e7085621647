"""The posting pipeline: re-read a posting, record it, pack it, and schedule its label.

Every event re-reads the posting from `/v3/posting/fbs/get` and acts on that answer,
never on the notice alone. A posting's row only moves forward: a late or repeated
notice that reads an older status is journaled and changes nothing.

Packing (`/v4/posting/fbs/ship`) is not idempotent. A claim row marks the attempt before
the call, and a later attempt first re-reads the posting: one that is packed is not
sent again, and one still awaiting packaging is sent again only after the earlier
attempt failed or `SHIP_SETTLE_SECONDS` have passed without Ozon applying it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.alerts import Notifier
from chalicelib.clock import Clock
from chalicelib.fbs.messages import FbsEventMessage, LabelMessage
from chalicelib.fbs.models import Posting, PostingProduct
from chalicelib.fbs.store import ClaimTaken, FbsStore
from chalicelib.observability import logger, metrics
from chalicelib.ozon.errors import OzonRequestError, OzonRetryableError
from chalicelib.ozon.fbs import OzonFbsClient, PostingNotFoundError
from chalicelib.ozon.fbs_models import (
    AWAITING_DELIVER,
    AWAITING_PACKAGING,
    CANCELLED,
    SHIP_FAILED,
    FbsPosting,
    status_rank,
)
from chalicelib.settings import Settings
from chalicelib.storage.queues import SQS_DELAY_MAX_SECONDS, MessageQueue, OutgoingMessage

SHIP = "ship"
LABEL = "label"
# Virtual seconds after which a ship call that Ozon has not applied counts as lost.
SHIP_SETTLE_SECONDS = 120
# Virtual seconds before a posting whose ship was not yet confirmed is read again.
RECHECK_SECONDS = 30


class RetryLater(Exception):
    """The message cannot finish now; the handler makes it visible again after a short delay."""


@dataclass
class FbsDeps:
    """Adapters of the FBS flow, built once per process by `chalicelib.fbs.wiring`."""

    settings: Settings
    store: FbsStore
    ozon: OzonFbsClient
    events: MessageQueue
    labels: MessageQueue
    s3: Any
    bucket: str
    notifier: Notifier
    clock: Clock
    http: requests.Session


def action_key(posting_number: str) -> str:
    return f"action#{posting_number}"


def real_delay(clock: Clock, virtual_seconds: float) -> int:
    """Convert a delay in virtual seconds to whole real SQS delay seconds (0 to 900)."""
    return max(0, min(SQS_DELAY_MAX_SECONDS, math.ceil(clock.real_seconds(virtual_seconds))))


def merge_posting(row: Posting | None, api: FbsPosting, now: datetime) -> Posting | None:
    """Return `row` moved forward to what Ozon reports, or None when nothing changes."""
    if row is None:
        row = Posting(api.posting_number, status=api.status, substatus=api.substatus or None,
                      warehouse_id=api.warehouse_id, shipment_date=api.shipment_date or now,
                      in_process_at=api.in_process_at, products=_products(api))
        _mark_progress(row, api, now)
        return row

    before = (row.status, row.substatus, row.shipment_date, row.packed_at, row.cancelled)
    if status_rank(api.status) > status_rank(row.status) or (
            api.status == row.status and (api.substatus or None) != row.substatus):
        row.status = api.status
        row.substatus = api.substatus or None
    # The ship-by time can move until the posting is packed.
    if row.packed_at is None and api.shipment_date is not None:
        row.shipment_date = api.shipment_date
    _mark_progress(row, api, now)
    after = (row.status, row.substatus, row.shipment_date, row.packed_at, row.cancelled)
    return row if after != before else None


def _mark_progress(row: Posting, api: FbsPosting, now: datetime) -> None:
    if api.status == CANCELLED:
        row.cancelled = True
    if row.packed_at is None and status_rank(row.status) >= status_rank(AWAITING_DELIVER) and not row.cancelled:
        row.packed_at = now
        row.late = now > row.shipment_date


def _products(api: FbsPosting) -> list[PostingProduct]:
    return [PostingProduct(sku=p.sku, offer_id=p.offer_id, name=p.name, quantity=p.quantity) for p in api.products]


class PostingPipeline:
    """Handles messages of the events queue."""

    def __init__(self, deps: FbsDeps) -> None:
        self.deps = deps

    def handle(self, message: FbsEventMessage) -> str:
        """Re-read the posting, record it and take the next step; returns what was done."""
        deps = self.deps
        number = message.posting_number
        api = self.read(number, message.source, message.message_type)
        if api is None:
            return "not_found"

        kept: list[str] = []

        def advance(current: Posting | None) -> Posting | None:
            kept[:] = [current.status] if current is not None else []
            return merge_posting(current, api, deps.store.now())

        row = deps.store.change(number, advance)
        stale = bool(kept) and status_rank(api.status) < status_rank(kept[0])
        deps.store.record(number, "stale_state_ignored" if stale else "event", source=message.source,
                          message_type=message.message_type, status=api.status, substatus=api.substatus,
                          kept=row.status)

        if row.cancelled:
            return "cancelled"
        if api.status == AWAITING_PACKAGING and (deps.settings.fbs_auto_pack or message.action == "pack"):
            return self.pack(api)
        if row.packed_at is not None and row.status == AWAITING_DELIVER and row.label_key is None:
            self.schedule_label(row)
            return "label_scheduled"
        return "recorded"

    def read(self, number: str, source: str, message_type: str = "") -> FbsPosting | None:
        """Read a posting from Ozon; an unknown number is journaled and returns None."""
        try:
            return self.deps.ozon.get_posting(number)
        except PostingNotFoundError as error:
            logger.warning("posting not found at Ozon; nothing done", extra={"posting_number": number,
                                                                             "source": source})
            metrics.add_metric(name="FbsPostingNotFound", unit=MetricUnit.Count, value=1)
            self.deps.store.record(number, "posting_not_found", source=source, message_type=message_type,
                                   error=error.message)
            return None

    # --- packing ----------------------------------------------------------------

    def pack(self, api: FbsPosting) -> str:
        """Send `/v4/posting/fbs/ship` once for a posting awaiting packaging, then confirm it."""
        deps = self.deps
        number = api.posting_number
        if not self._claim_ship(api):
            return "ship_pending"

        try:
            deps.ozon.ship(api)
        except OzonRetryableError as error:
            # Ozon may or may not have applied it: the next attempt re-reads first.
            deps.store.update_claim(action_key(number), SHIP, state="unknown", at=deps.clock.now())
            deps.store.record(number, "ship_unknown", error=str(error))
            raise
        except OzonRequestError as error:
            deps.store.update_claim(action_key(number), SHIP, state="failed", at=deps.clock.now())
            deps.store.record(number, "ship_rejected", code=error.code, error=error.message)
            deps.notifier.alert("fbs_ship_failed", posting=number, detail=error.message or str(error.code))
            return "ship_rejected"

        # The claim keeps state "sending": until the re-read, it is unknown whether Ozon packed it.
        return self.confirm_packed(number)

    def confirm_packed(self, number: str) -> str:
        """Re-read a posting after the ship call: HTTP 200 does not prove it was packed."""
        deps = self.deps
        api = deps.ozon.get_posting(number)
        if api.substatus == SHIP_FAILED:
            deps.store.update_claim(action_key(number), SHIP, state="failed", at=deps.clock.now())
            deps.store.record(number, "ship_failed", status=api.status, substatus=api.substatus)
            deps.notifier.alert("fbs_ship_failed", posting=number, detail=SHIP_FAILED)
            metrics.add_metric(name="FbsShipFailed", unit=MetricUnit.Count, value=1)
            return "ship_failed"

        row = deps.store.change(number, lambda current: merge_posting(current, api, deps.store.now()))
        if api.status != AWAITING_DELIVER:
            deps.store.record(number, "ship_not_confirmed", status=api.status, substatus=api.substatus)
            recheck = FbsEventMessage(posting_number=number, source="recheck", received_at=deps.clock.now())
            deps.events.send([OutgoingMessage(recheck.model_dump(), real_delay(deps.clock, RECHECK_SECONDS))])
            return "ship_unconfirmed"

        metrics.add_metric(name="FbsPacked", unit=MetricUnit.Count, value=1)
        if row.late:
            metrics.add_metric(name="FbsShippedLate", unit=MetricUnit.Count, value=1)
        delay = self.schedule_label(row, record=False)
        deps.store.record(number, "packed", late=bool(row.late), shipment_date=row.shipment_date.isoformat(),
                          label_delay_seconds=delay)
        return "packed"

    def _claim_ship(self, api: FbsPosting) -> bool:
        """Take the ship claim; an earlier attempt's claim is taken over only when the
        fresh read proves that attempt did not pack the posting."""
        deps = self.deps
        key = action_key(api.posting_number)
        try:
            deps.store.claim(key, SHIP, state="sending", at=deps.clock.now())
            return True
        except ClaimTaken as taken:
            previous = taken.detail

        settled = deps.clock.now() - float(previous.get("at", 0)) >= SHIP_SETTLE_SECONDS
        if previous.get("state") == "failed" or api.substatus == SHIP_FAILED or settled:
            deps.store.record(api.posting_number, "ship_retry", previous=previous.get("state"))
            deps.store.release(key, SHIP)
            try:
                deps.store.claim(key, SHIP, state="sending", at=deps.clock.now())
                return True
            except ClaimTaken:
                return False
        deps.store.record(api.posting_number, "ship_pending", previous=previous.get("state"))
        raise RetryLater(f"posting {api.posting_number}: an earlier ship call is not settled yet")

    # --- labels -----------------------------------------------------------------

    def schedule_label(self, row: Posting, record: bool = True) -> int | None:
        """Queue the label request once, due `fbs_label_delay_seconds` after packing.

        Returns the SQS delay in real seconds, or None when the label was already queued.
        """
        deps = self.deps
        number = row.posting_number
        try:
            deps.store.claim(action_key(number), LABEL, state="scheduled", at=deps.clock.now())
        except ClaimTaken:
            return None

        due = row.packed_at.timestamp() + deps.settings.fbs_label_delay_seconds
        delay = real_delay(deps.clock, due - deps.clock.now())
        try:
            deps.labels.send([OutgoingMessage(LabelMessage(posting_number=number).model_dump(), delay)])
        except Exception:
            deps.store.release(action_key(number), LABEL)
            raise
        if record:
            deps.store.record(number, "label_scheduled", delay_seconds=delay)
        return delay
