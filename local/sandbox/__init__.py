"""A local, stateful stand-in for the Ozon Seller API stock methods."""

from local.sandbox.catalog import MAIN_WAREHOUSE_ID, SeedSummary, Warehouse
from local.sandbox.faults import FaultConfig
from local.sandbox.limits import Limits
from local.sandbox.server import SandboxServer
from local.sandbox.state import Sandbox, StockRow

__all__ = [
    "MAIN_WAREHOUSE_ID",
    "FaultConfig",
    "Limits",
    "Sandbox",
    "SandboxServer",
    "SeedSummary",
    "StockRow",
    "Warehouse",
]
