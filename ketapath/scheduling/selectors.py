"""Reads for courses and appointments."""

from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q, QuerySet

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinics_where
from ketapath.clinics.models import Clinic
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


MESSAGE_APPOINTMENT_NOT_FOUND = "No such appointment at your sites."


def _appointments() -> QuerySet[Appointment]:
    return Appointment.objects.select_related(
        "clinic", "room", "patient", "nurse", "prescriber", "clinician", "course__protocol"
    )


def appointments_for_user(
    *,
    user: User,
    clinic_id: UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    room_id: UUID | None = None,
    staff_id: UUID | None = None,
    patient_id: UUID | None = None,
) -> QuerySet[Appointment]:
    """Appointments at the user's sites, by start; dates are each site's local dates."""
    sites = clinics_where(user, Capability.PATIENT_READ)
    qs = _appointments().filter(clinic_id__in=sites)
    if clinic_id is not None:
        qs = qs.filter(clinic_id=clinic_id)
    zones = dict(Clinic.objects.filter(id__in=sites).values_list("id", "time_zone"))
    if date_from is not None or date_to is not None:
        bounds = Q()
        for site_id, tz in zones.items():
            zone = ZoneInfo(tz)
            part = Q(clinic_id=site_id)
            if date_from is not None:
                part &= Q(starts_at__gte=datetime.combine(date_from, time.min, zone))
            if date_to is not None:
                part &= Q(
                    starts_at__lt=datetime.combine(date_to + timedelta(days=1), time.min, zone)
                )
            bounds |= part
        qs = qs.filter(bounds)
    if room_id is not None:
        qs = qs.filter(room_id=room_id)
    if staff_id is not None:
        qs = qs.filter(Q(nurse_id=staff_id) | Q(prescriber_id=staff_id) | Q(clinician_id=staff_id))
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("starts_at")


def appointment_get_for_user(*, user: User, appointment_id: UUID) -> Appointment:
    appointment = _appointments().filter(id=appointment_id).first()
    if appointment is None:
        raise NotFound(MESSAGE_APPOINTMENT_NOT_FOUND)
    appointment.patient = patient_get_for_user(user=user, patient_id=appointment.patient_id)
    return appointment
