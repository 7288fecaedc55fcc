"""Scoring rules against clinical.md §2.1/§2.2: every band edge, PCL-5 rules, PEG mean."""

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketapath.core.errors import InvalidInput
from ketapath.questionnaires.instruments import (
    GAD7,
    INSTRUMENTS,
    PAIN_NRS,
    PCL5,
    PEG,
    PHQ2,
    PHQ9,
    Instrument,
    get_instrument,
)
from ketapath.questionnaires.rules import (
    ALERT_PHQ9_ITEM9,
    ALERT_PHQ9_ITEM9_UNKNOWN,
    MESSAGE_ANSWERS_INVALID,
    RULE_NOT_WHOLE_NUMBER,
    RULE_OUT_OF_RANGE,
    RULE_UNKNOWN_ITEM,
    score,
)


def answers_for_total(instrument: Instrument, total: int) -> dict[str, int]:
    """Fill the scored items in order, each up to its maximum, until ``total`` is reached."""
    out: dict[str, int] = {}
    left = total
    for item in instrument.scored_items:
        value = min(item.max, left)
        out[item.link_id] = value
        left -= value
    assert left == 0
    return out


# --- registry ------------------------------------------------------------------------------


def test_registry_codes_and_loinc() -> None:
    assert list(INSTRUMENTS) == ["phq-9", "phq-2", "gad-7", "pcl-5", "peg", "pain-nrs"]
    assert get_instrument("phq-9") is PHQ9
    assert get_instrument("bpi") is None
    assert (PHQ9.loinc_panel, PHQ9.loinc_total) == ("44249-1", "44261-6")
    assert (PHQ2.loinc_panel, PHQ2.loinc_total) == ("55757-9", "55758-7")
    assert (GAD7.loinc_panel, GAD7.loinc_total) == ("69737-5", "70274-6")
    assert (PCL5.loinc_panel, PCL5.loinc_total) == ("101697-1", "101698-9")
    assert (PEG.loinc_panel, PEG.loinc_total) == ("91148-7", "91147-9")
    assert PAIN_NRS.loinc_total == "72514-3"
    assert [i.loinc for i in PHQ9.items] == [
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
        "69722-7",
    ]
    assert [i.loinc for i in PHQ2.items] == ["44250-9", "44255-8"]
    assert [i.loinc for i in GAD7.items] == [
        "69725-0",
        "68509-9",
        "69733-4",
        "69734-2",
        "69735-9",
        "69689-8",
        "69736-7",
    ]
    assert [i.loinc for i in PEG.items] == ["75893-8", "91145-3", "91146-1"]


def test_link_ids_are_one_to_n_and_ranges() -> None:
    for instrument in INSTRUMENTS.values():
        assert [i.link_id for i in instrument.items] == [
            str(n) for n in range(1, len(instrument.items) + 1)
        ]
    assert len(PHQ9.scored_items) == 9
    assert not PHQ9.items[9].scored
    assert len(PCL5.items) == 20
    assert {(i.min, i.max) for i in PCL5.items} == {(0, 4)}
    assert {(i.min, i.max) for i in PEG.items} == {(0, 10)}
    assert [o.loinc for o in PHQ9.items[0].options] == [
        "LA6568-5",
        "LA6569-3",
        "LA6570-1",
        "LA6571-9",
    ]


# --- PHQ-9 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_edges(total: int, severity: str) -> None:
    answers = answers_for_total(PHQ9, total)
    result = score(PHQ9, answers)
    assert result.total == total
    assert result.severity == severity
    assert result.complete
    assert result.missing == []
    assert result.clusters is None
    assert result.provisional_ptsd is None


def test_phq9_difficulty_item_is_not_summed_nor_missing() -> None:
    answers = dict.fromkeys((str(n) for n in range(1, 10)), 1)
    without = score(PHQ9, answers)
    with_difficulty = score(PHQ9, {**answers, "10": 3})
    assert without.total == with_difficulty.total == 9
    assert without.complete and without.missing == []


def test_phq9_item9_alert_whatever_the_total() -> None:
    answers = {**dict.fromkeys((str(n) for n in range(1, 9)), 0), "9": 1}
    result = score(PHQ9, answers)
    assert result.total == 1
    assert result.severity == "minimal"
    assert result.alerts == [ALERT_PHQ9_ITEM9]


def test_phq9_item9_zero_raises_no_alert() -> None:
    result = score(PHQ9, {**dict.fromkeys((str(n) for n in range(1, 9)), 3), "9": 0})
    assert result.total == 24
    assert result.severity == "severe"
    assert result.alerts == []


def test_phq9_item9_alert_even_when_other_items_missing() -> None:
    result = score(PHQ9, {"1": 0, "9": 2})
    assert result.total is None
    assert result.alerts == [ALERT_PHQ9_ITEM9]
    assert result.missing == ["2", "3", "4", "5", "6", "7", "8"]


