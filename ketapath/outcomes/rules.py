"""Outcome rules: pure functions over plain numbers (issue 9, clinical.md §2.3).

- Pain change from the baseline before the first dose, as a percentage and in points, in
  the IMMPACT categories on half-open bands of the fall: ≥ 50 % substantial, ≥ 30 %
  moderate, 10–29 % minimal, under 10 % none, and any rise worse (Dworkin RH, et al.
  J Pain 2008;9:105–121, clinical.md §2.3). No percentage when the baseline is 0; a
  baseline under 4 is flagged (too little pain for a percentage to mean much — the flag is
  issue 9's rule, not a published threshold).
- PHQ-9 response (a fall of 50 % or more) and remission (below 5), defined only when the
  baseline is 10 or more (HEDIS DRR-E, clinical.md §2.3).
- PCL-5: a fall of 10 points or more is clinically meaningful (VA NCPTSD guidance,
  clinical.md §2.3).
- The Wilson score interval for a proportion (Wilson EB, J Am Stat Assoc 1927;22:209),
  checked against Newcombe RG, Stat Med 1998;17:857, Table I.

Percentages are exact Decimals, rounded half up to one decimal place only for display;
every band is decided on the exact value.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from math import sqrt

PERCENT_PLACES = Decimal("0.1")

# clinical.md §2.3 (IMMPACT): moderately important ≥ 30 %, substantial ≥ 50 %, minimally
# important from 10 %.
SUBSTANTIAL_PERCENT = Decimal(50)
MODERATE_PERCENT = Decimal(30)
MINIMAL_PERCENT = Decimal(10)
# Issue 9: "a baseline below 4 flagged".
LOW_BASELINE = Decimal(4)

# clinical.md §2.3: PHQ-9 response ≥ 50 % fall; remission below 5; both only from a
# baseline of 10 or more.
PHQ9_RESPONSE_PERCENT = Decimal(50)
PHQ9_REMISSION_BELOW = 5
PHQ9_BASELINE_AT_LEAST = 10
# clinical.md §2.3: PCL-5 10–20 points clinically meaningful.
PCL5_MEANINGFUL_POINTS = 10

# Two-sided 95 %: the standard normal quantile 1.959964…, as used for Newcombe's table.
Z_95 = 1.959963984540054

RULE_SCORE = "Must be a number, 0 or more."
RULE_COUNTS = "Successes must be a whole number from 0 to the total."


class PainCategory(StrEnum):
    SUBSTANTIAL = "substantial"
    MODERATE = "moderate"
    MINIMAL = "minimal"
    NONE = "none"
    WORSE = "worse"
    NOT_COMPUTABLE = "not_computable"  # baseline 0 and no rise: no percentage exists


@dataclass(frozen=True)
class Change:
    baseline: Decimal
    current: Decimal
    points: Decimal  # current − baseline (negative is a fall)
    percent: Decimal | None  # (current − baseline) ÷ baseline × 100, exact; None from 0


def _score(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError(f"{field}: {RULE_SCORE}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field}: {RULE_SCORE}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{field}: {RULE_SCORE}")
    return number


def change(baseline: object, current: object) -> Change:
    """The change from ``baseline`` to ``current`` in points and (from a baseline above 0)
    as a percentage of the baseline."""
    before = _score(baseline, "baseline")
    after = _score(current, "current")
    points = after - before
    percent = None if before == 0 else points * 100 / before
    return Change(before, after, points, percent)


def display_percent(percent: Decimal | None) -> Decimal | None:
    return None if percent is None else percent.quantize(PERCENT_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class PainChange:
    change: Change
    category: PainCategory
    low_baseline: bool


def pain_change(baseline: object, current: object) -> PainChange:
    """IMMPACT category of a pain change (clinical.md §2.3), on half-open bands of the
    percentage fall: [50, ∞) substantial, [30, 50) moderate, [10, 30) minimal, [0, 10)
    none, any rise worse. From a baseline of 0 there is no percentage: a rise is worse,
    otherwise not computable. A baseline under 4 is flagged."""
    c = change(baseline, current)
    low = c.baseline < LOW_BASELINE
    if c.points > 0:
        return PainChange(c, PainCategory.WORSE, low)
    if c.percent is None:
        return PainChange(c, PainCategory.NOT_COMPUTABLE, low)
    fall = -c.percent
    if fall >= SUBSTANTIAL_PERCENT:
        category = PainCategory.SUBSTANTIAL
    elif fall >= MODERATE_PERCENT:
        category = PainCategory.MODERATE
    elif fall >= MINIMAL_PERCENT:
        category = PainCategory.MINIMAL
    else:
        category = PainCategory.NONE
    return PainChange(c, category, low)


@dataclass(frozen=True)
class Phq9Outcome:
    change: Change
    applicable: bool  # baseline 10 or more
    response: bool | None  # None when not applicable
    remission: bool | None


def phq9_outcome(baseline: object, current: object) -> Phq9Outcome:
    """PHQ-9 response (fall ≥ 50 %) and remission (current below 5), defined only when the
    baseline is 10 or more (clinical.md §2.3); otherwise both are None."""
    c = change(baseline, current)
    if c.baseline < PHQ9_BASELINE_AT_LEAST:
        return Phq9Outcome(c, False, None, None)
    assert c.percent is not None
    return Phq9Outcome(
        c, True, -c.percent >= PHQ9_RESPONSE_PERCENT, c.current < PHQ9_REMISSION_BELOW
    )


def pcl5_meaningful(baseline: object, current: object) -> bool:
    """A fall of 10 points or more on the PCL-5 (clinical.md §2.3)."""
    return -change(baseline, current).points >= PCL5_MEANINGFUL_POINTS


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval for ``successes`` of ``total`` (None when total is 0):
    (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), clipped to [0, 1]."""
    if (
        isinstance(successes, bool)
        or isinstance(total, bool)
        or not isinstance(successes, int)
        or not isinstance(total, int)
        or total < 0
        or not 0 <= successes <= max(total, 0)
    ):
        raise ValueError(RULE_COUNTS)
    if total == 0:
        return None
    p = successes / total
    z2 = z * z
    centre = p + z2 / (2 * total)
    spread = z * sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    denominator = 1 + z2 / total
    low = (centre - spread) / denominator
    high = (centre + spread) / denominator
    return max(0.0, low), min(1.0, high)


