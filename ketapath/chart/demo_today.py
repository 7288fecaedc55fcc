"""Demo bookings of today: the session appointments at the site whose Today page the demo
charts (``demo_sessions.TODAY_SITE``), so its session board shows sessions in several
states.

``demo_sessions.chart_today`` charts each of today's session appointments by the minutes
since it started (``DISCHARGED_AFTER``, ``READY_AFTER``, ``MONITORING_AFTER``,
``PRE_CHECK_AFTER``) and checks in the next one to come. This module books those
appointments: for each state, in the order of the day, the earliest start on a five-minute
step that lands in the state's band relative to ``now`` (``BANDS``), with a treatment room
free, a nurse on shift and free for the whole chair time (dose plus observation of the
course's template; the demo sites watch one patient per nurse), the site's prescriber on
shift, both with current licence and ACLS (``accounts.shifts.staff_on_site``), within the
site's opening hours and not on a closure: the checks the slot finder makes
(``scheduling.rules``). A plan that reaches more different states wins over one with more
appointments. With one nurse on shift, back-to-back sessions 75 minutes apart reach at most
three states at once (discharged, ready and pre-check, then the patient checked in for the
next one); with two nurses, monitoring too.

Patients: the site's demo patients with a signed, still-valid evaluation on a ketamine
pathway (pain series or mental health primary), a current treatment consent, no open or
escalated safety alert and no course yet, in MRN order. The site's prescriber orders each a
course through ``scheduling.services.course_create`` at the demo dose (0.5 mg/kg, the
bottom of the demo templates' range, a demo value and not clinical advice; see
``demo_scheduling.DEMO_DOSES``); the order is set back to an hour after the evaluation was
signed, as ``demo_scheduling`` does. Only the first session of each series is booked (its
later sessions are left for the front desk to book from the course page). An appointment
that has started cannot go through the booking service (it refuses the past), so, as in
``demo_scheduling``, every row is written directly, at a time these checks find free: one
that has started is written checked in ten minutes before its start and its course under
way; the one to come is booked, its course scheduled, and ``chart_today`` checks it in.

Whatever does not fit is skipped, so the demo never fails at any hour: on a closed day (a
weekend without opening hours, a holiday closure) or when the nurse or prescriber is not on
shift nothing is booked; early in the morning only the next patient is; after hours only the
sessions that fit before closing are, and so on. Fewer eligible patients than slots book
fewer appointments (the demo as seeded may have none to spare, and then books nothing). The
booking runs once a day: nothing is booked while the site already has a session appointment
of a course today, and ``seed_demo`` calls it only before today's readiness check is
recorded, so a second run changes nothing.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.accounts.shifts import StaffOnSite, local_to_utc, staff_on_site
from ketapath.chart.demo_sessions import (
    DISCHARGED_AFTER,
    MONITORING_AFTER,
    PRE_CHECK_AFTER,
    READY_AFTER,
    STAFF,
    TODAY_SITE,
)
from ketapath.clinics.models import Clinic, Closure, OpeningHours, Organization, Room
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.core.timeutils import local_day_bounds
from ketapath.evaluations.models import Evaluation
from ketapath.observations.models import SafetyAlert
from ketapath.patients.models import ConsentKind, Pathway, Patient
from ketapath.patients.selectors import patient_consent_statuses
from ketapath.protocols.models import ProtocolTemplate
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.services import course_create, course_protocol_for
from ketapath.treatments.models import TreatmentSession

Interval = tuple[datetime, datetime]

DEMO_MG_PER_KG = Decimal("0.5")
KETAMINE_PATHWAYS = (Pathway.PAIN_SERIES, Pathway.MENTAL_HEALTH_PRIMARY)
# Starts on a five-minute step of the clock, as a front desk books.
STEP = timedelta(minutes=5)
# A patient checks in a little before the session starts (as in demo_scheduling).
CHECK_IN_BEFORE = timedelta(minutes=10)
# The order is placed an hour after the evaluation is signed (as in demo_scheduling).
ORDER_AFTER_SIGNING = timedelta(hours=1)
WAITING = "waiting"  # booked to start soon; chart_today checks the patient in


@dataclass(frozen=True)
class Band:
    """A state of ``chart_today`` and the minutes since the start that reach it (both
    ends included), a few minutes inside its thresholds so the state holds while the seed
    runs; a negative number is a start still to come."""

    state: str
    minutes_from: int
    minutes_to: int


# In the order of the day: the earliest start first.
BANDS: tuple[Band, ...] = (
    Band(TreatmentSession.Status.DISCHARGED, DISCHARGED_AFTER + 5, 9 * 60),
    Band(TreatmentSession.Status.DISCHARGED, DISCHARGED_AFTER + 5, 9 * 60),
    Band(TreatmentSession.Status.READY, READY_AFTER + 2, DISCHARGED_AFTER - 2),
    # From 35 minutes three readings are due, so one can be overdue and the next one due.
    Band(TreatmentSession.Status.MONITORING, MONITORING_AFTER + 7, READY_AFTER - 6),
    Band(TreatmentSession.Status.PRE_CHECK, PRE_CHECK_AFTER + 2, MONITORING_AFTER - 3),
    Band(WAITING, -90, -5),
)


@dataclass(frozen=True)
class Slot:
    state: str
    start: datetime
    end: datetime
    nurse_id: str
    room_id: str


@dataclass(frozen=True)
class Day:
    """What the planner needs of the site's day, as plain values (UTC intervals)."""

    nurse_windows: dict[str, tuple[Interval, ...]]  # on shift, prescriber too, site open
    nurse_busy: dict[str, tuple[Interval, ...]]  # sessions already booked
    room_busy: dict[str, tuple[Interval, ...]]  # live appointments already in each room


