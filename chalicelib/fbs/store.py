"""Reads and writes of the FBS tables: posting rows, the per-posting journal and claims.

Claims are rows of the `fbs-journal` table written with a conditional put, so that one
caller wins: the dedupe of push notices (`pk = dedupe#<key>`) and the once-only actions
on a posting (`pk = action#<posting_number>`, `sk = <action>`). They expire with the
journal's TTL (90 days by default).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, UpdateError

from chalicelib.clock import Clock
from chalicelib.fbs.models import ROW_TTL, Posting, PostingEvent
from chalicelib.storage.errors import StorageError

# Optimistic-lock conflicts retried before a save gives up; each retry re-reads the row.
MAX_SAVE_ATTEMPTS = 5


class ClaimTaken(Exception):
    """Another caller has taken the claim; `detail` is what it recorded."""

    def __init__(self, key: str, detail: dict[str, Any]) -> None:
        super().__init__(key)
        self.key = key
        self.detail = detail


class FbsStore:
    """The FBS tables bound by `bind_fbs`, with times taken from `clock` (epoch seconds)."""

    def __init__(self, clock: Clock, ttl: timedelta = ROW_TTL) -> None:
        self.clock = clock
        self.ttl = ttl

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), timezone.utc)

    # --- journal ------------------------------------------------------------------

    def record(self, posting_number: str, event: str, **detail: Any) -> None:
        """Append one event of a posting to its journal."""
        now = self.now()
        row = PostingEvent(f"posting#{posting_number}", f"{now.isoformat()}#{event}", event=event,
                           detail=json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True),
                           expires_at=now + self.ttl)
        self._write("PutItem", PostingEvent.Meta.table_name, row.save)

    def record_many(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Append (posting number, event, detail) rows in BatchWriteItem calls of 25."""
        now = self.now()
        try:
            with PostingEvent.batch_write() as batch:
                for posting_number, event, detail in events:
                    batch.save(PostingEvent(f"posting#{posting_number}", f"{now.isoformat()}#{event}", event=event,
                                            detail=json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True),
                                            expires_at=now + self.ttl))
        except PynamoDBException as error:
            raise _error(PostingEvent.Meta.table_name, "BatchWriteItem", error) from error

    def close(self, row: Posting, carriage_id: int) -> bool:
        """Set `closed_at` and `carriage_id` on an open row in one conditional update.

        Returns False when the row was closed or changed since it was read.
        """
        try:
            row.update(actions=[Posting.closed_at.set(self.now()), Posting.carriage_id.set(carriage_id)],
                       condition=Posting.closed_at.does_not_exist())
        except UpdateError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise _error(Posting.Meta.table_name, "UpdateItem", error) from error
        return True

    def events(self, posting_number: str) -> list[PostingEvent]:
        """Return the journal of a posting, oldest first."""
        try:
            return list(PostingEvent.query(f"posting#{posting_number}", consistent_read=True))
        except PynamoDBException as error:
            raise _error(PostingEvent.Meta.table_name, "Query", error) from error

    # --- claims -------------------------------------------------------------------

    def claim(self, pk: str, sk: str, **detail: Any) -> None:
        """Write the claim row (`pk`, `sk`) unless it exists; raises ClaimTaken if it does."""
        now = self.now()
        row = PostingEvent(pk, sk, event="claim", detail=json.dumps(detail, default=str, sort_keys=True),
                           expires_at=now + self.ttl)
        try:
            row.save(condition=PostingEvent.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise ClaimTaken(f"{pk}/{sk}", self.claim_detail(pk, sk) or {}) from error
            raise _error(PostingEvent.Meta.table_name, "PutItem", error) from error

    def claim_detail(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            return json.loads(PostingEvent.get(pk, sk, consistent_read=True).detail)
        except PostingEvent.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _error(PostingEvent.Meta.table_name, "GetItem", error) from error

    def update_claim(self, pk: str, sk: str, **detail: Any) -> None:
        row = PostingEvent(pk, sk)
        action = PostingEvent.detail.set(json.dumps(detail, default=str, sort_keys=True))
        self._write("UpdateItem", PostingEvent.Meta.table_name, lambda: row.update(actions=[action]))

    def release(self, pk: str, sk: str) -> None:
        """Delete a claim, so that the next caller may take it."""
        self._write("DeleteItem", PostingEvent.Meta.table_name, PostingEvent(pk, sk).delete)

    # --- postings -----------------------------------------------------------------

    def get(self, posting_number: str) -> Posting | None:
        try:
            return Posting.get(posting_number, consistent_read=True)
        except Posting.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise _error(Posting.Meta.table_name, "GetItem", error) from error

    def get_many(self, posting_numbers: list[str]) -> dict[str, Posting]:
        """Read up to 100 posting rows in one BatchGetItem; missing ones are left out."""
        try:
            return {row.posting_number: row for row in Posting.batch_get(posting_numbers, consistent_read=True)}
        except PynamoDBException as error:
            raise _error(Posting.Meta.table_name, "BatchGetItem", error) from error

    def claims_present(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Return which of the claim rows (`pk`, `sk`) exist."""
        if not keys:
            return set()
        try:
            return {(row.pk, row.sk) for row in PostingEvent.batch_get(keys, consistent_read=True)}
        except PynamoDBException as error:
            raise _error(PostingEvent.Meta.table_name, "BatchGetItem", error) from error

    def change(self, posting_number: str, change: Callable[[Posting | None], Posting | None]) -> Posting | None:
        """Apply `change` to the current row and save it, re-reading on a version conflict.

        `change` gets the row (None when new) and returns the row to save, or None to
        leave it as it is. It may run more than once, so it must not have side effects.
        """
        for _ in range(MAX_SAVE_ATTEMPTS):
            current = self.get(posting_number)
            updated = change(current)
            if updated is None:
                return current
            updated.expires_at = self.now() + self.ttl
            try:
                updated.save()
                return updated
            except PutError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise _error(Posting.Meta.table_name, "PutItem", error) from error
        raise StorageError(Posting.Meta.table_name, "PutItem",
                           f"posting {posting_number} changed {MAX_SAVE_ATTEMPTS} times while being saved",
                           "The message is retried; a persistent conflict means a worker loops on this posting.")

    def scan(self, condition=None) -> Iterator[Posting]:
        # NOTE: a scan reads the whole table; fine for a seller's postings of 90 days.
        try:
            yield from Posting.scan(condition, consistent_read=True)
        except PynamoDBException as error:
            raise _error(Posting.Meta.table_name, "Scan", error) from error

    def _write(self, operation: str, table: str, call: Callable[[], Any]) -> None:
        try:
            call()
        except (PutError, UpdateError, DeleteError, PynamoDBException) as error:
            raise _error(table, operation, error) from error


def _error(table: str, operation: str, error: PynamoDBException) -> StorageError:
    detail = f"{error.cause_response_code or type(error).__name__}: {error.cause_response_message or error}"
    return StorageError(table, operation, detail, "Check the FBS tables exist and the role may use them.")
