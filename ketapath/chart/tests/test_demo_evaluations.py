"""The demo evaluations: every pathway signed, one blocked draft, the awkward cases a clinic
meets (expired, overridden, amended), all consistent with the rules that signed them."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.chart.demo import CHICAGO, DENVER, seed_demo
from ketapath.chart.demo_evaluations import CASES, screening_answers, spread
from ketapath.chart.demo_history import history_patients
from ketapath.chart.demo_measures import ITEM9_INDEX
from ketapath.clinics.models import Organization
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.errors import Conflict
from ketapath.core.timeutils import local_today
from ketapath.evaluations import selectors, services
from ketapath.evaluations.models import Addendum, ConditionEntry, Evaluation
from ketapath.evaluations.rules import propose
from ketapath.observations.models import Observation, SafetyAlert
from ketapath.patients.models import Pathway, Patient
from ketapath.questionnaires.models import Response

pytestmark = pytest.mark.django_db


def signed() -> list[Evaluation]:
    return list(
        Evaluation.objects.filter(status=Evaluation.Status.SIGNED).select_related(
            "clinic", "patient", "signed_by"
        )
    )


def signed_at(evaluation: Evaluation) -> datetime:
    assert evaluation.signed_at is not None
    return evaluation.signed_at


def valid_until(evaluation: Evaluation) -> date:
    assert evaluation.valid_until is not None
    return evaluation.valid_until


def signer(evaluation: Evaluation) -> str:
    assert evaluation.signed_by is not None
    return evaluation.signed_by.username


def counts() -> dict[str, int]:
    models: list[Any] = [Evaluation, ConditionEntry, Addendum, Response, Observation, SafetyAlert]
    return {model.__name__: model.objects.count() for model in models}


def test_signed_evaluations_cover_every_pathway_at_both_sites(seeded: None) -> None:
    evaluations = signed()

    # The year's history (demo_history) adds about thirty-five signed evaluations.
    assert 12 <= len(evaluations) <= 60
    assert {e.pathway for e in evaluations} == set(Pathway.values)
    assert {e.clinic.name for e in evaluations} == {DENVER, CHICAGO}
    by_pathway = {p: [e for e in evaluations if e.pathway == p] for p in Pathway.values}
    assert len(by_pathway[Pathway.PAIN_SERIES]) >= 4
    assert len(by_pathway[Pathway.MENTAL_HEALTH_PRIMARY]) >= 2
    signers = {signer(e) for e in evaluations}
    assert signers == {"prescriber", "director", "prescriber2", "director2"}


def test_pain_conditions_vary_across_the_picklist_with_companion_codes(seeded: None) -> None:
    pain = ConditionEntry.objects.filter(
        category=ConditionEntry.Category.PAIN, evaluation__status=Evaluation.Status.SIGNED
    )
    primary_keys = set(pain.filter(is_primary=True).values_list("catalogue_key", flat=True))
    codes = set(pain.values_list("code", flat=True))

    assert {"migraine", "fibromyalgia", "crps", "low_back_pain", "trigeminal_neuralgia"} <= (
        primary_keys
    )
    assert {"phantom_limb_pain", "cipn"} <= primary_keys
    # Companion codes (clinical.md §4.1): chronic low back pain and CIPN need a second code.
    assert {"M54.50", "G89.29", "G62.0", "T45.1X5A"} <= codes
    assert any(code.startswith("G90.5") for code in codes)
    mental = set(
        ConditionEntry.objects.filter(category=ConditionEntry.Category.MENTAL_HEALTH).values_list(
            "code", flat=True
        )
    )
    assert {"F33.1", "F43.12", "F41.1"} <= mental


def test_every_signed_evaluation_still_satisfies_the_rules_it_was_signed_under(
    seeded: None,
) -> None:
    """Recomputed from the measures in force at signing, nothing blocks and the proposal is
    the one frozen at signing; prior treatments carry an outcome."""
    for evaluation in signed():
        policy = clinic_policy_current(clinic=evaluation.clinic)
        measures = selectors.evaluation_measures(evaluation=evaluation)
        proposal = propose(
            selectors.evaluation_facts(evaluation=evaluation, measures=measures, policy=policy)
        )

        assert proposal.blocking == (), evaluation.patient.mrn
        assert proposal.pathway == evaluation.proposal["pathway"], evaluation.patient.mrn
        assert evaluation.prior_treatments, evaluation.patient.mrn
        assert all(t["outcome"] in services.PRIOR_OUTCOMES for t in evaluation.prior_treatments)
        # The screening behind the proposal was taken before the signature.
        for response in measures.screens.values():
            assert response is not None
            assert response.collected_at <= signed_at(evaluation)


def test_one_draft_blocked_only_by_an_unconfirmed_positive_screen(seeded: None) -> None:
    draft = Evaluation.objects.select_related("author", "clinic").get(
        status=Evaluation.Status.DRAFT
    )

    assert draft.author.username == "nurse"
    assert len(draft.proposal["blocking"]) == 1
    assert "PHQ-9 14" in draft.proposal["blocking"][0]
    assert "positive screen for depression" in draft.proposal["blocking"][0]
    phq9 = Response.objects.filter(patient=draft.patient, instrument="phq-9").latest("collected_at")
    assert phq9.answers["9"] == 0
    with pytest.raises(Conflict) as excinfo:
        services.evaluation_sign(
            user=User.objects.get(username="prescriber"), evaluation=draft, accept=True
        )
    assert excinfo.value.code == "blocked"


def test_an_expired_evaluation_was_backdated_with_its_measures(seeded: None) -> None:
    expired = [e for e in signed() if valid_until(e) < local_today(e.clinic.time_zone)]

    assert len(expired) >= 1
    evaluation = expired[0]
    valid_days = clinic_policy_current(clinic=evaluation.clinic).evaluation_valid_days
    moment = signed_at(evaluation)
    signed_day = timezone.localtime(moment, ZoneInfo(evaluation.clinic.time_zone)).date()
    assert valid_until(evaluation) - timedelta(days=valid_days) == signed_day
    assert evaluation.created_at < moment
    # The frozen snapshot and the measures it names moved back with the signature.
    snapshot = evaluation.facts["measures"]["screens"]["phq9"]
    response = Response.objects.get(id=snapshot["id"])
    assert response.collected_at.isoformat() == snapshot["collected_at"]
    assert moment - timedelta(days=1) < response.collected_at < moment
    assert selectors.signed_evaluation_current(patient=evaluation.patient, on=signed_day)
    assert (
        selectors.signed_evaluation_current(
            patient=evaluation.patient, on=local_today(evaluation.clinic.time_zone)
        )
        is None
    )


def test_overrides_carry_a_reason(seeded: None) -> None:
    overridden = [e for e in signed() if not e.accepted_proposal]

    assert len(overridden) >= 1
    assert all(e.override_reason.strip() for e in overridden)
    anxiety = [
        e
        for e in overridden
        if e.conditions.filter(category="mental_health", is_primary=True, code="F41.1").exists()
    ]
    assert anxiety and anxiety[0].proposal["pathway"] is None
    assert anxiety[0].pathway in (Pathway.MENTAL_HEALTH_PRIMARY, Pathway.BEHAVIORAL_HEALTH)


def test_precautions_absolute_contraindications_and_substance_use(seeded: None) -> None:
    evaluations = signed()

    with_precautions = [e for e in evaluations if e.proposal["precautions"]]
    assert with_precautions
    for evaluation in with_precautions:
        for key in evaluation.proposal["precautions"]:
            assert evaluation.contraindications[key]["mitigation"].strip()
    ecg = [e for e in evaluations if e.cardiovascular_risk == "yes" and e.ecg_result]
    assert ecg
    not_eligible = [e for e in evaluations if e.pathway == Pathway.NOT_ELIGIBLE]
    assert all(e.proposal["absolute"] for e in not_eligible)
    substance = [e for e in evaluations if e.substance_use_disorder_active == "yes"]
    assert substance and all(e.pathway == Pathway.BEHAVIORAL_HEALTH for e in substance)
    assert all(e.urine_tox_result for e in substance)
    not_ready = [e for e in evaluations if e.ready_for_ketamine == "no"]
    assert not_ready and not_ready[0].pathway == Pathway.BEHAVIORAL_HEALTH


def test_an_addendum_follows_a_signed_evaluation(seeded: None) -> None:
    addendum = Addendum.objects.select_related("evaluation", "author").get()

    assert addendum.evaluation.is_signed
    assert addendum.created_at > signed_at(addendum.evaluation)
    assert addendum.author.username == signer(addendum.evaluation)


def test_the_patient_pathway_is_the_latest_signed_evaluation(seeded: None) -> None:
    # History patients' pathways can since have changed by a course decision.
    evaluated = (
        Patient.objects.filter(evaluations__status=Evaluation.Status.SIGNED)
        .exclude(id__in=history_patients(Organization.objects.get()))
        .distinct()
    )

    assert evaluated.count() == sum(1 for case in CASES if not case.draft)
    for patient in evaluated:
        latest = patient.evaluations.filter(status=Evaluation.Status.SIGNED).latest("signed_at")
        assert patient.pathway == latest.pathway
        signed_day = timezone.localtime(latest.signed_at, ZoneInfo(latest.clinic.time_zone)).date()
        assert signed_day.isoformat() in patient.pathway_source


def test_no_new_safety_alert_and_the_alert_patient_is_not_evaluated(seeded: None) -> None:
    alerts = SafetyAlert.objects.filter(status="open")

    assert alerts.count() == 1
    alert_patient = Patient.objects.order_by("mrn")[ITEM9_INDEX]
    assert alerts.get().patient_id == alert_patient.id
    assert not alert_patient.evaluations.exists()


def test_a_second_seed_changes_nothing(seeded: None) -> None:
    before = counts()

    result = seed_demo()

    assert counts() == before
    assert result.evaluations_seeded == 0
    assert not result.changed


def test_screening_answers_score_to_the_intended_totals() -> None:
    assert spread(14, 8, 3) == [2, 2, 2, 2, 2, 2, 1, 1]
    assert sum(spread(49, 20, 4)) == 49
    with pytest.raises(ValueError):
        spread(25, 8, 3)
    for case in CASES:
        answers = screening_answers(case.screening)
        assert answers["phq-9"]["9"] == 0
        assert sum(v for k, v in answers["phq-9"].items() if k != "10") == case.screening.phq9
        assert sum(answers["gad-7"].values()) == case.screening.gad7
        assert sum(answers["pcl-5"].values()) == case.screening.pcl5
