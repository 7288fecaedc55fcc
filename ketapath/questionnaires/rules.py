"""Pure scoring of questionnaire answers (clinical.md §2.1, §2.2).

Answers map link ids ("1".."n") to the chosen option's value. Nothing is prorated: a
response missing any scored item names the missing link ids and gets no total, since the
published scoring (§2.1) is a plain sum or mean over every item.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ketapath.core.errors import FieldError, InvalidInput
from ketapath.questionnaires.instruments import (
    PCL5_CLUSTERS,
    PCL5_DEFAULT_CUTOFF,
    PCL5_DSM5_MIN_ENDORSED,
    PCL5_ENDORSED_AT,
    PHQ9_ITEM9,
    Instrument,
)

MESSAGE_ANSWERS_INVALID = "Some answers are not valid; see errors for each item."
RULE_OUT_OF_RANGE = "Answer {value} is outside {low}–{high} for item {link_id}."
RULE_NOT_WHOLE_NUMBER = "The answer to item {link_id} must be a whole number from {low} to {high}."
RULE_UNKNOWN_ITEM = "There is no item {link_id} in the {title}."

# Alert codes for the caller: any PHQ-9 item 9 answer above 0 raises the same-day
# suicide-risk workflow whatever the total (§2.2 "Item 9 safety rule"); an unanswered item 9
# is unknown, never 0, so staff are prompted to ask it.
ALERT_PHQ9_ITEM9 = "phq9_item9"
ALERT_PHQ9_ITEM9_UNKNOWN = "phq9_item9_unknown"

PEG_PLACES = Decimal("0.1")


@dataclass(frozen=True)
class ScoreResult:
    instrument: str
    total: int | Decimal | None
    severity: str | None
    complete: bool
    missing: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    # PCL-5 only: cluster → score (None while one of its items is unanswered).
    clusters: dict[str, int | None] | None = None
    # PCL-5 only: {"cutoff": bool | None, "dsm5_rule": bool | None}.
    provisional_ptsd: dict[str, bool | None] | None = None


def _is_whole_number(value: Any) -> bool:
    # bool is an int subclass; True is not an answer.
    return isinstance(value, int) and not isinstance(value, bool)


def validate_answers(instrument: Instrument, answers: dict[str, Any]) -> dict[str, int]:
    """The answered items as link id → value; raises InvalidInput naming each bad item.

    A value of None means the item was not answered. Every problem is reported at once.
    """
    errors: list[FieldError] = []
    clean: dict[str, int] = {}
    for link_id, value in answers.items():
        item = instrument.item(str(link_id))
        field_name = f"answers.{link_id}"
        if item is None:
            rule = RULE_UNKNOWN_ITEM.format(link_id=link_id, title=instrument.title)
            errors.append(FieldError(field_name, rule))
            continue
        if value is None:
            continue
        if not _is_whole_number(value):
            rule = RULE_NOT_WHOLE_NUMBER.format(link_id=link_id, low=item.min, high=item.max)
            errors.append(FieldError(field_name, rule))
            continue
        if not item.min <= value <= item.max:
            rule = RULE_OUT_OF_RANGE.format(
                value=value, low=item.min, high=item.max, link_id=link_id
            )
            errors.append(FieldError(field_name, rule))
            continue
        clean[item.link_id] = value
    if errors:
        raise InvalidInput(MESSAGE_ANSWERS_INVALID, errors=errors)
    return clean


def severity_for(instrument: Instrument, total: int) -> str | None:
    """The band the total falls in (§2.1), or None for instruments without bands."""
    for band in instrument.bands:
        if band.low <= total <= band.high:
            return band.severity
    return None


def _pcl5_clusters(answers: dict[str, int]) -> dict[str, int | None]:
    """Cluster sums per §2.2; a cluster with an unanswered item has no score."""
    out: dict[str, int | None] = {}
    for cluster, link_ids in PCL5_CLUSTERS.items():
        values = [answers.get(link_id) for link_id in link_ids]
        out[cluster] = None if None in values else sum(v for v in values if v is not None)
    return out


def pcl5_dsm5_rule(answers: dict[str, int]) -> bool:
    """§2.2: items rated 2 or more count; needs ≥1 B, ≥1 C, ≥2 D and ≥2 E of them."""
    for cluster, link_ids in PCL5_CLUSTERS.items():
        endorsed = sum(1 for link_id in link_ids if answers.get(link_id, 0) >= PCL5_ENDORSED_AT)
        if endorsed < PCL5_DSM5_MIN_ENDORSED[cluster]:
            return False
    return True


def score(
    instrument: Instrument,
    answers: dict[str, Any],
    *,
    pcl5_cutoff: int = PCL5_DEFAULT_CUTOFF,
) -> ScoreResult:
    """Score one response: total, severity band, missing items and safety alerts.

    PEG's total is the mean of its 3 items to one decimal (ROUND_HALF_UP), as a Decimal
    (§2.1); every other total is the sum of the scored items. PCL-5 adds its cluster
    scores and both provisional-PTSD rules: total ≥ ``pcl5_cutoff`` (a clinic setting,
    default 33) and the DSM-5 cluster rule (§2.2).
    """
    clean = validate_answers(instrument, answers)
    scored = instrument.scored_items
    missing = [item.link_id for item in scored if item.link_id not in clean]
    complete = not missing

    total: int | Decimal | None = None
    severity: str | None = None
    if complete:
        summed = sum(clean[item.link_id] for item in scored)
        if instrument.scoring == "mean":
            total = (Decimal(summed) / Decimal(len(scored))).quantize(
                PEG_PLACES, rounding=ROUND_HALF_UP
            )
        else:
            total = summed
            severity = severity_for(instrument, summed)

    alerts: list[str] = []
    if instrument.code == "phq-9":
        item9 = clean.get(PHQ9_ITEM9)
        if item9 is None:
            alerts.append(ALERT_PHQ9_ITEM9_UNKNOWN)
        elif item9 > 0:
            alerts.append(ALERT_PHQ9_ITEM9)

    clusters: dict[str, int | None] | None = None
    provisional: dict[str, bool | None] | None = None
    if instrument.code == "pcl-5":
        clusters = _pcl5_clusters(clean)
        # Both rules need every item: an unanswered item could still change either result.
        provisional = {"cutoff": None, "dsm5_rule": None}
        if total is not None:
            provisional = {
                "cutoff": total >= pcl5_cutoff,
                "dsm5_rule": pcl5_dsm5_rule(clean),
            }

    return ScoreResult(
        instrument=instrument.code,
        total=total,
        severity=severity,
        complete=complete,
        missing=missing,
        alerts=alerts,
        clusters=clusters,
        provisional_ptsd=provisional,
    )
