"""Scheduling API (mounted at /api/v1/): courses ordered from a signed evaluation and
their appointments. Reading needs PATIENT_READ at the course's site; ordering COURSE_ORDER
(a prescriber or the medical director with current licence and DEA registration)."""

from datetime import date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, Forbidden, InvalidInput
from ketapath.core.exposure import exposure_for
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.evaluations.models import Evaluation
from ketapath.patients.selectors import patient_get_for_user, patient_site_for_api
from ketapath.scheduling import booking, messaging, rules, selectors, services
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.schemas import (
    AppointmentChangeOut,
    AppointmentListOut,
    AppointmentOut,
    AppointmentPatch,
    BookIn,
    BookOut,
    CourseIn,
    CourseListOut,
    CourseOut,
    SingleIn,
    SlotProposalsOut,
    SlotRequest,
)

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MESSAGE_EVALUATION_NOT_FOUND = "No such evaluation for this patient."


class CourseFilters(PageParams):
    clinic: UUID | None = None
    status: str | None = None
    patient: UUID | None = None


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _appointment_out(a: Appointment, tz: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "patient": a.patient_id,
        "course": a.course_id,
        "clinician": a.clinician_id,
        "status_reason": a.status_reason,
        "kind": a.kind,
        "status": a.status,
        "sequence": a.sequence,
        "start": rfc3339(a.starts_at, tz),
        "end": rfc3339(a.ends_at, tz),
        "room": a.room_id,
        "room_name": a.room.name,
        "nurse": a.nurse_id,
        "prescriber": a.prescriber_id,
    }


def course_out(course: Course) -> dict[str, Any]:
    tz = course.clinic.time_zone
    p = course.protocol
    live = [a for a in course.appointments.all() if a.status != Appointment.Status.CANCELLED]
    first = min((a.starts_at for a in live if a.kind == "session"), default=None)
    window_ends = (
        rules.window_last_day(first.astimezone(ZoneInfo(tz)).date(), p.window_days)
        if first
        else None
    )
    return {
        "id": course.id,
        "patient": course.patient_id,
        "clinic": course.clinic_id,
        "evaluation": course.evaluation_id,
        "pathway": course.pathway,
        "phase": course.phase,
        "parent": course.parent_id,
        "status": course.status,
        "pain_measures_added": course.pain_measures_added,
        "ordered_mg_per_kg": course.ordered_mg_per_kg,
        "ordered_by": course.ordered_by_id,
        "ordered_at": rfc3339(course.ordered_at, tz),
        "flag": course.flag,
        "protocol": {
            "id": p.id,
            "name": p.name,
            "version": p.version,
            "indication": p.indication,
            "route": p.route,
            "sessions": p.sessions,
            "min_interval_hours": p.min_interval_hours,
            "window_days": p.window_days,
            "chair_minutes": p.chair_minutes,
            "mg_per_kg_min": p.mg_per_kg_min,
            "mg_per_kg_max": p.mg_per_kg_max,
            "cap_mg": p.cap_mg,
            "reassessment_days": p.reassessment_days,
        },
        "appointments": [_appointment_out(a, tz) for a in course.appointments.all()],
        "window_ends": window_ends,
    }


@router.post(
    "/patients/{patient_id}/courses",
    response={201: CourseOut, **ERRORS},
    summary="Order a course from a signed evaluation within its validity",
)
def course_create(
    request: HttpRequest, patient_id: UUID, payload: CourseIn
) -> Status[dict[str, Any]]:
    user = _user(request)
    patient = patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.COURSE_ORDER
    )
    clinic = patient_site_for_api(patient=patient, requested=payload.clinic)
    evaluation = Evaluation.objects.filter(id=payload.evaluation, patient=patient).first()
    if evaluation is None:
        raise InvalidInput(
            MESSAGE_EVALUATION_NOT_FOUND,
            errors=[FieldError("evaluation", MESSAGE_EVALUATION_NOT_FOUND)],
        )
    course = services.course_create(
        user=user,
        patient=patient,
        clinic=clinic,
        evaluation=evaluation,
        ordered_mg_per_kg=payload.ordered_mg_per_kg,
    )
    return Status(201, course_out(selectors.course_get_for_user(user=user, course_id=course.id)))


