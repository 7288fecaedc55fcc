"""Calendar feeds: the iCalendar file for a patient and for a staff member, the privacy rule
over every entry, secret and revocable addresses, the pages that make and revoke them, who
may open those pages, the audit trail and the feed's query count."""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import icalendar
import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, Room
from ketapath.core.errors import Forbidden
from ketapath.core.timeutils import local_today
from ketapath.notifications.privacy import privacy_problems
from ketapath.patients.models import ConsentDocument, ConsentKind, Enrolment, Patient
from ketapath.patients.services import consent_record
from ketapath.scheduling import booking, feeds, rules, services
from ketapath.scheduling.models import Appointment, CalendarFeed, Course
from ketapath.scheduling.tests.factories import approve, signed_evaluation
from ketapath.scheduling.tests.test_booking import PAIN, choices_of, rota

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], Client]

SITE_NAME = "Denver Ketamine Clinic"
TOKEN_IN_URL = re.compile(r"/ical/([A-Za-z0-9_-]{40,})\.ics")


# --- Realistic data: a booked series, single visits of every kind and status -------------


@pytest.fixture
def patient(make_patient: Callable[..., Patient]) -> Patient:
    return make_patient(given_name="Jordan", family_name="Doe")


@pytest.fixture
def clinic(site: Clinic) -> Clinic:
    return site


@pytest.fixture
def course(
    clinic: Clinic,
    director: User,
    prescriber: User,
    nurse: User,
    patient: Patient,
    consent_documents: dict[str, ConsentDocument],
) -> Course:
    approve(director=director, clinic=clinic, name=PAIN)
    rota(nurse, prescriber, clinic=clinic)
    consent_record(
        user=nurse,
        patient=patient,
        clinic=clinic,
        kind=ConsentKind.KETAMINE_TREATMENT,
        signed_by_name=patient.given_name,
    )
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=clinic)
    return services.course_create(
        user=prescriber,
        patient=patient,
        clinic=clinic,
        evaluation=evaluation,
        ordered_mg_per_kg=Decimal("0.6"),
    )


