"""The clinic outcomes dashboard (issue 9, item 4): series started in a period at chosen
sites, grouped by pathway or by pain condition, computed in the database.

Definitions (each course is an initial series; continuations are not counted again):

- **started**: the first dose of the series was given in the period (the site's local
  dates). Everything else is counted among those started.
- **series completed**: the course reached its reassessment (awaiting reassessment,
  continued or completed). **Drop-out**: the course was stopped before the series was
  complete.
- **reassessed**: a pain rating (0–10, average over the past week) arrived in the
  reassessment window (``selectors``).
- **responders** ≥ 30 % and ≥ 50 %: the pain fell by at least that share of a baseline
  above 0 (clinical.md §2.3). Rates are intention-to-treat: divided by those **started**,
  so a missing reassessment counts as no response; the share among the reassessed is given
  beside them. Wilson 95 % intervals (``rules.wilson_interval``).
- **median pain change**: the median percentage change among the reassessed with a
  baseline above 0 (PostgreSQL ``percentile_cont(0.5)``; on SQLite the same median by an
  aggregate registered on each connection, ``apps.py``).
- **PHQ-9 response / remission**: among those started with a baseline PHQ-9 of 10 or more
  (clinical.md §2.3), intention-to-treat.
- **MME** (reported, never a target): among those on opioids before the first dose
  (baseline MME above 0): the mean change to the reassessment (the last figure on record
  for those not reassessed) and the share who reduced or stopped.
- **adverse-event rate**: the share of started series with at least one adverse event.

Pain and PHQ-9 bands compare whole numbers (scores × 10) so no rounding can move a patient
across an edge.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round

from ketapath.accounts.models import Membership, Role, User
from ketapath.accounts.permissions import clinics_where
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.timeutils import local_day_bounds
from ketapath.evaluations.models import ConditionEntry
from ketapath.outcomes import rules
from ketapath.outcomes.selectors import SERIES_OVER, with_measures
from ketapath.patients.models import Pathway
from ketapath.scheduling.models import Course

GROUP_BY = ("pathway", "condition")
NO_CONDITION = "No condition recorded"
OBSERVATIONAL_NOTE = (
    "Observational clinic data: patients were not randomised and there is no control "
    "group. Rates count every patient who started a series (intention to treat); a "
    "missing reassessment counts as no response."
)
PATHWAY_LABELS = dict(Pathway.choices)


class SqliteMedian:
    """The median on SQLite, defined as PostgreSQL's ``percentile_cont(0.5)`` (the mean of
    the two middle values), registered on each connection in ``apps.py``."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2


def _x10(name: str) -> Any:
    return Round(Cast(name, FloatField()) * 10)


def _condition_key() -> Any:
    def primary(category: str) -> Subquery:
        return Subquery(
            ConditionEntry.objects.filter(
                evaluation=OuterRef("evaluation_id"), category=category, is_primary=True
            ).values("display")[:1]
        )

    return Coalesce(
        primary(ConditionEntry.Category.PAIN),
        primary(ConditionEntry.Category.MENTAL_HEALTH),
        Value(NO_CONDITION),
        output_field=CharField(),
    )


def _courses(*, clinics: list[Clinic], date_from: date, date_to: date, group_by: str) -> QuerySet:
    period = Q(pk__in=[])
    for clinic in clinics:
        start, _ = local_day_bounds(date_from, clinic.time_zone)
        _, end = local_day_bounds(date_to, clinic.time_zone)
        period |= Q(clinic_id=clinic.id, first_given__gte=start, first_given__lt=end)
    qs = with_measures(
        Course.objects.filter(phase=Course.Phase.INDUCTION, clinic__in=[c.id for c in clinics])
    ).filter(period)
    key = F("pathway") if group_by == "pathway" else _condition_key()
    return qs.annotate(
        key=key,
        pain_b10=_x10("pain_baseline"),
        pain_c10=_x10("pain_current"),
        phq9_b10=_x10("phq9_baseline"),
        phq9_c10=_x10("phq9_current"),
        pain_pct=Case(
            When(
                pain_baseline__gt=0,
                then=(Cast("pain_current", FloatField()) - Cast("pain_baseline", FloatField()))
                * 100.0
                / Cast("pain_baseline", FloatField()),
            ),
            default=None,
            output_field=FloatField(),
        ),
        mme_delta=Cast("mme_current", FloatField()) - Cast("mme_baseline", FloatField()),
    ).annotate(
        # A fall of at least 30 % (50 %): (b − c) × 10 ≥ 3b (× 2 ≥ b), on scores × 10.
        pain_fall_x10=(F("pain_b10") - F("pain_c10")) * 10,
        pain_b_x3=F("pain_b10") * 3,
        pain_fall_x2=(F("pain_b10") - F("pain_c10")) * 2,
        phq9_fall_x2=(F("phq9_b10") - F("phq9_c10")) * 2,
    )


