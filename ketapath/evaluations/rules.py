"""The pathway proposal for a chronic-pain evaluation: pure rules that explain themselves.

The software proposes; a prescriber decides, signs, and records any override with a reason
(DESIGN.md §6). The four pathways are those of the clinical flow (DESIGN.md §2):

* PAIN_SERIES — isolated chronic pain: an initial series of three intramuscular sessions
  scheduled closely together, then reassess. No guideline sets intramuscular dosing for
  chronic pain, so the three-session protocol is the clinic's own (clinical.md §1.3).
* MENTAL_HEALTH_PRIMARY — a co-existing mental-health condition: the protocol of the
  primary mental-health diagnosis, with pain measured alongside.
* BEHAVIORAL_HEALTH — not ready for, or not to be given, a ketamine series:
  behavioral-health services billed to the patient's insurance.
* NOT_ELIGIBLE — an absolute contraindication.

Sources. Contraindications, the substance-use rule and the ECG and liver-test advice are the
ASRA/AAPM/ASA 2018 guideline (clinical.md §1.1). Urine toxicology when substance use is
suspected, baseline blood pressure, and the weaker evidence for depression with psychotic
features are from the APA 2017 statement (clinical.md §1.2). Aneurysmal vascular disease,
intracerebral haemorrhage and hypersensitivity come from the esketamine label
(clinical.md §1.4). Which contraindications are absolute and which relative is the clinic's
policy, a decision of its medical director (DESIGN.md §5b, §6); these rules only read it.
Screening cut-offs and the PHQ-9 item 9 rule are clinical.md §2.2 and are applied by the
caller; ICD-10-CM codes are clinical.md §4.1.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Pathways (DESIGN.md §2); upper case on the wire (DESIGN.md §5a).
PAIN_SERIES = "PAIN_SERIES"
MENTAL_HEALTH_PRIMARY = "MENTAL_HEALTH_PRIMARY"
BEHAVIORAL_HEALTH = "BEHAVIORAL_HEALTH"
NOT_ELIGIBLE = "NOT_ELIGIBLE"
PATHWAYS: tuple[str, ...] = (PAIN_SERIES, MENTAL_HEALTH_PRIMARY, BEHAVIORAL_HEALTH, NOT_ELIGIBLE)
KETAMINE_PATHWAYS: frozenset[str] = frozenset({PAIN_SERIES, MENTAL_HEALTH_PRIMARY})

# Eligibility.
ELIGIBLE = "eligible"
ELIGIBLE_WITH_PRECAUTIONS = "eligible_with_precautions"
INELIGIBLE = "not_eligible"
NOT_READY = "not_ready"
ELIGIBILITIES: tuple[str, ...] = (ELIGIBLE, ELIGIBLE_WITH_PRECAUTIONS, INELIGIBLE, NOT_READY)

# Contraindication classes and the keys the rules derive from other facts.
ABSOLUTE = "absolute"
RELATIVE = "relative"
PREGNANCY = "pregnancy"
ACTIVE_PSYCHOSIS = "active_psychosis"
CONTRAINDICATION_KEYS: tuple[str, ...] = (
    "ketamine_hypersensitivity",
    "aneurysmal_vascular_disease",
    "intracerebral_haemorrhage",
    ACTIVE_PSYCHOSIS,
    PREGNANCY,
    "cardiovascular_disease",
    "liver_disease",
    "raised_icp_iop",
    "past_psychosis",
    "mania_bipolar",
    "substance_use_disorder",
)

# Screens (clinical.md §2.2).
PHQ9 = "phq9"
GAD7 = "gad7"
PCL5 = "pcl5"
PHQ9_ITEM9 = "phq9_item9"
REQUIRED_SCREENS: tuple[str, ...] = (PHQ9, GAD7, PCL5)
RESOLUTION_CONFIRMED = "confirmed"
RESOLUTION_RULED_OUT = "ruled_out"

# Mental-health families (clinical.md §4.1).
DEPRESSION = "depression"
PTSD = "ptsd"
ANXIETY = "anxiety"
OTHER = "other"
TEMPLATE_FAMILIES: frozenset[str] = frozenset({DEPRESSION, PTSD})
REMISSION_CODES: frozenset[str] = frozenset({"F32.4", "F32.5", "F33.40", "F33.41", "F33.42"})
PSYCHOTIC_DEPRESSION_CODES: frozenset[str] = frozenset({"F32.3", "F33.3"})

SCREEN_FAMILY: Mapping[str, str] = {PHQ9: DEPRESSION, GAD7: ANXIETY, PCL5: PTSD}
SCREEN_INSTRUMENT: Mapping[str, str] = {PHQ9: "PHQ-9", GAD7: "GAD-7", PCL5: "PCL-5"}
SCREEN_CONDITION: Mapping[str, str] = {
    PHQ9: "depression",
    GAD7: "anxiety",
    PCL5: "post-traumatic stress disorder (PTSD)",
}
FAMILY_PROTOCOL: Mapping[str, str] = {DEPRESSION: "depression", PTSD: "PTSD"}

# A prescriber choosing a ketamine pathway against these needs the medical director too.
COSIGN_ABSOLUTE = "absolute_contraindication"
COSIGN_SERIES_BLOCKED = "series_blocked_substance_use"
DIRECTOR_COSIGN_RULES: tuple[str, ...] = (COSIGN_ABSOLUTE, COSIGN_SERIES_BLOCKED)

# Reasons: why this proposal, in words for the prescriber and the consent discussion.
REASON_ABSOLUTE = "Absolute contraindication under this clinic's policy: {label} ({source})."
REASON_RELATIVE = (
    "Relative contraindication under this clinic's policy: {label} ({source}); "
    "treatment may go ahead only with a documented mitigation."
)
SOURCE_ANSWERED = "answered yes"
SOURCE_PREGNANT = "pregnancy status recorded as pregnant"
SOURCE_PSYCHOTIC_DEPRESSION = (
    "{code} {display} is depression with psychotic features, which counts as active psychosis"
)
REASON_REFERRAL = (
    "A referral to behavioral-health services (psychotherapy billed to the patient's "
    "insurance) can be offered instead."
)
REASON_ABSOLUTE_OVERRIDE = (
    "Overriding an absolute contraindication needs the medical director's co-signature."
)
REASON_NOT_READY = (
    "The patient is not ready for ketamine treatment, so behavioral-health services "
    "(psychotherapy billed to the patient's insurance) are proposed."
)
REASON_SUBSTANCE_USE = (
    "The patient has an active substance-use disorder. The ASRA/AAPM/ASA 2018 guideline "
    "advises that serial infusions should not be given to a patient with active substance "
    "abuse (grade C, low certainty), so a ketamine series is blocked."
)
REASON_SUBSTANCE_USE_PATHWAY = (
    "Behavioral-health services (psychotherapy billed to the patient's insurance) are "
    "proposed instead."
)
REASON_SUBSTANCE_USE_OVERRIDE = (
    "Choosing a ketamine pathway despite the active substance-use disorder needs the "
    "medical director's co-signature."
)
REASON_MENTAL_HEALTH_PRIMARY = (
    "A co-existing mental-health condition is confirmed, with {code} {display} as the "
    "primary diagnosis. Treatment follows the {protocol} protocol, with pain measured at "
    "every session alongside."
)
REASON_CHOOSE_ANXIETY = (
    "The primary mental-health diagnosis is {code} {display}. No approved protocol template "
    "covers generalized anxiety disorder, so the prescriber chooses the pathway."
)
REASON_CHOOSE_OTHER = (
    "The primary mental-health diagnosis is {code} {display}. No approved protocol template "
    "covers this diagnosis, so the prescriber chooses the pathway."
)
REASON_CHOOSE_REMISSION = (
    "The primary mental-health diagnosis, {code} {display}, is in remission. No approved "
    "protocol template fits a diagnosis in remission, so the prescriber chooses the pathway."
)
REASON_CHOOSE_PSYCHOTIC = (
    "The primary mental-health diagnosis, {code} {display}, is depression with psychotic "
    "features. The consensus evidence for ketamine in depression is for episodes without "
    "psychotic features (APA 2017), so the prescriber chooses the pathway."
)
REASON_CHOOSE_NO_PRIMARY = (
    "Several mental-health diagnoses are recorded and no single one is marked primary, so "
    "no pathway is proposed; the prescriber chooses."
)
REASON_CHOOSE_NOT_RECORDED = (
    "A co-existing mental-health condition is being treated but its diagnosis is not "
    "recorded, so no pathway is proposed; the prescriber chooses."
)
REASON_PRIMARY_PAIN = "The primary pain condition is {code} {display}."
REASON_PAIN_SERIES = (
    "No co-existing mental-health condition is confirmed, so the pain series is proposed: "
    "the initial series of three intramuscular sessions scheduled closely together, then "
    "a reassessment; further sessions are decided case by case."
)
REASON_NO_CONTRAINDICATION = (
    "No contraindication is present: every contraindication question was answered no."
)
REASON_PRESCRIBER_DECIDES = (
    "This is a proposal; the prescriber decides the pathway and signs the evaluation."
)

# Blocking: what still stops signing, each saying what to do.
BLOCK_COEXISTING = (
    "Answer the first question: is a co-existing mental-health condition, such as "
    "depression or PTSD, also being treated?"
)
BLOCK_MH_DIAGNOSIS = (
    "Record the mental-health diagnosis that is being treated, with its ICD-10-CM code."
)
BLOCK_MH_PRIMARY = "Mark one mental-health diagnosis as primary; its protocol sets the pathway."
BLOCK_READY = "Record whether the patient is ready for ketamine treatment."
BLOCK_PAIN_CONDITION = "Record the patient's chronic pain condition with its ICD-10-CM code."
BLOCK_PAIN_PRIMARY = "Mark one pain condition as primary."
BLOCK_PAIN_DURATION = "Record how many months the patient has had the primary pain condition."
BLOCK_CONTRAINDICATIONS = "Answer every contraindication question; still unanswered: {labels}."
BLOCK_MITIGATION = "Document a mitigation for {label}."
BLOCK_SCREEN = "Screen for {condition} with the {instrument}."
BLOCK_SCREEN_UNRESOLVED = (
    "{summary} is a positive screen for {condition}: confirm the diagnosis, or record it "
    "as ruled out and say why."
)
BLOCK_SCREEN_CONFIRMED = (
    "{summary}: {condition} was confirmed, so add the confirmed diagnosis with its ICD-10-CM code."
)
BLOCK_SCREEN_RULED_OUT = "{summary}: {condition} was recorded as ruled out; say why."
BLOCK_ITEM9 = (
    "PHQ-9 item 9 (thoughts of being better off dead or of self-harm) is above 0 or "
    "unanswered: record a same-day suicide-risk assessment, saying whether there is "
    "active risk."
)
BLOCK_ITEM9_NOTE = "PHQ-9 item 9: add a note to the suicide-risk assessment saying what was found."
BLOCK_ALLERGIES = "Record the patient's allergies, or that none are known."
BLOCK_SUBSTANCE_SCREEN = "Complete the substance-use screen."
BLOCK_URINE_TOX = "Substance misuse is suspected: record a urine toxicology result."
BLOCK_PREGNANCY_ASK = (
    "Ask whether the patient could be pregnant and record the answer; it is never inferred "
    "from sex at birth."
)
BLOCK_PREGNANCY_STATUS = (
    "The patient could be pregnant: record a pregnancy test or status, with the method and date."
)
BLOCK_BREASTFEEDING = "Ask whether the patient is breastfeeding and record the answer."
BLOCK_BASELINE_PAIN = (
    "Record the patient's baseline pain: their average pain over the past week on a 0–10 scale."
)
BLOCK_BLOOD_PRESSURE = "Record a baseline blood pressure."
BLOCK_WEIGHT = "Record the patient's weight; doses are calculated per kilogram."

# Prompts: advice that does not block signing.
PROMPT_ECG = (
    "Cardiovascular disease is suspected or the risk is high: consider a baseline ECG to "
    "rule out poorly controlled ischemic heart disease (ASRA/AAPM/ASA 2018, grade C, "
    "low certainty)."
)
PROMPT_LIVER_TESTS = (
    "There is liver dysfunction or a risk of liver injury (for example alcohol misuse or "
    "chronic hepatitis): consider liver function tests at baseline and after treatment "
    "(ASRA/AAPM/ASA 2018, grade C, low certainty)."
)
PROMPT_PEG = (
    "Record a baseline PEG (average pain, and how pain interferes with enjoyment of life "
    "and general activity) so that change in pain and function can be measured."
)
PROMPT_BREASTFEEDING = (
    "The patient is breastfeeding. The prescriber should weigh this before treatment; the "
    "clinic's clinical reference gives no specific guidance."
)
PROMPT_ITEM9_RISK = (
    "PHQ-9 item 9 shows suicide risk: the safety alert stays open until a clinician clears "
    "it with a risk assessment."
)


@dataclass(frozen=True)
class ConditionFact:
    code: str  # ICD-10-CM, dotted, e.g. "F33.1"
    display: str
    is_primary: bool


@dataclass(frozen=True)
class ScreenFact:
    """One screen as the caller scored it (cut-offs: clinical.md §2.1, §2.2).

    ``positive``: PHQ-9 and GAD-7 total ≥ 10; PCL-5 provisional PTSD by either rule;
    PHQ-9 item 9 above 0 or unanswered.
    """

    key: str
    done: bool
    positive: bool
    summary: str
    resolution: str  # "" | "confirmed" | "ruled_out"
    resolution_note: str


@dataclass(frozen=True)
class EvaluationFacts:
    coexisting_mh_treated: bool | None
    ready_for_ketamine: bool | None
    pain_conditions: tuple[ConditionFact, ...]
    pain_duration_months: int | None
    mh_diagnoses: tuple[ConditionFact, ...]
    contraindications: Mapping[str, str]
    mitigations: Mapping[str, str]
    contraindication_classes: Mapping[str, str]
    contraindication_labels: Mapping[str, str]
    screens: tuple[ScreenFact, ...]
    allergies_answered: bool
    substance_screen_done: bool
    misuse_suspected: bool
    urine_tox_recorded: bool
    substance_use_active: bool
    could_be_pregnant: bool | None
    pregnancy_status: str  # "" | "not_pregnant" | "pregnant" | "unknown"
    breastfeeding: bool | None
    baseline_pain_recorded: bool
    peg_recorded: bool
    blood_pressure_recorded: bool
    weight_recorded: bool
    cardiovascular_risk: bool
    ecg_recorded: bool
    liver_risk: bool
    lft_recorded: bool


@dataclass(frozen=True)
class Proposal:
    pathway: str | None  # None: the prescriber chooses
    eligibility: str
    reasons: tuple[str, ...]
    blocking: tuple[str, ...]
    prompts: tuple[str, ...]
    precautions: tuple[str, ...]  # relative contraindications present
    absolute: tuple[str, ...]  # absolute contraindications present, derived ones included
    # Active substance use: a serial ketamine series is blocked (clinical.md §1.1).
    series_blocked: bool = False
    # The protocol family ("depression" | "ptsd") when the pathway is MENTAL_HEALTH_PRIMARY.
    template_family: str | None = None


def normalise_code(code: str) -> str:
    """An ICD-10-CM code upper-cased and dotted after its third character."""
    code = code.strip().upper()
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    return code


def mh_family(code: str) -> str:
    """The mental-health family of an ICD-10-CM code (clinical.md §4.1).

    F32.x and F33.x are depression, F43.1x PTSD, F41.1 generalized anxiety disorder.
    """
    code = normalise_code(code)
    if code.startswith(("F32.", "F33.")):
        return DEPRESSION
    if code.startswith("F43.1"):
        return PTSD
    if code == "F41.1":
        return ANXIETY
    return OTHER


def is_remission(code: str) -> bool:
    """Major depressive disorder in partial or full remission (clinical.md §4.1)."""
    return normalise_code(code) in REMISSION_CODES


def is_psychotic_depression(code: str) -> bool:
    """Severe major depression with psychotic features (clinical.md §4.1)."""
    return normalise_code(code) in PSYCHOTIC_DEPRESSION_CODES


def _label(facts: EvaluationFacts, key: str) -> str:
    label = facts.contraindication_labels.get(key, "").strip()
    return label or key.replace("_", " ")


def _class_of(facts: EvaluationFacts, key: str) -> str:
    # A key the policy does not class as relative is treated as absolute: downgrading a
    # contraindication is the medical director's decision, never the software's.
    return RELATIVE if facts.contraindication_classes.get(key) == RELATIVE else ABSOLUTE


def _answer(facts: EvaluationFacts, key: str) -> str:
    return facts.contraindications.get(key, "").strip().lower()


def _contraindications(
    facts: EvaluationFacts,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Absolute and relative contraindications present, each key with its reasons.

    Answers of "yes"; pregnancy when the recorded status is pregnant, whatever the answer;
    active psychosis when a diagnosis is depression with psychotic features (F32.3, F33.3,
    clinical.md §4.1). Each follows its class in the clinic's policy.
    """
    absolute: dict[str, list[str]] = {}
    relative: dict[str, list[str]] = {}

    def add(key: str, source: str) -> None:
        template, found = (
            (REASON_ABSOLUTE, absolute)
            if _class_of(facts, key) == ABSOLUTE
            else (REASON_RELATIVE, relative)
        )
        found.setdefault(key, []).append(template.format(label=_label(facts, key), source=source))

    keys = list(facts.contraindication_classes)
    keys += [k for k in facts.contraindications if k not in facts.contraindication_classes]
    for key in keys:
        if _answer(facts, key) == "yes":
            add(key, SOURCE_ANSWERED)
    if facts.pregnancy_status == "pregnant" and _answer(facts, PREGNANCY) != "yes":
        add(PREGNANCY, SOURCE_PREGNANT)
    for dx in facts.mh_diagnoses:
        if is_psychotic_depression(dx.code):
            source = SOURCE_PSYCHOTIC_DEPRESSION.format(
                code=normalise_code(dx.code), display=dx.display
            )
            add(ACTIVE_PSYCHOSIS, source)
    return absolute, relative


