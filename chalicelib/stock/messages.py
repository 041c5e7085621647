"""Messages on the stock queues. Bodies carry ids and numbers, never credentials."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class StockItem(BaseModel):
    """One (offer, Ozon warehouse) pair and the available quantity to push."""

    offer_id: str = Field(min_length=1)
    warehouse_id: int = Field(gt=0)
    stock: int = Field(ge=0)


class StockPushMessage(BaseModel):
    """One `/v2/products/stocks` request: at most 100 pairs from one planning run.

    `seq` orders planning runs; a worker drops the message when a newer run exists,
    because that run re-planned every pair that still differs. `attempt` counts
    per-item re-queues after retryable item errors.
    """

    kind: Literal["stock.push"] = "stock.push"
    run_id: str
    seq: int = Field(ge=1)
    attempt: int = Field(default=0, ge=0)
    items: list[StockItem] = Field(min_length=1, max_length=100)


class StockPlanContinuation(BaseModel):
    """A wave of planned requests that did not fit within SQS's 900 s delay.

    The remaining requests are stored in S3 under `plan_key`, starting at `offset`.
    """

    kind: Literal["stock.plan.continue"] = "stock.plan.continue"
    run_id: str
    seq: int = Field(ge=1)
    plan_key: str
    offset: int = Field(ge=0)


class StockPlanRequest(BaseModel):
    """Plan a sync of the exchange stored under `exchange_prefix` in the bucket."""

    kind: Literal["stock.plan"] = "stock.plan"
    exchange_prefix: str
    full: bool = False
