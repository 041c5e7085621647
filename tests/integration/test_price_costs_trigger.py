"""A change of costs starts a price run on the local stack: S3 upload -> ozon-price-plan -> planner.

The S3 notification travels through moto's server, the pump delivers it to the
`price_planner` handler, and the run's requests reach the Ozon sandbox's price desk.
"""

from __future__ import annotations

import json
import os
import re
import time
from decimal import Decimal

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib import names
from chalicelib.prices import handlers as price_handlers
from chalicelib.prices import wiring as price_wiring
from chalicelib.prices.journal import PriceRun
from chalicelib.prices.planner import policy_of
from chalicelib.prices.pricing import price_sku
from chalicelib.prices.store import MATRIX_SK, MatrixRow, sku_pk
from local.price_run import load_price_inputs, run_prices, write_price_inputs
from local.sandbox.prices import price_desk
from local.stack import reset_moto_server

pytestmark = pytest.mark.integration

ENVIRONMENT = {"PRICE_READBACK_DELAY_SECONDS": "10"}
COSTS_KEY = f"{names.PRICE_INBOX_PREFIX}costs-2026-12-01.csv"
EXCHANGE = "inbox/1c/20261201T090000-ab12cd34/"
EXCHANGE_FILES = ["import.xml", "offers.xml"]


def synced_prices(stack_factory, tmp_path, offer_ids: list[str], environment: dict[str, str] | None = None):
    """Start a stack, list `offer_ids` in the sandbox, load the price inputs and run prices once."""
    stack = stack_factory(clock_speed=20, environment={**ENVIRONMENT, **(environment or {})})
    stack.sandbox.seed(offer_ids)
    inputs = write_price_inputs(tmp_path / "prices", offer_ids, clearance_share=0)
    load_price_inputs(inputs)
    run_prices(stack, timeout=120)
    return stack


def wait_for_price_run(stack, before: int, timeout: float = 120.0) -> int:
    """Wait until a price run newer than `before` is planned and the pipeline is idle."""
    journal = price_wiring.journal()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.latest_seq() > before and stack.pump.run_until_idle(timeout=5.0, idle_for=1.5):
            return journal.latest_seq()
        time.sleep(0.2)
    raise TimeoutError(f"no price run after seq {before} within {timeout:.0f} s; pump stats: {stack.pump.stats()}")


def expected_price(offer_id: str, stack) -> Decimal:
    book = price_wiring.store().load()
    inputs = book.matrix[offer_id]
    return price_sku(inputs, book.rules[inputs.category], policy_of(stack.settings)).computation.levels.price


def test_costs_upload_plans_changed_sku(stack_factory, tmp_path):
    # GIVEN 20 SKUs priced in Ozon once
    offer_ids = [f"PH-{n:05d}" for n in range(20)]
    stack = synced_prices(stack_factory, tmp_path, offer_ids)
    desk = price_desk(stack.sandbox)
    target, untouched = "PH-00010", "PH-00011"
    matrix = price_wiring.store().load().matrix
    new_cost = matrix[target].cost + 500
    history = {offer_id: list(changes) for offer_id, changes in desk.history.items()}
    untouched_written = MatrixRow.get(sku_pk(untouched), MATRIX_SK).updated_at
    before = price_wiring.journal().latest_seq()

    # WHEN a costs CSV that raises one SKU's cost and repeats another's is uploaded to S3
    body = f"offer_id;cost\n{target};{new_cost}\n{untouched};{matrix[untouched].cost}\n"
    upload = stack.s3.put_object(Bucket=stack.resources.bucket, Key=COSTS_KEY, Body=body.encode())
    seq = wait_for_price_run(stack, before)

    # THEN the planner ran once and the sandbox has the new price of that SKU
    run_id = next(run_id for run_id, counters in _runs(seq))
    counters = price_wiring.journal().counters(run_id)
    assert seq == before + 1
    assert desk.offers[target].price == expected_price(target, stack)
    assert desk.offers[target].price > history[target][-1][1]
    assert counters["items_sent"] == 1

    # AND no request carried any other SKU, and the repeated cost's row was not rewritten
    for offer_id in offer_ids:
        if offer_id != target:
            assert desk.history.get(offer_id, []) == history.get(offer_id, []), offer_id
    assert MatrixRow.get(sku_pk(untouched), MATRIX_SK).updated_at == untouched_written

    # WHEN S3 delivers the same notification a second time
    duplicate = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": stack.resources.bucket},
        "object": {"key": COSTS_KEY, "versionId": upload.get("VersionId"), "eTag": upload["ETag"]}}}]}
    stack.sqs.send_message(QueueUrl=stack.resources.queue_url(names.QUEUE_PRICE_PLAN),
                           MessageBody=json.dumps(duplicate))
    assert stack.pump.run_until_idle(timeout=60, idle_for=2.0)

    # THEN nothing new is planned
    assert price_wiring.journal().latest_seq() == seq
    assert stack.pump.stats()["price_planner"]["invocations"] >= 2


