"""The stock pipeline's view of a 1C export, independent of the file format."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator, Literal


@dataclass(frozen=True, slots=True)
class StockOffer:
    """One 1C offer with its stock.

    `onec_id` is the offer's `Ид` (`product` or `product#characteristic`).
    `total` is the offer's own total quantity (`Количество`), None when the export
    leaves it out. `by_warehouse` maps a 1C warehouse id to its quantity. Quantities
    are whole units here: fractional and malformed ones are reported as input issues
    instead of becoming offers.
    """

    onec_id: str
    article: str | None
    code: str | None
    name: str | None
    total: int | None
    by_warehouse: dict[str, int]
    source: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class InputIssue:
    """A problem found in the input, named so that an operator can fix it in 1C.

    `severity` "error" means the offer (or the whole file when `offer` is None) was
    not used; "warning" means it was used as the message describes.
    """

    source: str
    offer: str | None
    value: str | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.source if self.offer is None else f"{self.source}, offer {self.offer}"
        return f"{where}: {self.message}"


@dataclass
class StockExchange:
    """The stock content of one 1C exchange (one file, or the files of one folder).

    `only_changes` is True when the export is a change package: offers it does not
    list keep their current stock. Offers are produced lazily by `offers()`, which
    streams the files. `only_changes`, `warehouses`, `issues` and
    `rejected_sources` are final once `offers()` has been consumed.
    """

    only_changes: bool
    warehouses: dict[str, str]
    issues: list[InputIssue] = field(default_factory=list)
    rejected_sources: set[str] = field(default_factory=set)
    _offers: Iterator[StockOffer] | None = None

    def offers(self) -> Iterator[StockOffer]:
        if self._offers is None:
            return iter(())
        return self._offers
