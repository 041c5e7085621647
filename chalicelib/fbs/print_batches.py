"""Print batches: a day's labels merged into one PDF per warehouse and ship-by time.

A batch PDF is a pick-list cover (SKU, name, quantity and posting numbers, with Russian
headings) followed by the label of every posting in the group, in posting-number order.
It is stored in S3 under `print-batches/<day>/<batch_id>.pdf` with metadata `sha256` and
`pages`, and described by a `PrintBatch` row whose status starts at `ready`.

Each posting lands in exactly one batch. A posting is claimed by a conditional update
that sets its `batch_id` only while it has none. A build that stops after claiming but
before saving the batch row leaves postings pointing at a batch that does not exist, and
the next build of that day completes such a batch from those postings.

NOTE: `build_day` is meant to run one at a time (one schedule or one operator action).
Claims keep two concurrent runs from batching a posting twice, but a recovery running
beside the build that claimed the postings may render a batch before all claims are in.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone, tzinfo
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, PutError, UpdateError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from chalicelib.fbs.models import Posting, PrintBatch, expiry
from chalicelib.observability import logger
from chalicelib.storage.errors import StorageError

# DejaVu Sans covers Cyrillic; Debian ships it in fonts-dejavu-core. Lambda images have
# no system fonts, so a deployment sets PRINT_FONT_PATH to a copy in a layer.
DEFAULT_FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/opt/fonts/DejaVuSans.ttf"),
)
FONT_NAME = "PickListSans"
BATCH_PREFIX = "print-batches/"
PDF_CONTENT_TYPE = "application/pdf"


class PrintBatchError(RuntimeError):
    """A batch could not be built; the message names the posting, key or file to fix."""


# Appends one event to a posting's journal: (posting_number, event, **detail).
JournalWriter = Callable[..., None]


def record_events(journal: JournalWriter | None, numbers: Iterable[str], event: str, **detail) -> None:
    """Journal `event` for each posting. A failed write is logged and skipped, because the
    batch row and the posting rows already carry the state the event describes."""
    if journal is None:
        return
    for number in numbers:
        try:
            journal(number, event, **detail)
        except (StorageError, PynamoDBException) as error:
            logger.warning("journal write failed", extra={"posting_number": number, "event": event,
                                                          "error": str(error)})


@dataclass(frozen=True)
class BatchOptions:
    """Options of batch building: the bucket, the label pages kept and the pick-list font."""

    bucket: str
    # Ozon's label PDF may carry a second page per posting; by default only the first
    # page (the label itself) goes to the printer.
    keep_second_page: bool = False
    font_path: Path | None = None
    # The warehouse's time zone, in which the pick list shows its times.
    zone: tzinfo = timezone.utc


@dataclass
class BatchGroup:
    """Labelled postings of one warehouse and one ship-by time."""

    warehouse_id: int
    ship_by: datetime
    postings: list[Posting] = field(default_factory=list)

    @property
    def day(self) -> str:
        return day_of(self.ship_by)


@dataclass(frozen=True)
class PickLine:
    """One row of the pick list: a SKU, its total quantity and the postings that need it."""

    sku: int
    offer_id: str
    name: str
    quantity: int
    posting_numbers: tuple[str, ...]


def day_of(moment: datetime) -> str:
    """Return the UTC date (YYYY-MM-DD) that labels and batches of `moment` are filed under."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def zone_name(zone: tzinfo) -> str:
    """Return the IANA name of a zoneinfo zone, or the zone's own name (UTC)."""
    return str(getattr(zone, "key", None) or zone.tzname(None))


def batch_key(day: str, batch_id: str) -> str:
    """Return the S3 key of a batch PDF."""
    return f"{BATCH_PREFIX}{day}/{batch_id}.pdf"


def new_batch_id(warehouse_id: int, ship_by: datetime) -> str:
    """Return a readable, unique batch id: `<day>-<warehouse>-<HHMM ship-by UTC>-<random hex>`."""
    ship_by = ship_by.astimezone(timezone.utc)
    return f"{day_of(ship_by)}-{warehouse_id}-{ship_by:%H%M}-{secrets.token_hex(3)}"