# --- planning (pure) -------------------------------------------------------------------------


def _overlaps(busy: Sequence[Interval], start: datetime, end: datetime) -> bool:
    return any(s < end and start < e for s, e in busy)


def _within(windows: Sequence[Interval], start: datetime, end: datetime) -> bool:
    return any(s <= start and end <= e for s, e in windows)


def _ceil_to_step(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    floor -= timedelta(minutes=floor.minute % 5)
    return floor if floor == moment else floor + STEP


def _first_fit(
    band: Band,
    nurse_id: str,
    free_from: datetime,
    now: datetime,
    chair: timedelta,
    day: Day,
    planned: Sequence[Slot],
) -> Slot | None:
    """The earliest start in ``band`` from ``free_from`` when the nurse and a room are free."""
    start = _ceil_to_step(max(now - timedelta(minutes=band.minutes_to), free_from))
    latest = now - timedelta(minutes=band.minutes_from)
    windows = day.nurse_windows.get(nurse_id, ())
    busy = day.nurse_busy.get(nurse_id, ())
    while start <= latest:
        end = start + chair
        if _within(windows, start, end) and not _overlaps(busy, start, end):
            for room_id, room_busy in day.room_busy.items():
                taken = [(s.start, s.end) for s in planned if s.room_id == room_id]
                if not _overlaps([*room_busy, *taken], start, end):
                    return Slot(band.state, start, end, nurse_id, room_id)
        start += STEP
    return None


def _score(slots: Sequence[Slot]) -> tuple[int, int, int]:
    states = {s.state for s in slots if s.state != WAITING}
    return len(states), int(any(s.state == WAITING for s in slots)), len(slots)


def plan_slots(
    *, now: datetime, chair: timedelta, day: Day, bands: Sequence[Band] = BANDS, most: int = 5
) -> list[Slot]:
    """Today's slots, at most ``most``: the plan reaching the most different states, then
    with the patient to come, then with the most appointments; earliest first. Each
    nurse's sessions follow one another (one patient per nurse at a time)."""
    nurses = sorted(day.nurse_windows)

    def search(index: int, free: dict[str, datetime], planned: list[Slot]) -> list[Slot]:
        if index == len(bands) or len(planned) == most:
            return planned
        best = search(index + 1, free, planned)
        for nurse_id in nurses:
            slot = _first_fit(bands[index], nurse_id, free[nurse_id], now, chair, day, planned)
            if slot is None:
                continue
            found = search(index + 1, {**free, nurse_id: slot.end}, [*planned, slot])
            if _score(found) > _score(best):
                best = found
        return best

    start_of_time = now - timedelta(days=1)
    return sorted(search(0, dict.fromkeys(nurses, start_of_time), []), key=lambda s: s.start)


# --- the site's day -------------------------------------------------------------------------


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> tuple[Interval, ...]:
    out = [(max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b]
    return tuple(sorted((s, e) for s, e in out if s < e))


def _credentials_current(person: StaffOnSite, day: date) -> bool:
    valid = person.credentials_valid_until
    return not person.credentials_missing and (valid is None or valid >= day)


def site_day(*, clinic: Clinic, day: date, prescriber: User) -> Day:
    """The site's nurses on shift with the prescriber, within opening hours, on a day that
    is not a closure, and what is already booked; empty windows when nothing can be."""
    zone = ZoneInfo(clinic.time_zone)
    empty = Day({}, {}, {})
    if Closure.objects.filter(clinic=clinic, start_date__lte=day, end_date__gte=day).exists():
        return empty
    opening = tuple(
        (local_to_utc(day, h.opens, zone), local_to_utc(day, h.closes, zone))
        for h in OpeningHours.objects.filter(clinic=clinic, weekday=day.weekday())
    )
    people = {
        p.user_id: p
        for p in staff_on_site(clinic=clinic, date_from=day, date_to=day)
        if _credentials_current(p, day)
    }
    lead = people.get(str(prescriber.id))
    if not opening or lead is None:
        return empty
    covered = _intersect(opening, lead.intervals)
    windows = {
        user_id: _intersect(covered, person.intervals)
        for user_id, person in people.items()
        if Role.NURSE in person.roles
    }
    windows = {user_id: w for user_id, w in windows.items() if w}
    start, end = local_day_bounds(day, clinic.time_zone)
    live = Appointment.objects.exclude(status=Appointment.Status.CANCELLED).filter(
        starts_at__lt=end, ends_at__gt=start
    )
    nurse_busy = {
        user_id: tuple(
            live.filter(kind=Appointment.Kind.SESSION, nurse_id=UUID(user_id)).values_list(
                "starts_at", "ends_at"
            )
        )
        for user_id in windows
    }
    rooms = Room.objects.filter(clinic=clinic, active=True, kind=Room.Kind.TREATMENT)
    room_busy = {
        str(room.id): tuple(live.filter(room=room).values_list("starts_at", "ends_at"))
        for room in rooms.order_by("name")
    }
    return Day(windows, nurse_busy, room_busy)


# --- patients -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    patient: Patient
    evaluation: Evaluation
    template: ProtocolTemplate


def eligible_patients(*, clinic: Clinic, day: date) -> list[Candidate]:
    """The site's patients who could start a series today and have no course yet, in MRN
    order (see the module docstring)."""
    alerted = SafetyAlert.objects.exclude(status=SafetyAlert.Status.CLEARED).values("patient")
    patients = (
        Patient.objects.filter(
            organization=clinic.organization_id,
            pathway__in=KETAMINE_PATHWAYS,
            evaluations__clinic=clinic,
        )
        .exclude(id__in=alerted)
        .exclude(id__in=Course.objects.values("patient"))
        .distinct()
        .order_by("mrn")
    )
    found: list[Candidate] = []
    for patient in patients:
        evaluation = (
            Evaluation.objects.filter(
                patient=patient,
                clinic=clinic,
                status=Evaluation.Status.SIGNED,
                pathway__in=KETAMINE_PATHWAYS,
                valid_until__gte=day,
            )
            .order_by("-signed_at")
            .first()
        )
        if evaluation is None or evaluation.signed_at is None:
            continue
        consented = any(
            s.kind == ConsentKind.KETAMINE_TREATMENT and s.is_current
            for s in patient_consent_statuses(patient=patient)
        )
        if not consented:
            continue
        try:
            template = course_protocol_for(evaluation=evaluation, clinic=clinic)
        except Conflict:
            continue
        found.append(Candidate(patient, evaluation, template))
    return found


def _patient_free(patient: Patient, start: datetime, end: datetime) -> bool:
    return not (
        Appointment.objects.exclude(status=Appointment.Status.CANCELLED)
        .filter(patient=patient, starts_at__lt=end, ends_at__gt=start)
        .exists()
    )


# --- booking --------------------------------------------------------------------------------


def today_booked(*, clinic: Clinic, day: date) -> bool:
    """Whether the site already has a live session appointment of a course on ``day``."""
    start, end = local_day_bounds(day, clinic.time_zone)
    return (
        Appointment.objects.filter(
            clinic=clinic,
            kind=Appointment.Kind.SESSION,
            course__isnull=False,
            starts_at__gte=start,
            starts_at__lt=end,
        )
        .exclude(status=Appointment.Status.CANCELLED)
        .exists()
    )


def _book(
    slot: Slot, candidate: Candidate, clinic: Clinic, people: dict[str, User], now: datetime
) -> Appointment:
    """Order the course and write its first session at ``slot``."""
    course = course_create(
        user=people["prescriber"],
        patient=candidate.patient,
        clinic=clinic,
        evaluation=candidate.evaluation,
        ordered_mg_per_kg=DEMO_MG_PER_KG,
    )
    assert candidate.evaluation.signed_at is not None
    signed = candidate.evaluation.signed_at
    # Ordered before the session starts, after the evaluation is signed.
    ordered_at = max(
        signed + timedelta(minutes=1),
        min(signed + ORDER_AFTER_SIGNING, slot.start - ORDER_AFTER_SIGNING),
    )
    started = slot.start <= now
    Course.objects.filter(pk=course.pk).update(
        ordered_at=ordered_at,
        status=Course.Status.IN_PROGRESS if started else Course.Status.SCHEDULED,
    )
    appointment = Appointment.objects.create(
        clinic=clinic,
        patient=candidate.patient,
        kind=Appointment.Kind.SESSION,
        course=course,
        sequence=1,
        starts_at=slot.start,
        ends_at=slot.start + timedelta(minutes=course.protocol.chair_minutes),
        room_id=UUID(slot.room_id),
        nurse_id=UUID(slot.nurse_id),
        prescriber=people["prescriber"],
        status=Appointment.Status.CHECKED_IN if started else Appointment.Status.BOOKED,
        checked_in_at=slot.start - CHECK_IN_BEFORE if started else None,
        booked_by=people["desk"],
    )
    # Booked when the course was ordered, not now.
    Appointment.objects.filter(pk=appointment.pk).update(created_at=ordered_at)
    return appointment


def book_today_sessions(*, organization: Organization, now: datetime | None = None) -> int:
    """Book today's session appointments at the demo's Today site for the states of
    ``chart_today`` (see the module docstring); returns how many were booked."""
    now = now or timezone.now()
    clinic = Clinic.objects.filter(organization=organization, name=TODAY_SITE).first()
    if clinic is None or clinic.name not in STAFF:
        return 0
    day = now.astimezone(ZoneInfo(clinic.time_zone)).date()
    if today_booked(clinic=clinic, day=day):
        return 0
    staff = STAFF[clinic.name]
    found = {
        u.username: u for u in User.objects.filter(username__in=(staff.prescriber, staff.desk))
    }
    if len(found) < 2:
        return 0
    people = {"prescriber": found[staff.prescriber], "desk": found[staff.desk]}
    candidates = eligible_patients(clinic=clinic, day=day)
    if not candidates:
        return 0
    chair = timedelta(minutes=max(c.template.chair_minutes for c in candidates))
    plan = plan_slots(
        now=now,
        chair=chair,
        day=site_day(clinic=clinic, day=day, prescriber=people["prescriber"]),
        most=len(candidates),
    )
    booked = 0
    for slot in plan:
        candidate = next(
            (c for c in candidates if _patient_free(c.patient, slot.start, slot.end)), None
        )
        if candidate is None:
            continue
        candidates.remove(candidate)
        try:
            with transaction.atomic():
                _book(slot, candidate, clinic, people, now)
        except (Conflict, InvalidInput, Forbidden):
            continue
        booked += 1
    return booked
