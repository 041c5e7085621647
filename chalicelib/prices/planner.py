"""The price planner: from the price matrix to spaced `/v1/product/import/prices` requests.

One run reads the whole prices table and reads Ozon's prices back, rolling back SKUs
sold below cost. It then prices every SKU and blocks those the guard stops. Only SKUs
whose levels differ from what Ozon last accepted are queued, in requests of at most
1000 items spaced with jittered SQS delays. A `price.verify` message follows the last request,
so prices are read back again once the run is applied.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.alerts import Notifier
from chalicelib.clock import Clock
from chalicelib.observability import logger, metrics
from chalicelib.ozon.prices import MAX_PRICE_UPDATES
from chalicelib.prices import alerts as _alert_texts  # noqa: F401  (registers the price alert texts)
from chalicelib.prices.budget import has_budget
from chalicelib.prices.journal import Event
from chalicelib.prices.money import ceil_cents
from chalicelib.prices.pricing import PricingPolicy, SkuRejected, price_sku, to_item
from chalicelib.prices.readback import PriceReader, ReadBack, read_back
from chalicelib.prices.store import PriceBook, PriceStore
from chalicelib.settings import Settings
from chalicelib.stock.schedule import schedule_wave
from chalicelib.storage.queues import SQS_DELAY_MAX_SECONDS, MessageQueue, OutgoingMessage


@dataclass
class PlannerDeps:
    settings: Settings
    store: PriceStore
    journal: object  # PriceJournal or its in-memory twin
    queue: MessageQueue
    ozon: PriceReader | None
    notifier: Notifier
    clock: Clock
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class Decisions:
    """The outcome of planning for each SKU of the matrix."""

    items: list[dict] = field(default_factory=list)
    blocked: list[Event] = field(default_factory=list)
    rejected: list[Event] = field(default_factory=list)
    deferred: int = 0
    unchanged: int = 0
    rules_fired: Counter = field(default_factory=Counter)


@dataclass
class PricePlan:
    run_id: str
    seq: int
    skus_total: int
    skus_changed: int
    requests_planned: int
    blocked: list[str]
    rejected: list[str]
    deferred: int
    rolled_back: int
    input_errors: int = 0


def policy_of(settings: Settings) -> PricingPolicy:
    return PricingPolicy(settings.price_guard_threshold_percent, settings.price_old_gap_policy,
                         settings.price_account_currency)


def plan_prices(deps: PlannerDeps, *, full: bool = False, read_back_first: bool = True) -> PricePlan:
    """Plan one price run and queue its requests."""
    settings = deps.settings
    now = deps.clock.now()
    book = deps.store.load()
    if not book.matrix:
        logger.info("the price matrix is empty; nothing to plan. Load the operator CSV and costs first")
        return PricePlan("", 0, 0, 0, 0, [], [], 0, 0)

    seq = deps.journal.next_seq()
    run_id = f"{datetime.fromtimestamp(now, timezone.utc):%Y%m%dT%H%M%SZ}-p{seq}"
    logger.append_keys(run_id=run_id)
    deps.journal.start_run(run_id, seq, datetime.fromtimestamp(now, timezone.utc))
    checked = _read_back(deps, book, now) if read_back_first and deps.ozon is not None else ReadBack()
    rolled_back = {item["offer_id"] for item in checked.items}
    decisions = decide(book, settings, now, full=full, skip=rolled_back)
    _alert_blocked(deps.notifier, decisions.blocked, settings)

    items = checked.items + decisions.items
    requests = [items[start:start + MAX_PRICE_UPDATES] for start in range(0, len(items), MAX_PRICE_UPDATES)]
    _journal_run(deps, run_id, book, checked, decisions, len(items), len(requests))
    queue_requests(deps, run_id, seq, requests)

    metrics.add_metric(name="PriceSkusChanged", unit=MetricUnit.Count, value=len(items))
    metrics.add_metric(name="PriceSkusBlocked", unit=MetricUnit.Count, value=len(decisions.blocked))
    logger.info("price run planned", extra={
        "skus_total": len(book.matrix), "skus_changed": len(items), "requests_planned": len(requests),
        "blocked": len(decisions.blocked), "rejected": len(decisions.rejected), "deferred": decisions.deferred,
        "rolled_back": len(rolled_back), "ozon_rules_fired": dict(decisions.rules_fired)})
    return PricePlan(run_id, seq, len(book.matrix), len(items), len(requests),
                     [e.offer_id for e in decisions.blocked], [e.offer_id for e in decisions.rejected],
                     decisions.deferred + checked.deferred, len(rolled_back), len(decisions.rejected))


def decide(book: PriceBook, settings: Settings, now: float, *, full: bool = False,
           skip: set[str] = frozenset()) -> Decisions:
    """Price every SKU of `book` and sort it into send, blocked, rejected, deferred or unchanged."""
    policy = policy_of(settings)
    decisions = Decisions()
    for offer_id, inputs in book.matrix.items():
        if offer_id in skip:
            continue
        try:
            priced = price_sku(inputs, book.rules.get(inputs.category), policy)
        except SkuRejected as error:
            decisions.rejected.append(Event("input", offer_id, str(error), {"value": str(error.value)}))
            continue
        levels = priced.computation.levels
        if priced.computation.rules_fired:
            _log_rules_fired(offer_id, priced.computation.rules_fired, decisions)
        if priced.verdict.blocked:
            decisions.blocked.append(_block_event(offer_id, inputs, priced))
            continue
        state = book.states.get(offer_id)
        if not full and state is not None and state.accepted == levels:
            decisions.unchanged += 1
            continue
        if state is not None and not has_budget(state.changes, now, settings.price_changes_per_hour):
            decisions.deferred += 1
            continue
        decisions.items.append(to_item(offer_id, levels, inputs))
    return decisions


def _log_rules_fired(offer_id: str, rules: list[str], decisions: Decisions) -> None:
    # Per SKU at DEBUG, because a run can fix thousands; the run's totals are logged at INFO.
    decisions.rules_fired.update(rules)
    logger.debug("Ozon price rule fired", extra={"offer_id": offer_id, "rules": rules})


def _read_back(deps: PlannerDeps, book: PriceBook, now: float) -> ReadBack:
    settings = deps.settings
    checked = read_back(book, deps.ozon, deps.notifier, threshold=settings.price_guard_threshold_percent,
                        now=now, changes_per_hour=settings.price_changes_per_hour)
    if checked.changed_states:
        deps.store.save_states(checked.changed_states)
    return checked


def _block_event(offer_id: str, inputs, priced) -> Event:
    levels = priced.computation.levels
    rule = priced.computation.rule
    detail = {"cost": str(inputs.cost), "floor": str(ceil_cents(priced.verdict.floor)),
              "min_price": str(levels.min_price), "price": str(levels.price), "old_price": str(levels.old_price),
              "rule": rule.label, "below": ", ".join(f"{n} {v}" for n, v in priced.verdict.below.items())}
    return Event("block", offer_id, f"levels below cost by more than the threshold: {detail['below']}", detail)


def _alert_blocked(notifier: Notifier, blocked: list[Event], settings: Settings) -> None:
    # One alert per blocked SKU per run: `blocked` holds each SKU once.
    for event in blocked:
        notifier.alert("price_blocked", sku=event.offer_id, levels=event.detail["below"],
                       cost=event.detail["cost"], threshold=str(settings.price_guard_threshold_percent),
                       rule=event.detail["rule"])


def _journal_run(deps: PlannerDeps, run_id: str, book: PriceBook, checked: ReadBack, decisions: Decisions,
                 changed: int, requests: int) -> None:
    events = checked.events + decisions.blocked + decisions.rejected
    if events:
        deps.journal.record(run_id, events)
    deps.journal.count(run_id, skus_total=len(book.matrix), skus_changed=changed, requests_planned=requests,
                       input_errors=len(decisions.rejected), blocked=len(decisions.blocked),
                       deferred=decisions.deferred + checked.deferred, rolled_back=len(checked.items),
                       skus_read_back=checked.skus_read)


def queue_requests(deps: PlannerDeps, run_id: str, seq: int, requests: list[list[dict]]) -> None:
    settings = deps.settings
    # NOTE: requests beyond one SQS delay window (900 s) all get the last slot's delay.
    # At 30 requests a minute the window takes 450 requests (450,000 SKUs), far above the
    # catalogue sizes this service is built for.
    wave = schedule_wave(len(requests), settings.price_requests_per_minute, SQS_DELAY_MAX_SECONDS,
                         deps.clock, deps.rng)
    delays = wave.delays + [SQS_DELAY_MAX_SECONDS] * wave.remaining
    messages = [OutgoingMessage({"kind": "price.push", "run_id": run_id, "seq": seq, "items": request}, delay)
                for request, delay in zip(requests, delays)]
    # The read-back delay is in virtual seconds, like every duration of the pipeline.
    settle = math.ceil(deps.clock.real_seconds(settings.price_readback_delay_seconds))
    verify_delay = min(SQS_DELAY_MAX_SECONDS, max(delays, default=0) + settle)
    if requests:
        messages.append(OutgoingMessage({"kind": "price.verify", "run_id": run_id, "seq": seq}, verify_delay))
    deps.queue.send(messages)

