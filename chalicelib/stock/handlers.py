"""Lambda entry points of the stock flow; `app.py` routes here.

Adapters are built once per Lambda container from the settings and reused across
invocations (`chalicelib.stock.wiring`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.observability import logger, metrics
from chalicelib.onec.csv_export import CsvFormat
from chalicelib.onec.reader import read_stock_exchange
from chalicelib.prices import handlers as prices
from chalicelib.stock import wiring
from chalicelib.stock.messages import StockPlanContinuation, StockPlanRequest
from chalicelib.stock.planner import PlanResult, continue_plan, plan_exchange

LATEST_EXCHANGE_KEY = "state/stock/latest-exchange.json.gz"
MANIFEST_NAME = "manifest.json"


def plan_from_queue(event: dict, context) -> dict:
    """Planner queue: S3 notifications of uploaded exchanges, plan requests, continuations."""
    _start(context)
    processor = BatchProcessor(event_type=EventType.SQS)
    try:
        return process_partial_response(event=event, record_handler=_plan_record, processor=processor,
                                        context=context)
    finally:
        _flush_metrics()


def push_from_queue(event: dict, context) -> dict:
    """Push queue: one `/v2/products/stocks` request per message."""
    _start(context)
    # Lets an in-progress record of a timed-out invocation be taken over after it ends.
    wiring.idempotency_config().register_lambda_context(context)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        return process_partial_response(event=event, record_handler=_push_record, processor=processor,
                                        context=context)
    finally:
        _flush_metrics()


def plan_latest(context) -> dict:
    """Schedule: plan the latest uploaded exchange again (reservations change hourly)."""
    _start(context)
    deps = wiring.planner_deps()
    latest = deps.blobs.get_json(LATEST_EXCHANGE_KEY)
    if latest is None:
        logger.info("no 1C exchange uploaded yet; nothing to plan")
        return {"planned": False}
    result = plan_uploaded_exchange(latest["prefix"], full=False)
    return {"planned": True, "run_id": result.run_id, "requests": result.requests_planned}


def plan_uploaded_exchange(prefix: str, *, full: bool) -> PlanResult:
    """Download the exchange under `prefix` (its manifest lists the files) and plan it."""
    return _plan_manifest(prefix, _read_manifest(wiring.planner_deps().blobs, prefix), full=full)


def _plan_manifest(prefix: str, manifest: dict, *, full: bool) -> PlanResult:
    deps = wiring.planner_deps()
    with tempfile.TemporaryDirectory(prefix="exchange-") as folder:
        for name in manifest["files"]:
            target = Path(folder, name)
            if not target.resolve().is_relative_to(Path(folder).resolve()):
                raise ValueError(f"manifest {prefix}{MANIFEST_NAME} names a file outside the exchange: {name!r}")
            deps.blobs.download(prefix + name, target)
        # Reading the folder names files by their path in the exchange, not the temp path.
        exchange = read_stock_exchange([folder], csv_format=CsvFormat(**deps.settings.csv_format))
        result = plan_exchange(exchange, source=prefix, deps=deps, full=full or manifest.get("full", False))
    deps.blobs.put_json(LATEST_EXCHANGE_KEY, {"prefix": prefix})
    return result


def _plan_record(record: SQSRecord) -> None:
    body = json.loads(record.body)
    logger.append_keys(message_id=record.message_id)
    if body.get("Event") == "s3:TestEvent":
        return
    if "Records" in body:
        for s3_record in body["Records"]:
            key = unquote_plus(s3_record["s3"]["object"]["key"])
            if key.endswith(MANIFEST_NAME):
                prefix = key[: -len(MANIFEST_NAME)]
                manifest = _read_manifest(wiring.planner_deps().blobs, prefix)
                _plan_manifest(prefix, manifest, full=False)
                # With ONEC_PRICE_TYPE_ID set, the exchange's costs start a price run. A failed
                # request is logged and alerted, not raised.
                prices.request_onec_costs(prefix, manifest["files"])
        return
    kind = body.get("kind")
    if kind == "stock.plan":
        request = StockPlanRequest.model_validate(body)
        plan_uploaded_exchange(request.exchange_prefix, full=request.full)
    elif kind == "stock.plan.continue":
        continue_plan(StockPlanContinuation.model_validate(body), wiring.planner_deps())
    else:
        raise ValueError(f"unknown planner message kind {kind!r} in message {record.message_id}")


def _push_record(record: SQSRecord) -> dict:
    logger.append_keys(message_id=record.message_id)
    receive_count = int(record.attributes.approximate_receive_count or 1)
    return wiring.stock_worker().handle(json.loads(record.body), record.receipt_handle, receive_count)


def _read_manifest(blobs, prefix: str) -> dict:
    raw = blobs.read_bytes(prefix + MANIFEST_NAME)
    manifest = json.loads(raw)
    if not isinstance(manifest.get("files"), list) or not manifest["files"]:
        raise ValueError(f"manifest {prefix}{MANIFEST_NAME} lists no files; upload it with a 'files' list")
    return manifest


def _flush_metrics() -> None:
    # Powertools warns on an empty flush; a run that only ignored a test event adds none.
    if metrics.metric_set:
        metrics.flush_metrics()


def _start(context) -> None:
    logger.remove_keys(["run_id", "message_id"])
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