def _screens(facts: EvaluationFacts) -> dict[str, ScreenFact]:
    found: dict[str, ScreenFact] = {}
    for screen in facts.screens:
        found.setdefault(screen.key, screen)
    return found


def _primary(conditions: Iterable[ConditionFact]) -> ConditionFact | None:
    primaries = [c for c in conditions if c.is_primary]
    return primaries[0] if len(primaries) == 1 else None


def _primary_mh(facts: EvaluationFacts) -> ConditionFact | None:
    """The primary mental-health diagnosis; a lone diagnosis is primary by itself."""
    if len(facts.mh_diagnoses) == 1:
        return facts.mh_diagnoses[0]
    return _primary(facts.mh_diagnoses)


def _blocking(facts: EvaluationFacts, relative: Iterable[str]) -> list[str]:
    """Everything that still stops signing, whatever the pathway."""
    out: list[str] = []
    if facts.coexisting_mh_treated is None:
        out.append(BLOCK_COEXISTING)
    elif facts.coexisting_mh_treated and not facts.mh_diagnoses:
        out.append(BLOCK_MH_DIAGNOSIS)
    if len(facts.mh_diagnoses) > 1 and _primary(facts.mh_diagnoses) is None:
        out.append(BLOCK_MH_PRIMARY)
    if facts.ready_for_ketamine is None:
        out.append(BLOCK_READY)

    if not facts.pain_conditions:
        out.append(BLOCK_PAIN_CONDITION)
    elif _primary(facts.pain_conditions) is None:
        out.append(BLOCK_PAIN_PRIMARY)
    if any(c.is_primary for c in facts.pain_conditions) and facts.pain_duration_months is None:
        out.append(BLOCK_PAIN_DURATION)

    unanswered = [
        _label(facts, key)
        for key in facts.contraindication_classes
        if _answer(facts, key) not in ("yes", "no")
    ]
    if unanswered:
        out.append(BLOCK_CONTRAINDICATIONS.format(labels=", ".join(unanswered)))
    for key in relative:
        if not facts.mitigations.get(key, "").strip():
            out.append(BLOCK_MITIGATION.format(label=_label(facts, key)))

    out.extend(_screen_blocking(facts))

    if not facts.allergies_answered:
        out.append(BLOCK_ALLERGIES)
    if not facts.substance_screen_done:
        out.append(BLOCK_SUBSTANCE_SCREEN)
    if facts.misuse_suspected and not facts.urine_tox_recorded:
        out.append(BLOCK_URINE_TOX)

    if facts.could_be_pregnant is None:
        out.append(BLOCK_PREGNANCY_ASK)
    elif facts.could_be_pregnant:
        if facts.pregnancy_status in ("", "unknown"):
            out.append(BLOCK_PREGNANCY_STATUS)
        if facts.breastfeeding is None:
            out.append(BLOCK_BREASTFEEDING)

    if not facts.baseline_pain_recorded:
        out.append(BLOCK_BASELINE_PAIN)
    if not facts.blood_pressure_recorded:
        out.append(BLOCK_BLOOD_PRESSURE)
    if not facts.weight_recorded:
        out.append(BLOCK_WEIGHT)
    return out


