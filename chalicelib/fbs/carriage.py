"""Closing the shipment at the dock: one carriage per delivery method and day.

An operator scans a posting or a print batch as it leaves the dock. The postings are
re-read from Ozon, and for each delivery method a carriage is created with
`/v1/carriage/create` and approved with `/v1/carriage/approve`, once. A claim row keyed
by delivery method and day records each step, so a repeated scan or a retry re-reads the
carriage with `/v1/carriage/get` before it approves again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from chalicelib.fbs.models import Posting, PrintBatch
from chalicelib.fbs.pipeline import FbsDeps, PostingPipeline
from chalicelib.fbs.store import ClaimTaken
from chalicelib.observability import logger
from chalicelib.ozon.errors import OzonRequestError
from chalicelib.ozon.fbs_models import AWAITING_DELIVER, FbsPosting

CARRIAGE_SK = "carriage"
# Carriage statuses after approval (Ozon Seller API docs, /v1/carriage/get).
APPROVED_STATUSES = frozenset({"formed", "received", "closed", "sended"})
DROPPED_STATUSES = frozenset({"cancelled", "canceled"})
# Virtual seconds after which a create call without a reply counts as lost. The next scan
# then looks for the carriage that call may have created before it creates one.
CREATE_SETTLE_SECONDS = 300


class DockScanError(ValueError):
    """A scan cannot close a shipment; `status` is the HTTP status for the operator."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class DockScanResult:
    code: str
    carriages: dict[int, int] = field(default_factory=dict)  # delivery method id -> carriage id
    closed: list[str] = field(default_factory=list)


class CarriageCloser:
    def __init__(self, deps: FbsDeps) -> None:
        self.deps = deps
        self.pipeline = PostingPipeline(deps)

    def dock_scan(self, code: str) -> DockScanResult:
        """Close the shipment of the scanned posting number or print batch id."""
        code = code.strip()
        if not code:
            raise DockScanError("scan code is empty; scan a posting or a batch barcode")
        numbers = self._postings_of(code)
        by_method: dict[int, list[FbsPosting]] = defaultdict(list)
        for number in numbers:
            api = self.pipeline.read(number, "dock_scan")
            if api is None:
                raise DockScanError(f"posting {number} is not known to Ozon; check the label", 404)
            by_method[api.delivery_method.id].append(api)

        result = DockScanResult(code)
        for method_id, postings in by_method.items():
            ready = [p for p in postings if p.status == AWAITING_DELIVER]
            if not ready:
                continue
            carriage_id = self.close(method_id)
            result.carriages[method_id] = carriage_id
            result.closed.extend(self._mark_closed(ready[0].warehouse_id, carriage_id))
        return result

    def close(self, method_id: int) -> int:
        """Create and approve today's carriage of a delivery method once; returns its id."""
        deps = self.deps
        day = deps.store.now().strftime("%Y-%m-%d")
        pk = f"carriage#{method_id}#{day}"
        try:
            deps.store.claim(pk, CARRIAGE_SK, state="creating", at=deps.clock.now())
            previous: dict = {}
        except ClaimTaken as taken:
            previous = taken.detail

        carriage_id = previous.get("carriage_id")
        if carriage_id is None and previous:
            if deps.clock.now() - float(previous.get("at", 0)) < CREATE_SETTLE_SECONDS:
                raise DockScanError(f"the carriage of delivery method {method_id} is being created; scan again "
                                    "in a few minutes", 409)
            carriage_id = self._adopt_lost(pk, method_id)
        if carriage_id is None:
            carriage_id = self._create(pk, method_id)

        # Re-read before approving: a retry must not approve twice.
        carriage = deps.ozon.get_carriage(carriage_id)
        if carriage.status not in APPROVED_STATUSES:
            deps.ozon.approve_carriage(carriage_id)
            logger.info("carriage approved", extra={"carriage_id": carriage_id, "delivery_method_id": method_id})
        deps.store.update_claim(pk, CARRIAGE_SK, state="approved", carriage_id=carriage_id, at=deps.clock.now())
        return carriage_id

    def _adopt_lost(self, pk: str, method_id: int) -> int | None:
        """Find the carriage that an earlier create call created although its reply was lost."""
        deps = self.deps
        existing = [c for c in deps.ozon.list_carriages(method_id, deps.store.now())
                    if c.status not in DROPPED_STATUSES]
        if not existing:
            return None
        carriage_id = existing[0].id
        deps.store.update_claim(pk, CARRIAGE_SK, state="created", carriage_id=carriage_id, at=deps.clock.now())
        logger.info("carriage of a lost create call found", extra={"carriage_id": carriage_id,
                                                                   "delivery_method_id": method_id})
        return carriage_id

    def _create(self, pk: str, method_id: int) -> int:
        deps = self.deps
        try:
            carriage_id = deps.ozon.create_carriage(method_id, deps.store.now())
        except OzonRequestError as error:
            deps.store.release(pk, CARRIAGE_SK)
            raise DockScanError(f"Ozon rejected the carriage of delivery method {method_id}: "
                                f"{error.message or error.code}", 409) from error
        deps.store.update_claim(pk, CARRIAGE_SK, state="created", carriage_id=carriage_id, at=deps.clock.now())
        logger.info("carriage created", extra={"carriage_id": carriage_id, "delivery_method_id": method_id})
        return carriage_id

    def _postings_of(self, code: str) -> list[str]:
        try:
            return list(PrintBatch.get(code, consistent_read=True).posting_numbers)
        except PrintBatch.DoesNotExist:
            return [code]

    def _mark_closed(self, warehouse_id: int, carriage_id: int) -> list[str]:
        """Record the carriage on every packed, open posting of the warehouse.

        NOTE: `/v1/carriage/create` takes every posting ready to ship, and its reply does
        not list them, so the open packed postings of the warehouse are taken as its content.
        """
        deps = self.deps
        closed = []
        condition = (Posting.warehouse_id == warehouse_id) & Posting.closed_at.does_not_exist()
        for row in deps.store.scan(condition):
            if row.status == AWAITING_DELIVER and not row.cancelled and deps.store.close(row, carriage_id):
                closed.append(row.posting_number)
        deps.store.record_many([(number, "closed", {"carriage_id": carriage_id}) for number in closed])
        return closed

