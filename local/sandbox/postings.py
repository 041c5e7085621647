"""FBS postings in the sandbox: their life cycle, labels, carriages and push notices.

A posting starts in `awaiting_packaging`, moves to `awaiting_deliver` after
`/v4/posting/fbs/ship`, has its label ready 45-60 s later on the sandbox clock, and leaves
in a carriage (`/v1/carriage/create` + `/v1/carriage/approve`), after which it is
`delivering`. It can be cancelled at any point before that.

Push notices are POSTed to `webhook_url` when they fall due on the sandbox clock: on
time, late, duplicated, out of order or never, as `PushConfig` draws them. Label PDFs are
drawn with reportlab: page 1 has a Code 128 barcode of the posting number, and page 2
stands in for the second page of Ozon's labels. A file server of the sandbox on 127.0.0.1
serves them, and its address is the `file_url` of a finished label task.
"""

from __future__ import annotations

import heapq
import io
import itertools
import json
import logging
import random
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import requests
from reportlab.graphics.barcode import code128
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from local.sandbox.errors import ApiError
from local.sandbox.state import Sandbox

logger = logging.getLogger("local.sandbox.postings")

AWAITING_PACKAGING = "awaiting_packaging"
AWAITING_DELIVER = "awaiting_deliver"
DELIVERING = "delivering"
CANCELLED = "cancelled"
# Push names of API statuses (Ozon Seller API docs, TYPE_STATE_CHANGED).
PUSH_STATES = {AWAITING_DELIVER: "posting_transferring_to_delivery", DELIVERING: "posting_in_carriage",
               CANCELLED: "posting_canceled"}
UNFULFILLED_PAGE_MAX = 100
LABEL_TASK_MAX = 1000
LABEL_READY_MIN_SECONDS = 45.0
LABEL_READY_MAX_SECONDS = 60.0
# Virtual seconds between redeliveries of a notice the webhook did not acknowledge with 200.
PUSH_RETRY_SECONDS = 10.0
PUSH_MAX_ATTEMPTS = 5
# Notices in flight to the webhook at once.
PUSH_SENDERS = 8
TICK_SECONDS = 0.01


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class PostingMethod:
    """A served method, shaped like `local.sandbox.methods.OzonMethod` (which imports this module)."""

    handler: Callable[[Sandbox, dict], dict]
    write: bool


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ApiError(400, f"{name} must be an integer, got {value!r}")


def _parse_limit(value: Any, maximum: int) -> int:
    limit = _as_int(value, "limit")
    if not 1 <= limit <= maximum:
        raise ApiError(400, f"limit must be between 1 and {maximum}, got {limit}")
    return limit


def _parse_time(value: Any, name: str) -> float:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be an RFC 3339 date-time string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as error:
        raise ApiError(400, f"{name} {value!r} is not an RFC 3339 date-time") from error


@dataclass
class PushConfig:
    """Delivery of push notices to the webhook. Shares are probabilities per notice.

    `late_seconds` is the range of extra virtual delay of a late notice. An out-of-order
    notice is held back long enough that the posting's next notice overtakes it.
    """

    lost_share: float = 0.0
    duplicate_share: float = 0.0
    late_share: float = 0.0
    late_seconds: tuple[float, float] = (60.0, 900.0)
    out_of_order_share: float = 0.0
    seed: int = 1


