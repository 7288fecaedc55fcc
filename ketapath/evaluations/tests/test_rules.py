"""The pathway proposal (DESIGN.md §2, §6; clinical.md §1.1, §1.2, §1.4, §2.2, §4.1)."""

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketapath.evaluations import rules
from ketapath.evaluations.rules import (
    BEHAVIORAL_HEALTH,
    MENTAL_HEALTH_PRIMARY,
    NOT_ELIGIBLE,
    PAIN_SERIES,
    ConditionFact,
    EvaluationFacts,
    Proposal,
    ScreenFact,
    needs_director_cosign,
    propose,
)

# The clinic's policy in these tests: the label contraindications of esketamine, active
# psychosis and pregnancy are absolute; the rest relative (clinical.md §1.1, §1.4).
CLASSES: dict[str, str] = {
    "ketamine_hypersensitivity": "absolute",
    "aneurysmal_vascular_disease": "absolute",
    "intracerebral_haemorrhage": "absolute",
    "active_psychosis": "absolute",
    "pregnancy": "absolute",
    "cardiovascular_disease": "relative",
    "liver_disease": "relative",
    "raised_icp_iop": "relative",
    "past_psychosis": "relative",
    "mania_bipolar": "relative",
    "substance_use_disorder": "relative",
}
LABELS: dict[str, str] = {
    "ketamine_hypersensitivity": "allergy or hypersensitivity to ketamine",
    "aneurysmal_vascular_disease": "aneurysmal vascular disease or arteriovenous malformation",
    "intracerebral_haemorrhage": "history of intracerebral haemorrhage",
    "active_psychosis": "active psychosis",
    "pregnancy": "pregnancy",
    "cardiovascular_disease": "poorly controlled cardiovascular disease",
    "liver_disease": "severe or moderate liver disease",
    "raised_icp_iop": "raised intracranial or intraocular pressure",
    "past_psychosis": "history of psychosis",
    "mania_bipolar": "mania or bipolar disorder",
    "substance_use_disorder": "substance-use disorder",
}
ABSOLUTE_KEYS = [k for k, v in CLASSES.items() if v == "absolute"]
RELATIVE_KEYS = [k for k, v in CLASSES.items() if v == "relative"]

FIBROMYALGIA = ConditionFact("M79.7", "Fibromyalgia", True)
MDD_RECURRENT_MODERATE = ConditionFact(
    "F33.1", "Major depressive disorder, recurrent, moderate", True
)
PTSD_CHRONIC = ConditionFact("F43.12", "Post-traumatic stress disorder, chronic", True)
GAD = ConditionFact("F41.1", "Generalized anxiety disorder", True)

PHQ9_POSITIVE = "PHQ-9 14 (moderate), 3 Nov 2026"
GAD7_POSITIVE = "GAD-7 12 (moderate), 3 Nov 2026"
PCL5_POSITIVE = "PCL-5 41, 3 Nov 2026"


def screen(key: str, **changes: Any) -> ScreenFact:
    base = ScreenFact(
        key=key, done=True, positive=False, summary="", resolution="", resolution_note=""
    )
    return dataclasses.replace(base, **changes)


def complete_facts(**changes: Any) -> EvaluationFacts:
    """A fully answered evaluation, eligible for the pain series, with nothing blocking."""
    facts = EvaluationFacts(
        coexisting_mh_treated=False,
        ready_for_ketamine=True,
        pain_conditions=(FIBROMYALGIA, ConditionFact("G89.29", "Other chronic pain", False)),
        pain_duration_months=18,
        mh_diagnoses=(),
        contraindications={key: "no" for key in CLASSES},
        mitigations={},
        contraindication_classes=CLASSES,
        contraindication_labels=LABELS,
        screens=(
            screen("phq9", summary="PHQ-9 4 (minimal), 3 Nov 2026"),
            screen("gad7", summary="GAD-7 3 (minimal), 3 Nov 2026"),
            screen("pcl5", summary="PCL-5 12, 3 Nov 2026"),
            screen("phq9_item9", summary="PHQ-9 item 9: 0"),
        ),
        allergies_answered=True,
        substance_screen_done=True,
        misuse_suspected=False,
        urine_tox_recorded=False,
        substance_use_active=False,
        could_be_pregnant=False,
        pregnancy_status="",
        breastfeeding=None,
        baseline_pain_recorded=True,
        peg_recorded=True,
        blood_pressure_recorded=True,
        weight_recorded=True,
        cardiovascular_risk=False,
        ecg_recorded=False,
        liver_risk=False,
        lft_recorded=False,
    )
    return dataclasses.replace(facts, **changes)


def answered(**answers: str) -> dict[str, str]:
    return {key: "no" for key in CLASSES} | answers


