"""The price matrix, the pricing rules and each SKU's price state, in one DynamoDB table.

The `prices` table has a string `pk`/`sk` key and contains three kinds of rows:

    pk = sku#<offer_id>   sk = matrix      cost inputs of the SKU (CostInputs)
    pk = sku#<offer_id>   sk = state       levels Ozon last accepted, last good levels,
                                           times of recent changes, last rollback key
    pk = rule#<category>  sk = v#<000001>  one version of a category's pricing rule

Rules are never overwritten: a change of rule is a new version row, so the history
stays auditable. Money is stored as DynamoDB numbers and read back as `Decimal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Protocol

from pynamodb.attributes import (
    Attribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.constants import NUMBER
from pynamodb.exceptions import PutError, PynamoDBException
from pynamodb.models import Model

from chalicelib.prices.formula import CostInputs, Levels, PricingRule
from chalicelib.storage.errors import StorageError

MATRIX_SK = "matrix"
STATE_SK = "state"


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB number read as `Decimal`, so money never passes through float."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return format(value, "f")

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class LevelsAttribute(MapAttribute):
    min_price = DecimalAttribute()
    price = DecimalAttribute()
    old_price = DecimalAttribute()


class PriceModel(Model):
    """Base of every row of the prices table; `bind_prices` points it at a table."""

    class Meta:
        table_name = "prices"
        region = "eu-central-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class MatrixRow(PriceModel):
    cost = DecimalAttribute()
    logistics = DecimalAttribute()
    fee_percent = DecimalAttribute()
    acquiring_percent = DecimalAttribute()
    vat = DecimalAttribute()
    currency = UnicodeAttribute()
    category = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute(null=True)


class StateRow(PriceModel):
    accepted = LevelsAttribute(null=True)
    good = LevelsAttribute(null=True)
    changes = ListAttribute(of=NumberAttribute, default=list)
    rollback_key = UnicodeAttribute(null=True)


class RuleRow(PriceModel):
    category = UnicodeAttribute()
    version = NumberAttribute()
    min_margin = DecimalAttribute()
    price_margin = DecimalAttribute()
    old_margin = DecimalAttribute()
    rounding = UnicodeAttribute()
    note = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute(null=True)


@dataclass
class PriceState:
    """The service's record of one SKU's prices in Ozon.

    `accepted` are the levels Ozon last accepted (or that a read-back found), `good`
    the last levels that passed the guard and that Ozon applied, `changes` the virtual
    epoch times of applied changes (for the hourly budget), `rollback_key` the last
    rollback done, so the same rollback is not done twice.
    """

    accepted: Levels | None = None
    good: Levels | None = None
    changes: list[float] = field(default_factory=list)
    rollback_key: str | None = None


@dataclass
class StoredInputs:
    """The matrix rows and the categories that have a pricing rule, without the price states."""

    matrix: dict[str, CostInputs]
    categories: set[str]


@dataclass
class PriceBook:
    """Everything a planning run reads: matrix rows, states and the newest rule per category."""

    matrix: dict[str, CostInputs]
    states: dict[str, PriceState]
    rules: dict[str, PricingRule]


class PriceStore(Protocol):
    def load(self) -> PriceBook: ...

    def put_inputs(self, rows: Iterable[CostInputs]) -> None: ...

    def read_inputs(self) -> StoredInputs: ...

    def add_rule(self, rule: PricingRule) -> None: ...

    def rule_history(self, category: str) -> list[PricingRule]: ...

    def states(self, offer_ids: Iterable[str]) -> dict[str, PriceState]: ...

    def save_states(self, states: dict[str, PriceState]) -> None: ...


def bind_prices(table: str, region: str, host: str | None) -> None:
    """Point every prices model at `table` (and a local endpoint when `host` is set)."""
    for model in (PriceModel, MatrixRow, StateRow, RuleRow):
        model.Meta.table_name = table
        model.Meta.region = region
        model.Meta.host = host
        model._connection = None


def sku_pk(offer_id: str) -> str:
    return f"sku#{offer_id}"


def rule_pk(category: str) -> str:
    return f"rule#{category}"


class DynamoPriceStore:
    """The store on the DynamoDB prices table, through the PynamoDB models above."""

    def __init__(self, table: str) -> None:
        self.table = table

    def load(self) -> PriceBook:
        book = PriceBook({}, {}, {})
        connection = PriceModel._get_connection()
        start_key = None
        try:
            while True:
                page = connection.scan(exclusive_start_key=start_key)
                for item in page.get("Items", []):
                    self._add_scanned(book, item)
                start_key = page.get("LastEvaluatedKey")
                if not start_key:
                    return book
        except PynamoDBException as error:
            raise self._error("Scan", error) from error

    def put_inputs(self, rows: Iterable[CostInputs]) -> None:
        now = datetime.now(timezone.utc)
        try:
            with MatrixRow.batch_write() as batch:
                for row in rows:
                    batch.save(_matrix_row(row, now))
        except PynamoDBException as error:
            raise self._error("BatchWriteItem", error) from error

    def read_inputs(self) -> StoredInputs:
        """Scan the matrix rows and the rule rows. DynamoDB filters out the price states."""
        inputs = StoredInputs({}, set())
        condition = (PriceModel.sk == MATRIX_SK) | PriceModel.pk.startswith("rule#")
        connection = PriceModel._get_connection()
        start_key = None
        try:
            while True:
                page = connection.scan(filter_condition=condition, exclusive_start_key=start_key)
                for item in page.get("Items", []):
                    self._add_input(inputs, item)
                start_key = page.get("LastEvaluatedKey")
                if not start_key:
                    return inputs
        except PynamoDBException as error:
            raise self._error("Scan", error) from error

    def add_rule(self, rule: PricingRule) -> None:
        row = _rule_row(rule)
        try:
            row.save(condition=RuleRow.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise ValueError(f"rule {rule.label} already exists; add version {rule.version + 1} instead") from error
            raise self._error("PutItem", error) from error

    def rule_history(self, category: str) -> list[PricingRule]:
        try:
            return [_rule(row) for row in RuleRow.query(rule_pk(category))]
        except PynamoDBException as error:
            raise self._error("Query", error) from error

    def states(self, offer_ids: Iterable[str]) -> dict[str, PriceState]:
        keys = [(sku_pk(offer_id), STATE_SK) for offer_id in offer_ids]
        try:
            return {row.pk.removeprefix("sku#"): _state(row) for row in StateRow.batch_get(keys)}
        except PynamoDBException as error:
            raise self._error("BatchGetItem", error) from error

    def save_states(self, states: dict[str, PriceState]) -> None:
        try:
            with StateRow.batch_write() as batch:
                for offer_id, state in states.items():
                    batch.save(_state_row(offer_id, state))
        except PynamoDBException as error:
            raise self._error("BatchWriteItem", error) from error

    def _add_scanned(self, book: PriceBook, item: dict[str, Any]) -> None:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if sk == MATRIX_SK:
            book.matrix[pk.removeprefix("sku#")] = _inputs(MatrixRow.from_raw_data(item))
        elif sk == STATE_SK:
            book.states[pk.removeprefix("sku#")] = _state(StateRow.from_raw_data(item))
        elif pk.startswith("rule#"):
            rule = _rule(RuleRow.from_raw_data(item))
            newest = book.rules.get(rule.category)
            if newest is None or rule.version > newest.version:
                book.rules[rule.category] = rule

    def _add_input(self, inputs: StoredInputs, item: dict[str, Any]) -> None:
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if sk == MATRIX_SK:
            inputs.matrix[pk.removeprefix("sku#")] = _inputs(MatrixRow.from_raw_data(item))
        elif pk.startswith("rule#"):
            inputs.categories.add(pk.removeprefix("rule#"))

    def _error(self, operation: str, error: PynamoDBException) -> StorageError:
        detail = f"{error.cause_response_code or type(error).__name__}: {error.cause_response_message or error}"
        return StorageError(self.table, operation, detail, "Check the prices table exists and the role may use it.")


class InMemoryPriceStore:
    """The store's twin for unit tests and benchmarks: same methods, rows in dicts."""

    def __init__(self) -> None:
        self.matrix: dict[str, CostInputs] = {}
        self.state_rows: dict[str, PriceState] = {}
        self.rules: dict[str, dict[int, PricingRule]] = {}
        # Offer ids of every matrix row written, in order, so tests can see what was rewritten.
        self.written: list[str] = []

    def load(self) -> PriceBook:
        newest = {category: versions[max(versions)] for category, versions in self.rules.items()}
        states = {offer_id: _copy_state(state) for offer_id, state in self.state_rows.items()}
        return PriceBook(dict(self.matrix), states, newest)

    def put_inputs(self, rows: Iterable[CostInputs]) -> None:
        for row in rows:
            self.matrix[row.offer_id] = row
            self.written.append(row.offer_id)

    def read_inputs(self) -> StoredInputs:
        return StoredInputs(dict(self.matrix), set(self.rules))

    def add_rule(self, rule: PricingRule) -> None:
        versions = self.rules.setdefault(rule.category, {})
        if rule.version in versions:
            raise ValueError(f"rule {rule.label} already exists; add version {rule.version + 1} instead")
        versions[rule.version] = rule

    def rule_history(self, category: str) -> list[PricingRule]:
        return [rule for _, rule in sorted(self.rules.get(category, {}).items())]

    def states(self, offer_ids: Iterable[str]) -> dict[str, PriceState]:
        return {o: _copy_state(self.state_rows[o]) for o in offer_ids if o in self.state_rows}

    def save_states(self, states: dict[str, PriceState]) -> None:
        for offer_id, state in states.items():
            self.state_rows[offer_id] = _copy_state(state)


