"""Staff shift pages for the site chosen in the switcher: the weekly roster (staff ×
weekday), who is on site in a given week, and the dated exceptions.

Everyone working at the site may read them (the patient-read capability, which every role
holds); only a clinic admin of the site (staff-manage) adds or removes shifts and
exceptions. A shift, exception or staff member of another site is 404.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from ketapath.accounts.models import Role, Shift, User, Weekday
from ketapath.accounts.services import (
    MESSAGE_SHIFT_FORBIDDEN,
    shift_add,
    shift_exception_add,
    shift_exception_remove,
    shift_remove,
)
from ketapath.accounts.shift_forms import ShiftExceptionForm, ShiftForm
from ketapath.accounts.shifts import (
    StaffOnSite,
    credentials_missing,
    credentials_valid_until,
    shift_exception_for_clinic,
    shift_exceptions_between,
    shift_exceptions_for_clinic,
    shift_for_clinic,
    shift_roster,
    shift_staff_member,
    shifts_of,
    staff_on_site,
)
from ketapath.accounts.staff_selectors import EXPIRY_WARNING_DAYS
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_get, opening_hours_for_clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, Forbidden
from ketapath.core.forms import ConfirmForm, apply_errors, safe_next
from ketapath.core.pagination import Page, clamp_page, paginate
from ketapath.core.timeutils import local_today

MESSAGE_NO_SITE = "You do not work at any active clinic site."
MESSAGE_SHIFTS_READ_FORBIDDEN = "Your role at this site does not include seeing its staff shifts."
MESSAGE_SHIFTS_ADDED = "{name} now works {days}, {starts}–{ends}."
MESSAGE_SHIFT_REMOVED = "{name}'s {weekday} shift {starts}–{ends} is removed."
MESSAGE_EXCEPTION_ADDED = "{kind} for {name} on {date} is recorded."
MESSAGE_EXCEPTION_REMOVED = "The exception is removed: {name}'s weekly shifts apply on {date}."

ROLE_LABELS = dict(Role.choices)
# Roles that count towards a session's staffing; their licence and ACLS are shown.
CLINICAL_ROLES = frozenset({Role.NURSE, Role.PRESCRIBER, Role.MEDICAL_DIRECTOR})
UPCOMING_EXCEPTIONS = 10
EN_DASH = "\u2013"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _site(request: HttpRequest) -> Clinic:
    """The current site; without one nothing here can be shown (403)."""
    clinic = clinic_get(clinic_id=getattr(request, "clinic_id", None))
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    return clinic


def _reader_site(request: HttpRequest) -> Clinic:
    clinic = _site(request)
    if not _user(request).can(Capability.PATIENT_READ, clinic.id):
        raise PermissionDenied(MESSAGE_SHIFTS_READ_FORBIDDEN)
    return clinic


def _require_manage(request: HttpRequest, clinic: Clinic) -> None:
    if not _user(request).can(Capability.STAFF_MANAGE, clinic.id):
        raise PermissionDenied(MESSAGE_SHIFT_FORBIDDEN)


def _object_site(request: HttpRequest) -> Clinic:
    """For pages about one object: without a site, no object can be theirs (404)."""
    clinic = clinic_get(clinic_id=getattr(request, "clinic_id", None))
    if clinic is None:
        raise Http404
    return clinic


def _span(starts: time | None, ends: time | None) -> str:
    if starts is None or ends is None:
        return "Whole day"
    return f"{starts:%H:%M}{EN_DASH}{ends:%H:%M}"


# --- The weekly roster ------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Licence and ACLS together, as a session's staffing needs them."""

    word: str
    badge: str
    detail: str


def _credentials(member: User, roles: set[str], today: date) -> Credentials | None:
    if not roles & CLINICAL_ROLES:
        return None
    missing = credentials_missing(member)
    if missing:
        return Credentials("Missing", "badge-danger", f"No {' or '.join(missing)}")
    until = credentials_valid_until(member.licence_expires, member.acls_expires)
    if until is None:
        return Credentials("Current", "badge-ok", "No expiry recorded")
    if until < today:
        return Credentials("Expired", "badge-danger", f"Since {until:%Y-%m-%d}")
    if until <= today + timedelta(days=EXPIRY_WARNING_DAYS):
        return Credentials("Expiring", "badge-warn", f"Until {until:%Y-%m-%d}")
    return Credentials("Current", "badge-ok", f"Until {until:%Y-%m-%d}")


@dataclass(frozen=True)
class RosterRow:
    user: User
    roles: list[str]
    days: list[list[Shift]]  # Monday first
    credentials: Credentials | None


