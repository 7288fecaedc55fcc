import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketapath.audit.models import AuditEvent
from ketapath.patients.models import Consent, Patient

NEW = {
    "given_name": "Jordan",
    "family_name": "Okafor",
    "birth_date": "1985-07-21",
    "sex_at_birth": "male",
    "phone": "720-555-0148",
}


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def test_anonymous_is_401(client, patient):
    for response in (
        client.get("/api/v1/patients"),
        client.get(f"/api/v1/patients/{patient.id}"),
        post(client, "/api/v1/patients", NEW),
        client.get(f"/api/v1/patients/{patient.id}/consents"),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"


def test_list_is_scoped_paginated_and_audited(api_client, nurse, make_patient, other_site_patient):
    for _ in range(3):
        make_patient()
    client = api_client(nurse)
    body = client.get("/api/v1/patients?page_size=2").json()
    assert body["count"] == 3
    assert len(body["items"]) == 2
    ids = {p["id"] for p in body["items"]}
    assert str(other_site_patient.id) not in ids
    page2 = client.get("/api/v1/patients?page=2&page_size=2").json()
    assert len(page2["items"]) == 1
    assert not ids & {p["id"] for p in page2["items"]}
    event = AuditEvent.objects.filter(action="search").latest("time")
    assert event.detail["patients"] == [p["id"] for p in page2["items"]]


def test_list_query_count_does_not_grow(api_client, nurse, make_patient):
    client = api_client(nurse)
    make_patient()
    client.get("/api/v1/patients")  # the token's first use records last_used_at
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/patients").status_code == 200
    for _ in range(6):
        make_patient()
    with CaptureQueriesContext(connection) as seven:
        assert client.get("/api/v1/patients").json()["count"] == 7
    assert len(seven) == len(one)


def test_page_size_bounds(api_client, nurse, patient):
    client = api_client(nurse)
    response = client.get("/api/v1/patients?page_size=101")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "page_size"
    assert client.get("/api/v1/patients?page=0").status_code == 422


def test_search_by_name_dob_mrn_phone(api_client, nurse, make_patient):
    target = make_patient(given_name="Priya", family_name="Raman", phone="+13035550777")
    make_patient(given_name="Pat", family_name="Rowe")
    client = api_client(nurse)
    for q in (
        "raman",
        "Priya Ram",
        target.mrn,
        "1980-05-17 raman",
        "303-555-0777",
        "05/17/1980 Priya",
    ):
        items = client.get("/api/v1/patients", {"q": q}).json()["items"]
        assert [p["id"] for p in items] == [str(target.id)], q


def test_create_201_then_duplicate_409(api_client, front_desk, site):
    client = api_client(front_desk)
    response = post(client, "/api/v1/patients", NEW)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mrn"].startswith("TKC")
    assert body["phone"] == "+17205550148"
    assert body["preferred_clinic"] == str(site.id)
    assert body["enrolments"][0]["clinic"] == str(site.id)
    assert body["pathway"] is None
    assert body["created_at"].endswith(("-07:00", "-06:00"))  # America/Denver offset
    again = post(client, "/api/v1/patients", NEW)
    assert again.status_code == 409
    assert again.json()["code"] == "likely_duplicate"
    confirmed = post(client, "/api/v1/patients", {**NEW, "confirm_not_duplicate": True})
    assert confirmed.status_code == 201
    assert Patient.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "birth_date": "2999-01-01"}, "birth_date"),
        ({**NEW, "phone": "call me"}, "phone"),
        ({**NEW, "email": "nope"}, "email"),
        ({**NEW, "given_name": "y" * 81}, "given_name"),
        ({**NEW, "sex_at_birth": "x"}, "sex_at_birth"),
        ({k: v for k, v in NEW.items() if k != "family_name"}, "family_name"),
        ({**NEW, "mrn": "TKC000001"}, "mrn"),
    ],
)
def test_create_bad_input_422(api_client, front_desk, site, body, field):
    response = post(api_client(front_desk), "/api/v1/patients", body)
    assert response.status_code == 422, response.content
    payload = response.json()
    assert payload["code"] == "invalid"
    assert field in {e["field"] for e in payload["errors"]}, payload
    assert all(e["rule"] for e in payload["errors"])
    assert not Patient.objects.exists()


