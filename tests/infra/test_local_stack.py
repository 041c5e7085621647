"""The local stack on moto's server matches infra/resources.yaml and behaves like AWS."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from chalicelib import names
from infra.build import load_resources
from local.stack import (
    LocalResources,
    TemplateError,
    TemplateInterpreter,
    create_local_stack,
    reset_moto_server,
    start_moto_server,
)

MANIFEST_KEY = "inbox/1c/x/manifest.json"


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    saved_environment = dict(os.environ)
    server, url = start_moto_server()
    yield url
    server.stop()
    os.environ.clear()
    os.environ.update(saved_environment)


@pytest.fixture
def stack(endpoint_url: str) -> LocalResources:
    # moto keeps one state per process, so every test starts from an empty server.
    reset_moto_server(endpoint_url)
    return create_local_stack(endpoint_url)


@pytest.fixture
def template() -> dict[str, Any]:
    return load_resources()


def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, region_name="eu-central-1")


def _queue_attributes(stack: LocalResources, name: str) -> dict[str, str]:
    sqs = _client("sqs", stack.endpoint_url)
    return sqs.get_queue_attributes(QueueUrl=stack.queue_url(name), AttributeNames=["All"])[
        "Attributes"
    ]


def _template_queues(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["QueueName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue"
    }


def _receive_s3_records(stack: LocalResources, queue: str, seconds: float) -> list[dict[str, Any]]:
    """Receive S3 event records from `queue` for up to `seconds`, skipping S3's test event."""
    sqs = _client("sqs", stack.endpoint_url)
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=stack.queue_url(queue), MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in response.get("Messages", []):
            records.extend(json.loads(message["Body"]).get("Records", []))
        if records:
            break
    return records


def test_queues_match_template(stack, template):
    # GIVEN the queues of resources.yaml
    for name, properties in _template_queues(template).items():
        # WHEN reading them back from moto
        attributes = _queue_attributes(stack, name)

        # THEN timeouts, retention and encryption are the template's
        for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if key in properties:
                assert attributes[key] == str(properties[key]), f"{name} {key}"
        assert attributes["SqsManagedSseEnabled"] == "true", name


def test_queues_redrive_to_dlq(stack):
    # GIVEN the two stock queues
    for name in (names.QUEUE_STOCK_PLAN, names.QUEUE_STOCK_PUSH):
        redrive = json.loads(_queue_attributes(stack, name)["RedrivePolicy"])
        dlq_arn = _queue_attributes(stack, f"{name}-dlq")["QueueArn"]

        # THEN each moves a message to its own DLQ after 5 receives
        assert redrive["deadLetterTargetArn"] == dlq_arn, name
        assert int(redrive["maxReceiveCount"]) == 5, name
        assert stack.dead_letter_queue_url(name) == stack.queue_url(f"{name}-dlq")


def test_dlq_retains_14_days(stack):
    # GIVEN the dead-letter queues THEN they keep messages for the SQS maximum of 14 days
    for name in (names.QUEUE_STOCK_PLAN, names.QUEUE_STOCK_PUSH):
        attributes = _queue_attributes(stack, f"{name}-dlq")
        assert attributes["MessageRetentionPeriod"] == str(14 * 24 * 3600), name


