"""The demo session notes: past sessions signed with a balanced ledger, an aborted one,
adverse events, an override and an addendum, a course moved to reassessment by its last
signature, and today's readiness and sessions in several states."""

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.chart.demo import CHICAGO, DENVER, seed_demo
from ketapath.chart.demo_history import history_patients
from ketapath.chart.demo_sessions import chart_today, seed_past_sessions, seed_today_sessions
from ketapath.clinics.models import Clinic, Organization, Room
from ketapath.core.capabilities import Capability
from ketapath.core.timeutils import local_day_bounds, local_today
from ketapath.patients.models import ConsentKind
from ketapath.patients.selectors import patient_consent_statuses
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import LedgerEntry
from ketapath.scheduling.models import Appointment, Course
from ketapath.treatments import rules, selectors
from ketapath.treatments.models import (
    AdverseEvent,
    DailyReadiness,
    SessionAddendum,
    SessionAlert,
    SessionOverride,
    TreatmentSession,
)

pytestmark = pytest.mark.django_db

Status = TreatmentSession.Status


def account(entry_id: Any) -> ledger.DrawAccount:
    entry = LedgerEntry.objects.prefetch_related("outcomes__reversed_by").get(id=entry_id)
    return ledger.draw_account(entry)


def test_signed_sessions_draw_through_the_ledger_and_balance(seeded: None) -> None:
    signed = list(TreatmentSession.objects.filter(status=Status.SIGNED))
    assert len(signed) >= 3
    assert {s.clinic.name for s in signed} == {DENVER, CHICAGO}
    for session in signed:
        assert session.draw_entry_id is not None
        assert account(session.draw_entry_id).balanced
        assert session.draw_entry is not None and session.draw_entry.session_id == session.id
        assert session.signed_by is not None
        assert session.signed_by.can(Capability.SESSION_SIGN, session.clinic_id)
        assert session.verified_by_id not in (None, session.given_by_id)
        assert session.completed_at is not None and session.signed_at is not None
        assert (
            session.opened_at
            < session.given_at
            < session.discharged_at
            < session.completed_at
            <= session.signed_at
            < timezone.now()
        )
        assert session.pain_before is not None and session.pain_after is not None
    # Every demo draw is a session's own: none is left with the appointment as its session.
    session_ids = set(TreatmentSession.objects.values_list("id", flat=True))
    draws = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DRAW)
    assert draws.exists()
    assert set(draws.values_list("session_id", flat=True)) <= session_ids
    # A partial dose's rest was wasted in front of the second checker.
    waste = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.WASTE, draw__isnull=False)
    assert waste.exists()
    assert all(w.witness_id and w.witness_id != w.by_id for w in waste)
    assert {s.dissociation_scale for s in signed} >= {"clinician_0_4"}


def test_past_sessions_are_charted_on_their_own_days(seeded: None) -> None:
    for session in TreatmentSession.objects.filter(status=Status.SIGNED).select_related(
        "appointment", "clinic"
    ):
        zone = ZoneInfo(session.clinic.time_zone)
        day = session.appointment.starts_at.astimezone(zone).date()
        assert session.opened_at.astimezone(zone).date() == day
        assert DailyReadiness.objects.filter(clinic=session.clinic, date=day).exists()
        readings = selectors.session_readings(session)
        assert len(readings) >= 7
        assert all(session.opened_at <= r.taken_at <= session.discharged_at for r in readings)
        # The readings vary, as at a bedside.
        assert len({r.values.get("systolic") for r in readings}) > 2


def test_an_aborted_session_gives_its_reason_and_draws_nothing(seeded: None) -> None:
    aborted = TreatmentSession.objects.filter(status=Status.ABORTED)
    assert aborted.exists()
    for session in aborted:
        assert session.abort_reason and session.aborted_by is not None
        assert session.draw_entry_id is None
        assert session.aborted_at is not None and session.aborted_at < timezone.now()


def test_adverse_events_an_alert_an_override_and_an_addendum(seeded: None) -> None:
    kinds = set(AdverseEvent.objects.values_list("kind", flat=True))
    assert {
        AdverseEvent.Kind.NAUSEA,
        AdverseEvent.Kind.HYPERTENSION,
        AdverseEvent.Kind.EMERGENCE,
    } <= kinds
    nausea = (
        AdverseEvent.objects.filter(kind=AdverseEvent.Kind.NAUSEA)
        .exclude(session__patient__in=history_patients(Organization.objects.get()))
        .get()
    )
    assert "ondansetron" in nausea.medication.lower()
    alert = SessionAlert.objects.get(rule=rules.ALERT_BP_HIGH)
    assert alert.cleared_at is not None and alert.note
    assert alert.session.status == Status.SIGNED
    override = SessionOverride.objects.get()
    assert override.session.discharge_kind == "override"
    assert override.by.can(Capability.SESSION_SIGN, override.session.clinic_id)
    addendum = SessionAddendum.objects.get()
    assert addendum.session.signed_at is not None
    assert addendum.created_at > addendum.session.signed_at


def test_the_last_signature_moves_the_course_to_reassessment(seeded: None) -> None:
    done = Course.objects.filter(status=Course.Status.AWAITING_REASSESSMENT).exclude(
        patient__in=history_patients(Organization.objects.get())
    )
    assert done.exists()
    course = done.get()
    assert course.sessions.filter(status=Status.SIGNED).count() == course.protocol.sessions
    moved = AuditEvent.objects.filter(object_type="course", object_id=course.id)
    assert any(
        (e.detail or {}).get("status", {}).get("to") == Course.Status.AWAITING_REASSESSMENT
        for e in moved
    )


