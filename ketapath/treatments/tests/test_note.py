"""The session note page, its PDF, signing and addenda."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.pharmacy.models import Vial
from ketapath.pharmacy.tests.test_reports_pages import pdf_text
from ketapath.treatments import charting, note, services
from ketapath.treatments.models import SessionAlert, TreatmentSession

ClientFor = Callable[[User], Client]

DISCHARGE_OK = {
    "activity": 2,
    "respiration": 2,
    "consciousness": 2,
    "spo2_points": 2,
    "systolic": 130,
    "spo2_room_air": True,
    "mental_status_baseline": True,
    "gait_steady": True,
    "nausea_controlled": True,
    "escort_present": True,
    "aftercare_acknowledged": True,
    "escort_name": "Sam Driver",
}


def _dosed(
    nurse: User, second: User, prescriber: User, session: TreatmentSession, vial: Vial
) -> TreatmentSession:
    services.dose_order(user=prescriber, session=session, weight_kg=Decimal("80"), vial_id=vial.id)
    session.refresh_from_db()
    charting.administration_record(
        user=nurse,
        second=second,
        session=session,
        check=charting.SecondCheck(dose_mg="48", volume_ml="0.96"),
        injection_site="Left deltoid",
    )
    # Two hours ago, so that the minimum observation time has passed by discharge.
    earlier = timezone.now() - timedelta(hours=2)
    TreatmentSession.objects.filter(id=session.id).update(
        opened_at=earlier - timedelta(minutes=20),
        ordered_at=earlier - timedelta(minutes=5),
        given_at=earlier,
    )
    session.refresh_from_db()
    return session


@pytest.fixture
def completed(
    nurse: User,
    second_nurse: User,
    prescriber: User,
    pre_checked: TreatmentSession,
    vial: Vial,
) -> TreatmentSession:
    """A session dosed, monitored, rated, discharged with every criterion met and completed
    by the nurse: ready for the prescriber's signature."""
    session = _dosed(nurse, second_nurse, prescriber, pre_checked, vial)
    charting.vitals_record(
        user=nurse,
        session=session,
        values={"systolic": 142, "diastolic": 88, "heart_rate": 84, "spo2": 97},
    )
    session.refresh_from_db()
    charting.ratings_record(
        user=nurse,
        session=session,
        pain_after=3,
        dissociation_scale="clinician_0_4",
        dissociation_score=1,
    )
    charting.discharge_record(user=nurse, session=session, data=DISCHARGE_OK)
    session.refresh_from_db()
    charting.session_complete(user=nurse, session=session)
    session.refresh_from_db()
    return session


@pytest.fixture
def signed(prescriber: User, completed: TreatmentSession) -> TreatmentSession:
    charting.session_sign(user=prescriber, session=completed)
    completed.refresh_from_db()
    return completed


def _url(name: str, session: TreatmentSession) -> str:
    return reverse(f"treatments:{name}", args=[session.id])


# --- reading -----------------------------------------------------------------------------------


def test_note_readers_and_denials(
    client_for: ClientFor,
    nurse: User,
    prescriber: User,
    director: User,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    session: TreatmentSession,
) -> None:
    url = _url("note", session)
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    for user in (nurse, prescriber, director):
        assert client_for(user).get(url).status_code == 200
    for user in (front_desk, biller):
        assert client_for(user).get(url).status_code == 403
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    reads = AuditEvent.objects.filter(
        object_type="treatment_session", action="read", object_id=session.id
    )
    assert reads.filter(outcome="success", detail__view="note").count() == 3
    assert reads.filter(outcome="denied").count() == 3
    event = reads.filter(outcome="success").first()
    assert event is not None and event.patient_id == session.patient_id


def test_note_shows_the_whole_session(
    client_for: ClientFor, prescriber: User, second_nurse: User, completed: TreatmentSession
) -> None:
    response = client_for(prescriber).get(_url("note", completed))
    assert response.status_code == 200
    html = response.content.decode()
    # The banner, the course and the session number.
    assert completed.patient.mrn in html and "patient-banner" in html
    assert f"1 of {completed.course.protocol.sessions}" in html
    # The dose: mg, mL and mg/mL together; mg/kg and weight; the second check by name.
    assert "48 mg = 0.96 mL at 50 mg/mL" in html
    assert "0.6 mg/kg" in html and "80 kg" in html
    assert second_nurse.display_name in html
    assert "Left deltoid" in html
    # Pre-check, vitals, ratings and the discharge item by item against the threshold.
    assert "Sam Driver" in html and "142/88" in html
    assert "7 / 10" in html and "3 / 10" in html
    assert "1 / 4 (Clinician rating 0–4)" in html
    assert "10 / 10, threshold ≥ 9: met" in html
    assert "Discharge criteria met" in html
    assert "Completed by the nurse" in html
    # Ready: no blockers, and the prescriber sees the Sign button.
    assert "Not ready to sign" not in html
    assert _url("sign", completed) in html


def test_nurse_sees_no_sign_button_and_may_not_sign(
    client_for: ClientFor, nurse: User, completed: TreatmentSession
) -> None:
    html = client_for(nurse).get(_url("note", completed)).content.decode()
    assert "Sign the note" not in html and _url("sign", completed) not in html
    assert client_for(nurse).post(_url("sign", completed)).status_code == 403
    completed.refresh_from_db()
    assert completed.status == "discharged" and completed.signed_at is None
    denied = AuditEvent.objects.filter(object_id=completed.id, outcome="denied")
    assert denied.exists()


