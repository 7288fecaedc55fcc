"""Outcome fixtures: a course whose sessions, questionnaires and MME are written as rows
at chosen times, so the reassessment's selection rules can be tested to the minute."""

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Room
from ketapath.medications.models import MmeSnapshot
from ketapath.patients.models import Patient
from ketapath.questionnaires.models import Response
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests.test_booking import course  # noqa: F401
from ketapath.treatments.models import TreatmentSession

# The first dose of the test series, far enough back for a reassessment to have arrived.
T0 = timezone.now().replace(microsecond=0) - timedelta(days=60)


def dose(
    course: Course,  # noqa: F811
    at: datetime,
    *,
    nurse: User,
    prescriber: User,
    mg: str = "42",
    status: str = TreatmentSession.Status.SIGNED,
) -> TreatmentSession:
    """A session of ``course`` given at ``at`` (rows only; the charting has its own tests)."""
    # A room per patient: PostgreSQL refuses two appointments in one room at once.
    room, _ = Room.objects.get_or_create(
        clinic=course.clinic, name=f"Outcome room {str(course.patient_id)[:8]}"
    )
    sequence = course.appointments.count() + 1
    appointment = Appointment.objects.create(
        clinic=course.clinic,
        patient=course.patient,
        kind=Appointment.Kind.SESSION,
        course=course,
        sequence=sequence,
        starts_at=at - timedelta(minutes=15),
        ends_at=at + timedelta(minutes=60),
        room=room,
        nurse=nurse,
        prescriber=prescriber,
        status=Appointment.Status.COMPLETED,
        booked_by=nurse,
    )
    return TreatmentSession.objects.create(
        appointment=appointment,
        course=course,
        patient=course.patient,
        clinic=course.clinic,
        status=status,
        opened_by=nurse,
        opened_at=at - timedelta(minutes=15),
        given_at=at if status != TreatmentSession.Status.PRE_CHECK else None,
        amount_mg=Decimal(mg),
        signed_by=prescriber if status == TreatmentSession.Status.SIGNED else None,
        signed_at=at + timedelta(hours=3) if status == TreatmentSession.Status.SIGNED else None,
        aborted_by=nurse if status == TreatmentSession.Status.ABORTED else None,
        aborted_at=at + timedelta(minutes=20)
        if status == TreatmentSession.Status.ABORTED
        else None,
        abort_reason="Emergence reaction" if status == TreatmentSession.Status.ABORTED else "",
    )


def respond(
    patient: Patient,
    instrument: str,
    total: str | int,
    at: datetime,
    *,
    context: str = Response.Context.FOLLOW_UP,
    complete: bool = True,
) -> Response:
    return Response.objects.create(
        patient=patient,
        clinic=patient.preferred_clinic,
        instrument=instrument,
        total=Decimal(str(total)) if complete else None,
        complete=complete,
        context=context,
        collected_at=at,
        source=Response.Source.PATIENT_LINK,
    )


def mme(patient: Patient, at: datetime, total: str | int, *, by: User) -> MmeSnapshot:
    return MmeSnapshot.objects.create(
        patient=patient,
        clinic=patient.preferred_clinic,
        computed_at=at,
        computed_for=at.date(),
        total_mme=Decimal(str(total)),
        factor_set="CDC 2022",
        caution_at=50,
        high_at=90,
        policy_version=1,
        trigger=MmeSnapshot.Trigger.MEDICATION_EDITED,
        by=by,
    )


@pytest.fixture
def series(
    course: Course,  # noqa: F811
    nurse: User,
    prescriber: User,
) -> Callable[..., Course]:
    """Three signed doses at T0, T0+2d, T0+4d; the course awaits its reassessment."""

    def build(**kwargs: Any) -> Course:
        for day in (0, 2, 4):
            dose(course, T0 + timedelta(days=day), nurse=nurse, prescriber=prescriber)
        Course.objects.filter(pk=course.pk).update(status=Course.Status.AWAITING_REASSESSMENT)
        course.refresh_from_db()
        return course

    return build
