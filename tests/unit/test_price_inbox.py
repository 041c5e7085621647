"""A change of costs or fees: uploads and 1C cost requests update the matrix and plan a run.

The planner runs for real against the in-process sandbox of `test_price_sync`, so a test
checks which SKUs a load sends to Ozon.
"""

from __future__ import annotations

from decimal import Decimal as D
from urllib.parse import quote_plus

import pytest

from chalicelib.names import PRICE_INBOX_PREFIX
from chalicelib.prices.formula import CostInputs, PricingRule
from chalicelib.prices.inbox import (
    InboxDeps,
    handle_message,
    input_kind,
    onec_price_files,
    send_onec_costs_request,
)
from chalicelib.prices.messages import OnecCostsRequest
from chalicelib.prices.store import InMemoryPriceStore
from chalicelib.prices.updates import apply_costs, apply_operator_rows
from chalicelib.prices.inputs import OperatorRow
from chalicelib.settings import Settings
from chalicelib.storage.blobs import InMemoryBlobStore
from chalicelib.storage.queues import InMemoryQueue
from tests.unit.test_price_inputs import write_offers
from tests.unit.test_price_sync import Pipeline, offers

COSTS_KEY = f"{PRICE_INBOX_PREFIX}costs-2026-12-01.csv"
OPERATOR_KEY = f"{PRICE_INBOX_PREFIX}operator.csv"
OPERATOR_HEADER = "offer_id;category;logistics;fee_percent;acquiring_percent;vat;currency"


def row(offer_id: str, cost: str, fee: str = "15", category: str = "household", currency: str = "RUB") -> CostInputs:
    return CostInputs(offer_id, D(cost), D("20"), D(fee), D("1.5"), D("0.2"), currency, category)


def s3_event(key: str, version: str = "v1") -> dict:
    # S3 sends the key URL-encoded, with a version id because the bucket is versioned.
    return {"Records": [{"eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": "ozon-seller-ops-local"},
                                "object": {"key": quote_plus(key), "versionId": version, "eTag": "etag"}}}]}