@dataclass
class SandboxPosting:
    posting_number: str
    warehouse_id: int
    delivery_method_id: int
    products: list[dict]
    in_process_at: float
    shipment_date: float
    status: str = AWAITING_PACKAGING
    substatus: str = "posting_created"
    label_ready_at: float | None = None
    carriage_id: int | None = None
    ship_calls: int = 0
    fail_ship: bool = False

    def to_json(self) -> dict:
        return {
            "posting_number": self.posting_number,
            "order_id": abs(hash(self.posting_number)) % 10**9,
            "order_number": self.posting_number.rsplit("-", 1)[0],
            "status": self.status,
            "substatus": self.substatus,
            "delivery_method": {"id": self.delivery_method_id, "name": "Ozon Логистика самостоятельно",
                                "warehouse_id": self.warehouse_id, "warehouse": "Основной склад",
                                "tpl_provider_id": 24, "tpl_provider": "Ozon Логистика"},
            "tracking_number": "",
            "tpl_integration_type": "ozon",
            "in_process_at": iso(self.in_process_at),
            "shipment_date": iso(self.shipment_date),
            "delivering_date": None,
            "cancellation": {"cancel_reason_id": 352 if self.status == CANCELLED else 0,
                             "cancel_reason": "", "cancellation_type": "", "cancelled_after_ship": False,
                             "affect_cancellation_rating": False, "cancellation_initiator": ""},
            "products": [dict(product, price="279.0000", currency_code="RUB") for product in self.products],
            "is_express": False,
        }


@dataclass
class LabelTask:
    task_id: int
    posting_numbers: list[str]
    created_at: float


@dataclass
class Carriage:
    carriage_id: int
    delivery_method_id: int
    departure_date: float
    posting_numbers: list[str]
    status: str = "new"


@dataclass
class PushStats:
    scheduled: int = 0
    lost: int = 0
    duplicated: int = 0
    late: int = 0
    out_of_order: int = 0
    delivered: dict[int, int] = field(default_factory=dict)
    failed: int = 0

    def to_json(self) -> dict:
        return {"scheduled": self.scheduled, "lost": self.lost, "duplicated": self.duplicated, "late": self.late,
                "out_of_order": self.out_of_order, "delivered": dict(self.delivered), "failed": self.failed}