def _screen_blocking(facts: EvaluationFacts) -> list[str]:
    """Screens not done, and positive screens not yet resolved (clinical.md §2.2)."""
    out: list[str] = []
    screens = _screens(facts)
    families = {mh_family(dx.code) for dx in facts.mh_diagnoses}
    for key in REQUIRED_SCREENS:
        screen = screens.get(key)
        condition = SCREEN_CONDITION[key]
        if screen is None or not screen.done:
            out.append(BLOCK_SCREEN.format(condition=condition, instrument=SCREEN_INSTRUMENT[key]))
            continue
        if not screen.positive:
            continue
        summary = screen.summary.strip() or SCREEN_INSTRUMENT[key]
        if screen.resolution == RESOLUTION_CONFIRMED:
            if SCREEN_FAMILY[key] not in families:
                out.append(BLOCK_SCREEN_CONFIRMED.format(summary=summary, condition=condition))
        elif screen.resolution == RESOLUTION_RULED_OUT:
            if not screen.resolution_note.strip():
                out.append(BLOCK_SCREEN_RULED_OUT.format(summary=summary, condition=condition))
        else:
            out.append(BLOCK_SCREEN_UNRESOLVED.format(summary=summary, condition=condition))

    phq9 = screens.get(PHQ9)
    if phq9 is not None and phq9.done:
        # A missing item 9 is unknown, and unknown counts as positive (clinical.md §2.2).
        item9 = screens.get(PHQ9_ITEM9)
        if item9 is None or item9.positive:
            resolution = item9.resolution if item9 is not None else ""
            note = item9.resolution_note if item9 is not None else ""
            if resolution not in (RESOLUTION_CONFIRMED, RESOLUTION_RULED_OUT):
                out.append(BLOCK_ITEM9)
            elif not note.strip():
                out.append(BLOCK_ITEM9_NOTE)
    return out


