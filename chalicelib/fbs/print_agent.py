"""The print agent that runs at the warehouse next to a CUPS printer.

It polls the service for print-requested batches and downloads each batch PDF by its
presigned URL, checking the SHA-256. It sends the PDF to the printer with `lp -d <printer>`
and reports the job as printed once CUPS lists it as completed, or as failed with the error.
Network calls and `lp` are retried a bounded number of times. The agent token is read
from an environment variable and never logged; neither are the presigned URLs.

    PRINT_AGENT_TOKEN=... python -m chalicelib.fbs.print_agent \\
        --api https://example.execute-api.eu-central-1.amazonaws.com/api \\
        --token-env PRINT_AGENT_TOKEN --printer Zebra
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import requests

log = logging.getLogger("print_agent")
T = TypeVar("T")
JOB_ID = re.compile(r"request id is (\S+)")


class PrintAgentError(RuntimeError):
    """A step of one print job failed; the message names the step and what to check."""


@dataclass(frozen=True)
class AgentConfig:
    """Options of one agent; times are in seconds."""

    api: str
    token: str
    printer: str
    interval: float = 5.0
    attempts: int = 3
    retry_delay: float = 2.0
    timeout: float = 30.0
    wait_seconds: float = 120.0
    lp: str = "lp"
    lpstat: str = "lpstat"


def with_retries(action: Callable[[], T], what: str, attempts: int, delay: float) -> T:
    """Run `action` up to `attempts` times, sleeping `delay` × attempt between tries."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except (requests.RequestException, PrintAgentError) as error:
            if attempt == attempts:
                raise PrintAgentError(f"{what} failed after {attempts} attempts: {error}") from error
            log.warning("%s failed (attempt %d of %d): %s; retrying", what, attempt, attempts, error)
            time.sleep(delay * attempt)
    raise AssertionError("unreachable: attempts must be at least 1")


class ServiceApi:
    """The agent routes of the service, authenticated with the agent token."""

    def __init__(self, config: AgentConfig, session: requests.Session | None = None) -> None:
        self._config = config
        self._session = session or requests.Session()
        self._headers = {"Authorization": f"Bearer {config.token}"}

    def jobs(self) -> list[dict]:
        """Return the batches waiting for this agent."""
        response = self._session.get(f"{self._config.api}/agent/print-jobs", headers=self._headers,
                                     timeout=self._config.timeout)
        self._check(response, "GET /agent/print-jobs")
        return list(response.json()["jobs"])

    def report(self, batch_id: str, status: str, error: str | None = None) -> None:
        body = {"status": status, "printer": self._config.printer, "error": error}
        response = self._session.post(f"{self._config.api}/agent/print-jobs/{batch_id}", json=body,
                                      headers=self._headers, timeout=self._config.timeout)
        self._check(response, f"POST /agent/print-jobs/{batch_id} ({status})")

    @staticmethod
    def _check(response: requests.Response, what: str) -> None:
        if response.status_code in (401, 403):
            # Not retried: a wrong token stays wrong.
            raise PermissionError(f"{what} was rejected with HTTP {response.status_code}; check the agent "
                                  "token in the environment variable named by --token-env")
        if response.status_code >= 500:
            raise PrintAgentError(f"{what} returned HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ValueError(f"{what} returned HTTP {response.status_code}: {response.text[:300]}")


def download(session: requests.Session, job: dict, timeout: float) -> bytes:
    """Download a batch PDF and check its magic bytes and SHA-256."""
    response = session.get(job["url"], timeout=timeout)
    if response.status_code != 200:
        raise PrintAgentError(f"download of batch {job['batch_id']} returned HTTP {response.status_code}; "
                              "the link may have expired and is renewed on the next poll")
    pdf = response.content
    if not pdf.startswith(b"%PDF-"):
        raise PrintAgentError(f"download of batch {job['batch_id']} is not a PDF ({len(pdf)} bytes)")
    checksum = hashlib.sha256(pdf).hexdigest()
    if job.get("sha256") and checksum != job["sha256"]:
        raise PrintAgentError(f"batch {job['batch_id']} PDF has SHA-256 {checksum}, expected {job['sha256']}")
    return pdf


class CupsPrinter:
    """One CUPS queue, driven through the `lp` and `lpstat` commands."""

    def __init__(self, name: str, lp: str = "lp", lpstat: str = "lpstat", timeout: float = 30.0) -> None:
        self.name = name
        self._lp = lp
        self._lpstat = lpstat
        self._timeout = timeout

    def submit(self, pdf: Path, title: str) -> str:
        """Queue `pdf` on the printer; return the CUPS job id (for example `PDF-12`)."""
        output = self._run([self._lp, "-d", self.name, "-t", title, "--", str(pdf)], "lp")
        match = JOB_ID.search(output)
        if not match:
            raise PrintAgentError(f"lp printed no job id for printer {self.name!r}: {output.strip()[:300]}")
        return match.group(1)

    def wait_completed(self, job_id: str, wait_seconds: float, poll_seconds: float = 0.5) -> bool:
        """Wait until CUPS lists `job_id` as completed; False when `wait_seconds` pass first.

        NOTE: CUPS also lists cancelled and aborted jobs as completed, so a job an
        administrator cancels by hand is reported as printed.
        """
        deadline = time.monotonic() + wait_seconds
        while True:
            output = self._run([self._lpstat, "-W", "completed", "-o", self.name], "lpstat")
            if any(line.split(maxsplit=1)[0] == job_id for line in output.splitlines() if line.strip()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_seconds)

    def _run(self, command: Sequence[str], name: str) -> str:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=self._timeout, check=False)
        except FileNotFoundError as error:
            raise PrintAgentError(f"{name} not found; install the CUPS client (Debian: cups-client)") from error
        except subprocess.TimeoutExpired as error:
            raise PrintAgentError(f"{name} timed out after {self._timeout:.0f} s; check that cupsd runs") from error
        if result.returncode != 0:
            raise PrintAgentError(f"{name} exited with {result.returncode}: "
                                  f"{(result.stderr or result.stdout).strip()[:300]}")
        return result.stdout


