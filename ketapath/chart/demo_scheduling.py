"""Demo scheduling: approved protocol templates with demo doses, the shifts the bookings
need, and courses and appointments at both demo sites — successes, failures and drop-outs.

Each site's medical director sets a demo dose on the shipped templates and approves them
through ``ketapath.protocols.services``. No guideline sets intramuscular dosing for chronic
pain, and 0.5–1.0 mg/kg is only the range commonly reported for depression (clinical.md
§1.3), so every note says the dose is a demo value and not clinical advice. Courses are
ordered by the site's prescriber through ``course_create``; upcoming series are proposed by
the slot finder and booked by the front desk through ``course_book``, single visits through
``appointment_book_single``, and no-shows and cancellations go through
``appointment_set_status`` (which flags a course when no replacement fits). Patients are
picked by position in MRN order, as in ``demo_evaluations``; the patient with the open
PHQ-9 item 9 alert is never booked, and the evaluation past its validity is left without a
course, as the course service refuses it.

The cases, relative to the seeding day: a series that dropped out (a no-show, then a
cancellation, the course flagged), one under way (first session done, the others booked),
one completed and awaiting reassessment, series booked for next week, courses still waiting
to be booked (proposals offered, or blocked by an out-of-date consent), evaluations,
follow-ups and behavioral-health visits, one of them missed and one cancelled.

Sessions and visits in the past cannot be booked (the services refuse the past), so they are
written directly as rows, at times the slot finder or the checks below find free, with the
status they ended in. ``seed_scheduling`` books nothing unless the seeding day is today at
the sites, because the booking services check against the real clock.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ketapath.accounts.models import Shift, User
from ketapath.accounts.services import shift_add
from ketapath.accounts.shifts import local_to_utc, staff_on_site
from ketapath.chart.demo_shifts import next_monday
from ketapath.clinics.models import Clinic, Closure, OpeningHours, Organization, Room
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today
from ketapath.evaluations.models import Evaluation
from ketapath.patients.models import Patient
from ketapath.protocols import services as protocol_services
from ketapath.protocols.models import ProtocolTemplate
from ketapath.scheduling import rules
from ketapath.scheduling.booking import (
    appointment_book_single,
    appointment_set_status,
    course_book,
    proposal_choices,
    proposals_store,
    replacement_for,
    slot_proposals,
)
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.services import course_create

DENVER = "Denver Ketamine Clinic"
CHICAGO = "Chicago Ketamine Clinic"
MON, TUE, WED, THU, FRI = range(5)
WEEKDAYS = (MON, TUE, WED, THU, FRI)

DEMO_DOSE_NOTE = "Demo dose for the demo clinic, not clinical advice."
# The site's medical director approves; the prescriber orders; the front desk books.
SITE_ROLES = {
    DENVER: {"director": "director", "prescriber": "prescriber", "desk": "frontdesk"},
    CHICAGO: {"director": "director2", "prescriber": "prescriber2", "desk": "frontdesk2"},
}
# How long the front desk books each single visit for: the clinic's workflow, not a
# clinical fact.
VISIT_MINUTES = {
    Appointment.Kind.EVALUATION: 60,
    Appointment.Kind.FOLLOW_UP: 30,
    Appointment.Kind.BEHAVIORAL_HEALTH: 50,
}
# A patient checks in a little before the session starts.
CHECK_IN_BEFORE = timedelta(minutes=10)
# Whole hours tried, in the site's time, when looking for a free time for a single visit.
VISIT_HOURS = (9, 10, 11, 13, 14, 15)
# How many days ahead (or back, for a past visit) a visit may move to find a free time.
VISIT_SEARCH_DAYS = 14
# Refusals from the booking service after which the front desk gives up on a visit.
VISIT_ATTEMPTS = 12
# Days before the seeding day from which the first session of a series under way is sought.
UNDER_WAY_DAYS_BACK = (2, 4, 7, 14)
# The furthest back, in days, that the demo writes appointments.
RECENT_DAYS = 30


# --- Protocol templates ------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDose:
    """The demo dose range and cap set on one shipped template, and why, for its notes."""

    template: str  # a shipped template's name (protocols.services.SHIPPED)
    mg_per_kg_min: Decimal
    mg_per_kg_max: Decimal
    cap_mg: Decimal
    basis: str

    @property
    def notes(self) -> str:
        return f"{DEMO_DOSE_NOTE} {self.basis}"


DEMO_DOSES: tuple[DemoDose, ...] = (
    DemoDose(
        "Chronic pain — initial IM series",
        Decimal("0.5"),
        Decimal("0.8"),
        Decimal("80"),
        "No guideline sets intramuscular dosing for chronic pain (clinical.md §1.3); this "
        "range and cap were made up for the demo. A clinic's medical director sets its own.",
    ),
    DemoDose(
        "Depression — induction",
        Decimal("0.5"),
        Decimal("1.0"),
        Decimal("100"),
        "0.5–1.0 mg/kg per intramuscular session is the range commonly reported for "
        "depression, though no guideline sets it (clinical.md §1.3, unverified); the cap is "
        "a demo value.",
    ),
    DemoDose(
        "PTSD — induction",
        Decimal("0.5"),
        Decimal("1.0"),
        Decimal("100"),
        "The clinical reference gives no dose for PTSD; the demo reuses the depression range "
        "(clinical.md §1.3) with a demo cap.",
    ),
    DemoDose(
        "Continuation — single session",
        Decimal("0.5"),
        Decimal("0.8"),
        Decimal("80"),
        "The demo reuses the range of its chronic-pain series, for which no guideline sets "
        "intramuscular dosing (clinical.md §1.3).",
    ),
)


def approve_demo_protocols(*, clinics: dict[str, Clinic], users: dict[str, User]) -> int:
    """Ship the templates at each site, set the demo dose on those never approved and
    still without a dose, and approve them as the site's medical director; returns how many
    were approved. Templates someone has already dosed or approved are left alone."""
    approved = 0
    for site, roles in SITE_ROLES.items():
        clinic = clinics[site]
        director = users[roles["director"]]
        protocol_services.protocols_ship(clinic=clinic)
        for dose in DEMO_DOSES:
            versions = ProtocolTemplate.objects.filter(clinic=clinic, name=dose.template)
            if versions.exclude(status=ProtocolTemplate.Status.DRAFT).exists():
                continue
            draft = versions.order_by("-version").first()
            if draft is None or draft.has_dose:
                continue
            try:
                with transaction.atomic():
                    draft = protocol_services.protocol_update(
                        user=director,
                        template=draft,
                        data={
                            "mg_per_kg_min": dose.mg_per_kg_min,
                            "mg_per_kg_max": dose.mg_per_kg_max,
                            "cap_mg": dose.cap_mg,
                            "notes": dose.notes,
                        },
                    )
                    protocol_services.protocol_approve(user=director, template=draft)
            except (Conflict, InvalidInput):
                # For example a site whose dose ceiling was lowered below the demo dose.
                continue
            approved += 1
    return approved


# --- Shifts the bookings need --------------------------------------------------------------


@dataclass(frozen=True)
class ExtraShift:
    site: str
    admin: str  # the clinic admin who enters it
    username: str
    weekdays: tuple[int, ...]
    starts: time
    ends: time


# Chicago's other nurse has a lapsed ACLS card, so without a second nurse no Chicago session
# could be booked; the therapists need shifts for behavioral-health visits.
EXTRA_SHIFTS: tuple[ExtraShift, ...] = (
    ExtraShift(CHICAGO, "admin2", "nurse3", WEEKDAYS, time(8), time(16, 30)),
    ExtraShift(DENVER, "admin", "therapist", (MON, WED, THU), time(9), time(17)),
    ExtraShift(CHICAGO, "admin2", "therapist2", (TUE, WED, FRI), time(10), time(17)),
)


def seed_extra_shifts(*, clinics: dict[str, Clinic], users: dict[str, User]) -> int:
    """Weekly shifts for the demo staff in ``EXTRA_SHIFTS`` who have none at their site yet,
    entered by the site's clinic admin; returns how many were added."""
    added = 0
    for spec in EXTRA_SHIFTS:
        clinic, user = clinics[spec.site], users[spec.username]
        if Shift.objects.filter(user=user, clinic=clinic).exists():
            continue
        for weekday in spec.weekdays:
            shift_add(
                actor=users[spec.admin],
                user=user,
                clinic=clinic,
                weekday=weekday,
                starts=spec.starts,
                ends=spec.ends,
            )
            added += 1
    return added


