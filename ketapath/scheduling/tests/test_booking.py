"""Series booking: proposals from the site's calendar, all-or-nothing booking with its
re-checks and clashes, and the API contract."""

import itertools
from collections.abc import Callable
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ketapath.accounts.models import Shift, User
from ketapath.clinics.models import Clinic, Room
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.observations.models import SafetyAlert
from ketapath.patients.models import ConsentDocument, ConsentKind, Patient
from ketapath.patients.services import consent_record
from ketapath.questionnaires.services import response_record
from ketapath.scheduling import booking, rules, services
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests.factories import approve, signed_evaluation

pytestmark = pytest.mark.django_db

PAIN = "Chronic pain — initial IM series"
ApiClient = Callable[[User], Client]


def rota(*users: User, clinic: Clinic) -> None:
    for user in users:
        for weekday in range(5):
            Shift.objects.create(
                user=user, clinic=clinic, weekday=weekday, starts=time(8), ends=time(17)
            )


@pytest.fixture
def course(
    director: User,
    prescriber: User,
    nurse: User,
    patient: Patient,
    site: Clinic,
    consent_documents: dict[str, ConsentDocument],
) -> Course:
    approve(director=director, clinic=site, name=PAIN)
    rota(nurse, prescriber, clinic=site)
    consent_record(
        user=nurse,
        patient=patient,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name=patient.given_name,
    )
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    return services.course_create(
        user=prescriber,
        patient=patient,
        clinic=site,
        evaluation=evaluation,
        ordered_mg_per_kg=Decimal("0.6"),
    )


def propose(user: User, course: Course) -> rules.SlotResult:
    return booking.slot_proposals(user=user, course=course, preferences=rules.Preferences())


def choices_of(proposal: rules.SeriesProposal) -> list[booking.SessionChoice]:
    from uuid import UUID

    return [
        booking.SessionChoice(s.start, UUID(s.room_id), UUID(s.nurse_id), UUID(s.prescriber_id))
        for s in proposal.sessions
    ]


def test_proposals_fit_the_template(front_desk: User, course: Course) -> None:
    result = propose(front_desk, course)
    assert result.reason is None
    assert len(result.proposals) == 3
    first = result.proposals[0].sessions
    assert len(first) == 3
    gaps = [(b.start - a.start).total_seconds() / 3600 for a, b in itertools.pairwise(first)]
    assert all(gap >= 24 for gap in gaps)
    assert all(s.end - s.start == timedelta(minutes=75) for s in first)


def test_front_desk_books_the_whole_series_in_one_go(front_desk: User, course: Course) -> None:
    result = propose(front_desk, course)
    appointments = booking.course_book(
        user=front_desk, course=course, choices=choices_of(result.proposals[0])
    )
    assert [a.sequence for a in appointments] == [1, 2, 3]
    course.refresh_from_db()
    assert course.status == "scheduled"
    assert Appointment.objects.filter(course=course, kind="session").count() == 3


def test_a_clash_books_nothing_and_names_it(
    front_desk: User,
    course: Course,
    make_patient: Callable[..., Patient],
    site: Clinic,
    nurse: User,
    prescriber: User,
) -> None:
    result = propose(front_desk, course)
    proposal = result.proposals[0]
    # Someone else takes the room at the time of the second session.
    other = make_patient(given_name="Other", family_name="Person")
    second = proposal.sessions[1]
    Appointment.objects.create(
        clinic=site,
        patient=other,
        kind=Appointment.Kind.EVALUATION,
        starts_at=second.start,
        ends_at=second.end,
        room=Room.objects.get(id=second.room_id),
        clinician=prescriber,
        booked_by=front_desk,
    )
    with pytest.raises(Conflict) as exc:
        booking.course_book(user=front_desk, course=course, choices=choices_of(proposal))
    assert exc.value.code == "clash"
    assert "Treatment 1 is already booked" in exc.value.message
    assert not Appointment.objects.filter(course=course).exists()
    course.refresh_from_db()
    assert course.status == "planned"


