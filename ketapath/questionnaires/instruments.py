"""The questionnaire instruments: items, link ids, LOINC codes, answer options and bands.

A code registry, not a table (DESIGN §9). Every code, range and band comes from
reference/clinical.md §2.1 (master table), §2.2 (instrument details) and §2.4 (licensing).
Item wording is reproduced only where the licence allows it (§2.4) and is taken verbatim
from a public source named beside each instrument; answers are scored by option index
(§2.2: "Score by option index, not by LOINC's stored Score field").
"""

from dataclasses import dataclass

from ketapath.core.codes import LOINC

# Carried with every instrument because the LOINC codes are used (§2.4: "Keep the LOINC
# notice"). Wording from the LOINC Questionnaire resources (loinc.org/q/44249-1).
LOINC_NOTICE = (
    "This material contains content from LOINC (http://loinc.org). LOINC is copyright © "
    "Regenstrief Institute, Inc. and the Logical Observation Identifiers Names and Codes "
    "(LOINC) Committee. All rights reserved. LOINC is available at no cost under the license "
    "at http://loinc.org/license. LOINC® is a registered United States trademark of "
    "Regenstrief Institute, Inc."
)

# The Pfizer notice §2.4 asks to show with PHQ-9, PHQ-2 and GAD-7, verbatim from the
# copyright element of LOINC Questionnaires 44249-1 (PHQ-9) and 69737-5 (GAD-7).
PFIZER_NOTICE = (
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, "
    "with an educational grant from Pfizer Inc. No permission required to reproduce, "
    "translate, display or distribute."
)


@dataclass(frozen=True)
class AnswerOption:
    """One choice: the value scored (its index on the scale), its label and LOINC answer."""

    value: int
    label: str
    loinc: str | None = None


@dataclass(frozen=True)
class Item:
    link_id: str
    text: str
    loinc: str | None
    min: int
    max: int
    scored: bool
    options: tuple[AnswerOption, ...]


@dataclass(frozen=True)
class Band:
    """Totals ``low``..``high`` inclusive fall in ``severity`` (a snake_case machine value)."""

    low: int
    high: int
    severity: str
    label: str


@dataclass(frozen=True)
class Instrument:
    code: str
    title: str
    loinc_panel: str | None
    loinc_total: str | None
    recall: str
    lead: str
    items: tuple[Item, ...]
    licence_note: str
    bands: tuple[Band, ...]
    total_min: int
    total_max: int
    # "sum" of the scored items, or their "mean" (PEG, §2.1).
    scoring: str = "sum"
    code_system: str = LOINC
    loinc_notice: str = LOINC_NOTICE

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.scored)

    def item(self, link_id: str) -> Item | None:
        return next((item for item in self.items if item.link_id == link_id), None)


# §2.2 PHQ-9 answer codes. LA6568-5, LA6569-3 and LA6570-1 were seen in the PACIO sample
# data; LA6571-9 is marked (unverified) in the reference.
FREQUENCY_0_3 = (
    AnswerOption(0, "Not at all", "LA6568-5"),
    AnswerOption(1, "Several days", "LA6569-3"),
    AnswerOption(2, "More than half the days", "LA6570-1"),
    AnswerOption(3, "Nearly every day", "LA6571-9"),  # (unverified) per §2.2
)

# Labels of the PHQ-9 difficulty item, from LOINC Questionnaire 44249-1. §2.2 gives no
# answer codes for this item, so none are carried.
DIFFICULTY_0_3 = (
    AnswerOption(0, "Not difficult at all"),
    AnswerOption(1, "Somewhat difficult"),
    AnswerOption(2, "Very difficult"),
    AnswerOption(3, "Extremely difficult"),
)

# §2.2 PCL-5 answer scale; the reference gives no LOINC answer codes for it.
PCL5_0_4 = (
    AnswerOption(0, "Not at all"),
    AnswerOption(1, "A little bit"),
    AnswerOption(2, "Moderately"),
    AnswerOption(3, "Quite a bit"),
    AnswerOption(4, "Extremely"),
)