@router.get("/courses", response={200: CourseListOut, **ERRORS}, summary="Courses at your sites")
def course_list(request: HttpRequest, filters: Query[CourseFilters]) -> dict[str, Any]:
    page = paginate(
        selectors.courses_for_user(
            user=_user(request),
            clinic_id=filters.clinic,
            status=filters.status,
            patient_id=filters.patient,
        ),
        filters.page,
        filters.page_size,
    )
    return {"items": [course_out(c) for c in page.items], "count": page.count}


@router.get("/courses/{course_id}", response={200: CourseOut, **ERRORS})
def course_detail(request: HttpRequest, course_id: UUID) -> dict[str, Any]:
    course = selectors.course_get_for_user(user=_user(request), course_id=course_id)
    out = course_out(course)
    # The patient's ketamine in the last 30 and 90 days, from the ledger (null without it).
    exposure = exposure_for(course.patient_id, timezone.now())
    out["cumulative_ketamine"] = (
        [{"days": e.days, "sessions": e.sessions, "mg": e.mg} for e in exposure]
        if exposure is not None
        else None
    )
    return out


class ScheduleItemOut(Schema):
    instrument: str
    instrument_title: str
    context: str
    label: str
    due_at: datetime
    closes_at: datetime
    status: str
    appointment: UUID | None = None


class ScheduleOut(Schema):
    items: list[ScheduleItemOut]


@router.get(
    "/courses/{course_id}/measurement-schedule",
    response={200: ScheduleOut, **ERRORS},
    summary="The course's measurement schedule",
    description=(
        "Questionnaires before each session, reassessment and follow-ups after the series, "
        "and the daily diary between sessions, computed from the live session appointments "
        "(so it moves when they move). status: scheduled, due, overdue or completed."
    ),
)
def measurement_schedule(request: HttpRequest, course_id: UUID) -> dict[str, Any]:
    user = _user(request)
    course = selectors.course_get_for_user(user=user, course_id=course_id)
    rows = messaging.course_schedule(course)
    audit(
        user=user,
        action=Action.READ,
        patient_id=course.patient_id,
        clinic_id=course.clinic_id,
        object_type="measurement_schedule",
        object_id=course.id,
    )
    return {
        "items": [
            {
                "instrument": r.item.instrument,
                "instrument_title": r.instrument_title,
                "context": r.item.context,
                "label": r.item.label,
                "due_at": r.item.due_at,
                "closes_at": r.item.closes_at,
                "status": r.status,
                "appointment": r.item.appointment_id,
            }
            for r in rows
        ]
    }


MESSAGE_TIME = "Give a local time as HH:MM."
MESSAGE_WEEKDAY = "Weekdays are 0 (Monday) to 6 (Sunday)."
MESSAGE_BOOK_ONE = "Give either a proposal index or the sessions, not both or neither."


def _time(value: str | None, field: str) -> time | None:
    if value is None:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(MESSAGE_TIME, errors=[FieldError(field, MESSAGE_TIME)]) from exc


@router.post(
    "/courses/{course_id}/slot-proposals",
    response={200: SlotProposalsOut, **ERRORS},
    summary="The earliest series that fits the course's template, and two alternatives",
)
def slot_proposals(request: HttpRequest, course_id: UUID, payload: SlotRequest) -> dict[str, Any]:
    user = _user(request)
    course = selectors.course_get_for_user(user=user, course_id=course_id)
    if payload.weekdays is not None and any(not 0 <= d <= 6 for d in payload.weekdays):
        raise InvalidInput(MESSAGE_WEEKDAY, errors=[FieldError("weekdays", MESSAGE_WEEKDAY)])
    preferences = rules.Preferences(
        first_date=payload.earliest,
        weekdays=frozenset(payload.weekdays) if payload.weekdays is not None else None,
        time_from=_time(payload.time_from, "time_from"),
        time_to=_time(payload.time_to, "time_to"),
    )
    result = booking.slot_proposals(user=user, course=course, preferences=preferences)
    stored = booking.proposals_store(course=course, result=result)
    return booking.proposals_out(course=course, stored=stored, reason=result.reason)


