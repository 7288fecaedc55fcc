"""Pages: record vitals, vitals list, site alert list, clear-alert form."""

from collections.abc import Callable
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.observations import rules, services
from ketapath.observations.models import Observation, SafetyAlert
from ketapath.observations.tests.conftest import GOOD_PLAN
from ketapath.patients.models import Pathway, Patient

ClientFor = Callable[[User], Client]


def _site_now_input(site: Clinic, minutes_ago: int = 5) -> str:
    from zoneinfo import ZoneInfo

    moment = timezone.now() - timedelta(minutes=minutes_ago)
    return moment.astimezone(ZoneInfo(site.time_zone)).strftime("%Y-%m-%dT%H:%M")


def test_vitals_new_permissions(
    client: Client,
    client_for: ClientFor,
    patient: Patient,
    other_site_patient: Patient,
    nurse: User,
    therapist: User,
    front_desk: User,
) -> None:
    url = reverse("observations:vitals_new", args=[patient.id])
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response["Location"]
    other = reverse("observations:vitals_new", args=[other_site_patient.id])
    assert client_for(nurse).get(other).status_code == 404
    assert client_for(therapist).get(url).status_code == 403
    assert client_for(front_desk).get(url).status_code == 403
    page = client_for(nurse).get(url)
    assert page.status_code == 200
    assert b"America/Denver" in page.content
    assert AuditEvent.objects.filter(
        patient_id=patient.id, action=AuditEvent.Action.READ, outcome="success"
    ).exists()


def test_vitals_new_saves_and_refuses(
    client_for: ClientFor, patient: Patient, nurse: User, site: Clinic
) -> None:
    url = reverse("observations:vitals_new", args=[patient.id])
    c = client_for(nurse)
    bad = c.post(
        url,
        {"taken_at": _site_now_input(site), "context_kind": "clinic_visit",
         "spo2": "101", "heart_rate": "72"},
    )  # fmt: skip
    assert bad.status_code == 200
    assert rules.message_range(rules.KINDS_BY_KEY["spo2"]) in bad.content.decode()
    assert not Observation.objects.exists()
    empty = c.post(url, {"taken_at": _site_now_input(site), "context_kind": "clinic_visit"})
    assert rules.MESSAGE_NO_MEASUREMENTS in empty.content.decode()
    ok = c.post(
        url,
        {"taken_at": _site_now_input(site), "context_kind": "clinic_visit",
         "systolic_bp": "130", "diastolic_bp": "85", "pain": "4"},
    )  # fmt: skip
    assert ok.status_code == 302
    assert ok["Location"] == reverse("observations:vitals", args=[patient.id])
    assert Observation.objects.filter(patient=patient).count() == 3


def test_vitals_list_permissions_and_queries(
    client: Client,
    client_for: ClientFor,
    patient: Patient,
    other_site_patient: Patient,
    nurse: User,
    therapist: User,
    site: Clinic,
) -> None:
    url = reverse("observations:vitals", args=[patient.id])
    assert client.get(url).status_code == 302
    assert (
        client_for(nurse)
        .get(reverse("observations:vitals", args=[other_site_patient.id]))
        .status_code
        == 404
    )
    c = client_for(therapist)
    services.observations_record(
        user=nurse, patient=patient, clinic=site, taken_at=timezone.now(),
        measurements={"heart_rate": 70},
    )  # fmt: skip
    c.get(url)
    with CaptureQueriesContext(connection) as one:
        page = c.get(url)
    assert page.status_code == 200
    assert b"Heart rate" in page.content
    assert b"Record vitals" not in page.content
    for n in range(5):
        services.observations_record(
            user=nurse, patient=patient, clinic=site,
            taken_at=timezone.now() - timedelta(hours=n + 1),
            measurements={"heart_rate": 70 + n, "spo2": 98},
        )  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        assert c.get(url).status_code == 200
    assert len(many) == len(one)


def test_vitals_list_without_membership(
    client_for: ClientFor, patient: Patient, make_user: Callable[..., User], site: Clinic
) -> None:
    # Every role at a site may read patients, so no role gets 403 here; a user with no
    # membership has no sites and gets 404.
    outsider = make_user("outsider", site)
    response = client_for(outsider).get(reverse("observations:vitals", args=[patient.id]))
    assert response.status_code == 404


