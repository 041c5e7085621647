"""The operator screen and the print agent API on moto: sign-in, print requests, job reports."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import requests

from chalicelib.fbs.models import Posting, PrintBatch
from chalicelib.fbs.print_batches import BatchOptions, PrintBatchBuilder, PrintQueue
from chalicelib.fbs.screens import COOKIE_NAME, Screens, TokenSource, WebRequest, session_value
from tests.unit.print_fixtures import (  # noqa: F401 (moto_endpoint and s3 are fixtures)
    BUCKET, add_posting, moto_endpoint, s3)

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)
DAY = "2026-12-04"
OPERATOR_TOKEN = "operator-token-4f1c"
AGENT_TOKEN = "agent-token-9d2e"
FORM = {"content-type": "application/x-www-form-urlencoded", "host": "127.0.0.1:9000"}


@pytest.fixture
def screens(s3) -> Screens:
    def build_day(day: str) -> int:
        return len(PrintBatchBuilder(s3, BatchOptions(bucket=BUCKET), lambda: NOW).build_day(day))

    return Screens(PrintQueue(s3, BUCKET, 120, lambda: NOW), build_day,
                   TokenSource("operator", OPERATOR_TOKEN, None), TokenSource("print agent", AGENT_TOKEN, None),
                   lambda: NOW)


@pytest.fixture
def batch(s3, screens) -> PrintBatch:
    add_posting(s3, "10-1-1")
    add_posting(s3, "10-1-2")
    screens.build_day(DAY)
    [row] = PrintBatch.scan()
    return row


def signed_in(headers: dict | None = None) -> dict:
    return {"cookie": f"{COOKIE_NAME}={session_value(OPERATOR_TOKEN)}", "host": "127.0.0.1:9000", **(headers or {})}


def agent(body: dict | None = None, token: str = AGENT_TOKEN) -> WebRequest:
    return WebRequest({"authorization": f"Bearer {token}", "content-type": "application/json"}, {},
                      json.dumps(body or {}).encode())


def test_page_needs_sign_in(screens):
    # WHEN the page is opened without a session
    response = screens.operator_page(WebRequest({}, {}))

    # THEN the Russian sign-in form is shown with 401
    assert response.status_code == 401
    assert "Вход оператора" in response.body


def test_login_sets_session_cookie(screens):
    # WHEN the operator signs in with the right token
    body = urlencode({"token": OPERATOR_TOKEN, "lang": "ru"}).encode()
    response = screens.operator_login(WebRequest(FORM, {}, body))

    # THEN a session cookie that is not the token is set, and the browser goes to the page
    cookie = response.headers["Set-Cookie"]
    assert response.status_code == 303
    assert response.headers["Location"] == "../operator?lang=ru"
    assert f"{COOKIE_NAME}={session_value(OPERATOR_TOKEN)}" in cookie
    assert OPERATOR_TOKEN not in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


def test_login_rejects_wrong_token(screens):
    # WHEN the operator signs in with a wrong token
    response = screens.operator_login(WebRequest(FORM, {}, b"token=guess"))

    # THEN no cookie is set and the form shows the reason
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers
    assert "Неверный токен" in response.body


def test_page_lists_batches_in_russian(screens, batch):
    # WHEN a signed-in operator opens the day
    response = screens.operator_page(WebRequest(signed_in(), {"day": DAY}))

    # THEN the batch has a row with its status and a print button
    assert response.status_code == 200
    assert f'id="batch-{batch.batch_id}"' in response.body
    assert f'id="print-{batch.batch_id}"' in response.body
    assert ">Печать</button>" in response.body
    assert "готова" in response.body
    assert "<script" not in response.body


def test_page_shows_warehouse_time(s3, batch):
    # GIVEN screens of a Moscow warehouse and a batch due 14:00 UTC
    screens = Screens(PrintQueue(s3, BUCKET, 120, lambda: NOW), lambda day: 0,
                      TokenSource("operator", OPERATOR_TOKEN, None), TokenSource("print agent", AGENT_TOKEN, None),
                      lambda: NOW, ZoneInfo("Europe/Moscow"))

    # WHEN the operator opens the day
    body = screens.operator_page(WebRequest(signed_in(), {"day": DAY})).body

    # THEN the ship-by time is Moscow's 17:00, and the page names the zone
    assert "<td>04.12.2026 17:00</td>" in body
    assert "Europe/Moscow" in body

def test_page_in_english(screens, batch):
    # WHEN the page is asked for in English
    response = screens.operator_page(WebRequest(signed_in(), {"day": DAY, "lang": "en"}))

    # THEN the texts are English
    assert ">Print</button>" in response.body
    assert "Печать" not in response.body


def test_print_button_requests_print(screens, batch):
    # WHEN the operator presses the print button of the batch
    body = urlencode({"lang": "ru", "day": DAY}).encode()
    response = screens.operator_print(WebRequest(signed_in(FORM), {}, body), batch.batch_id)

    # THEN the batch is print-requested and the browser returns to the day
    assert response.status_code == 303
    assert response.headers["Location"].startswith("../../../operator?")
    assert PrintBatch.get(batch.batch_id).status == "print_requested"
    assert PrintBatch.get(batch.batch_id).requested_at == NOW


def test_print_rejects_cross_site_post(screens, batch):
    # WHEN a form from another site posts with the operator's cookie
    headers = signed_in({**FORM, "origin": "https://evil.example"})
    response = screens.operator_print(WebRequest(headers, {}, b"day=2026-12-04"), batch.batch_id)

    # THEN it is rejected and nothing changes
    assert response.status_code == 403
    assert PrintBatch.get(batch.batch_id).status == "ready"


def test_print_needs_operator(screens, batch):
    # WHEN the print route is called with the agent token
    response = screens.operator_print(agent(), batch.batch_id)

    # THEN it is rejected with the error shape
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["code"] == "UNAUTHORIZED"


def test_agent_jobs_need_token(screens, batch):
    # WHEN the agent polls with a wrong token
    response = screens.agent_jobs(agent(token="agent-token-9d2f"))

    # THEN it gets 401 and no job
    assert response.status_code == 401


def test_agent_gets_requested_batch(s3, screens, batch):
    # GIVEN a print-requested batch
    screens.queue.request(batch.batch_id)

    # WHEN the agent polls
    jobs = json.loads(screens.agent_jobs(agent()).body)["jobs"]

    # THEN the job carries a presigned URL that downloads the stored PDF
    [job] = jobs
    stored = s3.get_object(Bucket=BUCKET, Key=batch.pdf_key)["Body"].read()
    assert job["batch_id"] == batch.batch_id
    assert job["sha256"] == batch.pdf_sha256
    assert job["expires_in"] == 120
    assert "X-Amz-Signature=" in job["url"]
    assert requests.get(job["url"], timeout=10).content == stored


def test_agent_reports_printed(screens, batch):
    # GIVEN a print-requested batch
    screens.queue.request(batch.batch_id)

    # WHEN the agent reports printing, then printed
    printing = screens.agent_report(agent({"status": "printing", "printer": "PDF"}), batch.batch_id)
    printed = screens.agent_report(agent({"status": "printed", "printer": "PDF"}), batch.batch_id)

    # THEN the batch and its postings are printed, and no job is left
    assert printing.status_code == 200
    assert printed.status_code == 200
    assert PrintBatch.get(batch.batch_id).status == "printed"
    assert PrintBatch.get(batch.batch_id).printer == "PDF"
    assert Posting.get("10-1-1").printed_at == NOW
    assert json.loads(screens.agent_jobs(agent()).body)["jobs"] == []


def test_agent_reports_failure(screens, batch):
    # GIVEN a print-requested batch
    screens.queue.request(batch.batch_id)

    # WHEN the agent reports a failure
    screens.agent_report(agent({"status": "failed", "error": "lp: printer not found"}), batch.batch_id)

    # THEN the error is kept and shown on the page
    assert PrintBatch.get(batch.batch_id).error == "lp: printer not found"
    page = screens.operator_page(WebRequest(signed_in(), {"day": DAY})).body
    assert "ошибка печати" in page
    assert "lp: printer not found" in page


def test_agent_report_out_of_order(screens, batch):
    # WHEN the agent reports printed for a batch with no print request
    response = screens.agent_report(agent({"status": "printed"}), batch.batch_id)

    # THEN it gets 409 and the batch stays ready
    assert response.status_code == 409
    assert json.loads(response.body)["error"]["code"] == "INVALID_STATUS"
    assert PrintBatch.get(batch.batch_id).status == "ready"


def test_agent_report_bad_body(screens, batch):
    # WHEN the agent sends a body that is not JSON or an unknown status
    bad_json = screens.agent_report(WebRequest({"authorization": f"Bearer {AGENT_TOKEN}"}, {}, b"{"),
                                    batch.batch_id)
    bad_status = screens.agent_report(agent({"status": "lost"}), batch.batch_id)
    unknown = screens.agent_report(agent({"status": "printed"}), "no-such-batch")

    # THEN each gets the error shape with its code
    assert bad_json.status_code == 400
    assert bad_status.status_code == 400
    assert unknown.status_code == 404


def test_build_button_builds_day(s3, screens):
    # GIVEN a labelled posting
    add_posting(s3, "20-1-1")

    # WHEN the operator presses the build button
    body = urlencode({"lang": "en", "day": DAY}).encode()
    response = screens.operator_build(WebRequest(signed_in(FORM), {}, body))

    # THEN one batch is built and the redirect carries the count
    assert response.status_code == 303
    assert "built=1" in response.headers["Location"]
    assert len(list(PrintBatch.scan())) == 1


def test_stuck_printing_batch_reprints(screens, batch):
    # GIVEN a batch whose agent reported printing and then stopped
    screens.queue.request(batch.batch_id)
    screens.agent_report(agent({"status": "printing"}), batch.batch_id)

    # WHEN the operator presses the print button again
    page = screens.operator_page(WebRequest(signed_in(), {"day": DAY})).body
    screens.operator_print(WebRequest(signed_in(FORM), {}, b"day=2026-12-04"), batch.batch_id)

    # THEN the button was enabled and the batch waits for the agent again
    assert f'id="print-{batch.batch_id}">' in page
    assert PrintBatch.get(batch.batch_id).status == "print_requested"
