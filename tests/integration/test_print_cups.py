"""The print path on the local stack: operator request, the real print agent, cupsd with cups-pdf."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import requests
from pypdf import PdfReader

from chalicelib.fbs import wiring as fbs_wiring
from chalicelib.fbs.models import Posting, PrintBatch
from tests.integration.print_support import (
    AGENT_TOKEN,
    CUPS_PRINTER,
    OPERATOR_TOKEN,
    PRINT_ENVIRONMENT,
    add_labelled_postings,
    api_url,
    cups_pdf_output_dir,
    require_cups,
)

OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def run_agent(url: str, *extra: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PRINT_AGENT_TOKEN": AGENT_TOKEN}
    command = [sys.executable, "-m", "chalicelib.fbs.print_agent", "--api", url, "--token-env",
               "PRINT_AGENT_TOKEN", "--printer", CUPS_PRINTER, "--once", "--wait", "60", "--verbose", *extra]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=180, check=False)


def wait_for_file(folder, pattern: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.2)
    return None


def test_batch_printed_through_cups(stack_factory):
    # GIVEN a local stack with three labelled postings batched, and a print request
    require_cups()
    stack = stack_factory(environment=PRINT_ENVIRONMENT)
    url = api_url(stack)
    ship_by = add_labelled_postings(stack, ["51000001-0001-1", "51000001-0002-1", "51000001-0003-1"])
    built = requests.post(f"{url}/operator/batches/build", json={"day": f"{ship_by:%Y-%m-%d}"}, headers=OPERATOR,
                          timeout=30)
    [batch] = PrintBatch.scan()
    requested = requests.post(f"{url}/operator/batches/{batch.batch_id}/print", json={}, headers=OPERATOR,
                              timeout=30)
    started = time.time()

    # WHEN the real print agent runs once against the API
    result = run_agent(url)

    # THEN the batch is printed, cups-pdf wrote it, and the token is not in the agent's log
    assert built.status_code == 200, built.text
    assert requested.json()["status"] == "print_requested"
    assert result.returncode == 0, result.stderr
    assert PrintBatch.get(batch.batch_id, consistent_read=True).status == "printed"
    assert PrintBatch.get(batch.batch_id).printer == CUPS_PRINTER
    assert Posting.get("51000001-0002-1").printed_at is not None
    assert "printed" in [event.event for event in fbs_wiring.store().events("51000001-0002-1")]
    printed = wait_for_file(cups_pdf_output_dir(), f"{batch.batch_id}*.pdf")
    assert printed is not None, f"no {batch.batch_id}*.pdf in {cups_pdf_output_dir()}"
    assert printed.stat().st_mtime >= started - 1
    assert len(PdfReader(io.BytesIO(printed.read_bytes())).pages) == int(batch.pages)
    assert AGENT_TOKEN not in result.stderr + result.stdout
    assert "X-Amz-Signature" not in result.stderr + result.stdout


def test_agent_reports_missing_printer(stack_factory):
    # GIVEN a print-requested batch
    require_cups()
    stack = stack_factory(environment=PRINT_ENVIRONMENT)
    url = api_url(stack)
    ship_by = add_labelled_postings(stack, ["52000001-0001-1"])
    requests.post(f"{url}/operator/batches/build", json={"day": f"{ship_by:%Y-%m-%d}"}, headers=OPERATOR,
                  timeout=30)
    [batch] = PrintBatch.scan()
    requests.post(f"{url}/operator/batches/{batch.batch_id}/print", json={}, headers=OPERATOR, timeout=30)

    # WHEN the agent prints to a printer CUPS does not have
    environment = {**os.environ, "PRINT_AGENT_TOKEN": AGENT_TOKEN}
    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.fbs.print_agent", "--api", url, "--token-env", "PRINT_AGENT_TOKEN",
         "--printer", "NoSuchPrinter", "--once", "--attempts", "2"],
        env=environment, capture_output=True, text=True, timeout=120, check=False)

    # THEN the job is reported failed with lp's error, and the agent exits 1
    row = PrintBatch.get(batch.batch_id, consistent_read=True)
    assert result.returncode == 1, result.stderr
    assert row.status == "failed"
    assert "lp" in row.error


def test_agent_rejects_wrong_token(stack_factory):
    # GIVEN the local stack's API
    stack = stack_factory(environment=PRINT_ENVIRONMENT)
    url = api_url(stack)

    # WHEN the agent polls with a wrong token
    environment = {**os.environ, "PRINT_AGENT_TOKEN": "wrong-token-0000"}
    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.fbs.print_agent", "--api", url, "--token-env", "PRINT_AGENT_TOKEN",
         "--printer", CUPS_PRINTER, "--once"],
        env=environment, capture_output=True, text=True, timeout=60, check=False)

    # THEN it exits 2 with the reason, without printing the token
    assert result.returncode == 2
    assert "token" in result.stderr
    assert "wrong-token-0000" not in result.stderr
