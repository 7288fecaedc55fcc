"""The privacy rule for everything that leaves the clinic's systems (DESIGN §5b, §6).

Reminders, SMS, e-mail subjects and bodies, and calendar entries can be read on a lock
screen, by a family member or by a mail provider. They may name the clinic, a day and a
time; they never name the drug, a diagnosis, a symptom the clinic treats, a questionnaire
or a score. :func:`privacy_problems` is the one check every message template and calendar
feed is tested against.
"""

import re

# Words (lower case, matched at a word start) that would tell a reader what the visit is
# for. Stems catch their inflections: "depress" catches depression and depressive.
FORBIDDEN_STEMS: tuple[str, ...] = (
    # the drug and its relatives
    "ketamine",
    "esketamine",
    "spravato",
    "ketalar",
    "infusion",
    "dissociat",
    "anesthe",
    "anaesthe",
    "controlled substance",
    "opioid",
    "narcotic",
    # diagnoses and the conditions the clinic treats (DESIGN mission; clinical.md §4.1)
    "depress",
    "ptsd",
    "post-traumatic",
    "posttraumatic",
    "trauma",
    "anxiety",
    "suicid",
    "self-harm",
    "mental",
    "psychiatr",
    "bipolar",
    "pain",
    "migraine",
    "neuropath",
    "fibromyalgia",
    "arthritis",
    "lupus",
    "lyme",
    "neuralgia",
    "gastroparesis",
    "vomiting",
    "phantom",
    "pancreatitis",
    "chemotherapy",
    "cancer",
    "crps",
    "regional pain",
    "diagnos",
    "condition",
    # questionnaires and scores
    "phq",
    "gad-7",
    "gad7",
    "pcl-5",
    "pcl5",
    "peg",
    "score",
    "severity",
    "result",
)

_STEMS = re.compile(r"\b(?:" + "|".join(re.escape(s) for s in FORBIDDEN_STEMS) + r")", re.I)
# An ICD-10-CM code such as G43.909 or F33.1 (letter, two digits, optional dot and more).
_ICD10 = re.compile(r"\b[A-TV-Z]\d{2}(?:\.\d{1,4}[A-Z]?)?\b")


def privacy_problems(text: str) -> list[str]:
    """The words and codes in ``text`` that break the privacy rule (empty when it is safe)."""
    found = [m.group(0) for m in _STEMS.finditer(text)]
    found += [m.group(0) for m in _ICD10.finditer(text)]
    return found


def plain(text: str, fallback: str) -> str:
    """``text`` without the words that break the privacy rule ("Denver Ketamine Clinic" →
    "Denver Clinic"), or ``fallback`` when nothing safe is left. Site names and addresses
    go through this before they are put into a message or a calendar entry."""
    kept = " ".join(word for word in text.split() if not privacy_problems(word))
    kept = kept.strip(" ,;:&-—")
    if not any(ch.isalnum() for ch in kept) or privacy_problems(kept):
        return fallback
    return kept
