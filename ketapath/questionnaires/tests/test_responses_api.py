"""POST and GET /api/v1/patients/{id}/questionnaire-responses."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.api import MESSAGE_UNAUTHENTICATED
from ketapath.observations.models import SafetyAlert
from ketapath.patients.models import Patient
from ketapath.patients.selectors import MESSAGE_PATIENT_NOT_FOUND
from ketapath.questionnaires.api import MESSAGE_CLINIC_NOT_ENTERABLE, MESSAGE_DATE_ORDER
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.rules import RULE_OUT_OF_RANGE
from ketapath.questionnaires.services import MESSAGE_RESPONSE_INVALID, RULE_COLLECTED_IN_FUTURE

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]


def url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.id}/questionnaire-responses"


def phq9(item9: int = 0) -> dict[str, int]:
    return {**{str(n): 1 for n in range(1, 9)}, "9": item9, "10": 0}


def post(client: Client, patient: Patient, **body: Any) -> Any:
    payload: dict[str, Any] = {"instrument": "phq-9", "answers": phq9(), "context": "screening"}
    payload.update(body)
    return client.post(url(patient), payload, content_type="application/json")


def test_create_returns_stored_scored_response(
    api_client: ApiClient, nurse: User, patient: Patient, site: Clinic
) -> None:
    collected = datetime(2026, 1, 15, 9, 30, tzinfo=ZoneInfo("America/Denver"))
    response = post(
        api_client(nurse), patient, answers=phq9(item9=2), collected_at=collected.isoformat()
    )
    assert response.status_code == 201, response.content
    body = response.json()
    stored = Response.objects.get()
    alert = SafetyAlert.objects.get()
    assert body == {
        "id": str(stored.id),
        "patient": str(patient.id),
        "clinic": str(site.id),
        "instrument": "phq-9",
        "answers": phq9(item9=2),
        "total": 10,
        "severity": "moderate",
        "complete": True,
        "missing": [],
        "alerts": [str(alert.id)],
        "alert_codes": ["phq9_item9"],
        "clusters": None,
        "provisional_ptsd": None,
        "pcl5_cutoff": None,
        "context": "screening",
        "context_id": None,
        "source": "clinic",
        # Denver is UTC-7 in January: the time carries the site's offset.
        "collected_at": "2026-01-15T09:30:00-07:00",
        "entered_by": str(nurse.id),
    }


def test_create_partial(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    answers: dict[str, Any] = phq9()
    answers["4"] = None
    del answers["7"]
    body = post(api_client(nurse), patient, answers=answers).json()
    assert body["complete"] is False
    assert body["total"] is None
    assert body["severity"] is None
    assert body["missing"] == ["4", "7"]


def test_create_pcl5_carries_clusters(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    answers = {str(n): 2 for n in range(1, 21)}
    body = post(api_client(nurse), patient, instrument="pcl-5", answers=answers).json()
    assert body["total"] == 40
    assert body["clusters"] == {"B": 10, "C": 4, "D": 14, "E": 12}
    assert body["provisional_ptsd"] == {"cutoff": True, "dsm5_rule": True}
    assert body["pcl5_cutoff"] == 33


def test_create_invalid_answer_422_names_item(
    api_client: ApiClient, nurse: User, patient: Patient
) -> None:
    answers = phq9(item9=1)
    answers["3"] = 7
    response = post(api_client(nurse), patient, answers=answers)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == MESSAGE_RESPONSE_INVALID
    assert body["errors"] == [
        {
            "field": "answers.3",
            "rule": RULE_OUT_OF_RANGE.format(value=7, low=0, high=3, link_id="3"),
        }
    ]
    assert not Response.objects.exists()
    assert not SafetyAlert.objects.exists()


def test_create_future_time_422(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    later = (timezone.now() + timedelta(days=1)).isoformat()
    response = post(api_client(nurse), patient, collected_at=later)
    assert response.status_code == 422
    assert {"field": "collected_at", "rule": RULE_COLLECTED_IN_FUTURE} in response.json()["errors"]


def test_create_missing_fields_422(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    response = api_client(nurse).post(
        url(patient), {"answers": {}}, content_type="application/json"
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"instrument", "context"} <= fields


def test_create_at_a_site_not_yours_422(
    api_client: ApiClient, nurse: User, patient: Patient, other_site: Clinic
) -> None:
    response = post(api_client(nurse), patient, clinic=str(other_site.id))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "clinic", "rule": MESSAGE_CLINIC_NOT_ENTERABLE}]


def test_list_filters_and_pages(
    api_client: ApiClient, nurse: User, patient: Patient, site: Clinic
) -> None:
    client = api_client(nurse)
    zone = ZoneInfo(site.time_zone)
    for day, instrument, answers in [
        (1, "phq-9", phq9()),
        (2, "gad-7", {str(n): 1 for n in range(1, 8)}),
        (3, "phq-9", phq9()),
    ]:
        moment = datetime(2026, 3, day, 23, 30, tzinfo=zone)  # late evening local = next day UTC
        post(
            client, patient, instrument=instrument, answers=answers, collected_at=moment.isoformat()
        )
    body = client.get(url(patient)).json()
    assert body["count"] == 3
    assert [i["collected_at"][:10] for i in body["items"]] == [
        "2026-03-03",
        "2026-03-02",
        "2026-03-01",
    ]
    body = client.get(url(patient) + "?instrument=phq-9").json()
    assert body["count"] == 2
    # Local dates: 1 March 23:30 in Denver is 2 March in UTC, and still counts as 1 March.
    body = client.get(url(patient) + "?date_from=2026-03-01&date_to=2026-03-01").json()
    assert body["count"] == 1
    assert body["items"][0]["collected_at"] == "2026-03-01T23:30:00-07:00"
    body = client.get(url(patient) + "?page=2&page_size=2").json()
    assert body["count"] == 3 and len(body["items"]) == 1
    response = client.get(url(patient) + "?date_from=2026-03-02&date_to=2026-03-01")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "date_to", "rule": MESSAGE_DATE_ORDER}]
    assert client.get(url(patient) + "?page_size=1000").status_code == 422


def test_list_is_audited(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    client = api_client(nurse)
    created = post(client, patient).json()
    client.get(url(patient))
    event = AuditEvent.objects.get(
        action=AuditEvent.Action.READ, object_type="questionnaire_response"
    )
    assert event.patient_id == patient.id
    assert event.user_id == nurse.id
    assert event.detail["responses"] == [created["id"]]


# --- permissions -----------------------------------------------------------------------------


def test_anonymous_401(client: Client, patient: Patient) -> None:
    for response in (client.get(url(patient)), post(client, patient)):
        assert response.status_code == 401
        assert response.json()["detail"] == MESSAGE_UNAUTHENTICATED


def test_other_site_404(api_client: ApiClient, other_clinic_nurse: User, patient: Patient) -> None:
    client = api_client(other_clinic_nurse)
    for response in (client.get(url(patient)), post(client, patient)):
        assert response.status_code == 404
        assert response.json()["detail"] == MESSAGE_PATIENT_NOT_FOUND
    assert not Response.objects.exists()


@pytest.mark.parametrize("persona", ["front_desk", "biller"])
def test_wrong_role_403(
    persona: str, request: pytest.FixtureRequest, api_client: ApiClient, patient: Patient
) -> None:
    client = api_client(request.getfixturevalue(persona))
    for response in (client.get(url(patient)), post(client, patient)):
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    assert not Response.objects.exists()


@pytest.mark.parametrize("persona", ["nurse", "therapist", "prescriber", "director"])
def test_clinical_roles_ok(
    persona: str, request: pytest.FixtureRequest, api_client: ApiClient, patient: Patient
) -> None:
    client = api_client(request.getfixturevalue(persona))
    assert post(client, patient).status_code == 201
    assert client.get(url(patient)).json()["count"] == 1
