"""Price runs and price events in the journal table (the stock flow's table, 90-day TTL).

    pk = price-run#<run_id>  sk = summary              counters of one run (PriceRun)
    pk = price-run#<run_id>  sk = <kind>#<offer_id>    a block, rollback, failure or input
                                                       problem of that run (PriceEvent)
    pk = price#control       sk = seq                  the newest run's number

A block event holds the cost, the computed levels and the rule version, so the
journal alone shows why a SKU kept its old prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PynamoDBException

from chalicelib.storage.errors import StorageError
from chalicelib.storage.journal import JournalModel

CONTROL_PK = "price#control"
RUN_COUNTERS = ("skus_total", "skus_changed", "requests_planned", "input_errors", "blocked", "deferred",
                "requests_sent", "items_sent", "items_applied", "items_failed", "items_superseded",
                "rolled_back", "retries", "skus_read_back")


class PriceRun(JournalModel):
    run_id = UnicodeAttribute()
    seq = NumberAttribute()
    started_at = UTCDateTimeAttribute()
    skus_total = NumberAttribute(default=0)
    skus_changed = NumberAttribute(default=0)
    requests_planned = NumberAttribute(default=0)
    input_errors = NumberAttribute(default=0)
    blocked = NumberAttribute(default=0)
    deferred = NumberAttribute(default=0)
    requests_sent = NumberAttribute(default=0)
    items_sent = NumberAttribute(default=0)
    items_applied = NumberAttribute(default=0)
    items_failed = NumberAttribute(default=0)
    items_superseded = NumberAttribute(default=0)
    rolled_back = NumberAttribute(default=0)
    retries = NumberAttribute(default=0)
    skus_read_back = NumberAttribute(default=0)
    failed_by_code = MapAttribute(default=dict)


class PriceEvent(JournalModel):
    """A block, rollback, failed item or rejected input of one run; amounts as strings."""

    kind = UnicodeAttribute()
    run_id = UnicodeAttribute()
    offer_id = UnicodeAttribute()
    message = UnicodeAttribute()
    detail = MapAttribute(default=dict)
    at = UTCDateTimeAttribute()


class PriceControl(JournalModel):
    last_seq = NumberAttribute(default=0)


@dataclass
class Event:
    """A price event before it becomes a row; `detail` contains strings only."""

    kind: str
    offer_id: str
    message: str
    detail: dict[str, str] = field(default_factory=dict)


def bind_price_journal(table: str, region: str, host: str | None) -> None:
    for model in (PriceRun, PriceEvent, PriceControl):
        model.Meta.table_name = table
        model.Meta.region = region
        model.Meta.host = host
        model._connection = None


class PriceJournal:
    """Writes and reads price runs and events; rows expire after `ttl`."""

    def __init__(self, table: str, ttl: timedelta = timedelta(days=90)) -> None:
        self.table = table
        self.ttl = ttl

    def next_seq(self) -> int:
        control = PriceControl(CONTROL_PK, "seq")
        try:
            control.update(actions=[PriceControl.last_seq.add(1)])
        except PynamoDBException as error:
            raise self._error("UpdateItem", error) from error
        return int(control.last_seq)

    def latest_seq(self) -> int:
        try:
            return int(PriceControl.get(CONTROL_PK, "seq", consistent_read=True).last_seq)
        except PriceControl.DoesNotExist:
            return 0
        except PynamoDBException as error:
            raise self._error("GetItem", error) from error

    def start_run(self, run_id: str, seq: int, started_at: datetime) -> None:
        row = PriceRun(f"price-run#{run_id}", "summary", run_id=run_id, seq=seq, started_at=started_at)
        row.expires_at = self._expiry()
        try:
            row.save()
        except PynamoDBException as error:
            raise self._error("PutItem", error) from error

    def count(self, run_id: str, *, failed_by_code: dict[str, int] | None = None, **counters: int) -> None:
        actions = [getattr(PriceRun, name).add(value) for name, value in counters.items() if value]
        for code, value in (failed_by_code or {}).items():
            actions.append(PriceRun.failed_by_code[code].set((PriceRun.failed_by_code[code] | 0) + value))
        if not actions:
            return
        try:
            PriceRun(f"price-run#{run_id}", "summary").update(actions=actions)
        except PynamoDBException as error:
            raise self._error("UpdateItem", error) from error

    def record(self, run_id: str, events: list[Event]) -> None:
        now = datetime.now(timezone.utc)
        try:
            with PriceEvent.batch_write() as batch:
                for event in events:
                    row = PriceEvent(f"price-run#{run_id}", f"{event.kind}#{event.offer_id}", kind=event.kind,
                                     run_id=run_id, offer_id=event.offer_id, message=event.message[:500],
                                     detail=event.detail, at=now)
                    row.expires_at = self._expiry()
                    batch.save(row)
        except PynamoDBException as error:
            raise self._error("BatchWriteItem", error) from error

    def counters(self, run_id: str) -> dict[str, int] | None:
        try:
            row = PriceRun.get(f"price-run#{run_id}", "summary", consistent_read=True)
        except PriceRun.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise self._error("GetItem", error) from error
        totals = {name: int(getattr(row, name)) for name in RUN_COUNTERS}
        totals.update({f"failed:{code}": int(value) for code, value in row.failed_by_code.as_dict().items()})
        return totals

    def events(self, run_id: str, kind: str | None = None) -> list[Event]:
        try:
            # Event kinds (block, fail, input, rollback) sort before the run's "summary" row.
            condition = PriceEvent.sk.startswith(f"{kind}#") if kind else PriceEvent.sk < "summary"
            rows = PriceEvent.query(f"price-run#{run_id}", condition)
            return [Event(r.kind, r.offer_id, r.message, r.detail.as_dict()) for r in rows]
        except PynamoDBException as error:
            raise self._error("Query", error) from error

    def _expiry(self) -> datetime:
        return datetime.now(timezone.utc) + self.ttl

    def _error(self, operation: str, error: PynamoDBException) -> StorageError:
        detail = f"{error.cause_response_code or type(error).__name__}: {error.cause_response_message or error}"
        return StorageError(self.table, operation, detail, "Check the journal table exists and the role may use it.")


class InMemoryPriceJournal:
    """The price journal's twin for unit tests: same methods, rows in dicts."""

    def __init__(self) -> None:
        self.seq = 0
        self.runs: dict[str, dict[str, int]] = {}
        self.recorded: dict[str, list[Event]] = {}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def latest_seq(self) -> int:
        return self.seq

    def start_run(self, run_id: str, seq: int, started_at: datetime) -> None:
        self.runs[run_id] = {name: 0 for name in RUN_COUNTERS}

    def count(self, run_id: str, *, failed_by_code: dict[str, int] | None = None, **counters: int) -> None:
        totals = self.runs.setdefault(run_id, {name: 0 for name in RUN_COUNTERS})
        for name, value in counters.items():
            totals[name] = totals.get(name, 0) + value
        for code, value in (failed_by_code or {}).items():
            totals[f"failed:{code}"] = totals.get(f"failed:{code}", 0) + value

    def record(self, run_id: str, events: list[Event]) -> None:
        self.recorded.setdefault(run_id, []).extend(events)

    def counters(self, run_id: str) -> dict[str, int] | None:
        return self.runs.get(run_id)

    def events(self, run_id: str, kind: str | None = None) -> list[Event]:
        return [e for e in self.recorded.get(run_id, []) if kind is None or e.kind == kind]
