"""Two desks book the same slot at once: exactly one wins, the other gets a clash.

Runs on PostgreSQL, where two connections really run at the same time (on SQLite every
write transaction is IMMEDIATE, so bookings are serialised by the database lock)."""

import threading
from datetime import time
from decimal import Decimal
from uuid import UUID

import pytest
from django.db import connection, connections

from ketapath.accounts.models import Shift, User
from ketapath.clinics.models import Clinic
from ketapath.core.errors import Conflict
from ketapath.patients.models import ConsentDocument, ConsentKind, Patient
from ketapath.patients.services import consent_record
from ketapath.scheduling import booking, rules, services
from ketapath.scheduling.models import Appointment
from ketapath.scheduling.tests.factories import approve, signed_evaluation

PAIN = "Chronic pain — initial IM series"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections")
@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_two_concurrent_bookings_wins(
    director: User,
    prescriber: User,
    nurse: User,
    front_desk: User,
    make_patient,
    site: Clinic,
    consent_documents: dict[str, ConsentDocument],
) -> None:
    approve(director=director, clinic=site, name=PAIN)
    for user in (nurse, prescriber):
        for weekday in range(5):
            Shift.objects.create(
                user=user, clinic=site, weekday=weekday, starts=time(8), ends=time(17)
            )
    courses = []
    patients: list[Patient] = [
        make_patient(given_name=n, family_name="Racer") for n in ("Ann", "Bo")
    ]
    for patient in patients:
        consent_record(
            user=nurse,
            patient=patient,
            clinic=site,
            kind=ConsentKind.KETAMINE_TREATMENT,
            signed_by_name=patient.given_name,
        )
        evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
        courses.append(
            services.course_create(
                user=prescriber,
                patient=patient,
                clinic=site,
                evaluation=evaluation,
                ordered_mg_per_kg=Decimal("0.6"),
            )
        )
    # Both desks got the same proposal for the only room, nurse and prescriber.
    proposal = booking.slot_proposals(
        user=front_desk, course=courses[0], preferences=rules.Preferences()
    ).proposals[0]
    choices = [
        booking.SessionChoice(s.start, UUID(s.room_id), UUID(s.nurse_id), UUID(s.prescriber_id))
        for s in proposal.sessions
    ]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def book(course_index: int) -> None:
        try:
            barrier.wait(timeout=10)
            booking.course_book(user=front_desk, course=courses[course_index], choices=choices)
            outcomes.append("booked")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["booked", "clash"]
    assert Appointment.objects.filter(kind="session").count() == 3
