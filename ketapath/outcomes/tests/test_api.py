"""The outcomes API: the reassessment and decision contract, the summary contract and CSV,
and who may see what."""

import csv
import io
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.outcomes.tests.conftest import T0, respond
from ketapath.scheduling.models import Course

pytestmark = pytest.mark.django_db

Api = Callable[[User], Client]
REASSESSMENT_KEYS = {
    "baseline",
    "current",
    "pain_change_percent",
    "pain_category",
    "phq9_response",
    "phq9_remission",
    "mme_change",
    "recommendation",
}
GROUP_KEYS = {
    "key",
    "started",
    "series_completed",
    "reassessed",
    "responders_30",
    "responders_50",
    "rate_30",
    "ci_30",
    "rate_50",
    "ci_50",
    "median_pain_change_percent",
    "phq9_response_rate",
    "phq9_remission_rate",
    "mean_mme_change",
    "dropout_rate",
    "adverse_event_rate",
}


@pytest.fixture
def reassessed(series: Callable[..., Course]) -> Course:
    course = series()
    respond(course.patient, "pain-nrs", 8, T0 - timedelta(days=1))
    respond(course.patient, "peg", "7.3", T0 - timedelta(days=1))
    due = T0 + timedelta(days=4 + course.protocol.reassessment_days)
    respond(course.patient, "pain-nrs", 4, due)
    respond(course.patient, "peg", "4.0", due)
    return course


def test_reassessment_contract(api_client: Api, prescriber: User, reassessed: Course) -> None:
    response = api_client(prescriber).get(f"/api/v1/courses/{reassessed.id}/reassessment")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= REASSESSMENT_KEYS
    assert body["baseline"]["pain-nrs"] == 8 and body["current"]["pain-nrs"] == 4
    assert body["baseline"]["peg"] == 7.3
    assert body["pain_change_percent"] == -50
    assert body["pain_category"] == "substantial"
    assert body["recommendation"] == "continue"
    assert body["exposure"]["sessions"] == 3
    assert body["current"]["pain-nrs_at"].endswith(("-07:00", "-06:00"))
    assert AuditEvent.objects.filter(
        object_type="course_reassessment", object_id=reassessed.id
    ).exists()


def test_decision_contract(api_client: Api, prescriber: User, reassessed: Course) -> None:
    client = api_client(prescriber)
    url = f"/api/v1/courses/{reassessed.id}/decision"
    bad = client.post(
        url, {"decision": "continue", "rationale": ""}, content_type="application/json"
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"rationale", "benefit"}
    ok = client.post(
        url,
        {"decision": "continue", "rationale": "Halved pain.", "benefit": "Pain 8 → 4; PEG 7.3 → 4"},
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["status"] == "continued"
    continuation = Course.objects.get(id=ok.json()["continuation"])
    assert continuation.parent_id == reassessed.id
    again = client.post(
        url, {"decision": "stop", "rationale": "x"}, content_type="application/json"
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_decided"
    shown = client.get(f"/api/v1/courses/{reassessed.id}/reassessment").json()
    assert shown["decision"]["decision"] == "continue"


def test_reassessment_permissions(
    api_client: Api,
    client: Client,
    reassessed: Course,
    nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
) -> None:
    url = f"/api/v1/courses/{reassessed.id}/reassessment"
    assert client.get(url).status_code == 401
    assert api_client(other_clinic_nurse).get(url).status_code == 404
    assert api_client(front_desk).get(url).status_code == 403
    assert api_client(nurse).get(url).status_code == 200
    decide = f"/api/v1/courses/{reassessed.id}/decision"
    payload = {"decision": "stop", "rationale": "No change."}
    assert client.post(decide, payload, content_type="application/json").status_code == 401
    assert (
        api_client(other_clinic_nurse)
        .post(decide, payload, content_type="application/json")
        .status_code
        == 404
    )
    assert (
        api_client(nurse).post(decide, payload, content_type="application/json").status_code == 403
    )


def test_summary_contract_and_csv(api_client: Api, prescriber: User, reassessed: Course) -> None:
    client = api_client(prescriber)
    response = client.get("/api/v1/outcomes/summary", {"group_by": "pathway"})
    assert response.status_code == 200
    body = response.json()
    (group,) = body["groups"]
    assert set(group) >= GROUP_KEYS
    assert group["key"] == "PAIN_SERIES"
    assert group["started"] == 1 and group["responders_30"] == 1 and group["rate_30"] == 1
    assert group["ci_30"][1] == 1 and 0 < group["ci_30"][0] < 1
    assert "Observational" in body["note"]
    assert AuditEvent.objects.filter(object_type="outcomes_summary", action="read").exists()
    exported = client.get("/api/v1/outcomes/summary.csv", {"group_by": "condition"})
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    header = rows[2]
    assert header[:3] == ["group", "started", "series_completed"]
    assert rows[-1][0] == "All series" and rows[-1][1] == "1"
    assert AuditEvent.objects.filter(object_type="outcomes_summary", action="export").exists()


def test_summary_validation(api_client: Api, prescriber: User) -> None:
    client = api_client(prescriber)
    bad = client.get(
        "/api/v1/outcomes/summary",
        {"group_by": "site", "date_from": "2026-05-01", "date_to": "2026-04-01"},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"group_by", "date_from"}


def test_summary_sites(
    api_client: Api,
    client: Client,
    make_user: Callable[..., User],
    site: Clinic,
    other_site: Clinic,
    nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
) -> None:
    url = "/api/v1/outcomes/summary"
    assert client.get(url).status_code == 401
    assert api_client(front_desk).get(url).status_code == 403
    # A nurse sees their own site only; another site is not theirs to ask for.
    mine = api_client(nurse).get(url).json()
    assert mine["clinics"] == [str(site.id)]
    assert api_client(nurse).get(url, {"clinic": str(other_site.id)}).status_code == 404
    assert api_client(other_clinic_nurse).get(url, {"clinic": str(site.id)}).status_code == 404
    # A medical director at one site sees the aggregates of every site of the organisation.
    director = make_user("chicago_director", other_site, "medical_director")
    both = api_client(director).get(url).json()
    assert set(both["clinics"]) == {str(site.id), str(other_site.id)}
    assert api_client(director).get(url, {"clinic": str(site.id)}).status_code == 200
