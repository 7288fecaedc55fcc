"""What keeps a patient link safe: state pages that save nothing and say nothing about
health, the date-of-birth lock, the rate limit, the audit trail and the privacy headers."""

import pytest
from django.test import Client

from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.observations.models import DiaryEntry
from ketapath.portal import access, texts
from ketapath.portal.models import PatientLink
from ketapath.portal.services import USERNAME
from ketapath.portal.tests.conftest import (
    BIRTH_DATE,
    WRONG_BIRTH_DATE,
    birth_date_form,
    expire,
    form_answers,
    verified_client,
)
from ketapath.questionnaires.models import Response

pytestmark = pytest.mark.django_db

HEALTH_WORDS = ("PHQ", "Patient Health", "questionnaire", "pain", "diary", "depress", "mood")


def altered(raw: str) -> str:
    """The token with one character changed."""
    return raw[:-1] + ("A" if raw[-1] != "A" else "B")


def assert_state_page(response, state: str, site=None) -> str:
    page = texts.STATE_PAGES[state]
    assert response.status_code == page.status
    html = response.content.decode()
    assert page.title in html
    for word in HEALTH_WORDS:
        assert word.lower() not in html.lower(), word
    if site is not None:
        assert f'href="tel:{site.phone}"' in html and "(303) 555-0100" in html
    return html


def test_expired_link_says_so_and_saves_nothing(questionnaire_link, site):
    link, raw = questionnaire_link
    client = verified_client(raw)
    expire(link)
    assert_state_page(Client().get(f"/p/{raw}/"), "expired", site)
    assert_state_page(Client().post(f"/p/{raw}/", birth_date_form()), "expired", site)
    assert_state_page(client.post(f"/p/{raw}/answer/", form_answers()), "expired", site)
    assert client.get(f"/p/{raw}/answer/")["Location"] == f"/p/{raw}/"
    assert not Response.objects.exists()


def test_used_link_says_already_done_and_saves_nothing_more(questionnaire_link, site):
    _, raw = questionnaire_link
    client = verified_client(raw)
    client.post(f"/p/{raw}/answer/", form_answers())
    assert Response.objects.count() == 1
    assert_state_page(Client().get(f"/p/{raw}/"), "used", site)
    assert_state_page(Client().post(f"/p/{raw}/", birth_date_form()), "used", site)
    # The same browser sending the form again (back button, resubmit).
    assert_state_page(client.post(f"/p/{raw}/answer/", form_answers("phq-9", 3)), "used", site)
    assert Response.objects.count() == 1


def test_used_diary_link_saves_no_second_entry(diary_link):
    _, raw = diary_link
    client = verified_client(raw)
    answer = {"pain": "3", "rescue_medication": "no"}
    client.post(f"/p/{raw}/answer/", answer)
    assert_state_page(client.post(f"/p/{raw}/answer/", answer), "used")
    assert DiaryEntry.objects.count() == 1


def test_altered_link_gets_the_same_page_as_any_unknown_link(questionnaire_link, site):
    _, raw = questionnaire_link
    changed = Client().get(f"/p/{altered(raw)}/")
    html = assert_state_page(changed, "unknown")
    assert site.name not in html
    made_up = Client().get("/p/not-a-real-token-at-all/")
    assert made_up.status_code == 404
    assert made_up.content == changed.content
    # Posting a date of birth to it or answers to it changes and saves nothing.
    assert Client().post(f"/p/{altered(raw)}/", birth_date_form()).status_code == 404
    assert Client().post(f"/p/{altered(raw)}/answer/", form_answers()).status_code == 404
    assert not Response.objects.exists()
    assert (
        AuditEvent.objects.filter(
            username=USERNAME, outcome="denied", detail__state="unknown"
        ).count()
        == 4
    )


def test_replaced_link_says_a_newer_one_was_sent(make_link, site):
    first, raw_first = make_link(dedupe_key="pre:1")
    _, raw_second = make_link(dedupe_key="pre:1")
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert_state_page(Client().get(f"/p/{raw_first}/"), "revoked", site)
    assert_state_page(Client().post(f"/p/{raw_first}/", birth_date_form()), "revoked", site)
    assert Client().get(f"/p/{raw_second}/").status_code == 200


def test_wrong_birth_dates_count_down_then_lock(questionnaire_link, site):
    link, raw = questionnaire_link
    client = Client()
    for left in (4, 3, 2, 1):
        page = client.post(f"/p/{raw}/", birth_date_form(WRONG_BIRTH_DATE))
        assert page.status_code == 200
        word = "try" if left == 1 else "tries"
        assert f"That date of birth does not match. {left} {word} left." in page.content.decode()
    assert_state_page(client.post(f"/p/{raw}/", birth_date_form(WRONG_BIRTH_DATE)), "locked", site)
    link.refresh_from_db()
    assert link.locked_at is not None and link.birth_date_failures == 5
    # Even the right date is refused now, and the questions stay closed.
    assert_state_page(client.post(f"/p/{raw}/", birth_date_form(BIRTH_DATE)), "locked", site)
    assert access.SESSION_VERIFIED not in client.session
    assert_state_page(client.get(f"/p/{raw}/"), "locked", site)


def test_the_lock_follows_the_clinic_policy(questionnaire_link, site):
    policy = ClinicPolicy.objects.get(clinic=site)
    policy.link_birth_date_tries = 2
    policy.save()
    _, raw = questionnaire_link
    page = Client().post(f"/p/{raw}/", birth_date_form(WRONG_BIRTH_DATE))
    assert "1 try left." in page.content.decode()
    assert Client().post(f"/p/{raw}/", birth_date_form(WRONG_BIRTH_DATE)).status_code == 423


