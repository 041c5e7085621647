"""The stock planner: from a 1C exchange to spaced `/v2/products/stocks` requests.

For every (Ozon warehouse, offer) pair it computes the available quantity: on hand in
1C minus the units Ozon reserves for unshipped postings, never below 0. It compares that
with the ledger of what Ozon last accepted and queues only the pairs that differ, in
requests of at most 100 pairs spaced by `schedule_wave`. A newer run supersedes older
ones, because it re-plans every pair that still differs; workers drop older runs' messages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Protocol, Sequence

from chalicelib.clock import Clock
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.observability import logger, metrics
from chalicelib.onec.models import InputIssue, StockExchange
from chalicelib.settings import Settings, WarehouseRoute
from chalicelib.stock.mapping import map_offers
from chalicelib.stock.messages import StockPlanContinuation
from chalicelib.stock.schedule import schedule_wave
from chalicelib.storage.blobs import BlobStore
from chalicelib.storage.journal import InputProblem, Journal, StockRun
from chalicelib.storage.ledger import PairKey, StockLedger
from chalicelib.storage.queues import MessageQueue, OutgoingMessage

STOCK_REQUEST_MAX_ITEMS = 100
DESIRED_KEY = "state/stock/desired.json.gz"
PLANS_PREFIX = "state/stock/plans/"


class PlanningError(RuntimeError):
    """The run cannot be planned as configured; the message names what to change."""


class StockReader(Protocol):
    """The part of the Ozon client the planner uses."""

    def list_warehouses(self) -> list: ...

    def iter_warehouse_stocks(self, warehouse_id: int, limit: int = 1000) -> Iterable: ...


@dataclass
class PlannerDeps:
    settings: Settings
    ledger: StockLedger
    journal: Journal
    push_queue: MessageQueue
    plan_queue: MessageQueue
    blobs: BlobStore
    ozon: StockReader
    clock: Clock
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class PlanResult:
    run_id: str
    seq: int
    offers_read: int
    pairs_total: int
    pairs_changed: int
    requests_planned: int
    requests_deferred: int
    issues: list[InputIssue]


def resolve_routes(settings: Settings, ozon: StockReader) -> list[WarehouseRoute]:
    """Return the configured routes, or route totals to the seller's only active FBS warehouse."""
    if settings.warehouse_routes:
        return list(settings.warehouse_routes)
    active = [w for w in ozon.list_warehouses()
              if getattr(w, "status", "created") in ("created", "new") and not getattr(w, "is_rfbs", False)]
    if len(active) != 1:
        ids = ", ".join(str(w.warehouse_id) for w in active) or "none"
        raise PlanningError(
            f"cannot choose an Ozon warehouse: the seller has {len(active)} active ones ({ids}); "
            'set WAREHOUSE_ROUTES, e.g. [{"ozon_warehouse_id": 123, "onec_warehouses": ["*"]}]')
    return [WarehouseRoute(ozon_warehouse_id=active[0].warehouse_id)]


def plan_exchange(exchange: StockExchange, source: str, deps: PlannerDeps, *, full: bool = False) -> PlanResult:
    """Plan one run for `exchange` and queue its first wave."""
    settings = deps.settings
    routes = resolve_routes(settings, deps.ozon)
    mapped = map_offers(exchange.offers(), settings.offer_id_source, routes)
    issues = list(exchange.issues) + mapped.issues

    on_hand = _desired_on_hand(exchange, mapped.on_hand, issues, deps.blobs)
    reserved = _read_reserved({route.ozon_warehouse_id for route in routes}, deps.ozon)
    available = {key: max(0, quantity - reserved.get(key, 0)) for key, quantity in on_hand.items()}

    accepted = deps.ledger.load()
    changed = sorted(
        (key, quantity) for key, quantity in available.items()
        if full or key not in accepted or accepted[key].quantity != quantity
    )

    seq = deps.journal.next_seq()
    run_id = f"{datetime.fromtimestamp(deps.clock.now(), timezone.utc):%Y%m%dT%H%M%SZ}-{seq}"
    logger.append_keys(run_id=run_id)
    deps.blobs.put_json(DESIRED_KEY, {"seq": seq, "pairs": [[w, o, q] for (w, o), q in on_hand.items()]})

    # Plain dicts in StockItem's shape: at 100,000 pairs, a model per item costs seconds.
    requests = [
        [{"offer_id": offer_id, "warehouse_id": warehouse, "stock": quantity}
         for (warehouse, offer_id), quantity in changed[start:start + STOCK_REQUEST_MAX_ITEMS]]
        for start in range(0, len(changed), STOCK_REQUEST_MAX_ITEMS)
    ]
    _record_run(deps, run_id, seq, source, mapped.offers_read, len(available), len(changed), len(requests), issues)
    planned, deferred = _queue_wave(deps, run_id, seq, requests, 0)

    metrics.add_metric(name="StockPairsChanged", unit=MetricUnit.Count, value=len(changed))
    metrics.add_metric(name="StockRequestsPlanned", unit=MetricUnit.Count, value=len(requests))
    logger.info("stock run planned", extra={
        "offers_read": mapped.offers_read, "pairs_total": len(available), "pairs_changed": len(changed),
        "requests_planned": len(requests), "requests_deferred": deferred, "input_issues": len(issues)})
    return PlanResult(run_id, seq, mapped.offers_read, len(available), len(changed), len(requests),
                      deferred, issues)