def at(days: int, hour: int = 16) -> datetime:
    """``days`` from today at ``hour`` UTC."""
    return (timezone.now() + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def visit(
    *,
    clinic: Clinic,
    patient: Patient,
    kind: str,
    days: int,
    clinician: User,
    booked_by: User,
    room: Room | None = None,
    status: str = Appointment.Status.BOOKED,
    reason: str = "",
    hour: int = 16,
) -> Appointment:
    start = at(days, hour)
    return Appointment.objects.create(
        clinic=clinic,
        patient=patient,
        kind=kind,
        starts_at=start,
        ends_at=start + timedelta(minutes=60),
        room=room or Room.objects.get(clinic=clinic, name="Treatment 1"),
        clinician=clinician,
        booked_by=booked_by,
        status=status,
        status_reason=reason,
    )


@pytest.fixture
def world(
    clinic: Clinic,
    other_site: Clinic,
    course: Course,
    patient: Patient,
    make_patient: Callable[..., Patient],
    front_desk: User,
    nurse: User,
    prescriber: User,
    therapist: User,
    other_clinic_nurse: User,
) -> dict[str, Any]:
    """Every kind and status of appointment for the patient, in and out of the feed window,
    at this site and another, and another patient's visit with the therapist."""
    proposals = booking.slot_proposals(
        user=front_desk, course=course, preferences=rules.Preferences()
    )
    sessions = booking.course_book(
        user=front_desk, course=course, choices=choices_of(proposals.proposals[0])
    )
    Appointment.objects.filter(pk=sessions[1].pk).update(
        status=Appointment.Status.CANCELLED, status_reason="Migraine flare; PHQ-9 score 21"
    )
    Appointment.objects.filter(pk=sessions[2].pk).update(status=Appointment.Status.COMPLETED)
    # A site name like the demo's, which itself breaks the privacy rule (given after
    # booking, whose messages refuse such a name).
    clinic.name = SITE_NAME
    clinic.address_line2 = "Suite 200"
    clinic.save()
    consult = Room.objects.create(clinic=clinic, name="Room 2", kind=Room.Kind.CONSULT)
    common = {"clinic": clinic, "patient": patient, "booked_by": front_desk, "room": consult}
    kinds = Appointment.Kind
    statuses = Appointment.Status
    visits = {
        "evaluation": visit(
            **common,
            kind=kinds.EVALUATION,
            days=-10,
            clinician=prescriber,
            status=statuses.COMPLETED,
        ),
        "follow_up": visit(
            **common,
            kind=kinds.FOLLOW_UP,
            days=-3,
            clinician=prescriber,
            status=statuses.NO_SHOW,
            reason="Depression; did not come",
        ),
        "therapy": visit(**common, kind=kinds.BEHAVIORAL_HEALTH, days=25, clinician=therapist),
        "therapy_cancelled": visit(
            **common,
            kind=kinds.BEHAVIORAL_HEALTH,
            days=26,
            clinician=therapist,
            status=statuses.CANCELLED,
            reason="PTSD symptoms, rescheduling",
        ),
        "checked_in": visit(
            **common,
            kind=kinds.FOLLOW_UP,
            days=27,
            clinician=prescriber,
            status=statuses.CHECKED_IN,
        ),
        "too_old": visit(**common, kind=kinds.EVALUATION, days=-40, clinician=prescriber),
        "too_far": visit(**common, kind=kinds.FOLLOW_UP, days=200, clinician=prescriber),
    }
    # The patient is also seen at the other site: not in the feed made at this one.
    Enrolment.objects.create(
        patient=patient,
        clinic=other_site,
        since=local_today(other_site.time_zone),
        enrolled_by=nurse,
    )
    elsewhere = visit(
        clinic=other_site,
        patient=patient,
        kind=kinds.EVALUATION,
        days=30,
        clinician=other_clinic_nurse,
        booked_by=other_clinic_nurse,
    )
    someone_else = make_patient(given_name="Morgan", family_name="Chen")
    other_patient_visit = visit(
        **{**common, "patient": someone_else},
        kind=kinds.BEHAVIORAL_HEALTH,
        days=31,
        clinician=therapist,
    )
    return {
        "sessions": sessions,
        "visits": visits,
        "elsewhere": elsewhere,
        "other_patient_visit": other_patient_visit,
        "someone_else": someone_else,
    }


def fetch(client: Client, raw: str) -> Any:
    return client.get(reverse("scheduling:feed_ics", args=[raw]))


def parse(body: bytes) -> dict[str, Any]:
    """The feed's events by UID."""
    cal = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def unfolded(body: bytes) -> str:
    """The file's text with folded lines joined, so no word is split across lines."""
    return body.decode().replace("\r\n ", "").replace("\r\n\t", "")


def uid(appointment: Appointment) -> str:
    return f"{appointment.id}@ketapath"


# --- The patient's feed -------------------------------------------------------------------


def test_patient_feed_lists_the_window_at_the_site_in_utc(
    client: Client, world: dict[str, Any], front_desk: User, patient: Patient, clinic: Clinic
) -> None:
    _, raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    response = fetch(client, raw)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    cal = icalendar.Calendar.from_ical(response.content)
    assert str(cal["PRODID"]) == "-//Ketapath//Appointments//EN"
    assert str(cal["VERSION"]) == "2.0"
    # The site's name is given without the word that would say what the clinic treats.
    assert str(cal["X-WR-CALNAME"]) == "Appointments — Denver Clinic"
    events = parse(response.content)
    visits = world["visits"]
    expected = [
        *world["sessions"],
        *(visits[k] for k in ("evaluation", "follow_up", "therapy", "therapy_cancelled")),
        visits["checked_in"],
    ]
    assert set(events) == {uid(a) for a in expected}
    for a in expected:
        event = events[uid(a)]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert start.utcoffset() == timedelta(0)
        assert start == a.starts_at.astimezone(UTC)
        assert end == a.ends_at.astimezone(UTC)
        assert str(event["SUMMARY"]).endswith("Appointment at Denver Clinic")
        assert str(event["LOCATION"]) == "100 Main St, Suite 200, Denver, CO 80202"
        assert str(event["DESCRIPTION"]) == (
            "Please arrive 15 minutes early. To change this appointment call (303) 555-0100."
        )
    first = world["sessions"][0]
    assert f"DTSTART:{first.starts_at.astimezone(UTC):%Y%m%dT%H%M%SZ}" in unfolded(response.content)


def test_cancelled_appointments_stay_in_the_feed_marked_cancelled(
    client: Client, world: dict[str, Any], front_desk: User, patient: Patient, clinic: Clinic
) -> None:
    _, raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    events = parse(fetch(client, raw).content)
    cancelled = [world["sessions"][1], world["visits"]["therapy_cancelled"]]
    for a in cancelled:
        event = events[uid(a)]
        assert str(event["STATUS"]) == "CANCELLED"
        assert str(event["SUMMARY"]) == "Cancelled: Appointment at Denver Clinic"
        assert str(event["TRANSP"]) == "TRANSPARENT"
    live = world["sessions"][0]
    assert str(events[uid(live)]["STATUS"]) == "CONFIRMED"
    assert "STATUS:CANCELLED" in unfolded(fetch(client, raw).content)


def test_patient_feed_keeps_the_privacy_rule(
    client: Client, world: dict[str, Any], front_desk: User, patient: Patient, clinic: Clinic
) -> None:
    _, raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    body = fetch(client, raw).content
    text = unfolded(body)
    assert privacy_problems(body.decode()) == []
    assert privacy_problems(text) == []
    for label in Appointment.Kind.labels:
        assert label not in text
    for leaked in ("Session 1", "Migraine", "PHQ", "Test Ketamine Clinics", patient.mrn):
        assert leaked not in text


# --- The staff member's feed ----------------------------------------------------------------


def test_staff_feed_has_only_their_visits_with_initials(
    client: Client,
    world: dict[str, Any],
    nurse: User,
    prescriber: User,
    therapist: User,
    patient: Patient,
    clinic: Clinic,
) -> None:
    sessions = world["sessions"]
    visits = world["visits"]
    _, raw = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    response = fetch(client, raw)
    assert response.status_code == 200
    cal = icalendar.Calendar.from_ical(response.content)
    assert str(cal["X-WR-CALNAME"]) == "My clinic schedule"
    events = parse(response.content)
    assert set(events) == {uid(a) for a in sessions}
    first = events[uid(sessions[0])]
    assert str(first["SUMMARY"]) == "Visit — Treatment 1 (J. D.)"
    assert str(first["LOCATION"]) == "Denver Clinic"
    assert first.decoded("DTSTART") == sessions[0].starts_at.astimezone(UTC)
    assert str(events[uid(sessions[1])]["STATUS"]) == "CANCELLED"

    _, raw = feeds.feed_create(user=therapist, clinic=clinic, staff=therapist)
    events = parse(fetch(client, raw).content)
    assert set(events) == {
        uid(visits["therapy"]),
        uid(visits["therapy_cancelled"]),
        uid(world["other_patient_visit"]),
    }
    assert str(events[uid(world["other_patient_visit"])]["SUMMARY"]) == "Visit — Room 2 (M. C.)"

    # The prescriber sees the sessions and their own single visits, not the other site's.
    _, raw = feeds.feed_create(user=prescriber, clinic=clinic, staff=prescriber)
    events = parse(fetch(client, raw).content)
    assert uid(world["elsewhere"]) not in events
    assert {uid(a) for a in sessions} <= set(events)
    assert uid(visits["evaluation"]) in events
    assert uid(visits["therapy"]) not in events


def test_staff_feed_keeps_the_privacy_rule_and_shows_no_names(
    client: Client, world: dict[str, Any], prescriber: User, patient: Patient, clinic: Clinic
) -> None:
    _, raw = feeds.feed_create(user=prescriber, clinic=clinic, staff=prescriber)
    body = fetch(client, raw).content
    text = unfolded(body)
    assert privacy_problems(body.decode()) == []
    assert privacy_problems(text) == []
    for label in Appointment.Kind.labels:
        assert label not in text
    someone_else: Patient = world["someone_else"]
    for leaked in (
        patient.given_name,
        patient.family_name,
        patient.mrn,
        someone_else.family_name,
        someone_else.mrn,
        "Migraine",
    ):
        assert leaked not in text
    assert "(J. D.)" in text


def test_room_and_site_names_are_filtered_through_the_privacy_rule(
    client: Client, world: dict[str, Any], nurse: User, clinic: Clinic
) -> None:
    Room.objects.filter(clinic=clinic, name="Treatment 1").update(name="Infusion Suite")
    _, raw = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    text = unfolded(fetch(client, raw).content)
    assert "Visit — Suite (J. D.)" in text
    assert privacy_problems(text) == []
    assert feeds.plain("Pain & Ketamine", "the clinic") == "the clinic"
    assert feeds.plain("Ketamine Pain", "the clinic") == "the clinic"
    assert feeds.plain("Depression Care Center", "x") == "Care Center"
    assert feeds.plain("Room G43", "Room") == "Room"


# --- Secret, revocable addresses --------------------------------------------------------


def test_revoked_and_unknown_tokens_get_the_same_404(
    client: Client, front_desk: User, patient: Patient, clinic: Clinic
) -> None:
    feed, raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    assert fetch(client, raw).status_code == 200
    feeds.feed_revoke(user=front_desk, feed=feed)
    revoked = fetch(client, raw)
    unknown = fetch(client, "x" * 43)
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.content == unknown.content
    assert feeds.feed_by_token(raw) is None
    feed.refresh_from_db()
    assert feed.revoked_by == front_desk


def test_only_the_hash_is_stored(front_desk: User, patient: Patient, clinic: Clinic) -> None:
    feed, raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    assert len(raw) >= 43
    assert feed.token_hash == feeds.token_hash(raw) != raw
    assert not CalendarFeed.objects.filter(token_hash=raw).exists()
    assert feeds.feed_by_token(raw) == feed


def test_a_new_feed_revokes_the_owners_previous_one(
    client: Client, front_desk: User, nurse: User, patient: Patient, clinic: Clinic
) -> None:
    old, old_raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    new, new_raw = feeds.feed_create(user=nurse, clinic=clinic, patient=patient)
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert old.revoked_by == nurse
    assert fetch(client, old_raw).status_code == 404
    assert fetch(client, new_raw).status_code == 200
    assert CalendarFeed.objects.filter(patient=patient, revoked_at__isnull=True).get() == new
    mine, _ = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    again, _ = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert feeds.live_staff_feed(staff=nurse) == again


def test_a_deactivated_staff_members_feed_stops(
    client: Client, nurse: User, clinic: Clinic
) -> None:
    _, raw = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    nurse.is_active = False
    nurse.save()
    assert fetch(client, raw).status_code == 404


def test_services_refuse_other_owners_and_roles(
    therapist: User,
    nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
    patient: Patient,
    clinic: Clinic,
    other_site: Clinic,
) -> None:
    with pytest.raises(Forbidden):
        feeds.feed_create(user=therapist, clinic=clinic, patient=patient)
    with pytest.raises(Forbidden):
        feeds.feed_create(user=front_desk, clinic=clinic, staff=nurse)
    with pytest.raises(Forbidden):
        feeds.feed_create(user=nurse, clinic=other_site, staff=nurse)
    with pytest.raises(Forbidden):
        feeds.feed_create(user=other_clinic_nurse, clinic=other_site, patient=patient)
    feed, _ = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    with pytest.raises(Forbidden):
        feeds.feed_revoke(user=front_desk, feed=feed)
    assert not CalendarFeed.objects.filter(patient=patient).exists()


def test_a_feed_has_exactly_one_owner(nurse: User, patient: Patient, clinic: Clinic) -> None:
    with pytest.raises(IntegrityError):
        CalendarFeed.objects.create(
            patient=patient, staff=nurse, clinic=clinic, token_hash="a" * 64, created_by=nurse
        )


# --- Use, audit and query count ---------------------------------------------------------------


def test_a_fetch_is_audited_and_marks_the_feed_used(
    client: Client, world: dict[str, Any], front_desk: User, patient: Patient, clinic: Clinic
) -> None:
    feed, raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    created = AuditEvent.objects.get(object_type="calendar_feed", action="create")
    assert created.username == front_desk.username
    assert created.patient_id == patient.id
    assert feed.last_used_at is None
    fetch(client, raw)
    feed.refresh_from_db()
    assert feed.last_used_at is not None
    event = AuditEvent.objects.get(object_type="calendar_feed", action="read")
    assert event.username == "calendar-feed"
    assert event.user_id is None
    assert event.patient_id == patient.id
    assert event.clinic_id == clinic.id
    assert event.object_id == str(feed.id)
    assert event.outcome == "success"
    assert event.detail["events"] == 8


def test_a_staff_feed_fetch_is_audited_without_a_patient(
    client: Client, nurse: User, clinic: Clinic
) -> None:
    feed, raw = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    fetch(client, raw)
    event = AuditEvent.objects.get(object_type="calendar_feed", action="read")
    assert event.username == "calendar-feed"
    assert event.patient_id is None
    assert event.detail["staff_id"] == str(nurse.id)
    assert event.object_id == str(feed.id)


def _many_visits(
    count: int, *, clinic: Clinic, patient: Patient, therapist: User, front_desk: User
) -> None:
    room = Room.objects.create(clinic=clinic, name=f"Consult {count}", kind=Room.Kind.CONSULT)
    for i in range(count):
        visit(
            clinic=clinic,
            patient=patient,
            kind=Appointment.Kind.BEHAVIORAL_HEALTH,
            days=i + 1,
            hour=15 + i % 3,
            clinician=therapist,
            booked_by=front_desk,
            room=room,
        )


@pytest.mark.parametrize("count", [2, 20])
def test_the_feeds_query_count_does_not_grow_with_appointments(
    client: Client,
    django_assert_max_num_queries: Any,
    count: int,
    clinic: Clinic,
    make_patient: Callable[..., Patient],
    therapist: User,
    front_desk: User,
) -> None:
    patient = make_patient(given_name="Sam", family_name="Lee")
    _many_visits(count, clinic=clinic, patient=patient, therapist=therapist, front_desk=front_desk)
    _, patient_raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    _, staff_raw = feeds.feed_create(user=therapist, clinic=clinic, staff=therapist)
    for raw in (patient_raw, staff_raw):
        with django_assert_max_num_queries(5):
            response = fetch(client, raw)
        assert len(parse(response.content)) == count


# --- Pages: who may open them, and what they do -------------------------------------------------


def page(patient: Patient) -> str:
    return reverse("scheduling:patient_feed", args=[patient.id])


def test_anonymous_users_are_sent_to_log_in(client: Client, patient: Patient) -> None:
    for url in (reverse("scheduling:staff_feed"), page(patient)):
        for response in (client.get(url), client.post(url, {"action": "create"})):
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("accounts:login")), url
    assert not CalendarFeed.objects.exists()