def _prompts(facts: EvaluationFacts) -> list[str]:
    """Advice that does not block signing (clinical.md §1.1, §2.1, §2.2)."""
    out: list[str] = []
    if facts.cardiovascular_risk and not facts.ecg_recorded:
        out.append(PROMPT_ECG)
    if facts.liver_risk and not facts.lft_recorded:
        out.append(PROMPT_LIVER_TESTS)
    if not facts.peg_recorded:
        out.append(PROMPT_PEG)
    if facts.breastfeeding:
        out.append(PROMPT_BREASTFEEDING)
    item9 = _screens(facts).get(PHQ9_ITEM9)
    if (
        item9 is not None
        and item9.done
        and item9.positive
        and item9.resolution == RESOLUTION_CONFIRMED
    ):
        out.append(PROMPT_ITEM9_RISK)
    return out


def _mental_health(facts: EvaluationFacts) -> tuple[str | None, str | None, str]:
    """Pathway, template family and reason when a co-existing condition sets the pathway."""
    primary = _primary_mh(facts)
    if primary is None:
        return None, None, REASON_CHOOSE_NO_PRIMARY
    code = normalise_code(primary.code)
    words = {"code": code, "display": primary.display}
    family = mh_family(code)
    if is_remission(code):
        return None, None, REASON_CHOOSE_REMISSION.format(**words)
    if is_psychotic_depression(code):
        # Reached only when the clinic classes active psychosis as relative.
        return None, None, REASON_CHOOSE_PSYCHOTIC.format(**words)
    if family not in TEMPLATE_FAMILIES:
        template = REASON_CHOOSE_ANXIETY if family == ANXIETY else REASON_CHOOSE_OTHER
        return None, None, template.format(**words)
    return (
        MENTAL_HEALTH_PRIMARY,
        family,
        REASON_MENTAL_HEALTH_PRIMARY.format(protocol=FAMILY_PROTOCOL[family], **words),
    )


