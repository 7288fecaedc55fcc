"""The patient-link pages: date of birth, questions, diary, errors, thanks, safety page."""

import re
import time
from datetime import timedelta

import pytest
from django.test import Client

from ketapath.core.timeutils import local_today
from ketapath.observations.models import DiaryEntry, SafetyAlert
from ketapath.portal import access, texts
from ketapath.portal.services import MESSAGE_ANSWER_ALL, MESSAGE_PAIN, MESSAGE_RESCUE
from ketapath.portal.tests.conftest import (
    BIRTH_DATE,
    CONTEXT_ID,
    birth_date_form,
    expire,
    form_answers,
    verified_client,
)
from ketapath.questionnaires.instruments import GAD7, PHQ9
from ketapath.questionnaires.models import Response

pytestmark = pytest.mark.django_db


def test_link_asks_the_birth_date_first_and_nothing_about_health(questionnaire_link, site):
    _, raw = questionnaire_link
    response = Client().get(f"/p/{raw}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your date of birth" in html
    assert site.name in html
    for field in ('name="month"', 'name="day"', 'name="year"'):
        assert field in html
    for health in ("PHQ", "Patient Health", PHQ9.lead, "Little interest", "pain", "depress"):
        assert health not in html
    assert "<script" not in html


def test_right_birth_date_remembers_the_link_in_the_session(questionnaire_link):
    link, raw = questionnaire_link
    client = verified_client(raw)
    entries = client.session[access.SESSION_VERIFIED]
    assert [e["link"] for e in entries] == [str(link.id)]
    assert abs(entries[0]["at"] - time.time()) < 60
    link.refresh_from_db()
    assert link.verified_at is not None


def test_not_a_date_is_asked_again_without_counting_a_try(questionnaire_link):
    link, raw = questionnaire_link
    response = Client().post(f"/p/{raw}/", {"month": "2", "day": "30", "year": "1980"})
    assert response.status_code == 200
    assert texts.MESSAGE_BIRTH_DATE_FORMAT in response.content.decode()
    link.refresh_from_db()
    assert link.birth_date_failures == 0


def test_questionnaire_link_from_start_to_thanks(questionnaire_link, patient):
    link, raw = questionnaire_link
    client = verified_client(raw)

    page = client.get(f"/p/{raw}/answer/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'<legend class="lead">{PHQ9.lead}</legend>' in html
    assert "Little interest or pleasure in doing things" in html
    assert 'type="radio" id="q-phq-9-1-0" name="phq-9.1" value="0"' in html
    assert "(optional)" in html  # the difficulty item
    assert "<script" not in html

    sent = client.post(f"/p/{raw}/answer/", form_answers("phq-9", 1, item9=0, item10=""))
    assert sent.status_code == 302
    assert sent["Location"] == f"/p/{raw}/done/"

    response = Response.objects.get(patient=patient)
    assert response.instrument == "phq-9"
    assert response.source == Response.Source.PATIENT_LINK
    assert response.context == "pre_session"
    assert str(response.context_id) == CONTEXT_ID
    assert response.total == 8
    assert "10" not in response.answers
    link.refresh_from_db()
    assert link.used_at is not None

    done = client.get(f"/p/{raw}/done/")
    assert done.status_code == 200
    html = done.content.decode()
    assert texts.THANK_YOU_TITLE in html
    assert not re.search(r"\b988\b", html)  # not inside a random token
    # The browser no longer holds the confirmation: the questions cannot be opened again.
    assert client.get(f"/p/{raw}/answer/")["Location"] == f"/p/{raw}/"


def test_several_questionnaires_on_one_page(make_link, patient):
    _, raw = make_link(instruments=["phq-9", "gad-7"])
    client = verified_client(raw)
    html = client.get(f"/p/{raw}/answer/").content.decode()
    assert "Part 1 of 2" in html and "Part 2 of 2" in html
    assert GAD7.lead in html
    answers = {**form_answers("phq-9"), **form_answers("gad-7", 2)}
    assert client.post(f"/p/{raw}/answer/", answers).status_code == 302
    saved = {r.instrument: r.total for r in Response.objects.filter(patient=patient)}
    assert saved == {"phq-9": 0, "gad-7": 14}


def test_missing_answers_are_shown_beside_their_questions_and_nothing_is_saved(
    questionnaire_link, patient
):
    link, raw = questionnaire_link
    client = verified_client(raw)
    answers = form_answers("phq-9", 2)
    del answers["phq-9.9"]
    del answers["phq-9.3"]
    page = client.post(f"/p/{raw}/answer/", answers)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<title>Error: " in html
    # The summary at the top links to the first choice of each unanswered question.
    summary = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'href="#q-phq-9-3-0">Answer question 3' in summary
    assert 'href="#q-phq-9-9-0">Answer question 9' in summary
    # Each error sits inside its own question, which the screen reader hears with it.
    question9 = html.split('id="q-phq-9-9"', 1)[1].split('class="question', 1)[0]
    assert 'aria-describedby="q-phq-9-9-error"' in question9
    assert MESSAGE_ANSWER_ALL in question9
    question1 = html.split('id="q-phq-9-1"', 1)[1].split('class="question', 1)[0]
    assert MESSAGE_ANSWER_ALL not in question1
    # What was given stays chosen.
    assert 'name="phq-9.1" value="2" checked' in html
    assert not Response.objects.filter(patient=patient).exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_a_tampered_answer_is_named_beside_its_question(questionnaire_link, patient):
    _, raw = questionnaire_link
    client = verified_client(raw)
    page = client.post(f"/p/{raw}/answer/", form_answers("phq-9", 0, item4=7))
    assert page.status_code == 200
    question4 = page.content.decode().split('id="q-phq-9-4"', 1)[1].split('class="question', 1)[0]
    assert "outside 0–3" in question4
    assert not Response.objects.filter(patient=patient).exists()


def test_item_9_above_0_shows_the_safety_page_and_raises_the_alert(
    questionnaire_link, patient, site
):
    _, raw = questionnaire_link
    client = verified_client(raw)
    sent = client.post(f"/p/{raw}/answer/", form_answers("phq-9", 0, item9=1))
    assert sent["Location"] == f"/p/{raw}/done/"
    alert = SafetyAlert.objects.get(patient=patient)
    assert alert.kind == SafetyAlert.Kind.PHQ9_ITEM9
    response = Response.objects.get(patient=patient)
    assert str(alert.id) in response.alert_ids

    page = client.get(f"/p/{raw}/done/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Your answers are not watched live — nobody sees them straight away." in html
    assert "988" in html and 'href="tel:988"' in html and 'href="sms:988"' in html
    assert "Suicide &amp; Crisis Lifeline" in html
    assert "911" in html and 'href="tel:911"' in html
    assert site.name in html
    assert "(303) 555-0100" in html and f'href="tel:{site.phone}"' in html
    # Shown again on reload, since it matters more than the thank-you.
    assert "988" in client.get(f"/p/{raw}/done/").content.decode()


def test_done_page_needs_the_browser_that_answered(questionnaire_link):
    _, raw = questionnaire_link
    client = verified_client(raw)
    client.post(f"/p/{raw}/answer/", form_answers("phq-9", 0, item9=2))
    other = Client()
    response = other.get(f"/p/{raw}/done/")
    assert response.status_code == 302 and response["Location"] == f"/p/{raw}/"
    assert not re.search(r"\b988\b", other.get(f"/p/{raw}/").content.decode())


def test_done_page_before_answering_goes_back_to_the_start(questionnaire_link):
    _, raw = questionnaire_link
    client = verified_client(raw)
    assert client.get(f"/p/{raw}/done/")["Location"] == f"/p/{raw}/"


def test_diary_link_from_start_to_thanks(diary_link, patient):
    link, raw = diary_link
    client = verified_client(raw)
    html = client.get(f"/p/{raw}/answer/").content.decode()
    assert "How was your pain today?" in html
    assert "Did you need extra (rescue) medicine for pain today?" in html
    assert "0 means no pain. 10 means the worst pain you can imagine." in html
    assert html.count('name="pain"') == 11
    assert 'name="rescue_detail"' in html and 'name="note"' in html

    sent = client.post(
        f"/p/{raw}/answer/",
        {
            "pain": "6",
            "rescue_medication": "yes",
            "rescue_detail": " ibuprofen  400 mg ",
            "note": "Bad night.",
        },
    )
    assert sent["Location"] == f"/p/{raw}/done/"
    entry = DiaryEntry.objects.get(patient=patient)
    assert (entry.pain, entry.rescue_medication, entry.rescue_detail, entry.note) == (
        6,
        True,
        "ibuprofen 400 mg",
        "Bad night.",
    )
    assert entry.day == link.day
    assert not Response.objects.exists()
    assert texts.THANK_YOU_TITLE in client.get(f"/p/{raw}/done/").content.decode()


def test_diary_for_an_earlier_day_names_that_day(make_link, site):
    day = local_today(site.time_zone) - timedelta(days=2)
    _, raw = make_link("diary", day=day)
    client = verified_client(raw)
    html = client.get(f"/p/{raw}/answer/").content.decode()
    assert f"How was your pain on {day.strftime('%A')}" in html
    assert "pain today" not in html


def test_diary_missing_answers_are_shown_and_nothing_is_saved(diary_link, patient):
    link, raw = diary_link
    client = verified_client(raw)
    page = client.post(f"/p/{raw}/answer/", {"pain": "", "note": "kept"})
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="#q-pain-0">Pain: {MESSAGE_PAIN}' in html
    assert f'href="#q-rescue_medication-yes">Extra medicine: {MESSAGE_RESCUE}' in html
    assert ">kept</textarea>" in html
    assert not DiaryEntry.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_answer_page_without_the_birth_date_goes_back_to_the_start(questionnaire_link, patient):
    _, raw = questionnaire_link
    client = Client()
    response = client.get(f"/p/{raw}/answer/")
    assert response.status_code == 302 and response["Location"] == f"/p/{raw}/"
    posted = client.post(f"/p/{raw}/answer/", form_answers())
    assert posted.status_code == 302 and posted["Location"] == f"/p/{raw}/?again=1"
    assert texts.MESSAGE_CONFIRM_AGAIN in client.get(posted["Location"]).content.decode()
    assert not Response.objects.exists()


def test_confirmation_for_one_link_does_not_open_another(make_link, patient):
    _, first = make_link()
    _, second = make_link(instruments=["gad-7"])
    client = verified_client(first)
    assert client.get(f"/p/{second}/answer/")["Location"] == f"/p/{second}/"


def test_the_confirmation_lasts_30_minutes(questionnaire_link):
    link, raw = questionnaire_link
    client = verified_client(raw)
    session = client.session
    session[access.SESSION_VERIFIED] = [
        {"link": str(link.id), "at": time.time() - access.VERIFIED_MINUTES * 60 - 1}
    ]
    session.save()
    assert client.get(f"/p/{raw}/answer/")["Location"] == f"/p/{raw}/"


def test_link_that_expired_after_the_birth_date_saves_nothing(questionnaire_link, patient):
    link, raw = questionnaire_link
    client = verified_client(raw)
    expire(link)
    page = client.post(f"/p/{raw}/answer/", form_answers())
    assert page.status_code == 410
    assert texts.STATE_PAGES["expired"].title in page.content.decode()
    assert not Response.objects.exists()


def test_pages_are_light_and_need_no_script(make_link):
    _, raw = make_link(instruments=["phq-9", "gad-7", "pcl-5", "peg"])
    client = verified_client(raw)
    html = client.get(f"/p/{raw}/answer/").content
    assert len(html) < 100_000
    assert b"<script" not in html
    assert re.search(rb'<html lang="en">', html)
    assert b'<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_pages_have_no_staff_navigation_even_for_a_logged_in_user(
    client_for, nurse, questionnaire_link
):
    _, raw = questionnaire_link
    client = client_for(nurse)
    html = client.get(f"/p/{raw}/").content.decode()
    assert "Your date of birth" in html
    for staff in ("Sign out", "sidenav", "Skip to content", "app.css"):
        assert staff not in html


def test_birth_date_page_keeps_no_value_after_a_wrong_try(questionnaire_link):
    _, raw = questionnaire_link
    page = Client().post(f"/p/{raw}/", birth_date_form(BIRTH_DATE.replace(year=1981)))
    assert 'value="1981"' not in page.content.decode()