def test_prescriber_signs_and_the_note_locks(
    client_for: ClientFor, prescriber: User, completed: TreatmentSession
) -> None:
    client = client_for(prescriber)
    response = client.post(_url("sign", completed))
    assert response.status_code == 302 and response["Location"] == _url("note", completed)
    completed.refresh_from_db()
    assert completed.status == "signed" and completed.signed_by == prescriber
    html = client.get(_url("note", completed)).content.decode()
    assert "Signed</strong> by" in html and prescriber.display_name in html
    assert "Sign the note" not in html
    assert _url("addendum", completed) in html
    # Signing twice is refused with the service's message, not an error page.
    again = client.post(_url("sign", completed), follow=True)
    assert again.status_code == 200 and "cannot be changed" in again.content.decode()


def test_an_unfinished_session_says_why_it_cannot_be_signed(
    client_for: ClientFor, prescriber: User, pre_checked: TreatmentSession
) -> None:
    client = client_for(prescriber)
    html = client.get(_url("note", pre_checked)).content.decode()
    assert "Not ready to sign" in html
    assert charting.MESSAGE_COMPLETE_STATUS in html
    assert "Pain before discharge" in html  # still to record
    assert _url("sign", pre_checked) not in html
    response = client.post(_url("sign", pre_checked), follow=True)
    assert charting.MESSAGE_SIGN_NOT_COMPLETE in response.content.decode()
    pre_checked.refresh_from_db()
    assert pre_checked.status == "pre_check"


def test_an_open_in_session_alert_is_a_hard_stop_shown_on_the_note(
    client_for: ClientFor, nurse: User, prescriber: User, completed: TreatmentSession
) -> None:
    now = timezone.now()
    SessionAlert.objects.create(
        session=completed,
        rule="bp_high",
        summary="Blood pressure 182/104 mmHg at or above the alert level",
        reading_at=now,
        raised_at=now,
        raised_by=nurse,
    )
    client = client_for(prescriber)
    html = client.get(_url("note", completed)).content.decode()
    assert charting.MESSAGE_STOP_OPEN_SESSION_ALERT in html
    assert "OPEN: not yet cleared" in html
    assert _url("sign", completed) not in html
    response = client.post(_url("sign", completed), follow=True)
    assert charting.MESSAGE_STOP_OPEN_SESSION_ALERT in response.content.decode()
    completed.refresh_from_db()
    assert completed.status == "discharged"


def test_overrides_show_rule_reason_who_and_when(
    client_for: ClientFor, prescriber: User, nurse: User, session: TreatmentSession
) -> None:
    services.override_add(
        user=prescriber, session=session, rule="bp", reason="Chronic hypertension, treated."
    )
    html = client_for(nurse).get(_url("note", session)).content.decode()
    assert "Blood pressure at the hold level" in html
    assert "Chronic hypertension, treated." in html and prescriber.display_name in html


# --- addenda -----------------------------------------------------------------------------------


def test_addenda_only_after_signing(
    client_for: ClientFor, nurse: User, completed: TreatmentSession
) -> None:
    client = client_for(nurse)
    assert _url("addendum", completed) not in client.get(_url("note", completed)).content.decode()
    response = client.post(_url("addendum", completed), {"text": "Too early."}, follow=True)
    assert charting.MESSAGE_ADDENDUM_STATUS in response.content.decode()
    assert not completed.addenda.exists()


def test_addendum_keeps_the_original(
    client_for: ClientFor,
    nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
    signed: TreatmentSession,
) -> None:
    client = client_for(nurse)
    before = note.note_build(signed).sections
    bad = client.post(_url("addendum", signed), {"text": "ok"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert charting.MESSAGE_ADDENDUM_TEXT in html and 'aria-invalid="true"' in html
    assert not signed.addenda.exists()
    assert (
        client_for(front_desk).post(_url("addendum", signed), {"text": "x" * 10}).status_code == 403
    )
    other = client_for(other_clinic_nurse).post(_url("addendum", signed), {"text": "x" * 10})
    assert other.status_code == 404
    text = "Escort phoned at 18:30: patient home and well."
    response = client.post(_url("addendum", signed), {"text": text})
    assert response.status_code == 302
    html = client.get(_url("note", signed)).content.decode()
    assert text in html and nurse.display_name in html
    signed.refresh_from_db()
    assert signed.status == "signed"
    assert note.note_build(signed).sections == before  # the original never changes
    assert AuditEvent.objects.filter(object_type="session_addendum", action="create").count() == 1


# --- PDF ---------------------------------------------------------------------------------------


def test_note_pdf(
    client_for: ClientFor,
    prescriber: User,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    signed: TreatmentSession,
) -> None:
    url = _url("note_pdf", signed)
    response = client_for(prescriber).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="session-note-')
    data = response.content
    assert data.startswith(b"%PDF-") and b"/Count 1" in data  # one page
    text = pdf_text(data)
    assert signed.patient.mrn in text and "Left deltoid" in text
    assert "Aldrete total" in text and "threshold" in text
    assert "threshold ? 9" not in text  # "≥" is in the font, not replaced
    event = AuditEvent.objects.get(action="export", object_type="treatment_session")
    assert event.detail["format"] == "pdf" and event.patient_id == signed.patient_id
    for user in (front_desk, biller):
        assert client_for(user).get(url).status_code == 403
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    assert AuditEvent.objects.filter(action="export").count() == 1
