"""A shipping day on the local stack: 300 postings, lost and duplicated notices, carriages.

The sandbox creates the day's postings over a one-hour intake window of virtual time
(the clock runs 100 times faster than real time), with ship-by times 6 to 30 hours later,
and pushes their notices with 5% lost and 5% duplicated. 5% of the postings are cancelled
soon after they appear. Auto-packing is on. The lost notices are made up by the poll of
the unfulfilled list.

`FBS_DAY_POSTINGS=N` plays a day of N postings instead.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import requests

from chalicelib.fbs import wiring as fbs_wiring
from chalicelib.fbs.models import PrintBatch
from local.fbs_stack import DayPlan
from local.sandbox.postings import CANCELLED, PushConfig

WAREHOUSE_ID = 22142605386000
POSTINGS = int(os.environ.get("FBS_DAY_POSTINGS", "300"))


@pytest.fixture(scope="module")
def day(request):
    from local.harness import LocalStack

    stack = LocalStack(clock_speed=100)
    stack.start()
    stack.fbs.configure_push(PushConfig(lost_share=0.05, duplicate_share=0.05, seed=11))
    numbers = stack.fbs.plan_day(DayPlan(postings=POSTINGS, span_seconds=3600, cancelled_share=0.05, seed=3), WAREHOUSE_ID)
    book = stack.fbs.book

    def settled() -> bool:
        live = [n for n in numbers if n in book.postings and book.postings[n].status != CANCELLED]
        labelled = {key.rsplit("/", 1)[-1][:-4] for key in stack.fbs.labels_in_s3()}
        return len(book.postings) == len(numbers) and set(live) <= labelled

    finished = stack.fbs.wait(settled, timeout=700, interval=2.0)
    stack.pump.run_until_idle(timeout=30, idle_for=2.0)
    yield stack, numbers, finished
    stack.stop()


def test_day_finishes(day):
    # GIVEN the day WHEN the pipeline has caught up THEN every live posting was labelled in time
    stack, numbers, finished = day
    assert finished, (f"{len(stack.fbs.labels_in_s3())} labels for {len(numbers)} postings; "
                      f"pump {stack.pump.stats()}; push {stack.fbs.book.push_stats.to_json()}")


def test_notices_lost_and_duplicated(day):
    # GIVEN the sandbox's push statistics THEN the day did lose and duplicate notices
    stack, _, _ = day
    stats = stack.fbs.book.push_stats
    assert stats.lost > 0
    assert stats.duplicated > 0


def test_one_label_per_live_posting(day):
    # GIVEN every posting of the day
    stack, numbers, _ = day
    book = stack.fbs.book
    labels = Counter(key.rsplit("/", 1)[-1][:-4] for key in stack.fbs.labels_in_s3())
    live = [n for n in numbers if book.postings[n].status != CANCELLED]

    # THEN each live posting has exactly one label object in S3, packed and asked for once
    assert len(live) >= POSTINGS * 0.9
    for number in live:
        assert labels[number] == 1, number
        assert book.postings[number].ship_calls == 1, number
        assert book.label_creates.get(number) == 1, number


def test_one_batch_place_per_live_posting(day):
    # GIVEN the labelled postings of the day
    stack, numbers, _ = day
    book = stack.fbs.book
    live = [n for n in numbers if book.postings[n].status != CANCELLED]
    days = sorted({row.shipment_date.strftime("%Y-%m-%d") for row in stack.fbs.rows() if row.label_key})

    # WHEN the operator builds the batches of every ship-by day, twice
    for _ in range(2):
        for ship_day in days:
            reply = requests.post(f"{stack.fbs.webhook.base_url}/operator/batches/build", json={"day": ship_day},
                                  headers=stack.fbs.operator_headers, timeout=120)
            assert reply.status_code == 200, reply.text

    # THEN each live posting has exactly one place in one batch, and no cancelled one has any
    places = Counter(number for batch in PrintBatch.scan() for number in batch.posting_numbers)
    for number in live:
        assert places[number] == 1, number
    assert set(places) == set(live)

def test_cancelled_get_no_label(day):
    # GIVEN the cancelled postings of the day
    stack, numbers, _ = day
    book = stack.fbs.book
    cancelled = [n for n in numbers if book.postings[n].status == CANCELLED]
    labels = {key.rsplit("/", 1)[-1][:-4] for key in stack.fbs.labels_in_s3()}

    # THEN none has a label, and their rows are marked cancelled. A label task may have been
    # requested before the cancellation, and Ozon then leaves the posting out of the file.
    assert cancelled
    for number in cancelled:
        assert number not in labels, number
        row = fbs_wiring.store().get(number)
        assert row is None or row.cancelled, number


def test_labels_keyed_by_day_and_warehouse(day):
    # GIVEN the label objects THEN each sits under labels/<ship-by day>/<warehouse>/ with its checksum
    stack, _, _ = day
    keys = stack.fbs.labels_in_s3()
    assert keys
    head = stack.s3.head_object(Bucket=stack.resources.bucket, Key=keys[0])
    row = fbs_wiring.store().get(keys[0].rsplit("/", 1)[-1][:-4])
    assert keys[0] == f"labels/{row.shipment_date:%Y-%m-%d}/{WAREHOUSE_ID}/{row.posting_number}.pdf"
    assert head["Metadata"]["sha256"] == row.label_sha256
    assert head["Metadata"]["pages"] == "2"


def test_dock_scan_closes_once(day):
    # GIVEN a labelled posting scanned at the dock
    stack, numbers, _ = day
    labelled = [n for n in numbers if stack.fbs.book.postings[n].status != CANCELLED]
    url = f"{stack.fbs.webhook.base_url}/operator/dock-scan"

    # WHEN it is scanned twice
    first = requests.post(url, json={"code": labelled[0]}, headers=stack.fbs.operator_headers,
                          timeout=60)
    second = requests.post(url, json={"code": labelled[1]}, headers=stack.fbs.operator_headers,
                           timeout=60)

    # THEN one carriage is created and approved, the second scan finds nothing left to
    # close, and every packed posting is closed in that carriage
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert stack.fbs.book.carriage_calls == {"create": 1, "approve": 1}
    assert second.json()["carriages"] == {}
    carriage_id = next(iter(first.json()["carriages"].values()))
    row = fbs_wiring.store().get(labelled[-1])
    assert row.carriage_id == carriage_id
    assert row.closed_at is not None
    assert "closed" in [event.event for event in fbs_wiring.store().events(labelled[-1])]


def test_dock_scan_unknown_code(day):
    # GIVEN a code that is neither a batch nor a posting Ozon knows
    stack, _, _ = day
    reply = requests.post(f"{stack.fbs.webhook.base_url}/operator/dock-scan", json={"code": "00000000-0000-0"},
                          headers=stack.fbs.operator_headers, timeout=30)

    # THEN the operator gets 404 with a message naming it
    assert reply.status_code == 404
    assert "00000000-0000-0" in reply.json()["error"]["message"]


def test_dock_scan_needs_operator(day):
    # GIVEN a scan without the operator token THEN it is refused with 401 and nothing is closed
    stack, numbers, _ = day
    reply = requests.post(f"{stack.fbs.webhook.base_url}/operator/dock-scan", json={"code": numbers[0]}, timeout=30)
    assert reply.status_code == 401
    assert set(reply.json()["error"]) == {"code", "message", "details"}
