"""The intake evaluation's vocabularies: pain conditions, mental-health codes, ICD-10-CM
lookups and contraindications. Pure data and lookups; no models.

Sources (``reference/clinical.md``): §4.1 ICD-10-CM (release of 1 April 2026, read from the
data bundled in ``simple-icd-10-cm`` 1.5.0); §1.1 ASRA/AAPM/ASA 2018 consensus guideline on IV
ketamine for chronic pain (evidence grades, relative contraindications, pre-infusion tests);
§1.2 APA 2017 consensus statement on ketamine for mood disorders; §1.4 esketamine (Spravato)
label contraindications.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

import simple_icd_10_cm as icd

from ketapath.core.codes import ICD10_CM
from ketapath.core.errors import MESSAGE_INVALID, FieldError, InvalidInput

ICD10CM_SYSTEM = ICD10_CM

# clinical.md §4.1: the code set every code here was checked against.
ICD10CM_RELEASE = "1 April 2026"


@dataclass(frozen=True)
class IcdOption:
    """One billable ICD-10-CM code with the description of the bundled release."""

    code: str
    display: str


@dataclass(frozen=True)
class EvidenceGrade:
    """An ASRA 2018 grade as (strength of recommendation, level of certainty), clinical.md
    §1.1; both are None for a condition the guideline does not grade."""

    strength: str | None
    certainty: str | None
    summary: str


@dataclass(frozen=True)
class PainCondition:
    """A pain-condition picklist entry. ``codes`` holds billable codes only, the default
    first; ``companion_codes`` are codes to add alongside the chosen one (clinical.md §4.1)."""

    key: str
    label: str
    default_code: str
    codes: tuple[IcdOption, ...]
    evidence: EvidenceGrade
    note: str
    companion_codes: tuple[str, ...] = ()


def _billable(code: str) -> IcdOption:
    """The option for a code that must be a leaf of the bundled release.

    Raises at import time when a code stops being billable, so the annual code-set update
    (clinical.md preamble: re-check codes at each release) cannot pass unnoticed.
    """
    if not icd.is_valid_item(code) or not icd.is_leaf(code):
        raise RuntimeError(f"{code} is not a billable ICD-10-CM code in the bundled release.")
    return IcdOption(code=code, display=icd.get_description(code))


def _options(*codes: str) -> tuple[IcdOption, ...]:
    return tuple(_billable(code) for code in codes)


# --- Evidence (clinical.md §1.1, ASRA/AAPM/ASA 2018, Cohen et al., RAPM 2018;43:521) -------

EVIDENCE_MODERATE = EvidenceGrade(
    "B", "moderate", "Moderate evidence of improvement for up to 12 weeks (IV infusion)"
)
EVIDENCE_WEAK = EvidenceGrade(
    "D", "low", "Weak or no evidence of immediate improvement (IV infusion)"
)
EVIDENCE_WEAK_MIXED_NEUROPATHIC = EvidenceGrade(
    "D",
    "low",
    "Weak or no evidence of immediate improvement (IV infusion); "
    "graded under mixed neuropathic pain",
)
EVIDENCE_NOT_GRADED = EvidenceGrade(None, None, "Not graded by the 2018 ASRA/AAPM/ASA guideline")

# clinical.md §1.1 product note and the "any condition except CRPS" row.
EVIDENCE_NOTE = (
    "The 2018 ASRA/AAPM/ASA guideline covers IV ketamine infusions only and gives no "
    "intramuscular (IM) dosing for chronic pain. Apart from CRPS, the conditions it grades "
    "have weak or no evidence (D), and none but CRPS has evidence at intermediate or "
    "long-term follow-up."
)


# --- Pain conditions (clinical.md §4.1 chronic-pain table) ---------------------------------

PAIN_CONDITIONS: tuple[PainCondition, ...] = (
    PainCondition(
        key="migraine",
        label="Migraine",
        default_code="G43.909",
        codes=_options(
            "G43.909",
            "G43.919",
            "G43.709",
            "G43.719",
            "G43.E09",
            "G43.E19",
            "G43.009",
            "G43.109",
            "G43.D0",
            "G43.D1",
        ),
        evidence=EVIDENCE_WEAK,
        note=(
            "The 6th character records with or without status migrainosus. "
            "G43.D (abdominal migraine) is a header: use G43.D0 or G43.D1."
        ),
    ),
    PainCondition(
        key="neuropathy",
        label="Neuropathy",
        default_code="G62.9",
        codes=_options("G62.9", "G62.0", "G62.1", "G62.81", "G62.89", "E11.42", "E08.42", "E13.42"),
        evidence=EVIDENCE_WEAK,
        note=(
            "Graded as mixed neuropathic pain. G63 (polyneuropathy in diseases classified "
            "elsewhere) must follow the code of the underlying disease, so it is not offered "
            "on its own; for diabetes use E11.42, E08.42 or E13.42."
        ),
    ),
    PainCondition(
        key="cancer_pain",
        label="Cancer-related pain",
        default_code="G89.3",
        codes=_options("G89.3"),
        evidence=EVIDENCE_WEAK,
        note=(
            "Add the neoplasm code. Includes cancer-associated pain, pain due to malignancy "
            "(primary or secondary) and tumour-associated pain."
        ),
    ),
    PainCondition(
        key="fibromyalgia",
        label="Fibromyalgia",
        default_code="M79.7",
        codes=_options("M79.7"),
        evidence=EVIDENCE_WEAK,
        note="Includes fibromyositis, fibrositis and myofibrositis.",
    ),
    PainCondition(
        key="rheumatoid_arthritis",
        label="Rheumatoid arthritis",
        default_code="M06.9",
        codes=_options("M06.9", "M05.9", "M05.79", "M06.09"),
        evidence=EVIDENCE_NOT_GRADED,
        note="Site-specific M05.- and M06.- codes can be found by searching the code set.",
    ),
    PainCondition(
        key="low_back_pain",
        label="Intractable back pain",
        default_code="M54.50",
        codes=_options(
            "M54.50",
            "G89.29",
            "M54.51",
            "M54.59",
            "M54.40",
            "M54.41",
            "M54.42",
            "M54.16",
            "M54.17",
            "M51.360",
            "M51.361",
            "M51.362",
            "M51.369",
            "G89.4",
        ),
        evidence=EVIDENCE_WEAK,
        note=(
            "There is no code for intractable low back pain. When the pain is documented as "
            "chronic, code M54.50 together with G89.29 (other chronic pain); use G89.4 if "
            "chronic pain syndrome is documented. M54.5 has been a header, not billable, "
            "since FY2022."
        ),
        companion_codes=("G89.29",),
    ),
    PainCondition(
        key="trigeminal_neuralgia",
        label="Trigeminal neuralgia",
        default_code="G50.0",
        codes=_options("G50.0", "G50.1", "G50.8", "G50.9"),
        evidence=EVIDENCE_NOT_GRADED,
        note="",
    ),
    PainCondition(
        key="lupus",
        label="Systemic lupus erythematosus",
        default_code="M32.9",
        codes=_options("M32.9", "M32.10", "M32.19", "M32.8"),
        evidence=EVIDENCE_NOT_GRADED,
        note="",
    ),
    PainCondition(
        key="chronic_lyme",
        label="Chronic Lyme disease",
        default_code="A69.20",
        codes=_options("A69.20", "A69.21", "A69.22", "A69.23", "A69.29", "B94.8"),
        evidence=EVIDENCE_NOT_GRADED,
        note=(
            "There is no code for post-treatment or chronic Lyme disease; the choice between "
            "B94.8 with symptom codes and an A69.2- code is the clinician's judgement "
            "(practice not verified)."
        ),
    ),
    PainCondition(
        key="gastroparesis",
        label="Gastroparesis",
        default_code="K31.84",
        codes=_options("K31.84"),
        evidence=EVIDENCE_NOT_GRADED,
        note=(
            "Code first the underlying disease, e.g. E10.43 or E11.43 (diabetic autonomic "
            "neuropathy), F50.0- (anorexia nervosa) or M34.- (scleroderma)."
        ),
    ),
    PainCondition(
        key="cyclic_vomiting",
        label="Cyclic vomiting syndrome",
        default_code="R11.15",
        codes=_options("R11.15", "G43.A0", "G43.A1"),
        evidence=EVIDENCE_NOT_GRADED,
        note="Choose by documentation: R11.15 is unrelated to migraine; G43.A- is in migraine.",
    ),
    PainCondition(
        key="phantom_limb_pain",
        label="Phantom limb pain",
        default_code="G54.6",
        codes=_options("G54.6", "G54.7"),
        evidence=EVIDENCE_WEAK,
        note="",
    ),
    PainCondition(
        key="chronic_pancreatitis",
        label="Chronic pancreatitis",
        default_code="K86.1",
        codes=_options("K86.1", "K86.0", "K86.81"),
        evidence=EVIDENCE_NOT_GRADED,
        note="",
    ),
    PainCondition(
        key="cipn",
        label="Chemotherapy-induced peripheral neuropathy",
        default_code="G62.0",
        codes=_options("G62.0", "T45.1X5A", "T45.1X5D", "T45.1X5S"),
        evidence=EVIDENCE_WEAK_MIXED_NEUROPATHIC,
        note=(
            "No single code exists: code G62.0 with T45.1X5A (adverse effect of antineoplastic "
            "drugs, initial encounter; T45.1X5D subsequent, T45.1X5S sequela). The ASRA 2018 "
            "guideline does not name CIPN; it is graded under mixed neuropathic pain."
        ),
        companion_codes=("T45.1X5A",),
    ),
    PainCondition(
        key="crps",
        label="Complex regional pain syndrome (CRPS)",
        default_code="G90.50",
        codes=_options(
            "G90.50",
            "G90.511",
            "G90.512",
            "G90.513",
            "G90.519",
            "G90.521",
            "G90.522",
            "G90.523",
            "G90.529",
            "G90.59",
            "G56.40",
            "G56.41",
            "G56.42",
            "G56.43",
            "G57.70",
            "G57.71",
            "G57.72",
            "G57.73",
        ),
        evidence=EVIDENCE_MODERATE,
        note=(
            "CRPS I (reflex sympathetic dystrophy) is G90.5-; G90.5, G90.51 and G90.52 are "
            "headers, not billable. CRPS II (causalgia) is G56.4- (upper limb) or G57.7- "
            "(lower limb)."
        ),
    ),
    PainCondition(
        key="chronic_pain_syndrome",
        label="Chronic pain syndrome",
        default_code="G89.4",
        codes=_options("G89.4", "G89.29", "G89.21", "G89.28", "G89.0"),
        evidence=EVIDENCE_NOT_GRADED,
        note=(
            "G89.4 includes chronic pain with significant psychosocial dysfunction. Code also "
            "F45.42 (pain disorder with related psychological factors) where documented; "
            "F45.41 and R52 are Excludes1."
        ),
    ),
)

PAIN_CONDITION_KEYS: tuple[str, ...] = tuple(c.key for c in PAIN_CONDITIONS)
_PAIN_CONDITIONS_BY_KEY = {c.key: c for c in PAIN_CONDITIONS}

MESSAGE_UNKNOWN_CONDITION = "Unknown condition; choose one from the list."


def pain_condition(key: str) -> PainCondition:
    """The picklist entry for ``key``; InvalidInput on field ``catalogue_key`` otherwise."""
    try:
        return _PAIN_CONDITIONS_BY_KEY[key]
    except (KeyError, TypeError):
        raise InvalidInput(
            MESSAGE_INVALID,
            errors=[FieldError("catalogue_key", MESSAGE_UNKNOWN_CONDITION)],
        ) from None


# --- Mental health (clinical.md §4.1 mental-health table) ----------------------------------

MENTAL_HEALTH_CODES: tuple[IcdOption, ...] = _options(
    # Major depressive disorder, single episode, then recurrent.
    "F32.0", "F32.1", "F32.2", "F32.3", "F32.4", "F32.5", "F32.9",
    "F33.0", "F33.1", "F33.2", "F33.3", "F33.40", "F33.41", "F33.42", "F33.9",
    "F32.A",
    # PTSD (F43.1 is a header), generalized anxiety disorder.
    "F43.10", "F43.11", "F43.12",
    "F41.1",
)  # fmt: skip

MENTAL_HEALTH_CODE_NOTES: dict[str, str] = {
    "F32.A": "Not specific to major depressive disorder; avoid when MDD is documented.",
}

# clinical.md §4.1 "Useful companions".
COMPANION_CODES: tuple[IcdOption, ...] = _options("Z79.891", "F11.20")


# --- ICD-10-CM lookup and search against the bundled release (clinical.md §4.1) ------------

MESSAGE_ICD10_EMPTY = "Enter an ICD-10-CM code."
MESSAGE_ICD10_UNKNOWN = f"{{code}} is not an ICD-10-CM code (release of {ICD10CM_RELEASE})."
MESSAGE_ICD10_HEADER = (
    "{code} is a category header, not a billable code; choose a more specific code"
)
MESSAGE_ICD10_HEADER_CHILDREN = " such as {children}"

# A letter, two characters, then up to four after the dot; rules out chapter numbers and
# block ranges ("A00-A09"), which the package also knows but which are not codes.
_CODE_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
_WHITESPACE = re.compile(r"\s+")
_HEADER_CHILDREN_SHOWN = 5


def _normalise(code: str) -> str:
    """Upper case, no spaces, one dot after the third character when longer than three."""
    bare = _WHITESPACE.sub("", code).upper().replace(".", "")
    return bare if len(bare) <= 3 else f"{bare[:3]}.{bare[3:]}"


def _invalid(field: str, rule: str) -> InvalidInput:
    return InvalidInput(rule, errors=[FieldError(field, rule)])


def icd10_lookup(code: str, *, field: str = "code") -> IcdOption:
    """The billable code with its description; accepts any case, with or without the dot.

    Raises InvalidInput naming ``field`` for an empty value, a code not in the release, or
    a header that has more specific codes below it.
    """
    if not isinstance(code, str) or not code.strip():
        raise _invalid(field, MESSAGE_ICD10_EMPTY)
    canonical = _normalise(code)
    if not _CODE_SHAPE.fullmatch(canonical) or not icd.is_valid_item(canonical):
        raise _invalid(field, MESSAGE_ICD10_UNKNOWN.format(code=code.strip()))
    if not icd.is_leaf(canonical):
        rule = MESSAGE_ICD10_HEADER.format(code=canonical)
        children = icd.get_children(canonical)[:_HEADER_CHILDREN_SHOWN]
        if children:
            rule += MESSAGE_ICD10_HEADER_CHILDREN.format(children=", ".join(children))
        raise _invalid(field, rule + ".")
    return IcdOption(code=canonical, display=icd.get_description(canonical))


@dataclass(frozen=True)
class _IndexEntry:
    code: str
    bare: str
    display: str
    folded: str


@cache
def _search_index() -> tuple[_IndexEntry, ...]:
    """Every billable code of the release, in code-set order; built on first search."""
    entries: list[_IndexEntry] = []
    for code in icd.get_all_codes(with_dots=True):
        if _CODE_SHAPE.fullmatch(code) and icd.is_leaf(code):
            display = icd.get_description(code)
            entries.append(_IndexEntry(code, code.replace(".", ""), display, display.casefold()))
    return tuple(entries)


def icd10_search(term: str, limit: int = 20) -> list[IcdOption]:
    """Billable codes whose code starts with ``term`` (dot-insensitive), then those whose
    description contains every word of ``term`` (case-insensitive); at most ``limit``."""
    words = term.casefold().split()
    if not words or limit <= 0:
        return []
    prefix = _WHITESPACE.sub("", term).upper().replace(".", "")
    by_code: list[IcdOption] = []
    by_text: list[IcdOption] = []
    for entry in _search_index():
        if entry.bare.startswith(prefix):
            by_code.append(IcdOption(entry.code, entry.display))
            if len(by_code) >= limit:
                break
        elif len(by_text) < limit and all(word in entry.folded for word in words):
            by_text.append(IcdOption(entry.code, entry.display))
    return (by_code + by_text)[:limit]


def mental_health_category_ok(code: str) -> bool:
    """True for a code in chapter F (mental, behavioural and neurodevelopmental disorders),
    the chapter of every mental-health code in clinical.md §4.1."""
    return _normalise(code).startswith("F")


def pain_category_ok(code: str) -> bool:
    """True for any code outside chapter F.

    Pain conditions come from many chapters (A, B, E, G, K, M, R, T in clinical.md §4.1), so
    the only rule is that a mental-health code is not filed as a pain condition. F45.42,
    which §4.1 says to code also with G89, is therefore recorded under mental health.
    """
    normalised = _normalise(code)
    return bool(normalised) and not normalised.startswith("F")


# --- Contraindications (clinical.md §1.1, §1.2, §1.4) --------------------------------------

ContraindicationClass = Literal["absolute", "relative"]
ABSOLUTE: ContraindicationClass = "absolute"
RELATIVE: ContraindicationClass = "relative"
CONTRAINDICATION_CLASS_VALUES: tuple[str, ...] = (ABSOLUTE, RELATIVE)


@dataclass(frozen=True)
class Contraindication:
    """A contraindication the prescriber answers at intake. ``default_class`` is the shipped
    class; each clinic's medical director may reclassify it (clinic policy)."""

    key: str
    label: str
    default_class: ContraindicationClass
    source: str
    question: str
    mitigation_hint: str


