"""Session charting pages (issue 8): readiness, opening, the session page through every
stage to discharge and completion, bad input beside the field with nothing saved, hard
stops with the override form for prescribers only, and the permission checks of every
page (login, 403 for front desk and biller, 404 for another site's session)."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.conftest import PASSWORD
from ketapath.observations.models import Observation
from ketapath.pharmacy.models import Vial
from ketapath.scheduling.models import Appointment
from ketapath.treatments import charting, services
from ketapath.treatments.models import DailyReadiness, SessionOverride, TreatmentSession
from ketapath.treatments.tests.conftest import COMPLETE

pytestmark = pytest.mark.django_db

Clients = Callable[[User], Client]


def _url(name: str, session: TreatmentSession, **kw: Any) -> str:
    return reverse(f"treatments:{name}", kwargs={"session_id": session.id, **kw})


def _order(prescriber: User, session: TreatmentSession, vial: Vial) -> None:
    services.dose_order(user=prescriber, session=session, vial_id=vial.id, weight_kg=Decimal("80"))
    session.refresh_from_db()


def _give(nurse: User, second: User, session: TreatmentSession) -> None:
    charting.administration_record(
        user=nurse,
        second=second,
        session=session,
        check=charting.SecondCheck(session.dose_mg, session.volume_ml),
        injection_site="Left deltoid",
    )
    session.refresh_from_db()


def _backdate(session: TreatmentSession, minutes: int = 120) -> None:
    """Move the order and the dose back so the minimum observation time has passed."""
    earlier = timezone.now() - timedelta(minutes=minutes)
    TreatmentSession.objects.filter(pk=session.pk).update(
        ordered_at=earlier - timedelta(minutes=5), given_at=earlier, opened_at=earlier
    )
    session.refresh_from_db()


DISCHARGE_OK = {
    "activity": "2",
    "respiration": "2",
    "consciousness": "2",
    "spo2_points": "2",
    "systolic": "126",
    "spo2_room_air": "on",
    "mental_status_baseline": "on",
    "gait_steady": "on",
    "nausea_controlled": "on",
    "escort_present": "on",
    "aftercare_acknowledged": "on",
    "escort_name": "Sam Driver",
    "leave_now": "leave",
}


# --- readiness and opening ------------------------------------------------------------------


def test_readiness_page_records_the_check(client_for: Clients, nurse: User, site: Clinic) -> None:
    client = client_for(nurse)
    page = client.get(reverse("treatments:readiness"))
    assert page.status_code == 200
    assert b"Defibrillator" in page.content and b"Not done" in page.content
    partial = client.post(reverse("treatments:readiness"), {"oxygen": "on"})
    assert partial.status_code == 422
    assert services.MESSAGE_READINESS_ITEM.encode() in partial.content
    assert not DailyReadiness.objects.exists()
    everything = {key: "on" for key in COMPLETE_ITEMS}
    done = client.post(reverse("treatments:readiness"), everything, follow=True)
    assert done.status_code == 200
    check = DailyReadiness.objects.get(clinic=site)
    assert check.checked_by == nurse
    assert b"Checked by" in done.content and nurse.display_name.encode() in done.content


COMPLETE_ITEMS = [
    "oxygen",
    "suction",
    "bag_valve_mask",
    "defibrillator",
    "antiemetic",
    "benzodiazepine",
    "antihypertensive",
    "naloxone",
]


def test_readiness_page_forbidden_for_front_desk_and_biller(
    client_for: Clients, front_desk: User, biller: User
) -> None:
    for user in (front_desk, biller):
        assert client_for(user).get(reverse("treatments:readiness")).status_code == 403


def test_open_without_readiness_goes_to_the_readiness_page(
    client_for: Clients, nurse: User, checked_in: Appointment
) -> None:
    url = reverse("treatments:session_open", kwargs={"appointment_id": checked_in.id})
    client = client_for(nurse)
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("treatments:readiness"))
    assert not TreatmentSession.objects.exists()
    page = client.get(response["Location"])
    assert services.MESSAGE_STOP_READINESS.encode() in page.content


def test_open_with_readiness_goes_to_the_session(
    client_for: Clients, nurse: User, checked_in: Appointment, readiness: DailyReadiness
) -> None:
    url = reverse("treatments:session_open", kwargs={"appointment_id": checked_in.id})
    response = client_for(nurse).post(url)
    session = TreatmentSession.objects.get(appointment=checked_in)
    assert response.status_code == 302 and response["Location"] == _url("session", session)


def test_open_is_forbidden_for_front_desk_and_biller(
    client_for: Clients, front_desk: User, biller: User, checked_in: Appointment
) -> None:
    url = reverse("treatments:session_open", kwargs={"appointment_id": checked_in.id})
    for user in (front_desk, biller):
        assert client_for(user).post(url).status_code in (403, 404)
    assert client_for(front_desk).post(url).status_code == 403
    assert not TreatmentSession.objects.exists()


# --- the session page, stage by stage -----------------------------------------------------


def test_session_page_renders_in_pre_check_and_audits_the_read(
    client_for: Clients, nurse: User, session: TreatmentSession
) -> None:
    page = client_for(nurse).get(_url("session", session))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pre-check" in html and "Save the pre-check" in html
    assert "patient-banner" in html
    assert 'aria-current="step"' in html
    assert AuditEvent.objects.filter(
        action="read", object_id=session.id, detail__via="page"
    ).exists()


def test_pre_check_form_saves_and_bad_pain_is_refused(
    client_for: Clients, nurse: User, session: TreatmentSession
) -> None:
    client = client_for(nurse)
    bad = client.post(_url("session_pre_check", session), {"pain_before": "11"})
    assert bad.status_code == 422
    assert services.MESSAGE_PAIN.encode() in bad.content
    session.refresh_from_db()
    assert session.pre_check == {}
    form = {k: ("on" if v is True else str(v)) for k, v in COMPLETE.items()}
    form.pop("questionnaires_note", None)
    ok = client.post(_url("session_pre_check", session), form)
    assert ok.status_code == 302
    session.refresh_from_db()
    # The session's pre-session questionnaires are not done: the page names them.
    missing = session.pre_check["questionnaires_missing"]
    assert missing and services.pre_check_missing(session) == ["questionnaires_note"]
    page = client.get(_url("session", session)).content.decode()
    assert "Pre-session questionnaires not done" in page and missing[0] in page
    form["questionnaires_note"] = "Declined the phone questionnaires today."
    assert client.post(_url("session_pre_check", session), form).status_code == 302
    session.refresh_from_db()
    assert services.pre_check_missing(session) == []
    assert session.pain_before == 7
    # The baseline vitals are one reading: saving again unchanged adds none.
    before = Observation.objects.filter(context_id=session.id).count()
    client.post(_url("session_pre_check", session), form)
    assert Observation.objects.filter(context_id=session.id).count() == before


def test_bp_hard_stop_shows_the_override_form_to_a_prescriber_only(
    client_for: Clients, nurse: User, prescriber: User, session: TreatmentSession
) -> None:
    form = {k: ("on" if v is True else str(v)) for k, v in COMPLETE.items()}
    form.update(systolic="165", diastolic="95")
    as_nurse = client_for(nurse).post(_url("session_pre_check", session), form)
    assert as_nurse.status_code == 409
    html = as_nurse.content.decode()
    assert "Hard stop: Baseline blood pressure at the hold level" in html
    assert "Override: Baseline" not in html
    assert "Only a prescriber or the medical director may override" in html
    session.refresh_from_db()
    assert session.pre_check == {}
    as_prescriber = client_for(prescriber).post(_url("session_pre_check", session), form)
    assert as_prescriber.status_code == 409
    assert "Override: Baseline blood pressure at the hold level" in as_prescriber.content.decode()
    # A nurse cannot post an override; a prescriber can, then the pre-check goes through.
    data = {"rule": "bp", "reason": "Anxious at arrival; repeat BP settles"}
    assert client_for(nurse).post(_url("session_override", session), data).status_code == 403
    done = client_for(prescriber).post(_url("session_override", session), data)
    assert done.status_code == 302
    assert SessionOverride.objects.filter(session=session, rule="bp").exists()
    assert client_for(nurse).post(_url("session_pre_check", session), form).status_code == 302


def test_override_needs_a_reason(
    client_for: Clients, prescriber: User, session: TreatmentSession
) -> None:
    bad = client_for(prescriber).post(
        _url("session_override", session), {"rule": "bp", "reason": "short"}
    )
    assert bad.status_code == 422
    assert services.MESSAGE_REASON_SHORT.encode() in bad.content
    assert not SessionOverride.objects.exists()


def test_dose_order_form_for_prescriber(
    client_for: Clients, nurse: User, prescriber: User, pre_checked: TreatmentSession, vial: Vial
) -> None:
    nurse_page = client_for(nurse).get(_url("session", pre_checked)).content.decode()
    assert "Order the dose" not in nurse_page and "a prescriber orders the dose" in nurse_page
    client = client_for(prescriber)
    page = client.get(_url("session", pre_checked)).content.decode()
    assert "Order the dose" in page and vial.label in page and 'value="0.6' in page
    data = {"weight_kg": "80", "vial": str(vial.id), "mg_per_kg": "0.6"}
    assert client_for(nurse).post(_url("session_dose_order", pre_checked), data).status_code == 403
    bad = client.post(_url("session_dose_order", pre_checked), {**data, "mg_per_kg": "0.7"})
    assert bad.status_code == 422
    assert services.MESSAGE_MG_PER_KG_REASON.encode() in bad.content
    pre_checked.refresh_from_db()
    assert pre_checked.dose_mg is None
    ok = client.post(_url("session_dose_order", pre_checked), data, follow=True)
    assert ok.status_code == 200
    assert "48.0 mg = 0.96 mL of 50 mg/mL" in ok.content.decode()


def test_administration_form_with_second_check(
    client_for: Clients,
    nurse: User,
    second_nurse: User,
    prescriber: User,
    pre_checked: TreatmentSession,
    vial: Vial,
) -> None:
    _order(prescriber, pre_checked, vial)
    client = client_for(nurse)
    page = client.get(_url("session", pre_checked)).content.decode()
    assert "Record the second check" in page
    # The second person's figures are typed, never prefilled.
    assert 'name="check_dose_mg"' in page and 'name="check_dose_mg" value' not in page
    data = {
        "check_dose_mg": "48",
        "check_volume_ml": "0.90",
        "co_sign_username": second_nurse.username,
        "co_sign_password": PASSWORD,
        "injection_site": "Left deltoid",
        "given_at": "",
        "amount_mg": "48",
    }
    url = _url("session_administration", pre_checked)
    wrong = client.post(url, {**data, "injection_site": ""})
    assert wrong.status_code == 422
    assert b"does not match the order" in wrong.content
    assert charting.MESSAGE_ROUTE_SITE.encode() in wrong.content
    pre_checked.refresh_from_db()
    assert pre_checked.given_at is None and pre_checked.draw_entry_id is None
    bad_password = client.post(url, {**data, "check_volume_ml": "0.96", "co_sign_password": "nope"})
    assert bad_password.status_code == 422
    assert b"username or password is not correct" in bad_password.content
    ok = client.post(url, {**data, "check_volume_ml": "0.96"})
    assert ok.status_code == 302
    pre_checked.refresh_from_db()
    assert pre_checked.status == TreatmentSession.Status.DOSED
    assert pre_checked.verified_by == second_nurse


def test_through_to_discharge_and_completion(
    client_for: Clients,
    nurse: User,
    second_nurse: User,
    prescriber: User,
    pre_checked: TreatmentSession,
    vial: Vial,
) -> None:
    session = pre_checked
    _order(prescriber, session, vial)
    _give(nurse, second_nurse, session)
    _backdate(session)
    client = client_for(nurse)
    page = client.get(_url("session", session)).content.decode()
    assert "Record vitals" in page and "Overdue" in page
    # Vitals: a bad value re-renders, nothing saved; a good one moves to monitoring.
    count = Observation.objects.filter(context_id=session.id).count()
    bad = client.post(_url("session_vitals", session), {"systolic": "120"})
    assert bad.status_code == 422 and b"Give both together." in bad.content
    assert Observation.objects.filter(context_id=session.id).count() == count
    vitals = {
        "systolic": "124",
        "diastolic": "80",
        "heart_rate": "76",
        "spo2": "97",
        "respiratory_rate": "14",
    }
    assert client.post(_url("session_vitals", session), vitals).status_code == 302
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.MONITORING
    # An alert stays on the page until cleared with a note.
    client.post(_url("session_vitals", session), {**vitals, "systolic": "190", "diastolic": "100"})
    alert = session.alerts.get()
    page = client.get(_url("session", session)).content.decode()
    assert "In-session alert" in page and alert.summary in page
    short = client.post(
        _url("session_alert_clear", session, alert_id=alert.id), {f"alert-{alert.id}-note": "ok"}
    )
    assert short.status_code == 422 and charting.MESSAGE_ALERT_NOTE.encode() in short.content
    cleared = client.post(
        _url("session_alert_clear", session, alert_id=alert.id),
        {f"alert-{alert.id}-note": "Rested 10 minutes; repeat BP 130/84."},
    )
    assert cleared.status_code == 302
    alert.refresh_from_db()
    assert not alert.is_open
    # Adverse event.
    onset = timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")
    ae = {
        "kind": "nausea_vomiting",
        "severity": "mild",
        "onset": onset,
        "action": "Ondansetron given",
    }
    assert (
        client.post(_url("session_adverse_event", session), {**ae, "action": ""}).status_code == 422
    )
    assert not session.adverse_events.exists()
    with timezone.override(session.clinic.time_zone):
        ae["onset"] = timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")
    assert client.post(_url("session_adverse_event", session), ae).status_code == 302
    assert session.adverse_events.count() == 1
    # Ratings.
    bad = client.post(
        _url("session_ratings", session),
        {"dissociation_scale": "cadss_6", "dissociation_score": "30"},
    )
    assert bad.status_code == 422
    ratings = {"pain_after": "3", "dissociation_scale": "clinician_0_4", "dissociation_score": "1"}
    assert client.post(_url("session_ratings", session), ratings).status_code == 302
    # Discharge: a missing criterion is a hard stop naming it; then all met.
    unmet = client.post(_url("session_discharge", session), {**DISCHARGE_OK, "escort_present": ""})
    assert unmet.status_code == 409
    assert charting.DISCHARGE_LABELS["escort_present"].encode() in unmet.content
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.MONITORING
    done = client.post(_url("session_discharge", session), DISCHARGE_OK, follow=True)
    assert done.status_code == 200
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.DISCHARGED
    html = done.content.decode()
    assert "Complete the note" in html and f"/sessions/{session.id}/note/" in html
    assert client.post(_url("session_complete", session)).status_code == 302
    session.refresh_from_db()
    assert session.completed_by == nurse


def test_ready_waiting_then_against_medical_advice(
    client_for: Clients,
    nurse: User,
    second_nurse: User,
    prescriber: User,
    pre_checked: TreatmentSession,
    vial: Vial,
) -> None:
    _order(prescriber, pre_checked, vial)
    _give(nurse, second_nurse, pre_checked)
    client = client_for(nurse)
    # Too early: the stop names the observation time and when it ends.
    early = client.post(_url("session_discharge", pre_checked), DISCHARGE_OK)
    assert early.status_code == 409
    assert b"Minimum observation time after the dose" in early.content
    assert b"minimum observation time ends at" in early.content
    short = client.post(_url("session_ama", pre_checked), {"ama_note": "Left.", "confirm": "on"})
    assert short.status_code == 422 and charting.MESSAGE_AMA_NOTE.encode() in short.content
    unconfirmed = client.post(
        _url("session_ama", pre_checked),
        {"ama_note": "Told of the risks of driving; escort informed by phone."},
    )
    assert unconfirmed.status_code == 422
    note = "Told of the risks of driving; escort informed by phone; left with his wife."
    ok = client.post(_url("session_ama", pre_checked), {"ama_note": note, "confirm": "on"})
    assert ok.status_code == 302
    pre_checked.refresh_from_db()
    assert pre_checked.discharge_kind == "against_advice"


def test_ready_waiting(
    client_for: Clients,
    nurse: User,
    second_nurse: User,
    prescriber: User,
    pre_checked: TreatmentSession,
    vial: Vial,
) -> None:
    _order(prescriber, pre_checked, vial)
    _give(nurse, second_nurse, pre_checked)
    _backdate(pre_checked)
    client = client_for(nurse)
    ok = client.post(_url("session_discharge", pre_checked), {**DISCHARGE_OK, "leave_now": "wait"})
    assert ok.status_code == 302
    pre_checked.refresh_from_db()
    assert pre_checked.status == TreatmentSession.Status.READY
    page = client.get(_url("session", pre_checked)).content.decode()
    assert "Ready, waiting" in page and "Assess discharge" in page


def test_abort_needs_confirmation(
    client_for: Clients, nurse: User, session: TreatmentSession
) -> None:
    client = client_for(nurse)
    bad = client.post(_url("session_abort", session), {"reason": "Patient unwell"})
    assert bad.status_code == 422
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.PRE_CHECK
    ok = client.post(
        _url("session_abort", session), {"reason": "Patient unwell", "confirm": "on"}, follow=True
    )
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.ABORTED
    assert "Aborted" in ok.content.decode() and "Save the pre-check" not in ok.content.decode()


def test_page_queries_do_not_grow_with_readings(
    client_for: Clients,
    nurse: User,
    second_nurse: User,
    prescriber: User,
    pre_checked: TreatmentSession,
    vial: Vial,
) -> None:
    _order(prescriber, pre_checked, vial)
    _give(nurse, second_nurse, pre_checked)
    _backdate(pre_checked)
    client = client_for(nurse)
    vitals = {"systolic": 120, "diastolic": 80, "heart_rate": 70, "spo2": 98}
    charting.vitals_record(user=nurse, session=pre_checked, values=vitals)
    with CaptureQueriesContext(connection) as one:
        assert client.get(_url("session", pre_checked)).status_code == 200
    for minutes in (1, 2, 3, 4):
        charting.vitals_record(
            user=nurse,
            session=pre_checked,
            values=vitals,
            taken_at=pre_checked.given_at + timedelta(minutes=10 * minutes),
        )
    with CaptureQueriesContext(connection) as five:
        assert client.get(_url("session", pre_checked)).status_code == 200
    assert len(five) == len(one)


# --- permissions ----------------------------------------------------------------------------

POST_STEPS = (
    "session_pre_check",
    "session_override",
    "session_dose_order",
    "session_administration",
    "session_vitals",
    "session_adverse_event",
    "session_ratings",
    "session_discharge",
    "session_ama",
    "session_complete",
    "session_abort",
)


def test_front_desk_and_biller_get_403_on_every_session_url(
    client_for: Clients, front_desk: User, biller: User, session: TreatmentSession
) -> None:
    for user in (front_desk, biller):
        client = client_for(user)
        assert client.get(_url("session", session)).status_code == 403
        for name in POST_STEPS:
            assert client.post(_url(name, session), {}).status_code == 403, name
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.PRE_CHECK


def test_another_sites_session_is_404(
    client_for: Clients, other_clinic_nurse: User, session: TreatmentSession
) -> None:
    client = client_for(other_clinic_nurse)
    assert client.get(_url("session", session)).status_code == 404
    for name in POST_STEPS:
        assert client.post(_url(name, session), {}).status_code == 404, name


def test_anonymous_is_sent_to_login(session: TreatmentSession, checked_in: Appointment) -> None:
    client = Client()
    urls = [
        reverse("treatments:readiness"),
        reverse("treatments:session_open", kwargs={"appointment_id": checked_in.id}),
        _url("session", session),
        _url("session_pre_check", session),
    ]
    for url in urls:
        response = client.get(url) if "pre-check" not in url else client.post(url, {})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_pre_check_shows_unanswered_questionnaires_and_offers_the_escort_on_file(
    client_for: Clients, nurse: User, session: TreatmentSession
) -> None:
    from ketapath.patients.models import Escort

    Escort.objects.create(
        patient=session.patient, name="Robin Carter", phone="+13035550142", relation="partner"
    )
    html = client_for(nurse).get(_url("session", session)).content.decode()
    assert "pain-nrs, peg" in html  # before anything is saved
    assert 'value="Robin Carter"' in html and 'value="+13035550142"' in html
