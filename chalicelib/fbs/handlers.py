"""Entry points of the FBS flow; `app.py` routes here.

Adapters are built once per Lambda container from the settings and reused across
invocations (`chalicelib.fbs.wiring`).
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Response

from chalicelib.fbs import screens as print_screens
from chalicelib.fbs import wiring
from chalicelib.fbs.carriage import CarriageCloser, DockScanError
from chalicelib.fbs.intake import ERROR_UNKNOWN, PushReply, error_reply
from chalicelib.fbs.labels import LabelWorker, presigned_label_url
from chalicelib.fbs.messages import FbsEventMessage, LabelMessage
from chalicelib.fbs.pipeline import PostingPipeline, RetryLater, real_delay
from chalicelib.fbs.poll import poll_unfulfilled
from chalicelib.fbs.watchdog import run_watchdog
from chalicelib.observability import logger, metrics
from chalicelib.ozon.errors import OzonRetryableError

JSON_HEADERS = {"Content-Type": "application/json"}
RETRY_SECONDS = 10


def ozon_push(request, token: str) -> Response:
    """Webhook: reply to one Ozon push notice. The sender address comes from API Gateway."""
    identity = (request.context or {}).get("identity") or {}
    try:
        reply = wiring.intake().handle(token, identity.get("sourceIp"), request.raw_body)
    except Exception as error:  # the reply must keep Ozon's error shape whatever failed
        logger.exception("push intake failed", extra={"error": type(error).__name__})
        reply = error_reply(500, ERROR_UNKNOWN, "internal error, send the notice again")
    finally:
        _flush_metrics()
    return _json(reply)


def dock_scan(request) -> Response:
    """Operator action: a posting or batch scanned at the dock closes its shipment."""
    denied = _operator_denied(request)
    if denied is not None:
        return denied
    body = request.json_body if request.raw_body else None
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str):
        return _json(error_reply(400, "INVALID_SCAN", "send {\"code\": \"<posting number or batch id>\"}"))
    try:
        result = CarriageCloser(wiring.deps()).dock_scan(code)
    except DockScanError as error:
        return _json(error_reply(error.status, "DOCK_SCAN_FAILED", str(error)))
    except OzonRetryableError as error:
        logger.warning("dock scan: Ozon did not answer", extra={"error": str(error)})
        return _json(error_reply(503, "OZON_UNAVAILABLE", f"Ozon did not answer ({error}); nothing is lost, "
                                 "scan the same code again in a few minutes"))
    return _json(PushReply(200, {"code": result.code, "carriages": {str(k): v for k, v in result.carriages.items()},
                                 "closed": result.closed}))


def label_url(request, posting_number: str) -> Response:
    """Return a short-lived presigned URL of a posting's label PDF."""
    denied = _operator_denied(request)
    if denied is not None:
        return denied
    deps = wiring.deps()
    url = presigned_label_url(deps, posting_number)
    if url is None:
        return _json(error_reply(404, "LABEL_NOT_FOUND", f"posting {posting_number} has no label yet"))
    return _json(PushReply(200, {"url": url, "expires_in": deps.settings.fbs_presign_seconds}))


def events_from_queue(event: dict, context) -> dict:
    """Events queue: one posting to re-read and act on per message."""
    return _process(event, context, _event_record)


def labels_from_queue(event: dict, context) -> dict:
    """Labels queue: one label to create, poll or store per message."""
    return _process(event, context, _label_record)


def poll(context) -> dict:
    try:
        return poll_unfulfilled(wiring.deps())
    finally:
        _flush_metrics()


def watchdog(context) -> dict:
    try:
        report = run_watchdog(wiring.deps())
        return {"warned": report.warned, "missed": report.missed, "packed": report.packed, "late": report.late}
    finally:
        _flush_metrics()


def _process(event: dict, context, handler) -> dict:
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        return process_partial_response(event=event, record_handler=handler, processor=processor, context=context)
    finally:
        _flush_metrics()


def _event_record(record: SQSRecord) -> str:
    message = FbsEventMessage.model_validate(json.loads(record.body))
    deps = wiring.deps()
    return _retrying(record, deps.events, lambda: PostingPipeline(deps).handle(message))


def _label_record(record: SQSRecord) -> str:
    message = LabelMessage.model_validate(json.loads(record.body))
    deps = wiring.deps()
    return _retrying(record, deps.labels, lambda: LabelWorker(deps).handle(message))


def _retrying(record: SQSRecord, queue, work) -> str:
    """Run `work`. When it must be tried again, the message comes back after a short delay
    (Ozon's Retry-After, else RETRY_SECONDS virtual seconds), not the visibility timeout."""
    try:
        return work()
    except (OzonRetryableError, RetryLater) as error:
        clock = wiring.deps().clock
        seconds = getattr(error, "retry_after", None) or RETRY_SECONDS
        logger.warning("FBS message retried", extra={"message_id": record.message_id, "error": str(error)})
        queue.change_visibility(record.receipt_handle, max(1, real_delay(clock, seconds)))
        raise


def _operator_denied(request) -> Response | None:
    """Return 401 unless the request carries the operator token (bearer or session cookie)."""
    web_request = print_screens.WebRequest.from_chalice(request)
    if print_screens.operator_signed_in(web_request, print_screens.screens().operator_token):
        return None
    return _json(error_reply(401, "UNAUTHORIZED", "sign in as operator: send Authorization: Bearer <operator token>"))


def _json(reply: PushReply) -> Response:
    return Response(body=json.dumps(reply.body, ensure_ascii=False), status_code=reply.status, headers=JSON_HEADERS)


def _flush_metrics() -> None:
    if metrics.metric_set:
        metrics.flush_metrics()