def _roster_rows(members: list[User], today: date) -> list[RosterRow]:
    rows = []
    for member in members:
        role_values = {m.role for m in getattr(member, "site_memberships", [])}
        days: list[list[Shift]] = [[] for _ in Weekday.values]
        for shift in getattr(member, "site_shifts", []):
            days[shift.weekday].append(shift)
        rows.append(
            RosterRow(
                user=member,
                roles=[ROLE_LABELS.get(role, role) for role in sorted(role_values)],
                days=days,
                credentials=_credentials(member, role_values, today),
            )
        )
    return rows


def _site_hours(clinic: Clinic) -> list[str]:
    """Each weekday's opening intervals, Monday first ("" when closed)."""
    by_day: list[list[str]] = [[] for _ in Weekday.values]
    for row in opening_hours_for_clinic(clinic=clinic):
        by_day[row.weekday].append(_span(row.opens, row.closes))
    return [", ".join(day) for day in by_day]


@login_required
@require_GET
def shift_list(request: HttpRequest) -> HttpResponse:
    clinic = _reader_site(request)
    today = local_today(clinic.time_zone)
    number, size = clamp_page(request.GET.get("page"), request.GET.get("page_size", 25))
    page = paginate(shift_roster(clinic=clinic), number, size)
    upcoming = shift_exceptions_for_clinic(clinic=clinic, past=False, today=today)
    return render(
        request,
        "accounts/shift_list.html",
        {
            "clinic": clinic,
            "page": page,
            "rows": _roster_rows(page.items, today),
            "weekdays": Weekday.choices,
            "site_hours": _site_hours(clinic),
            "upcoming": list(upcoming[:UPCOMING_EXCEPTIONS]),
            "upcoming_count": upcoming.count(),
            "can_edit": _user(request).can(Capability.STAFF_MANAGE, clinic.id),
            "today": today,
            "querystring": "",
        },
    )


@login_required
@require_GET
def shift_staff(request: HttpRequest, user_id: UUID) -> HttpResponse:
    """One person's weekly shifts and coming exceptions at the site, where the clinic admin
    removes them."""
    clinic = _object_site(request)
    member = shift_staff_member(clinic=clinic, user_id=user_id)
    if member is None:
        raise Http404
    if not _user(request).can(Capability.PATIENT_READ, clinic.id):
        raise PermissionDenied(MESSAGE_SHIFTS_READ_FORBIDDEN)
    today = local_today(clinic.time_zone)
    number, size = clamp_page(request.GET.get("page"), request.GET.get("page_size", 25))
    exceptions = shift_exceptions_for_clinic(clinic=clinic, past=False, today=today, user=member)
    roles = {m.role for m in getattr(member, "site_memberships", [])}
    return render(
        request,
        "accounts/shift_staff.html",
        {
            "clinic": clinic,
            "member": member,
            "roles": [ROLE_LABELS.get(role, role) for role in sorted(roles)],
            "credentials": _credentials(member, roles, today),
            "shifts": shifts_of(clinic=clinic, user=member),
            "page": paginate(exceptions, number, size),
            "querystring": "",
            "can_edit": _user(request).can(Capability.STAFF_MANAGE, clinic.id),
        },
    )


def _preselected(request: HttpRequest, clinic: Clinic) -> dict[str, Any]:
    """``?user=<id>`` fills in the staff member; someone not working at the site is 404."""
    raw = request.GET.get("user")
    if not raw:
        return {}
    try:
        user_id = UUID(raw)
    except ValueError as exc:
        raise Http404 from exc
    if shift_staff_member(clinic=clinic, user_id=user_id) is None:
        raise Http404
    return {"user": str(user_id)}


def _chosen_member(clinic: Clinic, user_id: str) -> User:
    member = shift_staff_member(clinic=clinic, user_id=user_id)
    if member is None:  # left the site between showing the form and sending it
        raise Http404
    return member


