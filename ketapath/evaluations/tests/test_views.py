"""Evaluation pages: permissions, section saves, signing and addenda through the browser forms."""

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.evaluations import services
from ketapath.evaluations.models import Evaluation
from ketapath.evaluations.tests.factories import (
    complete_answers,
    complete_evaluation,
    record_measures,
)
from ketapath.patients.models import Patient

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]


def detail_url(evaluation: Evaluation) -> str:
    return reverse("evaluations:detail", kwargs={"evaluation_id": evaluation.id})


@pytest.fixture
def draft(prescriber: User, patient: Patient, site: Clinic) -> Evaluation:
    return services.evaluation_start(user=prescriber, patient=patient, clinic=site)


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("director", 200),
        ("prescriber", 200),
        ("nurse", 200),
        ("therapist", 200),
        ("front_desk", 403),
        ("biller", 403),
        ("privacy_officer", 403),
        ("clinic_admin", 403),
        ("other_clinic_nurse", 404),
    ],
)
def test_who_reads_the_evaluation_pages(
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    draft: Evaluation,
    persona: str,
    status: int,
) -> None:
    client = client_for(request.getfixturevalue(persona))
    assert client.get(detail_url(draft)).status_code == status
    list_url = reverse("evaluations:list", kwargs={"patient_id": draft.patient_id})
    assert client.get(list_url).status_code == status


def test_anonymous_is_sent_to_login(client: Client, draft: Evaluation) -> None:
    response = client.get(detail_url(draft))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_page_read_is_audited(client_for: ClientFor, nurse: User, draft: Evaluation) -> None:
    client_for(nurse).get(detail_url(draft))
    assert AuditEvent.objects.filter(
        user_id=nurse.id, action="read", object_type="evaluation", object_id=str(draft.id)
    ).exists()


def test_nurse_starts_and_drafts_but_cannot_sign(
    client_for: ClientFor, nurse: User, patient: Patient, site: Clinic
) -> None:
    client = client_for(nurse)
    response = client.post(reverse("evaluations:new", kwargs={"patient_id": patient.id}))
    evaluation = Evaluation.objects.get(patient=patient)
    assert response["Location"] == detail_url(evaluation)
    response = client.post(
        detail_url(evaluation),
        {"section": "first", "coexisting_mh_treated": "no", "ready_for_ketamine": "yes"},
    )
    assert response.status_code == 302
    evaluation.refresh_from_db()
    assert (evaluation.coexisting_mh_treated, evaluation.ready_for_ketamine) == ("no", "yes")
    page = client.get(detail_url(evaluation)).content.decode()
    assert "Sign evaluation" not in page
    sign = client.post(
        reverse("evaluations:sign", kwargs={"evaluation_id": evaluation.id}), {"decision": "accept"}
    )
    assert sign.status_code == 403
    evaluation.refresh_from_db()
    assert evaluation.status == "draft"


def test_therapist_reads_but_cannot_save(
    client_for: ClientFor, therapist: User, draft: Evaluation
) -> None:
    response = client_for(therapist).post(
        detail_url(draft), {"section": "first", "coexisting_mh_treated": "yes"}
    )
    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.coexisting_mh_treated == ""


def test_pain_condition_from_the_picklist_and_an_invalid_code(
    client_for: ClientFor, prescriber: User, draft: Evaluation
) -> None:
    client = client_for(prescriber)
    client.post(
        detail_url(draft), {"section": "pain_add", "choice": "crps|G90.512", "is_primary": "on"}
    )
    entry = draft.conditions.get()
    assert (entry.code, entry.catalogue_key, entry.is_primary) == ("G90.512", "crps", True)
    page = client.get(detail_url(draft)).content.decode()
    assert "Grade B, moderate" in page
    # A category header is not a billable code: the error is shown beside the field and
    # nothing is added.
    response = client.post(detail_url(draft), {"section": "pain_add", "other_code": "M54.5"})
    assert response.status_code == 200
    assert "not a billable code" in response.content.decode()
    assert draft.conditions.count() == 1