# 0–10 numeric ratings (PEG, pain NRS): the number is the answer; no answer codes.
NUMERIC_0_10 = tuple(AnswerOption(n, str(n)) for n in range(11))


def _items(
    rows: tuple[tuple[str, str | None], ...],
    options: tuple[AnswerOption, ...],
) -> tuple[Item, ...]:
    """Items "1".."n" in order, each scored on ``options``."""
    low, high = options[0].value, options[-1].value
    return tuple(
        Item(str(n), text, loinc, low, high, True, options)
        for n, (text, loinc) in enumerate(rows, start=1)
    )


# PHQ-9 item wording: jmandel/ktc-questionnaire-starters, generate.py. Item LOINC codes in
# order per §2.2 (item 9, 44260-8, is the safety item).
PHQ9_ROWS: tuple[tuple[str, str | None], ...] = (
    ("Little interest or pleasure in doing things", "44250-9"),
    ("Feeling down, depressed, or hopeless", "44255-8"),
    ("Trouble falling or staying asleep, or sleeping too much", "44259-0"),
    ("Feeling tired or having little energy", "44254-1"),
    ("Poor appetite or overeating", "44251-7"),
    (
        "Feeling bad about yourself - or that you are a failure or have let yourself or "
        "your family down",
        "44258-2",
    ),
    (
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "44252-5",
    ),
    (
        "Moving or speaking so slowly that other people could have noticed - or the "
        "opposite, being so fidgety or restless that you have been moving around a lot more "
        "than usual",
        "44253-3",
    ),
    ("Thoughts that you would be better off dead, or of hurting yourself in some way", "44260-8"),
)
PHQ_LEAD = (
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
)
# Wording: LOINC Questionnaire 44249-1 (jmandel/ktc-questionnaire-starters,
# fhir-loinc/44249-1.json). Code 69722-7 is (unverified) per §2.2.
PHQ9_DIFFICULTY = Item(
    "10",
    "How difficult have these problems made it for you to do your work, take care of things "
    "at home, or get along with other people?",
    "69722-7",
    0,
    3,
    False,
    DIFFICULTY_0_3,
)

PHQ9_ITEM9 = "9"

PHQ9 = Instrument(
    code="phq-9",
    title="Patient Health Questionnaire-9 (PHQ-9)",
    loinc_panel="44249-1",
    loinc_total="44261-6",
    recall="last 2 weeks",
    lead=PHQ_LEAD,
    items=(*_items(PHQ9_ROWS, FREQUENCY_0_3), PHQ9_DIFFICULTY),
    licence_note=PFIZER_NOTICE,
    # §2.1, Kroenke 2001.
    bands=(
        Band(0, 4, "minimal", "Minimal"),
        Band(5, 9, "mild", "Mild"),
        Band(10, 14, "moderate", "Moderate"),
        Band(15, 19, "moderately_severe", "Moderately severe"),
        Band(20, 27, "severe", "Severe"),
    ),
    total_min=0,
    total_max=27,
)

PHQ2 = Instrument(
    code="phq-2",
    title="Patient Health Questionnaire-2 (PHQ-2)",
    loinc_panel="55757-9",
    loinc_total="55758-7",
    recall="last 2 weeks",
    lead=PHQ_LEAD,
    # §2.2: items 1–2 of the PHQ-9 (44250-9, 44255-8).
    items=_items(PHQ9_ROWS[:2], FREQUENCY_0_3),
    licence_note=PFIZER_NOTICE,
    # §2.1: ≥3 positive screen (Kroenke 2003).
    bands=(
        Band(0, 2, "negative", "Negative screen"),
        Band(3, 6, "positive", "Positive screen"),
    ),
    total_min=0,
    total_max=6,
)

