"""Warehouses, products and per-warehouse stock held by the sandbox."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

MAIN_WAREHOUSE_ID = 22142605386000

# First ids of seeded products. They are arbitrary but in the size range of real ids.
_FIRST_PRODUCT_ID = 313_455_276
_FIRST_SKU = 1_470_350_110


@dataclass(frozen=True)
class Warehouse:
    """A warehouse as `/v2/warehouse/list` describes it.

    `owned` is False for a warehouse that exists but belongs to another seller, so
    stock sent there is rejected with WAREHOUSE_NOT_FOUND.
    """

    warehouse_id: int
    name: str
    is_rfbs: bool = False
    is_kgt: bool = False
    status: str = "created"
    owned: bool = True

    @property
    def stock_type(self) -> str:
        return "rfbs" if self.is_rfbs else "fbs"

    def to_json(self) -> dict:
        """Render the `/v2/warehouse/list` item."""
        return {
            "warehouse_id": self.warehouse_id,
            "name": self.name,
            "status": self.status,
            "is_rfbs": self.is_rfbs,
            "is_kgt": self.is_kgt,
            "is_express": False,
            "is_auto_assembly": False,
            "has_entrusted_acceptance": False,
            "has_postings_limit": False,
            "postings_limit": -1,
            "min_postings_limit": 0,
            "carriage_label_type": "BIG",
            "first_mile": {"type": "PICK_UP", "dropoff_point_id": "", "timeslot_id": 0,
                           "first_mile_is_changing": False},
            "address_info": {"address": "", "utc": "UTC+03:00"},
            "working_days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
        }


DEFAULT_WAREHOUSES: tuple[Warehouse, ...] = (
    Warehouse(MAIN_WAREHOUSE_ID, "Основной склад"),
    Warehouse(22142605387000, "Склад rFBS", is_rfbs=True),
    Warehouse(1020003080073000, "Склад другого продавца", owned=False),
    Warehouse(1020003080074000, "Склад КГТ другого продавца", is_kgt=True, owned=False),
)


@dataclass(slots=True)
class StockSlot:
    """One product on one warehouse: free stock, reserved units and update times.

    `applied_at` is the virtual time of the last applied update, which starts the 30 s
    interval. A rejected attempt leaves it alone.
    """

    free: int = 0
    reserved: int = 0
    updated_at: float = 0.0
    applied_at: float | None = None

    @property
    def present(self) -> int:
        return self.free + self.reserved


@dataclass(slots=True)
class Product:
    offer_id: str
    product_id: int
    sku: int
    archived: bool = False
    stocks: dict[int, StockSlot] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedSummary:
    """Offers that `Sandbox.seed` listed, left out, archived and gave reserved units."""

    listed: int
    missing_offer_ids: list[str]
    archived_offer_ids: list[str]
    reserved_offer_ids: list[str]

    def to_json(self) -> dict:
        return {
            "listed": self.listed,
            "missing_offer_ids": self.missing_offer_ids,
            "archived_offer_ids": self.archived_offer_ids,
            "reserved_offer_ids": self.reserved_offer_ids,
        }


@dataclass(frozen=True)
class SeedPlan:
    """Seeding choices drawn from one seed. Shares are of the whole offer list."""

    offer_ids: list[str]
    missing: frozenset[str]
    archived: frozenset[str]
    reserved: dict[str, int]


def plan_seed(
    offer_ids: Iterable[str],
    *,
    missing_share: float,
    archived_share: float,
    reserved_share: float,
    max_reserved: int,
    seed: int,
) -> SeedPlan:
    """Choose which offers stay unlisted, which are archived and which get reserved units.

    Counts are exact (`round(share * n)`), drawn without replacement: the archived and
    reserved offers come from the listed ones, and reserved offers are never archived.
    Duplicate offer ids keep their first position.
    """
    unique = _unique_offer_ids(offer_ids)
    _check_share("missing_share", missing_share)
    _check_share("archived_share", archived_share)
    _check_share("reserved_share", reserved_share)
    if max_reserved < 1:
        raise ValueError(f"max_reserved must be 1 or more, got {max_reserved!r}")

    rng = random.Random(seed)
    total = len(unique)
    missing = set(rng.sample(unique, _count(missing_share, total, total)))
    listed = [offer_id for offer_id in unique if offer_id not in missing]
    archived = set(rng.sample(listed, _count(archived_share, total, len(listed))))
    active = [offer_id for offer_id in listed if offer_id not in archived]
    reserved_offers = rng.sample(active, _count(reserved_share, total, len(active)))
    reserved = {offer_id: rng.randint(1, max_reserved) for offer_id in reserved_offers}
    return SeedPlan(unique, frozenset(missing), frozenset(archived), reserved)


def build_products(plan: SeedPlan, warehouse_id: int, now: float) -> list[Product]:
    """Create the listed products, in offer order, each with a slot on `warehouse_id`."""
    products = []
    for index, offer_id in enumerate(plan.offer_ids):
        if offer_id in plan.missing:
            continue
        slot = StockSlot(reserved=plan.reserved.get(offer_id, 0), updated_at=now)
        products.append(
            Product(
                offer_id=offer_id,
                product_id=_FIRST_PRODUCT_ID + index,
                sku=_FIRST_SKU + index,
                archived=offer_id in plan.archived,
                stocks={warehouse_id: slot},
            )
        )
    return products


def iso_utc(epoch_seconds: float) -> str:
    """Format epoch seconds as ISO-8601 UTC with microseconds and `Z`, as Ozon does."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _unique_offer_ids(offer_ids: Iterable[str]) -> list[str]:
    unique: dict[str, None] = {}
    for offer_id in offer_ids:
        if not isinstance(offer_id, str) or not offer_id:
            raise ValueError(f"offer ids must be non-empty strings, got {offer_id!r}")
        unique.setdefault(offer_id, None)
    return list(unique)


def _check_share(name: str, share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {share!r}")


def _count(share: float, total: int, available: int) -> int:
    return min(available, round(share * total))