def test_live_proposal_shows_what_blocks_signing(
    client_for: ClientFor, prescriber: User, patient: Patient, site: Clinic
) -> None:
    record_measures(
        user=prescriber,
        patient=patient,
        clinic=site,
        phq9={**{str(i): 2 for i in range(1, 9)}, "9": 0},
    )
    evaluation = services.evaluation_start(user=prescriber, patient=patient, clinic=site)
    page = client_for(prescriber).get(detail_url(evaluation)).content.decode()
    assert "Still blocks signing" in page
    assert "Positive screen" in page


def test_prescriber_signs_and_the_page_becomes_read_only(
    client_for: ClientFor, prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    client = client_for(prescriber)
    response = client.post(
        reverse("evaluations:sign", kwargs={"evaluation_id": evaluation.id}), {"decision": "accept"}
    )
    assert response.status_code == 302
    evaluation.refresh_from_db()
    patient.refresh_from_db()
    assert evaluation.pathway == patient.pathway == "PAIN_SERIES"
    page = client.get(detail_url(evaluation)).content.decode()
    assert "Signed: Pain series" in page
    assert "Save section" not in page
    # Saving a section of a signed evaluation is refused and changes nothing.
    client.post(detail_url(evaluation), {"section": "first", "ready_for_ketamine": "no"})
    evaluation.refresh_from_db()
    assert evaluation.ready_for_ketamine == "yes"
    client.post(
        reverse("evaluations:addendum", kwargs={"evaluation_id": evaluation.id}),
        {"text": "Weight corrected to 79 kg."},
    )
    assert evaluation.addenda.get().text == "Weight corrected to 79 kg."
    chart = client.get(reverse("chart:patient", kwargs={"patient_id": patient.id})).content.decode()
    assert "Evaluations" in chart and "Pain series" in chart


def test_choosing_another_pathway_needs_a_reason(
    client_for: ClientFor, prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    url = reverse("evaluations:sign", kwargs={"evaluation_id": evaluation.id})
    response = client_for(prescriber).post(
        url, {"decision": "choose", "pathway": "BEHAVIORAL_HEALTH", "override_reason": ""}
    )
    assert response.status_code == 200
    assert services.MESSAGE_OVERRIDE_REASON in response.content.decode()
    evaluation.refresh_from_db()
    assert evaluation.status == "draft"


def test_only_the_director_reclassifies_contraindications(
    client_for: ClientFor, director: User, prescriber: User
) -> None:
    url = reverse("evaluations:classes")
    assert client_for(prescriber).get(url).status_code == 403
    client = client_for(director)
    assert client.get(url).status_code == 200
    data = {f"class_{key}": "absolute" for key in services.catalogue_keys()}
    data.update({"class_pregnancy": "relative", "reason": "Board decision"})
    assert client.post(url, data).status_code == 302
    page = client.get(url).content.decode()
    assert "version" in page


def test_policy_history_names_a_reclassified_contraindication(
    client_for: ClientFor, director: User, site: Clinic
) -> None:
    services.contraindication_classes_set(
        user=director, clinic=site, classes={"pregnancy": "relative"}, reason="Board decision"
    )
    page = client_for(director).get(reverse("clinics:policy")).content.decode()
    assert "Contraindication class of pregnancy: shipped class → relative" in page


def test_list_page_query_count_does_not_grow(
    client_for: ClientFor, prescriber: User, patient: Patient, site: Clinic
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(prescriber)
    url = reverse("evaluations:list", kwargs={"patient_id": patient.id})
    complete_evaluation(user=prescriber, patient=patient, clinic=site)
    services.evaluation_sign(user=prescriber, evaluation=Evaluation.objects.get(), accept=True)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(4):
        evaluation = services.evaluation_start(user=prescriber, patient=patient, clinic=site)
        services.evaluation_update(user=prescriber, evaluation=evaluation, data=complete_answers())
        services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    with CaptureQueriesContext(connection) as five:
        assert client.get(url).status_code == 200
    assert len(five) == len(one)
