"""The demo's bookings of today: slots planned into the states of ``chart_today`` within
shifts and opening hours, never overlapping, nothing on a closed day, and (against the real
clock) the Today site's sessions charted in the states planned."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.shifts import staff_on_site
from ketapath.chart.demo import DENVER, seed_demo
from ketapath.chart.demo_evaluations import CASES, _seed_one
from ketapath.chart.demo_sessions import (
    DISCHARGED_AFTER,
    MONITORING_AFTER,
    READY_AFTER,
    seed_today_sessions,
)
from ketapath.chart.demo_today import (
    BANDS,
    WAITING,
    Day,
    Slot,
    book_today_sessions,
    eligible_patients,
    plan_slots,
    site_day,
)
from ketapath.clinics.models import Clinic, Closure, OpeningHours, Organization
from ketapath.core.timeutils import local_day_bounds
from ketapath.evaluations.models import Evaluation
from ketapath.observations.models import SafetyAlert
from ketapath.patients.models import ConsentKind, Patient
from ketapath.patients.selectors import patient_consent_statuses
from ketapath.scheduling.models import Appointment, Course
from ketapath.treatments.models import (
    AdverseEvent,
    SessionAlert,
    SessionOverride,
    TreatmentSession,
)

pytestmark = pytest.mark.django_db

Status = TreatmentSession.Status
ZONE = ZoneInfo("America/Denver")
CHAIR = timedelta(minutes=75)
# A Thursday: the demo's Denver nurse works 08:00–17:00, the prescriber 08:00–16:00.
THURSDAY = date(2026, 12, 3)
ROOMS = ("room-1", "room-2", "room-3")
# How many more demo patients the module's fixture evaluates, so there are enough to book.
# Denver patients eligible for a first session once the module's seed is done: the demo's
# own (evaluated for today, but already booked when the demo was seeded in opening hours)
# topped up with more evaluated here.
EXTRA_PATIENTS = 4


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


def day_of(*nurses: tuple[str, tuple[tuple[int, int], ...]], day: date = THURSDAY) -> Day:
    """A site's day: each nurse's windows given as whole local hours."""
    return Day(
        nurse_windows={n: tuple((at(day, s), at(day, e)) for s, e in hours) for n, hours in nurses},
        nurse_busy={},
        room_busy={room: () for room in ROOMS},
    )


def state_at(slot: Slot, now: datetime) -> str:
    """The state ``chart_today`` gives an appointment started at ``slot.start``."""
    minutes = (now - slot.start).total_seconds() / 60
    if minutes < 0:
        return WAITING
    if minutes < MONITORING_AFTER:
        return Status.PRE_CHECK
    if minutes < READY_AFTER:
        return Status.MONITORING
    if minutes < DISCHARGED_AFTER:
        return Status.READY
    return Status.DISCHARGED


def assert_sound(slots: list[Slot], day: Day, now: datetime) -> None:
    assert len({s.start for s in slots}) == len(slots)
    for slot in slots:
        assert slot.end - slot.start == CHAIR
        assert slot.start.minute % 5 == 0 and slot.start.second == 0
        assert any(s <= slot.start and slot.end <= e for s, e in day.nurse_windows[slot.nurse_id])
        # The state planned is the one the chart will reach.
        assert state_at(slot, now) == slot.state
    for key in ("nurse_id", "room_id"):
        groups: dict[str, list[Slot]] = defaultdict(list)
        for slot in slots:
            groups[getattr(slot, key)].append(slot)
        for rows in groups.values():
            for before, after in pairwise(sorted(rows, key=lambda s: s.start)):
                assert before.end <= after.start


# --- planning ---------------------------------------------------------------------------


def test_one_nurse_mid_morning_reaches_three_states_and_the_next_patient() -> None:
    day = day_of(("nurse", ((8, 16),)))
    now = at(THURSDAY, 11, 7)

    slots = plan_slots(now=now, chair=CHAIR, day=day)

    assert_sound(slots, day, now)
    states = [s.state for s in slots]
    assert {Status.DISCHARGED, Status.READY, Status.PRE_CHECK} <= set(states)
    assert states[-1] == WAITING and states.count(WAITING) == 1
    assert 4 <= len(slots) <= 5


def test_two_nurses_reach_every_state() -> None:
    day = day_of(("nurse-a", ((8, 16),)), ("nurse-b", ((8, 16),)))
    now = at(THURSDAY, 13, 2)

    slots = plan_slots(now=now, chair=CHAIR, day=day)

    assert_sound(slots, day, now)
    assert {s.state for s in slots} == {b.state for b in BANDS}


def test_a_lunch_break_and_the_end_of_the_prescribers_shift_are_kept() -> None:
    # The nurse's Wednesday: 08–12 and 13–17; with the prescriber until 16.
    day = day_of(("nurse", ((8, 12), (13, 16))))
    for hour in range(7, 19):
        now = at(THURSDAY, hour, 20)
        slots = plan_slots(now=now, chair=CHAIR, day=day)
        assert_sound(slots, day, now)


def test_before_opening_only_the_first_patient_is_booked() -> None:
    day = day_of(("nurse", ((8, 16),)))
    now = at(THURSDAY, 7, 15)

    slots = plan_slots(now=now, chair=CHAIR, day=day)

    assert [s.state for s in slots] == [WAITING]
    assert slots[0].start == at(THURSDAY, 8)


def test_after_hours_only_sessions_already_over_are_booked() -> None:
    day = day_of(("nurse", ((8, 16),)))
    now = at(THURSDAY, 18, 30)

    slots = plan_slots(now=now, chair=CHAIR, day=day)

    assert slots
    assert {s.state for s in slots} == {Status.DISCHARGED}
    assert all(s.end <= at(THURSDAY, 16) for s in slots)


def test_no_window_no_slot() -> None:
    closed = Day(nurse_windows={}, nurse_busy={}, room_busy={r: () for r in ROOMS})
    assert plan_slots(now=at(THURSDAY, 11), chair=CHAIR, day=closed) == []


def test_booked_rooms_and_sessions_are_kept_free() -> None:
    base = day_of(("nurse", ((8, 16),)))
    busy = (at(THURSDAY, 8), at(THURSDAY, 16))
    day = Day(
        nurse_windows=base.nurse_windows,
        nurse_busy={"nurse": ((at(THURSDAY, 9), at(THURSDAY, 10, 15)),)},
        room_busy={"room-1": (busy,), "room-2": (busy,), "room-3": ()},
    )
    now = at(THURSDAY, 12)

    slots = plan_slots(now=now, chair=CHAIR, day=day)

    assert_sound(slots, day, now)
    assert {s.room_id for s in slots} == {"room-3"}
    assert not any(s.start < at(THURSDAY, 10, 15) and at(THURSDAY, 9) < s.end for s in slots)


# --- booking at the demo's Denver site ---------------------------------------------------


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """One demo seed for the module, with Denver patients evaluated for a chronic-pain
    series until EXTRA_PATIENTS are eligible (how many the demo left eligible depends on
    the hour it was seeded: in opening hours it booked its own today), rolled back at the
    end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            seed_demo()
            denver = Clinic.objects.get(name=DENVER)
            users = {u.username: u for u in User.objects.all()}
            template = next(c for c in CASES if c.index == 9)  # Denver, low back pain
            alerted = SafetyAlert.objects.values("patient")
            added = len(eligible_patients(clinic=denver, day=timezone.localdate()))
            for patient in (
                Patient.objects.filter(preferred_clinic=denver)
                .exclude(id__in=alerted)
                .exclude(id__in=Evaluation.objects.values("patient"))
                .order_by("mrn")
            ):
                consented = any(
                    s.kind == ConsentKind.KETAMINE_TREATMENT and s.is_current
                    for s in patient_consent_statuses(patient=patient)
                )
                if not consented or Appointment.objects.filter(patient=patient).exists():
                    continue
                _seed_one(
                    replace(template, days_ago=3), patient, denver, users, timezone.localdate()
                )
                added += 1
                if added >= EXTRA_PATIENTS:
                    break
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def denver() -> Clinic:
    return Clinic.objects.get(name=DENVER)


