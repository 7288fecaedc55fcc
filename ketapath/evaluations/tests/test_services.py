"""Evaluation services: drafting and its validation, signing and the director's
co-signature, immutability and addenda, and the contraindication classes (issue 4 items 6,
8 and 11; DESIGN.md §2, §6; clinical.md §1.1, §1.4, §2.2, §4.1)."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import (
    MESSAGE_CO_SIGN_BAD_CREDENTIALS,
    MESSAGE_CO_SIGN_NOT_ALLOWED,
    MESSAGE_CO_SIGN_SELF,
)
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.clinics.services import clinic_policy_update
from ketapath.conftest import PASSWORD
from ketapath.core.errors import Conflict, FieldError, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today
from ketapath.evaluations import catalogue, rules, services
from ketapath.evaluations.models import Addendum, ConditionEntry, Evaluation
from ketapath.evaluations.tests.factories import (
    answers,
    complete_answers,
    complete_evaluation,
    record_measures,
)
from ketapath.patients.models import Patient

pytestmark = pytest.mark.django_db

MakeUser = Callable[..., User]
MakePatient = Callable[..., Patient]

MIGRAINE = {"category": "pain", "catalogue_key": "migraine", "code": "G43.709"}
FIBROMYALGIA = {"category": "pain", "catalogue_key": "fibromyalgia"}
MDD_RECURRENT_MODERATE = {"category": "mental_health", "code": "F33.1"}
GAD = {"category": "mental_health", "code": "F41.1"}
# PHQ-9 total 16 with item 9 answered 0: a positive depression screen (clinical.md §2.2).
PHQ9_POSITIVE = {**answers(8, 2), "9": 0}


def http_request() -> HttpRequest:
    """A request for the co-signature check: the lockout it shares with login needs one."""
    return RequestFactory().post("/api/v1/evaluations/sign")


def contraindications(**present: str) -> dict[str, dict[str, str]]:
    """Every contraindication answered "no" except those given."""
    return {key: {"present": present.get(key, "no")} for key in services.catalogue_keys()}


def draft(user: User, patient: Patient, clinic: Clinic) -> Evaluation:
    return services.evaluation_start(user=user, patient=patient, clinic=clinic)


def reload(evaluation: Evaluation) -> Evaluation:
    return Evaluation.objects.get(pk=evaluation.pk)


def fields_of(exc: pytest.ExceptionInfo[Any]) -> list[str]:
    return [e.field for e in exc.value.errors]


# Starting a draft ---------------------------------------------------------------------------


def test_nurse_starts_a_draft_with_a_live_proposal(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    stored = reload(evaluation)
    assert stored.status == Evaluation.Status.DRAFT
    assert (stored.author_id, stored.clinic_id, stored.patient_id) == (
        nurse.id,
        site.id,
        patient.id,
    )
    assert stored.policy_version == 1
    # Nothing answered yet: the first question and the measures block signing.
    assert rules.BLOCK_COEXISTING in stored.proposal["blocking"]
    assert rules.BLOCK_ALLERGIES in stored.proposal["blocking"]
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.CREATE, object_type="evaluation", object_id=str(evaluation.id)
    ).exists()


def test_one_draft_per_patient(
    nurse: User, prescriber: User, patient: Patient, site: Clinic, make_patient: MakePatient
) -> None:
    draft(nurse, patient, site)
    with pytest.raises(Conflict) as exc:
        draft(prescriber, patient, site)
    assert exc.value.code == "draft_exists"
    assert exc.value.message == services.MESSAGE_DRAFT_EXISTS
    assert Evaluation.objects.filter(patient=patient).count() == 1
    # Another patient is unaffected.
    draft(nurse, make_patient(), site)


def test_a_new_draft_may_follow_a_signed_evaluation(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    second = draft(prescriber, patient, site)
    assert second.status == Evaluation.Status.DRAFT
    assert Evaluation.objects.filter(patient=patient).count() == 2


@pytest.mark.parametrize("persona", ["front_desk", "therapist", "biller"])
def test_roles_without_drafting_cannot_start(
    request: pytest.FixtureRequest, persona: str, patient: Patient, site: Clinic
) -> None:
    user = request.getfixturevalue(persona)
    with pytest.raises(Forbidden) as exc:
        draft(user, patient, site)
    assert exc.value.message == services.MESSAGE_DRAFT_FORBIDDEN
    assert not Evaluation.objects.exists()


def test_therapist_cannot_update_a_draft(
    nurse: User, therapist: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(Forbidden):
        services.evaluation_update(
            user=therapist, evaluation=evaluation, data={"pain_history": "x"}
        )
    assert reload(evaluation).pain_history == ""


# Saving a draft: all or nothing --------------------------------------------------------------


def test_valid_update_saves_and_recomputes_the_proposal(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    record_measures(user=nurse, patient=patient, clinic=site)
    evaluation = draft(nurse, patient, site)
    assert evaluation.proposal["blocking"]
    services.evaluation_update(user=nurse, evaluation=evaluation, data=complete_answers())
    stored = reload(evaluation)
    assert stored.proposal["pathway"] == rules.PAIN_SERIES
    assert stored.proposal["eligibility"] == rules.ELIGIBLE
    assert stored.proposal["blocking"] == []
    assert stored.pain_duration_months == 36
    assert [(c.category, c.code, c.is_primary) for c in stored.conditions.all()] == [
        ("pain", "G43.709", True)
    ]
    event = AuditEvent.objects.get(action=AuditEvent.Action.UPDATE, object_type="evaluation")
    assert "conditions" in event.detail["fields"] and "pain_history" in event.detail["fields"]


def test_bad_icd_code_saves_nothing_not_even_valid_plain_fields(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    services.evaluation_update(
        user=nurse, evaluation=evaluation, data={"conditions": [MIGRAINE], "pain_history": "Old"}
    )
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={
                "pain_history": "New history",
                "ready_for_ketamine": "yes",
                # M54.5 is a header since the 2022 release; its children are billable.
                "conditions": [{"category": "pain", "code": "M54.5"}],
            },
        )
    assert exc.value.message == services.MESSAGE_INVALID
    assert fields_of(exc) == ["conditions.0.code"]
    assert exc.value.errors[0].rule.startswith(catalogue.MESSAGE_ICD10_HEADER.format(code="M54.5"))
    assert "M54.50" in exc.value.errors[0].rule
    stored = reload(evaluation)
    assert (stored.pain_history, stored.ready_for_ketamine) == ("Old", "")
    assert [c.code for c in stored.conditions.all()] == ["G43.709"]
    # The caller's object is reset too, so a later save cannot carry the rejected values.
    assert (evaluation.pain_history, evaluation.ready_for_ketamine) == ("Old", "")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).count() == 1


def test_unknown_field_is_named_and_nothing_saved(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={"pain_history": "x", "pathway": "PAIN_SERIES", "status": "signed"},
        )
    assert exc.value.errors == [
        FieldError("pathway", services.MESSAGE_UNKNOWN_FIELD),
        FieldError("status", services.MESSAGE_UNKNOWN_FIELD),
    ]
    stored = reload(evaluation)
    assert (stored.pain_history, stored.pathway, stored.status) == ("", "", "draft")


def test_invalid_choice_of_a_plain_field_is_named(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse, evaluation=evaluation, data={"alcohol_use": "lots", "pain_history": "x"}
        )
    assert fields_of(exc) == ["alcohol_use"]
    assert reload(evaluation).pain_history == ""


def test_every_invalid_field_is_reported_together(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={
                "conditions": [{"category": "pain", "code": "NOTACODE"}],
                "contraindications": {"unicorn_allergy": {"present": "yes"}},
                "screen_resolutions": {"bdi": {"resolution": "confirmed"}},
                "prior_treatments": [{"treatment": "Gabapentin", "outcome": "great"}],
            },
        )
    assert sorted(fields_of(exc)) == [
        "conditions.0.code",
        "contraindications.unicorn_allergy",
        "prior_treatments.0.outcome",
        "screen_resolutions.bdi",
    ]
    stored = reload(evaluation)
    assert stored.contraindications == {} and stored.screen_resolutions == {}
    assert stored.prior_treatments == [] and not stored.conditions.exists()


@pytest.mark.parametrize(
    ("condition", "field", "rule"),
    [
        # A chapter F code is a mental-health diagnosis, never a pain condition.
        (
            {"category": "pain", "code": "F45.42"},
            "conditions.0.code",
            services.MESSAGE_PAIN_CODE,
        ),
        # A mental-health diagnosis is a chapter F code.
        (
            {"category": "mental_health", "code": "G43.709"},
            "conditions.0.code",
            services.MESSAGE_MH_CODE,
        ),
        (
            {"category": "pain", "catalogue_key": "migraine", "code": "M79.7"},
            "conditions.0.code",
            services.MESSAGE_CODE_NOT_FOR_CONDITION.format(
                code="M79.7", label=catalogue.pain_condition("migraine").label
            ),
        ),
        (
            {"category": "pain", "catalogue_key": "headache_of_doom"},
            "conditions.0.catalogue_key",
            catalogue.MESSAGE_UNKNOWN_CONDITION,
        ),
        ({"category": "pain"}, "conditions.0.code", services.MESSAGE_CODE_OR_KEY),
        (
            {"category": "cardiac", "code": "I10"},
            "conditions.0.category",
            services.MESSAGE_CATEGORY,
        ),
        (
            {"category": "pain", "code": "M79.7", "onset": "2020-02-30"},
            "conditions.0.onset",
            services.MESSAGE_DATE_FORMAT,
        ),
    ],
)
def test_condition_rules(
    nurse: User,
    patient: Patient,
    site: Clinic,
    condition: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse, evaluation=evaluation, data={"conditions": [condition]}
        )
    assert exc.value.errors == [FieldError(field, rule)]
    assert not ConditionEntry.objects.exists()


def test_two_primaries_in_a_category_are_refused(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={
                "conditions": [
                    {**MIGRAINE, "is_primary": True},
                    {**FIBROMYALGIA, "is_primary": True},
                    {**MDD_RECURRENT_MODERATE, "is_primary": True},
                ]
            },
        )
    assert exc.value.errors == [
        FieldError("conditions", services.MESSAGE_ONE_PRIMARY.format(category="chronic pain"))
    ]
    assert not ConditionEntry.objects.exists()


def test_duplicate_code_in_a_category_is_refused(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={"conditions": [MIGRAINE, {"category": "pain", "code": "g43709"}]},
        )
    assert exc.value.errors == [
        FieldError("conditions.1.code", services.MESSAGE_DUPLICATE_CODE.format(code="G43.709"))
    ]


def test_a_single_condition_is_its_category_primary(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    services.evaluation_update(
        user=nurse,
        evaluation=evaluation,
        # A picklist entry without a code takes its default billable code.
        data={"conditions": [FIBROMYALGIA, MDD_RECURRENT_MODERATE]},
    )
    stored = {c.category: c for c in reload(evaluation).conditions.all()}
    fibro = catalogue.pain_condition("fibromyalgia")
    assert stored["pain"].code == fibro.default_code
    assert stored["pain"].catalogue_key == "fibromyalgia"
    assert stored["pain"].is_primary and stored["mental_health"].is_primary
    assert stored["pain"].system == catalogue.ICD10CM_SYSTEM


def test_several_conditions_without_a_primary_block_signing(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    services.evaluation_update(
        user=nurse, evaluation=evaluation, data={"conditions": [MIGRAINE, FIBROMYALGIA]}
    )
    stored = reload(evaluation)
    assert not any(c.is_primary for c in stored.conditions.all())
    assert rules.BLOCK_PAIN_PRIMARY in stored.proposal["blocking"]
    services.evaluation_update(
        user=nurse,
        evaluation=evaluation,
        data={"conditions": [MIGRAINE, {**FIBROMYALGIA, "is_primary": True}]},
    )
    primaries = [c.catalogue_key for c in reload(evaluation).conditions.all() if c.is_primary]
    assert primaries == ["fibromyalgia"]
    assert rules.BLOCK_PAIN_PRIMARY not in reload(evaluation).proposal["blocking"]


def test_conditions_replace_the_list(nurse: User, patient: Patient, site: Clinic) -> None:
    evaluation = draft(nurse, patient, site)
    services.evaluation_update(
        user=nurse, evaluation=evaluation, data={"conditions": [MIGRAINE, FIBROMYALGIA]}
    )
    services.evaluation_update(user=nurse, evaluation=evaluation, data={"conditions": [GAD]})
    assert [c.code for c in reload(evaluation).conditions.all()] == ["F41.1"]


def test_contraindications_merge_by_key(nurse: User, patient: Patient, site: Clinic) -> None:
    evaluation = draft(nurse, patient, site)
    services.evaluation_update(
        user=nurse,
        evaluation=evaluation,
        data={"contraindications": {"liver_disease": {"present": "yes"}}},
    )
    services.evaluation_update(
        user=nurse,
        evaluation=evaluation,
        data={
            "contraindications": {
                "liver_disease": {"mitigation": "  LFTs normal last month  "},
                "pregnancy": {"present": "no"},
            }
        },
    )
    assert reload(evaluation).contraindications == {
        "liver_disease": {"present": "yes", "mitigation": "LFTs normal last month"},
        "pregnancy": {"present": "no", "mitigation": ""},
    }


def test_contraindication_keys_and_answers_are_checked(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={
                "contraindications": {
                    "unicorn_allergy": {"present": "yes"},
                    "liver_disease": {"present": "maybe"},
                    "pregnancy": "no",
                }
            },
        )
    assert exc.value.errors == [
        FieldError("contraindications.unicorn_allergy", services.MESSAGE_UNKNOWN_CONTRAINDICATION),
        FieldError("contraindications.liver_disease.present", services.MESSAGE_PRESENT_CHOICE),
        FieldError("contraindications.pregnancy", services.MESSAGE_OBJECT),
    ]
    assert reload(evaluation).contraindications == {}


def test_screen_resolutions_merge_clear_and_validate(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    services.evaluation_update(
        user=nurse,
        evaluation=evaluation,
        data={
            "screen_resolutions": {
                "phq9": {"resolution": "ruled_out", "note": "Bereavement, not MDD"},
                "gad7": {"resolution": "confirmed"},
            }
        },
    )
    services.evaluation_update(
        user=nurse,
        evaluation=evaluation,
        data={"screen_resolutions": {"gad7": {"resolution": "", "note": ""}}},
    )
    assert reload(evaluation).screen_resolutions == {
        "phq9": {"resolution": "ruled_out", "note": "Bereavement, not MDD"}
    }
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={
                "screen_resolutions": {
                    "bdi": {"resolution": "confirmed"},
                    "pcl5": {"resolution": "probably"},
                }
            },
        )
    assert exc.value.errors == [
        FieldError("screen_resolutions.bdi", services.MESSAGE_SCREEN_KEY),
        FieldError("screen_resolutions.pcl5.resolution", services.MESSAGE_RESOLUTION),
    ]
    assert set(reload(evaluation).screen_resolutions) == {"phq9"}


def test_prior_treatments_are_validated_and_replace_the_list(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    evaluation = draft(nurse, patient, site)
    services.evaluation_update(
        user=nurse,
        evaluation=evaluation,
        data={"prior_treatments": [{"treatment": " Duloxetine ", "outcome": "no_benefit"}]},
    )
    assert reload(evaluation).prior_treatments == [
        {"treatment": "Duloxetine", "outcome": "no_benefit", "note": ""}
    ]
    outcome_rule = services.MESSAGE_PRIOR_OUTCOME.format(choices=", ".join(services.PRIOR_OUTCOMES))
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={
                "prior_treatments": [
                    {"treatment": "Gabapentin", "outcome": "great"},
                    {"treatment": "  ", "outcome": "helped"},
                    "Physical therapy",
                ]
            },
        )
    assert exc.value.errors == [
        FieldError("prior_treatments.0.outcome", outcome_rule),
        FieldError("prior_treatments.1.treatment", services.MESSAGE_PRIOR_TREATMENT),
        FieldError("prior_treatments.2", services.MESSAGE_OBJECT),
    ]
    assert [t["treatment"] for t in reload(evaluation).prior_treatments] == ["Duloxetine"]


@pytest.mark.parametrize("field", services.DATE_FIELDS)
def test_future_dates_are_refused(nurse: User, patient: Patient, site: Clinic, field: str) -> None:
    evaluation = draft(nurse, patient, site)
    tomorrow = local_today(site.time_zone) + timedelta(days=1)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse, evaluation=evaluation, data={field: tomorrow.isoformat()}
        )
    assert exc.value.errors == [FieldError(field, services.MESSAGE_FUTURE_DATE)]
    assert getattr(reload(evaluation), field) is None
    # Today, at the clinic, is fine.
    today = local_today(site.time_zone)
    services.evaluation_update(user=nurse, evaluation=evaluation, data={field: today})
    assert getattr(reload(evaluation), field) == today


@pytest.mark.parametrize("value", ["13/01/2026", 20260113, datetime(2026, 1, 13, tzinfo=UTC)])
def test_dates_that_are_not_days_are_refused(
    nurse: User, patient: Patient, site: Clinic, value: Any
) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={"ecg_date": value, "conditions": [{**MIGRAINE, "onset": value}]},
        )
    assert exc.value.errors == [
        FieldError("ecg_date", services.MESSAGE_DATE_FORMAT),
        FieldError("conditions.0.onset", services.MESSAGE_DATE_FORMAT),
    ]


def test_future_condition_onset_is_refused(nurse: User, patient: Patient, site: Clinic) -> None:
    evaluation = draft(nurse, patient, site)
    tomorrow = local_today(site.time_zone) + timedelta(days=1)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={"conditions": [{**MIGRAINE, "onset": tomorrow.isoformat()}]},
        )
    assert exc.value.errors == [FieldError("conditions.0.onset", services.MESSAGE_FUTURE_DATE)]


def test_condition_onset_is_checked_against_the_clinic_day(
    nurse: User, patient: Patient, site: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 03:00 UTC on 10 March it is still 9 March in Denver: 10 March is in the future."""
    evaluation = draft(nurse, patient, site)
    late_evening = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: late_evening)
    assert local_today(site.time_zone) == date(2026, 3, 9)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_update(
            user=nurse,
            evaluation=evaluation,
            data={"conditions": [{**MIGRAINE, "onset": "2026-03-10"}]},
        )
    assert exc.value.errors == [FieldError("conditions.0.onset", services.MESSAGE_FUTURE_DATE)]
    services.evaluation_update(
        user=nurse,
        evaluation=evaluation,
        data={"conditions": [{**MIGRAINE, "onset": "2026-03-09"}]},
    )
    assert reload(evaluation).conditions.get().onset == date(2026, 3, 9)