# --- Courses -------------------------------------------------------------------------------

# What happens to a course after the prescriber orders it.
PLANNED = "planned"  # not booked: something blocks booking, or nobody has called yet
OFFERED = "offered"  # slot proposals offered; the patient has not chosen yet
NEXT_WEEK = "next_week"  # the series booked from next Monday
UNDER_WAY = "under_way"  # booked; the first session done, the others to come
DROPPED_OUT = "dropped_out"  # first session done, then a no-show and a cancellation
SERIES_DONE = "series_done"  # every session done; reassessment visit booked


@dataclass(frozen=True)
class CourseCase:
    """One demo course. ``index`` is the patient's position in MRN order (the evaluation
    cases of ``demo_evaluations``); ``days_ago`` is the first possible day of a series in
    the past; ``weekdays`` and ``time_from`` are the patient's booking preferences."""

    index: int
    site: str
    mg_per_kg: Decimal
    plan: str
    days_ago: int = 0
    weekdays: tuple[int, ...] = ()
    time_from: time | None = None
    no_show_reason: str = ""
    cancel_reason: str = ""


COURSES: tuple[CourseCase, ...] = (
    # Denver: neuropathy after chemotherapy, evaluation 21 days ago. He came to the first
    # session, missed the second and cancelled the third; the window has passed, so the
    # course is flagged for the prescriber's review.
    CourseCase(
        21,
        DENVER,
        Decimal("0.6"),
        DROPPED_OUT,
        days_ago=17,
        no_show_reason=(
            "Did not arrive and did not answer two calls; said later his driver had "
            "cancelled at the last minute."
        ),
        cancel_reason=(
            "Patient called to cancel: no one can drive him home this week and he will not "
            "take a taxi after a session. Wants to talk to the prescriber before restarting."
        ),
    ),
    # Denver: low back pain, evaluation 18 days ago; the series booked from next Monday.
    CourseCase(9, DENVER, Decimal("0.5"), NEXT_WEEK),
    # Denver: recurrent depression with lupus pain; first session done, five to come. She
    # works mornings, so Monday, Wednesday and Friday afternoons. (The six-session induction
    # has a 21-day window, so its first session fits in the past even around a holiday.)
    CourseCase(5, DENVER, Decimal("0.5"), UNDER_WAY, weekdays=(MON, WED, FRI), time_from=time(13)),
    # Denver: PTSD after a road crash; proposals offered, he is checking with his employer.
    CourseCase(10, DENVER, Decimal("0.5"), OFFERED),
    # Denver: CRPS; her treatment consent is on the old form, so booking waits until she
    # signs the current one (the booking re-check refuses it).
    CourseCase(1, DENVER, Decimal("0.5"), PLANNED),
    # Chicago: fibromyalgia; the series is done and the reassessment visit is booked.
    CourseCase(26, CHICAGO, Decimal("0.5"), SERIES_DONE, days_ago=9),
    # Chicago: diabetic neuropathy with hypertension; Tuesday to Thursday mornings.
    CourseCase(36, CHICAGO, Decimal("0.5"), NEXT_WEEK, weekdays=(TUE, WED, THU), time_from=time(9)),
    # Chicago: trigeminal neuralgia; consent on the old form, so not bookable yet.
    CourseCase(34, CHICAGO, Decimal("0.6"), PLANNED),
    # Chicago: PTSD with rheumatoid arthritis; her treatment consent has expired.
    CourseCase(38, CHICAGO, Decimal("0.5"), PLANNED),
)


