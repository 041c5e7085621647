"""Builds the price flow's adapters once per process from the settings.

AWS clients, the clock, the journal binding, the rate limiter and the Ozon client are
the stock flow's (`chalicelib.stock.wiring`), so both flows share one connection pool
and one global request budget.
"""

from __future__ import annotations

import random
from datetime import timedelta
from functools import lru_cache

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from chalicelib.alerts import SnsNotifier
from chalicelib.names import QUEUE_PRICE_PLAN, QUEUE_PRICE_PUSH
from chalicelib.prices.inbox import InboxDeps
from chalicelib.prices.journal import PriceJournal, bind_price_journal
from chalicelib.prices.planner import PlannerDeps, plan_prices
from chalicelib.prices.store import DynamoPriceStore, bind_prices
from chalicelib.prices.worker import PriceWorker, WorkerDeps
from chalicelib.settings import get_settings
from chalicelib.stock import wiring as shared
from chalicelib.storage.blobs import S3BlobStore
from chalicelib.storage.queues import SqsQueue


@lru_cache(maxsize=1)
def store() -> DynamoPriceStore:
    settings = get_settings()
    bind_prices(settings.table_prices, settings.region, settings.aws_endpoint_url)
    return DynamoPriceStore(settings.table_prices)


@lru_cache(maxsize=1)
def journal() -> PriceJournal:
    settings = get_settings()
    bind_price_journal(settings.table_journal, settings.region, settings.aws_endpoint_url)
    return PriceJournal(settings.table_journal, timedelta(days=settings.journal_ttl_days))


@lru_cache(maxsize=1)
def notifier() -> SnsNotifier:
    settings = get_settings()
    return SnsNotifier(shared.client("sns"), shared._topic_arn(settings), settings.alert_language)


@lru_cache(maxsize=1)
def planner_deps() -> PlannerDeps:
    return PlannerDeps(settings=get_settings(), store=store(), journal=journal(), queue=shared.queue(QUEUE_PRICE_PUSH),
                       ozon=shared.ozon(), notifier=notifier(), clock=shared.clock(), rng=random.Random())


@lru_cache(maxsize=1)
def blobs() -> S3BlobStore:
    return S3BlobStore(shared.client("s3"), get_settings().bucket)


def plan_queue() -> SqsQueue:
    return shared.queue(QUEUE_PRICE_PLAN)


@lru_cache(maxsize=1)
def inbox_deps() -> InboxDeps:
    return InboxDeps(settings=get_settings(), store=store(), journal=journal(), blobs=blobs(),
                     plan=lambda: plan_prices(planner_deps()))


@lru_cache(maxsize=1)
def idempotency_config() -> IdempotencyConfig:
    """Journal every price request for the journal's lifetime (90 days by default)."""
    return IdempotencyConfig(expires_after_seconds=get_settings().journal_ttl_days * 86_400,
                             raise_on_no_idempotency_key=True)


@lru_cache(maxsize=1)
def price_worker() -> PriceWorker:
    settings = get_settings()
    persistence = DynamoDBPersistenceLayer(table_name=settings.table_idempotency,
                                           boto3_client=shared.client("dynamodb"))
    config = idempotency_config()

    def idempotent(function):
        return idempotent_function(data_keyword_argument="message", persistence_store=persistence,
                                   config=config)(function)

    return PriceWorker(WorkerDeps(
        settings=settings, store=store(), journal=journal(), queue=shared.queue(QUEUE_PRICE_PUSH), ozon=shared.ozon(),
        limiter=shared.limiter(), notifier=notifier(), clock=shared.clock(), idempotent=idempotent,
        max_receive_count=settings.max_receive_count))


def reset() -> None:
    """Forget every built adapter (tests and the local runner change settings)."""
    for cached in (store, journal, notifier, planner_deps, idempotency_config, price_worker, blobs, inbox_deps):
        cached.cache_clear()
    shared.reset()