def with_screen(facts: EvaluationFacts, replacement: ScreenFact) -> EvaluationFacts:
    kept = tuple(s for s in facts.screens if s.key != replacement.key)
    return dataclasses.replace(facts, screens=(*kept, replacement))


def without_screen(key: str) -> EvaluationFacts:
    facts = complete_facts()
    return dataclasses.replace(facts, screens=tuple(s for s in facts.screens if s.key != key))


# --- the baseline -------------------------------------------------------------------------


def test_complete_facts_propose_the_pain_series_with_nothing_blocking() -> None:
    proposal = propose(complete_facts())
    assert proposal == Proposal(
        pathway=PAIN_SERIES,
        eligibility="eligible",
        reasons=(
            "The primary pain condition is M79.7 Fibromyalgia.",
            rules.REASON_PAIN_SERIES,
            rules.REASON_NO_CONTRAINDICATION,
            rules.REASON_PRESCRIBER_DECIDES,
        ),
        blocking=(),
        prompts=(),
        precautions=(),
        absolute=(),
        series_blocked=False,
        template_family=None,
    )


def test_pain_series_reason_names_three_intramuscular_sessions() -> None:
    assert "three intramuscular sessions scheduled closely together" in rules.REASON_PAIN_SERIES


def test_constants() -> None:
    assert rules.PATHWAYS == (
        "PAIN_SERIES",
        "MENTAL_HEALTH_PRIMARY",
        "BEHAVIORAL_HEALTH",
        "NOT_ELIGIBLE",
    )
    assert rules.ELIGIBILITIES == (
        "eligible",
        "eligible_with_precautions",
        "not_eligible",
        "not_ready",
    )
    assert set(rules.CONTRAINDICATION_KEYS) == set(CLASSES)
    assert set(rules.TEMPLATE_FAMILIES) == {"depression", "ptsd"}


# --- pathway branches ---------------------------------------------------------------------


def _absolute_policy(key: str) -> EvaluationFacts:
    return complete_facts(
        contraindications=answered(**{key: "yes"}),
        contraindication_classes=CLASSES | {key: "absolute"},
    )


PATHWAY_CASES: list[tuple[str, Callable[[], EvaluationFacts], str | None, str]] = [
    *[
        (f"absolute {key}", lambda key=key: _absolute_policy(key), NOT_ELIGIBLE, "not_eligible")
        for key in rules.CONTRAINDICATION_KEYS
    ],
    (
        "pregnant status, answer no",
        lambda: complete_facts(
            could_be_pregnant=True, pregnancy_status="pregnant", breastfeeding=False
        ),
        NOT_ELIGIBLE,
        "not_eligible",
    ),
    (
        "F32.3 psychotic depression",
        lambda: complete_facts(
            coexisting_mh_treated=True,
            mh_diagnoses=(ConditionFact("F32.3", "MDD, single, severe with psychotic", True),),
        ),
        NOT_ELIGIBLE,
        "not_eligible",
    ),
    (
        "F33.3 psychotic depression",
        lambda: complete_facts(
            coexisting_mh_treated=True,
            mh_diagnoses=(ConditionFact("F33.3", "MDD, recurrent, severe psychotic", True),),
        ),
        NOT_ELIGIBLE,
        "not_eligible",
    ),
    (
        "pregnancy reclassified relative",
        lambda: complete_facts(
            could_be_pregnant=True,
            pregnancy_status="pregnant",
            breastfeeding=False,
            contraindication_classes=CLASSES | {"pregnancy": "relative"},
            mitigations={"pregnancy": "Obstetric review; lowest effective dose."},
        ),
        PAIN_SERIES,
        "eligible_with_precautions",
    ),
    (
        "not ready",
        lambda: complete_facts(ready_for_ketamine=False),
        BEHAVIORAL_HEALTH,
        "not_ready",
    ),
    (
        "active substance use",
        lambda: complete_facts(substance_use_active=True),
        BEHAVIORAL_HEALTH,
        "eligible_with_precautions",
    ),
    (
        "depression F33.1 primary",
        lambda: complete_facts(coexisting_mh_treated=True, mh_diagnoses=(MDD_RECURRENT_MODERATE,)),
        MENTAL_HEALTH_PRIMARY,
        "eligible",
    ),
    (
        "PTSD F43.12 primary",
        lambda: complete_facts(coexisting_mh_treated=True, mh_diagnoses=(PTSD_CHRONIC,)),
        MENTAL_HEALTH_PRIMARY,
        "eligible",
    ),
    (
        "GAD F41.1 primary",
        lambda: complete_facts(
            coexisting_mh_treated=True,
            mh_diagnoses=(GAD, dataclasses.replace(MDD_RECURRENT_MODERATE, is_primary=False)),
        ),
        None,
        "eligible",
    ),
    (
        "remission F33.41",
        lambda: complete_facts(
            coexisting_mh_treated=True,
            mh_diagnoses=(ConditionFact("F33.41", "MDD, recurrent, in partial remission", True),),
        ),
        None,
        "eligible",
    ),
    (
        "several MH diagnoses, none primary",
        lambda: complete_facts(
            coexisting_mh_treated=True,
            mh_diagnoses=(
                dataclasses.replace(MDD_RECURRENT_MODERATE, is_primary=False),
                dataclasses.replace(PTSD_CHRONIC, is_primary=False),
            ),
        ),
        None,
        "eligible",
    ),
    (
        "absolute beats not ready",
        lambda: dataclasses.replace(
            _absolute_policy("ketamine_hypersensitivity"), ready_for_ketamine=False
        ),
        NOT_ELIGIBLE,
        "not_eligible",
    ),
    (
        "not ready beats substance use",
        lambda: complete_facts(ready_for_ketamine=False, substance_use_active=True),
        BEHAVIORAL_HEALTH,
        "not_ready",
    ),
    (
        "substance use beats depression",
        lambda: complete_facts(
            substance_use_active=True,
            coexisting_mh_treated=True,
            mh_diagnoses=(MDD_RECURRENT_MODERATE,),
        ),
        BEHAVIORAL_HEALTH,
        "eligible_with_precautions",
    ),
    (
        "relative contraindication",
        lambda: complete_facts(
            contraindications=answered(cardiovascular_disease="yes"),
            mitigations={"cardiovascular_disease": "BP controlled on amlodipine; ECG normal."},
        ),
        PAIN_SERIES,
        "eligible_with_precautions",
    ),
    (
        "psychotic depression with psychosis classed relative",
        lambda: complete_facts(
            coexisting_mh_treated=True,
            mh_diagnoses=(ConditionFact("F33.3", "MDD, recurrent, severe psychotic", True),),
            contraindication_classes=CLASSES | {"active_psychosis": "relative"},
            mitigations={"active_psychosis": "Psychiatry co-management."},
        ),
        None,
        "eligible_with_precautions",
    ),
]