# --- Single visits -------------------------------------------------------------------------

BOOKED = Appointment.Status.BOOKED
COMPLETED = Appointment.Status.COMPLETED
NO_SHOW = Appointment.Status.NO_SHOW
CANCELLED = Appointment.Status.CANCELLED


@dataclass(frozen=True)
class VisitCase:
    """One single visit: ``day`` counts from the seeding day (negative in the past) and is
    the first day tried; a past visit moves back, an upcoming one forward, to a free time.
    ``outcome`` is what became of it."""

    index: int
    site: str
    kind: str
    clinician: str  # username
    day: int
    outcome: str = BOOKED
    reason: str = ""


VISITS: tuple[VisitCase, ...] = (
    # Denver: a behavioral-health patient seen by the therapist, with the next visit booked.
    VisitCase(12, DENVER, Appointment.Kind.BEHAVIORAL_HEALTH, "therapist", -8, COMPLETED),
    VisitCase(12, DENVER, Appointment.Kind.BEHAVIORAL_HEALTH, "therapist", 6),
    # Denver: cognitive behavioural therapy first, as signed on his evaluation.
    VisitCase(14, DENVER, Appointment.Kind.BEHAVIORAL_HEALTH, "therapist", 3),
    # Denver: a new patient missed her evaluation and was rebooked.
    VisitCase(
        6,
        DENVER,
        Appointment.Kind.EVALUATION,
        "director",
        -5,
        NO_SHOW,
        "Did not come; reached by phone, she had the appointment in her diary for the "
        "following week. Rebooked.",
    ),
    VisitCase(6, DENVER, Appointment.Kind.EVALUATION, "director", 0),
    # Denver: not eligible for ketamine (a past brain haemorrhage); a follow-up to go over
    # other treatment.
    VisitCase(13, DENVER, Appointment.Kind.FOLLOW_UP, "prescriber", 2),
    # Chicago: a behavioral-health patient (active alcohol use, referred to addiction
    # medicine) seen by the therapist, with the next visit booked.
    VisitCase(28, CHICAGO, Appointment.Kind.BEHAVIORAL_HEALTH, "therapist2", -6, COMPLETED),
    VisitCase(28, CHICAGO, Appointment.Kind.BEHAVIORAL_HEALTH, "therapist2", 5),
    # Chicago: a new patient's evaluation, at the first free time from today.
    VisitCase(25, CHICAGO, Appointment.Kind.EVALUATION, "director2", 0),
    # Chicago: an evaluation booked, then cancelled by the patient.
    VisitCase(
        27,
        CHICAGO,
        Appointment.Kind.EVALUATION,
        "prescriber2",
        1,
        CANCELLED,
        "Patient cancelled: caring for her mother after a hospital stay; she will call to rebook.",
    ),
    # Today at each site, so the Today page opens on a working day: a visit already seen
    # this morning (when the morning has passed; the evaluations above are the first free
    # times from today).
    VisitCase(12, DENVER, Appointment.Kind.BEHAVIORAL_HEALTH, "therapist", 0, COMPLETED),
    VisitCase(28, CHICAGO, Appointment.Kind.BEHAVIORAL_HEALTH, "therapist2", 0, COMPLETED),
)


