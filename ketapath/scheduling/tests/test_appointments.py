"""One appointment at a time: status changes, cancelling a session with a replacement or a
flagged course, rescheduling within the series, single visits, and the list API."""

from collections.abc import Callable
from datetime import time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import Shift, User
from ketapath.clinics.models import Clinic, Room
from ketapath.core.errors import Conflict, InvalidInput
from ketapath.scheduling import booking
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests.test_booking import choices_of, course, propose  # noqa: F401

pytestmark = pytest.mark.django_db
ApiClient = Callable[[User], Client]


@pytest.fixture
def booked(front_desk: User, course: Course) -> list[Appointment]:  # noqa: F811
    return booking.course_book(
        user=front_desk, course=course, choices=choices_of(propose(front_desk, course).proposals[0])
    )


def test_check_in_then_no_show_needs_a_reason(front_desk: User, booked: list[Appointment]) -> None:
    first = booked[0]
    # The patient arrives on the day: the session starts now.
    now = timezone.now()
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=now, ends_at=now + timedelta(minutes=75)
    )
    first.refresh_from_db()
    booking.appointment_set_status(user=front_desk, appointment=first, status="checked_in")
    first.refresh_from_db()
    assert first.status == "checked_in" and first.checked_in_at is not None
    with pytest.raises(Conflict):
        booking.appointment_set_status(user=front_desk, appointment=first, status="no_show")
    with pytest.raises(InvalidInput) as exc:
        booking.appointment_set_status(user=front_desk, appointment=first, status="cancelled")
    assert exc.value.errors[0].field == "reason"


def test_checking_in_for_a_session_puts_the_course_under_way_and_undo_reverts_it(
    front_desk: User, booked: list[Appointment]
) -> None:
    first = booked[0]
    now = timezone.now()
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=now, ends_at=now + timedelta(minutes=75)
    )
    first.refresh_from_db()
    assert Course.objects.get(pk=first.course_id).status == Course.Status.SCHEDULED
    booking.appointment_set_status(user=front_desk, appointment=first, status="checked_in")
    assert Course.objects.get(pk=first.course_id).status == Course.Status.IN_PROGRESS
    first.refresh_from_db()
    booking.appointment_set_status(user=front_desk, appointment=first, status="booked")
    assert Course.objects.get(pk=first.course_id).status == Course.Status.SCHEDULED


def test_cancelling_the_only_fitting_time_flags_the_course(
    front_desk: User, booked: list[Appointment]
) -> None:
    # The series is packed exactly 24 h apart: session 2's own time is the only one between
    # its neighbours, and the patient just gave it up.
    slot = booking.appointment_set_status(
        user=front_desk, appointment=booked[1], status="cancelled", reason="Car trouble"
    )
    assert slot is None
    assert "no replacement fits" in Course.objects.get(pk=booked[1].course_id).flag


def test_cancelling_a_session_offers_a_replacement_inside_the_window(
    front_desk: User, booked: list[Appointment]
) -> None:
    middle = booked[2]
    slot = booking.appointment_set_status(
        user=front_desk, appointment=middle, status="cancelled", reason="Car trouble"
    )
    assert slot is not None
    assert slot.start != middle.starts_at
    assert slot.start >= booked[1].starts_at + timedelta(hours=24)
    zone = __import__("zoneinfo").ZoneInfo(middle.clinic.time_zone)
    first_day = booked[0].starts_at.astimezone(zone).date()
    assert slot.start.astimezone(zone).date() <= first_day + timedelta(days=6)
    # Booking the replacement keeps the cancelled record and adds a new session 2.
    from uuid import UUID

    booking.appointment_reschedule(
        user=front_desk,
        appointment=middle,
        choice=booking.SessionChoice(
            slot.start, UUID(slot.room_id), UUID(slot.nurse_id), UUID(slot.prescriber_id)
        ),
    )
    sessions = Appointment.objects.filter(course=middle.course, sequence=3)
    assert sorted(sessions.values_list("status", flat=True)) == ["booked", "cancelled"]


def test_no_replacement_flags_the_course(
    front_desk: User, booked: list[Appointment], nurse: User
) -> None:
    # The nurse is off for the rest of the window: no replacement can fit.
    Shift.objects.filter(user=nurse).delete()
    slot = booking.appointment_set_status(
        user=front_desk, appointment=booked[2], status="cancelled", reason="Cannot come"
    )
    assert slot is None
    flagged = Course.objects.get(pk=booked[2].course_id)
    assert "no replacement fits" in flagged.flag