def _copy_state(state: PriceState) -> PriceState:
    return PriceState(state.accepted, state.good, list(state.changes), state.rollback_key)


def _matrix_row(row: CostInputs, now: datetime) -> MatrixRow:
    return MatrixRow(sku_pk(row.offer_id), MATRIX_SK, cost=row.cost, logistics=row.logistics,
                     fee_percent=row.fee_percent, acquiring_percent=row.acquiring_percent, vat=row.vat,
                     currency=row.currency, category=row.category, updated_at=now)


def _inputs(row: MatrixRow) -> CostInputs:
    return CostInputs(row.pk.removeprefix("sku#"), row.cost, row.logistics, row.fee_percent,
                      row.acquiring_percent, row.vat, row.currency, row.category)


def _rule_row(rule: PricingRule) -> RuleRow:
    return RuleRow(rule_pk(rule.category), f"v#{rule.version:06d}", category=rule.category, version=rule.version,
                   min_margin=rule.min_margin, price_margin=rule.price_margin, old_margin=rule.old_margin,
                   rounding=rule.rounding, note=rule.note, created_at=datetime.now(timezone.utc))


def _rule(row: RuleRow) -> PricingRule:
    return PricingRule(row.category, int(row.version), row.min_margin, row.price_margin, row.old_margin,
                       row.rounding, row.note or "")


def _levels_attribute(levels: Levels | None) -> LevelsAttribute | None:
    if levels is None:
        return None
    return LevelsAttribute(min_price=levels.min_price, price=levels.price, old_price=levels.old_price)


def _levels(attribute: LevelsAttribute | None) -> Levels | None:
    if attribute is None:
        return None
    return Levels(attribute.min_price, attribute.price, attribute.old_price)


def _state_row(offer_id: str, state: PriceState) -> StateRow:
    return StateRow(sku_pk(offer_id), STATE_SK, accepted=_levels_attribute(state.accepted),
                    good=_levels_attribute(state.good), changes=list(state.changes),
                    rollback_key=state.rollback_key)


def _state(row: StateRow) -> PriceState:
    return PriceState(_levels(row.accepted), _levels(row.good), [float(t) for t in row.changes or []],
                      row.rollback_key)