# --- Entry points --------------------------------------------------------------------------


def scheduling_present(organization: Organization) -> bool:
    """Whether the organisation has any course or appointment yet."""
    return (
        Course.objects.filter(clinic__organization=organization).exists()
        or Appointment.objects.filter(clinic__organization=organization).exists()
    )


def seed_scheduling(
    *, organization: Organization, clinics: dict[str, Clinic], users: dict[str, User], today: date
) -> int:
    """Approve the demo templates, then order and book the demo courses and visits; returns
    how many templates, holiday closures, courses and appointments were written. A case
    whose patient no longer fits it (no valid evaluation, a refused booking) is skipped."""
    written = approve_demo_protocols(clinics=clinics, users=users)
    if any(abs((local_today(c.time_zone) - today).days) > 1 for c in clinics.values()):
        # Bookings are checked against the real clock; a seed for another day books none.
        return written
    written += ensure_recent_closures(clinics=clinics, today=today)
    patients = list(Patient.objects.filter(organization=organization).order_by("mrn"))
    before = _row_count(organization)
    for case in COURSES:
        if case.index < len(patients):
            _attempt(_course, case, patients[case.index], clinics[case.site], users, today)
    for visit in VISITS:
        if visit.index < len(patients):
            _attempt(_visit, visit, patients[visit.index], clinics[visit.site], users, today)
    return written + _row_count(organization) - before


def _thanksgiving(year: int) -> date:
    """The fourth Thursday of November."""
    first = date(year, 11, 1)
    return first + timedelta(days=(THU - first.weekday()) % 7 + 21)


def ensure_recent_closures(*, clinics: dict[str, Clinic], today: date) -> int:
    """Close each site on the holidays of the last ``RECENT_DAYS`` days, as it was: a new
    site's closures start from its first day, and the demo's past appointments must keep
    off Thanksgiving and Christmas. Returns how many closures were added."""
    added = 0
    for clinic in clinics.values():
        for year in (today.year - 1, today.year):
            thanksgiving = _thanksgiving(year)
            christmas = date(year, 12, 25)
            for start, end, reason in (
                (thanksgiving, thanksgiving + timedelta(days=1), "Thanksgiving"),
                (christmas, christmas, "Christmas Day"),
            ):
                if not today - timedelta(days=RECENT_DAYS) <= start < today:
                    continue
                if Closure.objects.filter(
                    clinic=clinic, start_date__lte=end, end_date__gte=start
                ).exists():
                    continue
                Closure.objects.create(clinic=clinic, start_date=start, end_date=end, reason=reason)
                added += 1
    return added


