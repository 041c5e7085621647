"""Routing table of ozon-seller-ops: every handler delegates to chalicelib."""

from __future__ import annotations

from chalice import Chalice, Rate

from chalicelib import names
from chalicelib.observability import logger
from chalicelib.stock import handlers as stock
from chalicelib.prices import handlers as prices
from chalicelib.fbs import handlers as fbs
from chalicelib.fbs import screens as print_screens
from chalicelib.telegram import handlers as telegram

app = Chalice(app_name="ozon-seller-ops")


@app.on_sqs_message(queue=names.QUEUE_STOCK_PLAN, batch_size=1, name="stock_planner")
def stock_planner(event):
    """Plan a stock sync for an uploaded 1C exchange, or continue a long one."""
    return stock.plan_from_queue(event.to_dict(), event.context)


@app.on_sqs_message(
    queue=names.QUEUE_STOCK_PUSH,
    batch_size=10,
    maximum_concurrency=names.STOCK_WORKER_CONCURRENCY,
    name="stock_worker",
)
def stock_worker(event):
    """Push planned stock requests to Ozon; returns the partial batch response."""
    return stock.push_from_queue(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.HOURS), name="stock_schedule")
def stock_schedule(event):
    """Re-plan stock from the latest 1C exchange, so reservations are picked up."""
    logger.info("scheduled stock sync")
    return stock.plan_latest(event.context)


@app.on_sqs_message(queue=names.QUEUE_PRICE_PUSH, batch_size=10, name="price_worker")
def price_worker(event):
    """Push planned price requests to Ozon and read prices back; returns the partial batch response."""
    return prices.push_from_queue(event.to_dict(), event.context)


@app.schedule(Rate(names.PRICE_SCHEDULE_MINUTES, unit=Rate.MINUTES), name="price_schedule")
def price_schedule(event):
    """Plan the hourly price run: read back, roll back, price, guard, push what changed."""
    logger.info("scheduled price sync")
    return prices.plan_scheduled(event.context)


@app.on_sqs_message(queue=names.QUEUE_PRICE_PLAN, batch_size=1, name="price_planner")
def price_planner(event):
    """Load uploaded costs and fees (or a 1C exchange's costs) and plan prices when a row changed."""
    return prices.plan_from_queue(event.to_dict(), event.context)


@app.route("/ozon/push/{token}", methods=["POST"], content_types=["application/json", "text/plain"])
def ozon_push(token):
    """Ozon push notifications; `token` is our secret path segment."""
    return fbs.ozon_push(app.current_request, token)


@app.route("/operator/dock-scan", methods=["POST"])
def fbs_dock_scan():
    """Close the shipment (carriage) of a posting or print batch scanned at the dock."""
    return fbs.dock_scan(app.current_request)


@app.route("/fbs/labels/{posting_number}", methods=["GET"])
def fbs_label_url(posting_number):
    """Return a short-lived download URL of a posting's label PDF."""
    return fbs.label_url(app.current_request, posting_number)


@app.on_sqs_message(queue=names.QUEUE_FBS_EVENTS, batch_size=10,
                    maximum_concurrency=names.FBS_WORKER_CONCURRENCY, name="fbs_events")
def fbs_events(event):
    """Re-read postings named by push notices and polls, pack them and schedule labels."""
    return fbs.events_from_queue(event.to_dict(), event.context)


@app.on_sqs_message(queue=names.QUEUE_FBS_LABELS, batch_size=10,
                    maximum_concurrency=names.FBS_WORKER_CONCURRENCY, name="fbs_labels")
def fbs_labels(event):
    """Create, poll and store posting labels."""
    return fbs.labels_from_queue(event.to_dict(), event.context)


@app.schedule(Rate(5, unit=Rate.MINUTES), name="fbs_poll")
def fbs_poll(event):
    """Catch postings whose push notice came late or never came."""
    return fbs.poll(event.context)


@app.schedule(Rate(15, unit=Rate.MINUTES), name="fbs_watchdog")
def fbs_watchdog(event):
    """Warn before postings miss their ship-by time; count late shipments."""
    return fbs.watchdog(event.context)


@app.schedule(Rate(1, unit=Rate.HOURS), name="fbs_print_batches")
def fbs_print_batches(event):
    """Merge newly labelled postings of today and tomorrow into print batches.

    Hourly, so that labels gather into few batches; operators build sooner with a button.
    """
    return print_screens.build_due_batches()


@app.route("/operator", methods=["GET"])
def operator_screen():
    """Render the operator screen: the day's print batches with one print button each."""
    return print_screens.screens().operator_page(print_screens.WebRequest.from_chalice(app.current_request))


@app.route("/operator/login", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def operator_login():
    """Operator sign-in with the operator token; sets the session cookie."""
    return print_screens.screens().operator_login(print_screens.WebRequest.from_chalice(app.current_request))


@app.route("/operator/batches/build", methods=["POST"],
           content_types=["application/x-www-form-urlencoded", "application/json"])
def operator_build_batches():
    """Build the day's print batches from the labels not yet in one."""
    return print_screens.screens().operator_build(print_screens.WebRequest.from_chalice(app.current_request))


@app.route("/operator/batches/{batch_id}/print", methods=["POST"],
           content_types=["application/x-www-form-urlencoded", "application/json"])
def operator_print_batch(batch_id):
    """Operator pressed "Печать": the batch waits for the print agent."""
    return print_screens.screens().operator_print(print_screens.WebRequest.from_chalice(app.current_request),
                                                  batch_id)


@app.route("/operator/batches/{batch_id}/pdf", methods=["GET"])
def operator_batch_pdf(batch_id):
    """Redirect to a short-lived download URL of a batch PDF."""
    return print_screens.screens().operator_pdf(print_screens.WebRequest.from_chalice(app.current_request),
                                                batch_id)


@app.route("/agent/print-jobs", methods=["GET"])
def agent_print_jobs():
    """Print agent: batches waiting for the printer, with presigned download URLs."""
    return print_screens.screens().agent_jobs(print_screens.WebRequest.from_chalice(app.current_request))


@app.route("/agent/print-jobs/{batch_id}", methods=["POST"], content_types=["application/json"])
def agent_print_report(batch_id):
    """Print agent: report a job as printing, printed or failed."""
    return print_screens.screens().agent_report(print_screens.WebRequest.from_chalice(app.current_request),
                                                batch_id)


@app.on_sqs_message(queue=names.QUEUE_ALERTS_TELEGRAM, batch_size=10, name="alerts_telegram")
def alerts_telegram(event):
    """Forward alerts from the SNS topic to the Telegram chat; returns the partial batch response."""
    return telegram.forward_from_queue(event.to_dict(), event.context)