def open_weekday(clinic: Clinic, after: date, weekday: int | None = None) -> date:
    """The first day after ``after`` the site is open on a weekday (Monday to Friday) and
    not closed, on ``weekday`` if given."""
    day = after + timedelta(days=1)
    while (
        day.weekday() > 4
        or (weekday is not None and day.weekday() != weekday)
        or Closure.objects.filter(clinic=clinic, start_date__lte=day, end_date__gte=day).exists()
    ):
        day += timedelta(days=1)
    return day


def test_enough_patients_are_eligible(seeded: None) -> None:
    clinic = denver()
    candidates = eligible_patients(clinic=clinic, day=timezone.localdate())
    assert len(candidates) == EXTRA_PATIENTS
    for candidate in candidates:
        assert not Course.objects.filter(patient=candidate.patient).exists()
        assert candidate.evaluation.clinic_id == clinic.id


def test_bookings_on_a_weekday_are_staffed_within_hours_and_do_not_overlap(
    seeded: None,
) -> None:
    clinic = denver()
    day = open_weekday(clinic, timezone.localdate(), weekday=3)  # a Thursday
    now = datetime.combine(day, time(11, 7), tzinfo=ZONE)

    patients = [c.patient.id for c in eligible_patients(clinic=clinic, day=day)]

    booked = book_today_sessions(organization=clinic.organization, now=now)

    rows = list(
        Appointment.objects.filter(patient_id__in=patients).select_related(
            "course__evaluation", "course__ordered_by", "nurse", "prescriber"
        )
    )
    assert booked == len(rows) >= 4
    states = {state_at(Slot("", a.starts_at, a.ends_at, "", ""), now) for a in rows} - {WAITING}
    assert len(states) >= 3
    people = {p.user_id: p for p in staff_on_site(clinic=clinic, date_from=day, date_to=day)}
    for appointment in rows:
        local_start, local_end = (
            appointment.starts_at.astimezone(ZONE),
            appointment.ends_at.astimezone(ZONE),
        )
        assert OpeningHours.objects.filter(
            clinic=clinic,
            weekday=day.weekday(),
            opens__lte=local_start.time(),
            closes__gte=local_end.time(),
        ).exists()
        for user in (appointment.nurse, appointment.prescriber):
            assert user is not None
            person = people[str(user.id)]
            assert any(
                s <= appointment.starts_at and appointment.ends_at <= e for s, e in person.intervals
            )
            assert not person.credentials_missing
            assert person.credentials_valid_until is None or person.credentials_valid_until >= day
        course = appointment.course
        assert course is not None and appointment.sequence == 1
        assert course.ordered_by.username == "prescriber"
        assert course.evaluation.signed_at is not None
        assert course.evaluation.signed_at < course.ordered_at < appointment.starts_at
        if appointment.starts_at <= now:
            assert appointment.status == Appointment.Status.CHECKED_IN
            assert appointment.checked_in_at is not None
            assert course.status == Course.Status.IN_PROGRESS
        else:
            assert appointment.status == Appointment.Status.BOOKED
            assert course.status == Course.Status.SCHEDULED
    live = Appointment.objects.exclude(status=Appointment.Status.CANCELLED)
    for key in ("room_id", "patient_id", "nurse_id"):
        groups: dict[Any, list[Appointment]] = defaultdict(list)
        for appointment in live:
            if key != "nurse_id" or appointment.kind == Appointment.Kind.SESSION:
                groups[getattr(appointment, key)].append(appointment)
        for group in groups.values():
            for before, after in pairwise(sorted(group, key=lambda a: a.starts_at)):
                assert before.ends_at <= after.starts_at, key
    # Once booked, the day is left alone.
    assert book_today_sessions(organization=clinic.organization, now=now) == 0


