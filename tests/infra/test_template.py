"""Guard tests on the deployable template: `chalice package` merged with infra/resources.yaml.

Packaging runs `chalice package` twice (about 20 s with the wheels cached in
.chalice/deployments, longer on the first run), so the merged template is built once per module.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib import names
from chalicelib.settings import Settings
from infra.build import (
    BuildError,
    build_merge_template,
    check_sqs_events,
    iter_sqs_events,
    load_resources,
    package,
    queue_name_of,
)

FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-central-1",
}
# Batch sizes chosen in app.py: the planner handles one upload at a time, the worker sends
# up to 10 planned stock requests per invocation.
EXPECTED_BATCH_SIZES = {"StockPlanner": 1, "StockWorker": 10, "FbsEvents": 10, "FbsLabels": 10, "PriceWorker": 10,
                        "PricePlanner": 1, "AlertsTelegram": 10}
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        return package("prod", tmp_path_factory.mktemp("build") / "prod")


@pytest.fixture(scope="module")
def template(template_path: Path) -> dict[str, Any]:
    return json.loads(template_path.read_text(encoding="utf-8"))


def _resources_of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {key: r for key, r in template["Resources"].items() if r["Type"] == kind}


def _queue_by_name(template: dict[str, Any], name: str) -> dict[str, Any]:
    queues = _resources_of_type(template, "AWS::SQS::Queue").values()
    return next(q for q in queues if q["Properties"]["QueueName"] == name)


def _run_cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    # Run the cfn-lint installed beside this interpreter, regardless of PATH.
    command = [
        sys.executable,
        "-c",
        "import sys; from cfnlint.runner import main; sys.exit(main())",
    ]
    return subprocess.run(command + [str(path)], capture_output=True, text=True, check=False)


def test_sqs_events_found(template):
    # GIVEN the merged template WHEN listing SQS events THEN both consumers are there
    functions = {function_id for function_id, _, _ in iter_sqs_events(template)}
    assert functions == set(EXPECTED_BATCH_SIZES)


def test_sqs_events_report_item_failures(template):
    # GIVEN every SQS event source of the merged template
    for function_id, event_id, event in iter_sqs_events(template):
        # THEN Lambda reads the partial batch response instead of deleting the whole batch
        response_types = event["Properties"].get("FunctionResponseTypes")
        assert response_types == ["ReportBatchItemFailures"], f"{function_id}.{event_id}"


def test_sqs_batch_sizes(template):
    # GIVEN every SQS event source THEN its BatchSize is the one app.py asks for
    for function_id, event_id, event in iter_sqs_events(template):
        assert event["Properties"]["BatchSize"] == EXPECTED_BATCH_SIZES[function_id], event_id


def test_worker_maximum_concurrency(template):
    # GIVEN the stock worker's event source
    event = template["Resources"]["StockWorker"]["Properties"]["Events"][
        "StockWorkerSqsEventSource"
    ]

    # THEN it caps parallel workers at the value app.py passes to Chalice
    scaling = event["Properties"].get("ScalingConfig", {})
    assert scaling.get("MaximumConcurrency") == names.STOCK_WORKER_CONCURRENCY


def test_consumers_depend_on_queues(template):
    # GIVEN the SQS consumers WHEN CloudFormation orders the stack
    for function_id, event_id, event in iter_sqs_events(template):
        queue_id = next(
            key
            for key, resource in _resources_of_type(template, "AWS::SQS::Queue").items()
            if resource["Properties"]["QueueName"] == queue_name_of(event, event_id)
        )

        # THEN the function (and so its event source mapping) waits for its queue
        assert queue_id in template["Resources"][function_id].get("DependsOn", []), function_id


def test_visibility_covers_six_timeouts(template):
    # GIVEN each consumer and its queue
    for function_id, event_id, event in iter_sqs_events(template):
        queue = _queue_by_name(template, queue_name_of(event, event_id))
        timeout = template["Resources"][function_id]["Properties"]["Timeout"]

        # THEN a message stays hidden for at least 6 function timeouts, as AWS advises
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout, function_id


def test_queue_names_match_app(template):
    # GIVEN the queue names Chalice reads at package time THEN the template defines them
    queue_names = {
        r["Properties"]["QueueName"]
        for r in _resources_of_type(template, "AWS::SQS::Queue").values()
    }
    assert names.QUEUE_STOCK_PLAN in queue_names
    assert names.QUEUE_STOCK_PUSH in queue_names
    assert names.QUEUE_FBS_EVENTS in queue_names
    assert names.QUEUE_FBS_LABELS in queue_names
    assert names.QUEUE_PRICE_PUSH in queue_names
    assert names.QUEUE_PRICE_PLAN in queue_names
    assert names.QUEUE_ALERTS_TELEGRAM in queue_names


def test_queues_have_redrive(template):
    # GIVEN every queue that is not a dead-letter queue
    queues = _resources_of_type(template, "AWS::SQS::Queue")
    sources = {k: q for k, q in queues.items() if not q["Properties"]["QueueName"].endswith("-dlq")}
    assert sources

    for logical_id, queue in sources.items():
        redrive = queue["Properties"].get("RedrivePolicy", {})
        target_id = redrive.get("deadLetterTargetArn", {}).get("Fn::GetAtt", [None])[0]

        # THEN it moves a message to its own DLQ after 5 receives
        assert redrive.get("maxReceiveCount") == 5, logical_id
        assert target_id in queues, logical_id
        dlq = queues[target_id]["Properties"]
        assert dlq["QueueName"] == f"{queue['Properties']['QueueName']}-dlq", logical_id
        assert dlq["MessageRetentionPeriod"] == DEAD_LETTER_RETENTION_SECONDS, logical_id


def test_queues_encrypted(template):
    # GIVEN every queue THEN SQS encrypts it at rest
    for logical_id, queue in _resources_of_type(template, "AWS::SQS::Queue").items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, logical_id


def test_table_ttl_attributes(template):
    # GIVEN the tables THEN each journal-like table expires rows by its TTL attribute
    expected = {"journal": "expires_at", "idempotency": "expiration", "rate-limits": "expires_at"}
    tables = {
        r["Properties"]["TableName"]: r["Properties"]
        for r in _resources_of_type(template, "AWS::DynamoDB::Table").values()
    }
    for name, attribute in expected.items():
        assert tables[name]["TimeToLiveSpecification"] == {
            "AttributeName": attribute,
            "Enabled": True,
        }


def test_table_names_match_settings(template):
    # GIVEN the settings defaults the functions use THEN the template creates those tables
    defaults = Settings()
    table_names = {
        r["Properties"]["TableName"]
        for r in _resources_of_type(template, "AWS::DynamoDB::Table").values()
    }
    expected = {
        defaults.table_ledger,
        defaults.table_journal,
        defaults.table_idempotency,
        defaults.table_limits,
        defaults.table_postings,
        defaults.table_fbs_journal,
        defaults.table_print_batches,
        defaults.table_prices,
    }
    assert table_names == expected


def test_tables_protected(template):
    # GIVEN every table THEN it is on-demand, recoverable to a point in time and encrypted
    for logical_id, table in _resources_of_type(template, "AWS::DynamoDB::Table").items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], (
            logical_id
        )
        assert properties["SSESpecification"]["SSEEnabled"] is True, logical_id


def test_bucket_encrypted_and_private(template):
    # GIVEN the bucket
    bucket = template["Resources"]["Bucket"]["Properties"]

    # THEN objects are encrypted at rest and no public access is possible
    rules = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}


def test_bucket_notifies_planner(template):
    # GIVEN the bucket's notification THEN a new 1C manifest goes to the planner queue
    notification = template["Resources"]["Bucket"]["Properties"]["NotificationConfiguration"]
    configs = notification["QueueConfigurations"]
    assert len(configs) == 2
    config = configs[0]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Queue"] == {"Fn::GetAtt": ["StockPlanQueue", "Arn"]}
    assert config["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": "inbox/1c/"},
        {"Name": "suffix", "Value": "manifest.json"},
    ]


def test_bucket_notifies_price_planner(template):
    # GIVEN the bucket's notification THEN a CSV under inbox/prices/ goes to the price plan queue
    configs = template["Resources"]["Bucket"]["Properties"]["NotificationConfiguration"][
        "QueueConfigurations"
    ]
    config = configs[1]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Queue"] == {"Fn::GetAtt": ["PricePlanQueue", "Arn"]}
    assert config["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": names.PRICE_INBOX_PREFIX},
        {"Name": "suffix", "Value": ".csv"},
    ]

    # AND the bucket waits for the queue policy that lets S3 send there
    assert "PricePlanQueuePolicy" in template["Resources"]["Bucket"]["DependsOn"]


def test_price_functions_sized(template):
    # GIVEN the price planner and the price schedule, which plan up to 100,000 SKUs
    for function_id in ("PricePlanner", "PriceSchedule"):
        properties = template["Resources"][function_id]["Properties"]

        # THEN each has 300 s and 1024 MB: planning 100k SKUs took 3.1-3.4 s CPU and 227 MB (docs/benchmarks.md)
        assert properties["Timeout"] == 300, function_id
        assert properties["MemorySize"] == 1024, function_id


def test_dead_letter_alarms_notify(template):
    # GIVEN the alarms
    alarms = _resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    watched = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in alarms}
    dead_letter_ids = {
        key
        for key, q in _resources_of_type(template, "AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"].endswith("-dlq")
    }

    # THEN every DLQ has one, firing on the first message and publishing to the alerts topic
    assert watched == dead_letter_ids
    for alarm in alarms:
        properties = alarm["Properties"]
        assert properties["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert properties["Threshold"] == 0
        assert properties["ComparisonOperator"] == "GreaterThanThreshold"
        assert properties["AlarmActions"] == [{"Ref": "AlertsTopic"}]


def test_stage_parameter_defaults(template):
    # GIVEN a template packaged for prod THEN deploying it without parameters targets prod
    assert template["Parameters"]["Stage"]["Default"] == "prod"


def test_cfn_lint_passes(template_path):
    # GIVEN the merged template WHEN cfn-lint (same Python, no rules ignored) checks it
    result = _run_cfn_lint(template_path)

    # THEN it reports nothing
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_errors(template, tmp_path):
    # GIVEN a template with a visibility timeout above the SQS maximum of 12 h
    broken = copy.deepcopy(template)
    broken["Resources"]["StockPushQueue"]["Properties"]["VisibilityTimeout"] = 43201
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(broken), encoding="utf-8")

    # WHEN cfn-lint checks it
    result = _run_cfn_lint(path)

    # THEN it fails, so the passing lint above means something
    assert result.returncode != 0
    assert "E3034" in result.stdout


def test_check_rejects_missing_flag(template):
    # GIVEN an SQS event without FunctionResponseTypes, as Chalice writes it
    unflagged = copy.deepcopy(template)
    event = unflagged["Resources"]["StockWorker"]["Properties"]["Events"][
        "StockWorkerSqsEventSource"
    ]
    del event["Properties"]["FunctionResponseTypes"]

    # WHEN the build checks it THEN it refuses the template
    with pytest.raises(BuildError, match="StockWorker"):
        check_sqs_events(unflagged)


def test_merge_rejects_unknown_queue(template):
    # GIVEN a Chalice template whose consumer reads a queue resources.yaml lacks
    chalice_template = copy.deepcopy(template)
    event = chalice_template["Resources"]["StockWorker"]["Properties"]["Events"][
        "StockWorkerSqsEventSource"
    ]
    event["Properties"]["Queue"] = {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:ozon-stock-typo"
    }
    for key in load_resources()["Resources"]:
        chalice_template["Resources"].pop(key)

    # WHEN the merge template is generated THEN the mismatch is an error naming the queue
    with pytest.raises(BuildError, match="ozon-stock-typo"):
        build_merge_template(chalice_template, load_resources(), "prod")


def test_alerts_topic_feeds_telegram_queue(template):
    # GIVEN the alerts topic's SQS subscription
    subscriptions = _resources_of_type(template, "AWS::SNS::Subscription").values()
    (subscription,) = [s["Properties"] for s in subscriptions if s["Properties"]["Protocol"] == "sqs"]

    # THEN it delivers SNS envelopes from the alerts topic to the Telegram queue
    assert subscription["TopicArn"] == {"Ref": "AlertsTopic"}
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["AlertsTelegramQueue", "Arn"]}
    assert subscription["RawMessageDelivery"] is False
    queue = template["Resources"]["AlertsTelegramQueue"]["Properties"]
    assert queue["QueueName"] == names.QUEUE_ALERTS_TELEGRAM


def test_telegram_queue_accepts_only_alerts_topic(template):
    # GIVEN the Telegram queue's policy
    policies = _resources_of_type(template, "AWS::SQS::QueuePolicy").values()
    (policy,) = [p["Properties"] for p in policies if p["Properties"]["Queues"] == [{"Ref": "AlertsTelegramQueue"}]]
    (statement,) = policy["PolicyDocument"]["Statement"]

    # THEN SNS may send to it, and only on behalf of the alerts topic
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "AlertsTopic"}}}
