"""/api/v1/patients/{id}/medications, /mme and /pdmp-checks: contract and permissions."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.api import MESSAGE_UNAUTHENTICATED
from ketapath.core.timeutils import local_today
from ketapath.medications import services
from ketapath.medications.catalogue import FACTOR_SET
from ketapath.medications.models import MmeSnapshot
from ketapath.medications.rules import FLAG_CAUTION
from ketapath.medications.tests.factories import add, oxycodone
from ketapath.patients.models import Patient

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]

OXY = {
    "drug_name": "Oxycodone ER 10 mg",
    "opioid_key": "oxycodone",
    "strength": "10 mg",
    "dose_mg": 10,
    "doses_per_day": 2,
    "route": "oral",
    "start_date": "2026-01-05",
    "prescriber": "Dr. Outside",
}


def meds_url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.id}/medications"


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, body, content_type="application/json")


def test_post_creates_and_returns_daily_mme(
    api_client: ApiClient, prescriber: User, patient: Patient
) -> None:
    response = post(api_client(prescriber), meds_url(patient), OXY)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["daily_mme"] == 30 and body["factor"] == 1.5
    assert body["factor_source"] == "cdc_2022"
    assert body["ingredient"] == "oxycodone" and body["rxnorm_ingredient"] == "7804"
    assert body["active"] is True and body["recorded_by"] == str(prescriber.id)
    assert body["created_at"].endswith(("-07:00", "-06:00"))
    assert MmeSnapshot.objects.filter(patient=patient, trigger="medication_added").count() == 1


def test_post_invalid_is_422_naming_field(
    api_client: ApiClient, nurse: User, patient: Patient
) -> None:
    body = {**OXY, "doses_per_day": None}
    response = post(api_client(nurse), meds_url(patient), body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["doses_per_day"]


def test_list_active_by_default_and_include_stopped(
    api_client: ApiClient, nurse: User, patient: Patient, site: Clinic
) -> None:
    med = oxycodone(nurse, patient, site)
    add(nurse, patient, site, "Lamictal 100 mg", ingredient="lamotrigine")
    today = local_today(site.time_zone)
    services.medication_stop(user=nurse, medication=med, clinic=site, stop_date=today)
    client = api_client(nurse)
    active = client.get(meds_url(patient)).json()
    assert active["count"] == 1 and active["items"][0]["ingredient"] == "lamotrigine"
    assert active["items"][0]["daily_mme"] is None
    everything = client.get(meds_url(patient) + "?include_stopped=true").json()
    assert everything["count"] == 2
    stopped = next(i for i in everything["items"] if i["id"] == str(med.id))
    assert stopped["active"] is False and stopped["stop_date"] == str(today)


def test_patch_stops_and_edits(
    api_client: ApiClient, nurse: User, patient: Patient, site: Clinic
) -> None:
    med = oxycodone(nurse, patient, site)
    client = api_client(nurse)
    url = f"{meds_url(patient)}/{med.id}"
    edited = patch(client, url, {"doses_per_day": 3})
    assert edited.status_code == 200 and edited.json()["daily_mme"] == 45
    today = local_today(site.time_zone)
    stopped = patch(client, url, {"stop_date": str(today), "stop_reason": "taper"})
    assert stopped.status_code == 200 and stopped.json()["active"] is False
    triggers = list(
        MmeSnapshot.objects.filter(patient=patient)
        .order_by("computed_at", "created_at")
        .values_list("trigger", "total_mme")
    )
    assert [t for t, _ in triggers] == [
        "medication_added",
        "medication_edited",
        "medication_stopped",
    ]
    bad = patch(client, url, {"stop_date": str(med.start_date - timedelta(days=1))})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "stop_date", "rule": services.MESSAGE_STOP_BEFORE_START}
    ]


def test_patch_unknown_medication_is_404(
    api_client: ApiClient, nurse: User, patient: Patient, other_site_patient: Patient, site: Clinic
) -> None:
    response = patch(
        api_client(nurse), f"{meds_url(patient)}/00000000-0000-0000-0000-000000000000", {}
    )
    assert response.status_code == 404


def test_mme_endpoint(api_client: ApiClient, nurse: User, patient: Patient, site: Clinic) -> None:
    oxycodone(nurse, patient, site)
    add(
        nurse,
        patient,
        site,
        "Fentanyl patch",
        opioid_key="fentanyl-transdermal",
        dose_mcg_per_hr=25,
        route="transdermal",
    )
    add(nurse, patient, site, "Suboxone", opioid_key="buprenorphine", dose_mg=8, doses_per_day=1)
    body = api_client(nurse).get(f"/api/v1/patients/{patient.id}/mme").json()
    assert body["total_mme"] == 90
    assert body["flags"] == [FLAG_CAUTION, "mme_ge_90"]
    assert body["naloxone_prompt"] is True and body["factor_set"] == FACTOR_SET
    assert sorted(i["mme"] for i in body["items"]) == [30, 60]
    assert [e["drug"] for e in body["excluded"]] == ["buprenorphine"]
    assert [h["total_mme"] for h in body["history"]] == [90, 90, 30]
    assert set(body["history"][0]) == {"computed_at", "total_mme", "trigger", "factor_set"}


def test_pdmp_checks_api(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    client = api_client(nurse)
    url = f"/api/v1/patients/{patient.id}/pdmp-checks"
    first = post(client, url, {"state": "CO", "result": "no_concerns"})
    assert first.status_code == 201, first.content
    second = post(
        client, url, {"state": "IL", "result": "concerns_noted", "note": "two prescribers"}
    )
    assert second.status_code == 201
    listed = client.get(url).json()
    assert listed["count"] == 2
    assert [i["state"] for i in listed["items"]] == ["IL", "CO"]
    assert listed["items"][0]["checked_by"] == str(nurse.id)
    bad = post(client, url, {"state": "Colorado", "result": "maybe"})
    assert bad.status_code == 422


READS = ["medications", "mme", "pdmp-checks"]


@pytest.mark.parametrize("path", READS)
def test_reads_anonymous_401(client: Client, patient: Patient, path: str) -> None:
    response = client.get(f"/api/v1/patients/{patient.id}/{path}")
    assert response.status_code == 401
    assert response.json()["detail"] == MESSAGE_UNAUTHENTICATED


@pytest.mark.parametrize("path", READS)
def test_reads_other_site_404(
    api_client: ApiClient, other_clinic_nurse: User, patient: Patient, path: str
) -> None:
    response = api_client(other_clinic_nurse).get(f"/api/v1/patients/{patient.id}/{path}")
    assert response.status_code == 404


@pytest.mark.parametrize("path", READS)
def test_reads_allowed_for_patient_readers(
    api_client: ApiClient, front_desk: User, biller: User, patient: Patient, path: str
) -> None:
    for user in (front_desk, biller):
        response = api_client(user).get(f"/api/v1/patients/{patient.id}/{path}")
        assert response.status_code == 200


def _writes(patient: Patient, med_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("post", f"/api/v1/patients/{patient.id}/medications", OXY),
        ("patch", f"/api/v1/patients/{patient.id}/medications/{med_id}", {"doses_per_day": 3}),
        (
            "post",
            f"/api/v1/patients/{patient.id}/pdmp-checks",
            {"state": "CO", "result": "no_concerns"},
        ),
    ]


def test_writes_permissions(
    client: Client,
    api_client: ApiClient,
    nurse: User,
    director: User,
    front_desk: User,
    biller: User,
    therapist: User,
    other_clinic_nurse: User,
    patient: Patient,
    site: Clinic,
) -> None:
    med = oxycodone(nurse, patient, site)
    for method, url, body in _writes(patient, str(med.id)):
        send = getattr(client, method)
        assert send(url, body, content_type="application/json").status_code == 401
        other = getattr(api_client(other_clinic_nurse), method)
        assert other(url, body, content_type="application/json").status_code == 404
        for user in (front_desk, biller, therapist):
            refused = getattr(api_client(user), method)(url, body, content_type="application/json")
            assert refused.status_code == 403, (user.username, url)
        ok = getattr(api_client(director), method)(url, body, content_type="application/json")
        assert ok.status_code in (200, 201), ok.content


def test_reads_are_audited(api_client: ApiClient, biller: User, patient: Patient) -> None:
    api_client(biller).get(f"/api/v1/patients/{patient.id}/mme")
    assert AuditEvent.objects.filter(
        user_id=biller.id, patient_id=patient.id, action="read", object_type="mme"
    ).exists()


def test_list_query_count_does_not_grow(
    api_client: ApiClient, nurse: User, patient: Patient, site: Clinic
) -> None:
    client = api_client(nurse)
    oxycodone(nurse, patient, site)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(meds_url(patient)).status_code == 200
            assert client.get(f"/api/v1/patients/{patient.id}/mme").status_code == 200
        return len(ctx.captured_queries)

    count()  # warm-up: the first request also records the token's first use
    few = count()
    for n in range(4):
        add(nurse, patient, site, f"Drug {n}", ingredient=f"ingredient{n}")
    assert count() == few