# Per series, from the inner query (each measure's subquery evaluated once per series):
# the derived figures. Scores × 10 are whole numbers, so the bands compare exactly.
_DERIVED = """
    SELECT key, status, has_adverse_event, pain_baseline, pain_current, phq9_current,
        mme_baseline, mme_current,
        ROUND(CAST(pain_baseline AS DOUBLE PRECISION) * 10) AS pb,
        ROUND(CAST(pain_current AS DOUBLE PRECISION) * 10) AS pc,
        ROUND(CAST(phq9_baseline AS DOUBLE PRECISION) * 10) AS qb,
        ROUND(CAST(phq9_current AS DOUBLE PRECISION) * 10) AS qc,
        CASE WHEN pain_baseline > 0 AND pain_current IS NOT NULL THEN
            (CAST(pain_current AS DOUBLE PRECISION) - CAST(pain_baseline AS DOUBLE PRECISION))
            * 100.0 / CAST(pain_baseline AS DOUBLE PRECISION) END AS pct,
        CAST(mme_current AS DOUBLE PRECISION) - CAST(mme_baseline AS DOUBLE PRECISION)
            AS mme_delta
    FROM ({inner}) AS series
"""

# Aggregate name → SQL over the derived columns ({median} is the vendor's median).
_AGGREGATES: dict[str, str] = {
    "started": "COUNT(*)",
    "series_completed": "SUM(CASE WHEN status IN ({over}) THEN 1 ELSE 0 END)",
    "reassessed": "SUM(CASE WHEN pc IS NOT NULL THEN 1 ELSE 0 END)",
    # A fall of at least 30 %: (b − c) × 10 ≥ 3b; of at least 50 %: (b − c) × 2 ≥ b.
    "responders_30": "SUM(CASE WHEN pb > 0 AND (pb - pc) * 10 >= pb * 3 THEN 1 ELSE 0 END)",
    "responders_50": "SUM(CASE WHEN pb > 0 AND (pb - pc) * 2 >= pb THEN 1 ELSE 0 END)",
    "low_baseline": "SUM(CASE WHEN pb < {low} THEN 1 ELSE 0 END)",
    "median_pain_change_percent": "{median}",
    "phq9_eligible": "SUM(CASE WHEN qb >= {phq9_from} THEN 1 ELSE 0 END)",
    "phq9_responders": (
        "SUM(CASE WHEN qb >= {phq9_from} AND (qb - qc) * 2 >= qb THEN 1 ELSE 0 END)"
    ),
    "phq9_remitted": "SUM(CASE WHEN qb >= {phq9_from} AND qc < {remission} THEN 1 ELSE 0 END)",
    "opioid_users": "SUM(CASE WHEN mme_baseline > 0 THEN 1 ELSE 0 END)",
    "mean_mme_change": "AVG(CASE WHEN mme_baseline > 0 THEN mme_delta END)",
    "opioid_reduced": (
        "SUM(CASE WHEN mme_baseline > 0 AND mme_current < mme_baseline THEN 1 ELSE 0 END)"
    ),
    "dropouts": "SUM(CASE WHEN status = '{stopped}' THEN 1 ELSE 0 END)",
    "adverse_event_series": "SUM(CASE WHEN has_adverse_event THEN 1 ELSE 0 END)",
}
_INNER_COLUMNS = (
    "key",
    "status",
    "has_adverse_event",
    "pain_baseline",
    "pain_current",
    "phq9_baseline",
    "phq9_current",
    "mme_baseline",
    "mme_current",
)


def _aggregate_sql(vendor: str) -> str:
    median = (
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY pct)"
        if vendor == "postgresql"
        else "ketapath_median(pct)"
    )
    # Only our own constants are formatted into the text; values travel as parameters.
    constants = {
        "over": ", ".join(f"'{status}'" for status in SERIES_OVER),
        "low": int(rules.LOW_BASELINE * 10),
        "phq9_from": rules.PHQ9_BASELINE_AT_LEAST * 10,
        "remission": rules.PHQ9_REMISSION_BELOW * 10,
        "stopped": Course.Status.STOPPED,
        "median": median,
    }
    return ", ".join(f"{sql.format(**constants)} AS {name}" for name, sql in _AGGREGATES.items())


