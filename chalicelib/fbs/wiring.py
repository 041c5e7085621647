"""Builds the FBS flow's adapters once per process from the settings."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import requests
from aws_lambda_powertools.utilities.parameters import SecretsProvider

import chalicelib.fbs.texts  # noqa: F401  (registers the FBS alert texts)
from chalicelib.alerts import SnsNotifier
from chalicelib.fbs.intake import PushIntake, parse_networks
from chalicelib.fbs.models import bind_fbs
from chalicelib.fbs.pipeline import FbsDeps
from chalicelib.fbs.store import FbsStore
from chalicelib.names import FBS_WORKER_CONCURRENCY, QUEUE_FBS_EVENTS, QUEUE_FBS_LABELS
from chalicelib.observability import register_secret
from chalicelib.ozon.client import OzonClient
from chalicelib.ozon.credentials import load_credentials
from chalicelib.ozon.fbs import OzonFbsClient
from chalicelib.settings import get_settings
from chalicelib.stock import wiring as shared
from chalicelib.storage.limiter import BucketSpec, InMemoryRateLimiter

# Ozon allows 50 requests/s per Client-Id across all methods. The stock flow's shared
# DynamoDB bucket takes at most 40 of them (GLOBAL_REQUESTS_PER_SECOND), so the FBS flow
# keeps within the rest without a shared bucket: each container that calls Ozon gets an
# equal in-process share. Containers: both SQS workers at full concurrency, the poll
# schedule and the API (dock scans).
FBS_REQUESTS_PER_SECOND = 8.0
FBS_CONTAINERS = 2 * FBS_WORKER_CONCURRENCY + 2
FBS_BUCKET = "fbs"

# Seconds a push token read from Secrets Manager is cached, so that a rotation lands soon.
TOKEN_CACHE_SECONDS = 300


@lru_cache(maxsize=1)
def store() -> FbsStore:
    settings = get_settings()
    bind_fbs({"postings": settings.table_postings, "fbs-journal": settings.table_fbs_journal,
              "print-batches": settings.table_print_batches}, settings.region, settings.aws_endpoint_url)
    return FbsStore(shared.clock(), timedelta(days=settings.journal_ttl_days))


@lru_cache(maxsize=1)
def _secrets() -> SecretsProvider:
    return SecretsProvider(boto3_client=shared.client("secretsmanager"))


def push_token() -> str | None:
    """Return the secret path token of the webhook URL."""
    settings = get_settings()
    if settings.ozon_push_token_secret_name:
        token = _secrets().get(settings.ozon_push_token_secret_name, max_age=TOKEN_CACHE_SECONDS)
    else:
        token = settings.ozon_push_token
    if token:
        register_secret(str(token))
    return str(token) if token else None


@lru_cache(maxsize=1)
def intake() -> PushIntake:
    settings = get_settings()
    return PushIntake(token=push_token, networks=parse_networks(settings.ozon_push_cidrs), store=store(),
                      queue=shared.queue(QUEUE_FBS_EVENTS), clock=shared.clock())


@lru_cache(maxsize=1)
def fbs_client() -> OzonFbsClient:
    settings = get_settings()
    credentials = load_credentials(settings, secrets_client=shared.client("secretsmanager"))
    limiter = InMemoryRateLimiter({FBS_BUCKET: BucketSpec(rate=FBS_REQUESTS_PER_SECOND / FBS_CONTAINERS, burst=3)},
                                  shared.clock())
    client = OzonClient(settings.ozon_base_url, credentials, timeout=settings.ozon_timeout_seconds,
                        before_request=lambda path: limiter.acquire(FBS_BUCKET))
    return OzonFbsClient(client)


@lru_cache(maxsize=1)
def deps() -> FbsDeps:
    settings = get_settings()
    return FbsDeps(
        settings=settings, store=store(), ozon=fbs_client(),
        events=shared.queue(QUEUE_FBS_EVENTS), labels=shared.queue(QUEUE_FBS_LABELS),
        s3=shared.client("s3"), bucket=settings.bucket,
        notifier=SnsNotifier(shared.client("sns"), shared._topic_arn(settings), settings.alert_language),
        clock=shared.clock(), http=requests.Session())


def reset() -> None:
    """Forget every built adapter (tests and the local runner change settings)."""
    for cached in (store, _secrets, intake, fbs_client, deps):
        cached.cache_clear()
    shared.reset()