def _attempt(step: Callable[..., None], *args: Any) -> None:
    """One case in a savepoint: all of it, or nothing when a service refuses it."""
    try:
        with transaction.atomic():
            step(*args)
    except (Conflict, InvalidInput, Forbidden):
        pass


def _row_count(organization: Organization) -> int:
    return (
        Course.objects.filter(clinic__organization=organization).count()
        + Appointment.objects.filter(clinic__organization=organization).count()
    )


# --- One course ----------------------------------------------------------------------------


def _course(
    case: CourseCase, patient: Patient, clinic: Clinic, users: dict[str, User], today: date
) -> None:
    roles = SITE_ROLES[case.site]
    desk = users[roles["desk"]]
    evaluation = (
        Evaluation.objects.filter(patient=patient, clinic=clinic, status=Evaluation.Status.SIGNED)
        .order_by("-signed_at")
        .first()
    )
    if evaluation is None or evaluation.signed_at is None:
        return
    course = course_create(
        user=users[roles["prescriber"]],
        patient=patient,
        clinic=clinic,
        evaluation=evaluation,
        ordered_mg_per_kg=case.mg_per_kg,
    )
    # The service orders now; the prescriber ordered the course an hour after signing the
    # evaluation, days ago, so the order comes before the sessions written in the past.
    course.ordered_at = evaluation.signed_at + timedelta(hours=1)
    Course.objects.filter(pk=course.pk).update(ordered_at=course.ordered_at)
    if case.plan == OFFERED:
        result = slot_proposals(user=desk, course=course, preferences=rules.Preferences())
        proposals_store(course=course, result=result)
    elif case.plan == NEXT_WEEK:
        _book_series(course, desk, next_monday(today), case.weekdays, case.time_from)
    elif case.plan == UNDER_WAY:
        _under_way(case, course, desk, today)
    elif case.plan in (DROPPED_OUT, SERIES_DONE):
        _past_series(case, course, desk, users, today)


def _book_series(
    course: Course,
    desk: User,
    first_date: date,
    weekdays: tuple[int, ...] = (),
    time_from: time | None = None,
) -> list[Appointment]:
    """The front desk asks for proposals and books the first, as the course page does."""
    preferences = rules.Preferences(
        first_date=first_date,
        weekdays=frozenset(weekdays) if weekdays else None,
        time_from=time_from,
    )
    result = slot_proposals(user=desk, course=course, preferences=preferences)
    if not result.proposals:
        return []
    proposals_store(course=course, result=result)
    return course_book(user=desk, course=course, choices=proposal_choices(course=course, index=0))


def _under_way(case: CourseCase, course: Course, desk: User, today: date) -> None:
    """Book the series from tomorrow, then move the first session back to a free time in the
    last few days, done. ``course_book`` books only whole series and refuses the past, so
    the series is booked whole and its first session rewritten; the slot finder (through
    ``replacement_for``) picks a time that keeps the spacing and the window and finds the
    room, nurse and prescriber free. The series stays booked as a whole when no past time
    fits."""
    booked = _book_series(course, desk, today + timedelta(days=1), case.weekdays, case.time_from)
    if not booked:
        return
    zone = ZoneInfo(course.clinic.time_zone)
    first, last = booked[0], booked[-1]
    window_opens = last.starts_at.astimezone(zone).date() - timedelta(
        days=course.protocol.window_days - 1
    )
    # The latest past day first, so the first session is not long before the second, and
    # not before the patient's earliest time of day.
    searched_from = sorted(
        {max(window_opens, today - timedelta(days=n)) for n in UNDER_WAY_DAYS_BACK},
        reverse=True,
    )
    for day in searched_from:
        earliest = datetime.combine(day, case.time_from or time.min, tzinfo=zone)
        slot = replacement_for(appointment=first, now=earliest)
        if slot is not None and slot.end <= timezone.now() and slot.start > course.ordered_at:
            break
    else:
        return
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=slot.start,
        ends_at=slot.end,
        room_id=UUID(slot.room_id),
        nurse_id=UUID(slot.nurse_id),
        prescriber_id=UUID(slot.prescriber_id),
        status=COMPLETED,
        checked_in_at=slot.start - CHECK_IN_BEFORE,
    )
    Course.objects.filter(pk=course.pk).update(status=Course.Status.IN_PROGRESS)


