"""Lambda entry points of the price flow; `app.py` routes here."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.observability import logger, metrics
from chalicelib.prices import wiring
from chalicelib.prices.planner import plan_prices


def plan_scheduled(context) -> dict:
    """Schedule: plan the hourly price run."""
    _start(context)
    try:
        plan = plan_prices(wiring.planner_deps())
    finally:
        _flush_metrics()
    return {"run_id": plan.run_id, "skus_changed": plan.skus_changed, "requests": plan.requests_planned,
            "blocked": len(plan.blocked), "rolled_back": plan.rolled_back}


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


def _start(context) -> None:
    logger.remove_keys(["run_id", "message_id"])
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))


def _flush_metrics() -> None:
    # Powertools warns on an empty flush; a run that planned nothing adds no metric.
    if metrics.metric_set:
        metrics.flush_metrics()
