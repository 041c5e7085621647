"""A change of costs or fees starts a price run: the `ozon-price-plan` queue's messages.

The queue receives two kinds of message:

    S3 event notification   an upload under inbox/prices/ in the app bucket:
                              costs*.csv     offer_id;cost            -> apply_costs
                              operator*.csv  the operator's CSV       -> apply_operator_rows
    price.costs.onec        the stock planner planned a 1C exchange; its offers files
                            carry costs of the price type ONEC_PRICE_TYPE_ID -> apply_costs

Each message is one load. Its per-SKU problems are journaled under the load id (derived
from the S3 object version or the exchange prefix, so a duplicate delivery rewrites the
same journal rows) and logged. When the load changed at least one matrix row, one price
run is planned. A duplicate delivery changes no row and plans nothing, because the matrix
already contains its values.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import unquote_plus

from chalicelib.names import PRICE_INBOX_PREFIX
from chalicelib.observability import logger
from chalicelib.onec.errors import RejectedFileError
from chalicelib.onec.models import InputIssue
from chalicelib.prices.inputs import read_costs_csv, read_operator_csv
from chalicelib.prices.journal import Event
from chalicelib.prices.messages import OnecCostsRequest
from chalicelib.prices.onec_prices import OneCCosts, read_onec_costs
from chalicelib.prices.planner import PricePlan
from chalicelib.prices.store import PriceStore
from chalicelib.prices.updates import MatrixUpdate, apply_costs, apply_operator_rows
from chalicelib.settings import Settings
from chalicelib.storage.blobs import BlobStore
from chalicelib.storage.queues import MessageQueue, OutgoingMessage

# Per-SKU problems logged one by one per load. The rest are counted, and all are journaled.
MAX_LOGGED_ISSUES = 20
# 1C names its offers and prices packages offers*.xml and prices*.xml, also offers___<guid>.xml
# and prices___<guid>.xml in split exchanges. Only these packages carry prices.
ONEC_PRICE_FILE_PREFIXES = ("offers", "prices")
# OFFER_ID_SOURCE -> how read_onec_costs names offers. 1C prices are not read by `Код`.
ONEC_COST_KEYS = {"article": "article", "id": "id"}


@dataclass
class InboxDeps:
    settings: Settings
    store: PriceStore
    journal: object  # PriceJournal or its in-memory twin
    blobs: BlobStore
    plan: Callable[[], PricePlan]


@dataclass
class LoadSummary:
    """The outcome of one message: rows changed and unchanged, SKUs skipped, the price run started."""

    load_id: str
    updates: list[MatrixUpdate] = field(default_factory=list)
    run_id: str | None = None

    @property
    def rows_changed(self) -> int:
        return sum(update.rows_changed for update in self.updates)

    @property
    def rows_unchanged(self) -> int:
        return sum(update.rows_unchanged for update in self.updates)

    @property
    def issues(self) -> list[InputIssue]:
        return [issue for update in self.updates for issue in update.issues]

    def as_dict(self) -> dict:
        return {"load_id": self.load_id, "sources": [update.source for update in self.updates],
                "rows_changed": self.rows_changed, "rows_unchanged": self.rows_unchanged,
                "problems": len(self.issues), "run_id": self.run_id}


def handle_message(body: dict, deps: InboxDeps, *, redelivered: bool = False) -> LoadSummary | None:
    """Load the inputs a message names and plan a price run when a matrix row changed.

    `redelivered` (SQS receive count above 1) plans even when nothing changed: the first
    attempt may have written the rows and failed before it planned. Returns None for
    S3's test event. Raises ValueError for a message of unknown kind.
    """
    if body.get("Event") == "s3:TestEvent":
        return None
    if "Records" in body:
        records = body["Records"]
        summary = LoadSummary(_load_id([_object_identity(record) for record in records]))
        summary.updates = [load_upload(record, deps) for record in records]
    elif body.get("kind") == "price.costs.onec":
        request = OnecCostsRequest.model_validate(body)
        summary = LoadSummary(_load_id([request.exchange_prefix, *request.files]))
        summary.updates = [load_onec_costs(request, deps)]
    else:
        raise ValueError(f"unknown price plan message kind {body.get('kind')!r}: "
                         "expected an S3 notification or price.costs.onec")

    _report(summary, deps)
    if summary.rows_changed or redelivered:
        summary.run_id = deps.plan().run_id
    logger.info("price inputs loaded", extra=summary.as_dict())
    return summary


def load_upload(record: dict, deps: InboxDeps) -> MatrixUpdate:
    """Download one uploaded CSV and apply it. An unknown name or an unreadable file becomes an issue."""
    key = unquote_plus(record["s3"]["object"]["key"])
    name = PurePosixPath(key).name
    kind = input_kind(key)
    if kind is None:
        return MatrixUpdate(key, issues=[InputIssue(
            key, None, name, f"unknown price input {name!r}; name it costs*.csv (offer_id;cost) or "
                             f"operator*.csv (the operator CSV) and upload it under {PRICE_INBOX_PREFIX}")])

    with tempfile.TemporaryDirectory(prefix="price-input-") as folder:
        path = Path(folder, name)
        deps.blobs.download(key, path)
        try:
            if kind == "costs":
                costs, issues = read_costs_csv(path)
                return apply_costs(deps.store, costs, source=key, issues=issues)
            rows, issues = read_operator_csv(path)
            return apply_operator_rows(deps.store, rows, source=key, issues=issues)
        except (ValueError, csv.Error) as error:
            # Missing columns, a file that is not UTF-8, or a broken CSV: nothing of it is used.
            return MatrixUpdate(key, issues=[InputIssue(key, None, None, f"{error}; fix the file and upload it again")])


def input_kind(key: str) -> str | None:
    """Return "costs" or "operator" for a price input key under the inbox, else None."""
    name = PurePosixPath(key).name.lower()
    if not key.startswith(PRICE_INBOX_PREFIX) or not name.endswith(".csv"):
        return None
    for kind in ("costs", "operator"):
        if name.startswith(kind):
            return kind
    return None


def load_onec_costs(request: OnecCostsRequest, deps: InboxDeps) -> MatrixUpdate:
    """Read the configured price type from the exchange's offers files and apply the costs."""
    source = request.exchange_prefix
    settings = deps.settings
    problem = _onec_settings_problem(settings)
    if problem is not None:
        return MatrixUpdate(source, issues=[InputIssue(source, None, None, problem)])

    found = OneCCosts()
    with tempfile.TemporaryDirectory(prefix="exchange-prices-") as folder:
        for name in request.files:
            path = Path(folder, name)
            if not path.resolve().is_relative_to(Path(folder).resolve()):
                found.issues.append(InputIssue(source, None, name, f"file {name!r} is outside the exchange; skipped"))
                continue
            deps.blobs.download(source + name, path)
            _read_onec_file(path, name, settings, found)
    return apply_costs(deps.store, found.costs, source=source, currencies=found.currencies, issues=found.issues)


