"""The operator screen and the print agent's API, behind the routes in app.py.

Operators open `GET /operator` (Russian, or English with `?lang=en`), sign in once with
the operator token (kept in an HttpOnly, SameSite=Strict cookie) and press "Печать" on a
batch. Scripts may send the same token as `Authorization: Bearer <token>` instead. The
print agent at the warehouse polls `GET /agent/print-jobs` and reports each job with
`POST /agent/print-jobs/{batch_id}`, authenticated with the agent token as a bearer
token. Both tokens come from settings or Secrets Manager and are compared in constant
time. Errors of the JSON routes have the shape `{"error": {"code", "message", "details"}}`.

Links and redirects are relative, so the pages work under API Gateway's stage prefix.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import html
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from http.cookies import SimpleCookie
from pathlib import Path
from string import Template
from typing import Callable, Mapping
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from chalice import Response

from chalicelib.fbs.models import PrintBatch
from chalicelib.fbs.print_batches import (
    AGENT_TRANSITIONS,
    BatchNotFoundError,
    BatchStateError,
    PrintBatchError,
    PrintQueue,
    day_of,
    zone_name,
)
from chalicelib.observability import logger, register_secret

TEMPLATES = Path(__file__).parent / "templates"
COOKIE_NAME = "ozon_ops_operator"
COOKIE_SECONDS = 12 * 3600
SECRET_MAX_AGE_SECONDS = 300
LANGUAGES = ("ru", "en")

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Печать этикеток FBS", "login_title": "Вход оператора", "token": "Токен оператора",
        "login": "Войти", "bad_token": "Неверный токен оператора.", "print": "Печать", "pdf": "PDF",
        "build": "Собрать партии за день", "previous": "← Предыдущий день", "next": "Следующий день →",
        "language": "English", "empty": "За этот день партий нет.",
        "batch": "Партия", "warehouse": "Склад", "ship_by": "Отгрузить до", "postings": "Отправлений",
        "pages": "Страниц", "status": "Статус", "action": "Действие",
        "times": "Время указано по часовому поясу склада: {zone}.",
        "requested": "Партия {batch_id} отправлена на печать.", "built": "Собрано партий: {count}.",
        "ready": "готова", "print_requested": "ждёт печати", "printing": "печатается",
        "printed": "напечатана", "failed": "ошибка печати",
    },
    "en": {
        "title": "FBS label printing", "login_title": "Operator sign-in", "token": "Operator token",
        "login": "Sign in", "bad_token": "Invalid operator token.", "print": "Print", "pdf": "PDF",
        "build": "Build the day's batches", "previous": "← Previous day", "next": "Next day →",
        "language": "Русский", "empty": "No batches for this day.",
        "batch": "Batch", "warehouse": "Warehouse", "ship_by": "Ship by", "postings": "Postings",
        "pages": "Pages", "status": "Status", "action": "Action",
        "times": "Times are in the warehouse's time zone: {zone}.",
        "requested": "Batch {batch_id} sent to the printer.", "built": "Batches built: {count}.",
        "ready": "ready", "print_requested": "waiting for the printer", "printing": "printing",
        "printed": "printed", "failed": "print failed",
    },
}


@dataclass(frozen=True)
class WebRequest:
    """The parts of a Chalice request the screens read, so they can be tested without Chalice."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes = b""

    @classmethod
    def from_chalice(cls, request) -> "WebRequest":
        headers = {key.lower(): value for key, value in (request.headers or {}).items()}
        return cls(headers, dict(request.query_params or {}), request.raw_body or b"")

    def form(self) -> dict[str, str]:
        """Return the urlencoded form fields (first value of each), or {} for another body."""
        if not self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return {}
        fields = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in fields.items()}

    def json(self) -> dict:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError as error:
            raise ValueError(f"request body is not JSON: {error}") from error
        if not isinstance(value, dict):
            raise ValueError("request body must be a JSON object")
        return value


def language(request: WebRequest) -> str:
    requested = request.query.get("lang") or request.form().get("lang") or "ru"
    return requested if requested in LANGUAGES else "ru"


