"""The public patient-link API: /api/v1/portal/links/{token}/verify and /answers."""

import json

import pytest
from django.test import Client

from ketapath.audit.models import AuditEvent
from ketapath.observations.models import DiaryEntry, SafetyAlert
from ketapath.portal import access
from ketapath.portal.services import MESSAGE_ANSWER_ALL, MESSAGE_PAIN, USERNAME
from ketapath.portal.tests.conftest import (
    BIRTH_DATE,
    CONTEXT_ID,
    WRONG_BIRTH_DATE,
    api_answers,
    expire,
)
from ketapath.questionnaires.instruments import PHQ9
from ketapath.questionnaires.models import Response

pytestmark = pytest.mark.django_db


def post(path: str, body: dict, client: Client | None = None):
    return (client or Client()).post(
        f"/api/v1/portal/links/{path}",
        json.dumps(body, default=str),
        content_type="application/json",
    )


def verify(raw: str, given=BIRTH_DATE, client: Client | None = None):
    return post(f"{raw}/verify", {"birth_date": given.isoformat()}, client)


def test_verify_answers_what_the_link_asks(questionnaire_link, site):
    _, raw = questionnaire_link
    response = verify(raw)
    assert response.status_code == 200
    body = response.json()
    assert body["purpose"] == "questionnaires"
    assert body["clinic"] == {"name": site.name, "phone": site.phone}
    assert body["day"] is None
    [phq9] = body["instruments"]
    assert (phq9["code"], phq9["title"], phq9["lead"]) == ("phq-9", PHQ9.title, PHQ9.lead)
    assert len(phq9["items"]) == 10
    assert phq9["items"][0]["options"][1] == {"value": 1, "label": "Several days"}
    assert phq9["items"][9]["scored"] is False
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]


def test_verify_a_diary_link(diary_link):
    link, raw = diary_link
    body = verify(raw).json()
    assert body["purpose"] == "diary"
    assert body["instruments"] == []
    assert body["day"] == link.day.isoformat()


def test_unknown_or_altered_token_is_404(questionnaire_link):
    _, raw = questionnaire_link
    changed = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    response = verify(changed)
    assert response.status_code == 404
    assert response.json()["code"] == "unknown"
    assert "PHQ" not in response.content.decode()
    assert AuditEvent.objects.filter(username=USERNAME, detail__state="unknown").exists()


def test_wrong_birth_date_counts_down_then_locks(questionnaire_link):
    _, raw = questionnaire_link
    for left in (4, 3, 2, 1):
        response = verify(raw, WRONG_BIRTH_DATE)
        assert response.status_code == 403
        body = response.json()
        assert (body["code"], body["tries_left"]) == ("birth_date", left)
        assert "instruments" not in body
    locked = verify(raw, WRONG_BIRTH_DATE)
    assert locked.status_code == 423 and locked.json()["code"] == "locked"
    assert verify(raw).status_code == 423


def test_answers_with_a_wrong_birth_date_count_towards_the_lock(questionnaire_link):
    link, raw = questionnaire_link
    body = {"birth_date": WRONG_BIRTH_DATE.isoformat(), "answers": {"phq-9": api_answers()}}
    response = post(f"{raw}/answers", body)
    assert response.status_code == 403 and response.json()["tries_left"] == 4
    link.refresh_from_db()
    assert link.birth_date_failures == 1
    assert not Response.objects.exists()


def test_expired_used_and_replaced_links(make_link):
    expired, raw_expired = make_link()
    expire(expired)
    response = verify(raw_expired)
    assert response.status_code == 410 and response.json()["code"] == "expired"

    _, raw_used = make_link(instruments=["gad-7"])
    body = {"birth_date": BIRTH_DATE.isoformat(), "answers": {"gad-7": api_answers("gad-7")}}
    assert post(f"{raw_used}/answers", body).status_code == 201
    again = post(f"{raw_used}/answers", body)
    assert again.status_code == 410 and again.json()["code"] == "used"
    assert Response.objects.count() == 1

    _, raw_old = make_link(dedupe_key="k")
    make_link(dedupe_key="k")
    replaced = verify(raw_old)
    assert replaced.status_code == 410 and replaced.json()["code"] == "revoked"


def test_questionnaire_answers_land_as_patient_link_responses(make_link, patient):
    link, raw = make_link(instruments=["phq-9", "peg"])
    body = {
        "birth_date": BIRTH_DATE.isoformat(),
        "answers": {"phq-9": api_answers(), "peg": api_answers("peg", 5)},
    }
    response = post(f"{raw}/answers", body)
    assert response.status_code == 201
    assert response.json() == {"saved": 2, "crisis": False, "crisis_message": None}
    saved = Response.objects.filter(patient=patient)
    assert {r.source for r in saved} == {"patient_link"}
    assert {str(r.context_id) for r in saved} == {CONTEXT_ID}
    link.refresh_from_db()
    assert link.used_at is not None


