"""Outcome rules against their definitions (clinical.md §2.3) and a published example."""

from decimal import Decimal as D

import pytest

from ketapath.outcomes.rules import (
    PainCategory,
    change,
    display_percent,
    pain_change,
    pcl5_meaningful,
    phq9_outcome,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("baseline", "current", "category"),
    [
        (10, 5, PainCategory.SUBSTANTIAL),  # exactly 50 % falls in the upper band
        (10, 0, PainCategory.SUBSTANTIAL),
        (8, 5, PainCategory.MODERATE),  # 37.5 %
        (10, 7, PainCategory.MODERATE),  # exactly 30 %
        (7, 4, PainCategory.MODERATE),  # 42.857… %
        (6, 3, PainCategory.SUBSTANTIAL),  # exactly 50 %
        (10, 6, PainCategory.MODERATE),  # 40 %
        (7, 5, PainCategory.MINIMAL),  # 28.57… %: under 30 is not moderate
        (10, 9, PainCategory.MINIMAL),  # exactly 10 %
        (D("9.5"), D("8.6"), PainCategory.NONE),  # 9.47… %: under 10
        (8, 8, PainCategory.NONE),
        (5, 6, PainCategory.WORSE),  # any rise
        (0, 1, PainCategory.WORSE),
        (0, 0, PainCategory.NOT_COMPUTABLE),
    ],
)
def test_pain_categories_on_half_open_bands(
    baseline: object, current: object, category: str
) -> None:
    assert pain_change(baseline, current).category == category


def test_no_percent_from_a_zero_baseline_and_low_baselines_flagged() -> None:
    assert change(0, 3).percent is None and change(0, 3).points == 3
    assert pain_change(3, 1).low_baseline is True
    assert pain_change(4, 1).low_baseline is False
    assert display_percent(change(7, 5).percent) == D("-28.6")


def test_phq9_response_and_remission_need_a_baseline_of_ten() -> None:
    below = phq9_outcome(9, 2)
    assert below.applicable is False and below.response is None and below.remission is None
    at_ten = phq9_outcome(10, 5)
    assert at_ten.response is True and at_ten.remission is False  # 50 % fall, 5 is not < 5
    assert phq9_outcome(10, 4).remission is True
    assert phq9_outcome(20, 11).response is False  # 45 %


def test_pcl5_meaningful_change_is_ten_points() -> None:
    assert pcl5_meaningful(50, 40) is True
    assert pcl5_meaningful(50, 41) is False
    assert pcl5_meaningful(30, 35) is False


@pytest.mark.parametrize(
    ("successes", "total", "low", "high"),
    [
        # Newcombe RG. Stat Med 1998;17:857–872, Table I, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe(
    successes: int, total: int, low: float, high: float
) -> None:
    interval = wilson_interval(successes, total)
    assert interval is not None
    assert (round(interval[0], 4), round(interval[1], 4)) == (low, high)


def test_wilson_interval_edges_and_bad_counts() -> None:
    assert wilson_interval(0, 0) is None
    assert wilson_interval(5, 5) is not None and wilson_interval(5, 5)[1] == 1.0  # type: ignore[index]
    for bad in ((6, 5), (-1, 5), (True, 5), (1, -1)):
        with pytest.raises(ValueError):
            wilson_interval(*bad)  # type: ignore[arg-type]


def test_scores_must_be_numbers_not_below_zero() -> None:
    for bad in ((-1, 3), ("x", 3), (None, 3), (True, 1)):
        with pytest.raises(ValueError):
            change(*bad)
