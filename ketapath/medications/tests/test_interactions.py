"""Interaction flags over an active list (issue 3, item 6): inform, never block."""

from ketapath.medications.rules import (
    FLAG_BENZODIAZEPINE,
    FLAG_LAMOTRIGINE,
    FLAG_MAOI,
    FLAG_NALTREXONE,
    FLAG_OPIOID_BENZODIAZEPINE,
    FLAG_STIMULANT,
    REASON_BENZODIAZEPINE,
    REASON_LAMOTRIGINE,
    REASON_MAOI,
    REASON_NALTREXONE,
    REASON_OPIOID_BENZODIAZEPINE,
    REASON_STIMULANT,
    Flag,
    ListedMedication,
    interaction_flags,
)


def med(id: str, ingredient: str, opioid: bool = False) -> ListedMedication:
    return ListedMedication(id=id, ingredient=ingredient, is_opioid=opioid)


def test_empty_and_harmless_lists_have_no_flags() -> None:
    assert interaction_flags([]) == []
    assert interaction_flags([med("1", "gabapentin"), med("2", "oxycodone", True)]) == []


def test_benzodiazepine_may_blunt_response() -> None:
    assert interaction_flags([med("1", "lorazepam")]) == [
        Flag(FLAG_BENZODIAZEPINE, REASON_BENZODIAZEPINE, ("1",))
    ]


def test_salt_names_match_their_base() -> None:
    flags = interaction_flags([med("1", "clorazepate dipotassium")])
    assert [f.kind for f in flags] == [FLAG_BENZODIAZEPINE]


def test_lamotrigine_may_blunt_response() -> None:
    assert interaction_flags([med("7", "lamotrigine")]) == [
        Flag(FLAG_LAMOTRIGINE, REASON_LAMOTRIGINE, ("7",))
    ]


def test_maoi_blood_pressure() -> None:
    assert interaction_flags([med("1", "phenelzine")]) == [Flag(FLAG_MAOI, REASON_MAOI, ("1",))]


def test_stimulant_blood_pressure_including_combinations() -> None:
    flags = interaction_flags([med("1", "amphetamine / dextroamphetamine"), med("2", "sertraline")])
    assert flags == [Flag(FLAG_STIMULANT, REASON_STIMULANT, ("1",))]


def test_opioid_with_benzodiazepine_names_both() -> None:
    flags = interaction_flags([med("o", "hydrocodone", True), med("b", "alprazolam")])
    assert flags == [
        Flag(FLAG_BENZODIAZEPINE, REASON_BENZODIAZEPINE, ("b",)),
        Flag(FLAG_OPIOID_BENZODIAZEPINE, REASON_OPIOID_BENZODIAZEPINE, ("o", "b")),
    ]


def test_naltrexone() -> None:
    assert interaction_flags([med("n", "naltrexone")]) == [
        Flag(FLAG_NALTREXONE, REASON_NALTREXONE, ("n",))
    ]


def test_every_flag_has_a_reason_and_label() -> None:
    meds = [
        med("1", "diazepam"),
        med("2", "lamotrigine"),
        med("3", "selegiline"),
        med("4", "methylphenidate"),
        med("5", "morphine", True),
        med("6", "naltrexone"),
    ]
    flags = interaction_flags(meds)
    assert [f.kind for f in flags] == [
        FLAG_BENZODIAZEPINE,
        FLAG_LAMOTRIGINE,
        FLAG_MAOI,
        FLAG_STIMULANT,
        FLAG_OPIOID_BENZODIAZEPINE,
        FLAG_NALTREXONE,
    ]
    assert all(f.reason and f.label for f in flags)
