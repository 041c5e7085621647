"""Sending messages to SQS with per-message delays."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.storage.errors import StorageError

SQS_BATCH_MAX = 10
SQS_DELAY_MAX_SECONDS = 900


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    body: dict
    delay_seconds: int = 0


class MessageQueue(Protocol):
    def send(self, messages: Sequence[OutgoingMessage]) -> None: ...

    def change_visibility(self, receipt_handle: str, seconds: int) -> None: ...


def _check_delay(delay: int) -> int:
    if not 0 <= delay <= SQS_DELAY_MAX_SECONDS:
        raise ValueError(f"SQS delay must be 0-{SQS_DELAY_MAX_SECONDS} s, got {delay}")
    return delay


class SqsQueue:
    """A standard SQS queue. `send` batches by ten and resends entries SQS reports failed."""

    def __init__(self, client, queue_url: str) -> None:
        self._client = client
        self.url = queue_url

    def send(self, messages: Sequence[OutgoingMessage]) -> None:
        for start in range(0, len(messages), SQS_BATCH_MAX):
            self._send_batch(messages[start:start + SQS_BATCH_MAX])

    def _send_batch(self, batch: Sequence[OutgoingMessage]) -> None:
        entries = [
            {"Id": str(index), "MessageBody": json.dumps(message.body, separators=(",", ":")),
             "DelaySeconds": _check_delay(message.delay_seconds)}
            for index, message in enumerate(batch)
        ]
        # SendMessageBatch answers 200 even when entries fail: resend only the failed ones.
        for _ in range(5):
            try:
                response = self._client.send_message_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError) as error:
                raise StorageError(self.url, "SendMessageBatch", str(error),
                                   "Check the queue exists and the role may send to it.") from error
            failed_ids = {entry["Id"] for entry in response.get("Failed", [])}
            if not failed_ids:
                return
            sender_faults = [e for e in response["Failed"] if e.get("SenderFault")]
            if sender_faults:
                raise StorageError(self.url, "SendMessageBatch", f"rejected entries: {sender_faults}",
                                   "The message is malformed; this is a bug, report it.")
            entries = [entry for entry in entries if entry["Id"] in failed_ids]
        raise StorageError(self.url, "SendMessageBatch", f"{len(entries)} entries kept failing",
                           "SQS is unavailable; the run can be planned again.")

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        try:
            self._client.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)
        except (ClientError, BotoCoreError) as error:
            raise StorageError(self.url, "ChangeMessageVisibility", str(error),
                               "The message will come back after the queue's own visibility timeout.") from error


@dataclass
class InMemoryQueue:
    """A queue that keeps what was sent, for unit tests."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    visibility: dict[str, int] = field(default_factory=dict)

    def send(self, messages: Sequence[OutgoingMessage]) -> None:
        for message in messages:
            _check_delay(message.delay_seconds)
        self.sent.extend(messages)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        self.visibility[receipt_handle] = seconds