def test_the_wrong_date_message_gives_no_hint_which_part_was_wrong(questionnaire_link):
    _, raw = questionnaire_link
    texts_seen = set()
    for wrong in (
        BIRTH_DATE.replace(day=18),
        BIRTH_DATE.replace(month=6),
        BIRTH_DATE.replace(year=1981),
    ):
        html = Client().post(f"/p/{raw}/", birth_date_form(wrong)).content.decode()
        texts_seen.add(
            html.split('id="dob-error">', 1)[1].split("</p>", 1)[0].split("does not match.")[0]
        )
    assert len(texts_seen) == 1


def test_too_many_requests_from_one_address_get_429(questionnaire_link):
    _, raw = questionnaire_link
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(access.RATE_REQUESTS):
        assert client.get(f"/p/{raw}/").status_code == 200
    page = client.get(f"/p/{raw}/")
    assert page.status_code == 429
    assert texts.RATE_LIMITED_TITLE in page.content.decode()
    assert page["Retry-After"] == str(access.RATE_WINDOW_SECONDS)
    assert page["Cache-Control"] == "no-store"
    # Another address is not affected.
    assert Client(REMOTE_ADDR="203.0.113.8").get(f"/p/{raw}/").status_code == 200


def test_birth_date_tries_from_one_address_are_limited_across_links(make_link):
    client = Client(REMOTE_ADDR="203.0.113.9")
    links = [make_link(instruments=["phq-9"])[1] for _ in range(3)]
    statuses = []
    for n in range(access.RATE_BIRTH_DATE + 1):
        statuses.append(
            client.post(f"/p/{links[n % 3]}/", birth_date_form(WRONG_BIRTH_DATE)).status_code
        )
    assert statuses[: access.RATE_BIRTH_DATE] == [200] * access.RATE_BIRTH_DATE
    assert statuses[-1] == 429
    # Over the limit even the right date is not checked.
    assert client.post(f"/p/{links[0]}/", birth_date_form()).status_code == 429
    assert PatientLink.objects.filter(verified_at__isnull=False).count() == 0


def test_every_use_is_audited_as_the_patient_link(questionnaire_link, patient):
    link, raw = questionnaire_link
    client = Client()
    client.get(f"/p/{raw}/")
    client.post(f"/p/{raw}/", birth_date_form(WRONG_BIRTH_DATE))
    client.post(f"/p/{raw}/", birth_date_form())
    client.get(f"/p/{raw}/answer/")
    client.post(f"/p/{raw}/answer/", form_answers())
    client.get(f"/p/{raw}/done/")
    events = AuditEvent.objects.filter(username=USERNAME, object_id=str(link.id)).order_by("time")
    changes = [(e.detail["change"], e.outcome) for e in events]
    assert changes == [
        ("create", "success"),
        ("open", "success"),
        ("verify", "denied"),
        ("verify", "success"),
        ("open", "success"),
        ("open", "success"),
        ("submit", "success"),
        ("page", "success"),
    ]
    assert all(e.patient_id == patient.id and e.user_id is None for e in events)
    assert all(e.ip == "127.0.0.1" for e in events if e.detail["change"] != "create")
    response_event = AuditEvent.objects.get(object_type="questionnaire_response")
    assert response_event.username == USERNAME


@pytest.mark.parametrize("path", ["/p/{raw}/", "/p/{raw}/answer/", "/p/{raw}/done/", "/p/nope/"])
def test_every_portal_response_is_kept_out_of_caches_and_search(questionnaire_link, path):
    _, raw = questionnaire_link
    response = Client().get(path.format(raw=raw))
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]
    assert response["Referrer-Policy"] == "same-origin"


def test_pages_keep_the_referrer_on_site_and_work_without_any_login(questionnaire_link):
    _, raw = questionnaire_link
    response = Client().get(f"/p/{raw}/")
    assert response.status_code == 200
    assert '<meta name="referrer" content="same-origin">' in response.content.decode()


def test_redirects_carry_the_privacy_headers_too(questionnaire_link):
    _, raw = questionnaire_link
    response = Client().post(f"/p/{raw}/", birth_date_form())
    assert response.status_code == 302
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"


def test_only_get_and_post(questionnaire_link):
    _, raw = questionnaire_link
    assert Client().put(f"/p/{raw}/").status_code == 405
    assert Client().post(f"/p/{raw}/done/").status_code == 405


def _csrf_token(client: Client, path: str) -> str:
    html = client.get(path).content.decode()
    return html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]


def test_forms_need_the_csrf_token_and_refuse_a_foreign_origin(questionnaire_link):
    _, raw = questionnaire_link
    client = Client(enforce_csrf_checks=True)
    token = _csrf_token(client, f"/p/{raw}/")
    refused = client.post(f"/p/{raw}/", birth_date_form())
    assert refused.status_code == 403
    foreign = client.post(
        f"/p/{raw}/",
        {**birth_date_form(), "csrfmiddlewaretoken": token},
        headers={"Origin": "https://attacker.example"},
    )
    assert foreign.status_code == 403
    accepted = client.post(f"/p/{raw}/", {**birth_date_form(), "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    answer_token = _csrf_token(client, f"/p/{raw}/answer/")
    sent = client.post(f"/p/{raw}/answer/", {**form_answers(), "csrfmiddlewaretoken": answer_token})
    assert sent.status_code == 302
    assert Response.objects.count() == 1


def test_the_pages_never_name_the_treatment_even_if_the_site_does(questionnaire_link):
    link, raw = questionnaire_link
    Clinic.objects.filter(pk=link.clinic_id).update(name="Denver Ketamine Clinic")
    text = Client().get(f"/p/{raw}/").content.decode()
    assert "Denver Clinic" in text
    assert "ketamine" not in text.lower()
