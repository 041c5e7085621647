"""The stock ledger: what Ozon last accepted for each (Ozon warehouse, offer) pair.

Items live in DynamoDB as `{pk: "<warehouse_id>#<offer_id>", q, seq, at}`, where `q`
is the accepted quantity, `seq` the planning run that sent it and `at` the acceptance
time (epoch seconds). The planner reads the whole ledger once per run and workers write
the pairs Ozon applied.

This adapter talks to DynamoDB through the low-level boto3 client instead of a PynamoDB
model: a 100,000-pair ledger is read and written in bulk, and the plain client costs
about half the CPU per item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.storage.errors import StorageError

PairKey = tuple[int, str]  # (Ozon warehouse_id, offer_id)

_BATCH_WRITE_MAX = 25


@dataclass(frozen=True, slots=True)
class AcceptedStock:
    quantity: int
    seq: int
    at: float


class StockLedger(Protocol):
    def load(self) -> dict[PairKey, AcceptedStock]: ...

    def record(self, accepted: Iterable[tuple[PairKey, AcceptedStock]]) -> None: ...


def pair_pk(key: PairKey) -> str:
    return f"{key[0]}#{key[1]}"


def parse_pk(pk: str) -> PairKey:
    warehouse, _, offer_id = pk.partition("#")
    return int(warehouse), offer_id


class DynamoStockLedger:
    """The ledger on a DynamoDB table with a string partition key `pk`."""

    def __init__(self, client, table: str) -> None:
        self._client = client
        self._table = table

    def load(self) -> dict[PairKey, AcceptedStock]:
        ledger: dict[PairKey, AcceptedStock] = {}
        paginator = self._client.get_paginator("scan")
        try:
            for page in paginator.paginate(TableName=self._table, ProjectionExpression="pk, q, seq, #at",
                                           ExpressionAttributeNames={"#at": "at"}):
                for item in page["Items"]:
                    ledger[parse_pk(item["pk"]["S"])] = AcceptedStock(
                        int(item["q"]["N"]), int(item["seq"]["N"]), float(item["at"]["N"])
                    )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(self._table, "Scan", str(error), "Check the table exists and the role may read it.") from error
        return ledger

    def record(self, accepted: Iterable[tuple[PairKey, AcceptedStock]]) -> None:
        requests = [
            {"PutRequest": {"Item": {
                "pk": {"S": pair_pk(key)},
                "q": {"N": str(value.quantity)},
                "seq": {"N": str(value.seq)},
                "at": {"N": f"{value.at:.3f}"},
            }}}
            for key, value in accepted
        ]
        for start in range(0, len(requests), _BATCH_WRITE_MAX):
            self._write_batch(requests[start:start + _BATCH_WRITE_MAX])

    def _write_batch(self, requests: list[dict]) -> None:
        # BatchWriteItem may leave items unprocessed under throttling; resend those.
        pending = {self._table: requests}
        for _ in range(8):
            try:
                response = self._client.batch_write_item(RequestItems=pending)
            except (ClientError, BotoCoreError) as error:
                raise StorageError(self._table, "BatchWriteItem", str(error),
                                   "Check the table exists and the role may write it.") from error
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return
        raise StorageError(self._table, "BatchWriteItem", "items stayed unprocessed after 8 tries",
                           "The table is throttled; raise its capacity or retry later.")


class InMemoryStockLedger:
    """The ledger in a dict, for unit tests."""

    def __init__(self) -> None:
        self.items: dict[PairKey, AcceptedStock] = {}

    def load(self) -> dict[PairKey, AcceptedStock]:
        return dict(self.items)

    def record(self, accepted: Iterable[tuple[PairKey, AcceptedStock]]) -> None:
        for key, value in accepted:
            self.items[key] = value
