"""API: observations per patient and the safety-alert list and clear endpoints."""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.observations import rules, services
from ketapath.observations.models import Observation, SafetyAlert
from ketapath.observations.tests.conftest import GOOD_PLAN, assessment_now
from ketapath.patients.models import Patient

ApiClient = Callable[[User], Client]


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def _obs_url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.id}/observations"


def _vitals_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "taken_at": (timezone.now() - timedelta(minutes=10)).isoformat(),
        "context_kind": "clinic_visit",
        "measurements": [
            {"code": "8480-6", "value": 128},
            {"code": "8462-4", "value": 82},
            {"code": "2708-6", "value": 97},
        ],
    }
    body.update(changes)
    return body


def test_post_and_get_observations(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    client = api_client(nurse)
    response = _post(client, _obs_url(patient), _vitals_body())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == 3
    assert {i["code"] for i in body["items"]} == {"8480-6", "8462-4", "2708-6"}
    assert body["items"][0]["taken_at"].endswith(("-07:00", "-06:00"))
    listing = client.get(_obs_url(patient), {"code": "2708-6"}).json()
    assert listing["count"] == 1
    assert listing["items"][0]["value"] == 97
    assert listing["items"][0]["unit"] == "%"
    # Date filters are the site's local dates, the date taken_at shows with its offset.
    taken_on = datetime.fromisoformat(body["items"][0]["taken_at"]).date()
    assert client.get(_obs_url(patient), {"date_from": taken_on.isoformat()}).json()["count"] == 3
    assert client.get(_obs_url(patient), {"date_to": taken_on.isoformat()}).json()["count"] == 3
    after = (taken_on + timedelta(days=1)).isoformat()
    assert client.get(_obs_url(patient), {"date_from": after}).json()["count"] == 0
    far = (taken_on - timedelta(days=30)).isoformat()
    assert client.get(_obs_url(patient), {"date_to": far}).json()["count"] == 0
    assert AuditEvent.objects.filter(
        patient_id=patient.id, action=AuditEvent.Action.READ, outcome="success"
    ).exists()


def test_post_invalid_names_the_field(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    client = api_client(nurse)
    response = _post(
        client, _obs_url(patient), _vitals_body(measurements=[{"code": "2708-6", "value": 101}])
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "measurements.2708-6", "rule": rules.message_range(rules.KINDS_BY_KEY["spo2"])}
    ]
    response = _post(
        client, _obs_url(patient), _vitals_body(measurements=[{"code": "1234-5", "value": 1}])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "measurements.0.code"
    response = _post(
        client,
        _obs_url(patient),
        _vitals_body(
            measurements=[{"code": "8480-6", "value": 70}, {"code": "8462-4", "value": 90}]
        ),
    )
    assert response.json()["errors"] == [
        {"field": "measurements.8480-6", "rule": rules.MESSAGE_SYSTOLIC_BELOW_DIASTOLIC}
    ]
    assert not Observation.objects.exists()


def test_observation_permissions(
    client: Client,
    api_client: ApiClient,
    patient: Patient,
    other_site_patient: Patient,
    therapist: User,
    front_desk: User,
    prescriber: User,
    director: User,
    nurse: User,
) -> None:
    assert client.get(_obs_url(patient)).status_code == 401
    assert _post(client, _obs_url(patient), _vitals_body()).status_code == 401
    assert api_client(nurse).get(_obs_url(other_site_patient)).status_code == 404
    assert _post(api_client(nurse), _obs_url(other_site_patient), _vitals_body()).status_code == 404
    for user in (therapist, front_desk):
        response = _post(api_client(user), _obs_url(patient), _vitals_body())
        assert response.status_code == 403, user.username
    assert api_client(therapist).get(_obs_url(patient)).status_code == 200
    for user in (prescriber, director):
        assert _post(api_client(user), _obs_url(patient), _vitals_body()).status_code == 201


def test_alert_list_fields_and_scope(
    api_client: ApiClient,
    nurse: User,
    make_alert: Callable[..., SafetyAlert],
    patient: Patient,
    other_site_patient: Patient,
    other_site: Clinic,
) -> None:
    mine = make_alert(patient)
    make_alert(other_site_patient, clinic=other_site)
    response = api_client(nurse).get("/api/v1/alerts")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["items"][0]
    assert item["id"] == str(mine.id)
    assert item["patient"] == {
        "id": str(patient.id),
        "name": patient.display_name,
        "mrn": patient.mrn,
    }
    assert item["status"] == "open"
    assert item["kind"] == "phq9_item9"
    assert item["age_minutes"] == 0
    assert item["cleared_by"] is None and item["escalated_at"] is None
    assert api_client(nurse).get("/api/v1/alerts", {"status": "cleared"}).json()["count"] == 0
    assert api_client(nurse).get("/api/v1/alerts", {"status": "lost"}).status_code == 422
    assert (
        api_client(nurse).get("/api/v1/alerts", {"clinic": str(other_site.id)}).json()["count"] == 0
    )


def test_alert_list_permissions(
    client: Client, api_client: ApiClient, front_desk: User, biller: User, therapist: User
) -> None:
    assert client.get("/api/v1/alerts").status_code == 401
    assert api_client(front_desk).get("/api/v1/alerts").status_code == 403
    assert api_client(biller).get("/api/v1/alerts").status_code == 403
    assert api_client(therapist).get("/api/v1/alerts").status_code == 200


def test_alert_list_query_count_does_not_grow(
    api_client: ApiClient,
    prescriber: User,
    make_alert: Callable[..., SafetyAlert],
    make_patient: Callable[..., Patient],
) -> None:
    client = api_client(prescriber)
    make_alert(make_patient())
    client.get("/api/v1/alerts")  # the first request also records the token's first use
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/alerts").json()["count"] == 1
    for n in range(6):
        raised = make_alert(make_patient())
        if n % 2:
            services.safety_alert_clear(
                user=prescriber, alert=raised, assessment=assessment_now(), plan=GOOD_PLAN
            )
        make_alert(make_patient())
    with CaptureQueriesContext(connection) as many:
        assert client.get("/api/v1/alerts").json()["count"] == 10
    with CaptureQueriesContext(connection) as cleared:
        assert client.get("/api/v1/alerts", {"status": "cleared"}).json()["count"] == 3
    assert len(many) == len(one)
    assert len(cleared) == len(one)


def _clear_url(alert: SafetyAlert) -> str:
    return f"/api/v1/alerts/{alert.id}/clear"


def test_clear_endpoint(
    client: Client,
    api_client: ApiClient,
    prescriber: User,
    nurse: User,
    other_clinic_nurse: User,
    make_user: Callable[..., User],
    other_site: Clinic,
    alert: SafetyAlert,
) -> None:
    body = {"assessment": assessment_now(), "plan": GOOD_PLAN}
    assert _post(client, _clear_url(alert), body).status_code == 401
    other_prescriber = make_user("prescriber2", other_site, "prescriber")
    assert _post(api_client(other_prescriber), _clear_url(alert), body).status_code == 404
    assert _post(api_client(other_clinic_nurse), _clear_url(alert), body).status_code == 404
    response = _post(api_client(nurse), _clear_url(alert), body)
    assert response.status_code == 403
    assert response.json()["detail"] == services.MESSAGE_CLEAR_ROLE
    bad = _post(
        api_client(prescriber),
        _clear_url(alert),
        {"assessment": assessment_now(risk_level=""), "plan": "ok"},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"assessment.risk_level", "plan"}
    ok = _post(api_client(prescriber), _clear_url(alert), body)
    assert ok.status_code == 200
    data = ok.json()
    assert data["status"] == "cleared"
    assert data["cleared_by"] == prescriber.display_name
    assert data["assessment"]["method"] == "clinical_interview"
    again = _post(api_client(prescriber), _clear_url(alert), body)
    assert again.status_code == 409
    assert again.json()["detail"] == services.MESSAGE_ALREADY_CLEARED


def test_clear_malformed_and_unknown_id(api_client: ApiClient, prescriber: User) -> None:
    body = {"assessment": assessment_now(), "plan": GOOD_PLAN}
    malformed = _post(api_client(prescriber), "/api/v1/alerts/not-a-uuid/clear", body)
    assert malformed.status_code == 422
    unknown = _post(
        api_client(prescriber), "/api/v1/alerts/6f1c2a3e-0000-4000-8000-000000000000/clear", body
    )
    assert unknown.status_code == 404
