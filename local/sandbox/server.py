"""The sandbox's HTTP server: a local stand-in for https://api-seller.ozon.ru.

Built on the standard library's ThreadingHTTPServer with HTTP/1.1 keep-alive, so a
`requests.Session` reuses its connection. It binds to loopback addresses only.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Iterable
from urllib.parse import parse_qsl, urlsplit

from chalicelib.clock import Clock
from local.sandbox.catalog import DEFAULT_WAREHOUSES, Warehouse
from local.sandbox.errors import error_body
from local.sandbox.faults import FaultConfig
from local.sandbox.limits import Limits
from local.sandbox.router import Reply, handle_request
from local.sandbox.state import Sandbox

logger = logging.getLogger("local.sandbox")

# Larger bodies are rejected: 100 stock items take about 10 KiB.
MAX_BODY_BYTES = 8 * 1024 * 1024


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        # Set on stop, so that requests sleeping through an injected stall end early.
        self.stopping = threading.Event()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        try:
            reply = handle_request(self.server.sandbox, method, url.path, query, self.headers, body)
        except Exception:
            # Headers are left out of the log on purpose: they carry the Api-Key.
            logger.exception("sandbox failed to handle %s %s", method, url.path)
            reply = Reply(500, error_body(500, "Internal error", "string", 1))

        if reply.delay_seconds > 0:
            self.server.stopping.wait(reply.delay_seconds)
        self._send(reply)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_plain_error(411, "chunked bodies are not supported; send Content-Length")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._send_plain_error(400, "Content-Length must be an integer")
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self._send_plain_error(413, f"request body must be 0..{MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(length) if length else b""

    def _send_plain_error(self, status: int, message: str) -> None:
        # The unread body would corrupt the next request on this connection.
        logger.warning("rejected request to %s with HTTP %s: %s", self.path, status, message)
        self.close_connection = True
        self._send(Reply(status, error_body(status, message, "string", 1)))

    def _send(self, reply: Reply) -> None:
        payload = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError) as error:
            # The client gave up, which is what an injected timeout is for.
            logger.debug("client closed the connection before the %s reply to %s: %s",
                         reply.status, self.path, error)
            self.close_connection = True

    def version_string(self) -> str:
        return "ozon-sandbox"

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class SandboxServer:
    """Runs a `Sandbox` behind HTTP on a background thread.

    Usage: `with SandboxServer(("client-id", "key"), clock=ManualClock()) as server:`,
    then send requests to `server.base_url`; `server.sandbox` seeds and inspects state.
    """

    def __init__(
        self,
        credentials: tuple[str, str],
        clock: Clock | None = None,
        faults: FaultConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Limits | None = None,
        warehouses: Iterable[Warehouse] = DEFAULT_WAREHOUSES,
    ) -> None:
        _require_loopback(host)
        self.host = host
        self.port = port
        self.sandbox = Sandbox(credentials, clock, faults, limits=limits, warehouses=warehouses)
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._http is None:
            raise RuntimeError("the sandbox server is not running, so call start() first")
        host, port = self._http.server_address[:2]
        host_text = f"[{host}]" if ":" in str(host) else host
        return f"http://{host_text}:{port}"

    def start(self) -> str:
        """Bind, serve on a daemon thread and return the base URL."""
        if self._http is not None:
            return self.base_url
        self._http = _HttpServer((self.host, self.port), self.sandbox)
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ozon-sandbox",
            daemon=True,
        )
        self._thread.start()
        logger.info("Ozon sandbox listening on %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving, wake requests sleeping through a stall and close the socket."""
        if self._http is None:
            return
        self._http.stopping.set()
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        logger.info("Ozon sandbox on port %s stopped", self._http.server_address[1])
        self._http = None
        self._thread = None

    def __enter__(self) -> "SandboxServer":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError as error:
        raise ValueError(f"sandbox host {host!r} is not an IP address. Use 127.0.0.1") from error
    if not loopback:
        raise ValueError(f"sandbox host {host!r} is not a loopback address. Use 127.0.0.1")