@pytest.mark.parametrize(
    ("make", "pathway", "eligibility"),
    [pytest.param(make, p, e, id=name) for name, make, p, e in PATHWAY_CASES],
)
def test_pathway_branches(
    make: Callable[[], EvaluationFacts], pathway: str | None, eligibility: str
) -> None:
    proposal = propose(make())
    assert (proposal.pathway, proposal.eligibility) == (pathway, eligibility)
    assert proposal.reasons[-1] == rules.REASON_PRESCRIBER_DECIDES


@pytest.mark.parametrize("key", rules.CONTRAINDICATION_KEYS)
def test_absolute_reason_names_the_contraindication(key: str) -> None:
    proposal = propose(_absolute_policy(key))
    assert proposal.absolute == (key,)
    assert proposal.reasons[:3] == (
        f"Absolute contraindication under this clinic's policy: {LABELS[key]} (answered yes).",
        rules.REASON_REFERRAL,
        rules.REASON_ABSOLUTE_OVERRIDE,
    )
    assert "behavioral-health" in rules.REASON_REFERRAL
    assert "medical director's co-signature" in rules.REASON_ABSOLUTE_OVERRIDE


def test_pregnant_status_counts_whatever_the_answer_says() -> None:
    proposal = propose(
        complete_facts(could_be_pregnant=True, pregnancy_status="pregnant", breastfeeding=False)
    )
    assert proposal.absolute == ("pregnancy",)
    assert proposal.reasons[0] == (
        "Absolute contraindication under this clinic's policy: pregnancy "
        "(pregnancy status recorded as pregnant)."
    )


def test_pregnancy_answered_yes_and_pregnant_names_it_once() -> None:
    proposal = propose(
        complete_facts(
            contraindications=answered(pregnancy="yes"),
            could_be_pregnant=True,
            pregnancy_status="pregnant",
            breastfeeding=False,
        )
    )
    assert proposal.absolute == ("pregnancy",)
    assert sum("pregnancy" in r for r in proposal.reasons) == 1


@pytest.mark.parametrize("code", ["F32.3", "F33.3", "f333"])
def test_psychotic_depression_counts_as_active_psychosis_and_names_the_code(code: str) -> None:
    proposal = propose(
        complete_facts(
            coexisting_mh_treated=True,
            mh_diagnoses=(ConditionFact(code, "Severe depression with psychotic features", True),),
        )
    )
    dotted = rules.normalise_code(code)
    assert proposal.absolute == ("active_psychosis",)
    assert proposal.reasons[0] == (
        "Absolute contraindication under this clinic's policy: active psychosis "
        f"({dotted} Severe depression with psychotic features is depression with psychotic "
        "features, which counts as active psychosis)."
    )


