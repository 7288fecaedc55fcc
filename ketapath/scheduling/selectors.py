"""Reads for courses and appointments."""

from uuid import UUID

from django.db.models import Prefetch, QuerySet

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinics_where
from ketapath.core.capabilities import Capability
from ketapath.core.errors import NotFound
from ketapath.patients.selectors import patient_get_for_user
from ketapath.scheduling.models import Appointment, Course

MESSAGE_COURSE_NOT_FOUND = "No such course at your sites."


def _courses() -> QuerySet[Course]:
    return Course.objects.select_related(
        "patient", "clinic", "protocol", "ordered_by", "evaluation"
    ).prefetch_related(
        Prefetch(
            "appointments",
            queryset=Appointment.objects.select_related("room", "nurse", "prescriber").order_by(
                "starts_at"
            ),
        )
    )


def courses_for_user(
    *,
    user: User,
    clinic_id: UUID | None = None,
    status: str | None = None,
    patient_id: UUID | None = None,
) -> QuerySet[Course]:
    """Courses at the user's sites (where the role reads patients), newest first."""
    sites = clinics_where(user, Capability.PATIENT_READ)
    qs = _courses().filter(clinic_id__in=sites)
    if clinic_id is not None:
        qs = qs.filter(clinic_id=clinic_id)
    if status:
        qs = qs.filter(status=status)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("-ordered_at")


def course_get_for_user(*, user: User, course_id: UUID) -> Course:
    """The course if its patient is visible to the user (the patient gate audits denials)."""
    course = _courses().filter(id=course_id).first()
    if course is None:
        raise NotFound(MESSAGE_COURSE_NOT_FOUND)
    patient = patient_get_for_user(user=user, patient_id=course.patient_id)
    course.patient = patient
    return course
