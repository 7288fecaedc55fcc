"""Scheduling pages: the site's day and week calendars (by room or by staff member), a
patient's appointments with check-in, no-show and cancel-with-reason, single visits, the
course page with its series, window and what blocks booking, finding slots and booking a
series, the replacement for a cancelled session, and ordering a course.

The views are thin: the services and selectors of this app do the work, and their field
errors are shown beside the fields. Reading needs PATIENT_READ at the site, booking and
changing appointments SCHEDULE_WRITE, ordering a course COURSE_ORDER (DESIGN §10). Times
are the site's local times with the zone shown (DESIGN §5 item 9, §11).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import Action, audit
from ketapath.accounts.shifts import staff_on_site
from ketapath.accounts.staff_selectors import staff_with_roles
from ketapath.clinics.models import Clinic, Closure, OpeningHours, Room
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Conflict, FieldError, Forbidden, NotFound
from ketapath.core.exposure import exposure_for
from ketapath.core.forms import apply_errors, safe_next
from ketapath.core.pagination import clamp_page, paginate
from ketapath.core.timeutils import local_today
from ketapath.evaluations.models import Evaluation
from ketapath.evaluations.selectors import evaluations_for_patient
from ketapath.patients.models import Pathway, Patient
from ketapath.patients.selectors import patient_site_for_page
from ketapath.patients.views import patient_for_request
from ketapath.protocols.models import ProtocolTemplate
from ketapath.scheduling import booking, rules, selectors, services
from ketapath.scheduling.forms import (
    CourseOrderForm,
    ProposalForm,
    ReplacementForm,
    SingleVisitForm,
    SlotSearchForm,
    StatusReasonForm,
)
from ketapath.scheduling.models import Appointment, Course

MESSAGE_NO_SITE = "You are not a member of any active site."
MESSAGE_CALENDAR_FORBIDDEN = "Your role at this site does not show its calendar."
MESSAGE_CHECKED_IN = "{name} is checked in."
MESSAGE_BACK_TO_BOOKED = "{name}'s appointment is booked again."
MESSAGE_CANCELLED = "The appointment is cancelled."
MESSAGE_NO_SHOW = "The appointment is marked as a no-show."
MESSAGE_VISIT_BOOKED = "{kind} booked for {when}."
MESSAGE_SERIES_BOOKED = "All {n} sessions are booked; the course is scheduled."
MESSAGE_ORDERED = "Course ordered: {protocol}, {dose} mg/kg. Find slots below to book the series."
MESSAGE_REPLACED = "Session {i} is booked again for {when}."
MESSAGE_NOT_REPLACEABLE = "Only a cancelled or missed session of a course is replaced here."
MESSAGE_ALREADY_REPLACED = "Session {i} already has a new booking."
MESSAGE_TEMPLATE_NOT_APPROVED = (
    "The course's template ({name} v{version}) is not approved; the medical director "
    "approves it under Protocols."
)
MESSAGE_PROPOSAL_PAST = "A session of this proposal has already passed; find slots again."
MESSAGE_NO_REPLACEMENT_FOUND = (
    "No replacement fits between the other sessions within the series window. Review the "
    "course with the prescriber."
)
SESSION_LABEL = "Session {i} of {n}"
CONTINUATION_SESSION_LABEL = "Continuation session"

SLOT_MINUTES = 15
DAY_MINUTES = 24 * 60
EVALUATIONS_OFFERED = 10

# Status by word and shape as well as colour (DESIGN §11): the shape comes from the class.
STATUS_BADGES: dict[str, str] = {
    Appointment.Status.BOOKED: "badge-neutral st-booked",
    Appointment.Status.CHECKED_IN: "badge-info st-checked-in",
    Appointment.Status.COMPLETED: "badge-ok",
    Appointment.Status.NO_SHOW: "badge-warn st-no-show",
    Appointment.Status.CANCELLED: "badge-neutral st-cancelled",
}
COURSE_BADGES: dict[str, str] = {
    Course.Status.PLANNED: "badge-warn",
    Course.Status.SCHEDULED: "badge-info",
    Course.Status.IN_PROGRESS: "badge-info",
    Course.Status.AWAITING_REASSESSMENT: "badge-warn",
    Course.Status.CONTINUED: "badge-ok",
    Course.Status.STOPPED: "badge-danger",
    Course.Status.COMPLETED: "badge-ok",
}
ROLE_LABELS = dict(Role.choices)
# Who has a column in the calendar by staff member, in this order.
CALENDAR_ROLES: tuple[str, ...] = (
    Role.PRESCRIBER,
    Role.MEDICAL_DIRECTOR,
    Role.NURSE,
    Role.THERAPIST,
)
VISIT_ROLES = frozenset(role for roles in booking.CLINICIAN_ROLES.values() for role in roles)
LIVE_SESSION_STATUSES = (
    Appointment.Status.BOOKED,
    Appointment.Status.CHECKED_IN,
    Appointment.Status.COMPLETED,
)
REPLACEABLE_STATUSES = (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


# --- Display values -------------------------------------------------------------------


@dataclass(frozen=True)
class ApptView:
    """An appointment as the pages show it: site-local times, what it is, its status."""

    appointment: Appointment
    start: datetime
    end: datetime
    kind_label: str
    status_label: str
    status_class: str
    staff: tuple[tuple[str, str], ...]  # (role word, name)

    @property
    def is_live(self) -> bool:
        return self.appointment.status != Appointment.Status.CANCELLED


def appt_view(appointment: Appointment, zone: ZoneInfo) -> ApptView:
    a = appointment
    if a.kind == Appointment.Kind.SESSION and a.course is not None:
        if a.course.phase == Course.Phase.CONTINUATION:
            kind = CONTINUATION_SESSION_LABEL
        else:
            kind = SESSION_LABEL.format(i=a.sequence, n=a.course.protocol.sessions)
    else:
        kind = a.get_kind_display()
    staff = tuple(
        (word, person.display_name)
        for word, person in (
            ("Nurse", a.nurse),
            ("Prescriber", a.prescriber),
            ("Clinician", a.clinician),
        )
        if person is not None
    )
    return ApptView(
        appointment=a,
        start=a.starts_at.astimezone(zone),
        end=a.ends_at.astimezone(zone),
        kind_label=kind,
        status_label=a.get_status_display(),
        status_class=STATUS_BADGES.get(a.status, "badge-neutral"),
        staff=staff,
    )


def zone_label(tz: str, days: Sequence[date]) -> str:
    """The zone as staff read it: "America/Denver (MST)", or "(MST/MDT)" across a change."""
    zone = ZoneInfo(tz)
    names: list[str] = []
    for day in days:
        name = datetime.combine(day, time(12), zone).tzname() or ""
        if name and name not in names:
            names.append(name)
    return f"{tz} ({'/'.join(names)})" if names else tz


# --- The day grid: a pure layout over plain values ---------------------------------------


@dataclass(frozen=True)
class Column:
    """A room or a person; ``open_minutes`` are the local (start, end) minutes after
    midnight when the room's site is open or the person is on site."""

    key: str
    label: str
    detail: str
    open_minutes: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Placement:
    column: str
    start_minute: int
    end_minute: int
    item: Any


