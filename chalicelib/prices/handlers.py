"""Lambda entry points of the price flow; `app.py` routes here."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.observability import logger, metrics
from chalicelib.prices import wiring
from chalicelib.prices.inbox import handle_message, send_onec_costs_request
from chalicelib.prices.planner import plan_prices
from chalicelib.settings import get_settings
from chalicelib.storage.errors import StorageError


def plan_scheduled(context) -> dict:
    """Schedule: plan the hourly price run."""
    _start(context)
    try:
        plan = plan_prices(wiring.planner_deps())
    finally:
        _flush_metrics()
    return {"run_id": plan.run_id, "skus_changed": plan.skus_changed, "requests": plan.requests_planned,
            "blocked": len(plan.blocked), "rolled_back": plan.rolled_back}


def plan_from_queue(event: dict, context) -> dict:
    """Plan queue: load uploaded costs and fees or 1C costs, and plan prices when a matrix row changed."""
    _start(context)
    processor = BatchProcessor(event_type=EventType.SQS)
    try:
        return process_partial_response(event=event, record_handler=_plan_record, processor=processor,
                                        context=context)
    finally:
        _flush_metrics()


def request_onec_costs(prefix: str, files: list[str]) -> bool:
    """Ask the price planner to read the 1C costs of a just planned exchange, if a price type is set.

    `files` are the names the exchange's manifest lists. A failed send is logged and alerted
    instead of raised, so the stock plan of the exchange is kept. Returns True when the
    request was queued.
    """
    if not get_settings().onec_price_type_id:
        return False
    try:
        return send_onec_costs_request(prefix, files, wiring.plan_queue())
    except (StorageError, ClientError, BotoCoreError) as error:
        logger.exception("1C costs request failed, stock planning is not affected",
                         extra={"exchange": prefix, "error": str(error)})
        _alert_safely("price_costs_request_failed", exchange=prefix, error=str(error))
        return False


def push_from_queue(event: dict, context) -> dict:
    """Push queue: one `/v1/product/import/prices` request, or one read-back, per message."""
    _start(context)
    wiring.idempotency_config().register_lambda_context(context)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        return process_partial_response(event=event, record_handler=_push_record, processor=processor,
                                        context=context)
    finally:
        _flush_metrics()


def _push_record(record: SQSRecord) -> dict:
    logger.append_keys(message_id=record.message_id)
    receive_count = int(record.attributes.approximate_receive_count or 1)
    return wiring.price_worker().handle(json.loads(record.body), record.receipt_handle, receive_count)


def _plan_record(record: SQSRecord) -> dict | None:
    logger.append_keys(message_id=record.message_id)
    redelivered = int(record.attributes.approximate_receive_count or 1) > 1
    summary = handle_message(json.loads(record.body), wiring.inbox_deps(), redelivered=redelivered)
    return summary.as_dict() if summary else None


def _alert_safely(kind: str, **fields: str) -> None:
    # Building the notifier may look the topic up in SNS. That failure is only logged.
    try:
        wiring.notifier().alert(kind, **fields)
    except (ClientError, BotoCoreError) as error:
        logger.error("alert not sent", extra={"alert": kind, "error": str(error)})


def _start(context) -> None:
    logger.remove_keys(["run_id", "message_id"])
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))


def _flush_metrics() -> None:
    # Powertools warns on an empty flush; a run that planned nothing adds no metric.
    if metrics.metric_set:
        metrics.flush_metrics()
