"""The Today page's session board: the day's ketamine sessions by room, the readiness check
and the reassessments due."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, Room
from ketapath.core.timeutils import local_day_bounds, local_today
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests import test_booking as booking_fixtures
from ketapath.treatments import charting, services
from ketapath.treatments.models import DailyReadiness, TreatmentSession
from ketapath.treatments.tests import conftest as session_fixtures

ClientFor = Callable[[User], Client]

# The session fixtures of the treatments tests (a course whose first session appointment
# is checked in now, today's readiness check, the opened session).
course = booking_fixtures.course
booked = session_fixtures.booked
checked_in = session_fixtures.checked_in
readiness = session_fixtures.readiness
session = session_fixtures.session
BOARD = "Ketamine sessions today"
TODAY = reverse("chart:today")


def _page(client: Client) -> str:
    response = client.get(TODAY)
    assert response.status_code == 200
    return response.content.decode()


def _dosed(session: TreatmentSession, minutes_ago: int = 40) -> TreatmentSession:
    """Mark the session as dosed some minutes ago (the dose itself is tested elsewhere)."""
    given = timezone.now() - timedelta(minutes=minutes_ago)
    TreatmentSession.objects.filter(id=session.id).update(
        opened_at=given - timedelta(minutes=20), given_at=given, status="monitoring"
    )
    session.refresh_from_db()
    return session


def test_board_is_for_those_who_document_sessions(
    client_for: ClientFor,
    nurse: User,
    prescriber: User,
    director: User,
    front_desk: User,
    site: Clinic,
    session: TreatmentSession,
) -> None:
    for user in (nurse, prescriber, director):
        html = _page(client_for(user))
        assert BOARD in html and "Reassessments due" in html
        assert session.patient.family_name in html
    html = _page(client_for(front_desk))
    assert BOARD not in html and "Reassessments due" not in html
    assert "Appointments today" in html and session.patient.family_name in html
    # The read is audited with the number of sessions for those who see the board.
    events = AuditEvent.objects.filter(object_type="today_page", action="read")
    assert events.filter(user_id=nurse.id, detail__sessions=1).exists()
    assert events.filter(user_id=front_desk.id).exists()
    assert not events.filter(user_id=front_desk.id, detail__has_key="sessions").exists()


def test_checked_in_appointment_without_a_session_offers_to_open_it(
    client_for: ClientFor,
    nurse: User,
    therapist: User,
    checked_in: Appointment,
    readiness: DailyReadiness,
) -> None:
    html = _page(client_for(nurse))
    assert "Not opened" in html
    assert f'action="/appointments/{checked_in.id}/session/open/"' in html
    assert "Open session" in html
    assert "Readiness check recorded" in html
    # Other sessions of the series are on other days: one row only.
    assert html.count(" of 3 ") == 1
    assert BOARD not in _page(client_for(therapist))


def test_no_readiness_check_links_to_it(
    client_for: ClientFor, nurse: User, checked_in: Appointment
) -> None:
    html = _page(client_for(nurse))
    assert "Readiness check not recorded" in html
    assert 'href="/sessions/readiness/"' in html


def test_an_opened_session_shows_state_vitals_and_alerts(
    client_for: ClientFor, nurse: User, session: TreatmentSession
) -> None:
    _dosed(session, minutes_ago=40)
    charting.vitals_record(
        user=nurse,
        session=session,
        values={"systolic": 190, "diastolic": 110, "heart_rate": 88, "spo2": 97},
    )
    html = _page(client_for(nurse))
    assert "Monitoring" in html
    assert "1 open" in html  # the in-session alert from the high pressure
    assert "overdue" in html  # readings scheduled before now were not taken
    assert f'href="/sessions/{session.id}/"' in html
    assert "Open session" not in html


def test_states_by_word(client_for: ClientFor, nurse: User, session: TreatmentSession) -> None:
    html = _page(client_for(nurse))
    assert "Pre-check" in html
    services.session_abort(user=nurse, session=session, reason="Patient unwell on arrival.")
    html = _page(client_for(nurse))
    assert "Aborted" in html and "st-cancelled" in html
    assert f'href="/sessions/{session.id}/note/"' in html


def _more_sessions(
    n: int, course: Course, nurse: User, prescriber: User, site: Clinic
) -> list[TreatmentSession]:
    """``n`` further checked-in session appointments today, each in its own room, opened,
    dosed, with a set of vitals raising an alert."""
    start, _ = local_day_bounds(local_today(site.time_zone), site.time_zone)
    existing = Appointment.objects.filter(course=course).count()
    out = []
    for i in range(n):
        room = Room.objects.create(clinic=site, name=f"Chair {existing + i}", kind="treatment")
        begins = start + timedelta(minutes=30 + 80 * (existing + i))
        appointment = Appointment.objects.create(
            clinic=site,
            patient=course.patient,
            kind=Appointment.Kind.SESSION,
            course=course,
            sequence=existing + i + 1,
            starts_at=begins,
            ends_at=begins + timedelta(minutes=75),
            room=room,
            nurse=nurse,
            prescriber=prescriber,
            status=Appointment.Status.CHECKED_IN,
            booked_by=nurse,
        )
        opened = _dosed(services.session_open(user=nurse, appointment=appointment), 30)
        charting.vitals_record(
            user=nurse, session=opened, values={"systolic": 185, "diastolic": 100, "spo2": 96}
        )
        out.append(opened)
    return out


def test_query_count_does_not_grow_with_sessions(
    client_for: ClientFor,
    nurse: User,
    prescriber: User,
    site: Clinic,
    course: Course,
    readiness: DailyReadiness,
) -> None:
    client = client_for(nurse)
    _more_sessions(1, course, nurse, prescriber, site)
    client.get(TODAY)  # warm the per-request caches
    with CaptureQueriesContext(connection) as one:
        html = _page(client)
    assert html.count("Monitoring") == 1
    _more_sessions(4, course, nurse, prescriber, site)
    with CaptureQueriesContext(connection) as five:
        html = _page(client)
    assert html.count("Monitoring") == 5 and html.count("1 open") == 5
    assert len(five.captured_queries) == len(one.captured_queries)


@pytest.fixture
def awaiting(
    prescriber: User,
    session: TreatmentSession,
    course: Course,
) -> Course:
    """The course awaiting reassessment, its last session signed 40 days ago."""
    long_ago = timezone.now() - timedelta(days=40)
    TreatmentSession.objects.filter(id=session.id).update(
        status="signed", given_at=long_ago, signed_at=long_ago, signed_by=prescriber
    )
    Course.objects.filter(id=course.id).update(status=Course.Status.AWAITING_REASSESSMENT)
    course.refresh_from_db()
    return course


def test_reassessments_due_mark_the_prescribers_own(
    client_for: ClientFor, prescriber: User, director: User, awaiting: Course
) -> None:
    html = _page(client_for(prescriber))
    assert "Reassessments due" in html
    assert awaiting.patient.family_name in html
    assert f'href="/courses/{awaiting.id}/"' in html
    assert "Overdue by" in html and "badge-danger" in html
    assert "Yours" in html
    assert "Yours" not in _page(client_for(director))