def test_front_desk_makes_a_patient_feed_shown_once(
    client_for: ClientFor, front_desk: User, patient: Patient, clinic: Clinic
) -> None:
    client = client_for(front_desk)
    response = client.get(page(patient))
    assert response.status_code == 200
    assert "has no calendar feed" in response.content.decode()
    created = client.post(page(patient), {"action": "create"})
    assert created.status_code == 200
    body = created.content.decode()
    assert "it will not be shown again" in body
    match = TOKEN_IN_URL.search(body)
    assert match is not None
    assert f"http://testserver/ical/{match.group(1)}.ics" in body
    feed = CalendarFeed.objects.get(patient=patient)
    assert feed.clinic == clinic
    assert feeds.feed_by_token(match.group(1)) == feed
    again = client.get(page(patient)).content.decode()
    assert match.group(1) not in again
    assert "Not used yet" in again
    assert AuditEvent.objects.filter(
        object_type="calendar_feed", action="create", patient_id=patient.id
    ).exists()
    assert AuditEvent.objects.filter(
        object_type="calendar_feed", action="read", patient_id=patient.id, user_id=front_desk.id
    ).exists()


def test_revoking_asks_for_confirmation_first(
    client_for: ClientFor, front_desk: User, patient: Patient, clinic: Clinic
) -> None:
    feed, raw = feeds.feed_create(user=front_desk, clinic=clinic, patient=patient)
    client = client_for(front_desk)
    confirm = client.get(page(patient) + "?confirm=revoke")
    assert "Revoke the calendar feed?" in confirm.content.decode()
    refused = client.post(page(patient), {"action": "revoke"})
    assert refused.status_code == 200
    assert "Tick the box to confirm." in refused.content.decode()
    assert feeds.feed_by_token(raw) == feed
    done = client.post(page(patient), {"action": "revoke", "confirm": "on"})
    assert done.status_code == 302
    assert feeds.feed_by_token(raw) is None
    assert AuditEvent.objects.filter(
        object_type="calendar_feed",
        action="update",
        patient_id=patient.id,
        detail__change="revoked",
    ).exists()