def test_pregnancy_reclassified_relative_is_a_precaution_needing_mitigation() -> None:
    proposal = propose(
        complete_facts(
            could_be_pregnant=True,
            pregnancy_status="pregnant",
            breastfeeding=False,
            contraindication_classes=CLASSES | {"pregnancy": "relative"},
        )
    )
    assert proposal.pathway == PAIN_SERIES
    assert proposal.absolute == ()
    assert proposal.precautions == ("pregnancy",)
    assert proposal.blocking == ("Document a mitigation for pregnancy.",)
    assert (
        "Relative contraindication under this clinic's policy: pregnancy (pregnancy status "
        "recorded as pregnant); treatment may go ahead only with a documented mitigation."
    ) in proposal.reasons


def test_unclassified_contraindication_answered_yes_is_treated_as_absolute() -> None:
    facts = complete_facts(contraindications=answered(new_question="yes"))
    proposal = propose(facts)
    assert proposal.pathway == NOT_ELIGIBLE
    assert proposal.absolute == ("new_question",)


def test_not_ready_reason() -> None:
    proposal = propose(complete_facts(ready_for_ketamine=False))
    assert proposal.reasons[0] == rules.REASON_NOT_READY
    assert proposal.series_blocked is False


def test_active_substance_use_blocks_the_series() -> None:
    proposal = propose(complete_facts(substance_use_active=True))
    assert proposal.pathway == BEHAVIORAL_HEALTH
    assert proposal.series_blocked is True
    assert proposal.reasons[:3] == (
        rules.REASON_SUBSTANCE_USE,
        rules.REASON_SUBSTANCE_USE_PATHWAY,
        rules.REASON_SUBSTANCE_USE_OVERRIDE,
    )
    assert "serial infusions should not be given" in rules.REASON_SUBSTANCE_USE
    assert needs_director_cosign(proposal, PAIN_SERIES)
    assert needs_director_cosign(proposal, MENTAL_HEALTH_PRIMARY)
    assert not needs_director_cosign(proposal, BEHAVIORAL_HEALTH)


def test_substance_use_stays_blocking_the_series_when_not_ready_sets_the_pathway() -> None:
    proposal = propose(complete_facts(ready_for_ketamine=False, substance_use_active=True))
    assert proposal.series_blocked is True
    assert rules.REASON_SUBSTANCE_USE in proposal.reasons
    assert needs_director_cosign(proposal, PAIN_SERIES)


def test_depression_primary_follows_its_protocol() -> None:
    proposal = propose(
        complete_facts(coexisting_mh_treated=True, mh_diagnoses=(MDD_RECURRENT_MODERATE,))
    )
    assert proposal.template_family == "depression"
    assert proposal.reasons[0] == (
        "A co-existing mental-health condition is confirmed, with F33.1 Major depressive "
        "disorder, recurrent, moderate as the primary diagnosis. Treatment follows the "
        "depression protocol, with pain measured at every session alongside."
    )


def test_ptsd_primary_follows_its_protocol() -> None:
    proposal = propose(complete_facts(coexisting_mh_treated=True, mh_diagnoses=(PTSD_CHRONIC,)))
    assert proposal.template_family == "ptsd"
    assert "PTSD protocol" in proposal.reasons[0]


@pytest.mark.parametrize(
    ("diagnosis", "reason"),
    [
        (GAD, rules.REASON_CHOOSE_ANXIETY),
        (
            ConditionFact("F33.41", "MDD, recurrent, in partial remission", True),
            rules.REASON_CHOOSE_REMISSION,
        ),
        (
            ConditionFact("F32.5", "MDD, single episode, in full remission", True),
            rules.REASON_CHOOSE_REMISSION,
        ),
        (ConditionFact("F31.81", "Bipolar II disorder", True), rules.REASON_CHOOSE_OTHER),
    ],
)
def test_no_template_means_the_prescriber_chooses(diagnosis: ConditionFact, reason: str) -> None:
    proposal = propose(complete_facts(coexisting_mh_treated=True, mh_diagnoses=(diagnosis,)))
    assert proposal.pathway is None
    assert proposal.template_family is None
    assert proposal.reasons[0] == reason.format(code=diagnosis.code, display=diagnosis.display)
    assert "prescriber chooses" in proposal.reasons[0]


