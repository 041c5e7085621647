"""Print batches built from labels on moto: grouping, cover page, merge, one batch per posting."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from chalicelib.clock import ManualClock
from chalicelib.fbs.models import Posting, PostingProduct, PrintBatch
from chalicelib.fbs.print_batches import (
    BatchGroup,
    BatchOptions,
    PrintBatchBuilder,
    PrintBatchError,
    merge_batch,
    pick_lines,
    render_pick_list,
)
from chalicelib.fbs.store import FbsStore
from tests.unit.print_fixtures import (  # noqa: F401 (moto_endpoint and s3 are fixtures)
    BUCKET, SHIP_BY, add_posting, draw_label, moto_endpoint, s3)

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)
DAY = "2026-12-04"


def builder(s3, **options) -> PrintBatchBuilder:
    return PrintBatchBuilder(s3, BatchOptions(bucket=BUCKET, **options), now=lambda: NOW)


def product(sku: int, offer_id: str, name: str, quantity: int) -> PostingProduct:
    return PostingProduct(sku=sku, offer_id=offer_id, name=name, quantity=quantity)


def pdf_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_groups_by_warehouse_and_ship_by(s3):
    # GIVEN labels of two warehouses and two ship-by times on one day
    later = SHIP_BY + timedelta(hours=4)
    add_posting(s3, "100-1-1", warehouse_id=1001)
    add_posting(s3, "100-1-2", warehouse_id=1001)
    add_posting(s3, "100-2-1", warehouse_id=1002)
    add_posting(s3, "100-3-1", warehouse_id=1001, ship_by=later)

    # WHEN the day is batched
    batches = builder(s3).build_day(DAY)

    # THEN there is one batch per (warehouse, ship-by), earliest first
    groups = [(int(b.warehouse_id), b.ship_by, list(b.posting_numbers)) for b in batches]
    assert groups == [(1001, SHIP_BY, ["100-1-1", "100-1-2"]), (1002, SHIP_BY, ["100-2-1"]),
                      (1001, later, ["100-3-1"])]


def test_batch_pdf_has_cover_and_first_pages(s3):
    # GIVEN two postings with two-page labels
    add_posting(s3, "200-1-1")
    add_posting(s3, "200-1-2")

    # WHEN the day is batched with the default options
    [batch] = builder(s3).build_day(DAY)

    # THEN the PDF is the cover then each label's first page, stored with its checksum
    stored = s3.get_object(Bucket=BUCKET, Key=batch.pdf_key)
    pdf = stored["Body"].read()
    texts = pdf_text(pdf)
    assert batch.pdf_key == f"print-batches/{DAY}/{batch.batch_id}.pdf"
    assert len(texts) == 3
    assert batch.pages == 3
    assert "Лист подбора" in texts[0]
    assert "LABEL 200-1-1" in texts[1]
    assert "LABEL 200-1-2" in texts[2]
    assert batch.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    assert stored["Metadata"] == {"sha256": batch.pdf_sha256, "pages": "3"}
    assert stored["ContentType"] == "application/pdf"


def test_second_page_kept_when_configured(s3):
    # GIVEN a posting with a two-page label
    add_posting(s3, "300-1-1")

    # WHEN the day is batched keeping Ozon's second page
    [batch] = builder(s3, keep_second_page=True).build_day(DAY)

    # THEN both label pages follow the cover
    texts = pdf_text(s3.get_object(Bucket=BUCKET, Key=batch.pdf_key)["Body"].read())
    assert len(texts) == 3
    assert "LABEL 300-1-1" in texts[1]
    assert "INFO 300-1-1" in texts[2]


def test_batch_row_and_posting_claims(s3):
    # GIVEN one labelled posting
    add_posting(s3, "400-1-1")

    # WHEN the day is batched
    [batch] = builder(s3).build_day(DAY)

    # THEN the row is ready and the posting points at it
    row = PrintBatch.get(batch.batch_id, consistent_read=True)
    assert row.status == "ready"
    assert row.day == DAY
    assert row.expires_at > NOW + timedelta(days=89)
    assert Posting.get("400-1-1", consistent_read=True).batch_id == batch.batch_id


def test_second_build_adds_only_new_labels(s3):
    # GIVEN a day already batched, then one more label
    add_posting(s3, "500-1-1")
    [first] = builder(s3).build_day(DAY)
    add_posting(s3, "500-1-2")

    # WHEN the day is batched again
    second = builder(s3).build_day(DAY)

    # THEN only the new posting is batched, in a new batch
    assert [list(b.posting_numbers) for b in second] == [["500-1-2"]]
    assert second[0].batch_id != first.batch_id
    assert builder(s3).build_day(DAY) == []


def test_skips_unlabelled_cancelled_and_other_days(s3):
    # GIVEN postings without a label, cancelled, or due another day
    add_posting(s3, "600-1-1")
    add_posting(s3, "600-1-2", labelled=False)
    add_posting(s3, "600-1-3", cancelled=True)
    add_posting(s3, "600-1-4", ship_by=SHIP_BY + timedelta(days=1))

    # WHEN the day is batched
    batches = builder(s3).build_day(DAY)

    # THEN only the labelled, live posting of that day is batched
    assert [list(b.posting_numbers) for b in batches] == [["600-1-1"]]
    assert Posting.get("600-1-4").batch_id is None


def test_unfinished_batch_is_completed(s3):
    # GIVEN postings claimed by a build that stopped before saving its batch
    for number in ("700-1-1", "700-1-2"):
        posting = add_posting(s3, number)
        posting.update(actions=[Posting.batch_id.set("orphan-1")])

    # WHEN the day is batched
    batches = builder(s3).build_day(DAY)

    # THEN the batch is completed under its id with both postings
    assert [b.batch_id for b in batches] == ["orphan-1"]
    assert list(batches[0].posting_numbers) == ["700-1-1", "700-1-2"]
    assert PrintBatch.get("orphan-1").pages == 3


def test_posting_in_exactly_one_batch(s3):
    # GIVEN 40 postings over two warehouses, batched in two rounds
    for index in range(20):
        add_posting(s3, f"800-{index:03d}-1", warehouse_id=1001 + index % 2)
    first = builder(s3).build_day(DAY)
    for index in range(20, 40):
        add_posting(s3, f"800-{index:03d}-1", warehouse_id=1001 + index % 2)
    second = builder(s3).build_day(DAY)

    # THEN every posting is in exactly one batch
    numbers = [n for batch in first + second for n in batch.posting_numbers]
    assert sorted(numbers) == sorted(f"800-{index:03d}-1" for index in range(40))
    assert len(numbers) == len(set(numbers))


def test_unreadable_label_names_posting(s3):
    # GIVEN a posting whose stored label is not a PDF
    add_posting(s3, "900-1-1", label=b"<html>error</html>")

    # WHEN the day is batched
    with pytest.raises(PrintBatchError) as error:
        builder(s3).build_day(DAY)

    # THEN the error names the posting
    assert "900-1-1" in str(error.value)


def test_pick_lines_sum_skus():
    # GIVEN two postings sharing one SKU
    group = BatchGroup(1001, SHIP_BY, [
        Posting("A-1", products=[product(1, "B", "Чашка", 2), product(2, "A", "Блюдце", 1)]),
        Posting("A-2", products=[product(1, "B", "Чашка", 3)]),
    ])

    # WHEN the pick list is computed
    lines = pick_lines(group.postings)

    # THEN quantities are summed per SKU, ordered by offer id
    assert [(l.offer_id, l.quantity, l.posting_numbers) for l in lines] == [
        ("A", 1, ("A-1",)), ("B", 5, ("A-1", "A-2"))]


def test_cover_has_russian_headings():
    # GIVEN a group with a product whose name needs escaping
    group = BatchGroup(1001, SHIP_BY, [
        Posting("B-1", products=[product(7, "X<1>", "Нож & вилка", 4)])])

    # WHEN the cover is drawn
    text = pdf_text(render_pick_list("b-1", group, generated_at=NOW))[0]

    # THEN the headings and the row are readable Cyrillic text
    for expected in ("Лист подбора", "Склад: 1001", "Наименование", "Кол-во", "Отправления",
                     "Нож & вилка", "X<1>", "B-1", "04.12.2026 14:00"):
        assert expected in text


def test_cover_times_in_warehouse_zone():
    # GIVEN a group due 14:00 UTC at a Moscow warehouse
    group = BatchGroup(1001, SHIP_BY, [Posting("B-1", products=[product(7, "X", "Мыло", 1)])])

    # WHEN the cover is drawn in Moscow time
    text = pdf_text(render_pick_list("b-1", group, generated_at=NOW, zone=ZoneInfo("Europe/Moscow")))[0]

    # THEN both times are Moscow's, with the zone named
    assert "04.12.2026 17:00 (Europe/Moscow)" in text
    assert "04.12.2026 12:30 (Europe/Moscow)" in text

def test_merge_rejects_empty_pdf():
    # GIVEN a cover and a label with no pages
    cover = draw_label("cover", pages=1)

    # WHEN they are merged
    with pytest.raises(PrintBatchError) as error:
        merge_batch(cover, [("C-1", b"%PDF-1.4\n%%EOF")], keep_second_page=False)

    # THEN the error names the posting
    assert "C-1" in str(error.value)


def test_batched_postings_are_journaled(s3):
    # GIVEN the FBS journal and two labelled postings
    store = FbsStore(ManualClock(start=NOW.timestamp()))
    add_posting(s3, "950-1-1")
    add_posting(s3, "950-1-2")

    # WHEN the day is batched with the journal
    [batch] = PrintBatchBuilder(s3, BatchOptions(bucket=BUCKET), lambda: NOW, store.record).build_day(DAY)

    # THEN each posting's journal has a batched event naming the batch
    for number in ("950-1-1", "950-1-2"):
        events = [event for event in store.events(number) if event.event == "batched"]
        assert len(events) == 1
        assert json.loads(events[0].detail)["batch_id"] == batch.batch_id
