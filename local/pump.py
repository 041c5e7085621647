"""Local event pump: does Lambda's polling and scheduling work for a Chalice app.

In AWS, Lambda polls SQS for every `@app.on_sqs_message` handler and EventBridge fires
every `@app.schedule` handler. moto stores event source mappings and schedule rules but
runs neither usefully, so the local stack runs this pump instead. It calls the same
callable Lambda calls (the registered handler that takes `(event_dict, context)`), so
Chalice's event classes and middleware run as they do in AWS.

What the pump reproduces for SQS event source mappings:

- batches of up to `batch_size` records built from real `ReceiveMessage` output, so every
  record has its own messageId and receipt handle;
- the partial batch response, as with `FunctionResponseTypes: ReportBatchItemFailures`:
  messages not listed in `batchItemFailures` are deleted, listed ones stay invisible until
  the queue's visibility timeout ends, and an invalid response fails the whole batch;
- a handler exception or a timeout deletes nothing;
- at most `maximum_concurrency` invocations of one handler at a time;
- `maximum_batching_window_in_seconds`.

Redrive to the dead-letter queue is left to SQS (moto moves a message on the receive
after it reached `maxReceiveCount`). Message bodies are never logged, only messageIds.

Schedules: `rate(...)` expressions fire every interval divided by `schedule_speed`.
`cron(...)` expressions fire only through `fire_schedule(name)`, because the pump does
not evaluate cron fields.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chalice import Chalice
from chalice.app import (
    ScheduledEventConfig,
    ScheduleExpression,
    SQSEventConfig,
)

from chalicelib.clock import Clock, ScaledClock

# moto's default account. Lambda puts the account into ARNs and scheduled events.
DEFAULT_ACCOUNT_ID = "123456789012"

# Chalice's defaults for `lambda_timeout` (seconds) and `lambda_memory_size` (MB).
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 60.0
DEFAULT_MEMORY_LIMIT_IN_MB = 128

# SQS returns at most 10 messages per ReceiveMessage and deletes at most 10 per batch call.
SQS_MAX_MESSAGES_PER_CALL = 10

# SQS long polling waits at most 20 s.
SQS_MAX_WAIT_TIME_SECONDS = 20

# Record attributes that Lambda copies from the SQS message (AWS Lambda docs, "Using
# Lambda with Amazon SQS", example standard and FIFO queue events).
LAMBDA_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)

# Queue attributes whose sum is zero only when a queue has no messages left.
QUEUE_DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)

RATE_EXPRESSION = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
CRON_EXPRESSION = re.compile(r"^cron\(([^)]*)\)$")
RATE_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}

# Background loops wake at least this often (seconds) to notice stop() and clock jumps.
BACKGROUND_TICK_SECONDS = 0.1

# Pause (seconds) after a failed ReceiveMessage before the poller tries again.
RECEIVE_ERROR_BACKOFF_SECONDS = 1.0


def parse_schedule_interval(expression: str | ScheduleExpression) -> float | None:
    """Parse an EventBridge schedule expression into its interval in seconds.

    Returns None for a valid `cron(...)` expression, which the pump fires only on request.
    Raises ValueError for anything else, naming the expression.
    """
    text = expression.to_string() if isinstance(expression, ScheduleExpression) else expression
    text = text.strip()

    rate = RATE_EXPRESSION.match(text)
    if rate:
        value = int(rate.group(1))
        if value < 1:
            raise ValueError(f"invalid schedule {text!r}: the rate value must be at least 1")
        return float(value * RATE_UNIT_SECONDS[rate.group(2).rstrip("s")])

    cron = CRON_EXPRESSION.match(text)
    if cron and len(cron.group(1).split()) == 6:
        return None

    raise ValueError(
        f"invalid schedule {text!r}: expected 'rate(N minutes|hours|days)' or "
        "'cron(minutes hours day-of-month month day-of-week year)'"
    )


def to_lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """Convert one ReceiveMessage message into a record of Lambda's SQS event."""
    attributes = message.get("Attributes", {})
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            name: attributes[name] for name in LAMBDA_RECORD_ATTRIBUTES if name in attributes
        },
        "messageAttributes": {
            name: to_lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def to_lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a boto3 message attribute to Lambda's lower-camel shape.

    boto3 returns binary values as bytes, but Lambda's JSON event carries them in base64.
    """
    converted: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [
            base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
        ],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return converted


def find_failed_message_ids(response: Any, message_ids: list[str]) -> tuple[set[str], str | None]:
    """Read a partial batch response the way Lambda does with ReportBatchItemFailures.

    Returns the messageIds to keep and, when the response is invalid, the reason. An
    invalid response fails the whole batch, so every messageId is kept then. None, a
    dict without `batchItemFailures` and an empty or null list all mean full success
    (AWS Lambda docs, "Handling errors for an SQS event source in Lambda").
    """
    if response is None:
        return set(), None

    # NOTE: the AWS docs name only "an invalid JSON response". Treating any other
    # non-object return as a full failure is this pump's reading of that rule.
    if not isinstance(response, dict):
        return set(message_ids), f"the response is a {type(response).__name__}, not an object"

    failures = response.get("batchItemFailures")
    if failures is None:
        return set(), None
    if not isinstance(failures, list):
        return set(message_ids), "batchItemFailures is not a list"

    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return set(message_ids), "an itemIdentifier is missing, empty or not a string"
        if identifier not in message_ids:
            return set(message_ids), f"itemIdentifier {identifier[:100]!r} is not in the batch"
        failed.add(identifier)
    return failed, None


class LambdaContext:
    """The Lambda context object passed to handlers, with the attributes Lambda sets.

    The remaining time counts down in real seconds from `timeout_seconds`, also when the
    pump runs on a sped-up clock, because a timeout limits real run time.
    """

    def __init__(
        self,
        function_name: str,
        region: str,
        account_id: str,
        timeout_seconds: float,
        memory_limit_in_mb: int,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class HandlerStats:
    """Counters for one handler since the pump was built."""

    invocations: int = 0
    records: int = 0
    failures_reported: int = 0
    invalid_responses: int = 0
    exceptions: int = 0
    timeouts: int = 0
    deleted: int = 0
    delete_errors: int = 0


@dataclass
class SqsSource:
    """One `on_sqs_message` handler with its queue and mapping settings."""

    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    queue_url: str
    batch_size: int
    batching_window_seconds: float
    concurrency: int
    queue_arn: str | None = None
    # One slot per allowed parallel invocation. A background poller takes one per batch.
    slots: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(self.concurrency)


@dataclass
class ScheduleSource:
    """One `schedule` handler. `interval_seconds` is None for cron expressions."""

    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    expression: str
    interval_seconds: float | None
    next_due: float | None = None


class InvocationTimeout(Exception):
    """A handler ran longer than the function timeout.

    The pump cannot stop a running thread, so it lets the handler finish and then treats
    the invocation as failed, which is the outcome Lambda's timeout has.
    """


class EventPump:
    """Poll SQS and fire schedules for a Chalice app, as Lambda and EventBridge do in AWS.

    Parameters
    ----------
    app:
        The Chalice app. Its `event_sources` and `handler_map` name what to pump.
    sqs_client:
        A boto3 SQS client. Its region goes into records, ARNs and scheduled events.
    queue_urls:
        Queue URL by queue name, for the queue of every `on_sqs_message` handler.
    clock:
        Epoch-seconds time source for rate schedules and scheduled event times. Default:
        the system clock. With a sped-up `ScaledClock` keep `schedule_speed` at 1, because
        the clock already shortens every interval. Function timeouts use real time.
    poll_wait_seconds:
        How long a background poller waits on an empty queue. From 1 s up, the whole
        seconds (at most 20) go to SQS as WaitTimeSeconds. Below 1 s the poller
        short-polls and then pauses this long.
    schedule_speed:
        Divides every rate interval: 60 fires "rate(1 minute)" once a second.
    sleep:
        Pause used by `run_until_idle` and inside a batching window.
    logger:
        Where invocation errors go, by default the `local.pump` logger. Bodies are never
        logged, but a handler's own exception message and traceback are, as Lambda does.
    stage:
        Chalice stage, used in function and rule names as `chalice deploy` builds them.
    account_id:
        Account in ARNs and scheduled events.
    function_timeout_seconds, memory_limit_in_mb:
        What the context reports. A handler that runs longer than the timeout (in real
        seconds) fails.
    default_concurrency:
        Parallel invocations for an SQS handler without `maximum_concurrency`.
    """

    def __init__(
        self,
        app: Chalice,
        sqs_client: Any,
        *,
        queue_urls: Mapping[str, str],
        clock: Clock | None = None,
        poll_wait_seconds: float = 0.2,
        schedule_speed: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | None = None,
        stage: str = "local",
        account_id: str = DEFAULT_ACCOUNT_ID,
        function_timeout_seconds: float = DEFAULT_FUNCTION_TIMEOUT_SECONDS,
        memory_limit_in_mb: int = DEFAULT_MEMORY_LIMIT_IN_MB,
        default_concurrency: int = 4,
    ) -> None:
        if schedule_speed <= 0:
            raise ValueError(f"schedule_speed must be positive, got {schedule_speed!r}")
        if default_concurrency < 1:
            raise ValueError(f"default_concurrency must be at least 1, got {default_concurrency!r}")

        self._app = app
        self._sqs = sqs_client
        self._region: str = sqs_client.meta.region_name
        self._clock: Clock = clock or ScaledClock()
        self._poll_wait_seconds = poll_wait_seconds
        self._schedule_speed = schedule_speed
        self._sleep = sleep
        self._logger = logger or logging.getLogger(__name__)
        self._stage = stage
        self._account_id = account_id
        self._function_timeout_seconds = function_timeout_seconds
        self._memory_limit_in_mb = memory_limit_in_mb

        self._sqs_sources = self._discover_sqs_sources(queue_urls, default_concurrency)
        self._schedules = self._discover_schedules()
        self._log_unsupported_sources()

        self._lock = threading.Lock()
        self._stats = {name: HandlerStats() for name in [*self._sqs_sources, *self._schedules]}
        self._in_flight_count = 0
        self._warm_handlers: set[str] = set()
        self._cold_start_locks = {name: threading.Lock() for name in self._stats}

        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._running = False
        self._reset_schedules()

    # Discovery -------------------------------------------------------------------------

    def _discover_sqs_sources(
        self, queue_urls: Mapping[str, str], default_concurrency: int
    ) -> dict[str, SqsSource]:
        sources = {}
        for config in self._app.event_sources:
            if isinstance(config, SQSEventConfig):
                sources[config.name] = self._build_sqs_source(
                    config, queue_urls, default_concurrency
                )
        return sources

    def _build_sqs_source(
        self, config: SQSEventConfig, queue_urls: Mapping[str, str], default_concurrency: int
    ) -> SqsSource:
        queue_name = config.queue or str(config.queue_arn).rsplit(":", 1)[-1]
        queue_url = queue_urls.get(queue_name)
        if queue_url is None:
            raise ValueError(
                f"no queue URL for queue {queue_name!r} of handler {config.name!r}: "
                "create the queue and add its URL to queue_urls"
            )

        concurrency = config.maximum_concurrency
        if concurrency is None:
            concurrency = default_concurrency
        if concurrency < 1:
            raise ValueError(
                f"maximum_concurrency of handler {config.name!r} must be at least 1, "
                f"got {concurrency!r}"
            )

        # handler_map contains the object the decorator returned. Lambda imports the same
        # object through handler_string: Chalice's EventSourceHandler with its middleware.
        return SqsSource(
            name=config.name,
            handler=self._app.handler_map[config.name],
            queue_url=queue_url,
            batch_size=config.batch_size,
            batching_window_seconds=float(config.maximum_batching_window_in_seconds or 0),
            concurrency=concurrency,
        )

    def _discover_schedules(self) -> dict[str, ScheduleSource]:
        schedules = {}
        for config in self._app.event_sources:
            if not isinstance(config, ScheduledEventConfig):
                continue
            expression = config.schedule_expression
            text = (
                expression.to_string() if isinstance(expression, ScheduleExpression) else expression
            )
            schedules[config.name] = ScheduleSource(
                name=config.name,
                handler=self._app.handler_map[config.name],
                expression=text,
                interval_seconds=parse_schedule_interval(text),
            )
        return schedules

    def _log_unsupported_sources(self) -> None:
        for config in self._app.event_sources:
            if not isinstance(config, (SQSEventConfig, ScheduledEventConfig)):
                self._logger.info(
                    "event source %s (%s) is not driven by the event pump",
                    config.name,
                    type(config).__name__,
                )

    def _reset_schedules(self) -> None:
        # EventBridge fires a rate rule one interval after the rule is created.
        now = self._clock.now()
        for schedule in self._schedules.values():
            if schedule.interval_seconds is not None:
                schedule.next_due = now + schedule.interval_seconds / self._schedule_speed

    # Public state ----------------------------------------------------------------------

    @property
    def concurrency(self) -> dict[str, int]:
        """Maximum parallel invocations by SQS handler name."""
        return {name: source.concurrency for name, source in self._sqs_sources.items()}

    def stats(self) -> dict[str, dict[str, int]]:
        """Return a snapshot of the counters by handler name (see `HandlerStats`)."""
        with self._lock:
            return {name: asdict(stats) for name, stats in self._stats.items()}

    def _count(self, name: str, **increments: int) -> None:
        with self._lock:
            stats = self._stats[name]
            for counter, amount in increments.items():
                setattr(stats, counter, getattr(stats, counter) + amount)

    # Control ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start one poller thread per SQS handler and one schedule thread."""
        if self._running:
            raise RuntimeError("the event pump is already started; call stop() first")

        self._stopping.clear()
        self._reset_schedules()
        self._executors = {
            name: ThreadPoolExecutor(source.concurrency, thread_name_prefix=f"pump-{name}")
            for name, source in self._sqs_sources.items()
        }
        self._executors["schedules"] = ThreadPoolExecutor(
            max(1, len(self._schedules)), thread_name_prefix="pump-schedules"
        )

        self._threads = [
            threading.Thread(target=self._poll_forever, args=(source,), name=f"pump-poll-{name}")
            for name, source in self._sqs_sources.items()
        ]
        self._threads.append(
            threading.Thread(target=self._fire_schedules_forever, name="pump-timer")
        )
        for thread in self._threads:
            thread.daemon = True
            thread.start()

        self._running = True
        self._logger.info(
            "event pump started: %d SQS handlers, %d schedules",
            len(self._sqs_sources),
            len(self._schedules),
        )

    def stop(self) -> None:
        """Stop polling and wait for running invocations to finish.

        A poller inside a long poll returns when its WaitTimeSeconds ends.
        """
        if not self._running:
            return

        self._stopping.set()
        for thread in self._threads:
            thread.join()
        for executor in self._executors.values():
            executor.shutdown(wait=True)

        self._threads = []
        self._executors = {}
        self._running = False
        self._logger.info("event pump stopped")

    def run_until_idle(self, timeout: float, idle_for: float = 1.0) -> bool:
        """Pump until every queue is empty and nothing runs for `idle_for` seconds.

        Empty means zero visible, in-flight and delayed messages in each handler's queue.
        Dead-letter queues are not checked. Starts the pump if it is stopped and stops it
        again before returning. Returns False when `timeout` (seconds) passes first.
        """
        started_here = not self._running
        if started_here:
            self.start()
        try:
            return self._wait_until_idle(timeout, idle_for)
        finally:
            if started_here:
                self.stop()

    def _wait_until_idle(self, timeout: float, idle_for: float) -> bool:
        # The deadline counts from the first check and one last check runs at the
        # deadline, so timeout == idle_for returns True when the pump was idle throughout.
        deadline: float | None = None
        idle_since: float | None = None
        while True:
            checked_at = time.monotonic()
            if deadline is None:
                deadline = checked_at + timeout

            if not self._is_idle():
                idle_since = None
            else:
                idle_since = checked_at if idle_since is None else idle_since
                if checked_at - idle_since >= idle_for:
                    return True

            if checked_at >= deadline:
                return False
            self._sleep(min(BACKGROUND_TICK_SECONDS, deadline - checked_at))

    def drain_once(self) -> int:
        """Run one polling round, wait for its invocations and return their count.

        Each SQS handler receives up to `concurrency` batches with short polls, and the
        batches run in parallel. Rate schedules that are due fire. Raises RuntimeError
        while the pump is started.
        """
        if self._running:
            raise RuntimeError(
                "drain_once() cannot run while the pump is started; call stop() first"
            )

        workers = sum(self.concurrency.values()) + len(self._schedules)
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="pump-drain") as executor:
            futures = self._submit_ready_batches(executor)
            futures += [
                executor.submit(self._invoke_schedule, schedule, raise_errors=False)
                for schedule in self._take_due_schedules()
            ]
            wait(futures)

        # A pump bug, not a handler error (those are caught and counted), surfaces here.
        for future in futures:
            future.result()
        return len(futures)

    def _submit_ready_batches(self, executor: ThreadPoolExecutor) -> list[Future]:
        futures = []
        for source in self._sqs_sources.values():
            for _ in range(source.concurrency):
                messages = self._receive_batch(source, wait_time_seconds=0)
                if not messages:
                    break
                futures.append(executor.submit(self._invoke_batch, source, messages))
        return futures

    def fire_schedule(self, name: str) -> Any:
        """Invoke the schedule handler `name` now, in the caller's thread.

        This is the only way a `cron(...)` schedule fires. Returns the handler's result.
        The handler's exception propagates, and a run longer than the timeout raises
        InvocationTimeout.
        """
        schedule = self._schedules.get(name)
        if schedule is None:
            raise ValueError(
                f"no schedule handler named {name!r}; the app has {sorted(self._schedules)}"
            )
        return self._invoke_schedule(schedule, raise_errors=True)

    # Idle detection ----------------------------------------------------------------------

    def _is_idle(self) -> bool:
        with self._lock:
            if self._in_flight_count:
                return False
        return all(self._queue_depth(source) == 0 for source in self._sqs_sources.values())

    def _queue_depth(self, source: SqsSource) -> int:
        response = self._sqs.get_queue_attributes(
            QueueUrl=source.queue_url, AttributeNames=list(QUEUE_DEPTH_ATTRIBUTES)
        )
        attributes = response.get("Attributes", {})
        return sum(int(attributes.get(name, 0)) for name in QUEUE_DEPTH_ATTRIBUTES)

    # SQS polling -------------------------------------------------------------------------

    def _poll_forever(self, source: SqsSource) -> None:
        wait_time_seconds = min(SQS_MAX_WAIT_TIME_SECONDS, int(self._poll_wait_seconds))
        executor = self._executors[source.name]

        while not self._stopping.is_set():
            # Take a slot before receiving: a batch that cannot run yet would sit
            # invisible and use up its visibility timeout.
            if not source.slots.acquire(timeout=BACKGROUND_TICK_SECONDS):
                continue

            try:
                messages = self._receive_batch(source, wait_time_seconds)
            except (BotoCoreError, ClientError) as error:
                source.slots.release()
                self._logger.error(
                    "ReceiveMessage failed for handler %s on %s: %s. Retrying in %.0f s",
                    source.name,
                    source.queue_url,
                    error,
                    RECEIVE_ERROR_BACKOFF_SECONDS,
                )
                self._stopping.wait(RECEIVE_ERROR_BACKOFF_SECONDS)
                continue

            if not messages:
                source.slots.release()
                if wait_time_seconds == 0:
                    self._stopping.wait(self._poll_wait_seconds)
                continue

            future = executor.submit(self._invoke_batch, source, messages)
            future.add_done_callback(lambda done, source=source: self._release_slot(source, done))

    def _release_slot(self, source: SqsSource, future: Future) -> None:
        source.slots.release()
        error = future.exception()
        if error is not None:
            self._logger.error(
                "event pump failed while handling a batch of %s: %r", source.name, error
            )

    def _receive_batch(self, source: SqsSource, wait_time_seconds: int) -> list[dict[str, Any]]:
        """Receive up to `batch_size` messages, waiting up to the batching window to fill it."""
        messages = self._receive(source, source.batch_size, wait_time_seconds)
        if not messages or source.batching_window_seconds <= 0:
            return messages

        window_end = time.monotonic() + source.batching_window_seconds
        while len(messages) < source.batch_size:
            remaining = window_end - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(source, source.batch_size - len(messages), 0)
            messages.extend(more)
            if not more:
                self._sleep(min(BACKGROUND_TICK_SECONDS, remaining))
        return messages

    def _receive(
        self, source: SqsSource, count: int, wait_time_seconds: int
    ) -> list[dict[str, Any]]:
        # No VisibilityTimeout argument: Lambda receives with the queue's own timeout.
        response = self._sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=min(count, SQS_MAX_MESSAGES_PER_CALL),
            WaitTimeSeconds=wait_time_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _queue_arn(self, source: SqsSource) -> str:
        if source.queue_arn is None:
            response = self._sqs.get_queue_attributes(
                QueueUrl=source.queue_url, AttributeNames=["QueueArn"]
            )
            source.queue_arn = response["Attributes"]["QueueArn"]
        return source.queue_arn

    # SQS invocation ----------------------------------------------------------------------

    def _invoke_batch(self, source: SqsSource, messages: list[dict[str, Any]]) -> None:
        """Invoke the handler with one batch, then delete what the outcome allows."""
        message_ids = [message["MessageId"] for message in messages]
        queue_arn = self._queue_arn(source)
        event = {
            "Records": [to_lambda_record(message, queue_arn, self._region) for message in messages]
        }

        with self._in_flight():
            self._count(source.name, invocations=1, records=len(messages))
            keep = self._run_batch_handler(source, event, message_ids)
            self._delete(
                source, [message for message in messages if message["MessageId"] not in keep]
            )

    def _run_batch_handler(
        self, source: SqsSource, event: dict[str, Any], message_ids: list[str]
    ) -> set[str]:
        """Call the handler and return the messageIds that must stay in the queue."""
        try:
            response = self._call_handler(source.name, source.handler, event)
            # Lambda serialises the return value, so a value that is not JSON fails the invoke.
            json.dumps(response)
        except InvocationTimeout as error:
            self._count(source.name, timeouts=1)
            self._logger.error(
                "%s, so messageIds %s return after the visibility timeout", error, message_ids
            )
            return set(message_ids)
        except Exception as error:  # noqa: BLE001 - the Lambda runtime boundary catches everything
            self._count(source.name, exceptions=1)
            self._logger.error(
                "handler %s raised %s, so messageIds %s return after the visibility timeout",
                source.name,
                type(error).__name__,
                message_ids,
                exc_info=error,
            )
            return set(message_ids)

        keep, invalid_reason = find_failed_message_ids(response, message_ids)
        if invalid_reason is not None:
            self._count(source.name, invalid_responses=1)
            self._logger.error(
                "handler %s returned an invalid batch response (%s), so the whole batch "
                "failed as in Lambda. messageIds %s return after the visibility timeout",
                source.name,
                invalid_reason,
                message_ids,
            )
        elif keep:
            self._count(source.name, failures_reported=len(keep))
            self._logger.info("handler %s reported failed messageIds %s", source.name, sorted(keep))
        return keep

    def _delete(self, source: SqsSource, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), SQS_MAX_MESSAGES_PER_CALL):
            chunk = messages[start : start + SQS_MAX_MESSAGES_PER_CALL]
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(chunk)
            ]
            try:
                response = self._sqs.delete_message_batch(
                    QueueUrl=source.queue_url, Entries=entries
                )
            except (BotoCoreError, ClientError) as error:
                self._count(source.name, delete_errors=len(chunk))
                self._logger.error(
                    "DeleteMessageBatch failed for handler %s: %s. "
                    "messageIds %s will be delivered again",
                    source.name,
                    error,
                    [message["MessageId"] for message in chunk],
                )
                continue
            self._count_deleted(source, chunk, response)

    def _count_deleted(
        self, source: SqsSource, chunk: list[dict[str, Any]], response: Mapping[str, Any]
    ) -> None:
        failed = response.get("Failed", [])
        self._count(source.name, deleted=len(chunk) - len(failed), delete_errors=len(failed))
        if failed:
            # Usually a receipt handle that expired because the handler outran the
            # visibility timeout. SQS delivers such a message again, as in AWS.
            self._logger.error(
                "DeleteMessageBatch rejected messageIds %s of handler %s: %s",
                [chunk[int(entry["Id"])]["MessageId"] for entry in failed],
                source.name,
                [entry.get("Code") for entry in failed],
            )

    # Schedules ---------------------------------------------------------------------------

    def _fire_schedules_forever(self) -> None:
        executor = self._executors["schedules"]
        while not self._stopping.is_set():
            for schedule in self._take_due_schedules():
                executor.submit(self._invoke_schedule, schedule, raise_errors=False)
            self._stopping.wait(BACKGROUND_TICK_SECONDS)

    def _take_due_schedules(self) -> list[ScheduleSource]:
        """Return the rate schedules due now and move each one interval ahead.

        Fire times stay on a fixed grid, as EventBridge keeps them. Fires missed because
        the clock jumped or the pump stalled are skipped, not replayed.
        """
        now = self._clock.now()
        due = []
        with self._lock:
            for schedule in self._schedules.values():
                if schedule.interval_seconds is None or schedule.next_due is None:
                    continue
                if schedule.next_due > now:
                    continue
                due.append(schedule)
                interval = schedule.interval_seconds / self._schedule_speed
                schedule.next_due += interval
                if schedule.next_due <= now:
                    schedule.next_due = now + interval
        return due

    def _invoke_schedule(self, schedule: ScheduleSource, *, raise_errors: bool) -> Any:
        event = self._scheduled_event(schedule)
        with self._in_flight():
            self._count(schedule.name, invocations=1)
            try:
                return self._call_handler(schedule.name, schedule.handler, event)
            except InvocationTimeout as error:
                self._count(schedule.name, timeouts=1)
                if raise_errors:
                    raise
                self._logger.error("%s, so scheduled event %s is lost", error, event["id"])
            except Exception as error:  # noqa: BLE001 - the Lambda runtime boundary catches everything
                self._count(schedule.name, exceptions=1)
                if raise_errors:
                    raise
                # NOTE: Lambda retries a failed asynchronous invocation up to two times,
                # but the pump does not retry.
                self._logger.error(
                    "schedule handler %s raised %s for event %s",
                    schedule.name,
                    type(error).__name__,
                    event["id"],
                    exc_info=error,
                )
        return None

    def _scheduled_event(self, schedule: ScheduleSource) -> dict[str, Any]:
        """Build the EventBridge "Scheduled Event" for a rule as `chalice deploy` names it."""
        rule_name = f"{self._app.app_name}-{self._stage}-{schedule.name}-event"
        fired_at = datetime.fromtimestamp(self._clock.now(), UTC)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self._account_id,
            "time": fired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [f"arn:aws:events:{self._region}:{self._account_id}:rule/{rule_name}"],
            "detail": {},
        }

    # Handler calls -------------------------------------------------------------------------

    def _call_handler(
        self, name: str, handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]
    ) -> Any:
        """Call a handler with a fresh context and raise InvocationTimeout if it ran too long."""
        context = LambdaContext(
            function_name=f"{self._app.app_name}-{self._stage}-{name}",
            region=self._region,
            account_id=self._account_id,
            timeout_seconds=self._function_timeout_seconds,
            memory_limit_in_mb=self._memory_limit_in_mb,
        )
        started = time.monotonic()
        result = self._call_once_warm(name, handler, event, context)

        elapsed = time.monotonic() - started
        if elapsed > self._function_timeout_seconds:
            raise InvocationTimeout(
                f"handler {name} ran {elapsed:.1f} s, longer than its "
                f"{self._function_timeout_seconds:g} s timeout (request {context.aws_request_id})"
            )
        return result

    def _call_once_warm(
        self,
        name: str,
        handler: Callable[[dict[str, Any], Any], Any],
        event: dict[str, Any],
        context: Any,
    ) -> Any:
        # Chalice builds a handler's middleware chain on its first call from a one-shot
        # generator (chalice 1.34). Concurrent first calls raise "generator already
        # executing" or keep a chain without middleware. Lambda runs one event per
        # process, so this never happens there; here the first call runs alone.
        if name in self._warm_handlers:
            return handler(event, context)

        with self._cold_start_locks[name]:
            if name not in self._warm_handlers:
                try:
                    return handler(event, context)
                finally:
                    self._warm_handlers.add(name)
        return handler(event, context)

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        # Counts running invocations, so that run_until_idle does not return under one.
        with self._lock:
            self._in_flight_count += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight_count -= 1