def test_treated_condition_without_a_diagnosis_proposes_nothing() -> None:
    proposal = propose(complete_facts(coexisting_mh_treated=True))
    assert proposal.pathway is None
    assert proposal.reasons[0] == rules.REASON_CHOOSE_NOT_RECORDED
    assert proposal.blocking == (rules.BLOCK_MH_DIAGNOSIS,)


def test_relative_contraindication_is_listed_with_its_mitigation_need() -> None:
    proposal = propose(complete_facts(contraindications=answered(liver_disease="yes")))
    assert proposal.precautions == ("liver_disease",)
    assert (
        "Relative contraindication under this clinic's policy: severe or moderate liver "
        "disease (answered yes); treatment may go ahead only with a documented mitigation."
    ) in proposal.reasons
    assert rules.REASON_NO_CONTRAINDICATION not in proposal.reasons


# --- blocking rules -----------------------------------------------------------------------


def _unresolved_phq9() -> EvaluationFacts:
    return with_screen(complete_facts(), screen("phq9", positive=True, summary=PHQ9_POSITIVE))


BLOCKING_CASES: list[tuple[str, Callable[[], EvaluationFacts], str]] = [
    ("first question", lambda: complete_facts(coexisting_mh_treated=None), rules.BLOCK_COEXISTING),
    (
        "MH diagnosis missing",
        lambda: complete_facts(coexisting_mh_treated=True),
        rules.BLOCK_MH_DIAGNOSIS,
    ),
    (
        "MH primary missing",
        lambda: complete_facts(
            coexisting_mh_treated=True,
            mh_diagnoses=(
                dataclasses.replace(MDD_RECURRENT_MODERATE, is_primary=False),
                dataclasses.replace(PTSD_CHRONIC, is_primary=False),
            ),
        ),
        rules.BLOCK_MH_PRIMARY,
    ),
    (
        "two MH primaries",
        lambda: complete_facts(
            coexisting_mh_treated=True, mh_diagnoses=(MDD_RECURRENT_MODERATE, PTSD_CHRONIC)
        ),
        rules.BLOCK_MH_PRIMARY,
    ),
    ("readiness", lambda: complete_facts(ready_for_ketamine=None), rules.BLOCK_READY),
    (
        "no pain condition",
        lambda: complete_facts(pain_conditions=(), pain_duration_months=None),
        rules.BLOCK_PAIN_CONDITION,
    ),
    (
        "no primary pain condition",
        lambda: complete_facts(
            pain_conditions=(dataclasses.replace(FIBROMYALGIA, is_primary=False),)
        ),
        rules.BLOCK_PAIN_PRIMARY,
    ),
    ("pain duration", lambda: complete_facts(pain_duration_months=None), rules.BLOCK_PAIN_DURATION),
    (
        "unanswered contraindications",
        lambda: complete_facts(
            contraindications={
                k: v for k, v in answered(liver_disease="").items() if k != "raised_icp_iop"
            }
        ),
        "Answer every contraindication question; still unanswered: severe or moderate liver "
        "disease, raised intracranial or intraocular pressure.",
    ),
    (
        "mitigation",
        lambda: complete_facts(
            contraindications=answered(raised_icp_iop="yes"), mitigations={"raised_icp_iop": " "}
        ),
        "Document a mitigation for raised intracranial or intraocular pressure.",
    ),
    ("PHQ-9 not done", lambda: without_screen("phq9"), "Screen for depression with the PHQ-9."),
    (
        "GAD-7 not done",
        lambda: with_screen(complete_facts(), screen("gad7", done=False)),
        "Screen for anxiety with the GAD-7.",
    ),
    (
        "PCL-5 not done",
        lambda: without_screen("pcl5"),
        "Screen for post-traumatic stress disorder (PTSD) with the PCL-5.",
    ),
    (
        "PHQ-9 positive unresolved",
        _unresolved_phq9,
        "PHQ-9 14 (moderate), 3 Nov 2026 is a positive screen for depression: confirm the "
        "diagnosis, or record it as ruled out and say why.",
    ),
    (
        "GAD-7 confirmed without a diagnosis",
        lambda: with_screen(
            complete_facts(),
            screen("gad7", positive=True, summary=GAD7_POSITIVE, resolution="confirmed"),
        ),
        "GAD-7 12 (moderate), 3 Nov 2026: anxiety was confirmed, so add the confirmed "
        "diagnosis with its ICD-10-CM code.",
    ),
    (
        "PCL-5 ruled out without a note",
        lambda: with_screen(
            complete_facts(),
            screen("pcl5", positive=True, summary=PCL5_POSITIVE, resolution="ruled_out"),
        ),
        "PCL-5 41, 3 Nov 2026: post-traumatic stress disorder (PTSD) was recorded as ruled "
        "out; say why.",
    ),
    (
        "item 9 positive unresolved",
        lambda: with_screen(complete_facts(), screen("phq9_item9", positive=True)),
        rules.BLOCK_ITEM9,
    ),
    ("item 9 missing counts as unknown", lambda: without_screen("phq9_item9"), rules.BLOCK_ITEM9),
    (
        "item 9 assessed without a note",
        lambda: with_screen(
            complete_facts(), screen("phq9_item9", positive=True, resolution="ruled_out")
        ),
        rules.BLOCK_ITEM9_NOTE,
    ),
    ("allergies", lambda: complete_facts(allergies_answered=False), rules.BLOCK_ALLERGIES),
    (
        "substance screen",
        lambda: complete_facts(substance_screen_done=False),
        rules.BLOCK_SUBSTANCE_SCREEN,
    ),
    ("urine toxicology", lambda: complete_facts(misuse_suspected=True), rules.BLOCK_URINE_TOX),
    (
        "could be pregnant",
        lambda: complete_facts(could_be_pregnant=None),
        rules.BLOCK_PREGNANCY_ASK,
    ),
    (
        "pregnancy status missing",
        lambda: complete_facts(could_be_pregnant=True, breastfeeding=False),
        rules.BLOCK_PREGNANCY_STATUS,
    ),
    (
        "pregnancy status unknown",
        lambda: complete_facts(
            could_be_pregnant=True, pregnancy_status="unknown", breastfeeding=False
        ),
        rules.BLOCK_PREGNANCY_STATUS,
    ),
    (
        "breastfeeding",
        lambda: complete_facts(could_be_pregnant=True, pregnancy_status="not_pregnant"),
        rules.BLOCK_BREASTFEEDING,
    ),
    (
        "baseline pain",
        lambda: complete_facts(baseline_pain_recorded=False),
        rules.BLOCK_BASELINE_PAIN,
    ),
    (
        "blood pressure",
        lambda: complete_facts(blood_pressure_recorded=False),
        rules.BLOCK_BLOOD_PRESSURE,
    ),
    ("weight", lambda: complete_facts(weight_recorded=False), rules.BLOCK_WEIGHT),
]


