"""The hourly budget of price changes per product.

Ozon applies at most 10 price changes per product per hour (Ozon Seller API docs for
`/v1/product/import/prices`). A SKU's state keeps the virtual epoch times of its
applied changes; a SKU with the budget spent waits for the next window, and the next
run sends its latest target.
"""

from __future__ import annotations

WINDOW_SECONDS = 3600.0


def recent_changes(changes: list[float], now: float) -> list[float]:
    """The change times inside the last hour, oldest first."""
    return sorted(t for t in changes if now - t < WINDOW_SECONDS)


def has_budget(changes: list[float], now: float, changes_per_hour: int) -> bool:
    """Tell whether one more change fits in the hour that ends at `now`."""
    return len(recent_changes(changes, now)) < changes_per_hour
