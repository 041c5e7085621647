"""`make run`: sync a 1C export's stock to the local Ozon sandbox through the real pipeline.

    python -m local.run                       # a bundled 4,200-SKU household-chemicals catalog
    python -m local.run --onec FILE_OR_FOLDER --report out.csv

Exit status: 0 when every synced pair has the expected available quantity in the
sandbox, 1 when some pair differs, 2 when the run could not be done.
"""

from __future__ import annotations

import os

# The pipeline logs JSON lines as it does in Lambda. On a terminal only warnings and
# errors are worth showing, and EMF metric blobs not at all. These must be set before
# any import creates the Logger.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from local.harness import LocalRunError, LocalStack, PairCheck, RunReport
from local.price_run import run_price_sync
from local.fbs_stack import run_shipping_day
from local.sandbox.faults import FaultConfig

EXCHANGE_SUFFIXES = {".xml", ".csv"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--onec", type=Path, help="a 1C export file, or a folder with the files of one exchange")
    parser.add_argument("--report", type=Path, help="write one CSV row per pair to this file")
    parser.add_argument("--full", action="store_true", help="push every pair, not only the changed ones")
    parser.add_argument("--skus", type=int, default=4200, help="SKUs in the bundled catalog (default 4200)")
    parser.add_argument("--clock-speed", type=float, default=10.0,
                        help="how many times faster than real time the sandbox and limiter run (default 10)")
    parser.add_argument("--missing-share", type=float, default=0.01,
                        help="share of offers the sandbox does not list, so Ozon returns NOT_FOUND_ERROR for them (default 0.01)")
    parser.add_argument("--reserved-share", type=float, default=0.05,
                        help="share of offers with units reserved for unshipped postings (default 0.05)")
    parser.add_argument("--fault-429", type=float, default=0.0, help="share of stock requests that get HTTP 429")
    parser.add_argument("--fault-5xx", type=float, default=0.0, help="share of stock requests that get HTTP 5xx")
    parser.add_argument("--offer-id-source", choices=["article", "code", "id"],
                        help="which 1C field becomes Ozon's offer_id (default: OFFER_ID_SOURCE or article)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the run (default 900)")
    return parser.parse_args(argv)


def exchange_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"1C export {source} does not exist; pass a file or a folder with ONEC=")
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in EXCHANGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"folder {source} contains no .xml or .csv files of a 1C exchange")
    return files


_last_progress = [""]


def print_progress(run) -> None:
    if run is None:
        line = "planning..."
    else:
        line = (f"requests {int(run.requests_sent)}/{int(run.requests_planned)}, applied {int(run.items_applied)}"
                f"/{int(run.pairs_changed)}, failed {int(run.items_failed)}, retries {int(run.retries)}")
    if line != _last_progress[0]:
        _last_progress[0] = line
        print(f"\r{line:<90}", end="", file=sys.stderr, flush=True)


def print_summary(report: RunReport, checks: list[PairCheck], stats: dict) -> None:
    print(file=sys.stderr)
    failed = ", ".join(f"{code} {count}" for code, count in sorted(report.failed_by_code.items())) or "none"
    mismatched = [c for c in checks if not c.matches]
    rows = [
        ("run", report.run_id),
        ("offers read", report.offers_read),
        ("input errors", report.input_errors),
        ("pairs total", report.pairs_total),
        ("pairs changed", report.pairs_changed),
        ("requests planned", report.requests_planned),
        ("requests sent", report.requests_sent),
        ("items applied", report.items_applied),
        ("items failed by code", failed),
        ("retries", report.retries),
        ("HTTP 429 from Ozon", stats.get("statuses", {}).get("429", 0)),
        ("elapsed", f"{report.elapsed_seconds:.1f} s"),
        ("pairs checked in Ozon", len(checks)),
        ("pairs that differ", len(mismatched)),
    ]
    for name, value in rows:
        print(f"{name:>22}: {value}")
    problems = report.input_problems
    if problems:
        print(f"input problems ({len(problems)}, the first 10):")
        for problem in problems[:10]:
            where = problem.source if not problem.offer else f"{problem.source}, offer {problem.offer}"
            print(f"  {problem.severity.upper()} {where}: {problem.message}")
    for check in mismatched[:20]:
        print(f"  DIFFERS {check.offer_id} @ {check.warehouse_id}: expected {check.expected}, "
              f"Ozon has {check.ozon_stock}")


def write_report(path: Path, checks: list[PairCheck], pushed: dict) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["offer_id", "warehouse_id", "quantity_pushed", "ozon_stock", "failure_code"])
        for check in checks:
            writer.writerow([check.offer_id, check.warehouse_id, pushed.get((check.warehouse_id, check.offer_id), ""),
                             "" if check.ozon_stock is None else check.ozon_stock, check.failure_code or ""])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.offer_id_source:
        os.environ["OFFER_ID_SOURCE"] = args.offer_id_source
    faults = FaultConfig(http_429_share=args.fault_429, http_5xx_share=args.fault_5xx)
    with tempfile.TemporaryDirectory(prefix="ozon-seller-ops-") as work:
        if args.onec:
            files = exchange_files(args.onec)
        else:
            from local.catalog import write_catalog
            files = write_catalog(Path(work, "catalog"), skus=args.skus)
        print(f"1C exchange: {len(files)} file(s): {', '.join(f.name for f in files)}", file=sys.stderr)

        with LocalStack(clock_speed=args.clock_speed, faults=faults) as stack:
            seeded = stack.seed_sandbox(files, missing_share=args.missing_share, reserved_share=args.reserved_share)
            print(f"Ozon sandbox at {stack.sandbox_server.base_url}: {seeded.listed} products listed, "
                  f"{len(seeded.missing_offer_ids)} left out, {len(seeded.reserved_offer_ids)} with reservations",
                  file=sys.stderr)
            started = time.monotonic()
            report = stack.sync(files, full=args.full, timeout=args.timeout, progress=print_progress)
            checks = stack.check_pairs(files, report.failures)
            print_summary(report, checks, stack.sandbox.stats())
            run_price_sync(stack, files, Path(work), timeout=args.timeout)
            run_shipping_day(stack, timeout=args.timeout)
            print_telegram_summary(stack)
            if args.report:
                pushed = {(f.warehouse_id, f.offer_id): int(f.stock) for f in report.failures}
                pushed.update({key: value.quantity for key, value in wiring_ledger().items()})
                write_report(args.report, checks, pushed)
                print(f"report: {args.report} ({len(checks)} rows)")
            print(f"total wall time {time.monotonic() - started:.1f} s", file=sys.stderr)
            return 1 if any(not c.matches for c in checks) else 0


def print_telegram_summary(stack: LocalStack, timeout: float = 30.0) -> None:
    """Print how many alerts the fake Telegram bot received, once the alerts queue is drained."""
    stack.pump.run_until_idle(timeout=timeout, idle_for=0.5)
    print(f"{'alerts in Telegram':>22}: {len(stack.telegram.messages)}")


def wiring_ledger() -> dict:
    from chalicelib.stock import wiring
    return wiring.planner_deps().ledger.load()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (LocalRunError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