@pytest.mark.parametrize(
    ("make", "message"),
    [pytest.param(make, message, id=name) for name, make, message in BLOCKING_CASES],
)
def test_each_blocking_rule_alone(make: Callable[[], EvaluationFacts], message: str) -> None:
    assert propose(make()).blocking == (message,)


def test_blocking_messages_are_sentences_saying_what_to_do() -> None:
    for _name, make, message in BLOCKING_CASES:
        assert message[0].isupper() and message.endswith((".", "?")), message
        assert propose(make()).blocking


@pytest.mark.parametrize(
    "item9",
    [
        screen(
            "phq9_item9",
            positive=True,
            resolution="ruled_out",
            resolution_note="Risk assessed: passive thoughts, no plan or intent.",
        ),
        screen(
            "phq9_item9",
            positive=True,
            resolution="confirmed",
            resolution_note="Active ideation; crisis plan made, psychiatry today.",
        ),
    ],
)
def test_item9_is_resolved_by_an_assessment_with_a_note(item9: ScreenFact) -> None:
    assert propose(with_screen(complete_facts(), item9)).blocking == ()


def test_item9_confirmed_risk_prompts_to_clear_the_alert() -> None:
    item9 = screen("phq9_item9", positive=True, resolution="confirmed", resolution_note="Risk.")
    assert rules.PROMPT_ITEM9_RISK in propose(with_screen(complete_facts(), item9)).prompts


def test_item9_is_not_asked_for_when_phq9_is_not_done() -> None:
    facts = complete_facts(screens=(screen("gad7"), screen("pcl5")))
    assert propose(facts).blocking == ("Screen for depression with the PHQ-9.",)


@pytest.mark.parametrize(
    ("key", "summary", "diagnosis"),
    [
        ("phq9", PHQ9_POSITIVE, MDD_RECURRENT_MODERATE),
        ("gad7", GAD7_POSITIVE, GAD),
        ("pcl5", PCL5_POSITIVE, PTSD_CHRONIC),
    ],
)
def test_positive_screen_confirmed_with_its_diagnosis_does_not_block(
    key: str, summary: str, diagnosis: ConditionFact
) -> None:
    facts = with_screen(
        complete_facts(coexisting_mh_treated=True, mh_diagnoses=(diagnosis,)),
        screen(key, positive=True, summary=summary, resolution="confirmed"),
    )
    assert propose(facts).blocking == ()