class PrintAgent:
    """Polls for print jobs and prints them; see the module docstring."""

    def __init__(self, config: AgentConfig, api: ServiceApi | None = None, printer: CupsPrinter | None = None,
                 session: requests.Session | None = None) -> None:
        self.config = config
        self._session = session or requests.Session()
        self.api = api or ServiceApi(config, self._session)
        self.printer = printer or CupsPrinter(config.printer, config.lp, config.lpstat, config.timeout)

    def run_once(self) -> dict[str, int]:
        """Print every waiting job once; return how many were printed and how many failed."""
        counts = {"printed": 0, "failed": 0}
        jobs = self._retry(self.api.jobs, "polling for print jobs")
        for job in jobs:
            counts["printed" if self.print_job(job) else "failed"] += 1
        return counts

    def run_forever(self, stop: threading.Event) -> None:
        """Poll every `interval` seconds until `stop` is set; a failed poll is logged and retried."""
        log.info("print agent started: printer %s, service %s", self.config.printer, self.config.api)
        while not stop.is_set():
            try:
                counts = self.run_once()
                if counts["printed"] or counts["failed"]:
                    log.info("print jobs done: %d printed, %d failed", counts["printed"], counts["failed"])
            except (PrintAgentError, ValueError) as error:
                log.error("poll failed: %s", error)
            stop.wait(self.config.interval)
        log.info("print agent stopped")

    def print_job(self, job: dict) -> bool:
        """Print one job and report it; return True when it printed."""
        batch_id = job["batch_id"]
        try:
            self._retry(lambda: self.api.report(batch_id, "printing"), f"reporting batch {batch_id} printing")
            pdf = self._retry(lambda: download(self._session, job, self.config.timeout),
                              f"downloading batch {batch_id}")
            job_id = self._print(batch_id, pdf)
        except ValueError as error:
            # The service refused the report (for example the batch was cancelled): skip it.
            log.warning("batch %s skipped: %s", batch_id, error)
            return False
        except PrintAgentError as error:
            log.error("batch %s failed: %s", batch_id, error)
            self._report_failed(batch_id, str(error))
            return False

        self._retry(lambda: self.api.report(batch_id, "printed"), f"reporting batch {batch_id} printed")
        log.info("batch %s printed as CUPS job %s (%d pages)", batch_id, job_id, job.get("pages", 0))
        return True

    def _print(self, batch_id: str, pdf: bytes) -> str:
        with tempfile.TemporaryDirectory(prefix="print-agent-") as folder:
            path = Path(folder) / f"{batch_id}.pdf"
            path.write_bytes(pdf)
            job_id = self._retry(lambda: self.printer.submit(path, batch_id), f"lp for batch {batch_id}")
            if not self.printer.wait_completed(job_id, self.config.wait_seconds):
                raise PrintAgentError(f"CUPS job {job_id} of batch {batch_id} did not complete within "
                                      f"{self.config.wait_seconds:.0f} s; check printer {self.config.printer!r}")
        return job_id

    def _report_failed(self, batch_id: str, error: str) -> None:
        try:
            self._retry(lambda: self.api.report(batch_id, "failed", error), f"reporting batch {batch_id} failed")
        except (PrintAgentError, ValueError) as report_error:
            log.error("batch %s failure not reported: %s", batch_id, report_error)

    def _retry(self, action: Callable[[], T], what: str) -> T:
        return with_retries(action, what, self.config.attempts, self.config.retry_delay)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exit with code 2 and the reason on invalid options."""
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.fbs.print_agent",
        description="Print FBS label batches at the warehouse. The agent polls the service for batches an "
                    "operator sent to print, downloads each PDF by its short-lived link, prints it on a CUPS "
                    "printer with 'lp' and reports it printed or failed.",
        epilog="Example: PRINT_AGENT_TOKEN=... python -m chalicelib.fbs.print_agent --api "
               "https://<api-id>.execute-api.<region>.amazonaws.com/api --token-env PRINT_AGENT_TOKEN "
               "--printer Zebra. List printers with 'lpstat -p'. Exit codes: 0 stopped, 1 a job failed "
               "(with --once), 2 invalid options, a missing token or a rejected token.")

    parser.add_argument("--api", required=True,
                        help="base URL of the service API, including the stage (for example .../api)")
    parser.add_argument("--token-env", required=True, metavar="NAME",
                        help="name of the environment variable that contains the print agent token "
                             "(the token itself is never passed on the command line or logged)")
    parser.add_argument("--printer", required=True, metavar="NAME",
                        help="CUPS printer (queue) name passed to 'lp -d'")
    parser.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                        help="seconds between polls (default: %(default)s)")
    parser.add_argument("--attempts", type=int, default=3, metavar="N",
                        help="tries of each network call and of 'lp' before a job fails (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="timeout of one HTTP request or CUPS command (default: %(default)s)")
    parser.add_argument("--wait", type=float, default=120.0, metavar="SECONDS", dest="wait_seconds",
                        help="seconds to wait for CUPS to complete a job before reporting it failed "
                             "(default: %(default)s)")
    parser.add_argument("--once", action="store_true",
                        help="print the waiting jobs once and exit instead of polling")
    parser.add_argument("--verbose", action="store_true", help="log debug messages")

    args = parser.parse_args(argv)
    if args.attempts < 1 or args.interval <= 0 or args.timeout <= 0 or args.wait_seconds < 0:
        parser.error("--attempts must be at least 1, and --interval and --timeout positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the agent; return the exit code described in `--help`."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # urllib3 logs request URLs at debug level, and presigned URLs carry a signature.
    logging.getLogger("urllib3").setLevel(logging.INFO)
    token = os.environ.get(args.token_env, "").strip()
    if not token:
        log.error("environment variable %s is not set or empty; set it to the print agent token", args.token_env)
        return 2

    config = AgentConfig(api=args.api.rstrip("/"), token=token, printer=args.printer, interval=args.interval,
                         attempts=args.attempts, timeout=args.timeout, wait_seconds=args.wait_seconds)
    agent = PrintAgent(config)
    try:
        if args.once:
            counts = agent.run_once()
            log.info("print jobs done: %d printed, %d failed", counts["printed"], counts["failed"])
            return 1 if counts["failed"] else 0
        agent.run_forever(threading.Event())
    except PermissionError as error:
        log.error("%s", error)
        return 2
    except (PrintAgentError, ValueError) as error:
        log.error("%s", error)
        return 1
    except KeyboardInterrupt:
        log.info("print agent stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
