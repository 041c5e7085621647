"""The operator screen in headless Chromium on the local stack: sign in, press "Печать"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chalicelib.fbs.models import PrintBatch
from tests.integration.print_support import OPERATOR_TOKEN, PRINT_ENVIRONMENT, add_labelled_postings, api_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900")


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with a new empty profile, driven through chromedriver."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail("Chromium is not installed; run `bash local/cups_setup.sh` as root "
                    "(Debian packages chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_print_button_requests_print(stack_factory, browser, tmp_path):
    # GIVEN two batches of one day on the local stack
    stack = stack_factory(environment=PRINT_ENVIRONMENT)
    url = api_url(stack)
    ship_by = add_labelled_postings(stack, ["61000001-0001-1", "61000001-0002-1"])
    add_labelled_postings(stack, ["61000002-0001-1"], ship_by=ship_by + timedelta(hours=2))
    day = f"{ship_by:%Y-%m-%d}"
    requests.post(f"{url}/operator/batches/build", json={"day": day},
                  headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=30)
    first, second = sorted(PrintBatch.scan(), key=lambda batch: batch.ship_by)

    # WHEN the operator signs in and presses "Печать" on the first batch
    browser.get(f"{url}/operator?day={day}")
    login_title = browser.find_element(By.TAG_NAME, "h1").text
    browser.find_element(By.ID, "token").send_keys(OPERATOR_TOKEN)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 10).until(lambda driver: driver.find_elements(By.ID, f"print-{first.batch_id}"))
    button = browser.find_element(By.ID, f"print-{first.batch_id}")
    button_text = button.text
    button.click()
    WebDriverWait(browser, 10).until(lambda driver: driver.find_elements(By.ID, "notice"))
    screenshot = tmp_path / "operator.png"
    browser.save_screenshot(str(screenshot))

    # THEN that batch is print-requested on the page and in the table, the other one is not
    row = browser.find_element(By.ID, f"batch-{first.batch_id}")
    assert login_title == "Вход оператора"
    assert button_text == "Печать"
    assert row.get_attribute("data-status") == "print_requested"
    assert "ждёт печати" in row.text
    assert browser.find_element(By.ID, f"print-{first.batch_id}").get_attribute("disabled") is not None
    assert browser.find_element(By.ID, f"batch-{second.batch_id}").get_attribute("data-status") == "ready"
    assert first.batch_id in browser.find_element(By.ID, "notice").text
    assert PrintBatch.get(first.batch_id, consistent_read=True).status == "print_requested"
    assert PrintBatch.get(second.batch_id, consistent_read=True).status == "ready"
    assert screenshot.stat().st_size > 0
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_screen_in_english(stack_factory, browser):
    # GIVEN a signed-in operator
    stack = stack_factory(environment=PRINT_ENVIRONMENT)
    url = api_url(stack)
    ship_by = add_labelled_postings(stack, ["62000001-0001-1"])
    requests.post(f"{url}/operator/batches/build", json={"day": f"{ship_by:%Y-%m-%d}"},
                  headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=30)
    browser.get(f"{url}/operator?lang=en&day={ship_by:%Y-%m-%d}")
    browser.find_element(By.ID, "token").send_keys(OPERATOR_TOKEN)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 10).until(lambda driver: driver.find_elements(By.ID, "batches"))

    # WHEN the page is read THEN its texts are English
    [batch] = PrintBatch.scan()
    assert browser.find_element(By.TAG_NAME, "h1").text == "FBS label printing"
    assert browser.find_element(By.ID, f"print-{batch.batch_id}").text == "Print"