def test_replacing_asks_for_confirmation_and_revokes_the_old_address(
    client_for: ClientFor, nurse: User, clinic: Clinic
) -> None:
    old, old_raw = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    client = client_for(nurse)
    url = reverse("scheduling:staff_feed")
    assert "Replace the calendar address?" in client.get(url + "?confirm=replace").content.decode()
    refused = client.post(url, {"action": "create"})
    assert "Tick the box to confirm." in refused.content.decode()
    assert feeds.feed_by_token(old_raw) == old
    replaced = client.post(url, {"action": "create", "confirm": "on"})
    match = TOKEN_IN_URL.search(replaced.content.decode())
    assert match is not None
    assert feeds.feed_by_token(old_raw) is None
    new = feeds.feed_by_token(match.group(1))
    assert new is not None
    assert new.staff == nurse


@pytest.mark.parametrize("role", ["front_desk", "nurse", "prescriber", "director"])
def test_schedulers_at_the_site_open_the_patient_feed_page(
    request: pytest.FixtureRequest, client_for: ClientFor, role: str, patient: Patient
) -> None:
    user: User = request.getfixturevalue(role)
    assert client_for(user).get(page(patient)).status_code == 200


@pytest.mark.parametrize("role", ["therapist", "biller", "privacy_officer", "clinic_admin"])
def test_roles_without_scheduling_may_not_manage_a_patient_feed(
    request: pytest.FixtureRequest, client_for: ClientFor, role: str, patient: Patient
) -> None:
    client = client_for(request.getfixturevalue(role))
    assert client.get(page(patient)).status_code == 403
    assert client.post(page(patient), {"action": "create"}).status_code == 403
    assert not CalendarFeed.objects.exists()