# --- tokens ---------------------------------------------------------------------


class TokenSource:
    """One bearer token: a fixed value (local runs) or a Secrets Manager secret string.

    The secret is cached for five minutes, so a rotated token takes effect within that.
    Every loaded value is registered with the log filter.
    """

    def __init__(self, name: str, value: str | None, secret_name: str | None,
                 secrets: Callable[[], SecretsProvider] = SecretsProvider) -> None:
        self.name = name
        self._value = value
        self._secret_name = secret_name
        self._secrets = secrets

    def get(self) -> str | None:
        """Return the token, or None when neither a value nor a secret is configured."""
        token = self._from_secret() if self._secret_name else self._value
        if token:
            register_secret(token)
        return token or None

    def matches(self, presented: str | None) -> bool:
        """Compare `presented` with the token in constant time; False when either is missing."""
        expected = self.get()
        if not expected or not presented:
            return False
        return hmac.compare_digest(presented.encode(), expected.encode())

    def session(self) -> str | None:
        """Return the cookie value of a signed-in browser: an HMAC of the token, never the token."""
        expected = self.get()
        return session_value(expected) if expected else None

    def matches_session(self, presented: str | None) -> bool:
        expected = self.session()
        if not expected or not presented:
            return False
        return hmac.compare_digest(presented.encode(), expected.encode())

    def _from_secret(self) -> str | None:
        try:
            value = self._secrets().get(self._secret_name, max_age=SECRET_MAX_AGE_SECONDS)
        except GetParameterError as error:
            # Logged, not raised: the caller returns 401 and the operator sees a sign-in page.
            logger.error("cannot read token secret", extra={"token": self.name, "secret": self._secret_name,
                                                            "error": str(error)})
            return None
        return value.strip() if isinstance(value, str) else None


def bearer_token(request: WebRequest) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def cookie_token(request: WebRequest) -> str | None:
    cookie = SimpleCookie()
    try:
        cookie.load(request.headers.get("cookie", ""))
    except Exception:  # http.cookies raises CookieError and others on malformed input
        return None
    morsel = cookie.get(COOKIE_NAME)
    return morsel.value if morsel else None


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"operator-session", hashlib.sha256).hexdigest()


def operator_signed_in(request: WebRequest, token: TokenSource) -> bool:
    return token.matches(bearer_token(request)) or token.matches_session(cookie_token(request))