class Inbox:
    """A synced catalogue of five SKUs at cost 100, with the inbox's blobs and dependencies."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.pipeline = Pipeline(offers(5), settings)
        self.pipeline.costs({offer_id: "100" for offer_id in offers(5)})
        self.pipeline.plan()
        self.pipeline.drain()
        self.store = self.pipeline.store
        self.store.written.clear()
        self.blobs = InMemoryBlobStore()
        self.deps = InboxDeps(self.pipeline.settings, self.store, self.pipeline.journal, self.blobs,
                              self.pipeline.plan)

    def upload(self, key: str, text: str, version: str = "v1"):
        self.blobs.put_bytes(key, text.encode())
        return handle_message(s3_event(key, version), self.deps)

    def pushed_offer_ids(self) -> list[str]:
        return [item["offer_id"] for message in self.pipeline.queue.sent if message.body["kind"] == "price.push"
                for item in message.body["items"]]


def test_costs_update_one_sku():
    # GIVEN a synced catalogue
    inbox = Inbox()

    # WHEN a costs CSV raises the cost of one SKU and repeats another one's
    summary = inbox.upload(COSTS_KEY, "offer_id;cost\nPH-00001;150,50\nPH-00002;100\n")

    # THEN only that SKU's row is rewritten, with its fees kept, and a run sends only it
    stored = inbox.store.matrix["PH-00001"]
    assert summary.rows_changed == 1
    assert summary.rows_unchanged == 1
    assert stored.cost == D("150.50")
    assert stored.fee_percent == D("15")
    assert inbox.store.written == ["PH-00001"]
    assert summary.run_id
    assert inbox.pushed_offer_ids() == ["PH-00001"]


def test_costs_unknown_sku_skipped():
    # GIVEN a synced catalogue
    inbox = Inbox()

    # WHEN a costs CSV names a SKU without a matrix row, and a bad cost
    summary = inbox.upload(COSTS_KEY, "offer_id;cost\nNEW-1;99\nPH-00003;abc\nPH-00004;120\n")

    # THEN the unknown SKU is reported and skipped, the bad cost too, the rest applies
    messages = {issue.offer: issue.message for issue in summary.issues}
    assert messages["NEW-1"] == "no operator row for SKU NEW-1; add it to the operator CSV"
    assert "PH-00003" in messages
    assert "NEW-1" not in inbox.store.matrix
    assert inbox.store.matrix["PH-00003"].cost == D("100")
    assert inbox.store.matrix["PH-00004"].cost == D("120")
    assert summary.rows_changed == 1


def test_problems_journaled_under_load():
    # GIVEN a synced catalogue WHEN a costs CSV names an unknown SKU
    inbox = Inbox()
    summary = inbox.upload(COSTS_KEY, "offer_id;cost\nNEW-1;99\n")

    # THEN the problem is journaled under the load id with the SKU and the value
    (event,) = inbox.pipeline.journal.events(summary.load_id)
    assert event.kind == "input"
    assert event.offer_id == "NEW-1"
    assert event.detail["value"] == "99"
    assert event.detail["source"] == COSTS_KEY


def test_operator_update_keeps_cost():
    # GIVEN a synced catalogue
    inbox = Inbox()
    text = "\n".join([OPERATOR_HEADER,
                      "PH-00000;household;20;18;1.5;0.2;RUB",   # fee 15 -> 18
                      "PH-00001;household;20;15;1.5;0.2;RUB",   # unchanged
                      "NEW-2;household;20;15;1.5;0.2;RUB",      # no cost yet
                      "PH-00002;garden;20;15;1.5;0.2;RUB"])     # no rule for the category

    # WHEN the operator CSV is uploaded
    summary = inbox.upload(OPERATOR_KEY, text + "\n")

    # THEN the fee changes, the cost stays, and only that row is written and pushed
    assert inbox.store.matrix["PH-00000"].fee_percent == D("18")
    assert inbox.store.matrix["PH-00000"].cost == D("100")
    assert inbox.store.written == ["PH-00000"]
    assert summary.rows_changed == 1
    assert summary.rows_unchanged == 1
    assert inbox.pushed_offer_ids() == ["PH-00000"]

    # AND the SKU without a cost and the unknown category are reported and skipped
    assert {issue.offer for issue in summary.issues} == {"NEW-2", "PH-00002"}
    assert "NEW-2" not in inbox.store.matrix
    assert inbox.store.matrix["PH-00002"].category == "household"


def test_unchanged_upload_plans_nothing():
    # GIVEN a synced catalogue WHEN a costs CSV repeats the stored costs
    inbox = Inbox()
    summary = inbox.upload(COSTS_KEY, "offer_id;cost\nPH-00000;100,00\nPH-00001;100\n")

    # THEN no row is rewritten and no run is planned
    assert summary.rows_changed == 0
    assert inbox.store.written == []
    assert summary.run_id is None
    assert inbox.pipeline.queue.sent == []


def test_duplicate_delivery_changes_nothing():
    # GIVEN a costs upload that was loaded and planned once
    inbox = Inbox()
    first = inbox.upload(COSTS_KEY, "offer_id;cost\nPH-00001;130\n")
    sent = len(inbox.pipeline.queue.sent)
    written = list(inbox.store.written)

    # WHEN S3 delivers the same notification again
    again = handle_message(s3_event(COSTS_KEY), inbox.deps)

    # THEN nothing is written or planned, and the load id is the same
    assert first.rows_changed == 1
    assert again.rows_changed == 0
    assert again.run_id is None
    assert again.load_id == first.load_id
    assert inbox.store.written == written
    assert len(inbox.pipeline.queue.sent) == sent


def test_redelivery_plans_again():
    # GIVEN a costs upload whose rows were written WHEN SQS delivers the message a second time
    inbox = Inbox()
    inbox.upload(COSTS_KEY, "offer_id;cost\nPH-00001;130\n")
    runs = inbox.pipeline.journal.seq
    again = handle_message(s3_event(COSTS_KEY), inbox.deps, redelivered=True)

    # THEN it plans even though no row changed, since the first attempt may have failed before planning
    assert again.rows_changed == 0
    assert again.run_id
    assert inbox.pipeline.journal.seq == runs + 1


def test_bad_file_loses_nothing():
    # GIVEN a synced catalogue
    inbox = Inbox()

    # WHEN a costs CSV without the cost column and a CSV of an unknown name arrive
    missing = inbox.upload(COSTS_KEY, "offer_id;price\nPH-00001;130\n")
    unknown = inbox.upload(f"{PRICE_INBOX_PREFIX}prices.csv", "offer_id;cost\nPH-00001;130\n")

    # THEN each is one file-level problem and the matrix is untouched
    assert [issue.offer for issue in missing.issues] == [None]
    assert "missing columns cost" in missing.issues[0].message
    assert [issue.offer for issue in unknown.issues] == [None]
    assert "costs*.csv" in unknown.issues[0].message
    assert inbox.store.written == []
    assert inbox.store.matrix["PH-00001"].cost == D("100")


def test_test_event_ignored():
    # GIVEN S3's test event WHEN it is handled THEN nothing is loaded
    assert handle_message({"Service": "Amazon S3", "Event": "s3:TestEvent"}, Inbox().deps) is None


def test_unknown_message_rejected():
    # GIVEN a message of an unknown kind WHEN it is handled THEN it raises naming the kind
    with pytest.raises(ValueError, match="price.bogus"):
        handle_message({"kind": "price.bogus"}, Inbox().deps)


def test_input_kind_by_name():
    # GIVEN keys under and outside the inbox THEN only costs*.csv and operator*.csv under it count
    assert input_kind(f"{PRICE_INBOX_PREFIX}costs.csv") == "costs"
    assert input_kind(f"{PRICE_INBOX_PREFIX}Costs-December.CSV") == "costs"
    assert input_kind(f"{PRICE_INBOX_PREFIX}operator-fees.csv") == "operator"
    assert input_kind(f"{PRICE_INBOX_PREFIX}costs.xlsx") is None
    assert input_kind("inbox/1c/costs.csv") is None


def test_onec_costs_update(tmp_path):
    # GIVEN a synced catalogue and an exchange whose offers carry the purchase price type
    inbox = Inbox(Settings(onec_price_type_id="purchase"))
    prefix = "inbox/1c/20261201T100000-ab12cd34/"
    path = write_offers(tmp_path / "offers.xml", [
        ("g-1", "PH-00001", "140,00", "RUB"), ("g-2", "PH-00002", "100", "RUB"),
        ("g-3", "PH-00003", "7", "USD"), ("g-9", "NEW-9", "50", "RUB")])
    inbox.blobs.put_bytes(prefix + "offers.xml", path.read_bytes())
    request = OnecCostsRequest(exchange_prefix=prefix, files=["offers.xml"])

    # WHEN the stock planner's request is handled
    summary = handle_message(request.model_dump(), inbox.deps)

    # THEN the changed cost is written and pushed, the equal one is not
    assert inbox.store.matrix["PH-00001"].cost == D("140")
    assert inbox.store.written == ["PH-00001"]
    assert inbox.pushed_offer_ids() == ["PH-00001"]
    assert summary.rows_unchanged == 1

    # AND a cost in another currency and an unknown SKU are reported and skipped
    messages = {issue.offer: issue.message for issue in summary.issues}
    assert "in USD but the operator CSV prices it in RUB" in messages["PH-00003"]
    assert "no operator row for SKU NEW-9" in messages["NEW-9"]
    assert inbox.store.matrix["PH-00003"].cost == D("100")


def test_onec_costs_need_price_type():
    # GIVEN no ONEC_PRICE_TYPE_ID WHEN a 1C cost request arrives
    inbox = Inbox()
    request = OnecCostsRequest(exchange_prefix="inbox/1c/x/", files=["offers.xml"])
    summary = handle_message(request.model_dump(), inbox.deps)

    # THEN it is one problem naming the setting, and nothing is read or planned
    assert "ONEC_PRICE_TYPE_ID" in summary.issues[0].message
    assert summary.rows_changed == 0
    assert summary.run_id is None


def test_onec_rejected_file_reported():
    # GIVEN an exchange whose prices file is not an offers package
    inbox = Inbox(Settings(onec_price_type_id="purchase"))
    prefix = "inbox/1c/y/"
    inbox.blobs.put_bytes(prefix + "prices.xml", b"<?xml version='1.0'?><Orders/>")
    request = OnecCostsRequest(exchange_prefix=prefix, files=["prices.xml"])

    # WHEN the request is handled THEN the file is one problem and nothing changes
    summary = handle_message(request.model_dump(), inbox.deps)
    assert [issue.source for issue in summary.issues] == ["prices.xml"]
    assert summary.rows_changed == 0


def test_onec_price_files_selected():
    # GIVEN the files of a split 1C exchange THEN the offers and prices packages are named
    files = ["import___1.xml", "offers___2.xml", "prices___3.xml", "rests___4.xml", "offers.xml",
             "import_files/ab/photo.jpg", "stock.csv"]
    assert onec_price_files(files) == ["offers___2.xml", "prices___3.xml", "offers.xml"]


def test_onec_request_sent():
    # GIVEN an exchange manifest WHEN the stock planner requests its costs
    queue = InMemoryQueue()
    sent = send_onec_costs_request("inbox/1c/z/", ["import.xml", "offers.xml"], queue)

    # THEN one request naming the offers file is queued
    assert sent is True
    assert [message.body for message in queue.sent] == [
        {"kind": "price.costs.onec", "exchange_prefix": "inbox/1c/z/", "files": ["offers.xml"]}]


def test_onec_request_skipped_without_offers():
    # GIVEN an exchange of catalog files only WHEN costs are requested THEN nothing is queued
    queue = InMemoryQueue()
    assert send_onec_costs_request("inbox/1c/z/", ["import.xml"], queue) is False
    assert queue.sent == []


def test_apply_costs_on_empty_matrix():
    # GIVEN an empty matrix WHEN costs are applied THEN every SKU is reported and nothing is written
    store = InMemoryPriceStore()
    update = apply_costs(store, {"PH-1": D("10")}, source="costs.csv")
    assert update.rows_changed == 0
    assert [issue.offer for issue in update.issues] == ["PH-1"]
    assert store.written == []


def test_apply_operator_rows_new_rule_category():
    # GIVEN a stored SKU and a second category's rule
    store = InMemoryPriceStore()
    store.add_rule(PricingRule("household", 1, D("10"), D("35"), D("70")))
    store.add_rule(PricingRule("cosmetics", 1, D("15"), D("45"), D("90")))
    store.put_inputs([row("PH-1", "100")])
    store.written.clear()

    # WHEN the operator moves it to the other category
    update = apply_operator_rows(store, [OperatorRow("PH-1", "cosmetics", D("20"), D("15"), D("1.5"), D("0.2"),
                                                     "RUB")], source="operator.csv")

    # THEN its row is rewritten with the new category and the same cost
    assert update.rows_changed == 1
    assert store.matrix["PH-1"] == row("PH-1", "100", category="cosmetics")
