"""Fixtures of the print tests: FBS tables and a bucket on moto, and label PDFs drawn here."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import boto3
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from chalicelib.fbs.models import MODELS, Posting, PostingProduct, bind_fbs

REGION = "eu-central-1"
BUCKET = "print-test"
SHIP_BY = datetime(2026, 12, 4, 14, 0, tzinfo=timezone.utc)


def draw_label(posting_number: str, pages: int = 2) -> bytes:
    """Draw a label PDF like Ozon's: a 75x120 mm label page, then an information page."""
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=(75 * mm, 120 * mm))
    for page in range(1, pages + 1):
        sheet.drawString(5 * mm, 100 * mm, f"{'LABEL' if page == 1 else 'INFO'} {posting_number}")
        sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def create_tables_and_bucket() -> object:
    """Create the FBS tables and the bucket inside an active moto mock; return an S3 client."""
    bind_fbs("", REGION, None)
    for model in MODELS.values():
        # moto creates tables ACTIVE at once, so there is nothing to wait for.
        model.create_table(read_capacity_units=1, write_capacity_units=1)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def add_posting(s3, number: str, *, warehouse_id: int = 1001, ship_by: datetime = SHIP_BY,
                products: list[tuple[int, str, str, int]] | None = None, labelled: bool = True,
                cancelled: bool = False, label: bytes | None = None) -> Posting:
    """Save a posting and, when `labelled`, upload its label under the contract's key."""
    products = products or [(5001, "OFFER-1", "Кружка керамическая", 1)]
    posting = Posting(number, status="awaiting_deliver", warehouse_id=warehouse_id, shipment_date=ship_by,
                      products=[PostingProduct(sku=sku, offer_id=offer, name=name, quantity=qty)
                                for sku, offer, name, qty in products],
                      cancelled=cancelled)
    if labelled:
        key = f"labels/{ship_by:%Y-%m-%d}/{warehouse_id}/{number}.pdf"
        s3.put_object(Bucket=BUCKET, Key=key, Body=label if label is not None else draw_label(number))
        posting.label_key = key
    posting.save()
    return posting