def test_create_forbidden_for_roles_without_write(
    api_client, therapist, biller, clinic_admin, site
):
    for user in (therapist, biller, clinic_admin):
        response = post(api_client(user), "/api/v1/patients", {**NEW, "clinic": str(site.id)})
        assert response.status_code == 422  # not a site where they may register
        assert response.json()["errors"][0]["field"] == "clinic"
    assert not Patient.objects.exists()


def test_get_patch_scoping(api_client, nurse, therapist, other_clinic_nurse, patient):
    url = f"/api/v1/patients/{patient.id}"
    assert api_client(nurse).get(url).status_code == 200
    assert api_client(therapist).get(url).status_code == 200
    denied = api_client(other_clinic_nurse).get(url)
    assert denied.status_code == 404
    assert AuditEvent.objects.filter(
        patient_id=patient.id, outcome="denied", username="nurse2"
    ).exists()
    assert patch(api_client(other_clinic_nurse), url, {"city": "Boulder"}).status_code == 404
    assert patch(api_client(therapist), url, {"city": "Boulder"}).status_code == 403
    response = patch(api_client(nurse), url, {"city": "Boulder", "state": "co"})
    assert response.status_code == 200
    assert response.json()["city"] == "Boulder"
    assert response.json()["state"] == "CO"
    assert patch(api_client(nurse), url, {"birth_date": "2999-01-01"}).status_code == 422
    assert patch(api_client(nurse), url, {"unknown": 1}).status_code == 422
    assert api_client(nurse).get("/api/v1/patients/not-a-uuid").status_code == 422


def test_read_is_audited(api_client, nurse, patient):
    api_client(nurse).get(f"/api/v1/patients/{patient.id}")
    event = AuditEvent.objects.get(action="read", patient_id=patient.id, outcome="success")
    assert event.username == "nurse"
    assert event.object_type == "patient"
    assert event.request_id


def test_consents_get_and_post(api_client, front_desk, biller, patient, consent_documents):
    url = f"/api/v1/patients/{patient.id}/consents"
    client = api_client(front_desk)
    listing = client.get(url).json()
    assert listing["count"] == 0
    assert {s["state"] for s in listing["status"]} == {"missing"}
    response = post(client, url, {"kind": "ketamine_treatment", "signed_by_name": "Alex Rivera"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["document_version"] == 1
    assert body["witnessed_by"] == str(front_desk.id)
    assert body["expires_at"] is not None
    listing = client.get(url).json()
    assert listing["count"] == 1
    states = {s["kind"]: s["state"] for s in listing["status"]}
    assert states["ketamine_treatment"] == "current"
    assert (
        post(api_client(biller), url, {"kind": "sms_contact", "signed_by_name": "A"}).status_code
        == 403
    )
    future = (timezone.now() + timedelta(days=2)).isoformat()
    bad = post(
        client, url, {"kind": "ketamine_treatment", "signed_by_name": "A", "signed_at": future}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "signed_at"
    naive = post(
        client,
        url,
        {"kind": "sms_contact", "signed_by_name": "A", "signed_at": "2026-01-01T10:00:00"},
    )
    assert naive.status_code == 422
    assert post(client, url, {"kind": "tattoo", "signed_by_name": "A"}).status_code == 422
    assert Consent.objects.count() == 1


def test_consents_other_site_404(api_client, other_clinic_nurse, patient, consent_documents):
    url = f"/api/v1/patients/{patient.id}/consents"
    assert api_client(other_clinic_nurse).get(url).status_code == 404
    assert (
        post(
            api_client(other_clinic_nurse), url, {"kind": "sms_contact", "signed_by_name": "A"}
        ).status_code
        == 404
    )


def test_session_auth_post_needs_csrf(client_for, front_desk):
    from django.test import Client

    client = client_for(front_desk)
    client.handler.enforce_csrf_checks = True
    response = post(client, "/api/v1/patients", NEW)
    assert response.status_code in (401, 403)
    assert not Patient.objects.exists()
    assert isinstance(client, Client)
