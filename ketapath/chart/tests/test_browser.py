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
def server_url(transactional_db):
    """A live server for this test alone, stopped (with its database connections) after it,
    so the test database can be dropped at the end of the run on PostgreSQL too."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connections
    from django.test.testcases import LiveServerThread

    # An in-memory SQLite test database exists only on this thread's connection: share it.
    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=shared)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


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


@pytest.fixture
def target(make_patient):
    return make_patient(given_name="Harper", family_name="Lindqvist")


# The data is made before the browser starts: Playwright's sync API switches greenlets, and
# an ORM call made inside it would open a second database connection that nothing closes.
def test_keyboard_only_login_search_and_chart(server_url, nurse, target, browser_page):
    page = browser_page
    page.goto(f"{server_url}/accounts/login/")
    # The username field has focus on arrival.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_username'")
    page.keyboard.type(nurse.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server_url}/")
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