class PostingBook:
    """The postings of one sandbox, its push sender and its label file server."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.clock = sandbox.clock
        self._lock = threading.RLock()
        self.postings: dict[str, SandboxPosting] = {}
        self.tasks: dict[int, LabelTask] = {}
        self.carriages: dict[int, Carriage] = {}
        self.label_creates: dict[str, int] = {}
        self.carriage_calls = {"create": 0, "approve": 0}
        # Real seconds the next /v1/carriage/create reply is held back (a reply lost in transit).
        self.stall_carriage_reply_seconds = 0.0
        self.push = PushConfig()
        self.push_stats = PushStats()
        self.webhook_url: str | None = None
        self._rng = random.Random(self.push.seed)
        self._ids = itertools.count(1)
        self._agenda: list[tuple[float, int, Callable[[], None]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._files: ThreadingHTTPServer | None = None
        self._sessions = threading.local()
        # Ozon sends notices concurrently; delivering them on the agenda thread would let a
        # slow webhook hold back every later action (cancellations, label readiness).
        self._senders: ThreadPoolExecutor | None = None

    # --- set-up -------------------------------------------------------------------

    def configure_push(self, webhook_url: str | None = None, config: PushConfig | None = None) -> None:
        with self._lock:
            if webhook_url is not None:
                self.webhook_url = webhook_url
            if config is not None:
                self.push = config
                self._rng = random.Random(config.seed)

    def add_posting(self, posting: SandboxPosting, *, at: float | None = None, cancel_after: float | None = None) -> None:
        """Create `posting` when the sandbox clock reaches `at` (now when None), then push
        TYPE_NEW_POSTING; with `cancel_after`, cancel it that many virtual seconds later."""
        def create() -> None:
            with self._lock:
                posting.in_process_at = self.clock.now()
                self.postings[posting.posting_number] = posting
                self._notify_new(posting)
            if cancel_after is not None:
                self.schedule(self.clock.now() + cancel_after, lambda: self.cancel(posting.posting_number))

        if at is None or at <= self.clock.now():
            create()
        else:
            self.schedule(at, create)

    def cancel(self, posting_number: str) -> None:
        with self._lock:
            posting = self.postings[posting_number]
            if posting.status in (DELIVERING, CANCELLED):
                return
            old = posting.status
            posting.status, posting.substatus = CANCELLED, "posting_canceled"
            self._notify(posting, {
                "message_type": "TYPE_POSTING_CANCELLED", "posting_number": posting_number,
                "products": [{"sku": p["sku"], "quantity": p["quantity"]} for p in posting.products],
                "old_state": PUSH_STATES.get(old, "posting_created"), "new_state": "posting_canceled",
                "changed_state_date": iso(self.clock.now()), "reason": {"id": 352, "message": "Нет в наличии"},
                "warehouse_id": posting.warehouse_id, "seller_id": 15})

    # --- the Ozon methods -----------------------------------------------------------

    def get(self, body: dict) -> dict:
        with self._lock:
            return {"result": self._posting(body.get("posting_number")).to_json()}

    def unfulfilled(self, body: dict) -> dict:
        limit = _parse_limit(body.get("limit"), UNFULFILLED_PAGE_MAX)
        filter_ = body.get("filter") or {}
        if not isinstance(filter_, dict):
            raise ApiError(400, "filter must be an object")
        start = _parse_time(filter_["cutoff_from"], "filter.cutoff_from") if filter_.get("cutoff_from") else None
        end = _parse_time(filter_["cutoff_to"], "filter.cutoff_to") if filter_.get("cutoff_to") else None
        statuses = set(filter_.get("statuses") or [AWAITING_PACKAGING, AWAITING_DELIVER])
        cursor = body.get("cursor") or ""
        offset = int(cursor) if cursor.isdigit() else 0
        if cursor and not cursor.isdigit():
            raise ApiError(400, f"cursor {cursor!r} is invalid; pass the cursor of the previous page")
        with self._lock:
            matching = [p for p in sorted(self.postings.values(), key=lambda p: (p.shipment_date, p.posting_number))
                        if p.status in statuses and (start is None or p.shipment_date >= start)
                        and (end is None or p.shipment_date <= end)]
            page = matching[offset:offset + limit]
            has_next = offset + limit < len(matching)
            return {"postings": [p.to_json() for p in page], "cursor": str(offset + limit) if has_next else "",
                    "has_next": has_next}

    def ship(self, body: dict) -> dict:
        packages = body.get("packages")
        if not isinstance(packages, list) or not packages:
            raise ApiError(400, "packages is required and must be a non-empty array")
        with self._lock:
            posting = self._posting(body.get("posting_number"))
            posting.ship_calls += 1
            if posting.status != AWAITING_PACKAGING:
                raise ApiError(400, f"POSTING_ALREADY_SHIPPED: posting {posting.posting_number} is {posting.status}")
            shipped: dict[int, int] = {}
            for package in packages:
                for product in package.get("products") or []:
                    sku = _as_int(product.get("product_id"), "packages[].products[].product_id")
                    shipped[sku] = shipped.get(sku, 0) + _as_int(product.get("quantity"), "quantity")
            ordered = {p["sku"]: p["quantity"] for p in posting.products}
            if shipped != ordered:
                raise ApiError(400, f"INVALID_PRODUCTS: packages hold {shipped}, the posting has {ordered}")
            if posting.fail_ship:
                # Ozon returns 200 and reports the failure in the substatus only.
                posting.substatus = "ship_failed"
                return {"result": [posting.posting_number], "additional_data": []}
            now = self.clock.now()
            posting.status, posting.substatus = AWAITING_DELIVER, "posting_awaiting_passport_data"
            posting.label_ready_at = now + self._rng.uniform(LABEL_READY_MIN_SECONDS, LABEL_READY_MAX_SECONDS)
            self._notify(posting, {"message_type": "TYPE_STATE_CHANGED", "posting_number": posting.posting_number,
                                   "new_state": PUSH_STATES[AWAITING_DELIVER], "changed_state_date": iso(now),
                                   "warehouse_id": posting.warehouse_id, "seller_id": 15})
            return {"result": [posting.posting_number], "additional_data": []}

    def create_labels(self, body: dict) -> dict:
        numbers = body.get("posting_numbers")
        if not isinstance(numbers, list) or not 1 <= len(numbers) <= LABEL_TASK_MAX:
            raise ApiError(400, f"posting_numbers must hold 1 to {LABEL_TASK_MAX} posting numbers")
        with self._lock:
            for number in numbers:
                posting = self._posting(number)
                if posting.status != AWAITING_DELIVER:
                    raise ApiError(400, f"INVALID_ARGUMENT: labels are only made for awaiting_deliver postings; "
                                        f"{number} is {posting.status}")
                self.label_creates[number] = self.label_creates.get(number, 0) + 1
            task = LabelTask(next(self._ids), list(numbers), self.clock.now())
            self.tasks[task.task_id] = task
            return {"tasks": [{"task_id": task.task_id, "task_type": "big_label"}]}

    def get_labels(self, body: dict) -> dict:
        task_id = _as_int(body.get("task_id"), "task_id")
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None:
                raise ApiError(404, f"label task {task_id} not found")
            postings = [self.postings[number] for number in task.posting_numbers]
            now = self.clock.now()
            if any(p.label_ready_at is None or p.label_ready_at > now for p in postings):
                code = "in_progress" if now - task.created_at > 1 else "pending"
                return {"status": {"code": code, "postings_count": len(postings), "printed_postings_count": 0,
                                   "unprinted_postings": []}, "file_url": "", "error": None}
            unprinted = [{"posting_number": p.posting_number, "message": "posting is cancelled"}
                         for p in postings if p.status == CANCELLED]
            return {"status": {"code": "completed", "postings_count": len(postings),
                               "printed_postings_count": len(postings) - len(unprinted),
                               "unprinted_postings": unprinted},
                    "file_url": f"{self.file_base_url()}/labels/{task_id}.pdf", "error": None}

    def create_carriage(self, body: dict) -> dict:
        method_id = _as_int(body.get("delivery_method_id"), "delivery_method_id")
        departure = _parse_time(body["departure_date"], "departure_date") if body.get("departure_date") else self.clock.now()
        with self._lock:
            self.carriage_calls["create"] += 1
            ready = [p for p in self.postings.values()
                     if p.delivery_method_id == method_id and p.status == AWAITING_DELIVER and p.carriage_id is None]
            if not ready:
                raise ApiError(400, "POSTING_NOT_FOUND: no postings ready for a new carriage")
            carriage = Carriage(next(self._ids), method_id, departure, [p.posting_number for p in ready])
            for posting in ready:
                posting.carriage_id = carriage.carriage_id
            self.carriages[carriage.carriage_id] = carriage
            stall, self.stall_carriage_reply_seconds = self.stall_carriage_reply_seconds, 0.0
        if stall:
            # The carriage exists, but its reply comes after the client has given up.
            time.sleep(stall)
        return {"carriage_id": carriage.carriage_id}

    def delivery_list(self, body: dict) -> dict:
        method_id = _as_int(body.get("delivery_method_id"), "delivery_method_id")
        departure = _parse_time(body["departure_date"], "departure_date") if body.get("departure_date") else self.clock.now()
        day = _day(departure)
        with self._lock:
            carriages = [{"id": str(c.carriage_id), "status": c.status, "postings_count": len(c.posting_numbers),
                          "quantum_count": 0} for c in self.carriages.values()
                         if c.delivery_method_id == method_id and _day(c.departure_date) == day]
        return {"result": [{"delivery_method_id": method_id, "carriages": carriages, "errors": [],
                            "departure_date": iso(departure)}]}

    def approve_carriage(self, body: dict) -> dict:
        with self._lock:
            carriage = self._carriage(body)
            self.carriage_calls["approve"] += 1
            if carriage.status != "new":
                raise ApiError(400, f"Incorrect_carriage_status: carriage {carriage.carriage_id} is {carriage.status}")
            carriage.status = "formed"
            for number in carriage.posting_numbers:
                posting = self.postings[number]
                if posting.status == AWAITING_DELIVER:
                    posting.status, posting.substatus = DELIVERING, "posting_in_carriage"
            return {}

    def get_carriage(self, body: dict) -> dict:
        with self._lock:
            carriage = self._carriage(body)
            return {"carriage_id": carriage.carriage_id, "status": carriage.status,
                    "delivery_method_id": carriage.delivery_method_id, "departure_date": iso(carriage.departure_date),
                    "warehouse_id": self.postings[carriage.posting_numbers[0]].warehouse_id,
                    "available_actions": [], "arrival_pass_ids": []}

    def _posting(self, number: Any) -> SandboxPosting:
        if not isinstance(number, str) or not number:
            raise ApiError(400, "posting_number is required")
        posting = self.postings.get(number)
        if posting is None:
            raise ApiError(404, "Posting not found")
        return posting

    def _carriage(self, body: dict) -> Carriage:
        carriage_id = _as_int(body.get("carriage_id"), "carriage_id")
        carriage = self.carriages.get(carriage_id)
        if carriage is None:
            raise ApiError(404, f"carriage {carriage_id} not found")
        return carriage

    # --- push notices ---------------------------------------------------------------

    def _notify_new(self, posting: SandboxPosting) -> None:
        self._notify(posting, {
            "message_type": "TYPE_NEW_POSTING", "posting_number": posting.posting_number,
            "products": [{"sku": p["sku"], "offer_id": p["offer_id"], "quantity": p["quantity"]}
                         for p in posting.products],
            "in_process_at": iso(posting.in_process_at), "warehouse_id": posting.warehouse_id,
            "shipment_date": iso(posting.shipment_date), "tpl_integration_type": "ozon", "is_express": False,
            "seller_id": 15})

    def _notify(self, posting: SandboxPosting, notice: dict) -> None:
        """Schedule one notice as PushConfig draws it: lost, late, out of order, duplicated."""
        config, stats, now = self.push, self.push_stats, self.clock.now()
        stats.scheduled += 1
        if self._rng.random() < config.lost_share:
            stats.lost += 1
            return
        due = now
        if self._rng.random() < config.late_share:
            stats.late += 1
            due += self._rng.uniform(*config.late_seconds)
        elif self._rng.random() < config.out_of_order_share:
            stats.out_of_order += 1
            due += LABEL_READY_MAX_SECONDS * 2
        body = json.dumps(notice, ensure_ascii=False).encode()
        self.schedule(due, lambda: self._send(body, 1))
        if self._rng.random() < config.duplicate_share:
            stats.duplicated += 1
            self.schedule(due + self._rng.uniform(0.0, 5.0), lambda: self._send(body, 1))

    def _session(self) -> requests.Session:
        # requests does not promise that one Session is safe across threads.
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def _send(self, body: bytes, attempt: int) -> None:
        if self._senders is None:
            self._deliver(body, attempt)
        else:
            self._senders.submit(self._deliver, body, attempt)

    def _deliver(self, body: bytes, attempt: int) -> None:
        url = self.webhook_url
        if url is None:
            return
        try:
            status = self._session().post(url, data=body, headers={"Content-Type": "application/json"},
                                        timeout=5).status_code
        except requests.RequestException as error:
            logger.warning("push to the webhook failed: %s", type(error).__name__)
            status = 0
        with self._lock:
            self.push_stats.delivered[status] = self.push_stats.delivered.get(status, 0) + 1
            if status != 200:
                self.push_stats.failed += 1
                if attempt < PUSH_MAX_ATTEMPTS:
                    self.schedule(self.clock.now() + PUSH_RETRY_SECONDS * attempt,
                                  lambda: self._send(body, attempt + 1))

    # --- the agenda and the file server ---------------------------------------------

    def schedule(self, due: float, action: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._agenda, (due, next(self._ids), action))

    def pending(self) -> int:
        with self._lock:
            return len(self._agenda)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._files = _FileServer(("127.0.0.1", 0), self)
        threading.Thread(target=self._files.serve_forever, kwargs={"poll_interval": 0.05},
                         name="sandbox-labels", daemon=True).start()
        self._stop.clear()
        self._senders = ThreadPoolExecutor(max_workers=PUSH_SENDERS, thread_name_prefix="sandbox-push-send")
        self._thread = threading.Thread(target=self._run_agenda, name="sandbox-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._senders is not None:
            self._senders.shutdown(wait=True, cancel_futures=True)
            self._senders = None
        if self._files is not None:
            self._files.shutdown()
            self._files.server_close()
            self._files = None

    def file_base_url(self) -> str:
        if self._files is None:
            self.start()
        host, port = self._files.server_address[:2]
        return f"http://{host}:{port}"

    def _run_agenda(self) -> None:
        while not self._stop.is_set():
            due_actions = []
            with self._lock:
                now = self.clock.now()
                while self._agenda and self._agenda[0][0] <= now:
                    due_actions.append(heapq.heappop(self._agenda)[2])
            for action in due_actions:
                try:
                    action()
                except Exception:
                    logger.exception("sandbox agenda action failed")
            if not due_actions:
                self._stop.wait(TICK_SECONDS)

    def label_pdf(self, task_id: int) -> bytes | None:
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None:
                return None
            postings = [self.postings[number] for number in task.posting_numbers]
        return draw_labels(postings)


def draw_labels(postings: list[SandboxPosting]) -> bytes:
    """Draw a 75x120 mm label per posting: a Code 128 barcode page and a second page."""
    buffer = io.BytesIO()
    page = (75 * mm, 120 * mm)
    pdf = canvas.Canvas(buffer, pagesize=page, pageCompression=0)
    for posting in postings:
        barcode = code128.Code128(posting.posting_number, barHeight=25 * mm, barWidth=0.35 * mm)
        barcode.drawOn(pdf, 5 * mm, 80 * mm)
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(5 * mm, 70 * mm, posting.posting_number)
        pdf.setFont("Helvetica", 9)
        pdf.drawString(5 * mm, 62 * mm, f"warehouse {posting.warehouse_id}")
        pdf.drawString(5 * mm, 56 * mm, f"ship by {iso(posting.shipment_date)}")
        for line, product in enumerate(posting.products[:5]):
            pdf.drawString(5 * mm, (48 - 6 * line) * mm, f"{product['offer_id']} x{product['quantity']}")
        pdf.showPage()
        pdf.setFont("Helvetica", 9)
        pdf.drawString(5 * mm, 100 * mm, f"{posting.posting_number}: page 2 (sender copy)")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


class _FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], book: PostingBook) -> None:
        self.book = book
        super().__init__(address, _FileHandler)


class _FileHandler(BaseHTTPRequestHandler):
    server: _FileServer
    # Headers and body go out in two sends: without this, each download waits for a delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        body = None
        if self.path.startswith("/labels/") and name.endswith(".pdf") and name[:-4].isdigit():
            body = self.server.book.label_pdf(int(name[:-4]))
        if body is None:
            self.send_error(404, "label file not found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug(format, *args)


_books: "weakref.WeakKeyDictionary[Sandbox, PostingBook]" = weakref.WeakKeyDictionary()
_books_lock = threading.Lock()


def book_of(sandbox: Sandbox) -> PostingBook:
    """Return the posting book of a sandbox, created on first use."""
    with _books_lock:
        book = _books.get(sandbox)
        if book is None:
            book = _books[sandbox] = PostingBook(sandbox)
        return book


def _method(name: str) -> Callable[[Sandbox, dict], dict]:
    def handle(sandbox: Sandbox, body: dict) -> dict:
        return getattr(book_of(sandbox), name)(body)
    return handle


POSTING_METHODS: dict[str, PostingMethod] = {
    "/v3/posting/fbs/get": PostingMethod(_method("get"), write=False),
    "/v4/posting/fbs/unfulfilled/list": PostingMethod(_method("unfulfilled"), write=False),
    "/v4/posting/fbs/ship": PostingMethod(_method("ship"), write=True),
    "/v3/posting/fbs/package-label/create": PostingMethod(_method("create_labels"), write=True),
    "/v2/posting/fbs/package-label/get": PostingMethod(_method("get_labels"), write=False),
    "/v1/carriage/create": PostingMethod(_method("create_carriage"), write=True),
    "/v1/carriage/approve": PostingMethod(_method("approve_carriage"), write=True),
    "/v1/carriage/get": PostingMethod(_method("get_carriage"), write=False),
    "/v1/carriage/delivery/list": PostingMethod(_method("delivery_list"), write=False),
}
