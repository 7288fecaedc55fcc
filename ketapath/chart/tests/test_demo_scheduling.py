"""The demo scheduling: approved templates with demo doses, courses planned, booked, under way
and dropped out at both sites, single visits, and a calendar without clashes."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketapath.accounts.models import Membership, Role, Shift
from ketapath.accounts.shifts import staff_on_site
from ketapath.audit.models import AuditEvent
from ketapath.chart import demo, demo_scheduling
from ketapath.chart.demo import CHICAGO, DENVER, seed_demo
from ketapath.chart.demo_history import history_patients
from ketapath.chart.demo_scheduling import (
    DEMO_DOSE_NOTE,
    DEMO_DOSES,
    ensure_recent_closures,
)
from ketapath.clinics.models import Clinic, ClinicPolicy, Closure, OpeningHours, Organization
from ketapath.core.timeutils import local_today
from ketapath.evaluations.models import Evaluation
from ketapath.observations.models import SafetyAlert
from ketapath.patients.models import ConsentKind, Pathway
from ketapath.patients.selectors import patient_consent_statuses
from ketapath.protocols.models import ProtocolTemplate
from ketapath.protocols.services import SHIPPED
from ketapath.scheduling.models import Appointment, Course

pytestmark = pytest.mark.django_db

SITES = (DENVER, CHICAGO)
DIRECTOR = {DENVER: "director", CHICAGO: "director2"}
PRESCRIBER = {DENVER: "prescriber", CHICAGO: "prescriber2"}
THERAPIST = {DENVER: "therapist", CHICAGO: "therapist2"}


def live() -> list[Appointment]:
    return list(
        Appointment.objects.exclude(status=Appointment.Status.CANCELLED).select_related(
            "clinic", "room", "patient"
        )
    )


def local_date(appointment: Appointment) -> date:
    return appointment.starts_at.astimezone(ZoneInfo(appointment.clinic.time_zone)).date()


def test_the_site_names_match_the_demo() -> None:
    assert (demo_scheduling.DENVER, demo_scheduling.CHICAGO) == (demo.DENVER, demo.CHICAGO)


def test_demo_doses_cover_the_shipped_templates_within_the_default_ceiling() -> None:
    ceiling = ClinicPolicy._meta.get_field("dose_ceiling_mg_per_kg").default
    assert {d.template for d in DEMO_DOSES} == {t.name for t in SHIPPED}
    for dose in DEMO_DOSES:
        assert Decimal(0) < dose.mg_per_kg_min <= dose.mg_per_kg_max <= ceiling
        assert dose.notes.startswith(DEMO_DOSE_NOTE)


def test_each_site_approves_the_templates_with_a_marked_demo_dose(seeded: None) -> None:
    doses = {d.template: d for d in DEMO_DOSES}
    for site in SITES:
        approved = {
            t.name: t
            for t in ProtocolTemplate.objects.filter(
                clinic__name=site, status=ProtocolTemplate.Status.APPROVED
            ).select_related("approved_by")
        }
        assert set(approved) == set(doses), site
        for name, template in approved.items():
            assert DEMO_DOSE_NOTE in template.notes
            assert "not clinical advice" in template.notes
            assert (template.mg_per_kg_min, template.mg_per_kg_max, template.cap_mg) == (
                doses[name].mg_per_kg_min,
                doses[name].mg_per_kg_max,
                doses[name].cap_mg,
            )
            assert template.approved_by is not None
            assert template.approved_by.username == DIRECTOR[site]
        assert not ProtocolTemplate.objects.filter(
            clinic__name=site, status=ProtocolTemplate.Status.DRAFT
        ).exists()


def test_each_site_has_planned_courses_and_a_series_with_upcoming_sessions(
    seeded: None,
) -> None:
    now = timezone.now()
    for site in SITES:
        courses = list(Course.objects.filter(clinic__name=site).select_related("ordered_by"))
        assert {c.ordered_by.username for c in courses} == {PRESCRIBER[site]}
        planned = [c for c in courses if c.status == Course.Status.PLANNED]
        assert len(planned) >= 2, site
        assert not Appointment.objects.filter(course__in=planned).exists()
        booked = [
            c
            for c in courses
            if c.status in (Course.Status.SCHEDULED, Course.Status.IN_PROGRESS)
            and c.appointments.filter(status=Appointment.Status.BOOKED, starts_at__gt=now).exists()
        ]
        assert booked, site
        for course in courses:
            assert course.evaluation.signed_at is not None
            assert course.evaluation.signed_at < course.ordered_at


def test_a_series_is_under_way_with_its_spacing_and_window(seeded: None) -> None:
    now = timezone.now()
    under_way = [
        c
        for c in Course.objects.filter(status=Course.Status.IN_PROGRESS, flag="")
        if c.appointments.filter(status=Appointment.Status.COMPLETED, ends_at__lt=now).exists()
        and c.appointments.filter(status=Appointment.Status.BOOKED, starts_at__gt=now).exists()
    ]
    assert under_way
    course = under_way[0]
    sessions = list(course.appointments.select_related("clinic").order_by("starts_at"))
    assert [a.sequence for a in sessions] == list(range(1, course.protocol.sessions + 1))
    for before, after in pairwise(sessions):
        assert after.starts_at - before.starts_at >= timedelta(
            hours=course.protocol.min_interval_hours
        )
    assert (local_date(sessions[-1]) - local_date(sessions[0])).days < course.protocol.window_days
    assert sessions[0].checked_in_at is not None


def test_a_series_booked_for_next_week_follows_its_template(seeded: None) -> None:
    today = timezone.localdate()
    next_monday = today + timedelta(days=7 - today.weekday())
    scheduled = list(Course.objects.filter(status=Course.Status.SCHEDULED))
    assert {c.clinic.name for c in scheduled} == set(SITES)
    for course in scheduled:
        sessions = list(course.appointments.select_related("clinic").order_by("starts_at"))
        assert len(sessions) == course.protocol.sessions
        assert all(a.status == Appointment.Status.BOOKED for a in sessions)
        assert local_date(sessions[0]) >= next_monday
        # The offered proposals are kept on the course, as the booking page keeps them.
        assert course.proposals["proposals"]


def test_failures_a_no_show_a_cancellation_and_a_flagged_course(seeded: None) -> None:
    no_shows = Appointment.objects.filter(status=Appointment.Status.NO_SHOW)
    cancelled = Appointment.objects.filter(status=Appointment.Status.CANCELLED)
    assert no_shows.exists() and cancelled.exists()
    assert all(a.status_reason for a in [*no_shows, *cancelled])
    assert no_shows.filter(kind=Appointment.Kind.SESSION).exists()
    assert cancelled.filter(kind=Appointment.Kind.SESSION).exists()
    flagged = Course.objects.exclude(flag="").get()
    assert flagged.status == Course.Status.IN_PROGRESS
    assert "no replacement fits" in flagged.flag
    assert flagged.appointments.filter(status=Appointment.Status.CANCELLED).exists()
    # The front desk marked them through the service, which audits the change.
    marked = AuditEvent.objects.filter(object_type="appointment", action=AuditEvent.Action.UPDATE)
    assert {str(a.id) for a in [*no_shows, *cancelled]} <= set(
        marked.values_list("object_id", flat=True)
    )


def test_the_past_holds_completed_sessions_and_nothing_left_booked(seeded: None) -> None:
    now = timezone.now()
    past = Appointment.objects.filter(ends_at__lt=now)
    assert (
        past.filter(kind=Appointment.Kind.SESSION, status=Appointment.Status.COMPLETED).count() >= 4
    )
    assert not past.filter(status=Appointment.Status.BOOKED).exists()
    done = (
        Course.objects.filter(status=Course.Status.AWAITING_REASSESSMENT)
        .exclude(patient__in=history_patients(Organization.objects.get()))
        .get()
    )
    assert list(done.appointments.values_list("status", flat=True)) == ["completed"] * 3
    assert Appointment.objects.filter(
        patient=done.patient, kind=Appointment.Kind.FOLLOW_UP, starts_at__gt=now
    ).exists()


def test_expired_evaluation_and_behavioral_health_get_no_course(seeded: None) -> None:
    today = timezone.localdate()
    # The year's history patients had courses while their evaluations were valid.
    expired = Evaluation.objects.filter(status="signed", valid_until__lt=today).exclude(
        patient__in=history_patients(Organization.objects.get())
    )
    assert expired.exists()
    assert not Course.objects.filter(patient__in=expired.values("patient")).exists()
    assert not Course.objects.exclude(
        pathway__in=(Pathway.PAIN_SERIES, Pathway.MENTAL_HEALTH_PRIMARY)
    ).exists()


def test_single_visits_of_every_kind(seeded: None) -> None:
    singles = Appointment.objects.filter(course__isnull=True).select_related("clinician", "clinic")
    assert {a.kind for a in singles} == {
        Appointment.Kind.EVALUATION,
        Appointment.Kind.FOLLOW_UP,
        Appointment.Kind.BEHAVIORAL_HEALTH,
    }
    assert {a.clinic.name for a in singles} == set(SITES)
    now = timezone.now()
    assert singles.filter(kind=Appointment.Kind.EVALUATION, starts_at__gt=now).exists()
    for visit in singles.filter(kind=Appointment.Kind.BEHAVIORAL_HEALTH):
        assert visit.clinician is not None
        assert visit.clinician.username == THERAPIST[visit.clinic.name]
        assert visit.patient.pathway == Pathway.BEHAVIORAL_HEALTH


def test_no_two_live_appointments_overlap(seeded: None) -> None:
    by_room: dict[Any, list[Appointment]] = defaultdict(list)
    by_patient: dict[Any, list[Appointment]] = defaultdict(list)
    by_nurse: dict[Any, list[Appointment]] = defaultdict(list)
    for appointment in live():
        by_room[appointment.room_id].append(appointment)
        by_patient[appointment.patient_id].append(appointment)
        if appointment.kind == Appointment.Kind.SESSION:
            by_nurse[appointment.nurse_id].append(appointment)
    assert by_room and by_patient and by_nurse
    # The demo sites' policy: one patient per nurse at a time.
    assert set(ClinicPolicy.objects.values_list("nurse_patients_at_once", flat=True)) == {1}
    for groups in (by_room, by_patient, by_nurse):
        for rows in groups.values():
            rows.sort(key=lambda a: a.starts_at)
            for before, after in pairwise(rows):
                assert before.ends_at <= after.starts_at, (before, after)


def test_every_session_is_staffed_and_within_opening_hours(seeded: None) -> None:
    sessions = [a for a in live() if a.kind == Appointment.Kind.SESSION]
    assert sessions
    for session in sessions:
        day = local_date(session)
        zone = ZoneInfo(session.clinic.time_zone)
        people = {
            p.user_id: p for p in staff_on_site(clinic=session.clinic, date_from=day, date_to=day)
        }
        for user_id, role in ((session.nurse_id, "nurse"), (session.prescriber_id, "prescriber")):
            person = people[str(user_id)]
            assert any(s <= session.starts_at and session.ends_at <= e for s, e in person.intervals)
            assert not person.credentials_missing, (role, person.name)
            assert person.credentials_valid_until is None or person.credentials_valid_until >= day
        assert OpeningHours.objects.filter(
            clinic=session.clinic,
            weekday=day.weekday(),
            opens__lte=session.starts_at.astimezone(zone).time(),
            closes__gte=session.ends_at.astimezone(zone).time(),
        ).exists()
        assert not Closure.objects.filter(
            clinic=session.clinic, start_date__lte=day, end_date__gte=day
        ).exists()


def test_booked_sessions_respect_consent_and_safety_alerts(seeded: None) -> None:
    upcoming = Appointment.objects.filter(
        kind=Appointment.Kind.SESSION,
        status=Appointment.Status.BOOKED,
        starts_at__gt=timezone.now(),
    ).select_related("patient")
    assert upcoming.exists()
    for session in upcoming:
        consent = next(
            s
            for s in patient_consent_statuses(patient=session.patient)
            if s.kind == ConsentKind.KETAMINE_TREATMENT
        )
        assert consent.is_current
    alerted = SafetyAlert.objects.filter(status="open").values("patient")
    assert not Appointment.objects.filter(patient__in=alerted).exists()


def test_chicago_has_a_nurse_with_current_acls_on_weekday_shifts(seeded: None) -> None:
    chicago = Clinic.objects.get(name=CHICAGO)
    nurse3 = Membership.objects.get(user__username="nurse3", clinic=chicago, role=Role.NURSE).user
    assert nurse3.has_acls_on(local_today(chicago.time_zone))
    weekdays = Shift.objects.filter(user=nurse3, clinic=chicago).values_list("weekday", flat=True)
    assert sorted(weekdays) == [0, 1, 2, 3, 4]
    assert (
        AuditEvent.objects.filter(
            object_type="shift",
            username="admin2",
            object_id__in=[
                str(s) for s in Shift.objects.filter(user=nurse3).values_list("id", flat=True)
            ],
        ).count()
        == 5
    )


def test_a_second_seed_changes_nothing(seeded: None) -> None:
    models: list[Any] = [Course, Appointment, ProtocolTemplate, Shift, Closure, AuditEvent]
    before = {m.__name__: m.objects.count() for m in models}

    result = seed_demo()

    assert {m.__name__: m.objects.count() for m in models} == before
    assert result.scheduling_seeded == 0
    assert not result.changed


def test_recent_holiday_closures_are_added_once(site: Clinic) -> None:
    clinics = {"site": site}

    assert ensure_recent_closures(clinics=clinics, today=date(2026, 12, 2)) == 1
    assert ensure_recent_closures(clinics=clinics, today=date(2026, 12, 2)) == 0
    closure = Closure.objects.get(clinic=site)
    assert (closure.start_date, closure.end_date) == (date(2026, 11, 26), date(2026, 11, 27))
    # On the day itself the holiday is ahead, not past: the site's own seeding closes it.
    assert ensure_recent_closures(clinics=clinics, today=date(2027, 11, 25)) == 0
    # Christmas Day lies within the last month of a January.
    assert ensure_recent_closures(clinics=clinics, today=date(2027, 1, 10)) == 1
