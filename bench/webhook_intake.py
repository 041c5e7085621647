"""Benchmark of the Ozon push webhook and of the label pipeline on the local stack.

Figures:

- acknowledgement latency p50/p99 of `POST /ozon/push/<token>` (HTTP round trip from one
  client), through Chalice's LocalGateway in this process: the sender check, the token
  check, the dedupe claim in DynamoDB and the SQS send. Moto's server runs as a separate
  process, as DynamoDB and SQS are separate services in AWS, and nothing else runs, so the
  intake has one core (the GIL) to itself;
- sustained notifications per second over the same path;
- time from a new posting to its label in S3, on the sandbox's virtual clock
  (`labelled_at - in_process_at` of each posting row), with auto-packing on.

    python -m bench.webhook_intake [--notices 2000] [--postings 20] [--clock-speed 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

import requests

from chalicelib.fbs import wiring as fbs_wiring
from local.fbs_stack import LOCAL_SENDER_RANGES
from local.harness import LocalStack
from local.sandbox.postings import PushConfig, SandboxPosting
from local.stack import create_local_stack
from local.webhook import WebhookServer

WAREHOUSE_ID = 22142605386000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextmanager
def intake_only() -> Iterator[str]:
    """Serve the app's routes against moto in a child process; yields the webhook URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    saved = dict(os.environ)
    try:
        _wait_for(f"{endpoint}/moto-api/")
        resources = create_local_stack(endpoint, "local")
        token = secrets.token_urlsafe(16)
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "eu-central-1",
                           "BUCKET": resources.bucket, "OZON_PUSH_TOKEN": token,
                           "OZON_PUSH_CIDRS": LOCAL_SENDER_RANGES, "ALERTS_TOPIC_ARN": resources.topic_arn})
        fbs_wiring.reset()
        from app import app

        server = WebhookServer(app)
        try:
            yield f"{server.start()}/ozon/push/{token}"
        finally:
            server.stop()
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        os.environ.clear()
        os.environ.update(saved)
        fbs_wiring.reset()


def _wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"moto did not start at {url} within {timeout:.0f} s")


def measure_intake(push_url: str, notices: int) -> dict[str, float]:
    """Send `notices` distinct state-change notices one after another; time each reply."""
    session = requests.Session()
    latencies = []
    started = time.perf_counter()
    for index in range(notices):
        body = json.dumps({"message_type": "TYPE_STATE_CHANGED", "posting_number": f"80000000-{index:04d}-1",
                           "new_state": "posting_transferring_to_delivery",
                           "changed_state_date": "2026-12-04T10:00:00Z", "warehouse_id": WAREHOUSE_ID,
                           "seller_id": 15})
        sent = time.perf_counter()
        reply = session.post(push_url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        latencies.append((time.perf_counter() - sent) * 1000)
        if reply.status_code != 200:
            raise RuntimeError(f"notice {index} answered HTTP {reply.status_code}: {reply.text}")
    elapsed = time.perf_counter() - started
    return {"p50_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies), "per_second": notices / elapsed}


def measure_labels(stack: LocalStack, postings: int) -> dict[str, float]:
    """Create `postings` new postings with their push notices; time each to its label in S3."""
    book = stack.fbs.book
    book.configure_push(config=PushConfig())
    numbers = []
    for index in range(postings):
        now = stack.clock.now()
        number = f"81000000-{index:04d}-1"
        book.add_posting(SandboxPosting(number, WAREHOUSE_ID, 18114520187000,
                                        [{"sku": 180550365, "offer_id": "250-7898-1", "name": "Кофе", "quantity": 1}],
                                        now, now + 6 * 3600))
        numbers.append(number)
        time.sleep(0.2)
    store = fbs_wiring.store()
    stack.fbs.wait(lambda: all((store.get(n) or None) is not None and store.get(n).label_key for n in numbers), 300)
    waits = []
    for number in numbers:
        row = store.get(number)
        if row is not None and row.labelled_at is not None:
            waits.append((row.labelled_at - row.in_process_at).total_seconds())
    return {"labelled": len(waits), "p50_s": statistics.median(waits), "max_s": max(waits)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_intake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=2000, help="notices sent for the latency figures")
    parser.add_argument("--postings", type=int, default=20, help="postings timed from creation to label")
    parser.add_argument("--clock-speed", type=float, default=10.0, help="virtual seconds per real second")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)

    with intake_only() as push_url:
        intake = measure_intake(push_url, args.notices)
    with LocalStack(clock_speed=args.clock_speed) as stack:
        stack.fbs.configure_push(PushConfig(lost_share=1.0))
        labels = measure_labels(stack, args.postings)

    print(f"acknowledgement latency: p50 {intake['p50_ms']:.1f} ms, p99 {intake['p99_ms']:.1f} ms, "
          f"max {intake['max_ms']:.1f} ms over {args.notices} notices")
    print(f"sustained: {intake['per_second']:.0f} notifications/s (one client, routes on one core)")
    print(f"new posting to label in S3 (sandbox clock, {labels['labelled']} postings): "
          f"p50 {labels['p50_s']:.0f} s, max {labels['max_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
