"""Scheduling pages: who may open each, the calendars' layout and query count, and the front
desk's path from ordering a course to booking, seeing and cancelling its sessions."""

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, Room
from ketapath.core.timeutils import local_today
from ketapath.patients.models import ConsentDocument, ConsentKind, Patient
from ketapath.patients.services import consent_record, consent_withdraw
from ketapath.scheduling import booking, rules, services
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests.factories import approve, signed_evaluation
from ketapath.scheduling.tests.test_booking import PAIN, choices_of, rota
from ketapath.scheduling.views import (
    MESSAGE_SERIES_BOOKED,
    Column,
    Placement,
    day_grid,
)

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], Client]

READERS = (
    "director",
    "prescriber",
    "nurse",
    "therapist",
    "front_desk",
    "biller",
    "privacy_officer",
    "clinic_admin",
)
WRITERS = ("director", "prescriber", "nurse", "front_desk")
READ_ONLY = ("therapist", "biller", "privacy_officer", "clinic_admin")


@pytest.fixture
def ready(
    director: User,
    prescriber: User,
    nurse: User,
    patient: Patient,
    site: Clinic,
    consent_documents: dict[str, ConsentDocument],
) -> Any:
    """An approved chronic-pain template, a rota, a current treatment consent and a signed
    evaluation: everything a course needs before the prescriber orders it."""
    approve(director=director, clinic=site, name=PAIN)
    rota(nurse, prescriber, clinic=site)
    consent_record(
        user=nurse,
        patient=patient,
        clinic=site,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name=patient.given_name,
    )
    return signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)


@pytest.fixture
def course(ready: Any, prescriber: User, patient: Patient, site: Clinic) -> Course:
    return services.course_create(
        user=prescriber,
        patient=patient,
        clinic=site,
        evaluation=ready,
        ordered_mg_per_kg=Decimal("0.6"),
    )


@pytest.fixture
def booked(front_desk: User, course: Course) -> list[Appointment]:
    result = booking.slot_proposals(user=front_desk, course=course, preferences=rules.Preferences())
    return booking.course_book(
        user=front_desk, course=course, choices=choices_of(result.proposals[0])
    )


def local_day(appointment: Appointment) -> date:
    return appointment.starts_at.astimezone(ZoneInfo(appointment.clinic.time_zone)).date()


def persona(request: pytest.FixtureRequest, name: str) -> User:
    user: User = request.getfixturevalue(name)
    return user


