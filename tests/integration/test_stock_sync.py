"""The stock pipeline on the local stack: moto server over HTTP, the Ozon sandbox, the pump."""

from __future__ import annotations

import gzip

import pytest

from chalicelib.stock import wiring

pytestmark = pytest.mark.integration


def test_sync_pushes_available_stock(stack_factory, catalog):
    # GIVEN a 300-offer catalog, 2% of it unknown to Ozon and 10% with reservations
    files = catalog(300)
    stack = stack_factory(clock_speed=20)
    seeded = stack.seed_sandbox(files, missing_share=0.02, reserved_share=0.1)

    # WHEN the exchange lands in the inbox
    report = stack.sync(files, timeout=180)

    # THEN every listed pair holds on hand minus reserved, and the unknown ones are journaled
    checks = stack.check_pairs(files, report.failures)
    assert report.offers_read == 300
    assert report.requests_planned == 3
    assert report.items_applied == 300 - len(seeded.missing_offer_ids)
    assert report.failed_by_code == {"NOT_FOUND_ERROR": len(seeded.missing_offer_ids)}
    assert [c for c in checks if not c.matches] == []
    reserved = [c for c in checks if c.offer_id in seeded.reserved_offer_ids]
    assert reserved and all(c.ozon_stock == c.expected for c in reserved)
    assert stack.sandbox.stats()["statuses"].get("429", 0) == 0


def test_unchanged_export_sends_nothing(stack_factory, catalog):
    # GIVEN an exchange that was synced once
    files = catalog(150)
    stack = stack_factory(clock_speed=20)
    stack.seed_sandbox(files)
    stack.sync(files, timeout=180)
    requests_before = stack.sandbox.stats()["requests"].get("/v2/products/stocks", 0)

    # WHEN the same export arrives again
    second = stack.sync(files, timeout=180)

    # THEN no stock request is sent
    assert second.pairs_changed == 0
    assert second.requests_planned == 0
    assert stack.sandbox.stats()["requests"].get("/v2/products/stocks", 0) == requests_before


def test_full_resync_pushes_every_pair(stack_factory, catalog):
    files = catalog(120)
    stack = stack_factory(clock_speed=20)
    stack.seed_sandbox(files)
    stack.sync(files, timeout=180)

    again = stack.sync(files, full=True, timeout=180)

    assert again.pairs_changed == 120
    assert again.requests_planned == 2


def test_failing_message_ends_in_dead_letter_queue(stack_factory, catalog):
    # GIVEN Ozon answers every stock request with HTTP 5xx
    from local.sandbox.faults import FaultConfig

    files = catalog(20)
    stack = stack_factory(clock_speed=50, faults=FaultConfig(http_5xx_share=1.0))
    stack.seed_sandbox(files)

    # WHEN the run is synced
    report = stack.sync(files, timeout=240)

    # THEN the request sits in the DLQ and its pairs are journaled as dead letters
    dlq = stack.resources.dead_letter_queue_url("ozon-stock-push")
    depth = stack.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(depth["Attributes"]["ApproximateNumberOfMessages"]) == 1
    assert report.items_applied == 0
    assert {f.code for f in report.failures} == {"DEAD_LETTER:OzonServerError"}
    assert len(report.failures) == 20


def test_secrets_never_logged_or_stored(stack_factory, catalog, capfd):
    # GIVEN known credentials and a sync with some failures, so errors get logged too
    client_id, api_key = "seller-778899", "a8f1c2e4-SECRET-KEY-5d6e7f"
    files = catalog(100)
    stack = stack_factory(clock_speed=20, client_id=client_id, api_key=api_key)
    stack.seed_sandbox(files, missing_share=0.05)

    # WHEN the sync runs
    stack.sync(files, timeout=180)

    # THEN neither value is in any log line, DynamoDB item or S3 object
    output = capfd.readouterr()
    logged = output.out + output.err
    assert "seller-778899" not in logged
    assert "SECRET-KEY" not in logged
    dynamodb = wiring.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            text = str(page["Items"])
            assert "seller-778899" not in text, table
            assert "SECRET-KEY" not in text, table
    s3 = wiring.client("s3")
    for key in stack.s3.list_objects_v2(Bucket=stack.resources.bucket).get("Contents", []):
        body = s3.get_object(Bucket=stack.resources.bucket, Key=key["Key"])["Body"].read()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        assert b"seller-778899" not in body, key["Key"]
        assert b"SECRET-KEY" not in body, key["Key"]