def _weekday_list(weekdays: list[int]) -> str:
    names = [Weekday(day).label for day in sorted(weekdays)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@login_required
@require_http_methods(["GET", "POST"])
def shift_new(request: HttpRequest) -> HttpResponse:
    """Add a weekly shift on one or more weekdays: all of them, or none when one clashes."""
    clinic = _site(request)
    _require_manage(request, clinic)
    members = list(shift_roster(clinic=clinic, with_shifts=False))
    if request.method == "POST":
        form = ShiftForm(request.POST, members=members)
        if form.is_valid():
            data = form.cleaned_data
            member = _chosen_member(clinic, data["user"])
            try:
                with transaction.atomic():
                    for weekday in sorted(data["weekdays"]):
                        shift_add(
                            actor=_user(request),
                            user=member,
                            clinic=clinic,
                            weekday=weekday,
                            starts=data["starts"],
                            ends=data["ends"],
                        )
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                _apply_shift_errors(form, exc)
            else:
                messages.success(
                    request,
                    MESSAGE_SHIFTS_ADDED.format(
                        name=member.display_name,
                        days=_weekday_list(data["weekdays"]),
                        starts=f"{data['starts']:%H:%M}",
                        ends=f"{data['ends']:%H:%M}",
                    ),
                )
                return redirect(safe_next(request) or "accounts:shifts")
    else:
        form = ShiftForm(initial=_preselected(request, clinic), members=members)
    return render(
        request,
        "accounts/shift_form.html",
        {
            "clinic": clinic,
            "form": form,
            "site_hours": list(zip(Weekday.labels, _site_hours(clinic), strict=True)),
            "next": safe_next(request),
        },
    )


def _apply_shift_errors(form: ShiftForm, exc: ApplicationError) -> None:
    """Like ``apply_errors``, but the service's ``weekday`` is the form's ``weekdays``."""
    if not exc.errors:
        form.add_error(None, exc.message)
        return
    for error in exc.errors:
        name = "weekdays" if error.field == "weekday" else error.field
        form.add_error(name if name in form.fields else None, error.rule)


@login_required
@require_http_methods(["GET", "POST"])
def shift_remove_view(request: HttpRequest, shift_id: UUID) -> HttpResponse:
    clinic = _object_site(request)
    shift = shift_for_clinic(clinic=clinic, shift_id=shift_id)
    if shift is None:
        raise Http404
    _require_manage(request, clinic)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            shift_remove(actor=_user(request), shift=shift)
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                MESSAGE_SHIFT_REMOVED.format(
                    name=shift.user.display_name,
                    weekday=shift.get_weekday_display(),
                    starts=f"{shift.starts:%H:%M}",
                    ends=f"{shift.ends:%H:%M}",
                ),
            )
            return redirect(safe_next(request) or "accounts:shifts")
    return render(
        request,
        "accounts/shift_remove.html",
        {
            "clinic": clinic,
            "shift": shift,
            "form": form,
            "span": _span(shift.starts, shift.ends),
            "next": safe_next(request),
        },
    )


# --- Who is on site in a week -----------------------------------------------------------


@dataclass(frozen=True)
class WeekRow:
    staff: StaffOnSite
    roles: list[str]
    days: list[list[str]]  # local "08:00–16:00" spans, one list per day of the week
    credentials: Credentials | None


def _week_credentials(person: StaffOnSite, monday: date) -> Credentials | None:
    """Licence and ACLS over the week shown: missing, lapsed before it, lapsing in it, or
    current throughout."""
    if not person.roles & CLINICAL_ROLES:
        return None
    if person.credentials_missing:
        return Credentials(
            "Missing", "badge-danger", f"No {' or '.join(person.credentials_missing)}"
        )
    until = person.credentials_valid_until
    if until is None:
        return Credentials("Current", "badge-ok", "No expiry recorded")
    if until < monday:
        return Credentials("Expired", "badge-danger", f"Since {until:%Y-%m-%d}")
    if until < monday + timedelta(days=6):
        return Credentials("Lapses this week", "badge-warn", f"Valid until {until:%Y-%m-%d}")
    return Credentials("Current", "badge-ok", f"Until {until:%Y-%m-%d}")


def _week_start(raw: str | None, today: date) -> date:
    try:
        day = date.fromisoformat(raw) if raw else today
    except ValueError:
        day = today
    return day - timedelta(days=day.weekday())


