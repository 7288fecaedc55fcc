"""Keyboard-only: a prescriber changes a section of the evaluation, sees the proposal
change beside it, and signs — without a mouse."""

import os

import pytest

from ketapath.chart.tests.test_browser import CHROMIUM, browser_page, server_url
from ketapath.conftest import PASSWORD
from ketapath.evaluations.tests.factories import complete_evaluation

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]

__all__ = ["browser_page", "server_url"]


@pytest.fixture
def evaluation(prescriber, patient, site):
    return complete_evaluation(user=prescriber, patient=patient, clinic=site)


# The data is made before the browser starts (see chart/tests/test_browser.py).
def test_keyboard_only_section_save_and_sign(server_url, prescriber, evaluation, browser_page):
    page = browser_page
    page.goto(f"{server_url}/accounts/login/")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_username'")
    page.keyboard.type(prescriber.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server_url}/")

    page.goto(f"{server_url}/evaluations/{evaluation.id}/")
    assert "Pain series" in page.locator(".proposal").inner_text()

    # "Is the patient ready for ketamine treatment?" → No, by keyboard, then save.
    page.focus("#id_ready_for_ketamine_1")
    page.keyboard.press("Space")
    save = page.locator("#sec-first button[type=submit]")
    save.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/evaluations/{evaluation.id}/#sec-first")
    proposal = page.locator(".proposal").inner_text()
    assert "Behavioral health" in proposal
    assert "Nothing blocks signing" in proposal

    # Accept is the default decision; the sign button is reachable and shows its focus.
    button = page.get_by_role("button", name="Sign evaluation")
    button.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/evaluations/{evaluation.id}/")
    assert "Signed: Behavioral health" in page.locator("main").inner_text()
    assert "Behavioral health" in page.locator(".patient-banner").inner_text()