def group_postings(postings: Iterable[Posting]) -> list[BatchGroup]:
    """Group postings by (warehouse, ship-by time), earliest ship-by first."""
    groups: dict[tuple[int, datetime], BatchGroup] = {}
    for posting in postings:
        key = (int(posting.warehouse_id), posting.shipment_date)
        groups.setdefault(key, BatchGroup(key[0], key[1])).postings.append(posting)

    ordered = sorted(groups.values(), key=lambda group: (group.ship_by, group.warehouse_id))
    for group in ordered:
        group.postings.sort(key=lambda posting: posting.posting_number)
    return ordered


def pick_lines(postings: Sequence[Posting]) -> list[PickLine]:
    """Sum each SKU's quantity over the postings, ordered by offer id."""
    quantities: dict[int, int] = defaultdict(int)
    numbers: dict[int, list[str]] = defaultdict(list)
    names: dict[int, tuple[str, str]] = {}
    for posting in postings:
        for product in posting.products or []:
            sku = int(product.sku)
            quantities[sku] += int(product.quantity)
            names.setdefault(sku, (product.offer_id, product.name))
            if posting.posting_number not in numbers[sku]:
                numbers[sku].append(posting.posting_number)

    lines = [PickLine(sku, names[sku][0], names[sku][1], quantities[sku], tuple(numbers[sku]))
             for sku in quantities]
    return sorted(lines, key=lambda line: (line.offer_id, line.sku))


def register_font(font_path: Path | None = None) -> str:
    """Register the pick list's TTF font with reportlab once; return its reportlab name."""
    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME

    candidates = [font_path] if font_path else list(DEFAULT_FONT_PATHS)
    for path in candidates:
        if path.is_file():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path)))
            return FONT_NAME
    raise PrintBatchError(
        f"no TTF font with Cyrillic found at {', '.join(str(p) for p in candidates)}; "
        "install the Debian package fonts-dejavu-core or set PRINT_FONT_PATH to a .ttf file")


def render_pick_list(batch_id: str, group: BatchGroup, *, generated_at: datetime,
                     font_path: Path | None = None, zone: tzinfo = timezone.utc) -> bytes:
    """Draw the pick-list cover of a batch (A4, one or more pages), times in `zone`; return the PDF."""
    font = register_font(font_path)
    title = ParagraphStyle("title", fontName=font, fontSize=14, leading=18)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=11)
    lines = pick_lines(group.postings)
    ship_by, created = group.ship_by.astimezone(zone), generated_at.astimezone(zone)
    zone_label = zone_name(zone)

    story = [
        Paragraph(f"Лист подбора: партия {batch_id}", title),
        Paragraph(f"Склад: {group.warehouse_id}. Отгрузить до: {ship_by:%d.%m.%Y %H:%M} ({zone_label}).", body),
        Paragraph(f"Отправлений: {len(group.postings)}. Товаров: {sum(l.quantity for l in lines)}. "
                  f"Создан: {created:%d.%m.%Y %H:%M} ({zone_label}).", body),
        Spacer(1, 4 * mm),
        _pick_table(lines, body, font),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=f"Лист подбора {batch_id}",
                                 leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm)
    document.build(story)
    return buffer.getvalue()


def _pick_table(lines: Sequence[PickLine], style: ParagraphStyle, font: str) -> Table:
    header = ["Артикул", "SKU", "Наименование", "Кол-во", "Отправления"]
    rows = [[Paragraph(_escape(line.offer_id), style), str(line.sku), Paragraph(_escape(line.name), style),
             str(line.quantity), Paragraph(", ".join(line.posting_numbers), style)] for line in lines]
    table = Table([header, *rows], colWidths=[32 * mm, 24 * mm, 64 * mm, 14 * mm, 52 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (3, 1), (3, -1), "RIGHT"),
    ]))
    return table