def test_onec_exchange_costs_start_run(stack_factory, tmp_path, catalog):
    # GIVEN a 1C exchange whose offers carry a price type configured as the cost
    paths = catalog(30)
    offers_xml = next(path for path in paths if path.name.startswith("offers"))
    price_type = re.search(r"<ИдТипаЦены>([^<]+)</ИдТипаЦены>", offers_xml.read_text(encoding="utf-8-sig")).group(1)
    stack = stack_factory(clock_speed=20, environment={**ENVIRONMENT, "ONEC_PRICE_TYPE_ID": price_type})
    stack.seed_sandbox(paths)
    offer_ids = sorted({offer_id for _, offer_id in stack.expected_on_hand(paths)})
    load_price_inputs(write_price_inputs(tmp_path / "prices", offer_ids, clearance_share=0))
    run_prices(stack, timeout=120)
    before = price_wiring.journal().latest_seq()
    costs_before = price_wiring.store().load().matrix

    # WHEN the exchange is uploaded and its stock is planned
    report = stack.sync(paths)
    seq = wait_for_price_run(stack, before)

    # THEN the stock run is complete and the price run used the 1C costs
    desk = price_desk(stack.sandbox)
    costs_after = price_wiring.store().load().matrix
    changed = [o for o in costs_after if costs_after[o].cost != costs_before[o].cost]
    assert report.requests_sent == report.requests_planned
    assert seq == before + 1
    assert changed
    for offer_id in changed[:5]:
        assert desk.offers[offer_id].price == expected_price(offer_id, stack)


@pytest.fixture
def bare_aws(monkeypatch):
    """A moto server on 127.0.0.1 with the bucket, a manifest and the alerts topic, and no stack."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    # moto keeps one state per process, so start from an empty server.
    reset_moto_server(endpoint_url)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-central-1",
                        "AWS_ENDPOINT_URL": endpoint_url, "BUCKET": "ozon-seller-ops-test",
                        "ONEC_PRICE_TYPE_ID": "purchase"}.items():
        monkeypatch.setenv(name, value)
    price_wiring.reset()

    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name="eu-central-1")
    s3.create_bucket(Bucket="ozon-seller-ops-test",
                     CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_object(Bucket="ozon-seller-ops-test", Key=EXCHANGE + "manifest.json",
                  Body=json.dumps({"files": EXCHANGE_FILES}).encode())
    sns = boto3.client("sns", endpoint_url=endpoint_url, region_name="eu-central-1")
    monkeypatch.setenv("ALERTS_TOPIC_ARN", sns.create_topic(Name="alerts")["TopicArn"])
    yield boto3.client("sqs", endpoint_url=endpoint_url, region_name="eu-central-1"), sns
    price_wiring.reset()
    server.stop()


def test_onec_request_queued(bare_aws):
    # GIVEN the price plan queue exists
    sqs, _ = bare_aws
    url = sqs.create_queue(QueueName=names.QUEUE_PRICE_PLAN)["QueueUrl"]

    # WHEN the stock planner requests the exchange's 1C costs
    queued = price_handlers.request_onec_costs(EXCHANGE, EXCHANGE_FILES)

    # THEN one request naming the offers file is on the queue
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert queued is True
    assert json.loads(message["Body"]) == {"kind": "price.costs.onec", "exchange_prefix": EXCHANGE,
                                           "files": ["offers.xml"]}


def test_onec_request_failure_alerted(bare_aws):
    # GIVEN no price plan queue, so the send fails, and a probe subscribed to the alerts topic
    sqs, sns = bare_aws
    probe = sqs.create_queue(QueueName="alerts-probe")["QueueUrl"]
    probe_arn = sqs.get_queue_attributes(QueueUrl=probe, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=os.environ["ALERTS_TOPIC_ARN"], Protocol="sqs", Endpoint=probe_arn,
                  Attributes={"RawMessageDelivery": "true"})

    # WHEN the stock planner requests the exchange's 1C costs
    queued = price_handlers.request_onec_costs(EXCHANGE, EXCHANGE_FILES)

    # THEN nothing is raised into the stock plan, and the alert names the exchange in Russian
    texts = [m["Body"] for m in sqs.receive_message(QueueUrl=probe, WaitTimeSeconds=2).get("Messages", [])]
    assert queued is False
    assert len(texts) == 1
    assert EXCHANGE in texts[0]
    assert "не запрошен" in texts[0]


def _runs(seq: int):
    for row in PriceRun.scan((PriceRun.seq == seq) & PriceRun.pk.startswith("price-run#")):
        yield row.run_id, row