@router.post(
    "/courses/{course_id}/book",
    response={201: BookOut, **ERRORS},
    summary="Book all of a series' sessions in one transaction, or none",
)
def course_book(request: HttpRequest, course_id: UUID, payload: BookIn) -> Status[dict[str, Any]]:
    user = _user(request)
    course = selectors.course_get_for_user(user=user, course_id=course_id)
    if not user.can(Capability.SCHEDULE_WRITE, course.clinic_id):
        raise Forbidden(booking.MESSAGE_BOOK_FORBIDDEN)
    if (payload.proposal is None) == (payload.sessions is None):
        raise InvalidInput(MESSAGE_BOOK_ONE, errors=[FieldError("proposal", MESSAGE_BOOK_ONE)])
    if payload.proposal is not None:
        choices = booking.proposal_choices(course=course, index=payload.proposal)
    else:
        choices = [
            booking.SessionChoice(s.start, s.room, s.nurse, s.prescriber)
            for s in payload.sessions or []
        ]
    appointments = booking.course_book(user=user, course=course, choices=choices)
    tz = course.clinic.time_zone
    return Status(201, {"appointments": [_appointment_out(a, tz) for a in appointments]})


class AppointmentFilters(PageParams):
    clinic: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    room: UUID | None = None
    staff: UUID | None = None
    patient: UUID | None = None


@router.get(
    "/appointments",
    response={200: AppointmentListOut, **ERRORS},
    summary="Appointments at your sites; dates are the site's local dates, inclusive",
)
def appointment_list(request: HttpRequest, filters: Query[AppointmentFilters]) -> dict[str, Any]:
    rows = selectors.appointments_for_user(
        user=_user(request),
        clinic_id=filters.clinic,
        date_from=filters.date_from,
        date_to=filters.date_to,
        room_id=filters.room,
        staff_id=filters.staff,
        patient_id=filters.patient,
    )
    page = paginate(rows, filters.page, filters.page_size)
    return {
        "items": [_appointment_out(a, a.clinic.time_zone) for a in page.items],
        "count": page.count,
    }


@router.patch(
    "/appointments/{appointment_id}",
    response={200: AppointmentChangeOut, **ERRORS},
    summary="Check in, no-show, cancel with a reason, or reschedule one session of a series",
)
def appointment_change(
    request: HttpRequest, appointment_id: UUID, payload: AppointmentPatch
) -> dict[str, Any]:
    user = _user(request)
    appointment = selectors.appointment_get_for_user(user=user, appointment_id=appointment_id)
    replacement = None
    if payload.reschedule is not None:
        r = payload.reschedule
        appointment = booking.appointment_reschedule(
            user=user,
            appointment=appointment,
            choice=booking.SessionChoice(r.start, r.room, r.nurse, r.prescriber),
        )
    elif payload.status is not None:
        replacement = booking.appointment_set_status(
            user=user, appointment=appointment, status=payload.status, reason=payload.reason or ""
        )
    else:
        message = "Give a status or a reschedule."
        raise InvalidInput(message, errors=[FieldError("status", message)])
    appointment = selectors.appointment_get_for_user(user=user, appointment_id=appointment.id)
    tz = appointment.clinic.time_zone
    out = _appointment_out(appointment, tz)
    out["replacement"] = (
        {
            "start": rfc3339(replacement.start, tz),
            "end": rfc3339(replacement.end, tz),
            "room": replacement.room_id,
            "nurse": replacement.nurse_id,
            "prescriber": replacement.prescriber_id,
        }
        if replacement
        else None
    )
    out["course_flag"] = appointment.course.flag if appointment.course else None
    return out


@router.post(
    "/patients/{patient_id}/appointments",
    response={201: AppointmentOut, **ERRORS},
    summary="Book a single evaluation, follow-up or behavioral-health visit",
)
def appointment_single(
    request: HttpRequest, patient_id: UUID, payload: SingleIn
) -> Status[dict[str, Any]]:
    user = _user(request)
    patient = patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.SCHEDULE_WRITE
    )
    clinic = patient_site_for_api(patient=patient, requested=payload.clinic)
    appointment = booking.appointment_book_single(
        user=user,
        patient=patient,
        clinic=clinic,
        kind=payload.kind,
        start=payload.start,
        minutes=payload.minutes,
        room_id=payload.room,
        clinician_id=payload.clinician,
    )
    appointment = selectors.appointment_get_for_user(user=user, appointment_id=appointment.id)
    return Status(201, _appointment_out(appointment, clinic.time_zone))
