"""Routing table of ozon-seller-ops: every handler delegates to chalicelib."""

from __future__ import annotations

from chalice import Chalice, Rate

from chalicelib import names
from chalicelib.observability import logger
from chalicelib.stock import handlers as stock

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
