"""AWS on moto's server: the resources of infra/resources.yaml, created from that template.

moto 5.2.5's CloudFormation ignores properties this service relies on. For DynamoDB these
are `TimeToLiveSpecification` and `PointInTimeRecoverySpecification`. For S3 they are
`PublicAccessBlockConfiguration`, `VersioningConfiguration`, `LifecycleConfiguration` and
`NotificationConfiguration`. It also has no `AWS::SQS::QueuePolicy`. So this module
interprets the template itself. It resolves the intrinsic functions, orders the resources by
their references and calls each service's API. A resource type or property it does not
implement raises `TemplateError` instead of being skipped, so the local stack cannot
silently differ from the template.

    server, endpoint_url = start_moto_server()
    resources = create_local_stack(endpoint_url)
    resources.queue_url("ozon-stock-plan")
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any
from urllib.request import Request, urlopen

import boto3
from moto.server import ThreadedMotoServer

from infra.build import load_resources

REGION = "eu-central-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class TemplateError(ValueError):
    """The template uses something the local interpreter cannot create faithfully."""


@dataclass(frozen=True)
class LocalResources:
    """Names and addresses of the resources created on the moto server."""

    endpoint_url: str
    stage: str
    bucket: str
    topic_arn: str
    # Queue name -> URL, dead-letter queues included.
    queue_urls: Mapping[str, str]
    # Source queue name -> URL of its dead-letter queue.
    dead_letter_queue_urls: Mapping[str, str]
    # Logical id in resources.yaml -> table name.
    tables: Mapping[str, str]
    # The template's Outputs, resolved.
    outputs: Mapping[str, str] = field(default_factory=dict)

    def queue_url(self, name: str) -> str:
        """Return the URL of the queue called `name`."""
        if name not in self.queue_urls:
            raise KeyError(f"queue {name!r} is not in the local stack: {sorted(self.queue_urls)}")
        return self.queue_urls[name]

    def dead_letter_queue_url(self, name: str) -> str:
        """Return the URL of the dead-letter queue of the queue called `name`."""
        if name not in self.dead_letter_queue_urls:
            raise KeyError(
                f"queue {name!r} has no dead-letter queue in the local stack: "
                f"{sorted(self.dead_letter_queue_urls)}"
            )
        return self.dead_letter_queue_urls[name]


# prctl option: the signal a child gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


class MotoProcess:
    """moto's server in a child process on 127.0.0.1, so that AWS calls get their own core.

    The local stack runs the app, the pump and the sandbox in one process. With moto in that
    process too, every AWS call competed with them for one interpreter lock.
    """

    def __init__(self, port: int = 0, startup_seconds: float = 30.0) -> None:
        self._port = port or _free_port()
        self._startup_seconds = startup_seconds
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self._port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        # A test run that ends without stop() (an interrupt, a failed fixture) ends moto too.
        atexit.register(self.stop)
        self._wait_until_ready()

    def get_host_and_port(self) -> tuple[str, int]:
        return "127.0.0.1", self._port

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._startup_seconds
        url = f"http://127.0.0.1:{self._port}/moto-api/"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {self._process.returncode} on port "
                                   f"{self._port}; run `python -m moto.server -p {self._port}` to see why")
            try:
                with urlopen(url, timeout=1) as response:
                    response.read()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto server did not respond on port {self._port} within "
                           f"{self._startup_seconds:.0f} s; run `python -m moto.server -p {self._port}` to see why")


# Loaded in the parent: a forked child of a threaded process must not call dlopen, which
# could wait forever on a lock that another thread held at fork time.
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the parent process dies."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_moto_server(port: int = 0, *, in_process: bool = False) -> tuple[ThreadedMotoServer | MotoProcess, str]:
    """Start moto's server on 127.0.0.1; return it and its endpoint URL.

    By default the server runs in a child process (`MotoProcess`); `in_process=True`
    starts moto's threaded server in this process instead. Sets fake credentials, the
    region and AWS_ENDPOINT_URL in os.environ, so every boto3 client of this process (the
    app's included) talks to this server. Call `server.stop()`.
    """
    # werkzeug logs every request at INFO; the event pump polls several times a second.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server: ThreadedMotoServer | MotoProcess
    if in_process:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    else:
        server = MotoProcess(port)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{bound_port}"

    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    return server, endpoint_url


def reset_moto_server(endpoint_url: str) -> None:
    """Delete every resource on the moto server, so a stack can be created again."""
    request = Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urlopen(request, timeout=10) as response:
        response.read()


def create_local_stack(
    endpoint_url: str, stage: str = "local", bucket: str | None = None
) -> LocalResources:
    """Create the resources of infra/resources.yaml on the moto server at `endpoint_url`."""
    session = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    template = load_resources()
    parameters = {"Stage": stage}
    if bucket is not None:
        parameters["BucketName"] = bucket

    stack = TemplateInterpreter(template, parameters, session, endpoint_url)
    stack.create()
    return _local_resources(stack, endpoint_url, stage)


def _local_resources(stack: TemplateInterpreter, endpoint_url: str, stage: str) -> LocalResources:
    queue_urls: dict[str, str] = {}
    dead_letter_queue_urls: dict[str, str] = {}
    tables: dict[str, str] = {}
    bucket = topic_arn = ""

    for logical_id, resource in stack.created.items():
        kind = stack.resources[logical_id]["Type"]
        if kind == "AWS::SQS::Queue":
            queue_urls[resource.attributes["QueueName"]] = resource.ref
        elif kind == "AWS::DynamoDB::Table":
            tables[logical_id] = resource.ref
        elif kind == "AWS::S3::Bucket":
            bucket = resource.ref
        elif kind == "AWS::SNS::Topic":
            topic_arn = resource.ref

    # A queue's dead-letter queue is the target ARN of its RedrivePolicy.
    url_by_arn = {
        r.attributes["Arn"]: r.ref for r in stack.created.values() if "QueueUrl" in r.attributes
    }
    for name, url in queue_urls.items():
        target = stack.redrive_targets.get(url)
        if target is not None:
            dead_letter_queue_urls[name] = url_by_arn[target]

    return LocalResources(
        endpoint_url=endpoint_url,
        stage=stage,
        bucket=bucket,
        topic_arn=topic_arn,
        queue_urls=queue_urls,
        dead_letter_queue_urls=dead_letter_queue_urls,
        tables=tables,
        outputs=stack.outputs,
    )


@dataclass
class CreatedResource:
    """The `Ref` value and the `Fn::GetAtt` attributes of one created resource."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


class TemplateInterpreter:
    """Create a plain CloudFormation template's resources through the service APIs."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        session: boto3.session.Session,
        endpoint_url: str,
    ) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template["Resources"]
        self.session = session
        self.endpoint_url = endpoint_url
        self.region = session.region_name
        self._clients: dict[str, Any] = {}
        self.account_id = self._client("sts").get_caller_identity()["Account"]
        self.parameters = self._parameter_values(parameters)
        self.conditions: dict[str, bool] = {}
        self.created: dict[str, CreatedResource] = {}
        self.outputs: dict[str, str] = {}
        # Queue URL -> dead-letter queue ARN, read from RedrivePolicy.
        self.redrive_targets: dict[str, str] = {}

    def create(self) -> None:
        """Create every resource in dependency order, then resolve the Outputs."""
        for name, expression in self.template.get("Conditions", {}).items():
            self.conditions[name] = bool(self.resolve(expression))

        for logical_id in self._creation_order():
            resource = self.resources[logical_id]
            condition = resource.get("Condition")
            if condition is not None and not self.conditions[condition]:
                continue
            creator = RESOURCE_CREATORS.get(resource["Type"])
            if creator is None:
                raise TemplateError(
                    f"{logical_id}: resource type {resource['Type']} is not supported by "
                    "local/stack.py; add a creator to RESOURCE_CREATORS"
                )
            properties = self.resolve(resource.get("Properties", {}))
            self.created[logical_id] = creator(self, logical_id, properties)

        for name, output in self.template.get("Outputs", {}).items():
            self.outputs[name] = str(self.resolve(output["Value"]))

    def resolve(self, value: Any) -> Any:
        """Evaluate the intrinsic functions in `value`."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value if not _is_no_value(item)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, argument)
        return {k: self.resolve(v) for k, v in value.items() if not _is_no_value(v)}

    def _intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._ref(argument)
        if name == "Condition":
            return self.conditions[argument]
        if name == "Fn::GetAtt":
            logical_id, attribute = (
                argument.split(".", 1) if isinstance(argument, str) else argument
            )
            return self._get_att(logical_id, attribute)
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self.conditions[condition] else if_false)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return left == right
        if name == "Fn::Not":
            return not self.resolve(argument)[0]
        if name == "Fn::And":
            return all(self.resolve(argument))
        if name == "Fn::Or":
            return any(self.resolve(argument))
        if name == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items))
        raise TemplateError(f"intrinsic function {name} is not supported by local/stack.py")

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": f"ozon-seller-ops-{self.parameters.get('Stage', 'local')}",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.created:
            return self.created[name].ref
        raise TemplateError(f"Ref {name!r}: no such parameter, or the resource is not created yet")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.created.get(logical_id)
        if resource is None or attribute not in resource.attributes:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not available locally")
        return resource.attributes[attribute]

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: str(self.resolve(value)) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return values[name]
            if "." in name:
                return self._get_att(*name.split(".", 1))
            return self._ref(name)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _parameter_values(self, overrides: Mapping[str, str]) -> dict[str, str]:
        declared = self.template.get("Parameters", {})
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"parameters {unknown} are not declared in the template")

        values: dict[str, str] = {}
        for name, declaration in declared.items():
            if name not in overrides and "Default" not in declaration:
                raise TemplateError(f"parameter {name} has no default; pass a value")
            value = str(overrides.get(name, declaration.get("Default")))
            allowed = declaration.get("AllowedValues")
            if allowed is not None and value not in allowed:
                raise TemplateError(f"parameter {name}={value!r} is invalid; allowed: {allowed}")
            values[name] = value
        return values

    def _creation_order(self) -> list[str]:
        graph = {
            logical_id: _dependencies(resource) & set(self.resources)
            for logical_id, resource in self.resources.items()
        }
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as error:
            raise TemplateError(
                f"resources depend on each other in a cycle: {error.args[1]}"
            ) from error

    def _client(self, service: str) -> Any:
        # Building a boto3 client loads its service model (about 0.1 s), so build each once.
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]


