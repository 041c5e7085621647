"""A small Chalice app for the event pump tests.

Each message body is JSON with an `action` that selects what the handler does with its
record: "ok", "fail" (report it in batchItemFailures), "raise" (fail the whole batch),
"bogus" (report an itemIdentifier that is not in the batch) or "sleep" (for `seconds`).
Every invocation is written to `journal`, which the tests read.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from chalice import Chalice, Cron, Rate

ORDERS_QUEUE = "pump-orders"
SLOW_QUEUE = "pump-slow"
WINDOW_QUEUE = "pump-window"
QUEUES = (ORDERS_QUEUE, SLOW_QUEUE, WINDOW_QUEUE)

app = Chalice(app_name="pump-test")


@dataclass
class Invocation:
    """One handler call as the handler saw it."""

    handler: str
    event: Any
    context: Any
    records: list[dict[str, Any]] = field(default_factory=list)


class Journal:
    """Thread-safe record of invocations, middleware calls and handler overlap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []
        self.middleware_calls = 0
        self.running = 0
        self.max_running = 0

    def clear(self) -> None:
        with self._lock:
            self.invocations = []
            self.middleware_calls = 0
            self.running = 0
            self.max_running = 0

    def add(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)

    def count_middleware_call(self) -> None:
        with self._lock:
            self.middleware_calls += 1

    def enter(self) -> None:
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)

    def leave(self) -> None:
        with self._lock:
            self.running -= 1

    def of(self, handler: str) -> list[Invocation]:
        with self._lock:
            return [invocation for invocation in self.invocations if invocation.handler == handler]


journal = Journal()


@app.middleware("all")
def count_calls(event, get_response):
    journal.count_middleware_call()
    return get_response(event)


@app.on_sqs_message(queue=ORDERS_QUEUE, batch_size=3, name="orders")
def orders(event):
    records = [record.to_dict() for record in event]
    journal.add(Invocation("orders", event, event.context, records))
    actions = [json.loads(record["body"])["action"] for record in records]

    if "raise" in actions:
        raise RuntimeError("orders batch rejected by the test")

    failures = [
        {"itemIdentifier": record["messageId"]}
        for record, action in zip(records, actions, strict=True)
        if action == "fail"
    ]
    if "bogus" in actions:
        failures.append({"itemIdentifier": "not-a-message-id"})
    return {"batchItemFailures": failures}


@app.on_sqs_message(queue=SLOW_QUEUE, batch_size=1, maximum_concurrency=2, name="slow")
def slow(event):
    records = [record.to_dict() for record in event]
    journal.add(Invocation("slow", event, event.context, records))

    journal.enter()
    try:
        for record in records:
            time.sleep(json.loads(record["body"])["seconds"])
    finally:
        journal.leave()


@app.on_sqs_message(
    queue=WINDOW_QUEUE, batch_size=5, maximum_batching_window_in_seconds=3, name="window"
)
def window(event):
    records = [record.to_dict() for record in event]
    journal.add(Invocation("window", event, event.context, records))


@app.schedule(Rate(1, unit=Rate.MINUTES), name="every_minute")
def every_minute(event):
    journal.add(Invocation("every_minute", event, event.context))
    return {"fired": event.event_id}


@app.schedule(Cron(0, 3, "*", "*", "?", "*"), name="nightly")
def nightly(event):
    journal.add(Invocation("nightly", event, event.context))
