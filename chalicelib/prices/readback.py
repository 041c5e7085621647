"""Read prices back from Ozon and roll back SKUs whose selling price fell below cost.

The effective selling price is the lowest of `price`, `marketing_price` (Ozon's
promotions) and `marketing_seller_price` (the seller's). When it is more than the
guard's threshold below cost, the SKU is sent its last good levels with Ozon's
auto-actions switched off, the rollback is journaled and one alert names the SKU.

A rollback is idempotent: its key is made of the SKU, the observed prices and the
good levels, and the SKU's state keeps the last key done. The same observation
never causes a second rollback or a second alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Protocol

from chalicelib.alerts import Notifier
from chalicelib.prices.budget import has_budget
from chalicelib.prices.formula import Levels
from chalicelib.prices.guard import check_levels, is_below_cost
from chalicelib.prices.journal import Event
from chalicelib.prices.pricing import to_item
from chalicelib.prices.store import PriceBook, PriceState


class PriceReader(Protocol):
    def iter_prices(self, offer_ids=None, limit: int = 1000) -> Iterable: ...


@dataclass
class ReadBack:
    """The result of a read-back: rollback items to send, events, and SKUs read."""

    items: list[dict] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    changed_states: dict[str, PriceState] = field(default_factory=dict)
    skus_read: int = 0
    deferred: int = 0


def read_back(book: PriceBook, reader: PriceReader, notifier: Notifier, *, threshold: Decimal, now: float,
              changes_per_hour: int) -> ReadBack:
    """Compare Ozon's prices with the costs of `book`; updates `book.states` in place."""
    result = ReadBack()
    for product in reader.iter_prices():
        inputs = book.matrix.get(product.offer_id)
        if inputs is None:
            continue
        result.skus_read += 1
        state = book.states.setdefault(product.offer_id, PriceState())
        observed = Levels(product.price.min_price, product.price.price, product.price.old_price)
        if state.accepted != observed:
            state.accepted = observed
            result.changed_states[product.offer_id] = state
        selling = product.price.selling_price()
        if product.price.price <= 0:
            continue  # never priced in Ozon: nothing is sold at this price
        if is_below_cost(selling, inputs.cost, threshold):
            _roll_back(product.offer_id, inputs, state, observed, selling, result, notifier, threshold, now,
                       changes_per_hour)
    return result


def rollback_key(offer_id: str, observed: Levels, selling: Decimal, good: Levels | None) -> str:
    text = f"{offer_id}|{observed}|{selling}|{good}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _roll_back(offer_id: str, inputs, state: PriceState, observed: Levels, selling: Decimal, result: ReadBack,
               notifier: Notifier, threshold: Decimal, now: float, changes_per_hour: int) -> None:
    key = rollback_key(offer_id, observed, selling, state.good)
    if state.rollback_key == key:
        return  # this observation was handled by an earlier run
    detail = {"cost": str(inputs.cost), "selling_price": str(selling), "observed": _text(observed),
              "good": _text(state.good) if state.good else ""}
    good = state.good
    if good is None or check_levels(inputs.cost, good, threshold).blocked:
        notifier.alert("price_below_cost_no_good", sku=offer_id, selling=str(selling), cost=str(inputs.cost),
                       threshold=str(threshold))
        result.events.append(Event("rollback", offer_id, "selling price below cost and no good levels", detail))
    elif not has_budget(state.changes, now, changes_per_hour):
        result.deferred += 1
        return  # the next run tries again: the key is not stored
    else:
        result.items.append(to_item(offer_id, good, inputs, rollback=True))
        notifier.alert("price_rolled_back", sku=offer_id, selling=str(selling), cost=str(inputs.cost),
                       threshold=str(threshold), levels=_text(good))
        result.events.append(Event("rollback", offer_id, "rolled back to the last good levels", detail))
    state.rollback_key = key
    result.changed_states[offer_id] = state


def _text(levels: Levels) -> str:
    return f"min_price {levels.min_price}, price {levels.price}, old_price {levels.old_price}"
