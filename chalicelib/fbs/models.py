"""FBS tables: postings, their journal and print batches, modelled with PynamoDB.

The models carry placeholder table names until `bind_fbs` points them at the real
tables. Every row has a TTL attribute `expires_at` (90 days by default).

NOTE: the `postings` table has no GSI. Listing a day's labels scans it with a filter,
which is fine for a seller's few thousand postings a day and nothing larger.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.models import Model

ROW_TTL = timedelta(days=90)

TABLE_KEYS = ("postings", "fbs-journal", "print-batches")


def expiry(now: datetime | None = None, ttl: timedelta = ROW_TTL) -> datetime:
    """Return when a row written at `now` (UTC, default the wall clock) expires."""
    return (now or datetime.now(timezone.utc)) + ttl


class PostingProduct(MapAttribute):
    """One product line of a posting, as `/v3/posting/fbs/get` returns it."""

    sku = NumberAttribute()
    offer_id = UnicodeAttribute()
    name = UnicodeAttribute()
    quantity = NumberAttribute()


class Posting(Model):
    """One FBS posting and how far it went: packed, labelled, printed, closed."""

    class Meta:
        table_name = "postings"
        region = "eu-central-1"

    posting_number = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    substatus = UnicodeAttribute(null=True)
    warehouse_id = NumberAttribute()
    shipment_date = UTCDateTimeAttribute()
    in_process_at = UTCDateTimeAttribute(null=True)
    products = ListAttribute(of=PostingProduct, default=list)
    packed_at = UTCDateTimeAttribute(null=True)
    labelled_at = UTCDateTimeAttribute(null=True)
    printed_at = UTCDateTimeAttribute(null=True)
    closed_at = UTCDateTimeAttribute(null=True)
    label_key = UnicodeAttribute(null=True)
    label_sha256 = UnicodeAttribute(null=True)
    label_pages = NumberAttribute(null=True)
    label_bytes = NumberAttribute(null=True)
    batch_id = UnicodeAttribute(null=True)
    carriage_id = NumberAttribute(null=True)
    late = BooleanAttribute(default=False)
    cancelled = BooleanAttribute(default=False)
    expires_at = TTLAttribute(null=True)
    version = VersionAttribute()


class PostingEvent(Model):
    """One journal row of a posting (`pk = posting#<number>`, `sk = <iso time>#<event>`)."""

    class Meta:
        table_name = "fbs-journal"
        region = "eu-central-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    event = UnicodeAttribute()
    detail = UnicodeAttribute(default="{}")
    expires_at = TTLAttribute(null=True)


class PrintBatch(Model):
    """One merged PDF of a day's labels for one warehouse and ship-by time."""

    class Meta:
        table_name = "print-batches"
        region = "eu-central-1"

    batch_id = UnicodeAttribute(hash_key=True)
    warehouse_id = NumberAttribute()
    ship_by = UTCDateTimeAttribute()
    day = UnicodeAttribute()
    posting_numbers = ListAttribute(of=UnicodeAttribute, default=list)
    pdf_key = UnicodeAttribute(null=True)
    pdf_sha256 = UnicodeAttribute(null=True)
    pages = NumberAttribute(null=True)
    # ready | print_requested | printing | printed | failed
    status = UnicodeAttribute(default="ready")
    requested_at = UTCDateTimeAttribute(null=True)
    printed_at = UTCDateTimeAttribute(null=True)
    printer = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


MODELS: dict[str, type[Model]] = {
    "postings": Posting,
    "fbs-journal": PostingEvent,
    "print-batches": PrintBatch,
}


def table_names(table_prefix_or_names: str | Mapping[str, str]) -> dict[str, str]:
    """Map each table key to its name: `<prefix><key>` for a prefix, or looked up in a mapping."""
    if isinstance(table_prefix_or_names, str):
        return {key: f"{table_prefix_or_names}{key}" for key in TABLE_KEYS}
    missing = [key for key in TABLE_KEYS if key not in table_prefix_or_names]
    if missing:
        raise ValueError(f"FBS table names are missing for {missing}; pass a name for each of {list(TABLE_KEYS)}.")
    return {key: table_prefix_or_names[key] for key in TABLE_KEYS}


def bind_fbs(table_prefix_or_names: str | Mapping[str, str], region: str, host: str | None) -> None:
    """Point every FBS model at its table (and a local endpoint when `host` is set).

    `table_prefix_or_names` is either a prefix ("" gives the bare names `postings`,
    `fbs-journal`, `print-batches`) or a mapping from those keys to table names.
    """
    names = table_names(table_prefix_or_names)
    for key, model in MODELS.items():
        model.Meta.table_name = names[key]
        model.Meta.region = region
        model.Meta.host = host
        model._connection = None
