"""Pure parts of the FBS flow: forward-only posting state, dedupe keys, label PDF checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.fbs.labels import LabelFileError, check_label
from chalicelib.fbs.messages import NoticeError, dedupe_key
from chalicelib.fbs.pipeline import merge_posting
from chalicelib.ozon.fbs_models import FbsPosting
from local.sandbox.postings import SandboxPosting, draw_labels

NOW = datetime(2026, 12, 4, 10, tzinfo=timezone.utc)
SHIP_BY = NOW + timedelta(hours=6)


def posting(status: str, substatus: str = "", shipment_date: datetime = SHIP_BY) -> FbsPosting:
    return FbsPosting.model_validate({
        "posting_number": "1-1-1", "status": status, "substatus": substatus,
        "delivery_method": {"id": 7, "warehouse_id": 22142605386000},
        "shipment_date": shipment_date.isoformat(), "products": [{"sku": 5, "quantity": 2, "offer_id": "A"}]})


def test_new_row_from_reply():
    # GIVEN no row WHEN Ozon reports a posting awaiting packaging THEN a row is made from the reply
    row = merge_posting(None, posting("awaiting_packaging"), NOW)
    assert row.status == "awaiting_packaging"
    assert row.warehouse_id == 22142605386000
    assert row.products[0].sku == 5
    assert row.packed_at is None


def test_state_never_moves_back():
    # GIVEN a packed row
    row = merge_posting(None, posting("awaiting_deliver"), NOW)

    # WHEN a late read reports the older status THEN nothing changes
    assert merge_posting(row, posting("awaiting_packaging"), NOW + timedelta(minutes=1)) is None
    assert row.status == "awaiting_deliver"


def test_packed_late_marked():
    # GIVEN a posting first seen packed after its ship-by time THEN it is recorded as late
    row = merge_posting(None, posting("awaiting_deliver", shipment_date=NOW - timedelta(minutes=5)), NOW)
    assert row.packed_at == NOW
    assert row.late is True


def test_cancel_is_final():
    # GIVEN a cancelled posting WHEN a stale read says awaiting_deliver THEN it stays cancelled and unpacked
    row = merge_posting(None, posting("cancelled"), NOW)
    assert merge_posting(row, posting("awaiting_deliver"), NOW) is None
    assert row.cancelled is True
    assert row.packed_at is None


def test_ship_by_follows_ozon_until_packed():
    # GIVEN an unpacked row WHEN Ozon moves the ship-by time THEN the row follows it
    row = merge_posting(None, posting("awaiting_packaging"), NOW)
    moved = merge_posting(row, posting("awaiting_packaging", shipment_date=SHIP_BY + timedelta(hours=1)), NOW)
    assert moved.shipment_date == SHIP_BY + timedelta(hours=1)


def test_dedupe_key_by_state_and_date():
    # GIVEN state-change notices of one posting
    base = {"message_type": "TYPE_STATE_CHANGED", "posting_number": "1-1-1", "new_state": "posting_created",
            "changed_state_date": "2026-12-04T10:00:00Z", "warehouse_id": 1}

    # THEN copies share a key, while a new state or date makes a new one
    assert dedupe_key(dict(base)) == dedupe_key(dict(base, seller_id=15))
    assert dedupe_key(base) != dedupe_key(dict(base, new_state="posting_canceled"))
    assert dedupe_key(base) != dedupe_key(dict(base, changed_state_date="2026-12-04T11:00:00Z"))


def test_dedupe_key_needs_posting():
    # GIVEN a posting notice without its number THEN it is rejected
    with pytest.raises(NoticeError):
        dedupe_key({"message_type": "TYPE_NEW_POSTING"})


def test_sandbox_label_passes_checks():
    # GIVEN a label the sandbox draws THEN it passes the PDF checks with two pages
    pdf = draw_labels([SandboxPosting("1-1-1", 1, 7, [{"sku": 5, "offer_id": "A", "name": "x", "quantity": 1}],
                                      0.0, 3600.0)])
    label = check_label("1-1-1", pdf)
    assert label.pages == 2
    assert len(label.sha256) == 64


@pytest.mark.parametrize("body, problem", [
    (b"<html>not a pdf</html>" * 100, "not a PDF"),
    (b"%PDF-1.4\n%%EOF", "bytes"),
    (b"%PDF-1.4\n" + b"0" * 4096, "cannot be read"),
])
def test_bad_labels_rejected(body, problem):
    # GIVEN a download that is not a usable label THEN the check names what is wrong
    with pytest.raises(LabelFileError, match=problem):
        check_label("1-1-1", body)
