"""The journal: planning runs, their counters and the pairs Ozon refused for good.

One DynamoDB table with a `pk`/`sk` key and a TTL attribute `expires_at` (90 days by
default), modelled with PynamoDB. Rows hold ids, quantities and Ozon's error codes;
credentials never reach them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

from chalicelib.storage.errors import StorageError

CONTROL_PK = "stock#control"


class JournalModel(Model):
    """Base of every journal row; `bind_journal` points it at a table."""

    class Meta:
        table_name = "journal"
        region = "eu-central-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute(null=True)


class StockRun(JournalModel):
    """One stock planning run and what became of it (`pk = run#<run_id>`, `sk = summary`)."""

    run_id = UnicodeAttribute()
    seq = NumberAttribute()
    source = UnicodeAttribute()
    started_at = UTCDateTimeAttribute()
    offers_read = NumberAttribute(default=0)
    pairs_total = NumberAttribute(default=0)
    pairs_changed = NumberAttribute(default=0)
    requests_planned = NumberAttribute(default=0)
    input_errors = NumberAttribute(default=0)
    requests_sent = NumberAttribute(default=0)
    items_applied = NumberAttribute(default=0)
    items_failed = NumberAttribute(default=0)
    items_superseded = NumberAttribute(default=0)
    retries = NumberAttribute(default=0)
    failed_by_code = MapAttribute(default=dict)


class StockFailure(JournalModel):
    """A pair Ozon refused for good (`pk = run#<run_id>`, `sk = fail#<warehouse>#<offer>`)."""

    run_id = UnicodeAttribute()
    offer_id = UnicodeAttribute()
    warehouse_id = NumberAttribute()
    stock = NumberAttribute()
    code = UnicodeAttribute()
    message = UnicodeAttribute()
    failed_at = UTCDateTimeAttribute()


class InputProblem(JournalModel):
    """An input issue of a run (`pk = run#<run_id>`, `sk = input#<n>`), for operators."""

    source = UnicodeAttribute()
    offer = UnicodeAttribute(null=True)
    value = UnicodeAttribute(null=True)
    message = UnicodeAttribute()
    severity = UnicodeAttribute()


class StockControl(JournalModel):
    """The run sequence: `last_seq` is the newest planning run (`pk = stock#control`)."""

    last_seq = NumberAttribute(default=0)


def bind_journal(table: str, region: str, host: str | None) -> None:
    """Point every journal model at `table` (and a local endpoint when `host` is set)."""
    for model in (JournalModel, StockRun, StockFailure, InputProblem, StockControl):
        model.Meta.table_name = table
        model.Meta.region = region
        model.Meta.host = host
        model._connection = None


class Journal:
    """Reads and writes journal rows; `ttl` is how long a row is kept."""

    def __init__(self, table: str, ttl: timedelta = timedelta(days=90)) -> None:
        self.table = table
        self.ttl = ttl

    def next_seq(self) -> int:
        """Take the next planning-run number, atomically."""
        control = StockControl(CONTROL_PK, "seq")
        try:
            control.update(actions=[StockControl.last_seq.add(1)])
        except PynamoDBException as error:
            raise self._error("UpdateItem", error) from error
        return int(control.last_seq)

    def latest_seq(self) -> int:
        try:
            return int(StockControl.get(CONTROL_PK, "seq", consistent_read=True).last_seq)
        except StockControl.DoesNotExist:
            return 0
        except PynamoDBException as error:
            raise self._error("GetItem", error) from error

    def start_run(self, run: StockRun) -> None:
        run.expires_at = self._expiry()
        self._save(run)

    def get_run(self, run_id: str) -> StockRun | None:
        try:
            return StockRun.get(f"run#{run_id}", "summary", consistent_read=True)
        except StockRun.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise self._error("GetItem", error) from error

    def count(self, run_id: str, *, failed_by_code: dict[str, int] | None = None, **counters: int) -> None:
        """Add to a run's counters in one atomic update."""
        actions = [getattr(StockRun, name).add(value) for name, value in counters.items() if value]
        for code, value in (failed_by_code or {}).items():
            actions.append(StockRun.failed_by_code[code].set(
                (StockRun.failed_by_code[code] | 0) + value))
        if not actions:
            return
        try:
            StockRun(f"run#{run_id}", "summary").update(actions=actions)
        except PynamoDBException as error:
            raise self._error("UpdateItem", error) from error

    def record_failure(self, failure: StockFailure) -> None:
        failure.expires_at = self._expiry()
        self._save(failure)

    def record_input_problems(self, run_id: str, problems: list[InputProblem]) -> None:
        try:
            with InputProblem.batch_write() as batch:
                for number, problem in enumerate(problems):
                    problem.pk, problem.sk = f"run#{run_id}", f"input#{number:06d}"
                    problem.expires_at = self._expiry()
                    batch.save(problem)
        except PynamoDBException as error:
            raise self._error("BatchWriteItem", error) from error

    def input_problems(self, run_id: str) -> list[InputProblem]:
        try:
            return list(InputProblem.query(f"run#{run_id}", InputProblem.sk.startswith("input#")))
        except PynamoDBException as error:
            raise self._error("Query", error) from error

    def failures(self, run_id: str) -> list[StockFailure]:
        try:
            return list(StockFailure.query(f"run#{run_id}", StockFailure.sk.startswith("fail#")))
        except PynamoDBException as error:
            raise self._error("Query", error) from error

    def _save(self, row: JournalModel) -> None:
        try:
            row.save()
        except PynamoDBException as error:
            raise self._error("PutItem", error) from error

    def _expiry(self) -> datetime:
        return datetime.now(timezone.utc) + self.ttl

    def _error(self, operation: str, error: PynamoDBException) -> StorageError:
        detail = f"{error.cause_response_code or type(error).__name__}: {error.cause_response_message or error}"
        return StorageError(self.table, operation, detail, "Check the journal table exists and the role may use it.")


class InMemoryJournal:
    """The journal's twin for unit tests: same methods, rows kept in dicts."""

    def __init__(self) -> None:
        self.seq = 0
        self.runs: dict[str, StockRun] = {}
        self.failures_by_run: dict[str, dict[str, StockFailure]] = {}
        self.problems: dict[str, list[InputProblem]] = {}
        self.counters: dict[str, dict[str, int]] = {}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def latest_seq(self) -> int:
        return self.seq

    def start_run(self, run: StockRun) -> None:
        self.runs[run.run_id] = run

    def get_run(self, run_id: str) -> StockRun | None:
        return self.runs.get(run_id)

    def count(self, run_id: str, *, failed_by_code: dict[str, int] | None = None, **counters: int) -> None:
        totals = self.counters.setdefault(run_id, {})
        for name, value in counters.items():
            totals[name] = totals.get(name, 0) + value
        for code, value in (failed_by_code or {}).items():
            totals[f"failed:{code}"] = totals.get(f"failed:{code}", 0) + value

    def record_failure(self, failure: StockFailure) -> None:
        self.failures_by_run.setdefault(failure.run_id, {})[failure.sk] = failure

    def record_input_problems(self, run_id: str, problems: list[InputProblem]) -> None:
        self.problems.setdefault(run_id, []).extend(problems)

    def failures(self, run_id: str) -> list[StockFailure]:
        return list(self.failures_by_run.get(run_id, {}).values())

    def input_problems(self, run_id: str) -> list[InputProblem]:
        return list(self.problems.get(run_id, []))
