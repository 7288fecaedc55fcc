"""Series booking: slot proposals for a course, and booking all of a series' sessions in one
transaction or none.

Proposals come from the pure ``rules.find_series`` over the site's opening hours,
closures, treatment rooms, staff on site (shifts with credentials) and live appointments.
Booking re-checks everything under a lock — the signed evaluation's validity, a current
treatment consent, no open safety alert, the template's spacing and window, and that every
room, nurse (within the policy's patients-at-once), prescriber and the patient are free —
because time passes between proposing and booking and two desks may book at once.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import Action, audit
from ketapath.accounts.shifts import CREDENTIAL_ACLS, StaffOnSite, staff_on_site
from ketapath.clinics.models import Clinic, Closure, OpeningHours, Room
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today, rfc3339
from ketapath.observations.selectors import open_alerts_for_patient
from ketapath.patients.models import ConsentKind, Patient
from ketapath.patients.selectors import patient_consent_statuses
from ketapath.scheduling import messaging, rules
from ketapath.scheduling.models import Appointment, Course

HORIZON_DAYS = 60
LIVE = ~Q(status=Appointment.Status.CANCELLED)
PRESCRIBING_ROLES: frozenset[str] = frozenset({Role.PRESCRIBER.value, Role.MEDICAL_DIRECTOR.value})

MESSAGE_BOOK_FORBIDDEN = "Your role does not book appointments at this site."
MESSAGE_NOT_BOOKABLE = "Only a planned course is booked as a series; this one is {status}."
MESSAGE_SESSION_COUNT = "The template has {n} sessions; give exactly {n}."
MESSAGE_CONTINUATION_COUNT = (
    "A continuation course books one session at a time, decided case by case; give exactly 1."
)
MESSAGE_SPACING = (
    "Session {i} starts {hours} h after session {prev}; the template needs at least {need} h."
)
MESSAGE_WINDOW = "Session {i} falls on {day}, after the series window ends on {end}."
MESSAGE_PAST = "Session {i} starts in the past."
MESSAGE_EVALUATION_EXPIRED = (
    "The signed evaluation was valid for starting a course until {until}; a new evaluation "
    "is needed before booking."
)
MESSAGE_CONSENT = "No current ketamine-treatment consent ({state}); record one before booking."
MESSAGE_ALERT = "An open safety alert must be cleared before booking ({count} open)."
MESSAGE_CLOSED = "Session {i} is outside the site's opening hours or on a closure day."
MESSAGE_ROOM = "Session {i}: {room} is not a treatment room at this site."
MESSAGE_ROOM_TAKEN = "Session {i}: {room} is already booked then."
MESSAGE_PATIENT_TAKEN = "Session {i}: the patient already has an appointment then."
MESSAGE_NURSE = (
    "Session {i}: {name} is not a nurse on shift with current credentials for the whole chair time."
)
MESSAGE_NURSE_FULL = (
    "Session {i}: {name} already watches {load} patient(s) then (policy: {capacity})."
)
MESSAGE_PRESCRIBER = (
    "Session {i}: {name} is not a prescriber on site with current credentials for the whole "
    "chair time."
)
MESSAGE_PROPOSAL_GONE = "That proposal no longer exists; ask for proposals again."


@dataclass(frozen=True)
class SessionChoice:
    start: datetime
    room_id: UUID
    nurse_id: UUID
    prescriber_id: UUID


def _local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _staff_facts(people: Iterable[StaffOnSite]) -> list[rules.Staff]:
    facts = []
    for person in people:
        if person.credentials_missing:
            continue
        shifts = tuple(person.intervals)
        if Role.NURSE in person.roles:
            facts.append(
                rules.Staff(
                    person.user_id, person.name, "nurse", shifts, person.credentials_valid_until
                )
            )
        if PRESCRIBING_ROLES & person.roles:
            facts.append(
                rules.Staff(
                    person.user_id,
                    person.name,
                    "prescriber",
                    shifts,
                    person.credentials_valid_until,
                )
            )
    return facts


def _busy(clinic: Clinic, patient: Patient, start: datetime, end: datetime) -> list[rules.Busy]:
    rows = (
        Appointment.objects.filter(LIVE, starts_at__lt=end, ends_at__gt=start)
        .filter(Q(clinic=clinic) | Q(patient=patient))
        .values_list(
            "clinic_id",
            "room_id",
            "nurse_id",
            "prescriber_id",
            "patient_id",
            "kind",
            "starts_at",
            "ends_at",
        )
    )
    busy: list[rules.Busy] = []
    for clinic_id, room_id, nurse_id, prescriber_id, patient_id, kind, s, e in rows:
        if clinic_id == clinic.id:
            busy.append(rules.Busy("room", str(room_id), s, e))
            if nurse_id and kind == Appointment.Kind.SESSION:
                busy.append(rules.Busy("nurse", str(nurse_id), s, e))
            if prescriber_id:
                busy.append(rules.Busy("prescriber", str(prescriber_id), s, e))
        if patient_id == patient.id:
            busy.append(rules.Busy("patient", str(patient_id), s, e))
    return busy


def _site_calendar(clinic: Clinic, first: date, last: date) -> dict[str, Any]:
    """The slot finder's view of a site between two local dates: time zone, opening hours,
    closures, treatment rooms, nurses and prescribers on site, and the nurse ratio."""
    return {
        "time_zone": clinic.time_zone,
        "opening_hours": [
            rules.OpeningHours(h.weekday, h.opens, h.closes)
            for h in OpeningHours.objects.filter(clinic=clinic)
        ],
        "closures": [
            rules.Closure(c.start_date, c.end_date)
            for c in Closure.objects.filter(clinic=clinic, end_date__gte=first)
        ],
        "rooms": [
            rules.Room(str(r.id), r.name)
            for r in Room.objects.filter(clinic=clinic, active=True, kind=Room.Kind.TREATMENT)
        ],
        "staff": _staff_facts(staff_on_site(clinic=clinic, date_from=first, date_to=last)),
        "nurse_capacity": clinic_policy_current(clinic=clinic).nurse_patients_at_once,
    }


def series_spec(course: Course) -> rules.SeriesSpec:
    """What one booking of ``course`` takes: the template's series, or a continuation's
    single session."""
    p = course.protocol
    if course.phase == Course.Phase.CONTINUATION:
        # Further sessions are decided case by case: a continuation books one at a time.
        return rules.SeriesSpec(1, 0, 1, p.chair_minutes)
    return rules.SeriesSpec(p.sessions, p.min_interval_hours, p.window_days, p.chair_minutes)


def slot_proposals(
    *, user: User, course: Course, preferences: rules.Preferences, now: datetime | None = None
) -> rules.SlotResult:
    """The earliest series that fits the course's template, plus two alternatives, or the
    reason none fits."""
    clinic = course.clinic
    if not user.can(Capability.SCHEDULE_WRITE, clinic.id):
        raise Forbidden(MESSAGE_BOOK_FORBIDDEN)
    now = now or timezone.now()
    zone = ZoneInfo(clinic.time_zone)
    first = max(preferences.first_date or local_today(clinic.time_zone), _local_date(now, zone))
    last = first + timedelta(days=HORIZON_DAYS + course.protocol.window_days)
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    return rules.find_series(
        spec=series_spec(course),
        **_site_calendar(clinic, first, last),
        busy=_busy(clinic, course.patient, start, end),
        preferences=preferences,
        now=now,
        patient_id=str(course.patient_id),
        horizon_days=HORIZON_DAYS,
    )


def booking_rechecks(*, course: Course, today: date) -> list[FieldError]:
    """What stops any booking for this course now: the evaluation's validity, a current
    treatment consent, an open safety alert."""
    problems = []
    evaluation = course.evaluation
    if evaluation.valid_until is None or evaluation.valid_until < today:
        problems.append(
            FieldError(
                "evaluation", MESSAGE_EVALUATION_EXPIRED.format(until=evaluation.valid_until)
            )
        )
    consent = next(
        s
        for s in patient_consent_statuses(patient=course.patient)
        if s.kind == ConsentKind.KETAMINE_TREATMENT
    )
    if not consent.is_current:
        problems.append(
            FieldError("consent", MESSAGE_CONSENT.format(state=consent.state_label.lower()))
        )
    alerts = open_alerts_for_patient(course.patient)
    if alerts:
        problems.append(FieldError("safety_alert", MESSAGE_ALERT.format(count=len(alerts))))
    return problems


def _shape_errors(
    course: Course, choices: Sequence[SessionChoice], zone: ZoneInfo, now: datetime
) -> list[FieldError]:
    p = series_spec(course)
    if len(choices) != p.sessions:
        message = (
            MESSAGE_CONTINUATION_COUNT
            if course.phase == Course.Phase.CONTINUATION
            else MESSAGE_SESSION_COUNT.format(n=p.sessions)
        )
        return [FieldError("sessions", message)]
    errors = []
    first_day = _local_date(choices[0].start, zone)
    window_end = rules.window_last_day(first_day, p.window_days)
    for index, choice in enumerate(choices):
        i = index + 1
        field = f"sessions.{index}.start"
        if choice.start < now:
            errors.append(FieldError(field, MESSAGE_PAST.format(i=i)))
        if index:
            elapsed = (choice.start - choices[index - 1].start).total_seconds() / 3600
            if elapsed < p.min_interval_hours:
                errors.append(
                    FieldError(
                        field,
                        MESSAGE_SPACING.format(
                            i=i, prev=i - 1, hours=round(elapsed, 1), need=p.min_interval_hours
                        ),
                    )
                )
        day = _local_date(choice.start, zone)
        if day > window_end:
            errors.append(FieldError(field, MESSAGE_WINDOW.format(i=i, day=day, end=window_end)))
    return errors


def _within(intervals: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    return any(s <= start and end <= e for s, e in intervals)


def _open(clinic: Clinic, start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() != local_end.date():
        return False
    day = local_start.date()
    if Closure.objects.filter(clinic=clinic, start_date__lte=day, end_date__gte=day).exists():
        return False
    return OpeningHours.objects.filter(
        clinic=clinic,
        weekday=day.weekday(),
        opens__lte=local_start.time(),
        closes__gte=local_end.time(),
    ).exists()


def _overlap_count(
    rows: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime
) -> int:
    return sum(1 for s, e in rows if s < end and start < e)


def course_book(
    *, user: User, course: Course, choices: Sequence[SessionChoice]
) -> list[Appointment]:
    """Book every session of the course's series in one transaction, or none: 422 when the
    series breaks the template's spacing or window, 409 naming the clash or the failed
    re-check otherwise."""
    clinic = course.clinic
    if not user.can(Capability.SCHEDULE_WRITE, clinic.id):
        raise Forbidden(MESSAGE_BOOK_FORBIDDEN)
    if course.status != Course.Status.PLANNED:
        message = MESSAGE_NOT_BOOKABLE.format(status=course.get_status_display().lower())
        raise Conflict(message, code="not_bookable", errors=[FieldError("course", message)])
    zone = ZoneInfo(clinic.time_zone)
    now = timezone.now()
    choices = sorted(choices, key=lambda c: c.start)
    shape = _shape_errors(course, choices, zone, now)
    if shape:
        raise InvalidInput(shape[0].rule, errors=shape)
    chair = timedelta(minutes=course.protocol.chair_minutes)
    rechecks = booking_rechecks(course=course, today=local_today(clinic.time_zone))
    if rechecks:
        raise Conflict(rechecks[0].rule, code="recheck_failed", errors=rechecks)
    first_day = _local_date(choices[0].start, zone)
    last_day = _local_date(choices[-1].start, zone)
    people = {
        s.user_id: s for s in staff_on_site(clinic=clinic, date_from=first_day, date_to=last_day)
    }
    capacity = clinic_policy_current(clinic=clinic).nurse_patients_at_once
    rooms = {
        r.id: r for r in Room.objects.filter(clinic=clinic, active=True, kind=Room.Kind.TREATMENT)
    }
    try:
        with transaction.atomic():
            # Serialise bookings that could clash: the rooms, the nurses and the patient.
            list(Room.objects.select_for_update().filter(id__in={c.room_id for c in choices}))
            list(User.objects.select_for_update().filter(id__in={c.nurse_id for c in choices}))
            Patient.objects.select_for_update().filter(pk=course.patient_id).first()
            clashes: list[FieldError] = []
            for index, choice in enumerate(choices):
                clashes.extend(
                    _session_clashes(
                        index=index,
                        choice=choice,
                        end=choice.start + chair,
                        course=course,
                        choices=choices,
                        chair=chair,
                        people=people,
                        rooms=rooms,
                        capacity=capacity,
                        zone=zone,
                    )
                )
            if clashes:
                raise Conflict(clashes[0].rule, code="clash", errors=clashes)
            appointments = Appointment.objects.bulk_create(
                [
                    Appointment(
                        clinic=clinic,
                        patient=course.patient,
                        kind=Appointment.Kind.SESSION,
                        course=course,
                        sequence=index + 1,
                        starts_at=choice.start,
                        ends_at=choice.start + chair,
                        room_id=choice.room_id,
                        nurse_id=choice.nurse_id,
                        prescriber_id=choice.prescriber_id,
                        booked_by=user,
                    )
                    for index, choice in enumerate(choices)
                ]
            )
            course.status = Course.Status.SCHEDULED
            course.flag = ""
            course.save(update_fields=["status", "flag", "updated_at"])
    except IntegrityError as exc:
        # The PostgreSQL exclusion constraint caught an overlap the checks above could not
        # see (a booking committed in between).
        message = "Another booking took one of these times; ask for proposals again."
        raise Conflict(message, code="clash", errors=[FieldError("sessions", message)]) from exc
    audit(
        user=user,
        action=Action.CREATE,
        patient_id=course.patient_id,
        clinic_id=clinic.id,
        object_type="course_booking",
        object_id=course.id,
        detail={"appointments": [str(a.id) for a in appointments]},
    )
    messaging.booking_confirmation(
        patient=course.patient,
        clinic=clinic,
        starts=[a.starts_at for a in appointments],
        user=user,
        about=(messaging.ABOUT_COURSE, course.id),
    )
    messaging.course_messages_sync(course=course, user=user)
    return appointments


def _session_clashes(
    *,
    index: int,
    choice: SessionChoice,
    end: datetime,
    course: Course,
    choices: Sequence[SessionChoice],
    chair: timedelta,
    people: dict[str, StaffOnSite],
    rooms: dict[UUID, Room],
    capacity: int,
    zone: ZoneInfo,
    exclude_id: UUID | None = None,
) -> list[FieldError]:
    i = index + 1
    others = Appointment.objects.filter(LIVE)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    field = f"sessions.{index}"
    found: list[FieldError] = []
    start = choice.start
    if not _open(course.clinic, start, end, zone):
        found.append(FieldError(f"{field}.start", MESSAGE_CLOSED.format(i=i)))
    room = rooms.get(choice.room_id)
    if room is None:
        found.append(FieldError(f"{field}.room", MESSAGE_ROOM.format(i=i, room=choice.room_id)))
    elif others.filter(room=room, starts_at__lt=end, ends_at__gt=start).exists():
        found.append(FieldError(f"{field}.room", MESSAGE_ROOM_TAKEN.format(i=i, room=room.name)))
    if others.filter(patient_id=course.patient_id, starts_at__lt=end, ends_at__gt=start).exists():
        found.append(FieldError(f"{field}.start", MESSAGE_PATIENT_TAKEN.format(i=i)))
    day = _local_date(start, zone)
    nurse = people.get(str(choice.nurse_id))
    if not _staff_ok(nurse, {Role.NURSE}, start, end, day):
        name = nurse.name if nurse else str(choice.nurse_id)
        found.append(FieldError(f"{field}.nurse", MESSAGE_NURSE.format(i=i, name=name)))
    else:
        assert nurse is not None
        booked = others.filter(
            nurse_id=choice.nurse_id,
            kind=Appointment.Kind.SESSION,
            starts_at__lt=end,
            ends_at__gt=start,
        ).values_list("starts_at", "ends_at")
        own = [
            (c.start, c.start + chair)
            for j, c in enumerate(choices)
            if j != index and c.nurse_id == choice.nurse_id
        ]
        load = _overlap_count([*booked, *own], start, end)
        if load >= capacity:
            found.append(
                FieldError(
                    f"{field}.nurse",
                    MESSAGE_NURSE_FULL.format(i=i, name=nurse.name, load=load, capacity=capacity),
                )
            )
    prescriber = people.get(str(choice.prescriber_id))
    if not _staff_ok(prescriber, PRESCRIBING_ROLES, start, end, day):
        name = prescriber.name if prescriber else str(choice.prescriber_id)
        found.append(FieldError(f"{field}.prescriber", MESSAGE_PRESCRIBER.format(i=i, name=name)))
    return found


def _staff_ok(
    person: StaffOnSite | None,
    roles: Iterable[str],
    start: datetime,
    end: datetime,
    day: date,
    *,
    session: bool = True,
) -> bool:
    """On site in one of ``roles`` for the whole time with current credentials. ACLS is
    needed only for a ketamine session (nurse and prescriber); a visit needs the licence."""
    if person is None or not set(roles) & person.roles:
        return False
    missing = [m for m in person.credentials_missing if session or m != CREDENTIAL_ACLS]
    if missing:
        return False
    if person.credentials_valid_until is not None and person.credentials_valid_until < day:
        return False
    return _within(person.intervals, start, end)


def proposals_store(*, course: Course, result: rules.SlotResult) -> list[list[dict[str, str]]]:
    """Keep the proposals just offered on the course, so a booking can name one by index."""
    stored = [
        [
            {
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "room": s.room_id,
                "nurse": s.nurse_id,
                "prescriber": s.prescriber_id,
            }
            for s in proposal.sessions
        ]
        for proposal in result.proposals
    ]
    course.proposals = {"made_at": timezone.now().isoformat(), "proposals": stored}
    course.save(update_fields=["proposals", "updated_at"])
    return stored


def proposals_out(
    *, course: Course, stored: list[list[dict[str, str]]], reason: str | None
) -> dict[str, object]:
    """The stored proposals for the API and pages, with names and site-local times."""
    ids = {s[k] for proposal in stored for s in proposal for k in ("room", "nurse", "prescriber")}
    names = {str(u.id): u.display_name for u in User.objects.filter(id__in=ids)}
    names.update({str(r.id): r.name for r in Room.objects.filter(id__in=ids)})
    tz = course.clinic.time_zone
    return {
        "proposals": [
            {
                "sessions": [
                    {
                        "start": rfc3339(datetime.fromisoformat(s["start"]), tz),
                        "end": rfc3339(datetime.fromisoformat(s["end"]), tz),
                        "room": s["room"],
                        "room_name": names.get(s["room"], ""),
                        "nurse": s["nurse"],
                        "nurse_name": names.get(s["nurse"], ""),
                        "prescriber": s["prescriber"],
                        "prescriber_name": names.get(s["prescriber"], ""),
                    }
                    for s in proposal
                ]
            }
            for proposal in stored
        ],
        "reason": reason,
    }


def proposal_choices(*, course: Course, index: int) -> list[SessionChoice]:
    """The sessions of a proposal offered for this course, by index."""
    proposals = (course.proposals or {}).get("proposals") or []
    if not 0 <= index < len(proposals):
        raise Conflict(
            MESSAGE_PROPOSAL_GONE,
            code="proposal_gone",
            errors=[FieldError("proposal", MESSAGE_PROPOSAL_GONE)],
        )
    return [
        SessionChoice(
            start=datetime.fromisoformat(s["start"]),
            room_id=UUID(s["room"]),
            nurse_id=UUID(s["nurse"]),
            prescriber_id=UUID(s["prescriber"]),
        )
        for s in proposals[index]
    ]


# --- One session of a booked series: status, cancellation, rescheduling ----------------------

MESSAGE_STATUS_FORBIDDEN = "Your role does not change appointments at this site."
MESSAGE_REASON_REQUIRED = "Give the reason."
MESSAGE_STATUS_CHANGE = "An appointment that is {current} cannot become {new}."
MESSAGE_CHECK_IN_DAY = "A patient is checked in on the day of the appointment."
MESSAGE_NO_SHOW_EARLY = "An appointment is a no-show only once its time has come."
MESSAGE_NOT_A_SESSION = "Only a session of a course is rescheduled within its series."
MESSAGE_NO_REPLACEMENT = (
    "Session {i} was {what}; no replacement fits between its neighbours within the series "
    "window (ends {end}). Review the course."
)
ALLOWED = {
    Appointment.Status.BOOKED: {
        Appointment.Status.CHECKED_IN,
        Appointment.Status.NO_SHOW,
        Appointment.Status.CANCELLED,
    },
    Appointment.Status.CHECKED_IN: {Appointment.Status.CANCELLED, Appointment.Status.BOOKED},
    Appointment.Status.NO_SHOW: {Appointment.Status.BOOKED},
}


def _series(appointment: Appointment) -> list[Appointment]:
    assert appointment.course is not None
    return list(
        appointment.course.appointments.filter(LIVE, kind=Appointment.Kind.SESSION)
        .exclude(pk=appointment.pk)
        .order_by("starts_at")
    )


def _bounds(
    appointment: Appointment, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None, date]:
    """Earliest and latest start for a replacement of this session, and the window's last
    local date (anchored to the series' first session)."""
    assert appointment.course is not None
    protocol = appointment.course.protocol
    spacing = timedelta(hours=protocol.min_interval_hours)
    others = _series(appointment)
    before = [a for a in others if a.starts_at < appointment.starts_at]
    after = [a for a in others if a.starts_at > appointment.starts_at]
    first = min([appointment.starts_at, *(a.starts_at for a in others)])
    window_end = rules.window_last_day(_local_date(first, zone), protocol.window_days)
    low = before[-1].starts_at + spacing if before else None
    high = after[0].starts_at - spacing if after else None
    return low, high, window_end


def replacement_for(
    *, appointment: Appointment, now: datetime | None = None
) -> rules.SessionSlot | None:
    """The earliest single session that could replace this one inside its series: at least
    the template's spacing after the session before and before the session after, within
    the series window, with a room, nurse and prescriber free."""
    course = appointment.course
    assert course is not None
    clinic = course.clinic
    zone = ZoneInfo(clinic.time_zone)
    now = now or timezone.now()
    low, high, window_end = _bounds(appointment, zone)
    earliest = max(now, low) if low else now
    first = _local_date(earliest, zone)
    last = window_end
    if first > last:
        return None
    start = datetime.combine(first, datetime.min.time(), zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    busy = [
        b
        for b in _busy(clinic, course.patient, start, end)
        if not (b.start == appointment.starts_at and b.end == appointment.ends_at)
    ]
    result = rules.find_series(
        spec=rules.SeriesSpec(1, 0, 1, course.protocol.chair_minutes),
        **_site_calendar(clinic, first, last),
        busy=busy,
        preferences=rules.Preferences(first_date=first),
        now=earliest,
        patient_id=str(course.patient_id),
        horizon_days=(last - first).days + 1,
        alternatives=2,
    )
    # The time just given up is free again, but the patient could not come then: offer the
    # earliest other time.
    slots = [
        p.sessions[0] for p in result.proposals if p.sessions[0].start != appointment.starts_at
    ]
    if not slots:
        return None
    slot = slots[0]
    if (high is not None and slot.start > high) or _local_date(slot.start, zone) > window_end:
        return None
    return slot


def _flag_or_offer(appointment: Appointment, what: str, zone: ZoneInfo) -> rules.SessionSlot | None:
    course = appointment.course
    assert course is not None
    slot = replacement_for(appointment=appointment)
    if slot is None:
        _, _, window_end = _bounds(appointment, zone)
        course.flag = MESSAGE_NO_REPLACEMENT.format(
            i=appointment.sequence, what=what, end=window_end
        )
        course.save(update_fields=["flag", "updated_at"])
    return slot


def _course_follow_check_in(appointment: Appointment) -> None:
    """A booked series is under way once its patient has checked in for a session; undoing
    the only check-in puts it back to scheduled. (Completing sessions and the reassessment
    move it on from the session notes and the outcomes.)"""
    course = appointment.course
    if course is None or appointment.kind != Appointment.Kind.SESSION:
        return
    started = course.appointments.filter(
        kind=Appointment.Kind.SESSION,
        status__in=[Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED],
    ).exists()
    if started and course.status == Course.Status.SCHEDULED:
        course.status = Course.Status.IN_PROGRESS
    elif not started and course.status == Course.Status.IN_PROGRESS:
        course.status = Course.Status.SCHEDULED
    else:
        return
    course.save(update_fields=["status", "updated_at"])


def appointment_set_status(
    *, user: User, appointment: Appointment, status: str, reason: str = ""
) -> rules.SessionSlot | None:
    """Check in, mark a no-show, cancel (with a reason) or undo. Cancelling a session or
    marking it a no-show answers a replacement inside the series window, or flags the
    course when none fits."""
    if not user.can(Capability.SCHEDULE_WRITE, appointment.clinic_id):
        raise Forbidden(MESSAGE_STATUS_FORBIDDEN)
    reason = (reason or "").strip()
    if status not in ALLOWED.get(Appointment.Status(appointment.status), set()):
        message = MESSAGE_STATUS_CHANGE.format(
            current=appointment.get_status_display().lower(),
            new=Appointment.Status(status).label.lower()
            if status in Appointment.Status.values
            else status,
        )
        raise Conflict(message, code="status", errors=[FieldError("status", message)])
    now = timezone.now()
    zone = ZoneInfo(appointment.clinic.time_zone)
    if status == Appointment.Status.CHECKED_IN and _local_date(
        appointment.starts_at, zone
    ) != _local_date(now, zone):
        raise Conflict(
            MESSAGE_CHECK_IN_DAY, code="status", errors=[FieldError("status", MESSAGE_CHECK_IN_DAY)]
        )
    if status == Appointment.Status.NO_SHOW and appointment.starts_at > now:
        raise Conflict(
            MESSAGE_NO_SHOW_EARLY,
            code="status",
            errors=[FieldError("status", MESSAGE_NO_SHOW_EARLY)],
        )
    if status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW) and not reason:
        raise InvalidInput(
            MESSAGE_REASON_REQUIRED, errors=[FieldError("reason", MESSAGE_REASON_REQUIRED)]
        )
    before = appointment.status
    appointment.status = status
    appointment.status_reason = reason
    appointment.checked_in_at = timezone.now() if status == Appointment.Status.CHECKED_IN else None
    appointment.save(update_fields=["status", "status_reason", "checked_in_at", "updated_at"])
    audit(
        user=user,
        action=Action.UPDATE,
        patient_id=appointment.patient_id,
        clinic_id=appointment.clinic_id,
        object_type="appointment",
        object_id=appointment.id,
        detail={"status": [before, status], "reason": reason},
    )
    _course_follow_check_in(appointment)
    if status == Appointment.Status.CANCELLED:
        messaging.appointment_notice(
            appointment=appointment, kind="appointment_cancelled", user=user
        )
    if appointment.course is not None:
        messaging.course_messages_sync(course=appointment.course, user=user)
    else:
        messaging.visit_messages_sync(appointment=appointment, user=user)
    if appointment.course_id and status in (
        Appointment.Status.CANCELLED,
        Appointment.Status.NO_SHOW,
    ):
        return _flag_or_offer(appointment, Appointment.Status(status).label.lower(), zone)
    return None


def course_bookings_cancel(*, user: User, course: Course, reason: str) -> list[Appointment]:
    """Cancel the sessions of ``course`` still booked, with ``reason``, once a clinician's
    decision has closed the course: each patient is told, and no replacement is offered.
    The caller has checked the decision's own permission and holds the course's lock."""
    appointments = list(
        Appointment.objects.select_related("clinic", "patient")
        .filter(course=course, kind=Appointment.Kind.SESSION, status=Appointment.Status.BOOKED)
        .order_by("starts_at")
    )
    for appointment in appointments:
        appointment.status = Appointment.Status.CANCELLED
        appointment.status_reason = reason
        appointment.save(update_fields=["status", "status_reason", "updated_at"])
        audit(
            user=user,
            action=Action.UPDATE,
            patient_id=appointment.patient_id,
            clinic_id=appointment.clinic_id,
            object_type="appointment",
            object_id=appointment.id,
            detail={"status": [Appointment.Status.BOOKED, appointment.status], "reason": reason},
        )
        messaging.appointment_notice(
            appointment=appointment, kind="appointment_cancelled", user=user
        )
    if appointments:
        messaging.course_messages_sync(course=course, user=user)
    return appointments


def appointment_reschedule(
    *, user: User, appointment: Appointment, choice: SessionChoice
) -> Appointment:
    """Move one session of a series: the new time keeps the template's spacing with its
    neighbours and the series window (422 otherwise), and every resource is free (409)."""
    if not user.can(Capability.SCHEDULE_WRITE, appointment.clinic_id):
        raise Forbidden(MESSAGE_STATUS_FORBIDDEN)
    course = appointment.course
    if course is None or appointment.kind != Appointment.Kind.SESSION:
        raise InvalidInput(
            MESSAGE_NOT_A_SESSION, errors=[FieldError("reschedule", MESSAGE_NOT_A_SESSION)]
        )
    clinic = appointment.clinic
    zone = ZoneInfo(clinic.time_zone)
    low, high, window_end = _bounds(appointment, zone)
    i = appointment.sequence or 0
    errors = []
    if choice.start < timezone.now():
        errors.append(FieldError("reschedule.start", MESSAGE_PAST.format(i=i)))
    need = course.protocol.min_interval_hours
    if (low is not None and choice.start < low) or (high is not None and choice.start > high):
        errors.append(
            FieldError(
                "reschedule.start",
                f"Session {i} must start at least {need} h after the session before it and "
                f"{need} h before the one after it.",
            )
        )
    if _local_date(choice.start, zone) > window_end:
        errors.append(
            FieldError(
                "reschedule.start",
                MESSAGE_WINDOW.format(i=i, day=_local_date(choice.start, zone), end=window_end),
            )
        )
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)
    chair = timedelta(minutes=course.protocol.chair_minutes)
    day = _local_date(choice.start, zone)
    people = {s.user_id: s for s in staff_on_site(clinic=clinic, date_from=day, date_to=day)}
    rooms = {
        r.id: r for r in Room.objects.filter(clinic=clinic, active=True, kind=Room.Kind.TREATMENT)
    }
    capacity = clinic_policy_current(clinic=clinic).nurse_patients_at_once
    before = (appointment.starts_at.isoformat(), str(appointment.room_id))
    try:
        with transaction.atomic():
            Room.objects.select_for_update().filter(id=choice.room_id).first()
            User.objects.select_for_update().filter(id=choice.nurse_id).first()
            clashes = _session_clashes(
                index=i - 1,
                choice=choice,
                end=choice.start + chair,
                course=course,
                choices=[],  # no other new session of this booking shares the nurse
                chair=chair,
                people=people,
                rooms=rooms,
                capacity=capacity,
                zone=zone,
                exclude_id=appointment.pk,
            )
            if clashes:
                raise Conflict(clashes[0].rule, code="clash", errors=clashes)
            if appointment.status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW):
                # A missed or cancelled session keeps its record; the replacement is a new
                # appointment with the same place in the series.
                appointment = Appointment(
                    clinic=clinic,
                    patient_id=appointment.patient_id,
                    kind=appointment.kind,
                    course=course,
                    sequence=appointment.sequence,
                    booked_by=user,
                )
            appointment.starts_at = choice.start
            appointment.ends_at = choice.start + chair
            appointment.room_id = choice.room_id
            appointment.nurse_id = choice.nurse_id
            appointment.prescriber_id = choice.prescriber_id
            appointment.status = Appointment.Status.BOOKED
            appointment.status_reason = ""
            appointment.save()
            if course.flag:
                course.flag = ""
                course.save(update_fields=["flag", "updated_at"])
    except IntegrityError as exc:
        message = "Another booking took that time; choose another."
        raise Conflict(message, code="clash", errors=[FieldError("reschedule", message)]) from exc
    audit(
        user=user,
        action=Action.UPDATE,
        patient_id=appointment.patient_id,
        clinic_id=clinic.id,
        object_type="appointment",
        object_id=appointment.id,
        detail={"rescheduled_from": before, "to": [choice.start.isoformat(), str(choice.room_id)]},
    )
    was = datetime.fromisoformat(before[0])
    if was != appointment.starts_at:
        messaging.appointment_notice(
            appointment=appointment, kind="appointment_moved", user=user, was=was
        )
    messaging.course_messages_sync(course=course, user=user)
    return appointment


