"""Label fetching: ask Ozon for a posting's label, wait for it, check the PDF, store it in S3.

The label task is created with `/v3/posting/fbs/package-label/create` at least
`fbs_label_delay_seconds` after packing, then polled with `/v2/posting/fbs/package-label/get`
by re-queueing the message with a delay until the task is done. The PDF from `file_url`
must start with `%PDF-`, be 1 KiB to 10 MiB and have 1 to 4 pages. It is stored under
`labels/<YYYY-MM-DD of shipment_date UTC>/<warehouse_id>/<posting_number>.pdf` with its
sha256 and page count as object metadata.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import requests
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from chalicelib.fbs.messages import LabelMessage
from chalicelib.fbs.models import Posting
from chalicelib.fbs.pipeline import LABEL, FbsDeps, PostingPipeline, action_key, merge_posting, real_delay
from chalicelib.observability import logger, metrics
from chalicelib.ozon.fbs_models import AWAITING_DELIVER, CANCELLED, posting_day
from chalicelib.storage.errors import StorageError
from chalicelib.storage.queues import OutgoingMessage

LABEL_PREFIX = "labels/"
PDF_MAGIC = b"%PDF-"
MIN_LABEL_BYTES = 1024
MAX_LABEL_BYTES = 10 * 1024 * 1024
MAX_LABEL_PAGES = 4
# Virtual seconds between polls of a label task, and polls before giving up (10 minutes).
POLL_SECONDS = 5
MAX_POLLS = 120
DOWNLOAD_TIMEOUT_SECONDS = 20


class LabelFileError(ValueError):
    """A downloaded label is not a usable PDF; the message names the posting and the check."""


@dataclass(frozen=True)
class LabelFile:
    body: bytes
    sha256: str
    pages: int


def label_key(posting: Posting) -> str:
    return f"{LABEL_PREFIX}{posting_day(posting.shipment_date)}/{posting.warehouse_id}/{posting.posting_number}.pdf"


def check_label(posting_number: str, body: bytes) -> LabelFile:
    """Check a label PDF's magic, size and page count; raises LabelFileError."""
    if not body.startswith(PDF_MAGIC):
        raise LabelFileError(f"label of posting {posting_number} is not a PDF: it starts with {body[:8]!r}")
    if not MIN_LABEL_BYTES <= len(body) <= MAX_LABEL_BYTES:
        raise LabelFileError(f"label of posting {posting_number} has {len(body)} bytes; "
                             f"expected {MIN_LABEL_BYTES} to {MAX_LABEL_BYTES}")
    try:
        pages = len(PdfReader(io.BytesIO(body)).pages)
    except (PdfReadError, ValueError, KeyError) as error:
        raise LabelFileError(f"label of posting {posting_number} cannot be read as a PDF: {error}") from error
    if not 1 <= pages <= MAX_LABEL_PAGES:
        raise LabelFileError(f"label of posting {posting_number} has {pages} pages; expected 1 to {MAX_LABEL_PAGES}")
    return LabelFile(body, hashlib.sha256(body).hexdigest(), pages)