def _past_series(
    case: CourseCase, course: Course, desk: User, users: dict[str, User], today: date
) -> None:
    """A series wholly in the past. The slot finder proposes it as it would have on its
    first day (rooms, shifts, credentials and bookings as they are now), and the sessions
    are written directly because the booking service refuses the past."""
    clinic = course.clinic
    zone = ZoneInfo(clinic.time_zone)
    first_day = today - timedelta(days=case.days_ago)
    result = slot_proposals(
        user=desk,
        course=course,
        preferences=rules.Preferences(first_date=first_day),
        now=datetime.combine(first_day, time.min, tzinfo=zone),
    )
    if not result.proposals:
        return
    sessions = result.proposals[0].sessions
    if sessions[-1].end > timezone.now() or sessions[0].start < course.ordered_at:
        return
    if case.plan == DROPPED_OUT and len(sessions) < 3:
        return
    done = case.plan == SERIES_DONE
    rows = [
        Appointment.objects.create(
            clinic=clinic,
            patient=course.patient,
            kind=Appointment.Kind.SESSION,
            course=course,
            sequence=number,
            starts_at=s.start,
            ends_at=s.end,
            room_id=UUID(s.room_id),
            nurse_id=UUID(s.nurse_id),
            prescriber_id=UUID(s.prescriber_id),
            status=COMPLETED if done or number == 1 else BOOKED,
            checked_in_at=s.start - CHECK_IN_BEFORE if done or number == 1 else None,
            booked_by=desk,
        )
        for number, s in enumerate(sessions, start=1)
    ]
    # Booked when the course was ordered, not today.
    Appointment.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=course.ordered_at)
    prescriber = users[SITE_ROLES[case.site]["prescriber"]]
    if done:
        Course.objects.filter(pk=course.pk).update(status=Course.Status.AWAITING_REASSESSMENT)
        last_day = rows[-1].starts_at.astimezone(zone).date()
        due = last_day + timedelta(days=course.protocol.reassessment_days)
        _book_visit(
            patient=course.patient,
            clinic=clinic,
            desk=desk,
            kind=Appointment.Kind.FOLLOW_UP,
            clinician=prescriber,
            first_day=max(due, today + timedelta(days=1)),
        )
        return
    # Dropped out: the front desk marks the missed session and the cancelled one through
    # the service, which looks for a replacement inside the series window and, the window
    # being over, flags the course for review.
    Course.objects.filter(pk=course.pk).update(status=Course.Status.IN_PROGRESS)
    for row, status, reason in (
        (rows[1], NO_SHOW, case.no_show_reason),
        (rows[2], CANCELLED, case.cancel_reason),
    ):
        appointment_set_status(user=desk, appointment=row, status=status, reason=reason)
    # The prescriber sees him to decide what comes next.
    _book_visit(
        patient=course.patient,
        clinic=clinic,
        desk=desk,
        kind=Appointment.Kind.FOLLOW_UP,
        clinician=prescriber,
        first_day=today + timedelta(days=1),
    )


# --- One single visit ----------------------------------------------------------------------


def _visit(
    case: VisitCase, patient: Patient, clinic: Clinic, users: dict[str, User], today: date
) -> None:
    desk = users[SITE_ROLES[case.site]["desk"]]
    clinician = users[case.clinician]
    first_day = today + timedelta(days=case.day)
    if case.day < 0 or (case.day == 0 and case.outcome == COMPLETED):
        _past_visit(case, patient, clinic, desk, clinician, first_day)
        return
    visit = _book_visit(
        patient=patient,
        clinic=clinic,
        desk=desk,
        kind=case.kind,
        clinician=clinician,
        first_day=first_day,
    )
    if visit is not None and case.outcome == CANCELLED:
        appointment_set_status(user=desk, appointment=visit, status=CANCELLED, reason=case.reason)


def _candidate_starts(
    clinic: Clinic, days: Iterable[date], minutes: int
) -> Iterator[tuple[datetime, datetime]]:
    """Whole-hour starts on each day, in the site's time zone (DST-safe)."""
    zone = ZoneInfo(clinic.time_zone)
    for day in days:
        for hour in VISIT_HOURS:
            start = local_to_utc(day, time(hour), zone)
            yield start, start + timedelta(minutes=minutes)


