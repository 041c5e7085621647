"""The embedded local stack in one process: AWS on moto, the Ozon sandbox, the event pump.

`LocalStack` starts the three, points the Chalice app at them through the same
environment variables a Lambda gets, and offers what `make run`, the integration tests
and the benchmarks need: upload a 1C exchange to the inbox, wait until the pipeline has
nothing left to do, and compare what Ozon holds with what 1C says.

    with LocalStack(clock_speed=10) as stack:
        stack.seed_sandbox(paths)
        report = stack.sync(paths)
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import boto3

from chalicelib.clock import ScaledClock
from chalicelib.onec.csv_export import CsvFormat
from chalicelib.onec.reader import read_stock_exchange
from chalicelib.ozon.client import OzonClient
from chalicelib.ozon.credentials import OzonCredentials
from chalicelib.settings import settings_from_env
from chalicelib.stock import wiring
from chalicelib.prices import wiring as price_wiring
from chalicelib.stock.mapping import map_offers
from chalicelib.stock.planner import resolve_routes
from chalicelib.storage.journal import InputProblem, StockFailure, StockRun
from chalicelib.storage.ledger import PairKey
from local.fbs_stack import FbsLocal, fbs_environment, new_push_token
from local.pump import EventPump
from local.sandbox.faults import FaultConfig
from local.sandbox.server import SandboxServer
from local.stack import create_local_stack, reset_moto_server, start_moto_server
from chalicelib.telegram import wiring as telegram_wiring
from local.telegram_fake import LOCAL_CHAT_ID, TelegramFake, new_bot_token, telegram_environment

INBOX_PREFIX = "inbox/1c/"


class LocalRunError(RuntimeError):
    """The local pipeline did not finish or did not plan; the message names what to check."""


@dataclass
class RunReport:
    """Counters and failures of one sync, from the journal."""

    run_id: str
    seq: int
    offers_read: int
    pairs_total: int
    pairs_changed: int
    requests_planned: int
    requests_sent: int
    items_applied: int
    items_failed: int
    items_superseded: int
    retries: int
    failed_by_code: dict[str, int]
    input_errors: int
    elapsed_seconds: float
    failures: list[StockFailure] = field(default_factory=list)
    input_problems: list[InputProblem] = field(default_factory=list)


@dataclass
class PairCheck:
    """One pair after a sync: what 1C implies, what Ozon holds, and why it failed."""

    offer_id: str
    warehouse_id: int
    expected: int
    ozon_stock: int | None
    failure_code: str | None

    @property
    def matches(self) -> bool:
        return self.failure_code is not None or self.ozon_stock == self.expected


class LocalStack:
    """Starts and stops the local stack; see the module docstring."""

    def __init__(self, *, clock_speed: float = 10.0, faults: FaultConfig | None = None,
                 client_id: str | None = None, api_key: str | None = None,
                 environment: dict[str, str] | None = None, stage: str = "local",
                 poll_wait_seconds: float = 1.0) -> None:
        self.clock_speed = clock_speed
        # Long polls of 1 s: an idle queue costs moto one receive a second instead of ten, and
        # a delayed message waits at most 1 real second longer before a poller takes it.
        self.poll_wait_seconds = poll_wait_seconds
        self.faults = faults
        self.client_id = client_id or f"local-{secrets.randbelow(10**6):06d}"
        self.api_key = api_key or str(uuid.uuid4())
        self.environment = environment or {}
        self.stage = stage
        self._saved_environ: dict[str, str] | None = None

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        """Start every part; a part that fails to start stops the ones already running."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self._saved_environ = dict(os.environ)
        self.moto, self.endpoint_url = start_moto_server()
        # moto keeps its state per process, not per server: start from nothing.
        reset_moto_server(self.endpoint_url)
        self.resources = create_local_stack(self.endpoint_url, self.stage)
        self.clock = ScaledClock(self.clock_speed)
        self.sandbox_server = SandboxServer((self.client_id, self.api_key), clock=self.clock, faults=self.faults)
        ozon_url = self.sandbox_server.start()
        self.sandbox = self.sandbox_server.sandbox
        self.push_token = new_push_token()
        # Alerts go SNS -> SQS -> alerts_telegram -> this fake Bot API.
        self.telegram = TelegramFake(new_bot_token(), chat_ids=[LOCAL_CHAT_ID])
        self.telegram.start()
        os.environ.update(telegram_environment(self.telegram))

        os.environ.update({
            **fbs_environment(self.push_token),
            "STAGE": self.stage, "BUCKET": self.resources.bucket, "OZON_BASE_URL": ozon_url,
            "OZON_CLIENT_ID": self.client_id, "OZON_API_KEY": self.api_key,
            "OZON_TIMEOUT_SECONDS": "2", "ALERTS_TOPIC_ARN": self.resources.topic_arn,
            "CLOCK_SPEED": repr(self.clock_speed), "CLOCK_ORIGIN": repr(self.clock.origin),
            "POWERTOOLS_METRICS_NAMESPACE": "OzonSellerOps", "POWERTOOLS_SERVICE_NAME": "ozon-seller-ops",
            **self.environment,
        })
        wiring.reset()
        price_wiring.reset()
        telegram_wiring.reset()
        self.settings = settings_from_env()
        self.app = importlib.import_module("app").app
        self.sqs = boto3.client("sqs", endpoint_url=self.endpoint_url, region_name=self.settings.region)
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.settings.region)
        self.pump = EventPump(self.app, self.sqs, queue_urls=self.resources.queue_urls, clock=self.clock,
                              poll_wait_seconds=self.poll_wait_seconds)
        self.pump.start()
        self.fbs = FbsLocal(self, self.push_token)
        self.fbs.start()

    def stop(self) -> None:
        for stopper in (lambda: self.fbs.stop(), lambda: self.pump.stop(), lambda: self.sandbox_server.stop(),
                        lambda: self.moto.stop(), lambda: self.telegram.stop()):
            try:
                stopper()
            except AttributeError:
                pass  # start() failed before this part existed
        wiring.reset()
        price_wiring.reset()
        telegram_wiring.reset()
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)

    # --- the sandbox ------------------------------------------------------------

    def ozon_client(self) -> OzonClient:
        return OzonClient(self.sandbox_server.base_url, OzonCredentials(self.client_id, self.api_key))

    def seed_sandbox(self, paths: Sequence[Path], *, missing_share: float = 0.0, archived_share: float = 0.0,
                     reserved_share: float = 0.0, seed: int = 1):
        """List the exchange's offers in the sandbox, as the seller's cabinet would."""
        offer_ids = sorted({offer_id for _, offer_id in self.expected_on_hand(paths)})
        return self.sandbox.seed(offer_ids, missing_share=missing_share, archived_share=archived_share,
                                 reserved_share=reserved_share, seed=seed)

    def expected_on_hand(self, paths: Sequence[Path]) -> dict[PairKey, int]:
        """On-hand quantity by pair, read from the files with the configured mapping."""
        routes = resolve_routes(self.settings, self.ozon_client())
        exchange = read_stock_exchange(list(paths), csv_format=CsvFormat(**self.settings.csv_format))
        return map_offers(exchange.offers(), self.settings.offer_id_source, routes).on_hand

    # --- running the pipeline ---------------------------------------------------

    def upload_exchange(self, paths: Sequence[Path], *, full: bool = False) -> str:
        """Put the files in the inbox, manifest last, as the 1C exchange endpoint does."""
        prefix = f"{INBOX_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}/"
        names = []
        root = _common_root(paths)
        for path in paths:
            name = path.resolve().relative_to(root).as_posix()
            self.s3.upload_file(str(path), self.resources.bucket, prefix + name)
            names.append(name)
        manifest = {"files": names, "full": full}
        self.s3.put_object(Bucket=self.resources.bucket, Key=prefix + "manifest.json",
                           Body=json.dumps(manifest).encode(), ContentType="application/json")
        return prefix

    def sync(self, paths: Sequence[Path], *, full: bool = False, timeout: float = 600.0,
             progress: Callable[[StockRun | None], None] | None = None) -> RunReport:
        """Upload an exchange and wait until its run has nothing left in flight."""
        journal = wiring.journal()
        before = journal.latest_seq()
        started = time.monotonic()
        self.upload_exchange(paths, full=full)

        deadline = started + timeout
        run = None
        while time.monotonic() < deadline:
            if run is None and journal.latest_seq() > before:
                # The planner takes its number before it writes the run's row.
                run = _find_run(journal.latest_seq())
            if progress:
                progress(journal.get_run(run.run_id) if run else None)
            if run is not None and self.pump.run_until_idle(timeout=1.0, idle_for=1.0):
                break
            if run is None:
                time.sleep(0.2)
        else:
            raise LocalRunError(f"the stock run did not finish within {timeout:.0f} s; "
                                f"pump stats: {self.pump.stats()}")
        return self.report(run.run_id, time.monotonic() - started)

    def report(self, run_id: str, elapsed: float) -> RunReport:
        journal = wiring.journal()
        run = journal.get_run(run_id)
        return RunReport(
            run_id=run_id, seq=int(run.seq), offers_read=int(run.offers_read), pairs_total=int(run.pairs_total),
            pairs_changed=int(run.pairs_changed), requests_planned=int(run.requests_planned),
            requests_sent=int(run.requests_sent), items_applied=int(run.items_applied),
            items_failed=int(run.items_failed), items_superseded=int(run.items_superseded),
            retries=int(run.retries), failed_by_code={k: int(v) for k, v in run.failed_by_code.as_dict().items()},
            input_errors=int(run.input_errors), elapsed_seconds=elapsed, failures=journal.failures(run_id),
            input_problems=journal.input_problems(run_id))

    def check_pairs(self, paths: Sequence[Path], failures: Sequence[StockFailure]) -> list[PairCheck]:
        """Read stock back from Ozon and compare every pair with on hand minus reserved."""
        on_hand = self.expected_on_hand(paths)
        client = self.ozon_client()
        failed = {(f.warehouse_id, f.offer_id): f.code for f in failures}
        held: dict[PairKey, tuple[int, int]] = {}
        for warehouse in sorted({w for w, _ in on_hand}):
            for row in client.iter_warehouse_stocks(warehouse):
                held[(warehouse, row.offer_id)] = (int(row.free_stock), int(row.reserved))
        checks = []
        for (warehouse, offer_id), quantity in sorted(on_hand.items()):
            free, reserved = held.get((warehouse, offer_id), (None, 0))
            checks.append(PairCheck(offer_id, warehouse, max(0, quantity - reserved), free,
                                    failed.get((warehouse, offer_id))))
        return checks


def _find_run(seq: int) -> StockRun | None:
    # Price runs share the journal table and number their runs too, so match the stock key.
    for run in StockRun.scan((StockRun.seq == seq) & StockRun.pk.startswith("run#")):
        return run
    return None


def _common_root(paths: Sequence[Path]) -> Path:
    return Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
