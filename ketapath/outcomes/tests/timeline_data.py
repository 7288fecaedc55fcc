"""Fixtures and rows for the timeline and report tests: scored questionnaires, MME
snapshots, diary days and sessions of a booked course, written directly (the services that
write them are tested in their own apps). The fixtures are registered under their ``name``
by importing ``booked_fixture`` and ``treated_fixture``; ``course`` comes from the
package's conftest."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from ketapath.accounts.models import User
from ketapath.medications.models import MmeSnapshot
from ketapath.observations.models import DiaryEntry
from ketapath.patients.models import Patient
from ketapath.questionnaires.models import Response
from ketapath.scheduling import booking
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests.test_booking import choices_of, propose
from ketapath.treatments.models import TreatmentSession


def score(
    patient: Patient, instrument: str, total: str, at: datetime, *, complete: bool = True
) -> Response:
    return Response.objects.create(
        patient=patient,
        clinic=patient.preferred_clinic,
        instrument=instrument,
        total=Decimal(total) if complete else None,
        complete=complete,
        context=Response.Context.FOLLOW_UP,
        collected_at=at,
    )


def mme(patient: Patient, total: str, at: datetime, by: User) -> MmeSnapshot:
    return MmeSnapshot.objects.create(
        patient=patient,
        clinic=patient.preferred_clinic,
        computed_at=at,
        computed_for=at.date(),
        total_mme=Decimal(total),
        factor_set="cdc-2022",
        caution_at=50,
        high_at=90,
        policy_version=1,
        trigger=MmeSnapshot.Trigger.MEDICATION_ADDED,
        by=by,
    )


def diary(patient: Patient, pain: int, at: datetime) -> DiaryEntry:
    return DiaryEntry.objects.create(
        patient=patient,
        clinic=patient.preferred_clinic,
        day=at.date(),
        pain=pain,
        rescue_medication=False,
        recorded_at=at,
    )


def session(
    course: Course,
    appointment: Appointment,
    *,
    nurse: User,
    prescriber: User,
    aborted: bool = False,
    amount_mg: str = "30.5",
    pain: tuple[int, int] = (7, 3),
) -> TreatmentSession:
    opened = appointment.starts_at
    if aborted:
        return TreatmentSession.objects.create(
            appointment=appointment,
            course=course,
            patient=course.patient,
            clinic=course.clinic,
            status=TreatmentSession.Status.ABORTED,
            opened_by=nurse,
            opened_at=opened,
            aborted_at=opened + timedelta(minutes=10),
            aborted_by=nurse,
            abort_reason="Blood pressure at the hold level",
        )
    return TreatmentSession.objects.create(
        appointment=appointment,
        course=course,
        patient=course.patient,
        clinic=course.clinic,
        status=TreatmentSession.Status.SIGNED,
        opened_by=nurse,
        opened_at=opened,
        given_at=opened + timedelta(minutes=15),
        amount_mg=Decimal(amount_mg),
        pain_before=pain[0],
        pain_after=pain[1],
        signed_by=prescriber,
        signed_at=opened + timedelta(hours=2),
    )


@pytest.fixture(name="booked")
def booked_fixture(front_desk: User, course: Course) -> list[Appointment]:
    return booking.course_book(
        user=front_desk, course=course, choices=choices_of(propose(front_desk, course).proposals[0])
    )


@pytest.fixture(name="treated")
def treated_fixture(
    booked: list[Appointment],
    course: Course,
    nurse: User,
    prescriber: User,
) -> list[TreatmentSession]:
    """Two signed sessions and an aborted one, with scores before and after."""
    first = booked[0].starts_at
    patient = course.patient
    # The evaluation's screening scores are replaced by a known history.
    Response.objects.filter(patient=patient).delete()
    score(patient, "pain-nrs", "8", first - timedelta(days=10))
    score(patient, "pain-nrs", "7", first - timedelta(hours=1))
    score(patient, "pain-nrs", "3", first + timedelta(days=9))
    score(patient, "peg", "7.3", first - timedelta(hours=1))
    score(patient, "phq-9", "14", first - timedelta(days=3))
    score(patient, "phq-9", "6", first + timedelta(days=9))
    score(patient, "gad-7", "11", first - timedelta(days=3))
    score(patient, "pcl-5", "40", first - timedelta(days=3))
    score(patient, "phq-9", "0", first, complete=False)  # incomplete: not charted
    score(patient, "phq-2", "3", first)  # not a timeline measure
    mme(patient, "60", first - timedelta(days=20), nurse)
    mme(patient, "45", first + timedelta(days=5), nurse)
    diary(patient, 6, first + timedelta(days=1))
    return [
        session(course, booked[0], nurse=nurse, prescriber=prescriber),
        session(course, booked[1], nurse=nurse, prescriber=prescriber, aborted=True),
        session(course, booked[2], nurse=nurse, prescriber=prescriber, pain=(5, 2)),
    ]
