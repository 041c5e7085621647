"""Ship-by watchdog: warn before a posting misses its `shipment_date`, count late ones.

A posting not packed `fbs_ship_by_warning_hours` before its ship-by time gets one SNS
alert (Russian by default), then one journal entry when the time passes. Postings packed
after their ship-by time carry `late = True` (set when the packing is seen), so the
late-shipment rate is late packed postings over all packed postings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit

import chalicelib.fbs.texts  # noqa: F401  (registers the FBS alert texts)
from chalicelib.fbs.models import Posting
from chalicelib.fbs.pipeline import FbsDeps, action_key
from chalicelib.fbs.store import ClaimTaken
from chalicelib.observability import metrics


@dataclass
class WatchdogReport:
    warned: int = 0
    missed: int = 0
    packed: int = 0
    late: int = 0

    @property
    def late_rate(self) -> float:
        return self.late / self.packed if self.packed else 0.0


def run_watchdog(deps: FbsDeps) -> WatchdogReport:
    """Warn about postings close to their ship-by time and count late ones."""
    now = deps.store.now()
    horizon = now + timedelta(hours=deps.settings.fbs_ship_by_warning_hours)
    report = WatchdogReport()
    for row in deps.store.scan(Posting.cancelled == False):  # noqa: E712 (a PynamoDB condition)
        if row.packed_at is not None:
            report.packed += 1
            report.late += int(bool(row.late))
            continue
        if row.shipment_date <= now:
            report.missed += _once(deps, row, "ship-by-missed", "ship_by_missed")
        elif row.shipment_date <= horizon:
            if _once(deps, row, "ship-by-warning", "ship_by_warned"):
                hours = (row.shipment_date - now).total_seconds() / 3600
                zone = ZoneInfo(deps.settings.warehouse_timezone)
                deps.notifier.alert("fbs_ship_by", posting=row.posting_number, zone=zone.key,
                                    deadline=row.shipment_date.astimezone(zone).strftime("%d.%m.%Y %H:%M"),
                                    hours=f"{hours:.1f}")
                report.warned += 1
    metrics.add_metric(name="FbsShippedLate", unit=MetricUnit.Count, value=report.late)
    metrics.add_metric(name="FbsPackedTotal", unit=MetricUnit.Count, value=report.packed)
    return report


def _once(deps: FbsDeps, row: Posting, claim: str, event: str) -> int:
    try:
        deps.store.claim(action_key(row.posting_number), claim, at=deps.clock.now())
    except ClaimTaken:
        return 0
    deps.store.record(row.posting_number, event, shipment_date=row.shipment_date.isoformat())
    return 1
