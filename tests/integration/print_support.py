"""Helpers of the print integration tests: the API's URL, labelled postings, cups-pdf's output."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from chalicelib.fbs import wiring as fbs_wiring
from chalicelib.fbs.models import Posting, PostingProduct

OPERATOR_TOKEN = "local-operator-token-7c1d"
AGENT_TOKEN = "local-agent-token-3b8e"
PRINT_ENVIRONMENT = {"OPERATOR_TOKEN": OPERATOR_TOKEN, "PRINT_AGENT_TOKEN": AGENT_TOKEN}
CUPS_PRINTER = os.environ.get("CUPS_TEST_PRINTER", "PDF")
CUPS_PDF_CONFIG = Path("/etc/cups/cups-pdf.conf")


def api_url(stack) -> str:
    """Return the base URL of the app's routes on 127.0.0.1, served by the local stack."""
    fbs = getattr(stack, "fbs", None)
    if fbs is not None:
        return fbs.webhook.base_url
    return _serve_app(stack)


def _serve_app(stack) -> str:
    # Fallback for a local stack without HTTP serving: chalice's own local server.
    from chalice.config import Config
    from chalice.local import create_local_server

    server = create_local_server(stack.app, Config.create(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    stack_stop = stack.stop

    def stop() -> None:
        server.shutdown()
        stack_stop()

    stack.stop = stop
    return f"http://127.0.0.1:{server.server.server_address[1]}"


def draw_label(posting_number: str) -> bytes:
    """Draw a two-page label PDF like Ozon's."""
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=(75 * mm, 120 * mm))
    for title in ("LABEL", "INFO"):
        sheet.drawString(5 * mm, 100 * mm, f"{title} {posting_number}")
        sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def add_labelled_postings(stack, numbers: list[str], warehouse_id: int = 1020000001,
                          ship_by: datetime | None = None) -> datetime:
    """Save labelled postings and their labels into the local stack; return their ship-by time."""
    fbs_wiring.store()  # binds the models to the stack's tables
    ship_by = ship_by or (datetime.fromtimestamp(stack.clock.now(), timezone.utc) + timedelta(hours=6)).replace(
        minute=0, second=0, microsecond=0)
    s3 = boto3.client("s3", endpoint_url=stack.endpoint_url, region_name=stack.settings.region)
    for index, number in enumerate(numbers):
        key = f"labels/{ship_by:%Y-%m-%d}/{warehouse_id}/{number}.pdf"
        s3.put_object(Bucket=stack.resources.bucket, Key=key, Body=draw_label(number))
        Posting(number, status="awaiting_deliver", warehouse_id=warehouse_id, shipment_date=ship_by,
                products=[PostingProduct(sku=5000 + index, offer_id=f"OFFER-{index}", name=f"Товар {index}",
                                         quantity=1)],
                label_key=key, labelled_at=ship_by - timedelta(hours=5)).save()
    return ship_by


def require_cups() -> None:
    """Fail with the fix when cupsd or the cups-pdf printer is missing."""
    if not shutil.which("lp") or not CUPS_PDF_CONFIG.is_file():
        pytest.fail("CUPS with cups-pdf is not installed; run `bash local/cups_setup.sh` as root")
    status = subprocess.run(["lpstat", "-p", CUPS_PRINTER], capture_output=True, text=True, check=False)
    if status.returncode != 0:
        pytest.fail(f"CUPS printer {CUPS_PRINTER} is not set up ({status.stderr.strip()}); "
                    "run `bash local/cups_setup.sh` as root")


def cups_pdf_output_dir() -> Path:
    """Return where cups-pdf writes jobs of this user, read from its `Out` setting."""
    out = "${HOME}/PDF"
    for line in CUPS_PDF_CONFIG.read_text().splitlines():
        match = re.match(r"^\s*Out\s+(\S+)", line)
        if match:
            out = match.group(1)
    return Path(out.replace("${HOME}", str(Path.home())).replace("${USER}", os.environ.get("USER", "root")))