def test_alert_list_page(
    client: Client,
    client_for: ClientFor,
    nurse: User,
    prescriber: User,
    front_desk: User,
    other_clinic_nurse: User,
    make_alert: Callable[..., SafetyAlert],
    make_patient: Callable[..., Patient],
    patient: Patient,
    other_site_patient: Patient,
    other_site: Clinic,
) -> None:
    url = reverse("observations:alerts")
    assert client.get(url).status_code == 302
    assert client_for(front_desk).get(url).status_code == 403
    open_alert = make_alert(patient)
    make_alert(
        make_patient(),
        status=SafetyAlert.Status.ESCALATED,
        escalated_at=timezone.now(),
        escalated_to="Dana Director",
    )
    make_alert(other_site_patient, clinic=other_site, summary="Other site alert")
    page = client_for(nurse).get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert patient.display_name in text
    assert "Escalated" in text and "Dana Director" in text
    assert "Other site alert" not in text
    assert "Assess and clear" not in text  # nurses cannot clear
    assert "Assess and clear" in client_for(prescriber).get(url).content.decode()
    other = client_for(other_clinic_nurse).get(url).content.decode()
    assert "Other site alert" in other and patient.display_name not in other
    services.safety_alert_clear(
        user=prescriber,
        alert=open_alert,
        assessment={"assessed_at": timezone.now(), "risk_level": "moderate",
                    "method": "structured_screening", "findings": "Reviewed."},
        plan=GOOD_PLAN,
    )  # fmt: skip
    cleared = client_for(nurse).get(url, {"status": "cleared"}).content.decode()
    assert patient.display_name in cleared
    assert prescriber.display_name in cleared
    assert AuditEvent.objects.filter(
        object_type="safety_alert", action=AuditEvent.Action.READ, username="nurse"
    ).exists()


def test_alert_list_page_queries_flat(
    client_for: ClientFor,
    director: User,
    make_alert: Callable[..., SafetyAlert],
    make_patient: Callable[..., Patient],
) -> None:
    url = reverse("observations:alerts")
    c = client_for(director)
    make_alert(make_patient())
    c.get(url)
    with CaptureQueriesContext(connection) as one:
        c.get(url)
    for _ in range(6):
        make_alert(make_patient())
    with CaptureQueriesContext(connection) as many:
        c.get(url)
    assert len(many) == len(one)


def test_clear_page_permissions(
    client: Client,
    client_for: ClientFor,
    nurse: User,
    prescriber: User,
    therapist: User,
    other_clinic_nurse: User,
    make_alert: Callable[..., SafetyAlert],
    make_patient: Callable[..., Patient],
    alert: SafetyAlert,
) -> None:
    url = reverse("observations:alert_clear", args=[alert.id])
    assert client.get(url).status_code == 302
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    assert client_for(nurse).get(url).status_code == 403
    assert client_for(therapist).get(url).status_code == 403
    assert client_for(prescriber).get(url).status_code == 200
    behavioral = make_alert(make_patient(pathway=Pathway.BEHAVIORAL_HEALTH))
    assert (
        client_for(therapist)
        .get(reverse("observations:alert_clear", args=[behavioral.id]))
        .status_code
        == 200
    )


def test_clear_page_flow(
    client_for: ClientFor, prescriber: User, alert: SafetyAlert, site: Clinic
) -> None:
    url = reverse("observations:alert_clear", args=[alert.id])
    c = client_for(prescriber)
    refused = c.post(
        url,
        {"assessed_at": _site_now_input(site, 0), "risk_level": "low",
         "method": "clinical_interview", "findings": "Calm, no plan.", "plan": "Fine"},
    )  # fmt: skip
    assert refused.status_code == 200
    assert rules.MESSAGE_PLAN_SHORT in refused.content.decode()
    yesterday = c.post(
        url,
        {"assessed_at": _site_now_input(site, 60 * 24), "risk_level": "low",
         "method": "clinical_interview", "findings": "Calm, no plan.", "plan": GOOD_PLAN},
    )  # fmt: skip
    assert rules.MESSAGE_ASSESSED_AT_NOT_TODAY in yesterday.content.decode()
    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.OPEN
    done = c.post(
        url,
        {"assessed_at": _site_now_input(site, 0), "risk_level": "low",
         "method": "clinical_interview", "findings": "Calm, no plan.", "plan": GOOD_PLAN},
    )  # fmt: skip
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.CLEARED
    assert alert.assessment["findings"] == "Calm, no plan."
    again = c.get(url)
    assert again.status_code == 302