def test_positive_screen_ruled_out_with_a_note_does_not_block() -> None:
    facts = with_screen(
        complete_facts(),
        screen(
            "phq9",
            positive=True,
            summary=PHQ9_POSITIVE,
            resolution="ruled_out",
            resolution_note="Symptoms explained by acute bereavement; review in 4 weeks.",
        ),
    )
    assert propose(facts).blocking == ()


def test_positive_screen_without_a_summary_names_the_instrument() -> None:
    facts = with_screen(complete_facts(), screen("gad7", positive=True))
    assert propose(facts).blocking == (
        "GAD-7 is a positive screen for anxiety: confirm the diagnosis, or record it as ruled "
        "out and say why.",
    )


def test_blocking_is_computed_whatever_the_pathway() -> None:
    facts = dataclasses.replace(
        _absolute_policy("intracerebral_haemorrhage"), weight_recorded=False
    )
    proposal = propose(facts)
    assert proposal.pathway == NOT_ELIGIBLE
    assert proposal.blocking == (rules.BLOCK_WEIGHT,)


def test_contraindication_answers_are_read_case_blind() -> None:
    proposal = propose(complete_facts(contraindications=answered(ketamine_hypersensitivity="Yes ")))
    assert proposal.absolute == ("ketamine_hypersensitivity",)


# --- prompts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "prompt"),
    [
        ({"cardiovascular_risk": True}, rules.PROMPT_ECG),
        ({"liver_risk": True}, rules.PROMPT_LIVER_TESTS),
        ({"peg_recorded": False}, rules.PROMPT_PEG),
        (
            {"could_be_pregnant": True, "pregnancy_status": "not_pregnant", "breastfeeding": True},
            rules.PROMPT_BREASTFEEDING,
        ),
    ],
)
def test_prompts_do_not_block(changes: dict[str, Any], prompt: str) -> None:
    proposal = propose(complete_facts(**changes))
    assert proposal.prompts == (prompt,)
    assert proposal.blocking == ()
    assert proposal.pathway == PAIN_SERIES


@pytest.mark.parametrize(
    "changes",
    [
        {"cardiovascular_risk": True, "ecg_recorded": True},
        {"liver_risk": True, "lft_recorded": True},
    ],
)
def test_prompt_goes_once_the_test_is_recorded(changes: dict[str, Any]) -> None:
    assert propose(complete_facts(**changes)).prompts == ()


# --- classification -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "family"),
    [
        ("F32.0", "depression"),
        ("F32.9", "depression"),
        ("F32.A", "depression"),
        ("F33.1", "depression"),
        ("F33.42", "depression"),
        ("F43.10", "ptsd"),
        ("F43.12", "ptsd"),
        ("F41.1", "anxiety"),
        ("F41.9", "other"),
        ("F43.2", "other"),
        ("F31.81", "other"),
        ("M79.7", "other"),
        ("f3312", "depression"),
    ],
)
def test_mh_family(code: str, family: str) -> None:
    assert rules.mh_family(code) == family


@pytest.mark.parametrize(
    ("code", "remission"),
    [
        ("F32.4", True),
        ("F32.5", True),
        ("F33.40", True),
        ("F33.41", True),
        ("F33.42", True),
        ("F33.1", False),
        ("F32.3", False),
        ("F43.12", False),
    ],
)
def test_is_remission(code: str, remission: bool) -> None:
    assert rules.is_remission(code) is remission


@pytest.mark.parametrize(
    ("code", "psychotic"),
    [("F32.3", True), ("F33.3", True), ("F32.2", False), ("F33.2", False), ("F33.41", False)],
)
def test_is_psychotic_depression(code: str, psychotic: bool) -> None:
    assert rules.is_psychotic_depression(code) is psychotic


# --- director co-signature ----------------------------------------------------------------


def _proposal(absolute: tuple[str, ...], series_blocked: bool) -> Proposal:
    return Proposal(
        pathway=NOT_ELIGIBLE if absolute else BEHAVIORAL_HEALTH,
        eligibility="not_eligible" if absolute else "eligible_with_precautions",
        reasons=(),
        blocking=(),
        prompts=(),
        precautions=(),
        absolute=absolute,
        series_blocked=series_blocked,
    )


@pytest.mark.parametrize(
    ("absolute", "series_blocked", "chosen", "expected"),
    [
        (
            absolute,
            blocked,
            chosen,
            bool(absolute or blocked) and chosen in {PAIN_SERIES, MENTAL_HEALTH_PRIMARY},
        )
        for absolute in [(), ("pregnancy",)]
        for blocked in [False, True]
        for chosen in rules.PATHWAYS
    ],
)
def test_needs_director_cosign_truth_table(
    absolute: tuple[str, ...], series_blocked: bool, chosen: str, expected: bool
) -> None:
    assert needs_director_cosign(_proposal(absolute, series_blocked), chosen) is expected


