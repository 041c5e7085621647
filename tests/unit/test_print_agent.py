"""The print agent's parts that need no CUPS: retries, download checks, options, lp errors."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from chalicelib.fbs.print_agent import CupsPrinter, PrintAgentError, download, main, parse_args, with_retries

PDF = b"%PDF-1.4\n% a tiny stand-in body, checked only for magic and checksum\n%%EOF\n"


@pytest.fixture
def file_server():
    """Serve `bodies[path]` on 127.0.0.1; a missing path returns 404."""
    bodies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = bodies.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    server.shutdown()


def test_retries_until_success():
    # GIVEN an action that fails twice
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise PrintAgentError("temporary")
        return "done"

    # WHEN it runs with three attempts THEN the third result is returned
    assert with_retries(flaky, "flaky step", attempts=3, delay=0) == "done"
    assert len(calls) == 3


def test_retries_are_bounded():
    # GIVEN an action that always fails
    calls = []

    def broken():
        calls.append(1)
        raise requests.ConnectionError("refused")

    # WHEN it runs with two attempts
    with pytest.raises(PrintAgentError) as error:
        with_retries(broken, "polling", attempts=2, delay=0)

    # THEN it stops after two and names the step
    assert len(calls) == 2
    assert "polling failed after 2 attempts" in str(error.value)


def test_download_checks_checksum(file_server):
    # GIVEN a served PDF
    url, bodies = file_server
    bodies["/batch.pdf"] = PDF
    job = {"batch_id": "b-1", "url": f"{url}/batch.pdf", "sha256": hashlib.sha256(PDF).hexdigest()}

    # WHEN it is downloaded with the right and a wrong checksum
    good = download(requests.Session(), job, timeout=5)
    with pytest.raises(PrintAgentError) as error:
        download(requests.Session(), {**job, "sha256": "0" * 64}, timeout=5)

    # THEN the right one returns the bytes and the wrong one names the batch
    assert good == PDF
    assert "b-1" in str(error.value)
    assert "expected " + "0" * 64 in str(error.value)


def test_download_rejects_non_pdf(file_server):
    # GIVEN an error page where the PDF should be, and a missing object
    url, bodies = file_server
    bodies["/batch.pdf"] = b"<Error>AccessDenied</Error>"

    # WHEN both are downloaded THEN each raises with the reason
    with pytest.raises(PrintAgentError, match="not a PDF"):
        download(requests.Session(), {"batch_id": "b-2", "url": f"{url}/batch.pdf"}, timeout=5)
    with pytest.raises(PrintAgentError, match="HTTP 404"):
        download(requests.Session(), {"batch_id": "b-3", "url": f"{url}/missing.pdf"}, timeout=5)


def test_missing_lp_is_reported(tmp_path):
    # GIVEN a printer whose lp command does not exist
    printer = CupsPrinter("PDF", lp=str(tmp_path / "no-lp"))

    # WHEN a file is submitted THEN the error names the package to install
    with pytest.raises(PrintAgentError, match="cups-client"):
        printer.submit(tmp_path / "batch.pdf", "batch")


def test_lp_failure_is_reported(tmp_path):
    # GIVEN an lp that exits 1 with an error message
    fake_lp = tmp_path / "lp"
    fake_lp.write_text("#!/bin/sh\necho 'lp: The printer or class does not exist.' >&2\nexit 1\n")
    fake_lp.chmod(0o755)

    # WHEN a file is submitted THEN lp's message is in the error
    with pytest.raises(PrintAgentError, match="does not exist"):
        CupsPrinter("Nope", lp=str(fake_lp)).submit(tmp_path / "batch.pdf", "batch")


def test_options_reject_zero_attempts():
    # WHEN --attempts is 0 THEN argparse exits with code 2
    with pytest.raises(SystemExit) as error:
        parse_args(["--api", "http://127.0.0.1:1", "--token-env", "T", "--printer", "PDF", "--attempts", "0"])
    assert error.value.code == 2


def test_missing_token_exits_2(monkeypatch):
    # GIVEN the named environment variable is unset
    monkeypatch.delenv("PRINT_AGENT_TOKEN_UNSET", raising=False)

    # WHEN the agent starts THEN it exits 2 without polling
    code = main(["--api", "http://127.0.0.1:1", "--token-env", "PRINT_AGENT_TOKEN_UNSET", "--printer", "PDF", "--once"])
    assert code == 2