def propose(facts: EvaluationFacts) -> Proposal:
    """Propose a pathway and eligibility, with reasons, what blocks signing, and advice.

    Rules in order (DESIGN.md §2): an absolute contraindication → NOT_ELIGIBLE; not ready
    → BEHAVIORAL_HEALTH; active substance use → BEHAVIORAL_HEALTH with the series blocked
    (clinical.md §1.1); a confirmed co-existing mental-health diagnosis →
    MENTAL_HEALTH_PRIMARY, or no proposal when no protocol template fits; otherwise
    PAIN_SERIES. The prescriber decides (DESIGN.md §6).
    """
    absolute, relative = _contraindications(facts)
    reasons: list[str] = []
    pathway: str | None
    template_family: str | None = None
    precautions_eligibility = ELIGIBLE_WITH_PRECAUTIONS if relative else ELIGIBLE
    substance_use_sets_pathway = False

    if absolute:
        pathway, eligibility = NOT_ELIGIBLE, INELIGIBLE
        for found in absolute.values():
            reasons.extend(found)
        reasons += [REASON_REFERRAL, REASON_ABSOLUTE_OVERRIDE]
    elif facts.ready_for_ketamine is False:
        pathway, eligibility = BEHAVIORAL_HEALTH, NOT_READY
        reasons.append(REASON_NOT_READY)
    elif facts.substance_use_active:
        # Not "not_eligible": active substance use is not an absolute contraindication.
        pathway, eligibility = BEHAVIORAL_HEALTH, ELIGIBLE_WITH_PRECAUTIONS
        substance_use_sets_pathway = True
        reasons += [REASON_SUBSTANCE_USE, REASON_SUBSTANCE_USE_PATHWAY]
    elif facts.mh_diagnoses:
        pathway, template_family, reason = _mental_health(facts)
        eligibility = precautions_eligibility
        reasons.append(reason)
    elif facts.coexisting_mh_treated:
        pathway, eligibility = None, precautions_eligibility
        reasons.append(REASON_CHOOSE_NOT_RECORDED)
    else:
        pathway, eligibility = PAIN_SERIES, precautions_eligibility
        primary_pain = _primary(facts.pain_conditions)
        if primary_pain is not None:
            reasons.append(
                REASON_PRIMARY_PAIN.format(
                    code=normalise_code(primary_pain.code), display=primary_pain.display
                )
            )
        reasons.append(REASON_PAIN_SERIES)

    if facts.substance_use_active:
        if not substance_use_sets_pathway:
            reasons.append(REASON_SUBSTANCE_USE)
        reasons.append(REASON_SUBSTANCE_USE_OVERRIDE)
    for found in relative.values():
        reasons.extend(found)
    all_answered = all(_answer(facts, k) in ("yes", "no") for k in facts.contraindication_classes)
    if not absolute and not relative and all_answered:
        reasons.append(REASON_NO_CONTRAINDICATION)
    reasons.append(REASON_PRESCRIBER_DECIDES)

    return Proposal(
        pathway=pathway,
        eligibility=eligibility,
        reasons=tuple(reasons),
        blocking=tuple(_blocking(facts, relative)),
        prompts=tuple(_prompts(facts)),
        precautions=tuple(relative),
        absolute=tuple(absolute),
        # Whatever set the pathway, a series stays blocked while substance use is active.
        series_blocked=facts.substance_use_active,
        template_family=template_family,
    )


def director_cosign_rules(proposal: Proposal, chosen_pathway: str) -> tuple[str, ...]:
    """The rules (from DIRECTOR_COSIGN_RULES) a chosen pathway overrides.

    Only a ketamine pathway can override: choosing one despite an absolute contraindication,
    or despite a series blocked by active substance use, needs the medical director's
    co-signature.
    """
    if chosen_pathway not in KETAMINE_PATHWAYS:
        return ()
    rules: list[str] = []
    if proposal.absolute:
        rules.append(COSIGN_ABSOLUTE)
    if proposal.series_blocked:
        rules.append(COSIGN_SERIES_BLOCKED)
    return tuple(rules)


def needs_director_cosign(proposal: Proposal, chosen_pathway: str) -> bool:
    """True when signing the chosen pathway needs the medical director's co-signature."""
    return bool(director_cosign_rules(proposal, chosen_pathway))