def _is_no_value(value: Any) -> bool:
    return value == {"Ref": "AWS::NoValue"}


def _dependencies(node: Any) -> set[str]:
    """Logical ids that `node` names through DependsOn, Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _dependencies(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "DependsOn":
                found |= {value} if isinstance(value, str) else set(value)
            elif key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value.split(".", 1)[0] if isinstance(value, str) else value[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= _dependencies(value)
            else:
                found |= _dependencies(value)
    return found


def _take(properties: dict[str, Any], logical_id: str, supported: set[str]) -> dict[str, Any]:
    """Return the properties, or raise if one would be dropped silently."""
    unsupported = sorted(set(properties) - supported)
    if unsupported:
        raise TemplateError(
            f"{logical_id}: properties {unsupported} are not supported by local/stack.py; "
            "implement them there before using them in infra/resources.yaml"
        )
    return properties


# Resource creators: (interpreter, logical id, resolved properties) -> CreatedResource.
Creator = Callable[[TemplateInterpreter, str, dict[str, Any]], CreatedResource]


def create_table(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(
        props,
        logical_id,
        {
            "TableName",
            "BillingMode",
            "AttributeDefinitions",
            "KeySchema",
            "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification",
            "SSESpecification",
        },
    )
    dynamodb = stack._client("dynamodb")
    name = props["TableName"]

    arguments: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    sse = props.get("SSESpecification")
    if sse is not None:
        arguments["SSESpecification"] = {"Enabled": bool(sse["SSEEnabled"])}
    table = dynamodb.create_table(**arguments)["TableDescription"]

    ttl = props.get("TimeToLiveSpecification")
    if ttl is not None:
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"],
                "Enabled": bool(ttl["Enabled"]),
            },
        )
    recovery = props.get("PointInTimeRecoverySpecification")
    if recovery is not None:
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": bool(recovery["PointInTimeRecoveryEnabled"])
            },
        )
    return CreatedResource(ref=name, attributes={"Arn": table["TableArn"]})


# CloudFormation queue properties that are SQS attributes under the same name.
_QUEUE_ATTRIBUTES = {
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "RedrivePolicy",
    "RedriveAllowPolicy",
}


def create_queue(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(props, logical_id, _QUEUE_ATTRIBUTES | {"QueueName"})
    sqs = stack._client("sqs")

    attributes = {}
    for name, value in props.items():
        if name == "QueueName":
            continue
        if isinstance(value, dict):
            attributes[name] = json.dumps(value)
        elif isinstance(value, bool):
            attributes[name] = "true" if value else "false"
        else:
            attributes[name] = str(value)

    url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    if "RedrivePolicy" in props:
        stack.redrive_targets[url] = props["RedrivePolicy"]["deadLetterTargetArn"]
    return CreatedResource(
        ref=url, attributes={"Arn": arn, "QueueName": props["QueueName"], "QueueUrl": url}
    )


def create_queue_policy(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(props, logical_id, {"Queues", "PolicyDocument"})
    sqs = stack._client("sqs")
    for url in props["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return CreatedResource(ref=logical_id)


def create_bucket(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(
        props,
        logical_id,
        {
            "BucketName",
            "BucketEncryption",
            "PublicAccessBlockConfiguration",
            "OwnershipControls",
            "VersioningConfiguration",
            "LifecycleConfiguration",
            "NotificationConfiguration",
        },
    )
    s3 = stack._client("s3")
    name = props["BucketName"]
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": stack.region})

    if "BucketEncryption" in props:
        rules = [
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
        )
    if "LifecycleConfiguration" in props:
        rules = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if "NotificationConfiguration" in props:
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration=_notification_configuration(
                logical_id, props["NotificationConfiguration"]
            ),
        )
    return CreatedResource(
        ref=name,
        attributes={"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"},
    )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Translate a CloudFormation lifecycle rule to the S3 API shape."""
    converted: dict[str, Any] = {
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": rule["ExpirationInDays"]}

    unknown = sorted(
        set(rule)
        - {
            "Id",
            "Status",
            "Prefix",
            "NoncurrentVersionExpiration",
            "AbortIncompleteMultipartUpload",
            "ExpirationInDays",
        }
    )
    if unknown:
        raise TemplateError(
            f"lifecycle rule {rule.get('Id')!r}: {unknown} are not supported locally"
        )
    return converted


def _notification_configuration(logical_id: str, notification: dict[str, Any]) -> dict[str, Any]:
    """Translate CloudFormation's NotificationConfiguration (queues only) to the S3 API shape."""
    if set(notification) - {"QueueConfigurations"}:
        raise TemplateError(
            f"{logical_id}: only QueueConfigurations notifications are supported locally"
        )

    queues = []
    for config in notification["QueueConfigurations"]:
        entry: dict[str, Any] = {"QueueArn": config["Queue"], "Events": [config["Event"]]}
        rules = config.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        queues.append(entry)
    return {"QueueConfigurations": queues}


def create_key(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(props, logical_id, {"Description", "EnableKeyRotation", "KeyPolicy"})
    kms = stack._client("kms")
    key = kms.create_key(
        Description=props.get("Description", ""), Policy=json.dumps(props["KeyPolicy"])
    )["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return CreatedResource(ref=key["KeyId"], attributes={"Arn": key["Arn"], "KeyId": key["KeyId"]})


def create_key_alias(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(props, logical_id, {"AliasName", "TargetKeyId"})
    stack._client("kms").create_alias(
        AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"]
    )
    return CreatedResource(ref=props["AliasName"])


def create_topic(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(props, logical_id, {"TopicName", "KmsMasterKeyId"})
    attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if "KmsMasterKeyId" in props else {}
    arn = stack._client("sns").create_topic(Name=props["TopicName"], Attributes=attributes)[
        "TopicArn"
    ]
    return CreatedResource(ref=arn, attributes={"TopicArn": arn, "TopicName": props["TopicName"]})


# CloudFormation subscription properties that are SNS subscription attributes under the same name.
_SUBSCRIPTION_ATTRIBUTES = {"RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"}


def create_subscription(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(props, logical_id, {"TopicArn", "Protocol", "Endpoint"} | _SUBSCRIPTION_ATTRIBUTES)
    attributes = {}
    for name in sorted(_SUBSCRIPTION_ATTRIBUTES & set(props)):
        value = props[name]
        if isinstance(value, dict):
            attributes[name] = json.dumps(value)
        elif isinstance(value, bool):
            attributes[name] = "true" if value else "false"
        else:
            attributes[name] = str(value)

    arn = stack._client("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return CreatedResource(ref=arn, attributes={"Arn": arn})


def create_alarm(
    stack: TemplateInterpreter, logical_id: str, props: dict[str, Any]
) -> CreatedResource:
    props = _take(
        props,
        logical_id,
        {
            "AlarmName",
            "AlarmDescription",
            "Namespace",
            "MetricName",
            "Dimensions",
            "Statistic",
            "Period",
            "EvaluationPeriods",
            "Threshold",
            "ComparisonOperator",
            "TreatMissingData",
            "AlarmActions",
            "OKActions",
        },
    )
    arguments = dict(props, Threshold=float(props["Threshold"]))
    stack._client("cloudwatch").put_metric_alarm(**arguments)
    arn = f"arn:aws:cloudwatch:{stack.region}:{stack.account_id}:alarm:{props['AlarmName']}"
    return CreatedResource(ref=props["AlarmName"], attributes={"Arn": arn})


RESOURCE_CREATORS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": create_table,
    "AWS::SQS::Queue": create_queue,
    "AWS::SQS::QueuePolicy": create_queue_policy,
    "AWS::S3::Bucket": create_bucket,
    "AWS::KMS::Key": create_key,
    "AWS::KMS::Alias": create_key_alias,
    "AWS::SNS::Topic": create_topic,
    "AWS::SNS::Subscription": create_subscription,
    "AWS::CloudWatch::Alarm": create_alarm,
}