def _aggregate(qs: QuerySet, *, grouped: bool) -> list[dict[str, Any]]:
    """One query: the per-series query inside, the aggregates outside (grouped by key)."""
    inner, params = qs.values(*_INNER_COLUMNS).query.sql_with_params()
    derived = _DERIVED.format(inner=inner)
    select = _aggregate_sql(connection.vendor)
    # The text is Django's compiled query and our own constants; values are parameters.
    if grouped:
        sql = f"SELECT key, {select} FROM ({derived}) AS d GROUP BY key ORDER BY key"  # noqa: S608
    else:
        sql = f"SELECT {select} FROM ({derived}) AS d"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class GroupSummary:
    key: str
    label: str
    started: int
    series_completed: int
    reassessed: int
    responders_30: int
    responders_50: int
    low_baseline: int
    median_pain_change_percent: float | None
    phq9_eligible: int
    phq9_responders: int
    phq9_remitted: int
    opioid_users: int
    mean_mme_change: float | None
    opioid_reduced: int
    dropouts: int
    adverse_event_series: int

    @property
    def rate_30(self) -> float | None:
        return _rate(self.responders_30, self.started)

    @property
    def rate_50(self) -> float | None:
        return _rate(self.responders_50, self.started)

    @property
    def ci_30(self) -> tuple[float, float] | None:
        return rules.wilson_interval(self.responders_30, self.started)

    @property
    def ci_50(self) -> tuple[float, float] | None:
        return rules.wilson_interval(self.responders_50, self.started)

    @property
    def rate_30_reassessed(self) -> float | None:
        return _rate(self.responders_30, self.reassessed)

    @property
    def rate_50_reassessed(self) -> float | None:
        return _rate(self.responders_50, self.reassessed)

    @property
    def phq9_response_rate(self) -> float | None:
        return _rate(self.phq9_responders, self.phq9_eligible)

    @property
    def phq9_remission_rate(self) -> float | None:
        return _rate(self.phq9_remitted, self.phq9_eligible)

    @property
    def opioid_reduced_rate(self) -> float | None:
        return _rate(self.opioid_reduced, self.opioid_users)

    @property
    def dropout_rate(self) -> float | None:
        return _rate(self.dropouts, self.started)

    @property
    def adverse_event_rate(self) -> float | None:
        return _rate(self.adverse_event_series, self.started)


@dataclass(frozen=True)
class Summary:
    clinics: list[Clinic]
    date_from: date
    date_to: date
    group_by: str
    groups: list[GroupSummary]
    total: GroupSummary
    note: str = OBSERVATIONAL_NOTE
    computed_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _group(key: str, label: str, row: dict[str, Any]) -> GroupSummary:
    """A group from its aggregated row (SUM over no rows is NULL: a count of 0)."""

    def count(name: str) -> int:
        return int(row.get(name) or 0)

    def number(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(value)

    return GroupSummary(
        key=key,
        label=label,
        started=count("started"),
        series_completed=count("series_completed"),
        reassessed=count("reassessed"),
        responders_30=count("responders_30"),
        responders_50=count("responders_50"),
        low_baseline=count("low_baseline"),
        median_pain_change_percent=number("median_pain_change_percent"),
        phq9_eligible=count("phq9_eligible"),
        phq9_responders=count("phq9_responders"),
        phq9_remitted=count("phq9_remitted"),
        opioid_users=count("opioid_users"),
        mean_mme_change=number("mean_mme_change"),
        opioid_reduced=count("opioid_reduced"),
        dropouts=count("dropouts"),
        adverse_event_series=count("adverse_event_series"),
    )


def outcomes_summary(
    *, clinics: list[Clinic], date_from: date, date_to: date, group_by: str = "pathway"
) -> Summary:
    """The dashboard's groups and their total, in two queries whatever the number of
    patients (the groups come back aggregated from the database)."""
    if group_by not in GROUP_BY:
        raise ValueError(group_by)
    qs = _courses(clinics=clinics, date_from=date_from, date_to=date_to, group_by=group_by)
    rows = _aggregate(qs, grouped=True) if clinics else []
    totals = _aggregate(qs, grouped=False) if clinics else []
    total_row = totals[0] if totals else {}
    groups = [
        _group(
            row["key"],
            str(PATHWAY_LABELS.get(row["key"], row["key"]))
            if group_by == "pathway"
            else row["key"],
            row,
        )
        for row in rows
    ]
    return Summary(
        clinics=clinics,
        date_from=date_from,
        date_to=date_to,
        group_by=group_by,
        groups=groups,
        total=_group("all", "All series", total_row),
    )


def series_list(*, clinics: list[Clinic], date_from: date, date_to: date) -> QuerySet[Course]:
    """The series behind the figures at the user's own sites, latest first dose first, each
    with its measures (patient-level detail: never for sites seen as aggregates only)."""
    if not clinics:
        return Course.objects.none()
    return (
        _courses(clinics=clinics, date_from=date_from, date_to=date_to, group_by="condition")
        .select_related("patient", "clinic", "protocol", "outcome_decision")
        .order_by("-first_given", "id")
    )


def outcome_sites(user: User) -> tuple[list[Clinic], set[Any]]:
    """The sites whose aggregates the user may see and, of those, their own sites (where
    patient-level detail is allowed). A medical director sees every site of their
    organisation, aggregates only outside their own (DESIGN §10)."""
    own = clinics_where(user, Capability.OUTCOMES_READ)
    organisations = Membership.objects.filter(
        user=user, active=True, role=Role.MEDICAL_DIRECTOR, clinic__active=True
    ).values("clinic__organization_id")
    if (
        own
        and Membership.objects.filter(
            user=user, active=True, role=Role.MEDICAL_DIRECTOR, clinic_id__in=own
        ).exists()
    ):
        sites = Clinic.objects.filter(organization_id__in=organisations, active=True)
    else:
        sites = Clinic.objects.filter(id__in=own)
    return list(sites.order_by("name")), own


def as_decimal(value: float | None, places: str = "0.1") -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal(places))
