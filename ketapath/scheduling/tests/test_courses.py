"""Ordering a course from a signed evaluation: template choice, dose checks, permissions,
and the /api/v1 course endpoints."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.clinics.services import clinic_policy_update
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.evaluations.models import Evaluation
from ketapath.patients.models import Patient
from ketapath.scheduling import services
from ketapath.scheduling.models import Course
from ketapath.scheduling.tests.factories import approve, signed_evaluation

pytestmark = pytest.mark.django_db

PAIN = "Chronic pain — initial IM series"
MH_ANSWERS = {
    "coexisting_mh_treated": "yes",
    "conditions": [
        {"category": "pain", "catalogue_key": "migraine", "code": "G43.709"},
        {"category": "mental_health", "code": "F33.1", "is_primary": True},
    ],
}


def order(
    user: User, patient: Patient, site: Clinic, evaluation: Evaluation, dose: str = "0.6"
) -> Course:
    return services.course_create(
        user=user,
        patient=patient,
        clinic=site,
        evaluation=evaluation,
        ordered_mg_per_kg=Decimal(dose),
    )


def test_pain_series_course_follows_the_approved_chronic_pain_template(
    director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    template = approve(director=director, clinic=site, name=PAIN)
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    course = order(prescriber, patient, site, evaluation)
    assert (course.protocol, course.status, course.pain_measures_added) == (
        template,
        "planned",
        False,
    )
    assert AuditEvent.objects.filter(object_type="course", object_id=str(course.id)).exists()


def test_mental_health_course_follows_the_primary_diagnosis_with_pain_measured(
    director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    approve(director=director, clinic=site, name="Depression — induction")
    evaluation = signed_evaluation(
        prescriber=prescriber, patient=patient, clinic=site, **MH_ANSWERS
    )
    assert evaluation.pathway == "MENTAL_HEALTH_PRIMARY"
    course = order(prescriber, patient, site, evaluation)
    assert course.protocol.indication == "depression"
    assert course.pain_measures_added is True


def test_no_approved_template_is_a_clear_conflict(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    with pytest.raises(Conflict) as exc:
        order(prescriber, patient, site, evaluation)
    assert exc.value.code == "no_template"
    assert "chronic pain" in exc.value.message


def test_behavioral_health_gets_no_ketamine_course(
    director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    approve(director=director, clinic=site, name=PAIN)
    evaluation = signed_evaluation(
        prescriber=prescriber, patient=patient, clinic=site, ready_for_ketamine="no"
    )
    assert evaluation.pathway == "BEHAVIORAL_HEALTH"
    with pytest.raises(Conflict) as exc:
        order(prescriber, patient, site, evaluation)
    assert exc.value.code == "no_ketamine"
    assert not Course.objects.exists()


def test_an_expired_evaluation_cannot_start_a_course(
    director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    approve(director=director, clinic=site, name=PAIN)
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    Evaluation.objects.filter(pk=evaluation.pk).update(
        valid_until=evaluation.valid_until - timedelta(days=91)
    )
    evaluation.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        order(prescriber, patient, site, evaluation)
    assert exc.value.code == "evaluation_expired"


@pytest.mark.parametrize("dose", ["0.4", "0.9"])
def test_the_dose_must_be_in_the_template_range(
    director: User, prescriber: User, patient: Patient, site: Clinic, dose: str
) -> None:
    approve(director=director, clinic=site, name=PAIN)
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    with pytest.raises(InvalidInput) as exc:
        order(prescriber, patient, site, evaluation, dose)
    assert exc.value.errors[0].field == "ordered_mg_per_kg"


def test_a_lowered_site_ceiling_refuses_a_dose_the_template_allows(
    director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    approve(director=director, clinic=site, name=PAIN)
    clinic_policy_update(
        user=director,
        clinic=site,
        changes={"dose_ceiling_mg_per_kg": Decimal("0.6")},
        reason="Board",
    )
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    with pytest.raises(InvalidInput) as exc:
        order(prescriber, patient, site, evaluation, "0.7")
    assert "ceiling" in exc.value.errors[0].rule


def test_only_prescribers_order_and_one_open_course_at_a_time(
    director: User, prescriber: User, nurse: User, patient: Patient, site: Clinic
) -> None:
    approve(director=director, clinic=site, name=PAIN)
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    with pytest.raises(Forbidden):
        order(nurse, patient, site, evaluation)
    order(prescriber, patient, site, evaluation)
    with pytest.raises(Conflict) as exc:
        order(prescriber, patient, site, evaluation)
    assert exc.value.code == "open_course"


# --- API -------------------------------------------------------------------------------------

ApiClient = Callable[[User], Client]


def test_api_order_list_and_detail(
    api_client: ApiClient, director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    approve(director=director, clinic=site, name=PAIN)
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    client = api_client(prescriber)
    response = client.post(
        f"/api/v1/patients/{patient.id}/courses",
        {"evaluation": str(evaluation.id), "ordered_mg_per_kg": 0.6},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["patient"], body["status"]) == (str(patient.id), "planned")
    assert body["protocol"]["sessions"] == 3
    assert body["protocol"]["min_interval_hours"] == 24
    assert body["protocol"]["window_days"] == 7
    assert body["appointments"] == []
    assert body["ordered_mg_per_kg"] == 0.6
    listed = client.get(
        "/api/v1/courses", {"clinic": str(site.id), "status": "planned", "patient": str(patient.id)}
    ).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == body["id"]
    assert client.get(f"/api/v1/courses/{body['id']}").json()["id"] == body["id"]


def test_api_permissions(
    api_client: ApiClient,
    client: Client,
    director: User,
    prescriber: User,
    nurse: User,
    other_clinic_nurse: User,
    patient: Patient,
    site: Clinic,
) -> None:
    approve(director=director, clinic=site, name=PAIN)
    evaluation = signed_evaluation(prescriber=prescriber, patient=patient, clinic=site)
    url = f"/api/v1/patients/{patient.id}/courses"
    body = {"evaluation": str(evaluation.id), "ordered_mg_per_kg": 0.6}
    assert client.post(url, body, content_type="application/json").status_code == 401
    assert api_client(nurse).post(url, body, content_type="application/json").status_code == 403
    assert (
        api_client(other_clinic_nurse).post(url, body, content_type="application/json").status_code
        == 404
    )
    course = order(prescriber, patient, site, evaluation)
    assert client.get(f"/api/v1/courses/{course.id}").status_code == 401
    assert api_client(other_clinic_nurse).get(f"/api/v1/courses/{course.id}").status_code == 404
    assert api_client(other_clinic_nurse).get("/api/v1/courses").json()["count"] == 0
    assert api_client(nurse).get(f"/api/v1/courses/{course.id}").status_code == 200