# DESIGN §2: an absolute contraindication is documented and the patient referred back.
_ABSOLUTE_HINT = (
    "Shipped as absolute: document it and refer the patient back to the referring clinician."
)

CONTRAINDICATIONS: tuple[Contraindication, ...] = (
    Contraindication(
        key="ketamine_hypersensitivity",
        label="Hypersensitivity to ketamine or esketamine",
        default_class=ABSOLUTE,
        source="clinical.md §1.4, esketamine (Spravato) label contraindication (unverified)",
        question="Has the patient ever had an allergic reaction to ketamine or esketamine?",
        mitigation_hint=_ABSOLUTE_HINT,
    ),
    Contraindication(
        key="aneurysmal_vascular_disease",
        label="Aneurysmal vascular disease or arteriovenous malformation",
        default_class=ABSOLUTE,
        source="clinical.md §1.4, esketamine (Spravato) label contraindication (unverified)",
        question=(
            "Does the patient have an aneurysm or an arteriovenous malformation (an abnormal "
            "tangle of blood vessels)?"
        ),
        mitigation_hint=_ABSOLUTE_HINT,
    ),
    Contraindication(
        key="intracerebral_haemorrhage",
        label="History of intracerebral haemorrhage",
        default_class=ABSOLUTE,
        source="clinical.md §1.4, esketamine (Spravato) label contraindication (unverified)",
        question="Has the patient ever had bleeding inside the brain?",
        mitigation_hint=_ABSOLUTE_HINT,
    ),
    Contraindication(
        key="active_psychosis",
        label="Active psychosis",
        default_class=ABSOLUTE,
        source=(
            "clinical.md §1.1, ASRA 2018 relative contraindication (B, low); §1.2, APA 2017 "
            "(psychosis: exclusion or caution, unverified); shipped as absolute"
        ),
        question=(
            "Does the patient have psychotic symptoms now, such as hearing or seeing things "
            "others do not, or fixed false beliefs?"
        ),
        mitigation_hint=_ABSOLUTE_HINT,
    ),
    Contraindication(
        key="pregnancy",
        label="Pregnancy",
        default_class=ABSOLUTE,
        source=(
            "clinical.md §1.1, ASRA 2018 relative contraindication (B, low); shipped as absolute"
        ),
        question="Is the patient pregnant?",
        mitigation_hint=_ABSOLUTE_HINT,
    ),
    Contraindication(
        key="cardiovascular_disease",
        label="Poorly controlled cardiovascular disease",
        default_class=RELATIVE,
        source="clinical.md §1.1, ASRA 2018 relative contraindication (B, low)",
        question="Does the patient have heart or blood-vessel disease that is not well controlled?",
        mitigation_hint=(
            "Baseline ECG to rule out poorly controlled ischemic heart disease when "
            "cardiovascular disease is suspected or the risk is high (§1.1, C, low)."
        ),
    ),
    Contraindication(
        key="liver_disease",
        label="Liver disease",
        default_class=RELATIVE,
        source="clinical.md §1.1, ASRA 2018 relative contraindication (C, low)",
        question="Does the patient have liver disease, and if so is it moderate or severe?",
        mitigation_hint=(
            "Severe hepatic disease: avoid. Moderate hepatic disease: use with caution and "
            "monitoring; consider liver function tests at baseline and after infusion "
            "(§1.1, C, low)."
        ),
    ),
    Contraindication(
        key="raised_icp_iop",
        label="Raised intracranial or intraocular pressure",
        default_class=RELATIVE,
        source="clinical.md §1.1, ASRA 2018 relative contraindication (C, low)",
        question="Does the patient have raised pressure inside the skull or inside the eye?",
        mitigation_hint="Do not use, or use only lower doses with extreme caution (§1.1, C, low).",
    ),
    Contraindication(
        key="past_psychosis",
        label="History of psychosis",
        default_class=RELATIVE,
        source="clinical.md §1.2, APA 2017: history of psychosis is a reason for exclusion or "
        "caution (unverified)",
        question="Has the patient had psychotic symptoms in the past, even if not now?",
        mitigation_hint="A reason for exclusion or caution (§1.2); record which, and why.",
    ),
    Contraindication(
        key="mania_bipolar",
        label="Mania or bipolar disorder",
        default_class=RELATIVE,
        source="clinic protocol; not in the reference",
        question="Has the patient been diagnosed with bipolar disorder or had an episode of mania?",
        mitigation_hint="Record the clinician's risk–benefit judgement.",
    ),
    Contraindication(
        key="substance_use_disorder",
        label="Active substance use disorder",
        default_class=RELATIVE,
        source=(
            "clinical.md §1.1, ASRA 2018 relative contraindication (C, low); §1.2, APA 2017 "
            "(careful risk–benefit assessment, unverified)"
        ),
        question="Does the patient currently misuse alcohol or drugs?",
        mitigation_hint=(
            "Serial infusions should not be given; use universal precautions to monitor for "
            "abuse (§1.1, C, low). Careful risk–benefit assessment; urine toxicology when "
            "substance use is suspected (§1.2, unverified)."
        ),
    ),
)