@dataclass(frozen=True)
class GridCell:
    item: Any = None
    rowspan: int = 1
    off: bool = False  # an empty slot outside opening hours or the person's shift
    lane_start: bool = True  # the first lane of its column


@dataclass(frozen=True)
class GridRow:
    label: str
    on_hour: bool
    cells: tuple[GridCell, ...]


@dataclass(frozen=True)
class DayGrid:
    headers: tuple[tuple[Column, int], ...]  # each column with its number of lanes
    rows: tuple[GridRow, ...]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def day_grid(
    *,
    columns: Sequence[Column],
    placements: Iterable[Placement],
    first_minute: int,
    last_minute: int,
    slot_minutes: int = SLOT_MINUTES,
) -> DayGrid:
    """A table of one day: a row per slot from ``first_minute`` to ``last_minute`` (local
    minutes after midnight), a column per room or person, split into lanes where its
    appointments overlap. Each appointment is one cell spanning the slots it touches;
    placements in no listed column are left out."""
    count = max(1, _ceil_div(last_minute - first_minute, slot_minutes))
    by_column: dict[str, list[tuple[int, int, Any]]] = defaultdict(list)
    for p in placements:
        start = max(0, (p.start_minute - first_minute) // slot_minutes)
        end = min(count, _ceil_div(p.end_minute - first_minute, slot_minutes))
        if start >= count or p.end_minute <= first_minute:
            continue
        by_column[p.column].append((start, max(end, start + 1), p.item))
    starts: dict[tuple[str, int, int], tuple[Any, int]] = {}
    covered: set[tuple[str, int, int]] = set()
    lanes: dict[str, int] = {}
    for column in columns:
        lane_ends: list[int] = []
        for start, end, item in sorted(by_column[column.key], key=lambda t: (t[0], -t[1])):
            lane = next((i for i, e in enumerate(lane_ends) if e <= start), len(lane_ends))
            if lane == len(lane_ends):
                lane_ends.append(end)
            else:
                lane_ends[lane] = end
            starts[(column.key, lane, start)] = (item, end - start)
            covered.update((column.key, lane, r) for r in range(start + 1, end))
        lanes[column.key] = max(1, len(lane_ends))
    rows = []
    for r in range(count):
        minute = first_minute + r * slot_minutes
        cells: list[GridCell] = []
        for column in columns:
            is_open = any(
                a <= minute and minute + slot_minutes <= b for a, b in column.open_minutes
            )
            for lane in range(lanes[column.key]):
                key = (column.key, lane, r)
                if key in starts:
                    item, span = starts[key]
                    cells.append(GridCell(item=item, rowspan=span, lane_start=lane == 0))
                elif key not in covered:
                    cells.append(GridCell(off=not is_open, lane_start=lane == 0))
        rows.append(
            GridRow(
                label=f"{minute // 60:02d}:{minute % 60:02d}",
                on_hour=minute % 60 == 0,
                cells=tuple(cells),
            )
        )
    return DayGrid(headers=tuple((c, lanes[c.key]) for c in columns), rows=tuple(rows))


def _minute_of(moment: datetime, day: date, zone: ZoneInfo) -> int:
    """Local minutes after ``day``'s midnight, clamped to the day."""
    local = moment.astimezone(zone)
    if local.date() < day:
        return 0
    if local.date() > day:
        return DAY_MINUTES
    return local.hour * 60 + local.minute


def _wall_minutes(value: time) -> int:
    return value.hour * 60 + value.minute


# --- Calendar reads ---------------------------------------------------------------------


def _calendar_site(request: HttpRequest) -> Clinic:
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    user = _user(request)
    if not (
        user.can(Capability.PATIENT_READ, clinic.id)
        or user.can(Capability.SCHEDULE_WRITE, clinic.id)
    ):
        raise PermissionDenied(MESSAGE_CALENDAR_FORBIDDEN)
    return clinic


def _date_param(raw: str | None, today: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else today
    except ValueError:
        return today


def _by_param(raw: str | None) -> str:
    return "staff" if raw == "staff" else "room"


def _site_appointments(
    user: User, clinic: Clinic, date_from: date, date_to: date
) -> list[Appointment]:
    """The site's appointments on these local dates, with everything the calendar shows
    loaded in the same query."""
    return list(
        selectors.appointments_for_user(
            user=user, clinic_id=clinic.id, date_from=date_from, date_to=date_to
        ).select_related("course__protocol")
    )


def _column_keys(appointment: Appointment, by: str) -> list[str]:
    if by == "room":
        return [str(appointment.room_id)]
    ids = (appointment.nurse_id, appointment.prescriber_id, appointment.clinician_id)
    return list(dict.fromkeys(str(i) for i in ids if i is not None))


def _room_columns(
    clinic: Clinic, appointments: Sequence[Appointment], open_minutes: tuple[tuple[int, int], ...]
) -> list[Column]:
    """The site's active rooms, treatment rooms first, and any inactive room still booked."""
    used = {a.room_id for a in appointments}
    rooms = Room.objects.filter(clinic=clinic).order_by("-kind", "name")
    return [
        Column(
            key=str(room.id),
            label=room.name,
            detail=room.get_kind_display() + ("" if room.active else " (inactive)"),
            open_minutes=open_minutes,
        )
        for room in rooms
        if room.active or room.id in used
    ]


def _staff_columns(
    clinic: Clinic,
    date_from: date,
    date_to: date,
    appointments: Sequence[Appointment],
    zone: ZoneInfo,
    closed: bool,
) -> list[Column]:
    """Clinicians on site over the dates (prescribers and the medical director, nurses,
    therapists), and anyone booked who is not on a shift then."""
    columns: list[tuple[int, Column]] = []
    seen: set[str] = set()
    for person in staff_on_site(clinic=clinic, date_from=date_from, date_to=date_to):
        roles = [role for role in CALENDAR_ROLES if role in person.roles]
        if not roles:
            continue
        minutes = (
            ()
            if closed
            else tuple(
                (_minute_of(s, date_from, zone), _minute_of(e, date_from, zone))
                for s, e in person.intervals
            )
        )
        seen.add(person.user_id)
        columns.append(
            (
                CALENDAR_ROLES.index(roles[0]),
                Column(
                    key=person.user_id,
                    label=person.name,
                    detail=", ".join(ROLE_LABELS[role] for role in roles),
                    open_minutes=minutes,
                ),
            )
        )
    extra: dict[str, User] = {}
    for a in appointments:
        for booked in (a.nurse, a.prescriber, a.clinician):
            if booked is not None and str(booked.id) not in seen:
                extra[str(booked.id)] = booked
    for key, member in sorted(extra.items(), key=lambda kv: kv[1].display_name.lower()):
        columns.append(
            (len(CALENDAR_ROLES), Column(key=key, label=member.display_name, detail="Not on shift"))
        )
    return [column for _, column in sorted(columns, key=lambda t: t[0])]


def _opening(
    clinic: Clinic, days: Sequence[date]
) -> tuple[dict[int, list[OpeningHours]], dict[date, Closure]]:
    hours: dict[int, list[OpeningHours]] = defaultdict(list)
    for row in OpeningHours.objects.filter(clinic=clinic).order_by("opens"):
        hours[row.weekday].append(row)
    closures: dict[date, Closure] = {}
    for closure in Closure.objects.filter(
        clinic=clinic, start_date__lte=days[-1], end_date__gte=days[0]
    ):
        for day in days:
            if closure.start_date <= day <= closure.end_date:
                closures.setdefault(day, closure)
    return hours, closures


def _calendar_audit(
    user: User, clinic: Clinic, page: str, day: date, rows: list[Appointment]
) -> None:
    audit(
        user=user,
        action=Action.READ,
        clinic_id=clinic.id,
        object_type="appointment",
        detail={
            "page": page,
            "date": day.isoformat(),
            "patients": sorted({str(a.patient_id) for a in rows}),
        },
    )


@login_required
@require_GET
def calendar_day(request: HttpRequest) -> HttpResponse:
    """One day at the current site: a column per room (or per clinician), a row every 15
    minutes across the opening hours, each appointment a block."""
    clinic = _calendar_site(request)
    user = _user(request)
    zone = ZoneInfo(clinic.time_zone)
    today = local_today(clinic.time_zone)
    day = _date_param(request.GET.get("date"), today)
    by = _by_param(request.GET.get("by"))
    rows = _site_appointments(user, clinic, day, day)
    live = [a for a in rows if a.status != Appointment.Status.CANCELLED]
    views = {a.id: appt_view(a, zone) for a in rows}
    hours, closures = _opening(clinic, [day])
    closure = closures.get(day)
    opening = [] if closure else hours.get(day.weekday(), [])
    open_minutes = tuple((_wall_minutes(h.opens), _wall_minutes(h.closes)) for h in opening)
    if by == "staff":
        columns = _staff_columns(clinic, day, day, live, zone, closed=closure is not None)
    else:
        columns = _room_columns(clinic, live, open_minutes)
    placements = [
        Placement(
            key,
            _minute_of(a.starts_at, day, zone),
            _minute_of(a.ends_at, day, zone),
            views[a.id],
        )
        for a in live
        for key in _column_keys(a, by)
    ]
    bounds = [m for pair in open_minutes for m in pair] + [
        m for p in placements for m in (p.start_minute, p.end_minute)
    ]
    grid = None
    if bounds and columns:
        first = min(bounds) // 60 * 60
        last = min(DAY_MINUTES, _ceil_div(max(bounds), 60) * 60)
        grid = day_grid(
            columns=columns, placements=placements, first_minute=first, last_minute=last
        )
    _calendar_audit(user, clinic, "calendar_day", day, rows)
    here = request.get_full_path()
    return render(
        request,
        "scheduling/calendar_day.html",
        {
            "clinic": clinic,
            "day": day,
            "today": today,
            "by": by,
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "grid": grid,
            "appointment_count": len(live),
            "cancelled": [views[a.id] for a in rows if a.status == Appointment.Status.CANCELLED],
            "closure": closure,
            "opening": opening,
            "zone": zone_label(clinic.time_zone, [day]),
            "can_write": user.can(Capability.SCHEDULE_WRITE, clinic.id),
            "here": here,
            "week_query": urlencode({"date": day.isoformat(), "by": by}),
        },
    )


@dataclass(frozen=True)
class WeekRow:
    column: Column
    days: tuple[tuple[ApptView, ...], ...]


@login_required
@require_GET
def calendar_week(request: HttpRequest) -> HttpResponse:
    """A week at the current site: a row per room (or clinician), a column per day, each
    cell listing its appointments in order."""
    clinic = _calendar_site(request)
    user = _user(request)
    zone = ZoneInfo(clinic.time_zone)
    today = local_today(clinic.time_zone)
    picked = _date_param(request.GET.get("date"), today)
    by = _by_param(request.GET.get("by"))
    monday = picked - timedelta(days=picked.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    rows = _site_appointments(user, clinic, days[0], days[-1])
    live = [a for a in rows if a.status != Appointment.Status.CANCELLED]
    hours, closures = _opening(clinic, days)
    if by == "staff":
        columns = _staff_columns(clinic, days[0], days[-1], live, zone, closed=False)
    else:
        columns = _room_columns(clinic, live, ())
    cells: dict[tuple[str, date], list[ApptView]] = defaultdict(list)
    for a in live:
        view = appt_view(a, zone)
        for key in _column_keys(a, by):
            cells[(key, view.start.date())].append(view)
    week_rows = [
        WeekRow(column=c, days=tuple(tuple(cells[(c.key, d)]) for d in days)) for c in columns
    ]
    headers = [
        {
            "day": d,
            "is_today": d == today,
            "closed": closures[d].reason
            if d in closures
            else ("" if hours.get(d.weekday()) else "Closed"),
            "count": sum(1 for a in live if a.starts_at.astimezone(zone).date() == d),
        }
        for d in days
    ]
    _calendar_audit(user, clinic, "calendar_week", monday, rows)
    return render(
        request,
        "scheduling/calendar_week.html",
        {
            "clinic": clinic,
            "by": by,
            "monday": monday,
            "sunday": days[-1],
            "headers": headers,
            "rows": week_rows,
            "today": today,
            "this_week": today - timedelta(days=today.weekday()),
            "previous": monday - timedelta(days=7),
            "next": monday + timedelta(days=7),
            "zone": zone_label(clinic.time_zone, days),
            "appointment_count": len(live),
        },
    )


# --- A patient's appointments -----------------------------------------------------------


@dataclass(frozen=True)
class AppointmentRow:
    view: ApptView
    past: bool
    can_write: bool
    replaceable: bool
    is_today: bool  # on today's date at its site: it can be checked in
    started: bool  # its start has passed: it can be marked a no-show


def _with_names(exc: ApplicationError, names: dict[str, str]) -> ApplicationError:
    """The service's errors with any raw id of the chosen room or clinician replaced by the
    name the form showed."""

    def named(text: str) -> str:
        for key, name in names.items():
            text = text.replace(key, name)
        return text

    return ApplicationError(
        named(exc.message), errors=[FieldError(e.field, named(e.rule)) for e in exc.errors]
    )


def _room_choices(clinic: Clinic) -> list[tuple[str, str]]:
    return [
        (str(room.id), f"{room.name} ({room.get_kind_display().lower()})")
        for room in Room.objects.filter(clinic=clinic, active=True).order_by("kind", "name")
    ]


def _clinician_choices(clinic: Clinic) -> list[tuple[str, str]]:
    """The site's staff who can see a single visit, as "Name — Role"."""
    return [
        (
            str(person.id),
            f"{person.display_name} — " + ", ".join(ROLE_LABELS.get(role, role) for role in roles),
        )
        for person, roles in staff_with_roles(clinic_id=clinic.id, roles=VISIT_ROLES)
    ]


def _patient_appointments(user: User, patient: Patient) -> QuerySet[Appointment]:
    """Current and upcoming appointments first (soonest first), then past ones (latest
    first)."""
    now = timezone.now()
    return (
        selectors.appointments_for_user(user=user, patient_id=patient.id)
        .select_related("course__protocol")
        .annotate(
            past=Case(
                When(ends_at__lte=now, then=Value(1)), default=Value(0), output_field=IntegerField()
            ),
            upcoming_at=Case(When(ends_at__gt=now, then=F("starts_at"))),
            past_at=Case(When(ends_at__lte=now, then=F("starts_at"))),
        )
        .order_by(
            "past",
            F("upcoming_at").asc(nulls_last=True),
            F("past_at").desc(nulls_last=True),
        )
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_appointments(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = patient_for_request(request, patient_id)
    user = _user(request)
    site = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    zone = ZoneInfo(site.time_zone)
    can_book = user.can(Capability.SCHEDULE_WRITE, site.id)
    form = None
    if can_book:
        form = SingleVisitForm(
            request.POST if request.method == "POST" else None,
            rooms=_room_choices(site),
            clinicians=_clinician_choices(site),
            initial={"day": local_today(site.time_zone)},
        )
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(booking.MESSAGE_BOOK_FORBIDDEN)
        if form.is_valid():
            data = form.cleaned_data
            start = datetime.combine(data["day"], data["start"], tzinfo=zone)
            try:
                visit = booking.appointment_book_single(
                    user=user,
                    patient=patient,
                    clinic=site,
                    kind=data["kind"],
                    start=start,
                    minutes=data["minutes"],
                    room_id=UUID(data["room"]),
                    clinician_id=UUID(data["clinician"]),
                )
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                shown = {
                    **dict(_room_choices(site)),
                    **{k: v.split(" — ")[0] for k, v in _clinician_choices(site)},
                }
                chosen = {data["room"], data["clinician"]}
                apply_errors(form, _with_names(exc, {k: shown[k] for k in chosen if k in shown}))
            else:
                messages.success(
                    request,
                    MESSAGE_VISIT_BOOKED.format(
                        kind=visit.get_kind_display(),
                        when=f"{start:%a %-d %b %Y %H:%M} {start.tzname()}",
                    ),
                )
                return redirect("scheduling:patient_appointments", patient_id=patient.id)
    number, size = clamp_page(request.GET.get("page"))
    page = paginate(_patient_appointments(user, patient), number, size)
    rebooked = set(
        Appointment.objects.filter(
            patient=patient, kind=Appointment.Kind.SESSION, status__in=LIVE_SESSION_STATUSES
        ).values_list("course_id", "sequence")
    )
    rows = []
    now = timezone.now()
    for a in page.items:
        view = appt_view(a, ZoneInfo(a.clinic.time_zone))
        rows.append(
            AppointmentRow(
                view=view,
                past=bool(a.past),
                can_write=user.can(Capability.SCHEDULE_WRITE, a.clinic_id),
                replaceable=a.kind == Appointment.Kind.SESSION
                and a.status in REPLACEABLE_STATUSES
                and a.course is not None
                and a.course.status in services.OPEN_STATUSES
                and (a.course_id, a.sequence) not in rebooked,
                is_today=view.start.date() == local_today(a.clinic.time_zone),
                started=a.starts_at <= now,
            )
        )
    if request.method == "GET":
        audit(
            user=user,
            action=Action.READ,
            patient_id=patient.id,
            clinic_id=site.id,
            object_type="appointment",
            detail={"page": "patient_appointments"},
        )
    return render(
        request,
        "scheduling/patient_appointments.html",
        {
            "patient": patient,
            "site": site,
            "page": page,
            "rows": rows,
            "form": form,
            "zone": zone_label(site.time_zone, [local_today(site.time_zone)]),
            "querystring": "",
            "here": request.get_full_path(),
            "can_order": user.can(Capability.COURSE_ORDER, site.id),
        },
    )


# --- One appointment: check in, undo, cancel, no-show, replacement ------------------------


def _appointment(request: HttpRequest, appointment_id: UUID) -> Appointment:
    """The appointment for a change: 404 outside the user's sites, 403 for the role."""
    try:
        appointment = selectors.appointment_get_for_user(
            user=_user(request), appointment_id=appointment_id
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    if not _user(request).can(Capability.SCHEDULE_WRITE, appointment.clinic_id):
        raise PermissionDenied(booking.MESSAGE_STATUS_FORBIDDEN)
    return appointment


def _back(request: HttpRequest, appointment: Appointment) -> str:
    return safe_next(request) or reverse(
        "scheduling:patient_appointments", kwargs={"patient_id": appointment.patient_id}
    )


def _quick_status(
    request: HttpRequest, appointment_id: UUID, status: str, done: str
) -> HttpResponse:
    appointment = _appointment(request, appointment_id)
    try:
        booking.appointment_set_status(user=_user(request), appointment=appointment, status=status)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(name=appointment.patient.display_name))
    return redirect(_back(request, appointment))


@login_required
@require_POST
def appointment_check_in(request: HttpRequest, appointment_id: UUID) -> HttpResponse:
    return _quick_status(request, appointment_id, Appointment.Status.CHECKED_IN, MESSAGE_CHECKED_IN)


@login_required
@require_POST
def appointment_undo(request: HttpRequest, appointment_id: UUID) -> HttpResponse:
    """Undo a check-in or a no-show marked by mistake: the appointment is booked again."""
    return _quick_status(request, appointment_id, Appointment.Status.BOOKED, MESSAGE_BACK_TO_BOOKED)


REASON_PAGES: dict[str, dict[str, str]] = {
    Appointment.Status.CANCELLED: {
        "title": "Cancel appointment",
        "confirm": "Yes, cancel this appointment",
        "button": "Cancel appointment",
        "done": MESSAGE_CANCELLED,
        "help": "Why is it cancelled? For example: patient unwell, transport, clinic closed.",
    },
    Appointment.Status.NO_SHOW: {
        "title": "Mark as no-show",
        "confirm": "Yes, the patient did not come",
        "button": "Mark as no-show",
        "done": MESSAGE_NO_SHOW,
        "help": "What happened? For example: no answer when called.",
    },
}


def _reason_page(request: HttpRequest, appointment_id: UUID, status: str) -> HttpResponse:
    appointment = _appointment(request, appointment_id)
    page = REASON_PAGES[status]
    form = StatusReasonForm(request.POST or None, confirm_label=page["confirm"])
    form.fields["reason"].help_text = page["help"]
    if request.method == "POST" and form.is_valid():
        try:
            booking.appointment_set_status(
                user=_user(request),
                appointment=appointment,
                status=status,
                reason=form.cleaned_data["reason"],
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, page["done"])
            if appointment.course_id and appointment.kind == Appointment.Kind.SESSION:
                # The next step for a session is its replacement inside the series window.
                return redirect("scheduling:replacement", appointment_id=appointment.id)
            return redirect(_back(request, appointment))
    zone = ZoneInfo(appointment.clinic.time_zone)
    return render(
        request,
        "scheduling/appointment_status.html",
        {
            "patient": appointment.patient,
            "item": appt_view(appointment, zone),
            "form": form,
            "page": page,
            "next": safe_next(request) or "",
            "back": _back(request, appointment),
            "zone": zone_label(
                appointment.clinic.time_zone, [appointment.starts_at.astimezone(zone).date()]
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def appointment_cancel(request: HttpRequest, appointment_id: UUID) -> HttpResponse:
    return _reason_page(request, appointment_id, Appointment.Status.CANCELLED)


@login_required
@require_http_methods(["GET", "POST"])
def appointment_no_show(request: HttpRequest, appointment_id: UUID) -> HttpResponse:
    return _reason_page(request, appointment_id, Appointment.Status.NO_SHOW)


def _names(ids: Iterable[str]) -> dict[str, str]:
    """Display names of users and rooms by id (two queries)."""
    wanted = [i for i in ids if i]
    names = {str(u.id): u.display_name for u in User.objects.filter(id__in=wanted)}
    names.update({str(r.id): r.name for r in Room.objects.filter(id__in=wanted)})
    return names


@login_required
@require_http_methods(["GET", "POST"])
def appointment_replacement(request: HttpRequest, appointment_id: UUID) -> HttpResponse:
    """The earliest replacement for a cancelled or missed session inside its series, with a
    button that books it; or the course's flag when none fits."""
    appointment = _appointment(request, appointment_id)
    course = appointment.course
    if (
        course is None
        or appointment.kind != Appointment.Kind.SESSION
        or appointment.status not in REPLACEABLE_STATUSES
    ):
        messages.info(request, MESSAGE_NOT_REPLACEABLE)
        return redirect(_back(request, appointment))
    user = _user(request)
    zone = ZoneInfo(appointment.clinic.time_zone)
    rebooked = (
        Appointment.objects.filter(
            course=course, sequence=appointment.sequence, status__in=LIVE_SESSION_STATUSES
        )
        .exclude(pk=appointment.pk)
        .select_related("room")
        .first()
    )
    errors: list[str] = []
    if request.method == "POST":
        form = ReplacementForm(request.POST)
        if rebooked is not None:
            errors.append(MESSAGE_ALREADY_REPLACED.format(i=appointment.sequence))
        elif form.is_valid():
            data = form.cleaned_data
            choice = booking.SessionChoice(
                data["start"], data["room"], data["nurse"], data["prescriber"]
            )
            try:
                booked = booking.appointment_reschedule(
                    user=user, appointment=appointment, choice=choice
                )
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                errors.extend([e.rule for e in exc.errors] or [exc.message])
            else:
                start = booked.starts_at.astimezone(zone)
                messages.success(
                    request,
                    MESSAGE_REPLACED.format(
                        i=booked.sequence, when=f"{start:%a %-d %b %Y %H:%M} {start.tzname()}"
                    ),
                )
                return redirect("scheduling:course", course_id=course.id)
        else:
            errors.extend(str(e) for errs in form.errors.values() for e in errs)
    slot = None if rebooked is not None else booking.replacement_for(appointment=appointment)
    course.refresh_from_db(fields=["flag", "status"])
    offer = None
    if slot is not None:
        names = _names([slot.room_id, slot.nurse_id, slot.prescriber_id])
        offer = {
            "start": slot.start.astimezone(zone),
            "end": slot.end.astimezone(zone),
            "room": names.get(slot.room_id, ""),
            "nurse": names.get(slot.nurse_id, ""),
            "prescriber": names.get(slot.prescriber_id, ""),
            "form": ReplacementForm(
                initial={
                    "start": slot.start.isoformat(),
                    "room": slot.room_id,
                    "nurse": slot.nurse_id,
                    "prescriber": slot.prescriber_id,
                }
            ),
        }
    return render(
        request,
        "scheduling/replacement.html",
        {
            "patient": appointment.patient,
            "item": appt_view(appointment, zone),
            "course": course,
            "rebooked": appt_view(rebooked, zone) if rebooked is not None else None,
            "offer": offer,
            "errors": errors,
            "no_replacement": MESSAGE_NO_REPLACEMENT_FOUND,
            "zone": zone_label(
                course.clinic.time_zone, [appointment.starts_at.astimezone(zone).date()]
            ),
        },
    )


# --- The course page: series, window, blockers, slots, booking ----------------------------


def _course(request: HttpRequest, course_id: UUID) -> Course:
    try:
        return selectors.course_get_for_user(user=_user(request), course_id=course_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc


def course_blockers(course: Course, today: date) -> list[str]:
    """What stops booking the course's series now, in plain words (empty: nothing)."""
    blockers: list[str] = []
    if course.status != Course.Status.PLANNED:
        blockers.append(
            booking.MESSAGE_NOT_BOOKABLE.format(status=course.get_status_display().lower())
        )
    if course.protocol.status == ProtocolTemplate.Status.DRAFT:
        blockers.append(
            MESSAGE_TEMPLATE_NOT_APPROVED.format(
                name=course.protocol.name, version=course.protocol.version
            )
        )
    blockers.extend(e.rule for e in booking.booking_rechecks(course=course, today=today))
    return blockers


@dataclass(frozen=True)
class ProposalView:
    index: int
    sessions: tuple[dict[str, Any], ...]
    past: bool


def _proposal_views(course: Course, now: datetime) -> tuple[list[ProposalView], str | None]:
    """The proposals last offered for the course (names and site-local times)."""
    stored = (course.proposals or {}).get("proposals") or []
    if not stored:
        return [], None
    out = booking.proposals_out(course=course, stored=stored, reason=None)
    views = []
    offered = cast(list[dict[str, Any]], out["proposals"])
    for index, proposal in enumerate(offered):
        sessions = tuple(
            {
                **s,
                "number": n + 1,
                "start": datetime.fromisoformat(s["start"]),
                "end": datetime.fromisoformat(s["end"]),
            }
            for n, s in enumerate(proposal["sessions"])
        )
        views.append(
            ProposalView(
                index=index, sessions=sessions, past=any(s["start"] < now for s in sessions)
            )
        )
    made = (course.proposals or {}).get("made_at")
    return views, made


def _course_context(
    request: HttpRequest,
    course: Course,
    *,
    slot_form: SlotSearchForm | None = None,
    reason: str | None = None,
    searched: bool = False,
    booking_errors: list[str] | None = None,
    booking_index: int | None = None,
    failed_sessions: set[int] | None = None,
) -> dict[str, Any]:
    user = _user(request)
    tz = course.clinic.time_zone
    zone = ZoneInfo(tz)
    today = local_today(tz)
    now = timezone.now()
    appointments = list(course.appointments.all())
    series = [appt_view(a, zone) for a in appointments]
    live = [a for a in appointments if a.status != Appointment.Status.CANCELLED]
    first = min((a.starts_at for a in live), default=None)
    window_start = first.astimezone(zone).date() if first else None
    spec = booking.series_spec(course)
    window_end = rules.window_last_day(window_start, spec.window_days) if window_start else None
    can_book = user.can(Capability.SCHEDULE_WRITE, course.clinic_id)
    planned = course.status == Course.Status.PLANNED
    exposure = exposure_for(course.patient_id, now)
    proposals, made_at = _proposal_views(course, now) if planned else ([], None)
    return {
        "course": course,
        "patient": course.patient,
        "protocol": course.protocol,
        "spec": spec,
        "continuation": course.phase == Course.Phase.CONTINUATION,
        "exposure": exposure,
        "status_class": COURSE_BADGES.get(course.status, "badge-neutral"),
        "series": series,
        "window_start": window_start,
        "window_end": window_end,
        "blockers": course_blockers(course, today),
        "can_book": can_book,
        "can_read_protocol": user.can(Capability.PROTOCOL_READ, course.clinic_id),
        "can_read_evaluation": user.can(Capability.EVALUATION_READ, course.clinic_id),
        "planned": planned,
        "slot_form": slot_form or SlotSearchForm(),
        "proposals": proposals,
        "made_at": datetime.fromisoformat(made_at).astimezone(zone) if made_at else None,
        "reason": reason,
        "searched": searched,
        "booking_errors": booking_errors or [],
        "booking_index": booking_index,
        "failed_sessions": failed_sessions or set(),
        "zone": zone_label(tz, [window_start or today]),
        "today": today,
        "book_forbidden": booking.MESSAGE_BOOK_FORBIDDEN,
        "proposal_past": MESSAGE_PROPOSAL_PAST,
        "pathway_label": dict(Pathway.choices).get(course.pathway, course.pathway),
    }


@login_required
@require_GET
def course_detail(request: HttpRequest, course_id: UUID) -> HttpResponse:
    course = _course(request, course_id)
    audit(
        user=_user(request),
        action=Action.READ,
        patient_id=course.patient_id,
        clinic_id=course.clinic_id,
        object_type="course",
        object_id=course.id,
        detail={"page": "course_detail"},
    )
    return render(request, "scheduling/course.html", _course_context(request, course))


def _require_book(request: HttpRequest, course: Course) -> None:
    if not _user(request).can(Capability.SCHEDULE_WRITE, course.clinic_id):
        raise PermissionDenied(booking.MESSAGE_BOOK_FORBIDDEN)


@login_required
@require_POST
def course_slots(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """Find the earliest series that fits, plus alternatives, and keep them on the course
    so one can be booked by its number."""
    course = _course(request, course_id)
    _require_book(request, course)
    form = SlotSearchForm(request.POST)
    reason = None
    if form.is_valid():
        if course.status != Course.Status.PLANNED:
            form.add_error(
                None,
                booking.MESSAGE_NOT_BOOKABLE.format(status=course.get_status_display().lower()),
            )
        else:
            data = form.cleaned_data
            preferences = rules.Preferences(
                first_date=data.get("earliest"),
                weekdays=frozenset(data["weekdays"]) if data.get("weekdays") else None,
                time_from=data.get("time_from"),
                time_to=data.get("time_to"),
            )
            try:
                result = booking.slot_proposals(
                    user=_user(request), course=course, preferences=preferences
                )
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            booking.proposals_store(course=course, result=result)
            reason = result.reason
    return render(
        request,
        "scheduling/course.html",
        _course_context(request, course, slot_form=form, reason=reason, searched=form.is_valid()),
    )


@login_required
@require_POST
def course_book(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """Book every session of one of the offered proposals, or none."""
    course = _course(request, course_id)
    _require_book(request, course)
    form = ProposalForm(request.POST)
    index = None
    errors: list[str] = []
    failed: set[int] = set()
    if not form.is_valid():
        errors.append(booking.MESSAGE_PROPOSAL_GONE)
    else:
        index = form.cleaned_data["proposal"]
        try:
            choices = booking.proposal_choices(course=course, index=index)
            appointments = booking.course_book(user=_user(request), course=course, choices=choices)
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            errors.extend([e.rule for e in exc.errors] or [exc.message])
            failed = {
                int(e.field.split(".")[1])
                for e in exc.errors
                if e.field.startswith("sessions.") and e.field.split(".")[1].isdigit()
            }
        else:
            messages.success(request, MESSAGE_SERIES_BOOKED.format(n=len(appointments)))
            return redirect("scheduling:course", course_id=course.id)
    return render(
        request,
        "scheduling/course.html",
        _course_context(
            request, course, booking_errors=errors, booking_index=index, failed_sessions=failed
        ),
    )


# --- Ordering a course ------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationOption:
    evaluation: Evaluation
    template: ProtocolTemplate | None
    problem: str  # why a course cannot start from it; "" when it can

    @property
    def usable(self) -> bool:
        return not self.problem


def _evaluation_option(evaluation: Evaluation, clinic: Clinic, today: date) -> EvaluationOption:
    if evaluation.valid_until is None or evaluation.valid_until < today:
        return EvaluationOption(
            evaluation,
            None,
            services.MESSAGE_EVALUATION_EXPIRED.format(until=evaluation.valid_until),
        )
    try:
        template = services.course_protocol_for(evaluation=evaluation, clinic=clinic)
    except Conflict as exc:
        return EvaluationOption(evaluation, None, exc.message)
    return EvaluationOption(evaluation, template, "")


def _option_label(option: EvaluationOption) -> str:
    e = option.evaluation
    signed = e.signed_at.date().isoformat() if e.signed_at else "—"
    label = f"Signed {signed} · {e.get_pathway_display()} · valid until {e.valid_until}"
    if option.template is not None:
        label += f" → {option.template.name} v{option.template.version}"
    return label


@login_required
@require_http_methods(["GET", "POST"])
def course_new(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    """The prescriber orders a course from a signed evaluation, with the dose in mg/kg."""
    patient = patient_for_request(request, patient_id, Capability.COURSE_ORDER)
    user = _user(request)
    site = patient_site_for_page(patient=patient, current=getattr(request, "clinic", None))
    today = local_today(site.time_zone)
    signed = evaluations_for_patient(patient=patient).filter(status=Evaluation.Status.SIGNED)
    options = [_evaluation_option(e, site, today) for e in signed[:EVALUATIONS_OFFERED]]
    preselected = next((o for o in options if o.usable), None)
    form = CourseOrderForm(
        request.POST or None,
        evaluations=[(str(o.evaluation.id), _option_label(o)) for o in options],
        initial={"evaluation": str(preselected.evaluation.id)} if preselected else None,
    )
    if request.method == "POST" and form.is_valid():
        chosen = next(o for o in options if str(o.evaluation.id) == form.cleaned_data["evaluation"])
        try:
            course = services.course_create(
                user=user,
                patient=patient,
                clinic=site,
                evaluation=chosen.evaluation,
                ordered_mg_per_kg=form.cleaned_data["ordered_mg_per_kg"],
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                MESSAGE_ORDERED.format(
                    protocol=f"{course.protocol.name} v{course.protocol.version}",
                    dose=course.ordered_mg_per_kg.normalize(),
                ),
            )
            return redirect("scheduling:course", course_id=course.id)
    open_course = (
        Course.objects.filter(patient=patient, status__in=services.OPEN_STATUSES)
        .select_related("protocol")
        .first()
    )
    return render(
        request,
        "scheduling/course_new.html",
        {
            "patient": patient,
            "site": site,
            "form": form,
            "options": options,
            "preselected": preselected,
            "ceiling": clinic_policy_current(clinic=site).dose_ceiling_mg_per_kg,
            "open_course": open_course,
        },
    )