def test_nurse_capacity_is_respected(
    front_desk: User,
    course: Course,
    site: Clinic,
    make_patient: Callable[..., Patient],
    nurse: User,
    prescriber: User,
) -> None:
    proposal = propose(front_desk, course).proposals[0]
    first = proposal.sessions[0]
    second_room = Room.objects.create(clinic=site, name="Treatment 2")
    other = make_patient(given_name="Second", family_name="Patient")
    Appointment.objects.create(
        clinic=site,
        patient=other,
        kind=Appointment.Kind.SESSION,
        course=course,
        sequence=9,
        starts_at=first.start,
        ends_at=first.end,
        room=second_room,
        nurse=nurse,
        prescriber=prescriber,
        booked_by=front_desk,
    )
    with pytest.raises(Conflict) as exc:
        booking.course_book(user=front_desk, course=course, choices=choices_of(proposal))
    assert "already watches 1 patient" in exc.value.message


def test_spacing_and_window_breaks_are_422(front_desk: User, course: Course) -> None:
    proposal = propose(front_desk, course).proposals[0]
    choices = choices_of(proposal)
    too_close = [
        choices[0],
        booking.SessionChoice(
            choices[0].start + timedelta(hours=23),
            *(choices[1].room_id, choices[1].nurse_id, choices[1].prescriber_id),
        ),
        choices[2],
    ]
    with pytest.raises(InvalidInput) as exc:
        booking.course_book(user=front_desk, course=course, choices=too_close)
    assert exc.value.errors[0].field == "sessions.1.start"
    too_late = [
        *choices[:2],
        booking.SessionChoice(
            choices[0].start + timedelta(days=7),
            *(choices[2].room_id, choices[2].nurse_id, choices[2].prescriber_id),
        ),
    ]
    with pytest.raises(InvalidInput) as exc:
        booking.course_book(user=front_desk, course=course, choices=too_late)
    assert "after the series window" in exc.value.errors[0].rule
    with pytest.raises(InvalidInput):
        booking.course_book(user=front_desk, course=course, choices=choices[:2])


def test_rechecks_refuse_an_open_safety_alert(
    front_desk: User, nurse: User, course: Course, patient: Patient, site: Clinic
) -> None:
    proposal = propose(front_desk, course).proposals[0]
    response_record(
        user=nurse,
        patient=patient,
        clinic=site,
        instrument_code="phq-9",
        answers={str(i): 1 for i in range(1, 10)},
        context="pre_session",
    )
    assert SafetyAlert.objects.filter(patient=patient).exists()
    with pytest.raises(Conflict) as exc:
        booking.course_book(user=front_desk, course=course, choices=choices_of(proposal))
    assert exc.value.code == "recheck_failed"
    assert [e.field for e in exc.value.errors] == ["safety_alert"]


def test_rechecks_refuse_a_withdrawn_consent(
    front_desk: User, nurse: User, course: Course, patient: Patient
) -> None:
    from ketapath.patients.services import consent_withdraw

    proposal = propose(front_desk, course).proposals[0]
    consent = patient.consents.get(kind=ConsentKind.KETAMINE_TREATMENT)
    consent_withdraw(user=nurse, consent=consent, reason="Patient asked")
    with pytest.raises(Conflict) as exc:
        booking.course_book(user=front_desk, course=course, choices=choices_of(proposal))
    assert [e.field for e in exc.value.errors] == ["consent"]


def test_no_prescriber_on_site_means_no_proposal(
    front_desk: User, course: Course, prescriber: User
) -> None:
    Shift.objects.filter(user=prescriber).delete()
    result = propose(front_desk, course)
    assert result.proposals == ()
    assert result.reason is not None and "prescriber" in result.reason


def test_roles_without_scheduling_cannot_book(
    biller: User, therapist: User, course: Course
) -> None:
    for user in (biller, therapist):
        with pytest.raises(Forbidden):
            propose(user, course)
        with pytest.raises(Forbidden):
            booking.course_book(user=user, course=course, choices=[])