class Proposal(StrEnum):
    CONTINUE = "continue"
    STOP = "stop"
    AWAITING_MEASURES = "awaiting_measures"
    AWAITING_SERIES = "awaiting_series"


MESSAGE_AWAITING_SERIES = (
    "The series is not complete yet; the reassessment follows the last session."
)
MESSAGE_AWAITING_MEASURES = (
    "No reassessment measures yet: ask for the pain rating (and PEG{mood}) at the reassessment."
)
MESSAGE_CONTINUE_PAIN = (
    "Pain fell by {percent} % ({category}), at least the 30 % IMMPACT calls moderately "
    "important: further sessions case by case, as a continuation course."
)
MESSAGE_CONTINUE_MOOD = (
    "PHQ-9 fell by {percent} %, a depression response (≥ 50 %): further sessions case by "
    "case, as a continuation course, with pain watched alongside."
)
MESSAGE_STOP = (
    "No response: {detail}. Consider stopping ketamine and offering behavioral health or a "
    "referral."
)
MESSAGE_LOW_BASELINE = " The baseline pain was below 4, so a percentage says little."


@dataclass(frozen=True)
class Recommendation:
    """What the software proposes after a reassessment; a named prescriber decides."""

    code: Proposal
    reason: str


def _percent_text(change: Change) -> str:
    shown = display_percent(-change.percent) if change.percent is not None else None
    return "—" if shown is None else format(shown, "f")


def recommend(
    *,
    mental_health: bool,
    series_completed: bool,
    pain: PainChange | None,
    phq9: Phq9Outcome | None,
) -> Recommendation:
    """Responders (pain fall ≥ 30 %, or on the mental-health pathway a PHQ-9 response)
    are proposed further sessions case by case; non-responders are proposed stopping, with
    behavioral health or a referral (issue 9, item 2; clinical.md §2.3). Never a decision."""
    if not series_completed:
        return Recommendation(Proposal.AWAITING_SERIES, MESSAGE_AWAITING_SERIES)
    if pain is None and (not mental_health or phq9 is None):
        mood = ", PHQ-9, PCL-5 and GAD-7" if mental_health else ""
        return Recommendation(
            Proposal.AWAITING_MEASURES, MESSAGE_AWAITING_MEASURES.format(mood=mood)
        )
    note = MESSAGE_LOW_BASELINE if pain is not None and pain.low_baseline else ""
    if pain is not None and pain.category in (PainCategory.SUBSTANTIAL, PainCategory.MODERATE):
        reason = MESSAGE_CONTINUE_PAIN.format(
            percent=_percent_text(pain.change), category=pain.category.value
        )
        return Recommendation(Proposal.CONTINUE, reason + note)
    if mental_health and phq9 is not None and phq9.response:
        return Recommendation(
            Proposal.CONTINUE,
            MESSAGE_CONTINUE_MOOD.format(percent=_percent_text(phq9.change)) + note,
        )
    details = []
    if pain is not None:
        if pain.category == PainCategory.WORSE:
            details.append("pain rose")
        elif pain.category == PainCategory.NOT_COMPUTABLE:
            details.append("no percentage from a pain baseline of 0")
        else:
            details.append(f"pain fell by {_percent_text(pain.change)} %, under 30 %")
    if mental_health and phq9 is not None:
        if phq9.applicable:
            details.append(f"PHQ-9 fell by {_percent_text(phq9.change)} %, under 50 %")
        else:
            details.append("PHQ-9 baseline under 10, so no depression response is defined")
    return Recommendation(Proposal.STOP, MESSAGE_STOP.format(detail="; ".join(details)) + note)