def test_redrive_moves_message(stack):
    # GIVEN a message on the push queue
    sqs = _client("sqs", stack.endpoint_url)
    url = stack.queue_url(names.QUEUE_STOCK_PUSH)
    sqs.send_message(QueueUrl=url, MessageBody='{"offer_id": "A-1"}')

    # WHEN it is received 5 times and never deleted
    for _ in range(5):
        (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    # THEN the next poll finds it in the DLQ, not in the queue
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    moved = sqs.receive_message(QueueUrl=stack.dead_letter_queue_url(names.QUEUE_STOCK_PUSH))
    assert [m["Body"] for m in moved["Messages"]] == ['{"offer_id": "A-1"}']


def test_tables_ttl_enabled(stack, template):
    # GIVEN every table of the template
    dynamodb = _client("dynamodb", stack.endpoint_url)
    tables = {
        r["Properties"]["TableName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::DynamoDB::Table"
    }
    assert set(stack.tables.values()) == set(tables)

    for name, properties in tables.items():
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

        # THEN TTL is enabled exactly where the template sets it, on the same attribute
        if "TimeToLiveSpecification" in properties:
            assert ttl["TimeToLiveStatus"] == "ENABLED", name
            assert ttl["AttributeName"] == properties["TimeToLiveSpecification"]["AttributeName"]
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED", name


def test_tables_recoverable(stack):
    # GIVEN every table THEN point-in-time recovery is on
    dynamodb = _client("dynamodb", stack.endpoint_url)
    for name in stack.tables.values():
        backups = dynamodb.describe_continuous_backups(TableName=name)
        recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert recovery["PointInTimeRecoveryStatus"] == "ENABLED", name


def test_bucket_encrypted(stack):
    # GIVEN the bucket THEN objects are encrypted at rest by default
    s3 = _client("s3", stack.endpoint_url)
    rules = s3.get_bucket_encryption(Bucket=stack.bucket)["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_bucket_blocks_public_access(stack):
    # GIVEN the bucket THEN all four public access blocks are on
    s3 = _client("s3", stack.endpoint_url)
    block = s3.get_public_access_block(Bucket=stack.bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


def test_bucket_versioned_with_lifecycle(stack):
    # GIVEN the bucket THEN it keeps versions and drops old inbox versions after 90 days
    s3 = _client("s3", stack.endpoint_url)
    assert s3.get_bucket_versioning(Bucket=stack.bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=stack.bucket)["Rules"]
    inbox = next(rule for rule in rules if rule["Filter"].get("Prefix") == "inbox/")
    assert inbox["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}


def test_manifest_upload_notifies_planner(stack):
    # GIVEN the local stack WHEN 1C uploads a manifest into the inbox
    s3 = _client("s3", stack.endpoint_url)
    s3.put_object(Bucket=stack.bucket, Key=MANIFEST_KEY, Body=b'{"files": []}')

    # THEN the planner queue receives one S3 ObjectCreated record for that key
    records = _receive_s3_records(stack, names.QUEUE_STOCK_PLAN, seconds=5)
    assert len(records) == 1
    assert records[0]["eventName"].startswith("ObjectCreated:")
    assert records[0]["s3"]["bucket"]["name"] == stack.bucket
    # S3 event keys are URL-encoded (moto also encodes "/"), so compare the decoded key.
    assert unquote_plus(records[0]["s3"]["object"]["key"]) == MANIFEST_KEY


def test_other_uploads_stay_quiet(stack):
    # GIVEN the local stack WHEN files other than an inbox manifest are uploaded
    s3 = _client("s3", stack.endpoint_url)
    s3.put_object(Bucket=stack.bucket, Key="inbox/1c/x/offers.xml", Body=b"<xml/>")
    s3.put_object(Bucket=stack.bucket, Key="labels/manifest.json", Body=b"{}")

    # THEN the planner queue gets no S3 record
    assert _receive_s3_records(stack, names.QUEUE_STOCK_PLAN, seconds=2) == []


def test_price_upload_notifies_price_planner(stack):
    # GIVEN the local stack WHEN an operator uploads a costs CSV and a non-CSV file
    s3 = _client("s3", stack.endpoint_url)
    key = f"{names.PRICE_INBOX_PREFIX}costs-2026-12-01.csv"
    s3.put_object(Bucket=stack.bucket, Key=key, Body=b"offer_id;cost\nPH-1;100\n")
    s3.put_object(Bucket=stack.bucket, Key=f"{names.PRICE_INBOX_PREFIX}notes.txt", Body=b"x")

    # THEN only the CSV reaches the price plan queue, and the stock planner hears of neither
    records = _receive_s3_records(stack, names.QUEUE_PRICE_PLAN, seconds=5)
    assert [unquote_plus(record["s3"]["object"]["key"]) for record in records] == [key]
    assert _receive_s3_records(stack, names.QUEUE_STOCK_PLAN, seconds=2) == []


def test_alarms_publish_to_topic(stack):
    # GIVEN the DLQ alarms THEN each watches one DLQ and notifies the alerts topic
    cloudwatch = _client("cloudwatch", stack.endpoint_url)
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    watched = {alarm["Dimensions"][0]["Value"] for alarm in alarms}

    assert {f"{names.QUEUE_STOCK_PLAN}-dlq", f"{names.QUEUE_STOCK_PUSH}-dlq"} <= watched
    assert f"{names.QUEUE_PRICE_PUSH}-dlq" in watched
    assert watched == {name for name in stack.queue_urls if name.endswith("-dlq")}
    for alarm in alarms:
        assert alarm["AlarmActions"] == [stack.topic_arn], alarm["AlarmName"]


def test_topic_encrypted(stack):
    # GIVEN the alerts topic THEN it is encrypted with the stack's KMS key
    sns = _client("sns", stack.endpoint_url)
    attributes = sns.get_topic_attributes(TopicArn=stack.topic_arn)["Attributes"]
    key = _client("kms", stack.endpoint_url).describe_key(
        KeyId="alias/ozon-seller-ops-local-alerts"
    )
    assert attributes["KmsMasterKeyId"] == key["KeyMetadata"]["KeyId"]


def test_outputs_resolved(stack):
    # GIVEN the template's Outputs THEN they name the created resources
    assert stack.outputs["StockPlanQueueUrl"] == stack.queue_url(names.QUEUE_STOCK_PLAN)
    assert stack.outputs["S3BucketName"] == stack.bucket
    assert stack.outputs["AlertsTopicArn"] == stack.topic_arn
    assert stack.outputs["JournalTableName"] == "journal"


def test_custom_bucket_name(endpoint_url):
    # GIVEN an empty server WHEN the stack is created with an explicit bucket name
    reset_moto_server(endpoint_url)
    stack = create_local_stack(endpoint_url, bucket="ozon-seller-ops-test")

    # THEN the bucket has that name and the planner queue accepts its notifications
    policy = json.loads(_queue_attributes(stack, names.QUEUE_STOCK_PLAN)["Policy"])
    source_arn = policy["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"]
    assert stack.bucket == "ozon-seller-ops-test"
    assert source_arn == "arn:aws:s3:::ozon-seller-ops-test"


def test_unknown_property_rejected(endpoint_url, template):
    # GIVEN a template whose queue uses a property the interpreter does not implement
    reset_moto_server(endpoint_url)
    template["Resources"]["StockPushQueue"]["Properties"]["FifoQueue"] = True
    session = boto3.session.Session(region_name="eu-central-1")
    interpreter = TemplateInterpreter(template, {"Stage": "local"}, session, endpoint_url)

    # WHEN creating it THEN it fails instead of creating a different queue
    with pytest.raises(TemplateError, match="FifoQueue"):
        interpreter.create()


def test_alert_reaches_telegram_queue(stack):
    # GIVEN the local stack WHEN an alert is published to the alerts topic
    sns = _client("sns", stack.endpoint_url)
    sns.publish(TopicArn=stack.topic_arn, Subject="ozon-seller-ops: test", Message="Проверка")

    # THEN the Telegram queue receives it in SNS's JSON envelope
    sqs = _client("sqs", stack.endpoint_url)
    response = sqs.receive_message(QueueUrl=stack.queue_url(names.QUEUE_ALERTS_TELEGRAM), WaitTimeSeconds=2)
    (message,) = response["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == stack.topic_arn
    assert envelope["Subject"] == "ozon-seller-ops: test"
    assert envelope["Message"] == "Проверка"
