"""Scheduling API (mounted at /api/v1/): courses ordered from a signed evaluation and
their appointments. Reading needs PATIENT_READ at the course's site; ordering COURSE_ORDER
(a prescriber or the medical director with current licence and DEA registration)."""

from datetime import timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from ketapath.accounts.models import User
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, InvalidInput
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.evaluations.models import Evaluation
from ketapath.patients.selectors import patient_get_for_user, patient_site_for_api
from ketapath.scheduling import selectors, services
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.schemas import CourseIn, CourseListOut, CourseOut

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
        timezone.localtime(first, timezone=ZoneInfo(tz)).date() + timedelta(days=p.window_days - 1)
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
    return course_out(selectors.course_get_for_user(user=_user(request), course_id=course_id))
