"""Staff pages of the measurement schedule: one course's schedule, the site's overdue list."""

from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Forbidden, NotFound
from ketapath.core.pagination import Page, clamp_page
from ketapath.scheduling import measurement, messaging, selectors

MESSAGE_NO_SITE = "Choose a site first."
MESSAGE_FORBIDDEN = "Your role at this site does not include patients' questionnaires."
PAGE_SIZE = 50

STATUS_BADGES = {
    measurement.COMPLETED: ("badge-ok", "Completed"),
    measurement.DUE: ("badge-info", "Due now"),
    measurement.OVERDUE: ("badge-warn", "Overdue"),
    measurement.SCHEDULED: ("badge-neutral", "Scheduled"),
}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _until(moment: datetime) -> str:
    """An end at midnight reads as the end of the day before ("end of Wed 2 Dec")."""
    if moment.time() == time(0, 0):
        day = moment - timedelta(days=1)
        return f"end of {day:%a} {day.day} {day:%b}"
    return f"{moment:%a} {moment.day} {moment:%b}, {moment:%H:%M}"


def _groups(rows: list[messaging.ScheduleRow], zone: ZoneInfo) -> list[dict[str, Any]]:
    """One row per time point (a session's questionnaires, the reassessment, a follow-up,
    a diary day), each questionnaire with its own status."""
    groups: dict[Any, dict[str, Any]] = {}
    for r in rows:
        group = groups.setdefault(
            (r.item.key, r.item.context),
            {
                "label": r.item.label,
                "due": r.item.due_at.astimezone(zone),
                "closes": r.item.closes_at.astimezone(zone),
                "closes_label": _until(r.item.closes_at.astimezone(zone)),
                "entries": [],
            },
        )
        group["entries"].append({"title": r.instrument_title, "badge": STATUS_BADGES[r.status]})
    return list(groups.values())


def _rows(rows: list[messaging.ScheduleRow], zone: ZoneInfo) -> list[dict[str, Any]]:
    return [
        {
            "row": r,
            "due": r.item.due_at.astimezone(zone),
            "closes": r.item.closes_at.astimezone(zone),
            "badge": STATUS_BADGES[r.status],
        }
        for r in rows
    ]


@login_required
def course_measurements(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """The course's schedule: what is asked when, and whether it came back."""
    user = _user(request)
    try:
        course = selectors.course_get_for_user(user=user, course_id=course_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    rows = messaging.course_schedule(course)
    audit(
        user=user,
        action=Action.READ,
        patient_id=course.patient_id,
        clinic_id=course.clinic_id,
        object_type="measurement_schedule",
        object_id=course.id,
    )
    zone = ZoneInfo(course.clinic.time_zone)
    counts = {s: sum(1 for r in rows if r.status == s) for s in measurement.STATUSES}
    return render(
        request,
        "scheduling/measurements.html",
        {
            "course": course,
            "patient": course.patient,
            "groups": _groups(rows, zone),
            "counts": counts,
            "zone": zone,
            "now": timezone.now().astimezone(zone),
        },
    )


@login_required
def overdue_measurements(request: HttpRequest) -> HttpResponse:
    """The site's overdue questionnaires and diaries, oldest first, to chase by phone or
    by resending a link."""
    clinic: Clinic | None = getattr(request, "clinic", None)
    if clinic is None:
        raise PermissionDenied(MESSAGE_NO_SITE)
    user = _user(request)
    if not user.can(Capability.QUESTIONNAIRE_ENTER, clinic.id) and not user.can(
        Capability.LINK_SEND, clinic.id
    ):
        raise PermissionDenied(MESSAGE_FORBIDDEN)
    rows = messaging.overdue_at(clinic=clinic)
    number, size = clamp_page(request.GET.get("page"), PAGE_SIZE)
    start = (number - 1) * size
    page = Page(items=rows[start : start + size], count=len(rows), number=number, size=size)
    audit(
        user=user,
        action=Action.READ,
        clinic_id=clinic.id,
        object_type="overdue_measurements",
        detail={"count": len(rows)},
    )
    zone = ZoneInfo(clinic.time_zone)
    return render(
        request,
        "scheduling/overdue_measurements.html",
        {
            "clinic": clinic,
            "page": page,
            "querystring": "",
            "rows": _rows(page.items, zone),
            "zone": zone,
        },
    )