def same_origin(request: WebRequest) -> bool:
    """Reject a cross-site form post: a browser's Origin must name this host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def session_cookie(session: str, secure: bool) -> str:
    parts = [f"{COOKIE_NAME}={session}", "Path=/", "HttpOnly", "SameSite=Strict", f"Max-Age={COOKIE_SECONDS}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


# --- pages ------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def parse_day(value: str | None, today: str) -> str:
    """Return `value` when it is a YYYY-MM-DD date, else `today`."""
    try:
        return date.fromisoformat(value).isoformat() if value else today
    except ValueError:
        return today


def render_login(lang: str, day: str = "", *, failed: bool = False) -> str:
    """Render the sign-in form; `day` is carried through to the page after sign-in."""
    texts = TEXTS[lang]
    notice = f'<p class="notice" id="notice">{html.escape(texts["bad_token"])}</p>' if failed else ""
    return _template("login.html").substitute(
        lang=lang, day=html.escape(day), title=html.escape(texts["login_title"]), notice=notice,
        action="operator/login",
        token_label=html.escape(texts["token"]), login_label=html.escape(texts["login"]))


def render_operator_page(batches: list[PrintBatch], day: str, lang: str, notice: str = "",
                         zone: tzinfo = timezone.utc) -> str:
    """Render the batch table of `day` with times in `zone`; every text is escaped here."""
    texts = TEXTS[lang]
    other = "en" if lang == "ru" else "ru"
    shown = date.fromisoformat(day)
    headings = ("batch", "warehouse", "ship_by", "postings", "pages", "status", "action")
    rows = "\n".join(_batch_row(batch, day, lang, zone) for batch in batches)
    if not batches:
        rows = f'<tr><td colspan="{len(headings)}">{html.escape(texts["empty"])}</td></tr>'
    return _template("operator.html").substitute(
        lang=lang, title=html.escape(texts["title"]), day=day,
        previous_href=_page_href(lang, (shown - timedelta(days=1)).isoformat()),
        previous_label=html.escape(texts["previous"]),
        next_href=_page_href(lang, (shown + timedelta(days=1)).isoformat()), next_label=html.escape(texts["next"]),
        language_href=_page_href(other, day), language_label=html.escape(texts["language"]),
        notice=f'<p class="notice" id="notice">{html.escape(notice)}</p>' if notice else "",
        build_action="operator/batches/build", build_label=html.escape(texts["build"]),
        header="".join(f"<th>{html.escape(texts[name])}</th>" for name in headings),
        rows=rows, times_note=html.escape(texts["times"].format(zone=zone_name(zone))))


def _page_href(lang: str, day: str) -> str:
    return html.escape("operator?" + urlencode({"lang": lang, "day": day}))


def _batch_row(batch: PrintBatch, day: str, lang: str, zone: tzinfo) -> str:
    texts = TEXTS[lang]
    batch_id = html.escape(batch.batch_id)
    # A batch stuck in `printing` (the agent stopped mid-job) stays printable again.
    waiting = batch.status == "print_requested"
    status = html.escape(texts.get(batch.status, batch.status))
    if batch.status == "failed" and batch.error:
        status += f"<br><small>{html.escape(batch.error)}</small>"
    button = (f'<form method="post" action="operator/batches/{batch_id}/print">'
              f'<input type="hidden" name="lang" value="{lang}"><input type="hidden" name="day" value="{day}">'
              f'<button type="submit" id="print-{batch_id}"{" disabled" if waiting else ""}>'
              f'{html.escape(texts["print"])}</button></form> '
              f'<a href="operator/batches/{batch_id}/pdf">{html.escape(texts["pdf"])}</a>')
    cells = [batch_id, str(int(batch.warehouse_id)), f"{batch.ship_by.astimezone(zone):%d.%m.%Y %H:%M}",
             str(len(batch.posting_numbers)), str(int(batch.pages or 0))]
    return (f'<tr id="batch-{batch_id}" data-status="{html.escape(batch.status)}">'
            + "".join(f"<td>{cell}</td>" for cell in cells)
            + f'<td class="status-{html.escape(batch.status)}">{status}</td><td>{button}</td></tr>')


# --- responses ----------------------------------------------------------------------


def html_response(body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        "X-Frame-Options": "DENY", **(headers or {})})


def json_response(body: dict, status: int = 200) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store"})


def error_response(status: int, code: str, message: str, details: list | None = None) -> Response:
    return json_response({"error": {"code": code, "message": message, "details": details or []}}, status)


def redirect(location: str, headers: Mapping[str, str] | None = None) -> Response:
    # 303 makes the browser follow a form post with a GET, so a reload does not post again.
    return Response(body="", status_code=303, headers={"Location": location, "Cache-Control": "no-store",
                                                        **(headers or {})})


# --- routes -------------------------------------------------------------------------


def storage_errors_as_500(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Turn a storage failure of a route into a logged HTTP 500 with the error shape."""
    @functools.wraps(handler)
    def wrapper(*args, **kwargs) -> Response:
        try:
            return handler(*args, **kwargs)
        except PrintBatchError as error:
            logger.error("print route failed", extra={"route": handler.__name__, "error": str(error)})
            return error_response(500, "STORAGE_ERROR", str(error))
    return wrapper