def test_item_9_answers_crisis_with_what_to_show(questionnaire_link, patient, site):
    _, raw = questionnaire_link
    body = {"birth_date": BIRTH_DATE.isoformat(), "answers": {"phq-9": api_answers(item9=3)}}
    response = post(f"{raw}/answers", body)
    assert response.status_code == 201
    out = response.json()
    assert out["crisis"] is True
    for needed in ("988", "911", site.name, "(303) 555-0100", "not watched live"):
        assert needed in out["crisis_message"]
    assert SafetyAlert.objects.filter(patient=patient, kind="phq9_item9").count() == 1


def test_missing_and_invalid_answers_are_422_per_question(questionnaire_link, patient):
    link, raw = questionnaire_link
    answers = api_answers(item1=9)
    del answers["9"]
    answers["2"] = "often"
    response = post(
        f"{raw}/answers", {"birth_date": BIRTH_DATE.isoformat(), "answers": {"phq-9": answers}}
    )
    assert response.status_code == 422
    errors = {e["field"]: e["rule"] for e in response.json()["errors"]}
    assert errors["phq-9.9"] == MESSAGE_ANSWER_ALL
    assert "phq-9.1" in errors and "phq-9.2" in errors
    assert not Response.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_no_answers_at_all_names_every_scored_question(questionnaire_link):
    _, raw = questionnaire_link
    response = post(f"{raw}/answers", {"birth_date": BIRTH_DATE.isoformat()})
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == [f"phq-9.{n}" for n in range(1, 10)]


def test_diary_answers(diary_link, patient):
    link, raw = diary_link
    body = {
        "birth_date": BIRTH_DATE.isoformat(),
        "pain": 4,
        "rescue_medication": False,
        "note": "Slept well.",
    }
    response = post(f"{raw}/answers", body)
    assert response.status_code == 201
    assert response.json() == {"saved": 1, "crisis": False, "crisis_message": None}
    entry = DiaryEntry.objects.get(patient=patient)
    assert (entry.pain, entry.rescue_medication, entry.note, entry.day) == (
        4,
        False,
        "Slept well.",
        link.day,
    )


def test_diary_answers_need_pain_and_rescue(diary_link):
    _, raw = diary_link
    response = post(f"{raw}/answers", {"birth_date": BIRTH_DATE.isoformat(), "pain": 11})
    assert response.status_code == 422
    errors = {e["field"]: e["rule"] for e in response.json()["errors"]}
    assert errors["pain"] == MESSAGE_PAIN
    assert "rescue_medication" in errors
    wrong_type = post(f"{raw}/answers", {"birth_date": BIRTH_DATE.isoformat(), "pain": "4"})
    assert wrong_type.status_code == 422
    assert not DiaryEntry.objects.exists()


def test_not_a_date_is_422_and_no_try(questionnaire_link):
    link, raw = questionnaire_link
    response = post(f"{raw}/verify", {"birth_date": "17/05/1980"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "birth_date"
    link.refresh_from_db()
    assert link.birth_date_failures == 0


def test_api_shares_the_birth_date_rate_limit(questionnaire_link, make_link):
    client = Client(REMOTE_ADDR="198.51.100.4")
    raws = [make_link()[1] for _ in range(3)]
    for n in range(access.RATE_BIRTH_DATE):
        assert verify(raws[n % 3], WRONG_BIRTH_DATE, client).status_code in (403, 423)
    response = verify(raws[0], BIRTH_DATE, client)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response["Retry-After"] == str(access.RATE_WINDOW_SECONDS)


def test_openapi_documents_both_public_endpoints():
    schema = Client().get("/api/v1/openapi.json").json()
    for path, summary in (
        ("/api/v1/portal/links/{token}/verify", "Confirm the date of birth"),
        ("/api/v1/portal/links/{token}/answers", "Send a link's answers"),
    ):
        operation = schema["paths"][path]["post"]
        assert operation["summary"].startswith(summary)
        assert "410" in operation["responses"] and "423" in operation["responses"]
        assert operation["description"]
        assert not operation.get("security")
        assert operation["tags"] == ["patient links (public)"]


def test_no_staff_credentials_are_needed_or_used(questionnaire_link, api_client, nurse):
    _, raw = questionnaire_link
    # A staff token changes nothing: the date of birth is still required.
    assert verify(raw, WRONG_BIRTH_DATE, api_client(nurse)).status_code == 403