# --- Who may open each page -------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(client: Client, booked: list[Appointment]) -> None:
    a = booked[0]
    for url in (
        reverse("scheduling:day"),
        reverse("scheduling:week"),
        reverse("scheduling:patient_appointments", args=[a.patient_id]),
        reverse("scheduling:course_new", args=[a.patient_id]),
        reverse("scheduling:course", args=[a.course_id]),
        reverse("scheduling:cancel", args=[a.id]),
        reverse("scheduling:no_show", args=[a.id]),
        reverse("scheduling:replacement", args=[a.id]),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url
    for url in (
        reverse("scheduling:course_slots", args=[a.course_id]),
        reverse("scheduling:course_book", args=[a.course_id]),
        reverse("scheduling:check_in", args=[a.id]),
        reverse("scheduling:undo", args=[a.id]),
    ):
        response = client.post(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url


@pytest.mark.parametrize("role", READERS)
def test_every_role_at_the_site_reads_the_calendars_course_and_appointments(
    request: pytest.FixtureRequest, client_for: ClientFor, role: str, booked: list[Appointment]
) -> None:
    client = client_for(persona(request, role))
    a = booked[0]
    day = local_day(a).isoformat()
    for url in (
        f"{reverse('scheduling:day')}?date={day}",
        f"{reverse('scheduling:day')}?date={day}&by=staff",
        f"{reverse('scheduling:week')}?date={day}",
        f"{reverse('scheduling:week')}?date={day}&by=staff",
        reverse("scheduling:patient_appointments", args=[a.patient_id]),
        reverse("scheduling:course", args=[a.course_id]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert a.patient.display_name in response.content.decode(), url


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_cannot_change_or_book(
    request: pytest.FixtureRequest, client_for: ClientFor, role: str, booked: list[Appointment]
) -> None:
    client = client_for(persona(request, role))
    a = booked[0]
    body = client.get(reverse("scheduling:patient_appointments", args=[a.patient_id]))
    assert "Check in" not in body.content.decode()
    assert "Book a visit" not in body.content.decode()
    for url in (
        reverse("scheduling:cancel", args=[a.id]),
        reverse("scheduling:no_show", args=[a.id]),
    ):
        assert client.get(url).status_code == 403, url
    for url in (
        reverse("scheduling:check_in", args=[a.id]),
        reverse("scheduling:undo", args=[a.id]),
        reverse("scheduling:replacement", args=[a.id]),
        reverse("scheduling:course_slots", args=[a.course_id]),
        reverse("scheduling:course_book", args=[a.course_id]),
        reverse("scheduling:patient_appointments", args=[a.patient_id]),
    ):
        assert client.post(url, {"proposal": 0}).status_code == 403, url
    a.refresh_from_db()
    assert a.status == "booked"


@pytest.mark.parametrize("role", ("nurse", "front_desk", "therapist", "biller"))
def test_only_prescribers_order_a_course(
    request: pytest.FixtureRequest, client_for: ClientFor, role: str, patient: Patient
) -> None:
    client = client_for(persona(request, role))
    assert client.get(reverse("scheduling:course_new", args=[patient.id])).status_code == 403


@pytest.mark.parametrize("role", ("prescriber", "director"))
def test_prescribers_open_the_order_page(
    request: pytest.FixtureRequest, client_for: ClientFor, role: str, ready: Any, patient: Patient
) -> None:
    response = client_for(persona(request, role)).get(
        reverse("scheduling:course_new", args=[patient.id])
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "0.5–0.8 mg/kg" in body  # the approved template's range
    assert "Site ceiling" in body


@pytest.mark.parametrize("role", WRITERS)
def test_scheduling_roles_see_the_actions(
    request: pytest.FixtureRequest, client_for: ClientFor, role: str, booked: list[Appointment]
) -> None:
    client = client_for(persona(request, role))
    a = booked[0]
    url = reverse("scheduling:patient_appointments", args=[a.patient_id])
    now = timezone.now()
    later = now + timedelta(days=10)
    Appointment.objects.filter(pk=a.pk).update(starts_at=later, ends_at=later + timedelta(hours=1))
    text = client.get(url).content.decode()
    # Sessions of later days are cancelled, not checked in or marked missed.
    assert "Cancel…" in text and "Book a visit" in text
    assert "Check in" not in text and "No-show…" not in text
    Appointment.objects.filter(pk=a.pk).update(starts_at=now, ends_at=now + timedelta(minutes=75))
    text = client.get(url).content.decode()
    assert text.count("Check in<") == 1 and text.count("No-show…<") == 1
    assert client.get(reverse("scheduling:cancel", args=[a.id])).status_code == 200


def test_another_sites_staff_get_404_and_see_only_their_own_calendar(
    client_for: ClientFor, other_clinic_nurse: User, booked: list[Appointment]
) -> None:
    client = client_for(other_clinic_nurse)
    a = booked[0]
    for url in (
        reverse("scheduling:patient_appointments", args=[a.patient_id]),
        reverse("scheduling:course_new", args=[a.patient_id]),
        reverse("scheduling:course", args=[a.course_id]),
        reverse("scheduling:cancel", args=[a.id]),
        reverse("scheduling:replacement", args=[a.id]),
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("scheduling:check_in", args=[a.id]),
        reverse("scheduling:course_slots", args=[a.course_id]),
        reverse("scheduling:course_book", args=[a.course_id]),
    ):
        assert client.post(url, {"proposal": 0}).status_code == 404, url
    day = local_day(a).isoformat()
    calendar = client.get(f"{reverse('scheduling:day')}?date={day}")
    assert calendar.status_code == 200
    text = calendar.content.decode()
    assert "Chicago Site" in text
    assert a.patient.display_name not in text


def test_a_user_without_a_site_is_refused_the_calendar(
    client_for: ClientFor, make_user: Callable[..., User], site: Clinic
) -> None:
    loner = make_user("loner", site)  # an account with no role anywhere
    assert client_for(loner).get(reverse("scheduling:day")).status_code == 403
    assert client_for(loner).get(reverse("scheduling:week")).status_code == 403


def test_calendar_is_in_the_navigation_after_patients(
    client_for: ClientFor, front_desk: User
) -> None:
    body = client_for(front_desk).get(reverse("chart:today")).content.decode()
    assert body.index(">Patients<") < body.index(">Calendar<")


# --- The day grid -----------------------------------------------------------------------


def test_day_grid_spans_slots_and_splits_overlaps_into_lanes() -> None:
    columns = [
        Column("r1", "Treatment 1", "Treatment", ((8 * 60, 12 * 60),)),
        Column("r2", "Treatment 2", "Treatment", ((8 * 60, 12 * 60),)),
    ]
    grid = day_grid(
        columns=columns,
        placements=[
            Placement("r1", 9 * 60, 10 * 60 + 15, "a"),
            Placement("r1", 9 * 60 + 30, 10 * 60, "b"),  # overlaps a: a second lane
            Placement("r2", 11 * 60 + 50, 12 * 60 + 10, "c"),  # runs past the grid's end
            Placement("r9", 9 * 60, 10 * 60, "nowhere"),
        ],
        first_minute=8 * 60,
        last_minute=12 * 60,
    )
    assert [(c.label, lanes) for c, lanes in grid.headers] == [
        ("Treatment 1", 2),
        ("Treatment 2", 1),
    ]
    assert len(grid.rows) == 16 and grid.rows[0].label == "08:00" and grid.rows[0].on_hour
    placed = {
        cell.item: (r, cell.rowspan)
        for r, row in enumerate(grid.rows)
        for cell in row.cells
        if cell.item
    }
    assert placed == {"a": (4, 5), "b": (6, 2), "c": (15, 1)}
    # Every row holds 3 cells (two lanes and one column) less those covered by a block above.
    assert [len(row.cells) for row in grid.rows[4:10]] == [3, 2, 2, 1, 2, 3]


def test_day_grid_marks_closed_slots() -> None:
    grid = day_grid(
        columns=[Column("r1", "Room", "", ((9 * 60, 10 * 60),))],
        placements=[],
        first_minute=8 * 60,
        last_minute=11 * 60,
        slot_minutes=60,
    )
    assert [row.cells[0].off for row in grid.rows] == [True, False, True]


def test_day_calendar_query_count_does_not_grow_with_appointments(
    client_for: ClientFor,
    front_desk: User,
    nurse: User,
    prescriber: User,
    site: Clinic,
    make_patient: Callable[..., Patient],
) -> None:
    rota(nurse, prescriber, clinic=site)
    day = local_today(site.time_zone) + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    zone = ZoneInfo(site.time_zone)
    rooms = [
        Room.objects.create(clinic=site, name=f"Consult {i}", kind="consult") for i in range(10)
    ]

    def add(i: int) -> None:
        start = datetime.combine(day, time(9 + i % 7), tzinfo=zone)
        Appointment.objects.create(
            clinic=site,
            patient=make_patient(family_name=f"Many{i}"),
            kind=Appointment.Kind.FOLLOW_UP,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            room=rooms[i],
            clinician=prescriber if i % 2 else nurse,
            booked_by=front_desk,
        )

    client = client_for(front_desk)
    add(0)
    counts = {}
    for by in ("room", "staff"):
        url = f"{reverse('scheduling:day')}?date={day.isoformat()}&by={by}"
        client.get(url)
        with CaptureQueriesContext(connection) as one:
            client.get(url)
        counts[by] = len(one)
    for i in range(1, 10):
        add(i)
    for by in ("room", "staff"):
        url = f"{reverse('scheduling:day')}?date={day.isoformat()}&by={by}"
        with CaptureQueriesContext(connection) as ten:
            response = client.get(url)
        assert response.content.decode().count('class="cal-block"') == 10
        assert len(ten) == counts[by], by
    week = f"{reverse('scheduling:week')}?date={day.isoformat()}"
    with CaptureQueriesContext(connection) as many:
        client.get(week)
    Appointment.objects.filter(patient__family_name__startswith="Many").exclude(
        patient__family_name="Many0"
    ).delete()
    with CaptureQueriesContext(connection) as few:
        client.get(week)
    assert len(many) == len(few)


# --- Errors beside the fields, blockers ---------------------------------------------------


def test_order_outside_the_templates_range_is_refused_beside_the_dose(
    client_for: ClientFor, prescriber: User, ready: Any, patient: Patient
) -> None:
    response = client_for(prescriber).post(
        reverse("scheduling:course_new", args=[patient.id]),
        {"evaluation": str(ready.id), "ordered_mg_per_kg": "1.5"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert escape(services.MESSAGE_DOSE_RANGE.format(low="0.5", high="0.8")) in body
    assert 'id="id_ordered_mg_per_kg_error"' in body
    assert not Course.objects.filter(patient=patient).exists()


def test_course_page_lists_what_blocks_booking(
    client_for: ClientFor, front_desk: User, nurse: User, course: Course, patient: Patient
) -> None:
    client = client_for(front_desk)
    body = client.get(reverse("scheduling:course", args=[course.id])).content.decode()
    assert "Nothing blocks booking" in body
    consent = patient.consents.get(withdrawn_at__isnull=True, document__kind="ketamine_treatment")
    consent_withdraw(user=nurse, consent=consent, reason="Changed mind")
    body = client.get(reverse("scheduling:course", args=[course.id])).content.decode()
    assert "Nothing blocks booking" not in body
    assert "No current ketamine-treatment consent" in body


def test_cancel_needs_a_reason_and_a_confirmation(
    client_for: ClientFor, front_desk: User, booked: list[Appointment]
) -> None:
    url = reverse("scheduling:cancel", args=[booked[0].id])
    response = client_for(front_desk).post(url, {"reason": "", "confirm": ""})
    body = response.content.decode()
    assert "Give the reason." in body and "Tick the box to confirm." in body
    booked[0].refresh_from_db()
    assert booked[0].status == "booked"


def test_single_visit_clash_is_shown_beside_the_room(
    client_for: ClientFor,
    front_desk: User,
    prescriber: User,
    booked: list[Appointment],
    patient: Patient,
    site: Clinic,
    make_patient: Callable[..., Patient],
) -> None:
    first = booked[0]
    start = first.starts_at.astimezone(ZoneInfo(site.time_zone))
    response = client_for(front_desk).post(
        reverse("scheduling:patient_appointments", args=[make_patient().id]),
        {
            "kind": "follow_up",
            "day": start.date().isoformat(),
            "start": start.strftime("%H:%M"),
            "minutes": "30",
            "room": str(first.room_id),
            "clinician": str(prescriber.id),
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_room_error"' in body
    assert booking.MESSAGE_ROOM_TAKEN.format(i=1, room=first.room.name) in body


def test_refusals_name_the_clinician_not_an_id(
    client_for: ClientFor, front_desk: User, therapist: User, patient: Patient, site: Clinic
) -> None:
    consult = Room.objects.create(clinic=site, name="Consult 1", kind="consult")
    day = local_today(site.time_zone) + timedelta(days=14)
    response = client_for(front_desk).post(
        reverse("scheduling:patient_appointments", args=[patient.id]),
        {
            "kind": "behavioral_health",
            "day": day.isoformat(),
            "start": "10:00",
            "minutes": "50",
            "room": str(consult.id),
            "clinician": str(therapist.id),
        },
    )
    body = response.content.decode()
    assert escape(booking.MESSAGE_CLINICIAN.format(name=therapist.display_name)) in body
    errors = re.findall(r'<p class="error">(.*?)</p>', body)
    assert errors and not any(str(therapist.id) in e for e in errors)


def test_booking_a_single_visit(
    client_for: ClientFor,
    front_desk: User,
    prescriber: User,
    ready: Any,
    patient: Patient,
    site: Clinic,
) -> None:
    consult = Room.objects.create(clinic=site, name="Consult 1", kind="consult")
    day = local_today(site.time_zone) + timedelta(days=14)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    response = client_for(front_desk).post(
        reverse("scheduling:patient_appointments", args=[patient.id]),
        {
            "kind": "evaluation",
            "day": day.isoformat(),
            "start": "10:00",
            "minutes": "60",
            "room": str(consult.id),
            "clinician": str(prescriber.id),
        },
    )
    assert response.status_code == 302
    visit = Appointment.objects.get(patient=patient, kind="evaluation")
    local = visit.starts_at.astimezone(ZoneInfo(site.time_zone))
    assert (local.date(), local.time()) == (day, time(10))
    assert visit.clinician_id == prescriber.id


# --- From ordering a course to cancelling a session --------------------------------------


def test_order_find_slots_book_see_and_cancel(
    client_for: ClientFor,
    prescriber: User,
    front_desk: User,
    ready: Any,
    patient: Patient,
) -> None:
    ordering = client_for(prescriber)
    page = ordering.get(reverse("scheduling:course_new", args=[patient.id])).content.decode()
    assert f'value="{ready.id}"' in page and "checked" in page  # the valid one preselected
    response = ordering.post(
        reverse("scheduling:course_new", args=[patient.id]),
        {"evaluation": str(ready.id), "ordered_mg_per_kg": "0.6"},
    )
    course = Course.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == reverse("scheduling:course", args=[course.id])
    assert course.status == "planned" and course.ordered_mg_per_kg == Decimal("0.6")

    desk = client_for(front_desk)
    found = desk.post(reverse("scheduling:course_slots", args=[course.id]), {})
    body = found.content.decode()
    assert found.status_code == 200
    assert body.count("Book this series") == 3
    assert "Proposal 1: the earliest" in body

    booked = desk.post(reverse("scheduling:course_book", args=[course.id]), {"proposal": 0})
    assert booked.status_code == 302
    course.refresh_from_db()
    assert course.status == "scheduled"
    sessions = list(course.appointments.order_by("starts_at"))
    assert [s.sequence for s in sessions] == [1, 2, 3]
    page = desk.get(reverse("scheduling:course", args=[course.id])).content.decode()
    assert MESSAGE_SERIES_BOOKED.format(n=3) in page
    assert "The series is booked" in page
    assert "What blocks booking" not in page

    weeks: dict[date, int] = {}
    for s in sessions:
        day = local_day(s)
        for by in ("room", "staff"):
            calendar = desk.get(f"{reverse('scheduling:day')}?date={day}&by={by}").content.decode()
            assert patient.display_name in calendar
            assert f"Session {s.sequence} of 3" in calendar
        monday = day - timedelta(days=day.weekday())
        if monday not in weeks:
            week = desk.get(f"{reverse('scheduling:week')}?date={day}").content.decode()
            weeks[monday] = week.count("Session ")
    assert sum(weeks.values()) == 3

    # The last session: the greedy series packs sessions exactly 24 h apart, so only the
    # last one has room to move inside the window.
    middle = sessions[2]
    cancelled = desk.post(
        reverse("scheduling:cancel", args=[middle.id]),
        {"reason": "Car trouble", "confirm": "on"},
    )
    assert cancelled.status_code == 302
    assert cancelled["Location"] == reverse("scheduling:replacement", args=[middle.id])
    middle.refresh_from_db()
    assert (middle.status, middle.status_reason) == ("cancelled", "Car trouble")

    offer = desk.get(cancelled["Location"])
    text = offer.content.decode()
    assert "Book this replacement" in text
    form = offer.context["offer"]["form"]
    replaced = desk.post(cancelled["Location"], {name: form.initial[name] for name in form.fields})
    assert replaced.status_code == 302
    rebooked = Appointment.objects.get(course=course, sequence=3, status="booked")
    assert rebooked.starts_at == offer.context["offer"]["start"]
    listing = desk.get(
        reverse("scheduling:patient_appointments", args=[patient.id])
    ).content.decode()
    assert "Car trouble" in listing
    assert "Find a replacement" not in listing  # session 3 is booked again


def test_no_replacement_shows_the_course_flag(
    client_for: ClientFor, front_desk: User, nurse: User, booked: list[Appointment]
) -> None:
    from ketapath.accounts.models import Shift

    Shift.objects.filter(user=nurse).delete()  # nobody can watch a replacement session
    client = client_for(front_desk)
    response = client.post(
        reverse("scheduling:cancel", args=[booked[1].id]),
        {"reason": "Cannot come", "confirm": "on"},
        follow=True,
    )
    body = response.content.decode()
    assert "No replacement fits." in body
    assert "no replacement fits between its neighbours" in body
    chart = client.get(reverse("chart:patient", args=[booked[1].patient_id])).content.decode()
    assert "Needs attention" in chart


def test_check_in_and_undo_from_the_list(
    client_for: ClientFor, front_desk: User, booked: list[Appointment]
) -> None:
    client = client_for(front_desk)
    a = booked[0]
    # The patient arrives on the day: the session starts now.
    now = timezone.now()
    Appointment.objects.filter(pk=a.pk).update(
        starts_at=now, ends_at=now + (a.ends_at - a.starts_at)
    )
    back = reverse("scheduling:patient_appointments", args=[a.patient_id])
    response = client.post(reverse("scheduling:check_in", args=[a.id]), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    a.refresh_from_db()
    assert a.status == "checked_in"
    client.post(reverse("scheduling:undo", args=[a.id]))
    a.refresh_from_db()
    assert a.status == "booked" and a.checked_in_at is None
    # A link elsewhere is not followed.
    response = client.post(reverse("scheduling:check_in", args=[a.id]), {"next": "https://x.test/"})
    assert response["Location"] == back


def test_chart_card_lists_courses_and_links_to_appointments(
    client_for: ClientFor, front_desk: User, prescriber: User, booked: list[Appointment]
) -> None:
    a = booked[0]
    body = (
        client_for(front_desk).get(reverse("chart:patient", args=[a.patient_id])).content.decode()
    )
    assert "Courses and appointments" in body
    assert reverse("scheduling:course", args=[a.course_id]) in body
    assert reverse("scheduling:patient_appointments", args=[a.patient_id]) in body
    assert "Scheduled" in body and "session 1 of 3" in body
    assert reverse("scheduling:course_new", args=[a.patient_id]) not in body
    body = (
        client_for(prescriber).get(reverse("chart:patient", args=[a.patient_id])).content.decode()
    )
    assert reverse("scheduling:course_new", args=[a.patient_id]) in body