def _local_span(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[date, str]:
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return local_start.date(), f"{local_start:%H:%M}{EN_DASH}{local_end:%H:%M}"


def _week_rows(staff: list[StaffOnSite], monday: date, zone: ZoneInfo) -> list[WeekRow]:
    rows = []
    for person in staff:
        days: list[list[str]] = [[] for _ in range(7)]
        for start, end in person.intervals:
            day, text = _local_span(start, end, zone)
            days[(day - monday).days].append(text)
        roles = [ROLE_LABELS.get(role, role) for role in sorted(person.roles)]
        rows.append(
            WeekRow(
                staff=person,
                roles=roles,
                days=days,
                credentials=_week_credentials(person, monday),
            )
        )
    return rows


def _clock_change(monday: date, zone: ZoneInfo) -> str:
    """A sentence when the site's clocks change during the week, else ""."""
    for offset in range(7):
        day = monday + timedelta(days=offset)
        before = datetime.combine(day, time.min, tzinfo=zone)
        after = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
        if before.utcoffset() != after.utcoffset():
            return (
                f"Clocks change on {day:%A} {day.day} {day:%B} ({before:%Z} to {after:%Z}); times "
                "shown are local wall-clock times."
            )
    return ""


@login_required
@require_GET
def shift_week(request: HttpRequest) -> HttpResponse:
    """Who is on site each day of a week, after the dated exceptions, in local time."""
    clinic = _reader_site(request)
    today = local_today(clinic.time_zone)
    monday = _week_start(request.GET.get("week"), today)
    sunday = monday + timedelta(days=6)
    zone = ZoneInfo(clinic.time_zone)
    rows = _week_rows(staff_on_site(clinic=clinic, date_from=monday, date_to=sunday), monday, zone)
    number, size = clamp_page(request.GET.get("page"), request.GET.get("page_size", 25))
    start = (number - 1) * size
    page = Page(items=rows[start : start + size], count=len(rows), number=number, size=size)
    return render(
        request,
        "accounts/shift_week.html",
        {
            "clinic": clinic,
            "page": page,
            "days": [monday + timedelta(days=offset) for offset in range(7)],
            "monday": monday,
            "sunday": sunday,
            "previous": monday - timedelta(days=7),
            "next": monday + timedelta(days=7),
            "this_week": _week_start(None, today),
            "today": today,
            "clock_change": _clock_change(monday, zone),
            "exceptions": shift_exceptions_between(clinic=clinic, date_from=monday, date_to=sunday),
            "querystring": urlencode({"week": monday.isoformat()}),
        },
    )


# --- Dated exceptions -------------------------------------------------------------------


@login_required
@require_GET
def shift_exception_list(request: HttpRequest) -> HttpResponse:
    clinic = _reader_site(request)
    past = request.GET.get("show") == "past"
    today = local_today(clinic.time_zone)
    number, size = clamp_page(request.GET.get("page"), request.GET.get("page_size", 25))
    exceptions = shift_exceptions_for_clinic(clinic=clinic, past=past, today=today)
    return render(
        request,
        "accounts/shift_exception_list.html",
        {
            "clinic": clinic,
            "page": paginate(exceptions, number, size),
            "past": past,
            "querystring": "show=past" if past else "",
            "can_edit": _user(request).can(Capability.STAFF_MANAGE, clinic.id),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def shift_exception_new(request: HttpRequest) -> HttpResponse:
    clinic = _site(request)
    _require_manage(request, clinic)
    members = list(shift_roster(clinic=clinic, with_shifts=False))
    if request.method == "POST":
        form = ShiftExceptionForm(request.POST, members=members)
        if form.is_valid():
            data = form.cleaned_data
            member = _chosen_member(clinic, data["user"])
            try:
                exception = shift_exception_add(
                    actor=_user(request),
                    user=member,
                    clinic=clinic,
                    date=data["date"],
                    kind=data["kind"],
                    starts=data["starts"],
                    ends=data["ends"],
                    reason=data["reason"],
                )
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ApplicationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(
                    request,
                    MESSAGE_EXCEPTION_ADDED.format(
                        kind=exception.get_kind_display(),
                        name=member.display_name,
                        date=f"{exception.date:%a %Y-%m-%d}",
                    ),
                )
                return redirect(safe_next(request) or "accounts:shifts")
    else:
        form = ShiftExceptionForm(initial=_preselected(request, clinic), members=members)
    return render(
        request,
        "accounts/shift_exception_form.html",
        {"clinic": clinic, "form": form, "next": safe_next(request)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def shift_exception_remove_view(request: HttpRequest, exception_id: UUID) -> HttpResponse:
    clinic = _object_site(request)
    exception = shift_exception_for_clinic(clinic=clinic, exception_id=exception_id)
    if exception is None:
        raise Http404
    _require_manage(request, clinic)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            shift_exception_remove(actor=_user(request), exception=exception)
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                MESSAGE_EXCEPTION_REMOVED.format(
                    name=exception.user.display_name, date=f"{exception.date:%a %Y-%m-%d}"
                ),
            )
            return redirect(safe_next(request) or "accounts:shift_exceptions")
    return render(
        request,
        "accounts/shift_exception_remove.html",
        {
            "clinic": clinic,
            "exception": exception,
            "form": form,
            "span": _span(exception.starts, exception.ends),
            "next": safe_next(request),
        },
    )
