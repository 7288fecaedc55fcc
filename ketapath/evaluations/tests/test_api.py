"""The evaluations API (issue 4 "API contract"): paths, fields, status codes, permissions
on every endpoint, auditing and the list's query count."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import (
    MESSAGE_CO_SIGN_BAD_CREDENTIALS,
    MESSAGE_CO_SIGN_NOT_ALLOWED,
)
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.conftest import PASSWORD
from ketapath.core.api import MESSAGE_UNAUTHENTICATED
from ketapath.core.timeutils import local_today
from ketapath.evaluations import catalogue, rules, services
from ketapath.evaluations.models import Addendum, Evaluation
from ketapath.evaluations.tests.factories import (
    answers,
    complete_answers,
    complete_evaluation,
    record_measures,
)
from ketapath.patients.models import Patient

pytestmark = pytest.mark.django_db

ApiClient = Callable[[User], Client]

PROPOSAL_KEYS = {
    "pathway",
    "eligibility",
    "reasons",
    "blocking",
    "prompts",
    "precautions",
    "absolute",
    "series_blocked",
}
MIGRAINE = {"category": "pain", "catalogue_key": "migraine", "code": "G43.709"}
MDD_RECURRENT_MODERATE = {"category": "mental_health", "code": "F33.1"}
OVERRIDE_REASON = "Reaction was to a co-induction agent, not ketamine"


def list_url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.id}/evaluations"


def eval_url(evaluation: Evaluation, suffix: str = "") -> str:
    return f"/api/v1/evaluations/{evaluation.id}{suffix}"


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, body, content_type="application/json")


def put(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.put(url, body, content_type="application/json")


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def sign(evaluation: Evaluation, user: User) -> Evaluation:
    return services.evaluation_sign(user=user, evaluation=evaluation, accept=True)


@pytest.fixture
def ready(prescriber: User, patient: Patient, site: Clinic) -> Evaluation:
    """A complete draft that proposes the pain series, nothing blocking."""
    return complete_evaluation(user=prescriber, patient=patient, clinic=site)


@pytest.fixture
def signed(ready: Evaluation, prescriber: User) -> Evaluation:
    return sign(ready, prescriber)


@pytest.fixture
def hypersensitive(prescriber: User, patient: Patient, site: Clinic) -> Evaluation:
    contraindications = {key: {"present": "no"} for key in services.catalogue_keys()}
    contraindications["ketamine_hypersensitivity"] = {"present": "yes"}
    return complete_evaluation(
        user=prescriber, patient=patient, clinic=site, contraindications=contraindications
    )


# POST /patients/{id}/evaluations ------------------------------------------------------------


def test_create_a_draft_with_its_first_answers(
    api_client: ApiClient, nurse: User, patient: Patient, site: Clinic
) -> None:
    response = post(
        api_client(nurse),
        list_url(patient),
        {"coexisting_mh_treated": "no", "pain_history": "Migraine since 2019"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert (body["patient"], body["clinic"], body["author"]) == (
        str(patient.id),
        str(site.id),
        str(nurse.id),
    )
    assert body["fields"]["pain_history"] == "Migraine since 2019"
    assert body["fields"]["coexisting_mh_treated"] == "no"
    assert set(body["proposal"]) == PROPOSAL_KEYS
    assert rules.BLOCK_PAIN_CONDITION in body["proposal"]["blocking"]
    assert rules.BLOCK_COEXISTING not in body["proposal"]["blocking"]
    for key in ("pathway", "signed_by", "signed_at", "valid_until", "measures"):
        assert body[key] is None, key
    assert body["created_at"].endswith(("-07:00", "-06:00"))
    assert Evaluation.objects.get().id.hex == body["id"].replace("-", "")


def test_create_with_nothing_starts_an_empty_draft(
    api_client: ApiClient, prescriber: User, patient: Patient
) -> None:
    response = post(api_client(prescriber), list_url(patient), {})
    assert response.status_code == 201
    assert rules.BLOCK_COEXISTING in response.json()["proposal"]["blocking"]


def test_second_draft_is_409(api_client: ApiClient, nurse: User, patient: Patient) -> None:
    client = api_client(nurse)
    assert post(client, list_url(patient), {}).status_code == 201
    second = post(client, list_url(patient), {"pain_history": "x"})
    assert second.status_code == 409
    assert second.json()["code"] == "draft_exists"
    assert second.json()["detail"] == services.MESSAGE_DRAFT_EXISTS


def test_invalid_first_answers_create_nothing(
    api_client: ApiClient, nurse: User, patient: Patient
) -> None:
    response = post(
        api_client(nurse),
        list_url(patient),
        {"pain_history": "x", "conditions": [{"category": "pain", "code": "M54.5"}]},
    )
    assert response.status_code == 422
    assert fields(response) == ["conditions.0.code"]
    assert not Evaluation.objects.exists()
    assert not AuditEvent.objects.filter(object_type="evaluation").exists()


def test_wire_choices_are_checked_by_the_schema(
    api_client: ApiClient, nurse: User, patient: Patient
) -> None:
    response = post(api_client(nurse), list_url(patient), {"could_be_pregnant": "maybe"})
    assert response.status_code == 422
    assert fields(response) == ["could_be_pregnant"]
    assert not Evaluation.objects.exists()


# GET /patients/{id}/evaluations -------------------------------------------------------------


def test_list_shows_proposal_and_signed_pathway(
    api_client: ApiClient, signed: Evaluation, nurse: User, patient: Patient, site: Clinic
) -> None:
    draft = services.evaluation_start(user=nurse, patient=patient, clinic=site)
    body = api_client(nurse).get(list_url(patient)).json()
    assert body["count"] == 2 and set(body) == {"items", "count"}
    newest, oldest = body["items"]
    assert newest["id"] == str(draft.id) and oldest["id"] == str(signed.id)
    assert newest["status"] == "draft" and newest["pathway"] is None
    assert newest["valid_until"] is None and newest["signed_at"] is None
    assert oldest["status"] == "signed" and oldest["pathway"] == rules.PAIN_SERIES
    assert oldest["signed_by_name"] == "Prescriber Tester"
    assert oldest["valid_until"] == str(local_today(site.time_zone) + timedelta(days=90))
    for item in body["items"]:
        assert set(item["proposal"]) == PROPOSAL_KEYS
    assert oldest["proposal"]["pathway"] == rules.PAIN_SERIES
    assert oldest["proposal"]["eligibility"] == rules.ELIGIBLE
    assert oldest["proposal"]["blocking"] == []
    assert rules.REASON_PAIN_SERIES in oldest["proposal"]["reasons"]


def test_list_is_paginated(
    api_client: ApiClient, signed: Evaluation, nurse: User, patient: Patient, site: Clinic
) -> None:
    services.evaluation_start(user=nurse, patient=patient, clinic=site)
    client = api_client(nurse)
    first = client.get(list_url(patient), {"page_size": 1}).json()
    second = client.get(list_url(patient), {"page_size": 1, "page": 2}).json()
    assert first["count"] == second["count"] == 2
    assert [len(first["items"]), len(second["items"])] == [1, 1]
    assert second["items"][0]["id"] == str(signed.id)
    assert client.get(list_url(patient), {"page_size": 500}).status_code == 422


# GET /evaluations/{id} ----------------------------------------------------------------------


def test_detail_of_a_signed_evaluation(
    api_client: ApiClient, signed: Evaluation, therapist: User, prescriber: User, site: Clinic
) -> None:
    response = api_client(therapist).get(eval_url(signed))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "signed"
    assert body["pathway"] == rules.PAIN_SERIES
    assert body["signed_by"] == str(prescriber.id)
    assert body["signed_at"].endswith(("-07:00", "-06:00"))
    assert body["valid_until"] == str(local_today(site.time_zone) + timedelta(days=90))
    assert body["accepted_proposal"] is True and body["co_signed_by"] is None
    assert {k: body["proposal"][k] for k in ("pathway", "eligibility", "blocking")} == {
        "pathway": rules.PAIN_SERIES,
        "eligibility": rules.ELIGIBLE,
        "blocking": [],
    }
    assert isinstance(body["proposal"]["reasons"], list) and body["proposal"]["reasons"]
    (condition,) = body["conditions"]
    assert (condition["code"], condition["catalogue_key"], condition["is_primary"]) == (
        "G43.709",
        "migraine",
        True,
    )
    evidence = catalogue.pain_condition("migraine").evidence
    assert condition["evidence"]["summary"] == evidence.summary
    assert body["measures"]["baseline_pain"]["total"] == 7
    assert body["fields"]["prior_treatments"][0]["treatment"] == "Topiramate"
    assert body["addenda"] == []


def test_detail_of_an_unknown_evaluation_is_404(api_client: ApiClient, nurse: User) -> None:
    response = api_client(nurse).get("/api/v1/evaluations/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404


def test_reads_are_audited(
    api_client: ApiClient, signed: Evaluation, therapist: User, patient: Patient
) -> None:
    client = api_client(therapist)
    client.get(eval_url(signed))
    read = AuditEvent.objects.get(
        action="read", object_type="evaluation", object_id=str(signed.id), user_id=therapist.id
    )
    assert read.patient_id == patient.id and read.outcome == "success"
    client.get(list_url(patient))
    listed = AuditEvent.objects.get(
        action="read", object_type="evaluation", object_id="", user_id=therapist.id
    )
    assert listed.patient_id == patient.id and listed.detail["list"] is True


def test_denied_reads_are_audited(
    api_client: ApiClient, signed: Evaluation, front_desk: User, patient: Patient
) -> None:
    assert api_client(front_desk).get(eval_url(signed)).status_code == 403
    assert AuditEvent.objects.filter(
        user_id=front_desk.id, patient_id=patient.id, outcome="denied"
    ).exists()
    assert not AuditEvent.objects.filter(
        user_id=front_desk.id, object_type="evaluation", outcome="success"
    ).exists()


# PATCH /evaluations/{id} --------------------------------------------------------------------


def test_patch_saves_and_answers_the_live_proposal(
    api_client: ApiClient, ready: Evaluation, nurse: User
) -> None:
    response = patch(
        api_client(nurse),
        eval_url(ready),
        {"coexisting_mh_treated": "yes", "conditions": [MIGRAINE, MDD_RECURRENT_MODERATE]},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(c["category"], c["code"]) for c in body["conditions"]] == [
        ("mental_health", "F33.1"),
        ("pain", "G43.709"),
    ]
    assert body["proposal"]["pathway"] == rules.MENTAL_HEALTH_PRIMARY
    assert body["proposal"]["blocking"] == []
    stored = Evaluation.objects.get(pk=ready.pk)
    assert stored.proposal["pathway"] == rules.MENTAL_HEALTH_PRIMARY


def test_patch_merges_contraindications_and_keeps_unsent_fields(
    api_client: ApiClient, ready: Evaluation, nurse: User
) -> None:
    response = patch(
        api_client(nurse),
        eval_url(ready),
        {"contraindications": {"liver_disease": {"present": "yes"}}},
    )
    body = response.json()
    assert body["fields"]["contraindications"]["liver_disease"] == {
        "present": "yes",
        "mitigation": "",
    }
    assert body["fields"]["contraindications"]["pregnancy"]["present"] == "no"
    assert body["fields"]["pain_history"] == "Daily migraine for three years."
    assert body["proposal"]["eligibility"] == rules.ELIGIBLE_WITH_PRECAUTIONS
    label = catalogue.contraindication("liver_disease").label
    assert rules.BLOCK_MITIGATION.format(label=label) in body["proposal"]["blocking"]
    assert rules.PROMPT_LIVER_TESTS in body["proposal"]["prompts"]


def test_patch_invalid_is_422_and_saves_nothing(
    api_client: ApiClient, ready: Evaluation, nurse: User
) -> None:
    response = patch(
        api_client(nurse),
        eval_url(ready),
        {
            "pain_history": "Rewritten",
            "conditions": [{"category": "mental_health", "code": "G43.709"}],
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "conditions.0.code", "rule": services.MESSAGE_MH_CODE}
    ]
    assert Evaluation.objects.get(pk=ready.pk).pain_history == "Daily migraine for three years."


def test_patch_signed_is_409(api_client: ApiClient, signed: Evaluation, nurse: User) -> None:
    response = patch(api_client(nurse), eval_url(signed), {"pain_history": "Rewritten"})
    assert response.status_code == 409
    assert response.json()["code"] == "signed"
    assert Evaluation.objects.get(pk=signed.pk).pain_history == "Daily migraine for three years."


# POST /evaluations/{id}/sign ----------------------------------------------------------------


def test_sign_accepting_the_proposal(
    api_client: ApiClient, ready: Evaluation, prescriber: User, patient: Patient, site: Clinic
) -> None:
    response = post(api_client(prescriber), eval_url(ready, "/sign"), {"accept": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "signed" and body["pathway"] == rules.PAIN_SERIES
    assert body["signed_by"] == str(prescriber.id)
    assert body["signed_at"] is not None
    assert body["valid_until"] == str(local_today(site.time_zone) + timedelta(days=90))
    assert body["measures"]["allergies"] == "none_known"
    patient.refresh_from_db()
    assert patient.pathway == rules.PAIN_SERIES


def test_sign_blocked_is_409_with_the_blocking_items(
    api_client: ApiClient, prescriber: User, patient: Patient, site: Clinic
) -> None:
    record_measures(user=prescriber, patient=patient, clinic=site, phq9={**answers(8, 2), "9": 0})
    evaluation = services.evaluation_start(user=prescriber, patient=patient, clinic=site)
    services.evaluation_update(user=prescriber, evaluation=evaluation, data=complete_answers())
    response = post(api_client(prescriber), eval_url(evaluation, "/sign"), {"accept": True})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "blocked"
    assert body["detail"] == services.MESSAGE_BLOCKED.format(count=1)
    (error,) = body["errors"]
    assert error["field"] == "blocking" and "positive screen for depression" in error["rule"]
    assert Evaluation.objects.get(pk=evaluation.pk).status == "draft"


def test_sign_already_signed_is_409(
    api_client: ApiClient, signed: Evaluation, director: User
) -> None:
    response = post(api_client(director), eval_url(signed, "/sign"), {"accept": True})
    assert response.status_code == 409
    assert response.json()["code"] == "already_signed"
    assert response.json()["detail"] == services.MESSAGE_SIGNED


def test_sign_another_pathway_needs_a_reason(
    api_client: ApiClient, ready: Evaluation, prescriber: User
) -> None:
    client = api_client(prescriber)
    url = eval_url(ready, "/sign")
    missing = post(client, url, {"accept": False, "pathway": rules.BEHAVIORAL_HEALTH})
    assert missing.status_code == 422
    assert fields(missing) == ["override_reason"]
    bad = post(
        client, url, {"accept": False, "pathway": "KETAMINE_FOREVER", "override_reason": "x"}
    )
    assert bad.status_code == 422 and fields(bad) == ["pathway"]
    response = post(
        client,
        url,
        {
            "accept": False,
            "pathway": rules.BEHAVIORAL_HEALTH,
            "override_reason": "Prefers psychotherapy first",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["pathway"] == rules.BEHAVIORAL_HEALTH
    assert body["accepted_proposal"] is False
    assert body["override_reason"] == "Prefers psychotherapy first"
    assert body["proposal"]["pathway"] == rules.PAIN_SERIES


def test_sign_needs_a_choice_when_nothing_is_proposed(
    api_client: ApiClient, prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(
        user=prescriber,
        patient=patient,
        clinic=site,
        coexisting_mh_treated="yes",
        conditions=[MIGRAINE, {"category": "mental_health", "code": "F41.1"}],
    )
    response = post(api_client(prescriber), eval_url(evaluation, "/sign"), {"accept": True})
    assert response.status_code == 409
    assert response.json()["code"] == "choice_required"


def test_sign_override_with_the_directors_cosign(
    api_client: ApiClient,
    hypersensitive: Evaluation,
    prescriber: User,
    director: User,
    make_user: Callable[..., User],
    site: Clinic,
) -> None:
    make_user("prescriber2", site, Role.PRESCRIBER)
    client = api_client(prescriber)
    url = eval_url(hypersensitive, "/sign")
    body: dict[str, Any] = {
        "accept": False,
        "pathway": rules.PAIN_SERIES,
        "override_reason": OVERRIDE_REASON,
    }
    missing = post(client, url, body)
    assert missing.status_code == 422
    assert missing.json()["code"] == "co_sign_required" and fields(missing) == ["co_sign"]
    wrong = post(client, url, {**body, "co_sign": {"username": "director", "password": "nope"}})
    assert wrong.status_code == 422
    assert wrong.json()["errors"] == [
        {"field": "co_sign.password", "rule": MESSAGE_CO_SIGN_BAD_CREDENTIALS}
    ]
    peer = post(client, url, {**body, "co_sign": {"username": "prescriber2", "password": PASSWORD}})
    assert peer.status_code == 422
    assert peer.json()["errors"] == [
        {
            "field": "co_sign.username",
            "rule": MESSAGE_CO_SIGN_NOT_ALLOWED.format(who="a medical director"),
        }
    ]
    assert Evaluation.objects.get(pk=hypersensitive.pk).status == "draft"
    response = post(
        client, url, {**body, "co_sign": {"username": "director", "password": PASSWORD}}
    )
    assert response.status_code == 200, response.content
    signed = response.json()
    assert signed["pathway"] == rules.PAIN_SERIES
    assert signed["proposal"]["pathway"] == rules.NOT_ELIGIBLE
    assert signed["signed_by"] == str(prescriber.id)
    assert signed["co_signed_by"] == str(director.id)


def test_sign_cosign_lockout_is_429(
    api_client: ApiClient, hypersensitive: Evaluation, prescriber: User, director: User
) -> None:
    from django.conf import settings

    client = api_client(prescriber)
    url = eval_url(hypersensitive, "/sign")
    body: dict[str, Any] = {
        "accept": False,
        "pathway": rules.PAIN_SERIES,
        "override_reason": OVERRIDE_REASON,
    }
    wrong = {**body, "co_sign": {"username": "director", "password": "nope"}}
    statuses = [post(client, url, wrong).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses == [422] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    right = post(client, url, {**body, "co_sign": {"username": "director", "password": PASSWORD}})
    assert right.status_code == 429 and right.json()["code"] == "locked_out"
    assert Evaluation.objects.get(pk=hypersensitive.pk).status == "draft"


# POST /evaluations/{id}/addenda -------------------------------------------------------------


def test_addendum_201_and_listed_on_the_evaluation(
    api_client: ApiClient, signed: Evaluation, nurse: User
) -> None:
    client = api_client(nurse)
    response = post(client, eval_url(signed, "/addenda"), {"text": "Sulfa allergy reported."})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == "Sulfa allergy reported."
    assert body["author"] == str(nurse.id) and body["author_name"] == "Nurse Tester"
    assert body["created_at"].endswith(("-07:00", "-06:00"))
    detail = client.get(eval_url(signed)).json()
    assert [a["id"] for a in detail["addenda"]] == [body["id"]]
    assert detail["pathway"] == rules.PAIN_SERIES


def test_addendum_on_a_draft_is_409_and_empty_text_422(
    api_client: ApiClient, ready: Evaluation, nurse: User, prescriber: User
) -> None:
    client = api_client(nurse)
    draft = post(client, eval_url(ready, "/addenda"), {"text": "Note"})
    assert draft.status_code == 409 and draft.json()["code"] == "not_signed"
    sign(ready, prescriber)
    empty = post(client, eval_url(ready, "/addenda"), {"text": "   "})
    assert empty.status_code == 422
    assert empty.json()["errors"] == [{"field": "text", "rule": services.MESSAGE_ADDENDUM_TEXT}]
    assert not Addendum.objects.exists()


# Picklists ------------------------------------------------------------------------------------


def test_catalogue(api_client: ApiClient, nurse: User) -> None:
    response = api_client(nurse).get("/api/v1/evaluations/catalogue")
    assert response.status_code == 200
    body = response.json()
    assert [c["key"] for c in body["pain_conditions"]] == list(catalogue.PAIN_CONDITION_KEYS)
    assert len(body["pain_conditions"]) == 16
    migraine = body["pain_conditions"][
        [c["key"] for c in body["pain_conditions"]].index("migraine")
    ]
    assert migraine["default_code"] == catalogue.pain_condition("migraine").default_code
    assert {"code", "display"} == set(migraine["codes"][0])
    assert set(migraine["evidence"]) == {"strength", "certainty", "summary"}
    assert {c["key"]: c["default_class"] for c in body["contraindications"]} == dict(
        catalogue.DEFAULT_CONTRAINDICATION_CLASSES
    )
    assert "F33.1" in {o["code"] for o in body["mental_health_codes"]}
    assert body["prior_outcomes"] == services.PRIOR_OUTCOMES
    assert body["evidence_note"] == catalogue.EVIDENCE_NOTE


def test_icd10cm_search(api_client: ApiClient, nurse: User) -> None:
    client = api_client(nurse)
    response = client.get("/api/v1/icd10cm", {"q": "migraine"})
    assert response.status_code == 200
    items = response.json()["items"]
    assert items and all("migraine" in i["display"].lower() for i in items)
    assert all(i["code"].startswith("G43") for i in items)
    by_code = client.get("/api/v1/icd10cm", {"q": "G43.70"}).json()["items"]
    assert by_code and all(i["code"].startswith("G43.70") for i in by_code)
    assert client.get("/api/v1/icd10cm").status_code == 422


# Contraindication classes ------------------------------------------------------------------


def classes_url(clinic: Clinic) -> str:
    return f"/api/v1/clinics/{clinic.id}/contraindication-classes"


def test_contraindication_classes_read_and_reclassify(
    api_client: ApiClient, director: User, nurse: User, site: Clinic
) -> None:
    read = api_client(nurse).get(classes_url(site))
    assert read.status_code == 200
    assert read.json() == {
        "clinic": str(site.id),
        "policy_version": 1,
        "classes": dict(catalogue.DEFAULT_CONTRAINDICATION_CLASSES),
    }
    response = put(
        api_client(director),
        classes_url(site),
        {"classes": {"pregnancy": "relative"}, "reason": "Obstetric protocol agreed"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["policy_version"] == 2
    assert body["classes"]["pregnancy"] == "relative"
    assert body["classes"]["ketamine_hypersensitivity"] == "absolute"
    assert clinic_policy_current(clinic=site).version == 2
    assert AuditEvent.objects.filter(object_type="clinic_policy", user_id=director.id).exists()
    assert api_client(nurse).get(classes_url(site)).json()["classes"]["pregnancy"] == "relative"


@pytest.mark.parametrize("persona", ["prescriber", "nurse", "clinic_admin", "front_desk"])
def test_only_the_director_reclassifies(
    request: pytest.FixtureRequest, api_client: ApiClient, persona: str, site: Clinic
) -> None:
    user = request.getfixturevalue(persona)
    response = put(
        api_client(user), classes_url(site), {"classes": {"pregnancy": "relative"}, "reason": "x"}
    )
    assert response.status_code == 403
    assert response.json()["detail"] == services.MESSAGE_CLASSES_FORBIDDEN
    assert clinic_policy_current(clinic=site).version == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"classes": {"pregnancy": "sometimes"}, "reason": "x"}, "classes.pregnancy"),
        (
            {"classes": {"unicorn_allergy": "absolute"}, "reason": "x"},
            "classes.unicorn_allergy",
        ),
        ({"classes": {"pregnancy": "relative"}, "reason": " "}, "reason"),
    ],
)
def test_reclassification_is_validated(
    api_client: ApiClient, director: User, site: Clinic, body: dict[str, Any], field: str
) -> None:
    response = put(api_client(director), classes_url(site), body)
    assert response.status_code == 422
    assert fields(response) == [field]
    assert clinic_policy_current(clinic=site).version == 1


def test_contraindication_classes_of_another_site_are_404(
    api_client: ApiClient,
    other_clinic_nurse: User,
    director: User,
    site: Clinic,
    other_site: Clinic,
) -> None:
    assert api_client(other_clinic_nurse).get(classes_url(site)).status_code == 404
    body = {"classes": {"pregnancy": "relative"}, "reason": "x"}
    assert put(api_client(director), classes_url(other_site), body).status_code == 404
    assert clinic_policy_current(clinic=other_site).version == 1


# Permissions on every endpoint ---------------------------------------------------------------


def _endpoints(evaluation: Evaluation, patient: Patient) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("get", list_url(patient), {}),
        ("post", list_url(patient), {}),
        ("get", eval_url(evaluation), {}),
        ("patch", eval_url(evaluation), {"pain_history": "x"}),
        ("post", eval_url(evaluation, "/sign"), {"accept": True}),
        ("post", eval_url(evaluation, "/addenda"), {"text": "x"}),
    ]


def _send(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, body, content_type="application/json")


def test_anonymous_is_401_everywhere(
    client: Client, ready: Evaluation, patient: Patient, site: Clinic
) -> None:
    everything = [
        *_endpoints(ready, patient),
        ("get", "/api/v1/evaluations/catalogue", {}),
        ("get", "/api/v1/icd10cm?q=migraine", {}),
        ("get", classes_url(site), {}),
        ("put", classes_url(site), {"classes": {}, "reason": "x"}),
    ]
    for method, url, body in everything:
        response = _send(client, method, url, body)
        assert response.status_code == 401, (method, url)
        assert response.json()["detail"] == MESSAGE_UNAUTHENTICATED
    assert Evaluation.objects.get(pk=ready.pk).status == "draft"


def test_another_sites_staff_get_404_everywhere(
    api_client: ApiClient, other_clinic_nurse: User, ready: Evaluation, patient: Patient
) -> None:
    client = api_client(other_clinic_nurse)
    for method, url, body in _endpoints(ready, patient):
        assert _send(client, method, url, body).status_code == 404, (method, url)
    assert Evaluation.objects.filter(patient=patient).count() == 1


@pytest.mark.parametrize("persona", ["front_desk", "biller", "privacy_officer", "clinic_admin"])
def test_non_clinical_roles_get_403_everywhere(
    request: pytest.FixtureRequest,
    api_client: ApiClient,
    persona: str,
    signed: Evaluation,
    patient: Patient,
) -> None:
    client = api_client(request.getfixturevalue(persona))
    for method, url, body in _endpoints(signed, patient):
        assert _send(client, method, url, body).status_code == 403, (method, url)
    assert not Addendum.objects.exists()
    assert Evaluation.objects.filter(patient=patient).count() == 1


def test_therapist_reads_but_cannot_write(
    api_client: ApiClient, therapist: User, ready: Evaluation, patient: Patient
) -> None:
    client = api_client(therapist)
    assert client.get(list_url(patient)).status_code == 200
    assert client.get(eval_url(ready)).status_code == 200
    assert patch(client, eval_url(ready), {"pain_history": "x"}).status_code == 403
    assert post(client, eval_url(ready, "/sign"), {"accept": True}).status_code == 403
    assert post(client, eval_url(ready, "/addenda"), {"text": "x"}).status_code == 403
    assert Evaluation.objects.get(pk=ready.pk).status == "draft"


def test_therapist_cannot_start_a_draft(
    api_client: ApiClient, therapist: User, patient: Patient
) -> None:
    assert post(api_client(therapist), list_url(patient), {}).status_code == 403
    assert not Evaluation.objects.exists()


def test_nurse_drafts_but_cannot_sign(
    api_client: ApiClient, nurse: User, ready: Evaluation
) -> None:
    client = api_client(nurse)
    assert patch(client, eval_url(ready), {"readiness_note": "Keen"}).status_code == 200
    refused = post(client, eval_url(ready, "/sign"), {"accept": True})
    assert refused.status_code == 403
    stored = Evaluation.objects.get(pk=ready.pk)
    assert stored.status == "draft" and stored.readiness_note == "Keen"


def test_picklists_are_open_to_any_staff(api_client: ApiClient, front_desk: User) -> None:
    client = api_client(front_desk)
    assert client.get("/api/v1/evaluations/catalogue").status_code == 200
    assert client.get("/api/v1/icd10cm", {"q": "fibromyalgia"}).status_code == 200


# Query count ----------------------------------------------------------------------------------


def test_list_query_count_does_not_grow(
    api_client: ApiClient, prescriber: User, patient: Patient, site: Clinic
) -> None:
    record_measures(user=prescriber, patient=patient, clinic=site)
    client = api_client(prescriber)

    def add_signed() -> None:
        evaluation = services.evaluation_start(user=prescriber, patient=patient, clinic=site)
        services.evaluation_update(user=prescriber, evaluation=evaluation, data=complete_answers())
        sign(evaluation, prescriber)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(list_url(patient))
            assert response.status_code == 200
        return len(ctx.captured_queries)

    add_signed()
    count()  # warm-up: the first request also records the token's first use
    one = count()
    for _ in range(4):
        add_signed()
    assert client.get(list_url(patient)).json()["count"] == 5
    assert count() == one