def test_needs_director_cosign_spot_checks() -> None:
    assert needs_director_cosign(_proposal(("pregnancy",), False), PAIN_SERIES)
    assert needs_director_cosign(_proposal((), True), MENTAL_HEALTH_PRIMARY)
    assert not needs_director_cosign(_proposal((), False), PAIN_SERIES)
    assert not needs_director_cosign(_proposal(("pregnancy",), True), BEHAVIORAL_HEALTH)
    assert not needs_director_cosign(_proposal(("pregnancy",), True), NOT_ELIGIBLE)


def test_director_cosign_rules_name_what_is_overridden() -> None:
    both = _proposal(("active_psychosis",), True)
    assert rules.director_cosign_rules(both, PAIN_SERIES) == rules.DIRECTOR_COSIGN_RULES
    assert rules.director_cosign_rules(both, BEHAVIORAL_HEALTH) == ()


def test_no_cosign_needed_for_a_plain_proposal() -> None:
    proposal = propose(complete_facts())
    assert not any(needs_director_cosign(proposal, p) for p in rules.PATHWAYS)


# --- property -----------------------------------------------------------------------------

CODES = ["F32.3", "F33.3", "F33.1", "F43.12", "F41.1", "F33.41", "F32.5", "M79.7", "", "X"]
KEYS = [*rules.CONTRAINDICATION_KEYS, "other_key"]
ANSWERS = ["yes", "no", "", "YES", "maybe"]

conditions = st.lists(
    st.builds(
        ConditionFact,
        code=st.sampled_from(CODES),
        display=st.text(max_size=5),
        is_primary=st.booleans(),
    ),
    max_size=3,
).map(tuple)
screens = st.lists(
    st.builds(
        ScreenFact,
        key=st.sampled_from(["phq9", "gad7", "pcl5", "phq9_item9", "other"]),
        done=st.booleans(),
        positive=st.booleans(),
        summary=st.text(max_size=5),
        resolution=st.sampled_from(["", "confirmed", "ruled_out", "odd"]),
        resolution_note=st.text(max_size=5),
    ),
    max_size=6,
).map(tuple)
optional_bool = st.none() | st.booleans()

facts_strategy = st.builds(
    EvaluationFacts,
    coexisting_mh_treated=optional_bool,
    ready_for_ketamine=optional_bool,
    pain_conditions=conditions,
    pain_duration_months=st.none() | st.integers(min_value=0, max_value=600),
    mh_diagnoses=conditions,
    contraindications=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(ANSWERS)),
    mitigations=st.dictionaries(st.sampled_from(KEYS), st.text(max_size=5)),
    contraindication_classes=st.dictionaries(
        st.sampled_from(KEYS), st.sampled_from(["absolute", "relative", "odd"])
    ),
    contraindication_labels=st.dictionaries(st.sampled_from(KEYS), st.text(max_size=5)),
    screens=screens,
    allergies_answered=st.booleans(),
    substance_screen_done=st.booleans(),
    misuse_suspected=st.booleans(),
    urine_tox_recorded=st.booleans(),
    substance_use_active=st.booleans(),
    could_be_pregnant=optional_bool,
    pregnancy_status=st.sampled_from(["", "not_pregnant", "pregnant", "unknown"]),
    breastfeeding=optional_bool,
    baseline_pain_recorded=st.booleans(),
    peg_recorded=st.booleans(),
    blood_pressure_recorded=st.booleans(),
    weight_recorded=st.booleans(),
    cardiovascular_risk=st.booleans(),
    ecg_recorded=st.booleans(),
    liver_risk=st.booleans(),
    lft_recorded=st.booleans(),
)


@given(facts_strategy)
def test_not_eligible_exactly_when_an_absolute_contraindication_is_present(
    facts: EvaluationFacts,
) -> None:
    proposal = propose(facts)
    assert (proposal.pathway == NOT_ELIGIBLE) == bool(proposal.absolute)
    assert (proposal.eligibility == "not_eligible") == bool(proposal.absolute)
    assert proposal.pathway is None or proposal.pathway in rules.PATHWAYS
    assert proposal.eligibility in rules.ELIGIBILITIES
    assert proposal.series_blocked is facts.substance_use_active
    assert not set(proposal.absolute) & set(proposal.precautions)
    assert proposal.reasons[-1] == rules.REASON_PRESCRIBER_DECIDES
    if facts.pregnancy_status == "pregnant":
        assert "pregnancy" in proposal.absolute + proposal.precautions
    if any(rules.is_psychotic_depression(dx.code) for dx in facts.mh_diagnoses):
        assert "active_psychosis" in proposal.absolute + proposal.precautions
