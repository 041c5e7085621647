"""Run the Ozon sandbox on its own: `python -m local.sandbox --port 8788 ...`.

The Api-Key is read from the environment variable named by `--api-key-env`, never from
the command line, where other users of the machine could see it in the process list.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from chalicelib.clock import ScaledClock
from local.sandbox.server import SandboxServer

logger = logging.getLogger("local.sandbox")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.sandbox",
        description="Local stand-in for the Ozon Seller API stock methods.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8788, help="TCP port (0 picks a free one)")
    parser.add_argument("--client-id", required=True, help="Client-Id that requests must send")
    parser.add_argument(
        "--api-key-env",
        default="OZON_API_KEY",
        help="name of the environment variable holding the Api-Key",
    )
    parser.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        help="virtual seconds per real second for the rate limits",
    )
    parser.add_argument(
        "--clock-origin",
        type=float,
        default=None,
        help="epoch seconds where virtual and real time meet (the pipeline must use the same)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level, e.g. DEBUG")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )

    api_key = os.environ.get(args.api_key_env)
    if not api_key:
        logger.error(
            "environment variable %s is empty or not set. Export the Api-Key in it and start again",
            args.api_key_env,
        )
        return 2

    clock = ScaledClock(speed=args.clock_speed, origin=args.clock_origin)
    server = SandboxServer((args.client_id, api_key), clock=clock, host=args.host, port=args.port)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with server:
        # The URL goes to stdout so that a parent process can read the port it got.
        print(server.base_url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