def test_reschedule_outside_the_spacing_is_422(front_desk: User, booked: list[Appointment]) -> None:
    second = booked[1]
    choice = booking.SessionChoice(
        booked[0].starts_at + timedelta(hours=2),
        second.room_id,
        second.nurse_id,
        second.prescriber_id,
    )
    with pytest.raises(InvalidInput) as exc:
        booking.appointment_reschedule(user=front_desk, appointment=second, choice=choice)
    assert "at least 24 h" in exc.value.errors[0].rule


def test_single_visit_booking(
    front_desk: User, prescriber: User, therapist: User, patient: Any, site: Clinic, booked: list
) -> None:
    for weekday in range(5):
        Shift.objects.create(
            user=therapist, clinic=site, weekday=weekday, starts=time(8), ends=time(17)
        )
    consult = Room.objects.create(clinic=site, name="Consult 1", kind=Room.Kind.CONSULT)
    start = booked[-1].starts_at + timedelta(days=7)
    start = start.replace(minute=0)
    visit = booking.appointment_book_single(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind="behavioral_health",
        start=start,
        minutes=50,
        room_id=consult.id,
        clinician_id=therapist.id,
    )
    assert visit.kind == "behavioral_health"
    with pytest.raises(Conflict) as exc:
        booking.appointment_book_single(
            user=front_desk,
            patient=patient,
            clinic=site,
            kind="evaluation",
            start=start,
            minutes=30,
            room_id=consult.id,
            clinician_id=therapist.id,
        )
    fields = {e.field for e in exc.value.errors}
    assert {"room", "start", "clinician"} <= fields


def test_appointments_api(
    api_client: ApiClient,
    front_desk: User,
    other_clinic_nurse: User,
    booked: list[Appointment],
    site: Clinic,
) -> None:
    client = api_client(front_desk)
    day = booked[0].starts_at.astimezone(__import__("zoneinfo").ZoneInfo(site.time_zone)).date()
    listed = client.get(
        "/api/v1/appointments", {"clinic": str(site.id), "date_from": day, "date_to": day}
    ).json()
    assert [a["id"] for a in listed["items"]] == [str(booked[0].id)]
    assert api_client(other_clinic_nurse).get("/api/v1/appointments").json()["count"] == 0
    url = f"/api/v1/appointments/{booked[2].id}"
    response = client.patch(
        url, {"status": "cancelled", "reason": "Moving away"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert "replacement" in response.json()
    assert (
        api_client(other_clinic_nurse)
        .patch(url, {"status": "booked"}, content_type="application/json")
        .status_code
        == 404
    )


def test_no_show_only_once_the_time_has_come(front_desk: User, booked: list[Appointment]) -> None:
    with pytest.raises(Conflict) as exc:
        booking.appointment_set_status(
            user=front_desk, appointment=booked[2], status="no_show", reason="x"
        )
    assert exc.value.message == booking.MESSAGE_NO_SHOW_EARLY


def test_check_in_only_on_the_day(front_desk: User, booked: list[Appointment]) -> None:
    with pytest.raises(Conflict) as exc:
        booking.appointment_set_status(user=front_desk, appointment=booked[2], status="checked_in")
    assert exc.value.message == booking.MESSAGE_CHECK_IN_DAY


def test_a_therapist_without_acls_sees_behavioral_health_visits(
    front_desk: User, therapist: User, patient: Any, site: Clinic, booked: list
) -> None:
    User.objects.filter(pk=therapist.pk).update(acls_expires=None)
    for weekday in range(5):
        Shift.objects.create(
            user=therapist, clinic=site, weekday=weekday, starts=time(8), ends=time(17)
        )
    consult = Room.objects.create(clinic=site, name="Consult 2", kind=Room.Kind.CONSULT)
    start = (booked[-1].starts_at + timedelta(days=7)).replace(minute=0)
    visit = booking.appointment_book_single(
        user=front_desk,
        patient=patient,
        clinic=site,
        kind="behavioral_health",
        start=start,
        minutes=50,
        room_id=consult.id,
        clinician_id=therapist.id,
    )
    assert visit.clinician_id == therapist.id