MESSAGE_SINGLE_KIND = (
    "Book sessions through the course; choose evaluation, follow_up or behavioral_health."
)
MESSAGE_CLINICIAN = "{name} does not work at this site as a clinician who can see this visit."
MESSAGE_CLINICIAN_TAKEN = "{name} already has an appointment then."
SINGLE_KINDS = (
    Appointment.Kind.EVALUATION,
    Appointment.Kind.FOLLOW_UP,
    Appointment.Kind.BEHAVIORAL_HEALTH,
)
# Who may see each kind of single visit (roles at the site).
CLINICIAN_ROLES = {
    Appointment.Kind.EVALUATION: {Role.PRESCRIBER.value, Role.MEDICAL_DIRECTOR.value},
    Appointment.Kind.FOLLOW_UP: {
        Role.PRESCRIBER.value,
        Role.MEDICAL_DIRECTOR.value,
        Role.NURSE.value,
    },
    Appointment.Kind.BEHAVIORAL_HEALTH: {Role.THERAPIST.value},
}


def appointment_book_single(
    *,
    user: User,
    patient: Patient,
    clinic: Clinic,
    kind: str,
    start: datetime,
    minutes: int,
    room_id: UUID,
    clinician_id: UUID,
) -> Appointment:
    """Book one evaluation, follow-up or behavioral-health visit: the room and the
    clinician free, inside opening hours, the clinician on site in a fitting role."""
    if not user.can(Capability.SCHEDULE_WRITE, clinic.id):
        raise Forbidden(MESSAGE_BOOK_FORBIDDEN)
    if kind not in SINGLE_KINDS:
        raise InvalidInput(MESSAGE_SINGLE_KIND, errors=[FieldError("kind", MESSAGE_SINGLE_KIND)])
    zone = ZoneInfo(clinic.time_zone)
    end = start + timedelta(minutes=minutes)
    errors: list[FieldError] = []
    if start < timezone.now():
        errors.append(FieldError("start", MESSAGE_PAST.format(i=1)))
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)
    day = _local_date(start, zone)
    people = {s.user_id: s for s in staff_on_site(clinic=clinic, date_from=day, date_to=day)}
    clinician = people.get(str(clinician_id))
    room = Room.objects.filter(clinic=clinic, active=True, id=room_id).first()
    with transaction.atomic():
        Room.objects.select_for_update().filter(id=room_id).first()
        User.objects.select_for_update().filter(id=clinician_id).first()
        clashes: list[FieldError] = []
        if not _open(clinic, start, end, zone):
            clashes.append(FieldError("start", MESSAGE_CLOSED.format(i=1)))
        if room is None:
            clashes.append(FieldError("room", MESSAGE_ROOM.format(i=1, room=room_id)))
        elif Appointment.objects.filter(
            LIVE, room=room, starts_at__lt=end, ends_at__gt=start
        ).exists():
            clashes.append(FieldError("room", MESSAGE_ROOM_TAKEN.format(i=1, room=room.name)))
        if Appointment.objects.filter(
            LIVE, patient=patient, starts_at__lt=end, ends_at__gt=start
        ).exists():
            clashes.append(FieldError("start", MESSAGE_PATIENT_TAKEN.format(i=1)))
        if not _staff_ok(
            clinician, CLINICIAN_ROLES[Appointment.Kind(kind)], start, end, day, session=False
        ):
            named = User.objects.filter(id=clinician_id).first()
            name = clinician.name if clinician else (named.display_name if named else "This person")
            clashes.append(FieldError("clinician", MESSAGE_CLINICIAN.format(name=name)))
        elif Appointment.objects.filter(
            Q(clinician_id=clinician_id) | Q(prescriber_id=clinician_id) | Q(nurse_id=clinician_id),
            LIVE,
            starts_at__lt=end,
            ends_at__gt=start,
        ).exists():
            assert clinician is not None
            clashes.append(
                FieldError("clinician", MESSAGE_CLINICIAN_TAKEN.format(name=clinician.name))
            )
        if clashes:
            raise Conflict(clashes[0].rule, code="clash", errors=clashes)
        assert room is not None
        appointment = Appointment.objects.create(
            clinic=clinic,
            patient=patient,
            kind=kind,
            starts_at=start,
            ends_at=end,
            room=room,
            clinician_id=clinician_id,
            booked_by=user,
        )
    audit(
        user=user,
        action=Action.CREATE,
        patient_id=patient.id,
        clinic_id=clinic.id,
        object_type="appointment",
        object_id=appointment.id,
        detail={"kind": kind},
    )
    messaging.booking_confirmation(
        patient=patient,
        clinic=clinic,
        starts=[appointment.starts_at],
        user=user,
        about=(messaging.ABOUT_APPOINTMENT, appointment.id),
    )
    messaging.visit_messages_sync(appointment=appointment, user=user)
    return appointment
