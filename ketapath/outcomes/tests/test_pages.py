"""Outcome pages: the reassessment with its decision form, the dashboard and its CSV, and
who may see what."""

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.outcomes import services
from ketapath.outcomes.models import CourseDecision
from ketapath.outcomes.tests.conftest import T0, dose, respond
from ketapath.patients.models import Patient
from ketapath.scheduling.models import Course

pytestmark = pytest.mark.django_db

Login = Callable[[User], Client]


def another_course(like: Course, patient: Patient, **fields: str) -> Course:
    """A course for ``patient`` ordered as ``like`` was (rows only)."""
    return Course.objects.create(
        patient=patient,
        clinic=like.clinic,
        evaluation=like.evaluation,
        protocol=like.protocol,
        pathway=like.pathway,
        ordered_mg_per_kg=like.ordered_mg_per_kg,
        ordered_by=like.ordered_by,
        ordered_at=like.ordered_at,
        **fields,
    )


@pytest.fixture
def reassessed(series: Callable[..., Course]) -> Course:
    course = series()
    respond(course.patient, "pain-nrs", 7, T0 - timedelta(days=1))
    respond(
        course.patient, "pain-nrs", 6, T0 + timedelta(days=4 + course.protocol.reassessment_days)
    )
    return course


def test_reassessment_page_shows_measures_and_proposal(
    client_for: Login, prescriber: User, reassessed: Course
) -> None:
    page = client_for(prescriber).get(reverse("outcomes:reassessment", args=[reassessed.id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Average pain, past week" in html
    assert "Minimal" in html  # 7 → 6 is a 14 % fall
    assert "consider behavioral health or referral" in html
    assert "Record the decision" in html
    assert AuditEvent.objects.filter(
        object_type="course_reassessment", object_id=reassessed.id
    ).exists()


def test_decision_form_errors_beside_fields_and_nothing_saved(
    client_for: Login, prescriber: User, reassessed: Course
) -> None:
    url = reverse("outcomes:decide", args=[reassessed.id])
    page = client_for(prescriber).post(url, {"decision": "continue", "rationale": ""})
    assert page.status_code == 422
    html = page.content.decode()
    assert services.MESSAGE_RATIONALE_REQUIRED in html
    assert services.MESSAGE_BENEFIT_REQUIRED in html
    assert not CourseDecision.objects.exists()


def test_decision_stop_from_the_page(
    client_for: Login, prescriber: User, reassessed: Course
) -> None:
    url = reverse("outcomes:decide", args=[reassessed.id])
    page = client_for(prescriber).post(
        url, {"decision": "stop", "rationale": "Pain 7 → 6 only; prefers to stop."}
    )
    assert page.status_code == 302
    assert page["Location"] == reverse("outcomes:reassessment", args=[reassessed.id])
    reassessed.refresh_from_db()
    assert reassessed.status == Course.Status.COMPLETED
    shown = client_for(prescriber).get(page["Location"]).content.decode()
    assert "Pain 7 → 6 only" in shown
    assert "Record the decision" not in shown


def test_decision_continue_goes_to_the_continuation_course(
    client_for: Login, prescriber: User, reassessed: Course
) -> None:
    page = client_for(prescriber).post(
        reverse("outcomes:decide", args=[reassessed.id]),
        {"decision": "continue", "rationale": "Wants to try more.", "benefit": "Sleeps better."},
    )
    assert page.status_code == 302
    continuation = Course.objects.get(parent=reassessed)
    assert page["Location"] == reverse("scheduling:course", args=[continuation.id])
    shown = client_for(prescriber).get(page["Location"]).content.decode()
    assert "Sleeps better." in shown  # the benefit that justifies it
    assert "3 sessions, 126 mg" in shown  # the exposure before it


def test_reassessment_page_permissions(
    client: Client,
    client_for: Login,
    reassessed: Course,
    nurse: User,
    front_desk: User,
    other_clinic_nurse: User,
) -> None:
    url = reverse("outcomes:reassessment", args=[reassessed.id])
    decide = reverse("outcomes:decide", args=[reassessed.id])
    assert client.get(url).status_code == 302
    assert client_for(other_clinic_nurse).get(url).status_code == 404
    assert client_for(front_desk).get(url).status_code == 403
    nurse_page = client_for(nurse).get(url)
    assert nurse_page.status_code == 200
    assert "Record the decision" not in nurse_page.content.decode()
    payload = {"decision": "stop", "rationale": "x"}
    assert client_for(nurse).post(decide, payload).status_code == 403
    assert client_for(other_clinic_nurse).post(decide, payload).status_code == 404
    assert not CourseDecision.objects.exists()


def test_dashboard_page_csv_and_validation(
    client_for: Login, nurse: User, reassessed: Course
) -> None:
    client = client_for(nurse)
    page = client.get(reverse("outcomes:dashboard"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Observational clinic data" in html
    assert "<svg" in html and "Pain response by group" in html
    assert reassessed.patient.family_name in html  # own site: the series is listed
    assert 'href="/outcomes/"' in html  # the navigation entry
    by_condition = client.get(reverse("outcomes:dashboard"), {"group_by": "condition"})
    assert by_condition.status_code == 200
    bad = client.get(
        reverse("outcomes:dashboard"), {"date_from": "2026-05-01", "date_to": "2026-04-01"}
    )
    assert bad.status_code == 422
    assert "The period must start on or before its end." in bad.content.decode()
    exported = client.get(reverse("outcomes:csv"), {"group_by": "pathway"})
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    assert "PAIN_SERIES" not in exported.content.decode()  # labels, not codes
    assert "Pain series" in exported.content.decode()
    assert AuditEvent.objects.filter(object_type="outcomes_summary", action="export").exists()


def test_dashboard_permissions_and_aggregates_only(
    client: Client,
    client_for: Login,
    make_user: Callable[..., User],
    make_patient: Callable[..., Patient],
    other_site: Clinic,
    front_desk: User,
    reassessed: Course,
    nurse: User,
    prescriber: User,
) -> None:
    url = reverse("outcomes:dashboard")
    assert client.get(url).status_code == 302
    assert client_for(front_desk).get(url).status_code == 403
    # A medical director of the other site sees this site's figures, but no patient.
    director = make_user("chicago_director", other_site, "medical_director")
    html = client_for(director).get(url).content.decode()
    assert "(aggregates only)" in html
    assert reassessed.patient.family_name not in html
    assert "Pain series" in html
    # A nurse of this site cannot ask for the other site at all.
    refused = client_for(nurse).get(url, {"clinic": str(other_site.id)})
    assert refused.status_code == 422


def test_dashboard_query_count_is_constant(
    client_for: Login,
    nurse: User,
    prescriber: User,
    reassessed: Course,
    make_patient: Callable[..., Patient],
) -> None:
    client = client_for(nurse)
    client.get(reverse("outcomes:dashboard"))  # warm the caches
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("outcomes:dashboard"))
    for n in range(4):
        patient = make_patient(given_name=f"More{n}")
        course = another_course(reassessed, patient)
        dose(course, T0 + timedelta(days=n), nurse=nurse, prescriber=prescriber)
        respond(patient, "pain-nrs", 6, T0 - timedelta(days=2))
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("outcomes:dashboard"))
    assert "More3" in page.content.decode()
    assert len(many) == len(few)


def test_course_page_links_to_the_reassessment(
    client_for: Login, prescriber: User, reassessed: Course
) -> None:
    html = client_for(prescriber).get(reverse("scheduling:course", args=[reassessed.id]))
    assert reverse("outcomes:reassessment", args=[reassessed.id]) in html.content.decode()


# --- Reassessments awaiting a decision -------------------------------------------------------


def test_due_list_states(
    client_for: Login, prescriber: User, series: Callable[..., Course]
) -> None:
    course = series()
    url = reverse("outcomes:due")
    # The window (due date minus 3 days to due date plus 28) closed weeks ago, no answer.
    html = client_for(prescriber).get(url).content.decode()
    assert course.patient.family_name in html
    assert "Overdue: window closed" in html
    due = T0 + timedelta(days=4 + course.protocol.reassessment_days)
    respond(course.patient, "pain-nrs", 6, due)
    html = client_for(prescriber).get(url).content.decode()
    assert "Measures in: decide" in html
    assert reverse("outcomes:reassessment", args=[course.id]) in html
    assert AuditEvent.objects.filter(object_type="reassessments_due", action="read").exists()
    # Decided courses leave the list.
    services.course_decide(user=prescriber, course=course, decision="stop", rationale="No change.")
    html = client_for(prescriber).get(url).content.decode()
    assert course.patient.family_name not in html
    assert "No course at your sites is awaiting its reassessment." in html


def test_due_state_before_and_inside_the_window(
    prescriber: User, series: Callable[..., Course]
) -> None:
    from ketapath.outcomes import selectors

    course = series()
    row = selectors.reassessments_due(user=prescriber).get()
    due = T0 + timedelta(days=4 + course.protocol.reassessment_days)
    early = timedelta(days=selectors.REASSESSMENT_EARLY_DAYS)
    late = timedelta(days=selectors.REASSESSMENT_LATE_DAYS)
    at = selectors.due_state
    assert at(row, now=due - early - timedelta(minutes=1)).state == selectors.DueState.NOT_YET
    assert at(row, now=due - early).state == selectors.DueState.OPEN
    assert at(row, now=due + late).state == selectors.DueState.OPEN
    assert at(row, now=due + late + timedelta(minutes=1)).state == selectors.DueState.OVERDUE
    assert at(row, now=due).due_on == due.astimezone(ZoneInfo(course.clinic.time_zone)).date()


def test_due_list_permissions(
    client: Client,
    client_for: Login,
    front_desk: User,
    biller: User,
    other_clinic_nurse: User,
    series: Callable[..., Course],
) -> None:
    course = series()
    url = reverse("outcomes:due")
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for role in (front_desk, biller):
        assert client_for(role).get(url).status_code == 403
    other = client_for(other_clinic_nurse).get(url)
    assert other.status_code == 200
    assert course.patient.family_name not in other.content.decode()


def test_due_list_query_count_is_constant(
    client_for: Login,
    nurse: User,
    prescriber: User,
    series: Callable[..., Course],
    make_patient: Callable[..., Patient],
) -> None:
    first = series()
    client = client_for(nurse)
    client.get(reverse("outcomes:due"))  # warm the caches
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("outcomes:due"))
    for n in range(4):
        patient = make_patient(given_name=f"Due{n}")
        course = another_course(first, patient, status=Course.Status.AWAITING_REASSESSMENT)
        dose(course, T0 + timedelta(days=n), nurse=nurse, prescriber=prescriber)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("outcomes:due"))
    assert "Due3" in page.content.decode()
    assert len(many) == len(few)