def test_phq9_missing_item9_is_unknown_never_zero() -> None:
    answers = dict.fromkeys((str(n) for n in range(1, 9)), 0)
    result = score(PHQ9, answers)
    assert result.total is None
    assert result.severity is None
    assert not result.complete
    assert result.missing == ["9"]
    assert result.alerts == [ALERT_PHQ9_ITEM9_UNKNOWN]
    # An explicit null is the same as an absent answer.
    assert score(PHQ9, {**answers, "9": None}).missing == ["9"]


def test_missing_items_are_listed_in_order_and_no_total() -> None:
    result = score(PHQ9, {"9": 0, "2": 3, "5": 1})
    assert result.total is None
    assert result.severity is None
    assert result.complete is False
    assert result.missing == ["1", "3", "4", "6", "7", "8"]
    empty = score(GAD7, {})
    assert empty.missing == ["1", "2", "3", "4", "5", "6", "7"]
    assert empty.total is None


# --- PHQ-2 and GAD-7 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "severity"), [(0, "negative"), (2, "negative"), (3, "positive"), (6, "positive")]
)
def test_phq2_screen_edges(total: int, severity: str) -> None:
    result = score(PHQ2, answers_for_total(PHQ2, total))
    assert (result.total, result.severity) == (total, severity)
    assert result.alerts == []


