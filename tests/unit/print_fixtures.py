"""Fixtures of the print tests: FBS tables and a bucket on moto's server, and label PDFs drawn here."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from urllib.request import Request, urlopen

import boto3
import pytest
from moto.server import ThreadedMotoServer
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


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server on 127.0.0.1 for this test session; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    """An S3 client of a fresh moto server state with the FBS tables and the bucket."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": moto_endpoint}.items():
        monkeypatch.setenv(name, value)
    with urlopen(Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=10) as response:
        response.read()
    return create_tables_and_bucket(moto_endpoint)


def create_tables_and_bucket(endpoint_url: str) -> object:
    """Create the FBS tables and the bucket on the moto server at `endpoint_url`; return an S3 client."""
    bind_fbs("", REGION, endpoint_url)
    for model in MODELS.values():
        # moto creates tables ACTIVE at once, so there is nothing to wait for.
        model.create_table(read_capacity_units=1, write_capacity_units=1)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint_url)
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