def test_nothing_is_booked_on_a_closed_day(seeded: None) -> None:
    clinic = denver()
    organization = clinic.organization
    before = Appointment.objects.count()
    sunday = timezone.localdate() + timedelta(days=6 - timezone.localdate().weekday() + 7)
    assert book_today_sessions(organization=organization, now=at(sunday, 11)) == 0
    holiday = open_weekday(clinic, timezone.localdate())
    Closure.objects.create(clinic=clinic, start_date=holiday, end_date=holiday, reason="Test")
    assert site_day(
        clinic=clinic, day=holiday, prescriber=User.objects.get(username="prescriber")
    ) == Day({}, {}, {})
    assert book_today_sessions(organization=organization, now=at(holiday, 11)) == 0
    assert Appointment.objects.count() == before
    assert len(eligible_patients(clinic=clinic, day=timezone.localdate())) == EXTRA_PATIENTS


def _undo_todays_demo_sessions(clinic: Clinic, day: date) -> None:
    """Take back what the module's seed booked and charted today (it depends on the hour
    the seed ran), courses included, so the booking below starts from the same place."""
    start, end = local_day_bounds(day, clinic.time_zone)
    today = Appointment.objects.filter(
        clinic=clinic, kind=Appointment.Kind.SESSION, starts_at__gte=start, starts_at__lt=end
    )
    course_ids = set(today.values_list("course_id", flat=True))
    sessions = TreatmentSession.objects.filter(appointment__in=today)
    for model in (SessionAlert, AdverseEvent, SessionOverride):
        model.objects.filter(session__in=sessions).delete()
    sessions.delete()
    today.delete()
    Course.objects.filter(id__in=course_ids, appointments__isnull=True).delete()


