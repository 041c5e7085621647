"""A fake Telegram Bot API on 127.0.0.1: `sendMessage` for one bot token.

It responds in the Bot API's shapes: `{"ok": true, "result": Message}` on success and
`{"ok": false, "error_code", "description"[, "parameters"]}` on failure. A wrong token
gets 401 "Unauthorized", an unknown chat 400 "Bad Request: chat not found", a blocked chat
403 "Forbidden: bot was blocked by the user". Tests can script the next calls: 429 with
`parameters.retry_after`, a 5xx, or a stalled response. Delivered messages are recorded.
The server logs nothing, because every request path contains the token.

    fake = TelegramFake("123:token", chat_ids=["-1001"])
    base_url = fake.start()
    ...
    fake.stop()
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable

# sendMessage takes 1-4096 characters; counted here in UTF-16 code units, as the client cuts.
MAX_TEXT_LENGTH = 4096


@dataclass(frozen=True)
class SentMessage:
    """One message the fake accepted."""

    message_id: int
    chat_id: str
    text: str
    link_preview_disabled: bool


@dataclass(frozen=True)
class _Scripted:
    status: int
    retry_after: int | None = None
    stall_seconds: float = 0.0


class TelegramFake:
    """The fake Bot API server; see the module docstring."""

    def __init__(self, token: str, chat_ids: Iterable[str]) -> None:
        self.token = token
        self._chat_ids = {str(chat_id) for chat_id in chat_ids}
        self._blocked: set[str] = set()
        self._scripted: deque[_Scripted] = deque()
        self._messages: list[SentMessage] = []
        self._calls = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"TelegramFake(base_url={self.base_url!r}, token=***)"

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> str:
        """Start serving on 127.0.0.1 at a free port; return the base URL (no /bot part)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="telegram-fake", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            return ""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- what tests read and script ---------------------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def calls(self) -> int:
        """Requests received with the right token, with or without a response."""
        with self._lock:
            return self._calls

    def rate_limit_next(self, count: int, retry_after: int | None) -> None:
        """Respond to the next `count` calls with 429 and `parameters.retry_after` (seconds).

        With `retry_after=None` the response has no `parameters`, as a proxy's 429 might.
        """
        self._script(count, _Scripted(429, retry_after=retry_after))

    def fail_next(self, count: int, status: int = 502) -> None:
        """Respond to the next `count` calls with a server error."""
        self._script(count, _Scripted(status))

    def stall_next(self, count: int, seconds: float) -> None:
        """Delay the response to the next `count` calls by `seconds`, then deliver normally."""
        self._script(count, _Scripted(200, stall_seconds=seconds))

    def block_chat(self, chat_id: str) -> None:
        """Respond to calls for `chat_id` with 403, as when the user blocked the bot."""
        with self._lock:
            self._blocked.add(str(chat_id))

    def _script(self, count: int, response: _Scripted) -> None:
        with self._lock:
            self._scripted.extend([response] * count)

    # --- request handling --------------------------------------------------------

    def respond(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Return the status and JSON body of the response to one POST to `path`."""
        prefix, _, method = path.lstrip("/").partition("/")
        if prefix != f"bot{self.token}":
            return _error(401, "Unauthorized")
        if method != "sendMessage":
            return _error(404, "Not Found")

        scripted = self._next_scripted()
        if scripted is not None and scripted.stall_seconds:
            time.sleep(scripted.stall_seconds)
        elif scripted is not None and scripted.status == 429 and scripted.retry_after is None:
            return _error(429, "Too Many Requests")
        elif scripted is not None and scripted.status == 429:
            return _error(429, f"Too Many Requests: retry after {scripted.retry_after}",
                          {"retry_after": scripted.retry_after})
        elif scripted is not None:
            return _error(scripted.status, "Internal Server Error")
        return self._send_message(body)

    def _next_scripted(self) -> _Scripted | None:
        with self._lock:
            self._calls += 1
            return self._scripted.popleft() if self._scripted else None

    def _send_message(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "Bad Request: can't parse JSON object")
        chat_id = str(request.get("chat_id", ""))
        text = request.get("text")

        if chat_id not in self._chat_ids:
            return _error(400, "Bad Request: chat not found")
        if chat_id in self._blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > MAX_TEXT_LENGTH:
            return _error(400, "Bad Request: message is too long")
        return 200, {"ok": True, "result": self._record(request, chat_id, text)}

    def _record(self, request: dict[str, Any], chat_id: str, text: str) -> dict[str, Any]:
        preview = request.get("link_preview_options") or {}
        disabled = bool(preview.get("is_disabled")) or bool(request.get("disable_web_page_preview"))
        with self._lock:
            message = SentMessage(len(self._messages) + 1, chat_id, text, disabled)
            self._messages.append(message)
        numeric = chat_id.lstrip("-").isdigit()
        return {"message_id": message.message_id, "date": int(time.time()), "text": text,
                "chat": {"id": int(chat_id) if numeric else chat_id, "type": "private"}}


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


def _handler_for(fake: TelegramFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("Content-Length") or 0)
            status, body = fake.respond(self.path, self.rfile.read(length))
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test), so no one reads the response

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            # The request line contains the bot token, so nothing is logged.
            return

    return Handler


# The chat the local stack's alerts go to (a supergroup id has this shape).
LOCAL_CHAT_ID = "-1000000000001"


def new_bot_token() -> str:
    """Return a random token in the Bot API's `<bot id>:<secret>` shape."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)}"


def telegram_environment(fake: TelegramFake, chat_id: str = LOCAL_CHAT_ID) -> dict[str, str]:
    """Environment that points the app's forwarder at `fake` (tests may override any of it)."""
    return {"TELEGRAM_API_URL": fake.base_url, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_CHAT_ID": chat_id,
            "TELEGRAM_TIMEOUT_SECONDS": "2"}