# --- API -------------------------------------------------------------------------------------


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def test_api_proposals_then_book_by_index(
    api_client: ApiClient, front_desk: User, course: Course
) -> None:
    client = api_client(front_desk)
    body = post(client, f"/api/v1/courses/{course.id}/slot-proposals", {}).json()
    assert body["reason"] is None
    session = body["proposals"][0]["sessions"][0]
    assert set(session) >= {"start", "end", "room", "nurse", "prescriber"}
    assert session["start"].endswith(("-07:00", "-06:00"))
    booked = post(client, f"/api/v1/courses/{course.id}/book", {"proposal": 0})
    assert booked.status_code == 201, booked.json()
    assert len(booked.json()["appointments"]) == 3
    again = post(client, f"/api/v1/courses/{course.id}/book", {"proposal": 0})
    assert again.status_code == 409
    detail = client.get(f"/api/v1/courses/{course.id}").json()
    assert detail["status"] == "scheduled" and len(detail["appointments"]) == 3


def test_api_explicit_sessions_and_errors(
    api_client: ApiClient, front_desk: User, course: Course
) -> None:
    client = api_client(front_desk)
    body = post(
        client, f"/api/v1/courses/{course.id}/slot-proposals", {"weekdays": [1, 2, 3]}
    ).json()
    sessions = [
        {k: s[k] for k in ("start", "room", "nurse", "prescriber")}
        for s in body["proposals"][0]["sessions"]
    ]
    bad = [sessions[0], {**sessions[1], "start": sessions[0]["start"]}, sessions[2]]
    assert post(client, f"/api/v1/courses/{course.id}/book", {"sessions": bad}).status_code == 422
    assert post(client, f"/api/v1/courses/{course.id}/book", {}).status_code == 422
    assert post(client, f"/api/v1/courses/{course.id}/book", {"proposal": 7}).status_code == 409
    assert (
        post(client, f"/api/v1/courses/{course.id}/book", {"sessions": sessions}).status_code == 201
    )


def test_api_permissions(
    api_client: ApiClient, client: Client, biller: User, other_clinic_nurse: User, course: Course
) -> None:
    url = f"/api/v1/courses/{course.id}/slot-proposals"
    assert post(client, url, {}).status_code == 401
    assert post(api_client(other_clinic_nurse), url, {}).status_code == 404
    assert post(api_client(biller), url, {}).status_code == 403
    assert (
        post(api_client(biller), f"/api/v1/courses/{course.id}/book", {"proposal": 0}).status_code
        == 403
    )


def test_past_times_are_refused(front_desk: User, course: Course) -> None:
    proposal = propose(front_desk, course).proposals[0]
    choices = choices_of(proposal)
    shifted = [
        booking.SessionChoice(c.start - timedelta(days=30), c.room_id, c.nurse_id, c.prescriber_id)
        for c in choices
    ]
    assert shifted[0].start < timezone.now()
    with pytest.raises(InvalidInput) as exc:
        booking.course_book(user=front_desk, course=course, choices=shifted)
    assert "in the past" in exc.value.errors[0].rule


def test_a_continuation_books_one_session_at_a_time(
    front_desk: User,
    prescriber: User,
    course: Course,
    client_for: Callable[[User], Client],
) -> None:
    Course.objects.filter(pk=course.pk).update(status=Course.Status.CONTINUED)
    continuation = services.course_create(
        user=prescriber,
        patient=course.patient,
        clinic=course.clinic,
        evaluation=course.evaluation,
        ordered_mg_per_kg=Decimal("0.6"),
        parent=course,
    )
    result = propose(front_desk, continuation)
    assert result.reason is None
    assert all(len(p.sessions) == 1 for p in result.proposals)
    three = [choices_of(p)[0] for p in result.proposals]
    with pytest.raises(InvalidInput) as exc:
        booking.course_book(user=front_desk, course=continuation, choices=three)
    assert exc.value.errors[0].field == "sessions"
    assert "one session at a time" in exc.value.errors[0].rule
    appointments = booking.course_book(user=front_desk, course=continuation, choices=three[:1])
    assert [a.sequence for a in appointments] == [1]
    continuation.refresh_from_db()
    assert continuation.status == "scheduled"
    html = client_for(front_desk).get(f"/courses/{continuation.id}/").content.decode()
    assert "One, booked on its own" in html
    assert "Continuation session" in html
    assert "Session 1 of 3" not in html