class LabelWorker:
    """Handles messages of the labels queue."""

    def __init__(self, deps: FbsDeps) -> None:
        self.deps = deps
        self.pipeline = PostingPipeline(deps)

    def handle(self, message: LabelMessage) -> str:
        deps = self.deps
        number = message.posting_number
        row = deps.store.get(number)
        if row is not None and row.label_key:
            return "already_labelled"

        api = self.pipeline.read(number, "label")
        if api is None:
            deps.store.release(action_key(number), LABEL)
            return "not_found"
        row = deps.store.change(number, lambda current: merge_posting(current, api, deps.store.now())) or row
        if api.status == CANCELLED:
            deps.store.record(number, "label_skipped", reason="cancelled")
            return "cancelled"
        if api.status != AWAITING_DELIVER:
            deps.store.record(number, "label_skipped", reason=f"status {api.status}")
            deps.store.release(action_key(number), LABEL)
            return "not_packed"

        if message.task_id is None:
            return self._create_task(message, row)
        return self._poll_task(message, row)

    def _create_task(self, message: LabelMessage, row: Posting) -> str:
        deps = self.deps
        due = row.packed_at.timestamp() + deps.settings.fbs_label_delay_seconds
        if deps.clock.now() < due:
            # SQS delivered early, or the posting was packed by someone else just now.
            self._requeue(message, due - deps.clock.now())
            return "too_early"
        tasks = deps.ozon.create_label_task([message.posting_number]).tasks
        if not tasks:
            deps.store.record(message.posting_number, "label_failed", reason="no label task returned")
            deps.store.release(action_key(message.posting_number), LABEL)
            return "failed"
        deps.store.record(message.posting_number, "label_task_created", task_id=tasks[0].task_id)
        self._requeue(message.model_copy(update={"task_id": tasks[0].task_id, "polls": 0}), POLL_SECONDS)
        return "task_created"

    def _poll_task(self, message: LabelMessage, row: Posting) -> str:
        deps = self.deps
        number = message.posting_number
        task = deps.ozon.get_label_task(message.task_id)
        code = task.status.code
        if code in ("pending", "in_progress"):
            if message.polls >= MAX_POLLS:
                return self._fail(number, f"label task {message.task_id} still {code} after {message.polls} polls")
            self._requeue(message.model_copy(update={"polls": message.polls + 1}), POLL_SECONDS)
            return "waiting"
        unprinted = {item.posting_number: item.message for item in task.status.unprinted_postings}
        if number in unprinted and self._cancelled_meanwhile(number):
            return "cancelled"
        if code != "completed" or number in unprinted or not task.file_url:
            detail = unprinted.get(number) or (task.error.message if task.error else "") or code
            return self._fail(number, f"label task {message.task_id} ended {code}: {detail}")

        try:
            label = check_label(number, self._download(task.file_url))
        except (LabelFileError, requests.RequestException) as error:
            return self._fail(number, str(error))
        self._store(row, label)
        return "labelled"

    def _cancelled_meanwhile(self, number: str) -> bool:
        """Re-read a posting Ozon left out of its label; a cancellation is no failure to alert on."""
        deps = self.deps
        api = self.pipeline.read(number, "label")
        if api is None or api.status != CANCELLED:
            return False
        deps.store.change(number, lambda current: merge_posting(current, api, deps.store.now()))
        deps.store.record(number, "label_skipped", reason="cancelled after the label was asked for")
        return True

    def _download(self, url: str) -> bytes:
        if not url.startswith(("https://", "http://")):
            raise LabelFileError(f"label file_url {url[:80]!r} is not an HTTP URL")
        response = self.deps.http.get(url, timeout=DOWNLOAD_TIMEOUT_SECONDS)
        response.raise_for_status()
        return response.content

    def _store(self, row: Posting, label: LabelFile) -> None:
        deps = self.deps
        key = label_key(row)
        try:
            deps.s3.put_object(Bucket=deps.bucket, Key=key, Body=label.body, ContentType="application/pdf",
                               Metadata={"sha256": label.sha256, "pages": str(label.pages)})
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"s3://{deps.bucket}/{key}", "PutObject", str(error),
                               "Check the bucket exists and the role may write labels.") from error

        def attach(current: Posting | None) -> Posting | None:
            if current is None or current.label_key:
                return None
            current.label_key, current.label_sha256 = key, label.sha256
            current.label_pages, current.label_bytes = label.pages, len(label.body)
            current.labelled_at = deps.store.now()
            return current

        deps.store.change(row.posting_number, attach)
        deps.store.record(row.posting_number, "labelled", key=key, sha256=label.sha256, pages=label.pages,
                          bytes=len(label.body))
        metrics.add_metric(name="FbsLabelled", unit=MetricUnit.Count, value=1)

    def _requeue(self, message: LabelMessage, virtual_seconds: float) -> None:
        delay = real_delay(self.deps.clock, virtual_seconds)
        self.deps.labels.send([OutgoingMessage(message.model_dump(), delay)])

    def _fail(self, number: str, reason: str) -> str:
        logger.warning("label not fetched", extra={"posting_number": number, "reason": reason})
        self.deps.store.record(number, "label_failed", reason=reason)
        # The next event or poll of this posting schedules the label again.
        self.deps.store.release(action_key(number), LABEL)
        self.deps.notifier.alert("fbs_label_failed", posting=number, detail=reason)
        return "failed"


def presigned_label_url(deps: FbsDeps, posting_number: str) -> str | None:
    """Return a short-lived download URL of a posting's label, or None when it has none."""
    row = deps.store.get(posting_number)
    if row is None or not row.label_key:
        return None
    return deps.s3.generate_presigned_url("get_object", Params={"Bucket": deps.bucket, "Key": row.label_key},
                                          ExpiresIn=deps.settings.fbs_presign_seconds)
