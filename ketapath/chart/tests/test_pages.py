from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Closure
from ketapath.patients import services
from ketapath.patients.models import Consent, ConsentKind

ALL_STAFF = [
    "director",
    "prescriber",
    "nurse",
    "therapist",
    "front_desk",
    "biller",
    "privacy_officer",
    "clinic_admin",
]


def chart_url(patient):
    return reverse("chart:patient", args=[patient.id])


def test_anonymous_redirected(client, patient):
    for url in (chart_url(patient), reverse("chart:today")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("persona", ALL_STAFF)
def test_every_staff_role_reads_the_chart(request, client_for, patient, persona):
    user = request.getfixturevalue(persona)
    response = client_for(user).get(chart_url(patient))
    assert response.status_code == 200
    assert patient.mrn in response.content.decode()


def test_other_site_is_404_and_denial_audited(client_for, other_clinic_nurse, patient):
    response = client_for(other_clinic_nurse).get(chart_url(patient))
    assert response.status_code == 404
    assert patient.family_name not in response.content.decode()
    event = AuditEvent.objects.get(patient_id=patient.id, outcome="denied")
    assert event.username == "nurse2"
    assert event.action == "read"


def test_unknown_patient_is_404(client_for, nurse):
    import uuid

    assert client_for(nurse).get(reverse("chart:patient", args=[uuid.uuid4()])).status_code == 404


def test_chart_read_writes_exactly_one_audit_event(client_for, nurse, patient, site):
    client_for(nurse).get(chart_url(patient), REMOTE_ADDR="10.1.2.3", HTTP_X_REQUEST_ID="req-42")
    events = AuditEvent.objects.filter(patient_id=patient.id, action="read")
    assert events.count() == 1
    event = events.get()
    assert event.outcome == "success"
    assert event.user_id == nurse.id
    assert event.role == "nurse"
    assert event.clinic_id == site.id
    assert event.object_type == "patient"
    assert event.object_id == str(patient.id)
    assert event.ip == "10.1.2.3"
    assert event.request_id == "req-42"


def test_banner_shows_identity_and_consent_state(client_for, nurse, patient, consent_documents):
    body = client_for(nurse).get(chart_url(patient)).content.decode()
    assert "Not yet decided" in body
    assert "Treatment consent" in body
    assert "Not on file" in body
    assert patient.preferred_clinic.name in body


def test_banner_on_patient_subpages(client_for, nurse, patient, consent_documents):
    client = client_for(nurse)
    for name in ("patients:edit", "patients:consent_new", "patients:escort_new"):
        body = client.get(reverse(name, args=[patient.id])).content.decode()
        assert 'class="patient-banner"' in body, name
        assert patient.mrn in body


def test_chart_query_count_does_not_grow_with_consents_and_escorts(
    client_for, nurse, site, patient, consent_documents
):
    client = client_for(nurse)
    client.get(chart_url(patient))
    with CaptureQueriesContext(connection) as few:
        client.get(chart_url(patient))
    for i in range(5):
        services.consent_record(
            user=nurse,
            patient=patient,
            clinic=site,
            kind=ConsentKind.SMS_CONTACT,
            signed_by_name=f"A{i}",
        )
        services.escort_add(
            user=nurse,
            patient=patient,
            name=f"Escort {i}",
            phone=f"303555{1200 + i}",
            relation="friend",
        )
    with CaptureQueriesContext(connection) as many:
        client.get(chart_url(patient))
    assert len(many) == len(few)


def test_today_page_shows_site_and_reconsent_worklist(
    client_for, front_desk, site, make_patient, consent_documents
):
    signed = make_patient(family_name="Signed")
    expired = make_patient(family_name="Lapsed")
    make_patient(family_name="Unsigned")
    services.consent_record(
        user=front_desk,
        patient=signed,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name="S",
    )
    old = services.consent_record(
        user=front_desk,
        patient=expired,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name="L",
    )
    Consent.objects.filter(pk=old.pk).update(
        signed_at=timezone.now() - timedelta(days=400),
        expires_at=timezone.now() - timedelta(days=35),
    )
    response = client_for(front_desk).get(reverse("chart:today"))
    assert response.status_code == 200
    body = response.content.decode()
    assert site.name in body
    assert "America/Denver" in body
    assert "No appointments are booked for today." in body
    rows = [(p.family_name, state, label) for p, state, label in response.context["reconsent"]]
    assert rows == [("Lapsed", "expired", "Expired"), ("Unsigned", "missing", "Not on file")]


def test_today_page_closure(client_for, nurse, site):
    today = timezone.now().astimezone(timezone.get_default_timezone()).date()
    Closure.objects.create(
        clinic=site,
        start_date=today - timedelta(days=1),
        end_date=today + timedelta(days=1),
        reason="Staff training",
    )
    body = client_for(nurse).get(reverse("chart:today")).content.decode()
    assert "Closed today" in body
    assert "Staff training" in body


def test_today_page_follows_site_switcher(client_for, make_user, site, other_site):
    from ketapath.accounts.models import Membership

    user = make_user("floater", site, "nurse")
    Membership.objects.create(user=user, clinic=other_site, role="nurse")
    client = client_for(user)
    assert site.name in client.get("/").content.decode()
    client.post(reverse("accounts:switch_clinic"), {"clinic": str(other_site.id), "next": "/"})
    body = client.get("/").content.decode()
    assert f"Today at {other_site.name}" in body
    assert "America/Chicago" in body


def test_user_without_site_sees_explanation(client_for, make_user, site):
    from ketapath.accounts.models import User

    lonely = User.objects.create_user(username="lonely", password="x-long-password-1")
    response = client_for(lonely).get("/")
    assert response.status_code == 200
    assert "No site yet" in response.content.decode()


def test_privacy_officer_reaches_the_patients_access_log(
    client_for, privacy_officer, nurse, patient
):
    link = f"/audit/?patient={patient.id}"
    assert link in client_for(privacy_officer).get(chart_url(patient)).content.decode()
    assert link not in client_for(nurse).get(chart_url(patient)).content.decode()
    response = client_for(privacy_officer).get(link)
    assert response.status_code == 200
    assert str(patient.id)[:8] in response.content.decode()


def test_open_alert_shows_on_banner_chart_and_navigation(
    client_for, prescriber, nurse, site, patient
):
    import uuid

    from ketapath.observations.services import safety_alert_raise

    safety_alert_raise(
        patient=patient,
        clinic=site,
        kind="phq9_item9",
        source_kind="questionnaire_response",
        source_id=uuid.uuid4(),
        summary="PHQ-9 item 9 answered above 0",
        user=nurse,
    )
    body = client_for(prescriber).get(chart_url(patient)).content.decode()
    banner = body.split("patient-banner", 1)[1].split("</section>")[0]
    assert "Safety alerts" in banner
    assert "1 open" in banner
    assert "Open safety alerts" in body
    assert "Record risk assessment and clear" in body
    nurse_body = client_for(nurse).get(chart_url(patient)).content.decode()
    assert "Record risk assessment and clear" not in nurse_body
    assert '1<span class="visually-hidden"> open</span>' in nurse_body


def test_chart_shows_measures_panels(client_for, nurse, site, patient):
    body = client_for(nurse).get(chart_url(patient)).content.decode()
    for heading in ("Questionnaires", "Latest vitals", "Medications", "Allergies"):
        assert heading in body
    assert "Record vitals" in body


def test_today_page_points_to_open_alerts(client_for, nurse, front_desk, site, patient):
    import uuid

    from ketapath.observations.services import safety_alert_raise

    safety_alert_raise(
        patient=patient,
        clinic=site,
        kind="phq9_item9",
        source_kind="questionnaire_response",
        source_id=uuid.uuid4(),
        summary="PHQ-9 item 9 answered above 0",
        user=nurse,
    )
    assert "1 open safety alert" in client_for(nurse).get("/").content.decode()
    # Front desk does not work alerts (DESIGN §10), so the count is not shown to them.
    assert "open safety alert" not in client_for(front_desk).get("/").content.decode()


def test_today_page_lists_todays_appointments_and_not_others(
    client_for, front_desk, site, other_site, make_patient
):
    from ketapath.clinics.models import Room
    from ketapath.scheduling.models import Appointment

    room = Room.objects.create(clinic=site, name="Consult A", kind=Room.Kind.CONSULT)
    patient = make_patient(family_name="Todayson")
    later = make_patient(family_name="Nextweek")
    now = timezone.now()
    Appointment.objects.create(
        clinic=site,
        patient=patient,
        kind=Appointment.Kind.EVALUATION,
        starts_at=now,
        ends_at=now + timedelta(minutes=1),
        room=room,
        booked_by=front_desk,
    )
    Appointment.objects.create(
        clinic=site,
        patient=later,
        kind=Appointment.Kind.FOLLOW_UP,
        starts_at=now + timedelta(days=7),
        ends_at=now + timedelta(days=7, minutes=30),
        room=room,
        booked_by=front_desk,
    )
    body = client_for(front_desk).get(reverse("chart:today")).content.decode()
    table = body.split("Appointments today", 1)[1].split("</table>", 1)[0]
    assert "Todayson" in table
    assert "Consult A" in table
    assert "Evaluation" in table
    assert "Nextweek" not in table
    assert "No appointments are booked for today" not in body