def _escape(text: str) -> str:
    # Paragraph parses a subset of XML, so product names with & or < must be escaped.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def merge_batch(cover: bytes, labels: Sequence[tuple[str, bytes]], *, keep_second_page: bool) -> tuple[bytes, int]:
    """Merge the cover and each posting's label into one PDF; return it and its page count.

    `labels` pairs a posting number with its label PDF. Without `keep_second_page` only a
    label's first page is kept. Raises PrintBatchError naming a label that is not a PDF.
    """
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(cover)))
    for posting_number, label in labels:
        try:
            reader = PdfReader(io.BytesIO(label))
            pages = list(reader.pages) if keep_second_page else list(reader.pages)[:1]
            if not pages:
                raise ValueError("the PDF has no pages")
            for page in pages:
                writer.add_page(page)
        except (PdfReadError, ValueError) as error:
            raise PrintBatchError(
                f"label of posting {posting_number} is not a readable PDF ({error}); "
                "fetch the label again before building the batch") from error

    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue(), len(writer.pages)


class PrintBatchBuilder:
    """Builds a day's print batches from labelled postings; see the module docstring.

    `s3` is a boto3 S3 client and `now` returns the current UTC time (the service clock).
    `journal`, when given, receives a `batched` event per posting. The FBS models must
    already be bound to their tables.
    """

    def __init__(self, s3, options: BatchOptions, now: Callable[[], datetime],
                 journal: JournalWriter | None = None) -> None:
        self._s3 = s3
        self.options = options
        self._now = now
        self._journal = journal

    def build_day(self, day: str) -> list[PrintBatch]:
        """Batch every labelled posting of `day` (YYYY-MM-DD, UTC) that is in no batch yet.

        Returns the batches created by this call, unfinished ones completed first.
        """
        postings = list(self.labelled_postings(day))
        unbatched = [p for p in postings if not p.batch_id]
        created = self._complete_orphans([p for p in postings if p.batch_id])

        for group in group_postings(unbatched):
            batch_id = new_batch_id(group.warehouse_id, group.ship_by)
            group.postings = self._claim(batch_id, group.postings)
            if group.postings:
                created.append(self._store(batch_id, group))
        logger.info("print batches built", extra={"day": day, "batches": len(created),
                                                  "postings": sum(len(b.posting_numbers) for b in created)})
        return created

    def labelled_postings(self, day: str) -> Iterable[Posting]:
        """Yield the day's postings that have a label and are not cancelled."""
        start = datetime.combine(datetime.strptime(day, "%Y-%m-%d").date(), time.min, timezone.utc)
        condition = Posting.shipment_date.between(start, start + timedelta(days=1) - timedelta(microseconds=1))
        condition &= Posting.label_key.exists()
        try:
            for posting in Posting.scan(condition, consistent_read=True):
                if not posting.cancelled and posting.status != "cancelled":
                    yield posting
        except PynamoDBException as error:
            raise PrintBatchError(f"cannot scan table {Posting.Meta.table_name} for the labels of {day}: "
                                  f"{error}; check the table exists and the role may scan it") from error

    def _complete_orphans(self, batched: Sequence[Posting]) -> list[PrintBatch]:
        # Postings claimed by a build that stopped before saving its batch row.
        by_batch: dict[str, list[Posting]] = defaultdict(list)
        for posting in batched:
            by_batch[posting.batch_id].append(posting)
        if not by_batch:
            return []
        try:
            existing = {batch.batch_id for batch in PrintBatch.batch_get(list(by_batch), consistent_read=True)}
        except PynamoDBException as error:
            raise PrintBatchError(f"cannot read table {PrintBatch.Meta.table_name}: {error}") from error

        completed = []
        for batch_id in sorted(set(by_batch) - existing):
            # One claim run puts one group under a batch id, so its postings share a group.
            group = group_postings(by_batch[batch_id])[0]
            group.postings = sorted(by_batch[batch_id], key=lambda posting: posting.posting_number)
            logger.warning("completing an unfinished print batch", extra={"batch_id": batch_id})
            completed.append(self._store(batch_id, group))
        return completed

    def _claim(self, batch_id: str, postings: Sequence[Posting]) -> list[Posting]:
        claimed = []
        for posting in postings:
            try:
                # Last write wins on the version, so a concurrent status update does not
                # cost the claim; the condition alone keeps a posting in one batch.
                posting.update(actions=[Posting.batch_id.set(batch_id)],
                               condition=Posting.batch_id.does_not_exist(), add_version_condition=False)
            except UpdateError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise PrintBatchError(f"cannot put posting {posting.posting_number} into batch {batch_id}: "
                                          f"{error}") from error
                continue
            claimed.append(posting)
        return claimed

    def _store(self, batch_id: str, group: BatchGroup) -> PrintBatch:
        generated_at = self._now()
        cover = render_pick_list(batch_id, group, generated_at=generated_at, font_path=self.options.font_path,
                                 zone=self.options.zone)
        labels = [(p.posting_number, self._read_label(p)) for p in group.postings]
        pdf, pages = merge_batch(cover, labels, keep_second_page=self.options.keep_second_page)
        checksum = hashlib.sha256(pdf).hexdigest()
        key = batch_key(group.day, batch_id)
        self._put_pdf(key, pdf, checksum, pages)

        batch = PrintBatch(batch_id, warehouse_id=group.warehouse_id, ship_by=group.ship_by, day=group.day,
                           posting_numbers=[p.posting_number for p in group.postings], pdf_key=key,
                           pdf_sha256=checksum, pages=pages, status="ready", expires_at=expiry(generated_at))
        try:
            batch.save(condition=PrintBatch.batch_id.does_not_exist())
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise PrintBatchError(f"cannot save print batch {batch_id}: {error}") from error
            # Another build completed this batch first, so its row is kept.
            return PrintBatch.get(batch_id, consistent_read=True)

        record_events(self._journal, batch.posting_numbers, "batched", batch_id=batch_id, pdf_key=key)
        return batch

    def _read_label(self, posting: Posting) -> bytes:
        try:
            return self._s3.get_object(Bucket=self.options.bucket, Key=posting.label_key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise PrintBatchError(f"cannot read the label of posting {posting.posting_number} from "
                                  f"s3://{self.options.bucket}/{posting.label_key}: {error}") from error

    def _put_pdf(self, key: str, pdf: bytes, checksum: str, pages: int) -> None:
        try:
            self._s3.put_object(Bucket=self.options.bucket, Key=key, Body=pdf, ContentType=PDF_CONTENT_TYPE,
                                Metadata={"sha256": checksum, "pages": str(pages)})
        except (ClientError, BotoCoreError) as error:
            raise PrintBatchError(f"cannot store batch PDF s3://{self.options.bucket}/{key}: {error}") from error


# Status reported by the print agent -> the current statuses it may follow. The operator
# may request printing again from any status but `print_requested`, to reprint lost labels.
AGENT_TRANSITIONS = {
    "printing": ("print_requested",),
    "printed": ("print_requested", "printing"),
    "failed": ("print_requested", "printing"),
}


class BatchNotFoundError(PrintBatchError):
    """No print batch has the requested id."""


class BatchStateError(PrintBatchError):
    """The batch's status does not allow the requested change."""


class PrintQueue:
    """Print requests of batches and the print agent's reports on them.

    `s3` is a boto3 S3 client used only to presign downloads; URLs live `url_seconds`.
    `journal`, when given, receives a `printed` or `print_failed` event per posting.
    """

    def __init__(self, s3, bucket: str, url_seconds: int, now: Callable[[], datetime],
                 journal: JournalWriter | None = None) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.url_seconds = url_seconds
        self._now = now
        self._journal = journal

    def batches(self, day: str) -> list[PrintBatch]:
        """Return the batches of `day`, earliest ship-by first."""
        try:
            rows = list(PrintBatch.scan(PrintBatch.day == day, consistent_read=True))
        except PynamoDBException as error:
            raise PrintBatchError(f"cannot scan table {PrintBatch.Meta.table_name} for {day}: {error}") from error
        return sorted(rows, key=lambda batch: (batch.ship_by, int(batch.warehouse_id), batch.batch_id))

    def get(self, batch_id: str) -> PrintBatch:
        try:
            return PrintBatch.get(batch_id, consistent_read=True)
        except PrintBatch.DoesNotExist as error:
            raise BatchNotFoundError(f"print batch {batch_id!r} not found; reload the batch list") from error
        except PynamoDBException as error:
            raise PrintBatchError(f"cannot read print batch {batch_id!r}: {error}") from error

    def request(self, batch_id: str) -> PrintBatch:
        """Mark a batch for the print agent; a batch already waiting is returned unchanged."""
        batch = self.get(batch_id)
        if batch.status == "print_requested":
            return batch
        try:
            batch.update(actions=[PrintBatch.status.set("print_requested"),
                                  PrintBatch.requested_at.set(self._now()), PrintBatch.error.remove()])
        except PynamoDBException as error:
            raise PrintBatchError(f"cannot request printing of batch {batch_id}: {error}") from error
        logger.info("print requested", extra={"batch_id": batch_id})
        return batch

    def jobs(self) -> list[dict]:
        """Return the batches waiting for the agent, oldest request first, with download URLs."""
        try:
            # NOTE: a scan reads the whole table, which the 90-day TTL keeps to a few thousand rows.
            waiting = list(PrintBatch.scan(PrintBatch.status == "print_requested", consistent_read=True))
        except PynamoDBException as error:
            raise PrintBatchError(f"cannot scan table {PrintBatch.Meta.table_name} for print jobs: {error}") from error
        waiting.sort(key=lambda batch: (batch.requested_at or batch.ship_by, batch.batch_id))
        return [self._job(batch) for batch in waiting]

    def download_url(self, batch: PrintBatch) -> str:
        """Presign a GET of the batch PDF for `url_seconds`."""
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": batch.pdf_key}, ExpiresIn=self.url_seconds)

    def report(self, batch_id: str, status: str, *, printer: str | None = None,
               error: str | None = None) -> PrintBatch:
        """Apply the agent's report; repeating the current status is accepted as a retry.

        Raises BatchStateError when the batch is in a status the report cannot follow.
        """
        if status not in AGENT_TRANSITIONS:
            raise BatchStateError(f"status {status!r} is not one of {', '.join(AGENT_TRANSITIONS)}")
        batch = self.get(batch_id)
        if batch.status == status:
            return batch

        actions = [PrintBatch.status.set(status)]
        if printer:
            actions.append(PrintBatch.printer.set(printer[:200]))
        if status == "printed":
            actions += [PrintBatch.printed_at.set(self._now()), PrintBatch.error.remove()]
        if status == "failed":
            actions.append(PrintBatch.error.set((error or "no error text reported")[:2000]))
        try:
            batch.update(actions=actions, condition=PrintBatch.status.is_in(*AGENT_TRANSITIONS[status]))
        except UpdateError as update_error:
            if update_error.cause_response_code != "ConditionalCheckFailedException":
                raise PrintBatchError(f"cannot update print batch {batch_id}: {update_error}") from update_error
            current = self.get(batch_id).status
            raise BatchStateError(f"print batch {batch_id} is {current}, so it cannot become {status}; "
                                  "ask the operator to request printing again") from update_error

        logger.info("print job reported", extra={"batch_id": batch_id, "status": status, "printer": printer})
        if status == "printed":
            self._mark_printed(batch)
            record_events(self._journal, batch.posting_numbers, "printed", batch_id=batch_id, printer=printer)
        if status == "failed":
            record_events(self._journal, batch.posting_numbers, "print_failed", batch_id=batch_id,
                          printer=printer, error=batch.error)
        return batch

    def _job(self, batch: PrintBatch) -> dict:
        return {"batch_id": batch.batch_id, "url": self.download_url(batch), "sha256": batch.pdf_sha256,
                "pages": int(batch.pages or 0), "warehouse_id": int(batch.warehouse_id),
                "ship_by": batch.ship_by.isoformat(), "day": batch.day, "expires_in": self.url_seconds}

    def _mark_printed(self, batch: PrintBatch) -> None:
        # The batch status is the record of printing; the postings' printed_at follows it
        # and is set only once, so a reprint keeps the first time.
        for number in batch.posting_numbers:
            try:
                posting = Posting.get(number, consistent_read=True)
                if posting.printed_at is None:
                    posting.update(actions=[Posting.printed_at.set(batch.printed_at)],
                                   condition=Posting.printed_at.does_not_exist(), add_version_condition=False)
            except (Posting.DoesNotExist, UpdateError) as error:
                logger.warning("posting not marked printed", extra={"posting_number": number,
                                                                     "batch_id": batch.batch_id, "error": str(error)})
