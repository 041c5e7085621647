"""Builds the stock flow's adapters once per process from the settings."""

from __future__ import annotations

import random
from datetime import timedelta
from functools import lru_cache

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.config import Config

from chalicelib.alerts import SnsNotifier
from chalicelib.clock import ScaledClock
from chalicelib.names import QUEUE_STOCK_PLAN, QUEUE_STOCK_PUSH
from chalicelib.observability import register_secret
from chalicelib.ozon.client import OzonClient
from chalicelib.ozon.credentials import load_credentials
from chalicelib.settings import Settings, get_settings
from chalicelib.stock.planner import PlannerDeps
from chalicelib.stock.worker import STOCK_BUCKET, StockWorker, WorkerDeps
from chalicelib.storage.blobs import S3BlobStore
from chalicelib.storage.journal import Journal, bind_journal
from chalicelib.storage.ledger import DynamoStockLedger
from chalicelib.storage.limiter import BucketSpec, DynamoRateLimiter
from chalicelib.storage.queues import SqsQueue

GLOBAL_BUCKET = "global"


@lru_cache(maxsize=None)
def client(service: str):
    settings = get_settings()
    return boto3.session.Session().client(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32))


@lru_cache(maxsize=1)
def clock() -> ScaledClock:
    settings = get_settings()
    return ScaledClock(settings.clock_speed, settings.clock_origin)


@lru_cache(maxsize=None)
def queue(name: str) -> SqsQueue:
    return SqsQueue(client("sqs"), client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


@lru_cache(maxsize=1)
def journal() -> Journal:
    settings = get_settings()
    bind_journal(settings.table_journal, settings.region, settings.aws_endpoint_url)
    return Journal(settings.table_journal, timedelta(days=settings.journal_ttl_days))


@lru_cache(maxsize=1)
def limiter() -> DynamoRateLimiter:
    settings = get_settings()
    buckets = {
        STOCK_BUCKET: BucketSpec(rate=settings.stock_requests_per_minute / 60.0, burst=settings.stock_limiter_burst),
        GLOBAL_BUCKET: BucketSpec(rate=settings.global_requests_per_second, burst=10),
    }
    return DynamoRateLimiter(client("dynamodb"), settings.table_limits, buckets, clock())


@lru_cache(maxsize=1)
def ozon() -> OzonClient:
    settings = get_settings()
    credentials = load_credentials(settings, secrets_client=client("secretsmanager"))
    register_secret(credentials.client_id)
    register_secret(credentials.api_key)
    return OzonClient(settings.ozon_base_url, credentials, timeout=settings.ozon_timeout_seconds,
                      before_request=lambda path: limiter().acquire(GLOBAL_BUCKET))


def _topic_arn(settings: Settings) -> str:
    if settings.alerts_topic_arn:
        return settings.alerts_topic_arn
    # CreateTopic returns the existing topic's ARN when the name is taken.
    return client("sns").create_topic(Name=settings.alerts_topic)["TopicArn"]


@lru_cache(maxsize=1)
def planner_deps() -> PlannerDeps:
    settings = get_settings()
    return PlannerDeps(
        settings=settings, ledger=DynamoStockLedger(client("dynamodb"), settings.table_ledger),
        journal=journal(), push_queue=queue(QUEUE_STOCK_PUSH), plan_queue=queue(QUEUE_STOCK_PLAN),
        blobs=S3BlobStore(client("s3"), settings.bucket), ozon=ozon(), clock=clock(), rng=random.Random())


@lru_cache(maxsize=1)
def idempotency_config() -> IdempotencyConfig:
    """Journal every stock request for the journal's lifetime (90 days by default)."""
    return IdempotencyConfig(expires_after_seconds=get_settings().journal_ttl_days * 86_400,
                             raise_on_no_idempotency_key=True)


@lru_cache(maxsize=1)
def stock_worker() -> StockWorker:
    settings = get_settings()
    persistence = DynamoDBPersistenceLayer(table_name=settings.table_idempotency, boto3_client=client("dynamodb"))
    config = idempotency_config()

    def idempotent(function):
        return idempotent_function(data_keyword_argument="message", persistence_store=persistence,
                                   config=config)(function)

    return StockWorker(WorkerDeps(
        settings=settings, ledger=DynamoStockLedger(client("dynamodb"), settings.table_ledger),
        journal=journal(), queue=queue(QUEUE_STOCK_PUSH), ozon=ozon(), limiter=limiter(),
        notifier=SnsNotifier(client("sns"), _topic_arn(settings), settings.alert_language),
        clock=clock(), idempotent=idempotent, max_receive_count=settings.max_receive_count))


def reset() -> None:
    """Forget every built adapter (tests and the local runner change settings)."""
    for cached in (client, clock, queue, journal, limiter, ozon, planner_deps, idempotency_config, stock_worker):
        cached.cache_clear()
    get_settings.cache_clear()