CONTRAINDICATION_KEYS: tuple[str, ...] = tuple(c.key for c in CONTRAINDICATIONS)
_CONTRAINDICATIONS_BY_KEY = {c.key: c for c in CONTRAINDICATIONS}
DEFAULT_CONTRAINDICATION_CLASSES: dict[str, str] = {
    c.key: c.default_class for c in CONTRAINDICATIONS
}

MESSAGE_UNKNOWN_CONTRAINDICATION = "Unknown contraindication."
MESSAGE_CLASSES_NOT_MAPPING = "Give the classes as an object of contraindication → class."
MESSAGE_CLASS_INVALID = "The class must be 'absolute' or 'relative'."


def contraindication(key: str) -> Contraindication:
    """The contraindication for ``key``; InvalidInput on field ``contraindication_key``."""
    try:
        return _CONTRAINDICATIONS_BY_KEY[key]
    except (KeyError, TypeError):
        raise InvalidInput(
            MESSAGE_INVALID,
            errors=[FieldError("contraindication_key", MESSAGE_UNKNOWN_CONTRAINDICATION)],
        ) from None


def contraindication_classes_validate(value: object) -> dict[str, str]:
    """Every contraindication's class: the given ones checked, missing keys from the shipped
    defaults. Raises InvalidInput naming ``contraindication_classes.<key>`` per bad entry."""
    if not isinstance(value, Mapping):
        raise InvalidInput(
            MESSAGE_INVALID,
            errors=[FieldError("contraindication_classes", MESSAGE_CLASSES_NOT_MAPPING)],
        )
    errors: list[FieldError] = []
    for key, cls in value.items():
        field = f"contraindication_classes.{key}"
        if key not in _CONTRAINDICATIONS_BY_KEY:
            errors.append(FieldError(field, MESSAGE_UNKNOWN_CONTRAINDICATION))
        elif cls not in CONTRAINDICATION_CLASS_VALUES:
            errors.append(FieldError(field, MESSAGE_CLASS_INVALID))
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    return {
        key: str(value.get(key, default))
        for key, default in DEFAULT_CONTRAINDICATION_CLASSES.items()
    }


@dataclass(frozen=True)
class RiskPrompt:
    """A pre-treatment test to suggest when a contraindication's risk is present."""

    key: str
    contraindication_key: str
    text: str
    strength: str
    certainty: str
    source: str


RISK_PROMPT_ECG = RiskPrompt(
    key="baseline_ecg",
    contraindication_key="cardiovascular_disease",
    text=(
        "Suspected or high risk of cardiovascular disease: baseline ECG to rule out poorly "
        "controlled ischemic heart disease."
    ),
    strength="C",
    certainty="low",
    source="clinical.md §1.1, ASRA 2018, before the infusion",
)
RISK_PROMPT_LIVER_FUNCTION = RiskPrompt(
    key="liver_function_tests",
    contraindication_key="liver_disease",
    text=(
        "Baseline liver dysfunction, risk of hepatotoxicity (e.g. alcohol misuse, chronic "
        "hepatitis) or expected high doses at frequent intervals: consider liver function "
        "tests at baseline and after infusion."
    ),
    strength="C",
    certainty="low",
    source="clinical.md §1.1, ASRA 2018, before the infusion",
)
RISK_PROMPTS: tuple[RiskPrompt, ...] = (RISK_PROMPT_ECG, RISK_PROMPT_LIVER_FUNCTION)