def test_readiness_today_at_one_site_only(seeded: None) -> None:
    checked = [
        c.name
        for c in Clinic.objects.all()
        if DailyReadiness.objects.filter(clinic=c, date=local_today(c.time_zone)).exists()
    ]
    assert checked == [DENVER]


def test_a_second_run_adds_no_session(seeded: None) -> None:
    before = (TreatmentSession.objects.count(), LedgerEntry.objects.count())
    seed_demo()
    organization = Organization.objects.get()
    for clinic in Clinic.objects.filter(organization=organization):
        assert seed_past_sessions(clinic=clinic) == 0
    assert seed_today_sessions(organization=organization) == 0
    assert (TreatmentSession.objects.count(), LedgerEntry.objects.count()) == before


def _today_appointment(
    course: Course, minutes_ago: int, sequence: int, minutes: int = 75
) -> Appointment:
    """A session appointment of today at Denver, as the front desk would have booked it
    (``minutes`` long, so the test's appointments follow one another in a room: PostgreSQL
    refuses a room or a patient booked twice at once)."""
    now = timezone.now()
    start = now - timedelta(minutes=minutes_ago)
    zone = ZoneInfo(course.clinic.time_zone)
    today = start.astimezone(zone).date() == now.astimezone(zone).date()
    return Appointment.objects.create(
        clinic=course.clinic,
        patient=course.patient,
        kind=Appointment.Kind.SESSION,
        course=course,
        sequence=sequence,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        room=Room.objects.filter(clinic=course.clinic, kind=Room.Kind.TREATMENT).first(),
        nurse=User.objects.get(username="nurse"),
        prescriber=User.objects.get(username="prescriber"),
        # Near midnight the front desk could not check in across the date change.
        status=Appointment.Status.BOOKED if today else Appointment.Status.CHECKED_IN,
        checked_in_at=None if today else start - timedelta(minutes=10),
        booked_by=User.objects.get(username="frontdesk"),
    )


def _clear_todays_board(denver: Clinic) -> None:
    """Remove the sessions the demo charted today (how many depends on the hour the demo
    was seeded, see demo_today) and cancel their appointments, so the test's own
    appointments start from an empty board."""
    start, end = local_day_bounds(local_today(denver.time_zone), denver.time_zone)
    today = Appointment.objects.filter(
        clinic=denver, kind=Appointment.Kind.SESSION, starts_at__gte=start, starts_at__lt=end
    )
    sessions = TreatmentSession.objects.filter(appointment__in=today)
    for model in (SessionAlert, AdverseEvent, SessionOverride):
        model.objects.filter(session__in=sessions).delete()
    sessions.delete()
    today.exclude(status=Appointment.Status.CANCELLED).update(
        status=Appointment.Status.CANCELLED, status_reason="Cleared for the test"
    )


def test_todays_sessions_are_charted_in_several_states(seeded: None) -> None:
    with transaction.atomic():
        _todays_sessions_are_charted_in_several_states()
        transaction.set_rollback(True)


def _todays_sessions_are_charted_in_several_states() -> None:
    denver = Clinic.objects.get(name=DENVER)
    _clear_todays_board(denver)
    assert selectors.sessions_today(clinic=denver, day=local_today(denver.time_zone)) == []
    courses = [
        c
        for c in Course.objects.filter(clinic=denver).exclude(
            status=Course.Status.AWAITING_REASSESSMENT
        )
        if any(
            s.kind == ConsentKind.KETAMINE_TREATMENT and s.is_current
            for s in patient_consent_statuses(patient=c.patient)
        )
    ]
    assert len(courses) >= 2
    plan = [(100, Status.DISCHARGED), (80, Status.READY), (45, Status.MONITORING)]
    plan += [(8, Status.PRE_CHECK)]
    starts = [minutes for minutes, _ in plan] + [-20]
    rows = [
        (
            _today_appointment(courses[i % len(courses)], ago, 90 + i, ago - starts[i + 1]),
            expected,
        )
        for i, (ago, expected) in enumerate(plan)
    ]
    waiting = _today_appointment(courses[0], -20, 99)
    to_check_in = int(waiting.status == Appointment.Status.BOOKED)

    written = chart_today(clinic=denver, appointments=[a for a, _ in rows] + [waiting])

    assert written == len(rows) + to_check_in
    now = timezone.now()
    states = set()
    for appointment, expected in rows:
        session = TreatmentSession.objects.get(appointment=appointment)
        assert session.status == expected
        states.add(session.status)
        if session.draw_entry_id:
            assert account(session.draw_entry_id).administered_mg == session.amount_mg
        if expected == Status.MONITORING:
            statuses = {p.status for p in selectors.vitals_plan(session, now)}
            assert rules.VitalsStatus.OVERDUE in statuses
            assert rules.VitalsStatus.DUE in statuses
        if expected == Status.DISCHARGED:
            assert session.completed_at is not None and session.signed_at is None
    assert len(states) >= 3
    waiting.refresh_from_db()
    assert waiting.status == Appointment.Status.CHECKED_IN
    assert not TreatmentSession.objects.filter(appointment=waiting).exists()
