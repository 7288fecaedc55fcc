"""Keyboard-only walk through the staff pages in a real browser (Debian's Chromium)."""

import os
import shutil

import pytest

from ketapath.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # before and after are ordinary synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        yield page
        browser.close()


@pytest.mark.django_db(transaction=True)
def test_keyboard_only_login_search_and_chart(live_server, browser_page, nurse, make_patient):
    target = make_patient(given_name="Harper", family_name="Lindqvist")
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    # The username field has focus on arrival.
    page.keyboard.type(nurse.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text().startswith("Today at Denver Site")

    # The first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    page.focus("#today-q")
    page.keyboard.type("lindq")
    page.keyboard.press("Enter")
    page.wait_for_url("**/patients/?q=lindq")
    link = page.get_by_role("link", name="Lindqvist, Harper")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/patients/{target.id}/")
    banner = page.locator(".patient-banner").inner_text()
    assert target.mrn in banner
    assert "Not yet decided" in banner

    # Every interactive element on the chart shows a visible focus outline.
    page.get_by_role("link", name="Add escort").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
