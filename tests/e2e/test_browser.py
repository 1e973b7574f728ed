"""The customer's pages in a real browser (Chromium, driven by Playwright) against a real `oms serve`:
starting a return from the order number and email, and answering the feedback request.

Debian's Chromium is used (`make test` installs it where it can); off CI a machine without it skips
these tests with the reason, in CI they must run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oms.feedback.rules import make_token
from tests.conftest import SECRET
from tests.factories import Api
from tests.server import LiveServer, run_server
from tests.shipping_floor import build_floor, deliver

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("live_server")]

CHROMIUM = os.environ.get("OMS_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        reason = f"no Chromium at {CHROMIUM} (make test installs Debian's chromium where it can)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def server(settings, db, tmp_path) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    with run_server(settings.resolved_database_url(), tmp_path / "server", workers=1) as live:
        yield live


def test_a_customer_starts_a_return_and_answers_the_feedback_request_in_a_browser(
    api: Api,
    db,  # type: ignore[no-untyped-def]
    settings,
    server: LiveServer,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    floor = build_floor(api, db)
    order = floor.order([("MUG-1", 1), ("BOOK-1", 1)])
    deliver(floor, db, settings, order["id"], ago=timedelta(hours=3))
    page = browser.new_page()  # type: ignore[attr-defined]

    page.goto(f"{server.url}/returns")
    page.get_by_label("Order number").fill(order["number"])
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_role("button").click()
    page.wait_for_url("**/returns/start/**")
    page.locator('select[name="quantity:BOOK-1"]').select_option("1")
    page.locator('select[name="reason:BOOK-1"]').select_option("damaged")
    page.get_by_role("button").click()
    page.wait_for_load_state()
    assert "RMA-" in page.content()
    [ret] = floor.ok(floor.get(f"/returns?order_id={order['id']}"))["items"]
    assert ret["lines"][0]["sku"] == "BOOK-1" and ret["lines"][0]["reason"] == "damaged"

    token = make_token(SECRET, order["id"], datetime.now(UTC) + timedelta(days=30))
    page.goto(f"{server.url}/feedback/{token}")
    assert order["number"] in page.content()
    page.locator('input[name="rating"][value="4"]').check()
    page.locator("textarea").fill("Quick delivery, mug well wrapped")
    page.get_by_role("button").click()
    page.wait_for_load_state()
    assert "thank" in page.content().lower()
    summary = floor.ok(floor.get("/feedback"))["items"]
    assert summary and summary[0]["rating"] == 4
