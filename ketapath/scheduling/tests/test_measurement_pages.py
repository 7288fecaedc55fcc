"""Who may see a course's measurement schedule and the site's overdue list, and what they
show, in the pages and the API."""

from collections.abc import Callable
from datetime import timedelta

from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.scheduling import measurement
from ketapath.scheduling.models import Appointment, Course
from ketapath.scheduling.tests.test_pages import booked, course, ready  # noqa: F401

ClientFor = Callable[[User], Client]


def test_the_course_schedule_page_lists_items_with_their_status(
    client_for: ClientFor,
    nurse: User,
    booked: list[Appointment],  # noqa: F811
) -> None:
    course_id = booked[0].course_id
    response = client_for(nurse).get(reverse("scheduling:course_measurements", args=[course_id]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Before session 1" in text
    assert "Reassessment" in text
    assert "Follow-up, 12 weeks after the series" in text
    assert 'class="badge badge-neutral">Scheduled<' in text
    assert AuditEvent.objects.filter(
        object_type="measurement_schedule", object_id=str(course_id), action="read"
    ).exists()


def test_the_schedule_is_refused_outside_the_patients_sites(
    client: Client,
    client_for: ClientFor,
    other_clinic_nurse: User,
    api_client: Callable[[User], Client],
    booked: list[Appointment],  # noqa: F811
) -> None:
    course_id = booked[0].course_id
    url = reverse("scheduling:course_measurements", args=[course_id])
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    assert client.get(url).status_code == 302
    api = f"/api/v1/courses/{course_id}/measurement-schedule"
    assert api_client(other_clinic_nurse).get(api).status_code == 404
    assert Client().get(api).status_code == 401


def test_the_api_answers_the_contract_and_moves_with_the_appointment(
    api_client: Callable[[User], Client],
    front_desk: User,
    booked: list[Appointment],  # noqa: F811
) -> None:
    first = booked[0]
    api = f"/api/v1/courses/{first.course_id}/measurement-schedule"
    client = api_client(front_desk)
    items = client.get(api).json()["items"]
    assert items
    for item in items:
        assert {"instrument", "context", "due_at", "status"} <= set(item)
        assert item["status"] in measurement.STATUSES
    reassessment = [i for i in items if i["context"] == "reassessment"]
    assert {i["instrument"] for i in reassessment} >= {"pain-nrs", "peg"}
    # Moving the last session (by the ORM here; the booking service is tested elsewhere)
    # moves the reassessment with it: the schedule is computed from the appointments.
    last = booked[-1]
    Appointment.objects.filter(pk=last.pk).update(
        starts_at=last.starts_at + timedelta(days=1), ends_at=last.ends_at + timedelta(days=1)
    )
    moved = [i for i in client.get(api).json()["items"] if i["context"] == "reassessment"]
    assert moved[0]["due_at"] != reassessment[0]["due_at"]


def test_overdue_list_needs_a_questionnaire_role(
    client_for: ClientFor,
    front_desk: User,
    biller: User,
    booked: list[Appointment],  # noqa: F811
) -> None:
    url = reverse("scheduling:overdue_measurements")
    assert client_for(front_desk).get(url).status_code == 200
    assert client_for(biller).get(url).status_code == 403


def test_overdue_list_shows_a_lapsed_pre_session_questionnaire(
    client_for: ClientFor,
    nurse: User,
    booked: list[Appointment],  # noqa: F811
) -> None:
    # The first session already happened with nothing answered before it.
    first = booked[0]
    past = first.starts_at - timedelta(days=30)
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=past, ends_at=past + (first.ends_at - first.starts_at)
    )
    Course.objects.filter(pk=first.course_id).update(status=Course.Status.IN_PROGRESS)
    text = client_for(nurse).get(reverse("scheduling:overdue_measurements")).content.decode()
    assert "Before session 1" in text
    assert 'class="badge badge-warn">Overdue<' in text
    assert first.patient.display_name in text
