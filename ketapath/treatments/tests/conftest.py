"""Session fixtures: a booked course whose first session appointment is checked in now."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.pharmacy.tests.conftest import (  # noqa: F401
    enable_strength,
    formulation,
    make_vials,
    second_nurse,
    vial,
)
from ketapath.scheduling import booking
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests.test_booking import choices_of, course, propose  # noqa: F401
from ketapath.treatments import services
from ketapath.treatments.models import READINESS_ITEMS, DailyReadiness, TreatmentSession

ALL_READY = {key: True for key, _ in READINESS_ITEMS}
COMPLETE = {
    "identity_confirmed": True,
    "escort_name": "Sam Driver",
    "escort_phone": "+1 303 555 0100",
    "fasting_confirmed": True,
    "pregnancy_status": "not_applicable",
    "history_review": "unchanged",
    "urinary_symptoms_asked": True,
    "pain_before": 7,
    "systolic": 128,
    "diastolic": 82,
    "heart_rate": 72,
    "spo2": 98,
}
# The test template asks pain-nrs and PEG before each session; none are answered here.
QUESTIONNAIRES_NOTE = {"questionnaires_note": "Phone questionnaires not done; declined today."}
COMPLETE_WITH_NOTE = {**COMPLETE, **QUESTIONNAIRES_NOTE}


@pytest.fixture
def booked(front_desk: User, course: Course) -> list[Appointment]:  # noqa: F811
    return booking.course_book(
        user=front_desk, course=course, choices=choices_of(propose(front_desk, course).proposals[0])
    )


@pytest.fixture
def checked_in(front_desk: User, booked: list[Appointment]) -> Appointment:
    first = booked[0]
    now = timezone.now()
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=now, ends_at=now + timedelta(minutes=75)
    )
    first.refresh_from_db()
    booking.appointment_set_status(user=front_desk, appointment=first, status="checked_in")
    first.refresh_from_db()
    return first


@pytest.fixture
def readiness(nurse: User, site: Clinic) -> DailyReadiness:
    return services.readiness_record(user=nurse, clinic=site, items=ALL_READY)


@pytest.fixture
def session(nurse: User, checked_in: Appointment, readiness: DailyReadiness) -> TreatmentSession:
    return services.session_open(user=nurse, appointment=checked_in)


@pytest.fixture
def pre_checked(nurse: User, session: TreatmentSession) -> TreatmentSession:
    services.precheck_update(user=nurse, session=session, data=COMPLETE_WITH_NOTE)
    session.refresh_from_db()
    return session