class Screens:
    """Handlers of the operator and print agent routes.

    `build_day` builds a day's batches and returns how many it made; `now` is the service
    clock in UTC.
    """

    def __init__(self, queue: PrintQueue, build_day: Callable[[str], int], operator_token: TokenSource,
                 agent_token: TokenSource, now: Callable[[], datetime], zone: tzinfo = timezone.utc) -> None:
        self.queue = queue
        self.zone = zone
        self.build_day = build_day
        self.operator_token = operator_token
        self.agent_token = agent_token
        self.now = now

    @storage_errors_as_500
    def operator_page(self, request: WebRequest) -> Response:
        lang = language(request)
        if not operator_signed_in(request, self.operator_token):
            return html_response(render_login(lang, parse_day(request.query.get("day"), "")), 401)
        day = parse_day(request.query.get("day"), day_of(self.now()))
        return html_response(render_operator_page(self.queue.batches(day), day, lang, self._notice(request, lang),
                                                  self.zone))

    def operator_login(self, request: WebRequest) -> Response:
        lang = language(request)
        form = request.form()
        day = parse_day(form.get("day"), "")
        if not same_origin(request):
            return html_response(render_login(lang, day, failed=True), 403)
        if not self.operator_token.matches(form.get("token")):
            logger.warning("operator sign-in rejected")
            return html_response(render_login(lang, day, failed=True), 401)
        secure = request.headers.get("x-forwarded-proto", "http") == "https"
        cookie = session_cookie(self.operator_token.session() or "", secure)
        query = {"lang": lang, **({"day": day} if day else {})}
        return redirect("../operator?" + urlencode(query), {"Set-Cookie": cookie})

    @storage_errors_as_500
    def operator_print(self, request: WebRequest, batch_id: str) -> Response:
        """Mark a batch print-requested: a form post redirects back to the page, JSON gets the batch."""
        denied = self._operator_denied(request)
        if denied:
            return denied
        try:
            batch = self.queue.request(batch_id)
        except BatchNotFoundError as error:
            return error_response(404, "BATCH_NOT_FOUND", str(error))
        if not request.form():
            return json_response(batch_view(batch))
        form = request.form()
        query = {"lang": language(request), "day": form.get("day") or batch.day, "requested": batch_id}
        return redirect("../../../operator?" + urlencode(query))

    @storage_errors_as_500
    def operator_build(self, request: WebRequest) -> Response:
        denied = self._operator_denied(request)
        if denied:
            return denied
        form = request.form()
        try:
            fields = form or (request.json() if request.body else {})
        except ValueError as error:
            return error_response(400, "INVALID_REQUEST", str(error))
        day = parse_day(str(fields.get("day") or request.query.get("day") or ""), day_of(self.now()))
        try:
            count = self.build_day(day)
        except PrintBatchError as error:
            logger.error("print batch build failed", extra={"day": day, "error": str(error)})
            return error_response(500, "BATCH_BUILD_FAILED", str(error))
        if not form:
            return json_response({"day": day, "built": count})
        return redirect("../../operator?" + urlencode({"lang": language(request), "day": day, "built": count}))

    @storage_errors_as_500
    def operator_pdf(self, request: WebRequest, batch_id: str) -> Response:
        denied = self._operator_denied(request)
        if denied:
            return denied
        try:
            batch = self.queue.get(batch_id)
        except BatchNotFoundError as error:
            return error_response(404, "BATCH_NOT_FOUND", str(error))
        return Response(body="", status_code=302, headers={"Location": self.queue.download_url(batch),
                                                           "Cache-Control": "no-store"})

    @storage_errors_as_500
    def agent_jobs(self, request: WebRequest) -> Response:
        if not self.agent_token.matches(bearer_token(request)):
            return error_response(401, "UNAUTHORIZED", "missing or invalid agent token; send "
                                  "'Authorization: Bearer <PRINT_AGENT_TOKEN>'")
        return json_response({"jobs": self.queue.jobs()})

    @storage_errors_as_500
    def agent_report(self, request: WebRequest, batch_id: str) -> Response:
        """Apply `{"status": "printing"|"printed"|"failed", "printer": ..., "error": ...}`."""
        if not self.agent_token.matches(bearer_token(request)):
            return error_response(401, "UNAUTHORIZED", "missing or invalid agent token; send "
                                  "'Authorization: Bearer <PRINT_AGENT_TOKEN>'")
        try:
            report = request.json()
            if report.get("status") not in AGENT_TRANSITIONS:
                raise ValueError(f"status must be one of {', '.join(AGENT_TRANSITIONS)}, "
                                 f"got {report.get('status')!r}")
            batch = self.queue.report(batch_id, report["status"],
                                      printer=_text(report.get("printer")), error=_text(report.get("error")))
        except ValueError as error:
            return error_response(400, "INVALID_REQUEST", str(error))
        except BatchNotFoundError as error:
            return error_response(404, "BATCH_NOT_FOUND", str(error))
        except BatchStateError as error:
            return error_response(409, "INVALID_STATUS", str(error))
        return json_response(batch_view(batch))

    def _operator_denied(self, request: WebRequest) -> Response | None:
        if not operator_signed_in(request, self.operator_token):
            return error_response(401, "UNAUTHORIZED", "sign in at /operator or send "
                                  "'Authorization: Bearer <operator token>'")
        if not same_origin(request):
            return error_response(403, "FORBIDDEN", "cross-site request rejected; use the operator screen")
        return None

    def _notice(self, request: WebRequest, lang: str) -> str:
        texts = TEXTS[lang]
        if request.query.get("requested"):
            return texts["requested"].format(batch_id=request.query["requested"])
        if request.query.get("built", "").isdigit():
            return texts["built"].format(count=int(request.query["built"]))
        return ""


