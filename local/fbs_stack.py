"""The FBS part of the local stack: the webhook served in-process and a sandbox shipping day.

`LocalStack` starts `FbsLocal` after its pump: the Chalice routes are served on 127.0.0.1
by `local.webhook.WebhookServer`, and the sandbox pushes notices to
`<routes>/ozon/push/<token>`. The local stack allows only 127.0.0.1/32 as a sender range.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
import requests

from chalicelib.fbs import wiring as fbs_wiring
from chalicelib.fbs.models import Posting, PrintBatch
from chalicelib.fbs.print_agent import AgentConfig, PrintAgent
from local.sandbox.postings import PushConfig, SandboxPosting, book_of
from local.webhook import WebhookServer

if TYPE_CHECKING:
    from local.harness import LocalStack

LOCAL_SENDER_RANGES = "127.0.0.1/32"
DELIVERY_METHOD_ID = 18114520187000
DAY_SECONDS = 86_400.0


def fbs_environment(push_token: str) -> dict[str, str]:
    """Environment of the FBS flow on the local stack (tests may override any of it)."""
    return {"OZON_PUSH_TOKEN": push_token, "OZON_PUSH_CIDRS": LOCAL_SENDER_RANGES, "FBS_AUTO_PACK": "true",
            "OPERATOR_TOKEN": secrets.token_urlsafe(16), "PRINT_AGENT_TOKEN": secrets.token_urlsafe(16)}


def new_push_token() -> str:
    return secrets.token_urlsafe(16)


@dataclass
class DayPlan:
    """A shipping day for the sandbox: `postings` spread over `span_seconds` of virtual time."""

    postings: int = 300
    span_seconds: float = DAY_SECONDS
    cancelled_share: float = 0.05
    ship_by_hours: tuple[float, float] = (6.0, 30.0)
    # Postings whose ship-by time has already passed when they appear (paid late).
    overdue_share: float = 0.0
    seed: int = 7


@dataclass
class DaySummary:
    received: int
    packed: int
    labelled: int
    printed: int
    closed: int
    late: int
    cancelled: int


class FbsLocal:
    """Starts the webhook server and the sandbox's postings for one LocalStack."""

    def __init__(self, stack: "LocalStack", push_token: str) -> None:
        self.stack = stack
        self.push_token = push_token
        self.book = book_of(stack.sandbox)
        self.webhook = WebhookServer(stack.app)

    @property
    def push_url(self) -> str:
        return f"{self.webhook.base_url}/ozon/push/{self.push_token}"

    @property
    def operator_headers(self) -> dict[str, str]:
        """Headers of an operator's request (the operator token as a bearer token)."""
        return {"Authorization": f"Bearer {self.stack.settings.operator_token}"}

    def start(self) -> None:
        fbs_wiring.reset()
        self.webhook.start()
        self.book.configure_push(self.push_url)
        self.book.start()

    def stop(self) -> None:
        self.book.stop()
        self.webhook.stop()
        fbs_wiring.reset()

    def configure_push(self, config: PushConfig) -> None:
        self.book.configure_push(config=config)

    def plan_day(self, plan: DayPlan, warehouse_id: int) -> list[str]:
        """Schedule `plan.postings` new postings over the day; returns their numbers."""
        rng = random.Random(plan.seed)
        start = self.stack.clock.now()
        numbers = []
        for index in range(plan.postings):
            at = start + plan.span_seconds * index / max(1, plan.postings)
            number = f"{70000000 + plan.seed * 1000 + index // 3:08d}-{index % 3:04d}-1"
            sku = 180550365 + rng.randrange(50)
            posting = SandboxPosting(
                posting_number=number, warehouse_id=warehouse_id, delivery_method_id=DELIVERY_METHOD_ID,
                products=[{"sku": sku, "offer_id": f"OFFER-{sku % 1000:03d}", "name": f"Товар {sku % 1000}",
                           "quantity": 1 + rng.randrange(3)}],
                in_process_at=at, shipment_date=at + 3600 * rng.uniform(*plan.ship_by_hours))
            if rng.random() < plan.overdue_share:
                posting.shipment_date = at - 60
            cancel_after = rng.uniform(5, 40) if rng.random() < plan.cancelled_share else None
            self.book.add_posting(posting, at=at, cancel_after=cancel_after)
            numbers.append(number)
        return numbers

    def wait(self, done, timeout: float, interval: float = 0.5) -> bool:
        """Poll `done()` until it returns True or `timeout` real seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(interval)
        return done()

    def labels_in_s3(self) -> list[str]:
        s3 = boto3.client("s3", endpoint_url=self.stack.endpoint_url, region_name=self.stack.settings.region)
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.stack.resources.bucket, Prefix="labels/"):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def rows(self) -> list[Posting]:
        return list(fbs_wiring.store().scan())

    def summary(self) -> DaySummary:
        rows = self.rows()
        return DaySummary(
            received=len(rows),
            packed=sum(1 for row in rows if row.packed_at is not None),
            labelled=sum(1 for row in rows if row.label_key),
            printed=sum(1 for row in rows if row.printed_at is not None),
            closed=sum(1 for row in rows if row.closed_at is not None),
            late=sum(1 for row in rows if row.late),
            cancelled=sum(1 for row in rows if row.cancelled))


def play_shipping_day(stack: "LocalStack", plan: DayPlan, warehouse_id: int, timeout: float) -> DaySummary:
    """Play `plan` through the sandbox, wait for the labels, scan one posting at the dock
    (closing the day's carriage) and return the day's counts."""
    book = stack.fbs.book
    numbers = stack.fbs.plan_day(plan, warehouse_id)

    def labelled() -> bool:
        if len(book.postings) < len(numbers):
            return False
        live = {n for n in numbers if book.postings[n].status != "cancelled"}
        return live <= {key.rsplit("/", 1)[-1][:-4] for key in stack.fbs.labels_in_s3()}

    stack.fbs.wait(labelled, timeout)
    print_batches(stack, find_printer())
    ready = [n for n in numbers if book.postings[n].status == "awaiting_deliver"]
    if ready:
        reply = requests.post(f"{stack.fbs.webhook.base_url}/operator/dock-scan", json={"code": ready[0]},
                              headers=stack.fbs.operator_headers, timeout=60)
        reply.raise_for_status()
    return stack.fbs.summary()


def print_day(summary: DaySummary, file=sys.stdout) -> None:
    for name, value in (("received", summary.received), ("packed", summary.packed),
                        ("labelled", summary.labelled), ("printed", summary.printed),
                        ("closed", summary.closed), ("late", summary.late),
                        ("cancelled", summary.cancelled)):
        print(f"{'FBS ' + name:>22}: {value}", file=file)


def find_printer() -> str | None:
    """Return the CUPS queue to print on: $PRINTER, else "PDF" (cups-pdf's queue) when CUPS lists it."""
    name = os.environ.get("PRINTER", "PDF")
    if shutil.which("lpstat") is None:
        return None
    listed = subprocess.run(["lpstat", "-p", name], capture_output=True, text=True, check=False, timeout=10)
    return name if listed.returncode == 0 else None


def print_batches(stack: "LocalStack", printer: str | None) -> dict[str, int]:
    """Do what the warehouse does: build the day's batches, press "print" on each, and run
    the print agent once against CUPS. Returns the agent's counts."""
    base, headers = stack.fbs.webhook.base_url, stack.fbs.operator_headers
    days = sorted({row.shipment_date.strftime("%Y-%m-%d") for row in stack.fbs.rows() if row.label_key})
    for day in days:
        requests.post(f"{base}/operator/batches/build", json={"day": day}, headers=headers,
                      timeout=120).raise_for_status()
    for batch in PrintBatch.scan(PrintBatch.status == "ready"):
        requests.post(f"{base}/operator/batches/{batch.batch_id}/print", json={}, headers=headers,
                      timeout=60).raise_for_status()
    if printer is None:
        print("FBS printing skipped: no CUPS printer found (set PRINTER to a CUPS queue, or run "
              "local/cups_setup.sh as root for the cups-pdf queue PDF)", file=sys.stderr)
        return {"printed": 0, "failed": 0}
    config = AgentConfig(api=base, token=stack.settings.print_agent_token, printer=printer, wait_seconds=60.0)
    counts = PrintAgent(config).run_once()
    print(f"FBS print agent on CUPS queue {printer}: {counts['printed']} batches printed, "
          f"{counts['failed']} failed", file=sys.stderr)
    return counts


# The shipping day of `make run`: a short intake window so that it finishes in about a
# minute at the default clock speed of 10.
RUN_DAY = DayPlan(postings=30, span_seconds=300.0, cancelled_share=0.1, overdue_share=0.1, seed=5)


def run_shipping_day(stack: "LocalStack", timeout: float = 300.0) -> DaySummary:
    """Play `RUN_DAY` and print its counts (the shipping day of `make run`)."""
    warehouse_id = stack.sandbox.warehouse_list()[0]["warehouse_id"]
    print(f"FBS shipping day: {RUN_DAY.postings} postings over {RUN_DAY.span_seconds:.0f} virtual seconds",
          file=sys.stderr)
    summary = play_shipping_day(stack, RUN_DAY, warehouse_id, timeout)
    print_day(summary)
    return summary