def test_todays_bookings_are_charted_in_the_planned_states(seeded: None) -> None:
    with transaction.atomic():
        _todays_bookings_are_charted_in_the_planned_states()
        transaction.set_rollback(True)


def _todays_bookings_are_charted_in_the_planned_states() -> None:
    """Against the real clock, so what is booked depends on the hour the tests run: every
    appointment booked is charted in the state its start time planned, and in opening hours
    on a weekday with the prescriber on shift that is three states or more."""
    clinic = denver()
    _undo_todays_demo_sessions(clinic, timezone.now().astimezone(ZONE).date())
    organization: Organization = clinic.organization
    now = timezone.now()
    day = now.astimezone(ZONE).date()
    plan = plan_slots(
        now=now,
        chair=CHAIR,
        day=site_day(clinic=clinic, day=day, prescriber=User.objects.get(username="prescriber")),
    )

    patients = [c.patient.id for c in eligible_patients(clinic=clinic, day=day)]

    booked = book_today_sessions(organization=organization, now=now)
    seed_today_sessions(organization=organization)

    rows = list(Appointment.objects.filter(patient_id__in=patients))
    assert booked == len(rows) == len(plan)
    assert sorted(a.starts_at for a in rows) == [s.start for s in plan]
    states = set()
    for appointment in rows:
        expected = state_at(Slot("", appointment.starts_at, appointment.ends_at, "", ""), now)
        session = TreatmentSession.objects.filter(appointment=appointment).first()
        if expected == WAITING:
            assert session is None
            assert appointment.status == Appointment.Status.CHECKED_IN
        else:
            assert session is not None, expected
            assert session.status == expected
            states.add(session.status)
    assert states == {s.state for s in plan} - {WAITING}
    if len({s.state for s in plan} - {WAITING}) >= 3:
        assert len(states) >= 3
