"""The Chalice app's HTTP routes served in-process on 127.0.0.1, as `chalice local` does.

Requests go through Chalice's `LocalGateway`, so route handlers get the same Lambda proxy
event as behind API Gateway. Unlike `chalice local`, which always reports 127.0.0.1, the
event's `requestContext.identity.sourceIp` is the peer address of the TCP connection, so
sender checks see the real client address (a test may connect from 127.0.0.2).

Chalice keeps `app.current_request` on the app object, so requests are served one at a
time: a lock covers each call into the gateway.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LambdaEventConverter, LocalGateway, ThreadedHTTPServer

logger = logging.getLogger("local.webhook")


class _PeerEventConverter(LambdaEventConverter):
    """Builds API Gateway events whose source address is the current request's peer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peer = threading.local()

    def create_lambda_event(self, method: str, path: str, headers: dict[str, str],
                            body: bytes | None = None) -> dict[str, Any]:
        event = super().create_lambda_event(method, path, headers, body)
        event["requestContext"]["identity"]["sourceIp"] = getattr(self.peer, "address", None)
        return event


class _Handler(ChaliceRequestHandler):
    server: "_Server"
    # http.server writes the headers and the body in two sends. With Nagle's algorithm on, the
    # body of every reply waits for the client's delayed ACK (40 ms on Linux).
    disable_nagle_algorithm = True

    def __init__(self, request: Any, client_address: tuple[str, int], server: "_Server") -> None:
        # One gateway per server: ChaliceRequestHandler builds one per request.
        self.local_gateway = server.gateway
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def _generic_handle(self) -> None:
        with self.server.lock:
            self.server.converter.peer.address = self.client_address[0]
            super()._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)


class _Server(ThreadedHTTPServer):
    def __init__(self, address: tuple[str, int], gateway: LocalGateway, converter: _PeerEventConverter) -> None:
        self.gateway = gateway
        self.converter = converter
        self.lock = threading.Lock()
        super().__init__(address, _Handler)


class WebhookServer:
    """Serves `app`'s routes on 127.0.0.1 on a background thread; `base_url` is its address."""

    def __init__(self, app: Chalice, port: int = 0, stage: str = "local") -> None:
        config = Config.create(chalice_stage=stage, app_name=app.app_name, lambda_timeout=60,
                               lambda_memory_size=128, function_name="api_handler")
        self._gateway = LocalGateway(app, config)
        self._converter = _PeerEventConverter(self._gateway.event_converter._route_matcher,
                                              app.api.binary_types)
        self._gateway.event_converter = self._converter
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the webhook server is not running, so call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        if self._server is None:
            self._server = _Server(("127.0.0.1", self._port), self._gateway, self._converter)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="chalice-routes", daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