def _read_onec_file(path: Path, name: str, settings: Settings, found: OneCCosts) -> None:
    try:
        costs = read_onec_costs(path, settings.onec_price_type_id, key=ONEC_COST_KEYS[settings.offer_id_source],
                                source=name)
    except RejectedFileError as error:
        found.issues.append(InputIssue(name, None, None, str(error)))
        return
    # In a split exchange an offer's price comes from one file. If two files price it, the later wins.
    found.costs.update(costs.costs)
    found.currencies.update(costs.currencies)
    found.issues.extend(costs.issues)


def _onec_settings_problem(settings: Settings) -> str | None:
    if not settings.onec_price_type_id:
        return "ONEC_PRICE_TYPE_ID is not set, so no 1C price type is read as the cost; set it or upload a costs CSV"
    if settings.offer_id_source not in ONEC_COST_KEYS:
        return (f"OFFER_ID_SOURCE={settings.offer_id_source} cannot name 1C prices; costs are read by "
                f"{' or '.join(ONEC_COST_KEYS)}, so upload a costs CSV instead")
    return None


def onec_price_files(files: list[str]) -> list[str]:
    """Return the files of a 1C exchange manifest that are offers or prices packages."""
    return [name for name in files
            if PurePosixPath(name).suffix.lower() == ".xml"
            and PurePosixPath(name).name.lower().startswith(ONEC_PRICE_FILE_PREFIXES)]


def send_onec_costs_request(prefix: str, manifest_files: list[str], queue: MessageQueue) -> bool:
    """Queue a `price.costs.onec` request for the exchange. Returns False when it has no offers file."""
    files = onec_price_files(manifest_files)
    if not files:
        logger.info("the 1C exchange has no offers or prices file; no costs to read", extra={"exchange": prefix})
        return False
    request = OnecCostsRequest(exchange_prefix=prefix, files=files)
    queue.send([OutgoingMessage(request.model_dump())])
    logger.info("1C costs requested", extra={"exchange": prefix, "files": files})
    return True


def _report(summary: LoadSummary, deps: InboxDeps) -> None:
    issues = summary.issues
    if not issues:
        return
    deps.journal.record(summary.load_id, [_issue_event(issue) for issue in issues])
    for issue in issues[:MAX_LOGGED_ISSUES]:
        logger.warning("price input skipped", extra={"load_id": summary.load_id, "source": issue.source,
                                                     "offer_id": issue.offer, "value": issue.value,
                                                     "problem": issue.message})
    if len(issues) > MAX_LOGGED_ISSUES:
        logger.warning("more price inputs skipped; the journal lists them all",
                       extra={"load_id": summary.load_id, "not_logged": len(issues) - MAX_LOGGED_ISSUES})


def _issue_event(issue: InputIssue) -> Event:
    detail = {"source": issue.source, "value": "" if issue.value is None else str(issue.value)}
    return Event("input", issue.offer or issue.source, issue.message, detail)


def _object_identity(record: dict) -> str:
    # The version id (the bucket is versioned) or the ETag distinguishes two uploads of one key.
    s3_object = record["s3"]["object"]
    version = s3_object.get("versionId") or s3_object.get("eTag") or s3_object.get("sequencer") or ""
    return f"{unquote_plus(s3_object['key'])}@{version}"


def _load_id(parts: list[str]) -> str:
    return "load-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