def _shift_intervals(
    clinic: Clinic, user: User, date_from: date, date_to: date
) -> tuple[tuple[datetime, datetime], ...]:
    """When ``user`` is on site at ``clinic`` between two local dates (UTC intervals)."""
    people = staff_on_site(clinic=clinic, date_from=date_from, date_to=date_to)
    return next((p.intervals for p in people if p.user_id == str(user.id)), ())


def _within(intervals: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    return any(s <= start and end <= e for s, e in intervals)


def _book_visit(
    *,
    patient: Patient,
    clinic: Clinic,
    desk: User,
    kind: str,
    clinician: User,
    first_day: date,
) -> Appointment | None:
    """Book a single visit through the service at the first time, from ``first_day``, when
    the clinician is on shift and the service accepts it; None when none is found within
    ``VISIT_SEARCH_DAYS`` days or ``VISIT_ATTEMPTS`` refusals."""
    minutes = VISIT_MINUTES[Appointment.Kind(kind)]
    rooms = list(Room.objects.filter(clinic=clinic, active=True, kind=Room.Kind.CONSULT))
    days = [first_day + timedelta(days=n) for n in range(VISIT_SEARCH_DAYS)]
    on_site = _shift_intervals(clinic, clinician, days[0], days[-1])
    attempts = 0
    for start, end in _candidate_starts(clinic, days, minutes):
        if not _within(on_site, start, end):
            continue
        for room in rooms:
            if attempts == VISIT_ATTEMPTS:
                return None
            attempts += 1
            try:
                with transaction.atomic():
                    return appointment_book_single(
                        user=desk,
                        patient=patient,
                        clinic=clinic,
                        kind=kind,
                        start=start,
                        minutes=minutes,
                        room_id=room.id,
                        clinician_id=clinician.id,
                    )
            except (Conflict, InvalidInput):
                continue
    return None


def _free(
    clinic: Clinic, patient: Patient, clinician: User, room: Room, start: datetime, end: datetime
) -> bool:
    """Open hours, no closure, and the room, patient and clinician free: the checks
    ``appointment_book_single`` makes, for a time it would refuse as past."""
    zone = ZoneInfo(clinic.time_zone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date()
    if Closure.objects.filter(clinic=clinic, start_date__lte=day, end_date__gte=day).exists():
        return False
    if not OpeningHours.objects.filter(
        clinic=clinic,
        weekday=day.weekday(),
        opens__lte=local_start.time(),
        closes__gte=local_end.time(),
    ).exists():
        return False
    live = Appointment.objects.exclude(status=CANCELLED).filter(
        starts_at__lt=end, ends_at__gt=start
    )
    return not live.filter(
        Q(room=room)
        | Q(patient=patient)
        | Q(clinician=clinician)
        | Q(prescriber=clinician)
        | Q(nurse=clinician)
    ).exists()


def _past_visit(
    case: VisitCase,
    patient: Patient,
    clinic: Clinic,
    desk: User,
    clinician: User,
    first_day: date,
) -> None:
    """A visit in the past, written directly (the service refuses the past) at the latest
    free time on or before ``first_day``; a missed one is then marked through the service."""
    minutes = VISIT_MINUTES[Appointment.Kind(case.kind)]
    rooms = list(Room.objects.filter(clinic=clinic, active=True, kind=Room.Kind.CONSULT))
    now = timezone.now()
    days = [first_day - timedelta(days=n) for n in range(VISIT_SEARCH_DAYS)]
    on_site = _shift_intervals(clinic, clinician, days[-1], days[0])
    for start, end in _candidate_starts(clinic, days, minutes):
        if end > now or not _within(on_site, start, end):
            continue
        room = next((r for r in rooms if _free(clinic, patient, clinician, r, start, end)), None)
        if room is None:
            continue
        visit = Appointment.objects.create(
            clinic=clinic,
            patient=patient,
            kind=case.kind,
            starts_at=start,
            ends_at=end,
            room=room,
            clinician=clinician,
            status=COMPLETED if case.outcome == COMPLETED else BOOKED,
            checked_in_at=start - CHECK_IN_BEFORE if case.outcome == COMPLETED else None,
            booked_by=desk,
        )
        if case.outcome in (NO_SHOW, CANCELLED):
            appointment_set_status(
                user=desk, appointment=visit, status=case.outcome, reason=case.reason
            )
        return