# Signing ------------------------------------------------------------------------------------


def test_accepting_the_pain_series(
    nurse: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    # The nurse drafts; the prescriber signs.
    evaluation = complete_evaluation(user=nurse, patient=patient, clinic=site)
    services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    stored = reload(evaluation)
    today = local_today(site.time_zone)
    assert stored.status == Evaluation.Status.SIGNED
    assert stored.pathway == rules.PAIN_SERIES
    assert stored.accepted_proposal is True and stored.override_reason == ""
    assert stored.signed_by_id == prescriber.id and stored.co_signed_by_id is None
    assert stored.signed_at is not None
    assert clinic_policy_current(clinic=site).evaluation_valid_days == 90
    assert stored.valid_until == today + timedelta(days=90)
    assert stored.proposal["pathway"] == rules.PAIN_SERIES
    # The facts behind the signed proposal are frozen with it.
    assert stored.facts["measures"]["allergies"] == "none_known"
    assert stored.facts["measures"]["baseline_pain"]["total"] == 7
    assert stored.facts["contraindication_classes"] == catalogue.DEFAULT_CONTRAINDICATION_CLASSES
    patient.refresh_from_db()
    assert patient.pathway == rules.PAIN_SERIES
    assert prescriber.display_name in patient.pathway_source
    event = AuditEvent.objects.filter(
        object_type="evaluation", object_id=str(evaluation.id), detail__signed=rules.PAIN_SERIES
    ).get()
    assert event.user_id == prescriber.id
    assert event.detail["accepted"] is True and event.detail["co_signed_by"] is None


def test_valid_until_follows_the_clinic_policy(
    director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    clinic_policy_update(
        user=director,
        clinic=site,
        changes={"evaluation_valid_days": 30},
        reason="Re-evaluate monthly while the programme is new",
    )
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert reload(evaluation).valid_until == local_today(site.time_zone) + timedelta(days=30)


def test_signing_twice_is_a_conflict(
    prescriber: User, director: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    with pytest.raises(Conflict) as exc:
        services.evaluation_sign(user=director, evaluation=reload(evaluation), accept=True)
    assert exc.value.code == "already_signed"
    assert reload(evaluation).signed_by_id == prescriber.id


def test_a_stale_copy_cannot_sign_again(
    prescriber: User, director: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    stale = reload(evaluation)
    services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    with pytest.raises(Conflict) as exc:
        services.evaluation_sign(
            user=director,
            evaluation=stale,
            accept=False,
            pathway=rules.BEHAVIORAL_HEALTH,
            override_reason="second opinion",
        )
    assert exc.value.code == "already_signed"
    stored = reload(evaluation)
    assert (stored.pathway, stored.signed_by_id) == (rules.PAIN_SERIES, prescriber.id)


@pytest.mark.parametrize("persona", ["nurse", "therapist"])
def test_only_prescribers_and_the_director_sign(
    request: pytest.FixtureRequest, persona: str, prescriber: User, patient: Patient, site: Clinic
) -> None:
    user = request.getfixturevalue(persona)
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    with pytest.raises(Forbidden) as exc:
        services.evaluation_sign(user=user, evaluation=evaluation, accept=True)
    assert exc.value.message == services.MESSAGE_SIGN_FORBIDDEN
    assert reload(evaluation).status == Evaluation.Status.DRAFT


def test_the_director_may_sign(director: User, patient: Patient, site: Clinic) -> None:
    evaluation = complete_evaluation(user=director, patient=patient, clinic=site)
    services.evaluation_sign(user=director, evaluation=evaluation, accept=True)
    assert reload(evaluation).signed_by_id == director.id


def test_a_positive_screen_blocks_until_resolved_then_mental_health_primary(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    record_measures(user=prescriber, patient=patient, clinic=site, phq9=PHQ9_POSITIVE)
    evaluation = draft(prescriber, patient, site)
    services.evaluation_update(user=prescriber, evaluation=evaluation, data=complete_answers())
    with pytest.raises(Conflict) as exc:
        services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert exc.value.code == "blocked"
    assert exc.value.message == services.MESSAGE_BLOCKED.format(count=1)
    assert len(exc.value.errors) == 1 and exc.value.errors[0].field == "blocking"
    rule = exc.value.errors[0].rule
    assert rule.startswith("PHQ-9 16") and "positive screen for depression" in rule
    stored = reload(evaluation)
    assert stored.status == Evaluation.Status.DRAFT and stored.proposal["blocking"] == [rule]
    patient.refresh_from_db()
    assert patient.pathway == ""

    # Confirmed by the clinician, with the diagnosis recorded: nothing blocks.
    services.evaluation_update(
        user=prescriber,
        evaluation=evaluation,
        data={
            "coexisting_mh_treated": "yes",
            "screen_resolutions": {
                "phq9": {"resolution": "confirmed", "note": "Clinical interview"}
            },
            "conditions": [MIGRAINE, MDD_RECURRENT_MODERATE],
        },
    )
    proposal = reload(evaluation).proposal
    assert proposal["pathway"] == rules.MENTAL_HEALTH_PRIMARY
    assert proposal["template_family"] == rules.DEPRESSION
    assert proposal["blocking"] == []
    services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert reload(evaluation).pathway == rules.MENTAL_HEALTH_PRIMARY
    patient.refresh_from_db()
    assert patient.pathway == rules.MENTAL_HEALTH_PRIMARY


def test_confirmed_screen_without_the_diagnosis_still_blocks(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    record_measures(user=prescriber, patient=patient, clinic=site, phq9=PHQ9_POSITIVE)
    evaluation = draft(prescriber, patient, site)
    services.evaluation_update(
        user=prescriber,
        evaluation=evaluation,
        data=complete_answers(screen_resolutions={"phq9": {"resolution": "confirmed"}}),
    )
    with pytest.raises(Conflict) as exc:
        services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert exc.value.code == "blocked"
    assert "add the confirmed diagnosis" in exc.value.errors[0].rule


def test_allergies_not_asked_block_signing(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    Patient.objects.filter(pk=patient.pk).update(no_known_allergies_at=None)
    evaluation = reload(evaluation)
    with pytest.raises(Conflict) as exc:
        services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert exc.value.code == "blocked"
    assert exc.value.errors == [FieldError("blocking", rules.BLOCK_ALLERGIES)]
    # The refused signature does not leave a half-signed record.
    assert reload(evaluation).status == Evaluation.Status.DRAFT


def test_item9_above_zero_blocks_until_a_risk_assessment_is_noted(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    # A total of 1, far below the cut-off, still blocks on item 9 (clinical.md §2.2).
    record_measures(user=prescriber, patient=patient, clinic=site, phq9={**answers(8, 0), "9": 1})
    evaluation = draft(prescriber, patient, site)
    services.evaluation_update(user=prescriber, evaluation=evaluation, data=complete_answers())
    with pytest.raises(Conflict) as exc:
        services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert exc.value.errors == [FieldError("blocking", rules.BLOCK_ITEM9)]
    services.evaluation_update(
        user=prescriber,
        evaluation=evaluation,
        data={"screen_resolutions": {"phq9_item9": {"resolution": "ruled_out"}}},
    )
    assert reload(evaluation).proposal["blocking"] == [rules.BLOCK_ITEM9_NOTE]
    services.evaluation_update(
        user=prescriber,
        evaluation=evaluation,
        data={
            "screen_resolutions": {
                "phq9_item9": {"resolution": "ruled_out", "note": "No ideation on interview"}
            }
        },
    )
    services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert reload(evaluation).pathway == rules.PAIN_SERIES


def test_generalized_anxiety_needs_the_prescriber_to_choose(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(
        user=prescriber,
        patient=patient,
        clinic=site,
        coexisting_mh_treated="yes",
        conditions=[MIGRAINE, GAD],
    )
    assert evaluation.proposal["pathway"] is None
    assert evaluation.proposal["blocking"] == []
    with pytest.raises(Conflict) as exc:
        services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert exc.value.code == "choice_required"
    assert exc.value.errors == [FieldError("pathway", services.MESSAGE_CHOICE_REQUIRED)]
    with pytest.raises(InvalidInput) as invalid:
        services.evaluation_sign(
            user=prescriber, evaluation=evaluation, accept=False, pathway=rules.PAIN_SERIES
        )
    assert invalid.value.errors == [FieldError("override_reason", services.MESSAGE_OVERRIDE_REASON)]
    services.evaluation_sign(
        user=prescriber,
        evaluation=evaluation,
        accept=False,
        pathway=rules.MENTAL_HEALTH_PRIMARY,
        override_reason="Anxiety with pain; clinic's depression protocol at the lower dose",
    )
    stored = reload(evaluation)
    assert stored.pathway == rules.MENTAL_HEALTH_PRIMARY
    assert stored.accepted_proposal is False
    assert stored.override_reason.startswith("Anxiety with pain")
    assert stored.co_signed_by_id is None


def test_choosing_another_pathway_needs_a_reason(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_sign(
            user=prescriber,
            evaluation=evaluation,
            accept=False,
            pathway=rules.BEHAVIORAL_HEALTH,
            override_reason="   ",
        )
    assert exc.value.errors == [FieldError("override_reason", services.MESSAGE_OVERRIDE_REASON)]
    assert reload(evaluation).status == Evaluation.Status.DRAFT
    services.evaluation_sign(
        user=prescriber,
        evaluation=evaluation,
        accept=False,
        pathway=rules.BEHAVIORAL_HEALTH,
        override_reason="Prefers psychotherapy first",
    )
    stored = reload(evaluation)
    assert (stored.pathway, stored.accepted_proposal) == (rules.BEHAVIORAL_HEALTH, False)
    patient.refresh_from_db()
    assert patient.pathway == rules.BEHAVIORAL_HEALTH


@pytest.mark.parametrize(
    ("pathway", "rule"),
    [
        (None, services.MESSAGE_PATHWAY_REQUIRED),
        ("KETAMINE_FOREVER", services.MESSAGE_PATHWAY_INVALID),
    ],
)
def test_the_chosen_pathway_is_checked(
    prescriber: User, patient: Patient, site: Clinic, pathway: str | None, rule: str
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    with pytest.raises(InvalidInput) as exc:
        services.evaluation_sign(
            user=prescriber,
            evaluation=evaluation,
            accept=False,
            pathway=pathway,
            override_reason="because",
        )
    assert exc.value.errors == [FieldError("pathway", rule)]


# Director co-signature -----------------------------------------------------------------------


@pytest.fixture
def hypersensitive(prescriber: User, patient: Patient, site: Clinic) -> Evaluation:
    """A complete evaluation with an absolute contraindication (clinical.md §1.4)."""
    return complete_evaluation(
        user=prescriber,
        patient=patient,
        clinic=site,
        contraindications=contraindications(ketamine_hypersensitivity="yes"),
    )


def override(
    user: User, evaluation: Evaluation, co_sign: dict[str, str] | None, **extra: Any
) -> Evaluation:
    return services.evaluation_sign(
        user=user,
        evaluation=evaluation,
        accept=False,
        pathway=extra.pop("pathway", rules.PAIN_SERIES),
        override_reason="Reaction was a rash after a non-ketamine co-induction agent",
        co_sign=co_sign,
        request=http_request(),
    )


def test_absolute_contraindication_proposes_not_eligible(
    hypersensitive: Evaluation, prescriber: User, patient: Patient
) -> None:
    proposal = hypersensitive.proposal
    assert proposal["pathway"] == rules.NOT_ELIGIBLE
    assert proposal["eligibility"] == rules.INELIGIBLE
    assert proposal["absolute"] == ["ketamine_hypersensitivity"]
    assert rules.REASON_REFERRAL in proposal["reasons"]
    assert rules.REASON_ABSOLUTE_OVERRIDE in proposal["reasons"]
    # Accepting the proposal, or referring to behavioral health, needs no co-signature.
    services.evaluation_sign(user=prescriber, evaluation=hypersensitive, accept=True)
    assert reload(hypersensitive).pathway == rules.NOT_ELIGIBLE
    patient.refresh_from_db()
    assert patient.pathway == rules.NOT_ELIGIBLE


def test_behavioral_health_against_an_absolute_contraindication_needs_no_cosign(
    hypersensitive: Evaluation, prescriber: User
) -> None:
    override(prescriber, hypersensitive, None, pathway=rules.BEHAVIORAL_HEALTH)
    stored = reload(hypersensitive)
    assert stored.pathway == rules.BEHAVIORAL_HEALTH and stored.co_signed_by_id is None


def test_overriding_an_absolute_contraindication_needs_the_cosign(
    hypersensitive: Evaluation, prescriber: User
) -> None:
    with pytest.raises(InvalidInput) as exc:
        override(prescriber, hypersensitive, None)
    message = services.MESSAGE_DIRECTOR_COSIGN.format(why="an absolute contraindication")
    assert exc.value.code == "co_sign_required"
    assert exc.value.errors == [FieldError("co_sign", message)]
    assert reload(hypersensitive).status == Evaluation.Status.DRAFT


@pytest.mark.parametrize(
    ("co_sign", "field"),
    [
        ({"username": "director", "password": "not-the-password"}, "co_sign.password"),
        ({"username": "nobody-here", "password": PASSWORD}, "co_sign.password"),
        ({"username": "director", "password": ""}, "co_sign"),
    ],
)
def test_cosign_credentials_are_checked(
    hypersensitive: Evaluation,
    prescriber: User,
    director: User,
    patient: Patient,
    co_sign: dict[str, str],
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as exc:
        override(prescriber, hypersensitive, co_sign)
    assert fields_of(exc) == [field]
    if field == "co_sign.password":
        assert exc.value.message == MESSAGE_CO_SIGN_BAD_CREDENTIALS
    stored = reload(hypersensitive)
    assert stored.status == Evaluation.Status.DRAFT and stored.co_signed_by_id is None
    patient.refresh_from_db()
    assert patient.pathway == ""


def test_cosigner_must_be_the_medical_director(
    hypersensitive: Evaluation, prescriber: User, make_user: MakeUser, site: Clinic
) -> None:
    make_user("prescriber2", site, Role.PRESCRIBER)
    with pytest.raises(InvalidInput) as exc:
        override(prescriber, hypersensitive, {"username": "prescriber2", "password": PASSWORD})
    assert exc.value.errors == [
        FieldError("co_sign.username", MESSAGE_CO_SIGN_NOT_ALLOWED.format(who="a medical director"))
    ]
    assert reload(hypersensitive).status == Evaluation.Status.DRAFT


def test_director_at_another_site_cannot_cosign(
    hypersensitive: Evaluation, prescriber: User, make_user: MakeUser, other_site: Clinic
) -> None:
    make_user("chicago_director", other_site, Role.MEDICAL_DIRECTOR)
    with pytest.raises(InvalidInput) as exc:
        override(prescriber, hypersensitive, {"username": "chicago_director", "password": PASSWORD})
    assert fields_of(exc) == ["co_sign.username"]


def test_cosigner_cannot_be_the_acting_user(
    hypersensitive: Evaluation, prescriber: User, director: User
) -> None:
    with pytest.raises(InvalidInput) as exc:
        override(prescriber, hypersensitive, {"username": "prescriber", "password": PASSWORD})
    assert exc.value.errors == [FieldError("co_sign.username", MESSAGE_CO_SIGN_SELF)]
    # A director overriding needs a second director, not themself.
    with pytest.raises(InvalidInput) as again:
        override(director, hypersensitive, {"username": "DIRECTOR", "password": PASSWORD})
    assert again.value.errors == [FieldError("co_sign.username", MESSAGE_CO_SIGN_SELF)]


def test_director_cosigns_the_override(
    hypersensitive: Evaluation, prescriber: User, director: User, patient: Patient
) -> None:
    override(prescriber, hypersensitive, {"username": "director", "password": PASSWORD})
    stored = reload(hypersensitive)
    assert stored.status == Evaluation.Status.SIGNED
    assert stored.pathway == rules.PAIN_SERIES
    assert stored.signed_by_id == prescriber.id and stored.co_signed_by_id == director.id
    assert stored.accepted_proposal is False
    assert stored.proposal["pathway"] == rules.NOT_ELIGIBLE
    patient.refresh_from_db()
    assert patient.pathway == rules.PAIN_SERIES
    cosign = AuditEvent.objects.get(object_type="co_signature")
    assert cosign.user_id == director.id and cosign.outcome == "success"
    assert cosign.detail == {"purpose": "evaluation_override", "for": "prescriber"}
    signed = AuditEvent.objects.get(object_type="evaluation", detail__signed=rules.PAIN_SERIES)
    assert signed.detail["co_signed_by"] == "director"


def test_active_substance_use_blocks_a_series_without_the_cosign(
    prescriber: User, director: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(
        user=prescriber, patient=patient, clinic=site, substance_use_disorder_active="yes"
    )
    assert evaluation.proposal["pathway"] == rules.BEHAVIORAL_HEALTH
    assert evaluation.proposal["series_blocked"] is True
    with pytest.raises(InvalidInput) as exc:
        override(prescriber, evaluation, None)
    assert exc.value.errors == [
        FieldError(
            "co_sign",
            services.MESSAGE_DIRECTOR_COSIGN.format(why="an active substance-use disorder"),
        )
    ]
    override(prescriber, evaluation, {"username": "director", "password": PASSWORD})
    assert reload(evaluation).co_signed_by_id == director.id


# Immutability and addenda --------------------------------------------------------------------


@pytest.fixture
def signed(prescriber: User, patient: Patient, site: Clinic) -> Evaluation:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    return services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)


def test_a_signed_evaluation_cannot_be_updated(signed: Evaluation, prescriber: User) -> None:
    before = reload(signed)
    with pytest.raises(Conflict) as exc:
        services.evaluation_update(
            user=prescriber, evaluation=reload(signed), data={"pain_history": "Rewritten"}
        )
    assert exc.value.code == "signed"
    assert exc.value.message == services.MESSAGE_SIGNED
    after = reload(signed)
    assert after.pain_history == before.pain_history
    assert after.updated_at == before.updated_at


def test_a_stale_draft_copy_cannot_update_after_signing(
    prescriber: User, patient: Patient, site: Clinic
) -> None:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=site)
    stale = reload(evaluation)
    services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    with pytest.raises(Conflict) as exc:
        services.evaluation_update(
            user=prescriber,
            evaluation=stale,
            data={"pain_history": "Rewritten", "conditions": [FIBROMYALGIA]},
        )
    assert exc.value.code == "signed"
    stored = reload(evaluation)
    assert stored.pain_history == "Daily migraine for three years."
    assert [c.code for c in stored.conditions.all()] == ["G43.709"]
    assert stored.status == Evaluation.Status.SIGNED


def test_addendum_on_a_signed_evaluation_leaves_the_original(
    signed: Evaluation, nurse: User
) -> None:
    before = reload(signed)
    addendum = services.addendum_add(
        user=nurse, evaluation=signed, text="  Patient later reported a sulfa allergy.  "
    )
    assert addendum.text == "Patient later reported a sulfa allergy."
    assert list(Addendum.objects.filter(evaluation=signed)) == [addendum]
    after = reload(signed)
    for name in (
        "status",
        "pathway",
        "proposal",
        "facts",
        "pain_history",
        "contraindications",
        "signed_at",
        "signed_by_id",
        "valid_until",
        "updated_at",
    ):
        assert getattr(after, name) == getattr(before, name), name
    assert AuditEvent.objects.filter(
        object_type="evaluation_addendum", object_id=str(addendum.id), user_id=nurse.id
    ).exists()


def test_addendum_is_refused_on_a_draft(nurse: User, patient: Patient, site: Clinic) -> None:
    evaluation = draft(nurse, patient, site)
    with pytest.raises(Conflict) as exc:
        services.addendum_add(user=nurse, evaluation=evaluation, text="Note")
    assert exc.value.code == "not_signed"
    assert not Addendum.objects.exists()


@pytest.mark.parametrize("text", ["", "   \n "])
def test_addendum_needs_text(signed: Evaluation, prescriber: User, text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.addendum_add(user=prescriber, evaluation=signed, text=text)
    assert exc.value.errors == [FieldError("text", services.MESSAGE_ADDENDUM_TEXT)]
    assert not Addendum.objects.exists()


def test_therapist_cannot_add_an_addendum(signed: Evaluation, therapist: User) -> None:
    with pytest.raises(Forbidden):
        services.addendum_add(user=therapist, evaluation=signed, text="Note")


# Contraindication classes --------------------------------------------------------------------

PREGNANT = {
    "could_be_pregnant": "yes",
    "pregnancy_status": "pregnant",
    "pregnancy_method": "urine_test",
    "breastfeeding": "no",
}


def test_director_reclassifies_pregnancy_as_relative(director: User, site: Clinic) -> None:
    policy = services.contraindication_classes_set(
        user=director,
        clinic=site,
        classes={"pregnancy": "relative"},
        reason="Obstetric anaesthesia protocol agreed with the hospital",
    )
    assert policy.version == 2
    assert ClinicPolicy.objects.filter(clinic=site).count() == 2
    expected = {**catalogue.DEFAULT_CONTRAINDICATION_CLASSES, "pregnancy": "relative"}
    assert clinic_policy_current(clinic=site).contraindication_classes == expected
    event = AuditEvent.objects.get(object_type="clinic_policy", object_id=str(policy.id))
    assert event.user_id == director.id
    old, new = event.detail["contraindication_classes"]
    assert old == {} and new == expected


@pytest.mark.parametrize("persona", ["prescriber", "nurse", "clinic_admin"])
def test_only_the_director_reclassifies(
    request: pytest.FixtureRequest, persona: str, site: Clinic
) -> None:
    user = request.getfixturevalue(persona)
    with pytest.raises(Forbidden) as exc:
        services.contraindication_classes_set(
            user=user, clinic=site, classes={"pregnancy": "relative"}, reason="x"
        )
    assert exc.value.message == services.MESSAGE_CLASSES_FORBIDDEN
    assert clinic_policy_current(clinic=site).version == 1


def test_reclassification_is_validated(director: User, site: Clinic) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.contraindication_classes_set(
            user=director, clinic=site, classes={"pregnancy": "sometimes"}, reason="x"
        )
    assert exc.value.errors == [
        FieldError("contraindication_classes.pregnancy", catalogue.MESSAGE_CLASS_INVALID)
    ]
    with pytest.raises(InvalidInput) as no_reason:
        services.contraindication_classes_set(
            user=director, clinic=site, classes={"pregnancy": "relative"}, reason="  "
        )
    assert no_reason.value.errors == [FieldError("reason", services.MESSAGE_CLASSES_REASON)]
    assert clinic_policy_current(clinic=site).version == 1


def test_reclassified_pregnancy_is_a_precaution_not_ineligibility(
    director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    today = local_today(site.time_zone).isoformat()
    evaluation = complete_evaluation(
        user=prescriber, patient=patient, clinic=site, pregnancy_checked_on=today, **PREGNANT
    )
    assert evaluation.proposal["pathway"] == rules.NOT_ELIGIBLE
    assert evaluation.proposal["absolute"] == ["pregnancy"]

    services.contraindication_classes_set(
        user=director, clinic=site, classes={"pregnancy": "relative"}, reason="Clinic decision"
    )
    services.evaluation_update(
        user=prescriber,
        evaluation=evaluation,
        data={"contraindications": {"pregnancy": {"mitigation": "Obstetric team consulted"}}},
    )
    stored = reload(evaluation)
    assert stored.policy_version == 2
    assert stored.proposal["pathway"] == rules.PAIN_SERIES
    assert stored.proposal["eligibility"] == rules.ELIGIBLE_WITH_PRECAUTIONS
    assert stored.proposal["precautions"] == ["pregnancy"]
    assert stored.proposal["absolute"] == [] and stored.proposal["blocking"] == []


def test_signing_uses_the_classes_in_force_not_the_last_save(
    director: User, prescriber: User, patient: Patient, site: Clinic
) -> None:
    today = local_today(site.time_zone).isoformat()
    evaluation = complete_evaluation(
        user=prescriber, patient=patient, clinic=site, pregnancy_checked_on=today, **PREGNANT
    )
    services.contraindication_classes_set(
        user=director, clinic=site, classes={"pregnancy": "relative"}, reason="Clinic decision"
    )
    # Pregnancy is now relative, and its mitigation is missing: signing is blocked.
    with pytest.raises(Conflict) as exc:
        services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
    assert exc.value.errors == [
        FieldError(
            "blocking",
            rules.BLOCK_MITIGATION.format(label=catalogue.contraindication("pregnancy").label),
        )
    ]


def test_a_signed_evaluation_keeps_the_classes_it_was_signed_under(
    signed: Evaluation, director: User, prescriber: User, site: Clinic, make_patient: MakePatient
) -> None:
    services.contraindication_classes_set(
        user=director, clinic=site, classes={"pregnancy": "relative"}, reason="Clinic decision"
    )
    stored = reload(signed)
    assert stored.policy_version == 1
    assert stored.facts["contraindication_classes"]["pregnancy"] == "absolute"
    later = complete_evaluation(user=prescriber, patient=make_patient(), clinic=site)
    services.evaluation_sign(user=prescriber, evaluation=later, accept=True)
    later = reload(later)
    assert later.policy_version == 2
    assert later.facts["contraindication_classes"]["pregnancy"] == "relative"


def test_reclassifying_one_class_keeps_an_earlier_change_of_another(
    director: User, site: Clinic
) -> None:
    services.contraindication_classes_set(
        user=director, clinic=site, classes={"pregnancy": "relative"}, reason="Board, March"
    )
    policy = services.contraindication_classes_set(
        user=director, clinic=site, classes={"liver_disease": "absolute"}, reason="Board, April"
    )
    assert policy.version == 3
    assert policy.contraindication_classes["pregnancy"] == "relative"
    assert policy.contraindication_classes["liver_disease"] == "absolute"