def batch_view(batch: PrintBatch) -> dict:
    """Return the JSON view of a batch."""
    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"batch_id": batch.batch_id, "warehouse_id": int(batch.warehouse_id), "day": batch.day,
            "ship_by": moment(batch.ship_by), "posting_numbers": list(batch.posting_numbers),
            "pages": int(batch.pages or 0), "pdf_sha256": batch.pdf_sha256, "status": batch.status,
            "requested_at": moment(batch.requested_at), "printed_at": moment(batch.printed_at),
            "printer": batch.printer, "error": batch.error}


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


# --- wiring -------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _secrets_provider(region: str, endpoint_url: str | None) -> SecretsProvider:
    # One provider per endpoint keeps its cache across requests.
    client = boto3.session.Session().client("secretsmanager", region_name=region, endpoint_url=endpoint_url)
    return SecretsProvider(boto3_client=client)


def screens() -> Screens:
    """Build the handlers from the current settings.

    Built per request because every part is cheap or cached elsewhere (clients, the
    table binding), so a settings change of the local stack takes effect at once.
    """
    from chalicelib.fbs import wiring
    from chalicelib.fbs.print_batches import BatchOptions, PrintBatchBuilder
    from chalicelib.settings import get_settings
    from chalicelib.stock import wiring as shared

    settings = get_settings()
    zone = ZoneInfo(settings.warehouse_timezone)
    store = wiring.store()  # binds the FBS models to their tables
    s3 = shared.client("s3")

    def secrets() -> SecretsProvider:
        return _secrets_provider(settings.region, settings.aws_endpoint_url)

    def build_day(day: str) -> int:
        options = BatchOptions(bucket=settings.bucket, keep_second_page=settings.print_keep_label_second_page,
                               font_path=Path(settings.print_font_path) if settings.print_font_path else None,
                               zone=zone)
        return len(PrintBatchBuilder(s3, options, store.now, store.record).build_day(day))

    return Screens(
        PrintQueue(s3, settings.bucket, settings.fbs_presign_seconds, store.now, store.record), build_day,
        TokenSource("operator", settings.operator_token, settings.operator_token_secret_name, secrets),
        TokenSource("print agent", settings.print_agent_token, settings.print_agent_token_secret_name,
                    secrets),
        store.now, zone)


def build_due_batches() -> dict[str, int]:
    """Build the batches of today and tomorrow (UTC, service clock); return the count per day.

    Tomorrow is included because postings due early in the UTC morning are packed the
    evening before.
    """
    handlers = screens()
    today = handlers.now()
    counts = {}
    for day in (day_of(today), day_of(today + timedelta(days=1))):
        counts[day] = handlers.build_day(day)
    logger.info("scheduled print batch build", extra={"batches": counts})
    return counts