# GAD-7 item wording: jmandel/ktc-questionnaire-starters, generate.py. Codes per §2.2.
GAD7_ROWS: tuple[tuple[str, str | None], ...] = (
    ("Feeling nervous, anxious, or on edge", "69725-0"),
    ("Not being able to stop or control worrying", "68509-9"),
    ("Worrying too much about different things", "69733-4"),
    ("Trouble relaxing", "69734-2"),
    ("Being so restless that it is hard to sit still", "69735-9"),
    ("Becoming easily annoyed or irritable", "69689-8"),
    ("Feeling afraid, as if something awful might happen", "69736-7"),
)

GAD7 = Instrument(
    code="gad-7",
    title="Generalized Anxiety Disorder-7 (GAD-7)",
    loinc_panel="69737-5",
    loinc_total="70274-6",
    recall="last 2 weeks",
    lead="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=_items(GAD7_ROWS, FREQUENCY_0_3),
    licence_note=PFIZER_NOTICE,
    # §2.1: 5 / 10 / 15 = mild / moderate / severe (Spitzer 2006).
    bands=(
        Band(0, 4, "minimal", "Minimal"),
        Band(5, 9, "mild", "Mild"),
        Band(10, 14, "moderate", "Moderate"),
        Band(15, 21, "severe", "Severe"),
    ),
    total_min=0,
    total_max=21,
)

# PCL-5 item wording: rhavekost/clinical-toolkit,
# dist/consumer/claude/trauma-screening/assets/pcl-5.md, checked item by item against
# sisyphean2/ReactTraumaTest, src/textConsts.js (which misprints "of" for "or" in item 10),
# and against the PHOSP-COVID study's REDCap data dictionary of the standard form
# (github.com/SurgicalInformatics/phosp_clean/wiki/PCL-5, items 1–20).
# LOINC has item codes under the panel 101697-1, but neither the reference nor any source
# that could be cited here lists them, so items carry none rather than guessed codes; the
# panel and total codes (clinical.md §2.1) are set, and answers are keyed by link id.
PCL5_ROWS: tuple[tuple[str, str | None], ...] = (
    ("Repeated, disturbing, and unwanted memories of the stressful experience?", None),
    ("Repeated, disturbing dreams of the stressful experience?", None),
    (
        "Suddenly feeling or acting as if the stressful experience were actually happening "
        "again (as if you were actually back there reliving it)?",
        None,
    ),
    ("Feeling very upset when something reminded you of the stressful experience?", None),
    (
        "Having strong physical reactions when something reminded you of the stressful "
        "experience (for example, heart pounding, trouble breathing, sweating)?",
        None,
    ),
    ("Avoiding memories, thoughts, or feelings related to the stressful experience?", None),
    (
        "Avoiding external reminders of the stressful experience (for example, people, "
        "places, conversations, activities, objects, or situations)?",
        None,
    ),
    ("Trouble remembering important parts of the stressful experience?", None),
    (
        "Having strong negative beliefs about yourself, other people, or the world (for "
        "example, having thoughts such as: I am bad, there is something seriously wrong with "
        "me, no one can be trusted, the world is completely dangerous)?",
        None,
    ),
    (
        "Blaming yourself or someone else for the stressful experience or what happened after it?",
        None,
    ),
    ("Having strong negative feelings such as fear, horror, anger, guilt, or shame?", None),
    ("Loss of interest in activities that you used to enjoy?", None),
    ("Feeling distant or cut off from other people?", None),
    (
        "Trouble experiencing positive feelings (for example, being unable to feel happiness "
        "or have loving feelings for people close to you)?",
        None,
    ),
    ("Irritable behavior, angry outbursts, or acting aggressively?", None),
    ("Taking too many risks or doing things that could cause you harm?", None),
    ('Being "superalert" or watchful or on guard?', None),
    ("Feeling jumpy or easily startled?", None),
    ("Having difficulty concentrating?", None),
    ("Trouble falling or staying asleep?", None),
)