def continue_plan(message: StockPlanContinuation, deps: PlannerDeps) -> int:
    """Queue the next wave of a long run; returns the number of requests queued."""
    logger.append_keys(run_id=message.run_id)
    latest = deps.journal.latest_seq()
    if latest > message.seq:
        logger.info("continuation dropped: a newer run supersedes it", extra={"latest_seq": latest})
        return 0
    stored = deps.blobs.get_json(message.plan_key)
    if stored is None:
        raise PlanningError(f"the stored plan {message.plan_key} is missing; plan the exchange again")
    planned, _ = _queue_wave(deps, message.run_id, message.seq, stored["requests"], message.offset)
    return planned


def _desired_on_hand(exchange: StockExchange, parsed: dict[PairKey, int], issues: list[InputIssue],
                     blobs: BlobStore) -> dict[PairKey, int]:
    """Merge a change package into the previous desired state; in a clean full export,
    zero the pairs that disappeared from 1C."""
    previous = blobs.get_json(DESIRED_KEY)
    before = {(w, o): q for w, o, q in previous["pairs"]} if previous else {}
    if exchange.only_changes:
        return {**before, **parsed}

    gone = [key for key in before if key not in parsed]
    if not gone:
        return dict(parsed)
    if any(issue.severity == "error" for issue in issues):
        # An offer rejected for bad data is absent too; zeroing it would be a guess.
        issues.append(InputIssue("exchange", None, str(len(gone)),
            f"{len(gone)} позиций прошлой выгрузки нет в этой; их остатки не обнуляются, потому что "
            "в выгрузке есть ошибки. Исправьте ошибки и выгрузите снова", "warning"))
        return {**{key: before[key] for key in gone}, **parsed}
    return {**{key: 0 for key in gone}, **parsed}


def _read_reserved(warehouses: set[int], ozon: StockReader) -> dict[PairKey, int]:
    reserved: dict[PairKey, int] = {}
    for warehouse in sorted(warehouses):
        for row in ozon.iter_warehouse_stocks(warehouse):
            if row.reserved:
                reserved[(warehouse, row.offer_id)] = int(row.reserved)
    return reserved


def _record_run(deps: PlannerDeps, run_id: str, seq: int, source: str, offers_read: int, pairs_total: int,
                pairs_changed: int, requests: int, issues: Sequence[InputIssue]) -> None:
    deps.journal.start_run(StockRun(
        f"run#{run_id}", "summary", run_id=run_id, seq=seq, source=source,
        started_at=datetime.fromtimestamp(deps.clock.now(), timezone.utc), offers_read=offers_read,
        pairs_total=pairs_total, pairs_changed=pairs_changed, requests_planned=requests,
        input_errors=sum(1 for issue in issues if issue.severity == "error")))
    if issues:
        deps.journal.record_input_problems(run_id, [
            InputProblem(source=issue.source, offer=issue.offer, value=issue.value,
                         message=issue.message, severity=issue.severity) for issue in issues])


def _queue_wave(deps: PlannerDeps, run_id: str, seq: int, requests: list[list[dict]], offset: int) -> tuple[int, int]:
    """Queue requests[offset:] that fit in one wave; store the rest and queue a continuation."""
    settings = deps.settings
    wave = schedule_wave(len(requests) - offset, settings.stock_requests_per_minute,
                         settings.max_delay_seconds, deps.clock, deps.rng)
    # The body is StockPushMessage's shape; workers validate it when they read it.
    messages = [
        OutgoingMessage({"kind": "stock.push", "run_id": run_id, "seq": seq, "attempt": 0,
                         "items": requests[offset + index]}, delay)
        for index, delay in enumerate(wave.delays)
    ]
    deps.push_queue.send(messages)

    if wave.remaining:
        plan_key = f"{PLANS_PREFIX}{run_id}.json.gz"
        if offset == 0:
            deps.blobs.put_json(plan_key, {"requests": requests})
        continuation = StockPlanContinuation(run_id=run_id, seq=seq, plan_key=plan_key,
                                             offset=offset + len(wave.delays))
        deps.plan_queue.send([OutgoingMessage(continuation.model_dump(), settings.max_delay_seconds)])
        logger.info("wave queued, the rest continues later",
                    extra={"queued": len(wave.delays), "remaining": wave.remaining})
    return len(wave.delays), wave.remaining