@pytest.mark.parametrize(
    ("total", "severity"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_edges(total: int, severity: str) -> None:
    result = score(GAD7, answers_for_total(GAD7, total))
    assert (result.total, result.severity) == (total, severity)


# --- PCL-5 -----------------------------------------------------------------------------------


def pcl5(values: dict[int, int]) -> dict[str, int]:
    """All 20 items at 0 except those given (item number → value)."""
    return {str(n): values.get(n, 0) for n in range(1, 21)}


def test_pcl5_clusters_and_no_severity() -> None:
    answers = pcl5({1: 4, 5: 1, 6: 2, 7: 3, 8: 1, 14: 4, 15: 2, 20: 4})
    result = score(PCL5, answers)
    assert result.total == 21
    assert result.severity is None
    assert result.clusters == {"B": 5, "C": 5, "D": 5, "E": 6}


def test_pcl5_cluster_maxima() -> None:
    result = score(PCL5, pcl5(dict.fromkeys(range(1, 21), 4)))
    assert result.total == 80
    assert result.clusters == {"B": 20, "C": 8, "D": 28, "E": 24}


@pytest.mark.parametrize(("total", "expected"), [(32, False), (33, True)])
def test_pcl5_default_cutoff_33(total: int, expected: bool) -> None:
    result = score(PCL5, answers_for_total(PCL5, total))
    assert result.total == total
    assert result.provisional_ptsd is not None
    assert result.provisional_ptsd["cutoff"] is expected


def test_pcl5_cutoff_is_a_setting() -> None:
    answers = answers_for_total(PCL5, 31)
    assert score(PCL5, answers).provisional_ptsd == {"cutoff": False, "dsm5_rule": False}
    result = score(PCL5, answers, pcl5_cutoff=31)
    assert result.provisional_ptsd is not None
    assert result.provisional_ptsd["cutoff"] is True


# The minimum that meets the DSM-5 rule: 1 B, 1 C, 2 D, 2 E items rated 2 (§2.2).
DSM5_MINIMUM = {1: 2, 6: 2, 8: 2, 9: 2, 15: 2, 16: 2}


def test_pcl5_dsm5_rule_met_at_its_minimum() -> None:
    result = score(PCL5, pcl5(DSM5_MINIMUM))
    assert result.total == 12
    assert result.provisional_ptsd == {"cutoff": False, "dsm5_rule": True}


@pytest.mark.parametrize(
    ("dropped", "cluster"), [(1, "B"), (6, "C"), (9, "D"), (16, "E")], ids=["B", "C", "D", "E"]
)
def test_pcl5_dsm5_rule_fails_when_one_cluster_lacks_endorsement(
    dropped: int, cluster: str
) -> None:
    values = dict(DSM5_MINIMUM)
    # Rated 1 is not endorsed (endorsed = 2 or more); the rest of the cluster stays at 0.
    values[dropped] = 1
    result = score(PCL5, pcl5(values))
    assert result.provisional_ptsd is not None
    assert result.provisional_ptsd["dsm5_rule"] is False


def test_pcl5_high_total_without_cluster_pattern() -> None:
    # Every B, D and E item at 4 but no avoidance: cut-off met, DSM-5 rule not.
    values = dict.fromkeys([*range(1, 6), *range(8, 21)], 4)
    result = score(PCL5, pcl5(values))
    assert result.total == 72
    assert result.provisional_ptsd == {"cutoff": True, "dsm5_rule": False}


def test_pcl5_incomplete_has_null_rules_and_partial_clusters() -> None:
    answers = pcl5(dict.fromkeys(range(1, 21), 3))
    del answers["7"]
    result = score(PCL5, answers)
    assert result.total is None
    assert result.missing == ["7"]
    assert result.clusters == {"B": 15, "C": None, "D": 21, "E": 18}
    assert result.provisional_ptsd == {"cutoff": None, "dsm5_rule": None}


# --- PEG and pain NRS ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "mean"),
    [
        ((7, 8, 8), Decimal("7.7")),
        ((0, 0, 1), Decimal("0.3")),
        ((1, 1, 2), Decimal("1.3")),
        ((6, 7, 5), Decimal("6.0")),
        ((10, 10, 10), Decimal("10.0")),
        ((0, 0, 0), Decimal("0.0")),
        ((2, 3, 3), Decimal("2.7")),
    ],
)
def test_peg_is_the_mean_to_one_decimal(values: tuple[int, int, int], mean: Decimal) -> None:
    result = score(PEG, {"1": values[0], "2": values[1], "3": values[2]})
    assert isinstance(result.total, Decimal)
    assert result.total == mean
    assert str(result.total) == str(mean)
    assert result.severity is None


def test_peg_missing_item_has_no_mean() -> None:
    result = score(PEG, {"1": 7, "3": 8})
    assert result.total is None
    assert result.missing == ["2"]


@pytest.mark.parametrize("value", [0, 3, 4, 6, 7, 10])
def test_pain_nrs_total_is_the_rating_without_bands(value: int) -> None:
    result = score(PAIN_NRS, {"1": value})
    assert result.total == value
    assert result.severity is None
    assert result.complete


# --- invalid input ---------------------------------------------------------------------------


def _errors(instrument: Instrument, answers: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        score(instrument, answers)
    assert caught.value.message == MESSAGE_ANSWERS_INVALID
    assert caught.value.status == 422
    return [(e.field, e.rule) for e in caught.value.errors]


def test_out_of_range_names_the_item() -> None:
    assert _errors(PHQ9, {"9": 4}) == [("answers.9", "Answer 4 is outside 0–3 for item 9.")]
    assert RULE_OUT_OF_RANGE.format(value=4, low=0, high=3, link_id="9") == (
        "Answer 4 is outside 0–3 for item 9."
    )
    assert _errors(PCL5, {"20": 5}) == [("answers.20", "Answer 5 is outside 0–4 for item 20.")]
    assert _errors(PEG, {"1": -1}) == [("answers.1", "Answer -1 is outside 0–10 for item 1.")]
    assert _errors(PHQ9, {"10": 4})[0][0] == "answers.10"


@pytest.mark.parametrize("value", [1.5, 2.0, "2", True, [1]])
def test_non_integer_answer_is_invalid(value: Any) -> None:
    rule = RULE_NOT_WHOLE_NUMBER.format(link_id="3", low=0, high=3)
    assert _errors(PHQ9, {"3": value}) == [("answers.3", rule)]


def test_unknown_link_id_is_invalid() -> None:
    rule = RULE_UNKNOWN_ITEM.format(link_id="11", title=PHQ9.title)
    assert _errors(PHQ9, {"11": 0}) == [("answers.11", rule)]
    assert _errors(PHQ2, {"3": 0})[0][0] == "answers.3"


def test_every_bad_item_is_reported_at_once() -> None:
    fields = [field for field, _ in _errors(GAD7, {"1": 9, "2": "x", "8": 0})]
    assert fields == ["answers.1", "answers.2", "answers.8"]


# --- properties ------------------------------------------------------------------------------


@st.composite
def complete_answers(draw: st.DrawFn) -> tuple[Instrument, dict[str, int]]:
    instrument = draw(st.sampled_from(list(INSTRUMENTS.values())))
    answers = {
        item.link_id: draw(st.integers(item.min, item.max)) for item in instrument.scored_items
    }
    return instrument, answers


@given(complete_answers())
def test_totals_within_range(case: tuple[Instrument, dict[str, int]]) -> None:
    instrument, answers = case
    result = score(instrument, answers)
    assert result.complete
    assert result.total is not None
    assert instrument.total_min <= result.total <= instrument.total_max
    if instrument.bands:
        assert result.severity is not None


@given(complete_answers(), st.data())
def test_totals_monotone_in_each_item(
    case: tuple[Instrument, dict[str, int]], data: st.DataObject
) -> None:
    instrument, answers = case
    item = data.draw(st.sampled_from(instrument.scored_items))
    raised = {**answers, item.link_id: data.draw(st.integers(answers[item.link_id], item.max))}
    before = score(instrument, answers)
    after = score(instrument, raised)
    assert before.total is not None and after.total is not None
    assert after.total >= before.total
    if before.provisional_ptsd is not None and after.provisional_ptsd is not None:
        # Raising an item never withdraws a provisional PTSD indication.
        for rule in ("cutoff", "dsm5_rule"):
            assert after.provisional_ptsd[rule] or not before.provisional_ptsd[rule]