# §2.2 cluster table: cluster → link ids, and the number of items rated ≥2 the DSM-5 rule
# needs in each (≥1 B, ≥1 C, ≥2 D, ≥2 E).
PCL5_CLUSTERS: dict[str, tuple[str, ...]] = {
    "B": tuple(str(n) for n in range(1, 6)),
    "C": ("6", "7"),
    "D": tuple(str(n) for n in range(8, 15)),
    "E": tuple(str(n) for n in range(15, 21)),
}
PCL5_DSM5_MIN_ENDORSED: dict[str, int] = {"B": 1, "C": 1, "D": 2, "E": 2}
PCL5_ENDORSED_AT = 2
# §2.2: default 33, the conservative top of Bovin et al. 2016's 31–33; a clinic setting.
PCL5_DEFAULT_CUTOFF = 33

PCL5 = Instrument(
    code="pcl-5",
    title="PTSD Checklist for DSM-5 (PCL-5)",
    loinc_panel="101697-1",
    loinc_total="101698-9",
    recall="past month",
    # Wording: sisyphean2/ReactTraumaTest, src/textConsts.js ("instructions").
    lead="In the past month, how much were you bothered by:",
    items=_items(PCL5_ROWS, PCL5_0_4),
    licence_note=(
        "Public domain: PTSD Checklist for DSM-5 (PCL-5), U.S. Department of Veterans "
        "Affairs, National Center for PTSD (NCPTSD), www.ptsd.va.gov."
    ),
    # §2.2: no empirically derived severity bands.
    bands=(),
    total_min=0,
    total_max=80,
)

# PEG item wording and the scale lead: jmandel/ktc-questionnaire-starters, generate.py
# (identical to LOINC Questionnaire 91148-7). Codes per §2.2.
PEG_ROWS: tuple[tuple[str, str | None], ...] = (
    ("What number best describes your pain on average in the past week?", "75893-8"),
    (
        "What number best describes how, during the past week, pain has interfered with your "
        "enjoyment of life?",
        "91145-3",
    ),
    (
        "What number best describes how, during the past week, pain has interfered with your "
        "general activity?",
        "91146-1",
    ),
)

PEG = Instrument(
    code="peg",
    title="Pain, Enjoyment of life, General activity (PEG)",
    loinc_panel="91148-7",
    loinc_total="91147-9",
    recall="past week",
    lead=(
        "0 = no pain / does not interfere … 10 = pain as bad as you can imagine / "
        "completely interferes"
    ),
    items=_items(PEG_ROWS, NUMERIC_0_10),
    licence_note="Public domain. Krebs EE, et al. J Gen Intern Med 2009;24:733–738.",
    # §2.1: no official bands; track change.
    bands=(),
    total_min=0,
    total_max=10,
    scoring="mean",
)

# §2.1: one 0–10 item, scored as LOINC 72514-3 "Pain severity – 0-10 verbal numeric
# rating [Score] – Reported"; no panel. As a questionnaire it is the patient's average pain
# over the past week — the baseline and reassessment measure (§2.3, IMMPACT) — so the
# recall period is the PEG's (§2.1, PEG item 1). A single "pain now" rating taken at a
# session is an observation row (observations.rules, kind "pain"), never this response.
# The 1–3/4–6/7–10 convention is (unverified) and not encoded.
PAIN_NRS = Instrument(
    code="pain-nrs",
    title="Pain intensity, 0–10 numeric rating scale",
    loinc_panel=None,
    loinc_total="72514-3",
    recall="past week",
    lead="0 = no pain … 10 = pain as bad as you can imagine",
    items=(
        Item(
            "1",
            "On average over the past week, how bad has your pain been?",
            "72514-3",
            0,
            10,
            True,
            NUMERIC_0_10,
        ),
    ),
    licence_note="Generic 0–10 numeric rating scale; free to use.",
    bands=(),
    total_min=0,
    total_max=10,
)

INSTRUMENTS: dict[str, Instrument] = {
    instrument.code: instrument for instrument in (PHQ9, PHQ2, GAD7, PCL5, PEG, PAIN_NRS)
}


def get_instrument(code: str) -> Instrument | None:
    """The instrument with this code ("phq-9", "pcl-5", …), or None."""
    return INSTRUMENTS.get(code)