def test_another_sites_staff_do_not_find_the_patient(
    client_for: ClientFor, other_clinic_nurse: User, patient: Patient
) -> None:
    client = client_for(other_clinic_nurse)
    assert client.get(page(patient)).status_code == 404
    assert client.post(page(patient), {"action": "create"}).status_code == 404
    assert not CalendarFeed.objects.exists()


@pytest.mark.parametrize("role", ["nurse", "therapist", "biller", "front_desk"])
def test_every_staff_member_with_a_site_has_their_own_feed_page(
    request: pytest.FixtureRequest, client_for: ClientFor, role: str, clinic: Clinic
) -> None:
    user: User = request.getfixturevalue(role)
    client = client_for(user)
    response = client.get(reverse("scheduling:staff_feed"))
    assert response.status_code == 200
    assert "My calendar feed" in response.content.decode()
    created = client.post(reverse("scheduling:staff_feed"), {"action": "create"})
    assert TOKEN_IN_URL.search(created.content.decode()) is not None
    feed = CalendarFeed.objects.get(staff=user)
    assert feed.clinic == clinic
    assert feed.created_by == user


def test_a_user_without_a_site_has_no_feed_page(client_for: ClientFor, clinic: Clinic) -> None:
    loner = User.objects.create_user(username="loner", password="correct-horse-battery")
    client = client_for(loner)
    assert client.get(reverse("scheduling:staff_feed")).status_code == 403
    assert client.post(reverse("scheduling:staff_feed"), {"action": "create"}).status_code == 403
    assert not CalendarFeed.objects.exists()


def test_the_staff_page_revokes_only_the_users_own_feed(
    client_for: ClientFor, nurse: User, therapist: User, clinic: Clinic
) -> None:
    _, nurse_raw = feeds.feed_create(user=nurse, clinic=clinic, staff=nurse)
    _, therapist_raw = feeds.feed_create(user=therapist, clinic=clinic, staff=therapist)
    client_for(therapist).post(
        reverse("scheduling:staff_feed"), {"action": "revoke", "confirm": "on"}
    )
    assert feeds.feed_by_token(therapist_raw) is None
    assert feeds.feed_by_token(nurse_raw) is not None


def test_the_pages_link_to_the_feeds(
    client_for: ClientFor, front_desk: User, patient: Patient, clinic: Clinic
) -> None:
    client = client_for(front_desk)
    appointments = client.get(reverse("scheduling:patient_appointments", args=[patient.id]))
    assert page(patient) in appointments.content.decode()
    day = client.get(reverse("scheduling:day"))
    assert reverse("scheduling:staff_feed") in day.content.decode()
