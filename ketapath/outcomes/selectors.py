"""Reads of outcomes: the reassessment of a course and the measures behind it (issue 9).

One definition serves the single course and the clinic dashboard (``dashboard.py``): every
figure is a subquery annotation on the course, so both read the same baseline and the same
reassessment value, computed in the database.

- **Baseline** (clinical.md §2.3: "always compute percentage change from the baseline
  before treatment 1"): the last complete response of the measure collected before the
  first dose of the series. For a continuation course the series is the induction course
  it continues, so the baseline stays the one before treatment 1.
- **Reassessment** ("current"): the first complete response collected from
  ``REASSESSMENT_EARLY_DAYS`` before the due date (the last dose plus the template's
  reassessment days) up to ``REASSESSMENT_LATE_DAYS`` after it. A rating taken just after a
  dose never counts: post-session responses are excluded and the window opens days after
  the last dose. The window's width is a workflow choice, not a published figure.
- **MME** (clinical.md §3): the daily MME of the last snapshot at or before the first dose,
  and at or before the reassessment (or the window's end, or now, for a course without
  one: the last figure on record). Reported, never a target.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import (
    DateTimeField,
    Exists,
    F,
    Func,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Least, Now

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinics_where
from ketapath.core.capabilities import Capability
from ketapath.medications.models import MmeSnapshot
from ketapath.outcomes import rules
from ketapath.outcomes.models import CourseDecision
from ketapath.patients.models import Pathway
from ketapath.questionnaires.models import Response
from ketapath.scheduling import measurement
from ketapath.scheduling.models import Course
from ketapath.treatments.models import AdverseEvent, TreatmentSession

# A reassessment answered up to three days early counts, as an answer at the clinic counts
# for any scheduled item (``measurement.EARLY``); one answered weeks late is no longer the
# reassessment of this series (workflow choices, no published figure).
REASSESSMENT_EARLY_DAYS = measurement.EARLY.days
REASSESSMENT_LATE_DAYS = 28

# Measure code → annotation prefix. "pain-nrs" is the 0–10 average pain over the past week
# (clinical.md §2.1), never a single "pain now" rating taken at a session.
MEASURES: dict[str, str] = {
    "pain-nrs": "pain",
    "peg": "peg",
    "phq-9": "phq9",
    "pcl-5": "pcl5",
    "gad-7": "gad7",
}
DAY = timedelta(days=1)

# Courses whose series is over: reassessment is due or a decision followed it.
SERIES_OVER = (
    Course.Status.AWAITING_REASSESSMENT,
    Course.Status.CONTINUED,
    Course.Status.COMPLETED,
)


class PlusDays(Func):
    """A datetime plus a whole number of days, both expressions, on PostgreSQL and SQLite
    (where Django keeps datetimes as text and adds durations with its own function)."""

    output_field = DateTimeField()

    def __init__(self, moment: Any, days: Any) -> None:
        super().__init__(moment, days)

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, list[Any]]:
        moment, moment_params = compiler.compile(self.source_expressions[0])
        days, days_params = compiler.compile(self.source_expressions[1])
        return f"({moment} + ({days}) * INTERVAL '1 day')", [*moment_params, *days_params]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        moment, moment_params = compiler.compile(self.source_expressions[0])
        days, days_params = compiler.compile(self.source_expressions[1])
        sql = f"django_format_dtdelta('+', {moment}, ({days}) * 86400000000)"
        return sql, [*moment_params, *days_params]


def _dosed() -> QuerySet[TreatmentSession]:
    return TreatmentSession.objects.filter(course=OuterRef("pk"), given_at__isnull=False)


def _responses(instrument: str) -> QuerySet[Response]:
    return Response.objects.filter(
        patient=OuterRef("patient_id"),
        instrument=instrument,
        complete=True,
        total__isnull=False,
    ).exclude(context=Response.Context.POST_SESSION)


def _baseline(instrument: str, field: str) -> Subquery:
    return Subquery(
        _responses(instrument)
        .filter(collected_at__lt=OuterRef("anchor_at"))
        .order_by("-collected_at", "-created_at")
        .values(field)[:1]
    )


def _current(instrument: str, field: str) -> Subquery:
    return Subquery(
        _responses(instrument)
        .filter(collected_at__gte=OuterRef("window_from"), collected_at__lt=OuterRef("window_to"))
        .order_by("collected_at", "created_at")
        .values(field)[:1]
    )


def _mme_at(moment: str) -> Subquery:
    return Subquery(
        MmeSnapshot.objects.filter(
            patient=OuterRef("patient_id"), computed_at__lte=OuterRef(moment)
        )
        .order_by("-computed_at", "-created_at")
        .values("total_mme")[:1]
    )


def with_measures(
    courses: QuerySet[Course], *, anchor_at: datetime | None = None
) -> QuerySet[Course]:
    """``courses`` annotated with the first and last dose, the reassessment window, each
    measure's baseline and reassessment value (``<prefix>_baseline``, ``<prefix>_current``
    and their times), MME at both, whether an adverse event was recorded and the
    milligrams given. ``anchor_at`` replaces the course's own first dose as the baseline's
    bound (a continuation's series began with its induction course)."""
    qs = courses.annotate(
        first_given=Subquery(_dosed().order_by("given_at").values("given_at")[:1]),
        last_given=Subquery(_dosed().order_by("-given_at").values("given_at")[:1]),
    ).annotate(
        anchor_at=Value(anchor_at, output_field=DateTimeField())
        if anchor_at is not None
        else F("first_given"),
        window_from=PlusDays(
            F("last_given"), F("protocol__reassessment_days") - REASSESSMENT_EARLY_DAYS
        ),
    )
    qs = qs.annotate(
        window_to=PlusDays(F("window_from"), REASSESSMENT_EARLY_DAYS + REASSESSMENT_LATE_DAYS)
    )
    measures: dict[str, Any] = {}
    for code, prefix in MEASURES.items():
        measures[f"{prefix}_baseline"] = _baseline(code, "total")
        measures[f"{prefix}_baseline_at"] = _baseline(code, "collected_at")
        measures[f"{prefix}_current"] = _current(code, "total")
        measures[f"{prefix}_current_at"] = _current(code, "collected_at")
    qs = qs.annotate(**measures)
    qs = qs.annotate(
        reassessed_at=Coalesce("pain_current_at", "peg_current_at", "phq9_current_at"),
    ).annotate(
        mme_moment=Coalesce("reassessed_at", Least("window_to", Now()), Now()),
    )
    return qs.annotate(
        mme_baseline=_mme_at("anchor_at"),
        mme_current=_mme_at("mme_moment"),
        has_adverse_event=Exists(AdverseEvent.objects.filter(session__course=OuterRef("pk"))),
        given_mg=Subquery(
            TreatmentSession.objects.filter(course=OuterRef("pk"), amount_mg__isnull=False)
            .values("course")
            .annotate(total=Sum("amount_mg"))
            .values("total")[:1]
        ),
    )


def course_chain(course: Course) -> list[Course]:
    """The course and the courses it continues, the induction course first (one query per
    step back; a chain is a handful of courses)."""
    chain = [course]
    while chain[0].parent_id is not None:
        chain.insert(0, Course.objects.select_related("protocol").get(id=chain[0].parent_id))
    return chain


@dataclass(frozen=True)
class Exposure:
    """Ketamine given across a course and the courses before it."""

    sessions: int
    mg: Decimal


def exposure_of(chain: list[Course]) -> Exposure:
    row = TreatmentSession.objects.filter(
        course__in=[c.id for c in chain], given_at__isnull=False
    ).aggregate(total=Sum("amount_mg"), count=Coalesce(Sum(Value(1)), 0))
    return Exposure(int(row["count"] or 0), row["total"] or Decimal(0))


@dataclass(frozen=True)
class MeasurePair:
    code: str
    baseline: Decimal | None
    baseline_at: datetime | None
    current: Decimal | None
    current_at: datetime | None

    @property
    def change(self) -> rules.Change | None:
        if self.baseline is None or self.current is None:
            return None
        return rules.change(self.baseline, self.current)


@dataclass(frozen=True)
class Reassessment:
    """A course's reassessment: the measures, the rules' verdicts and the proposal."""

    course: Course
    chain: list[Course]
    first_given: datetime | None
    last_given: datetime | None
    due_on: date | None
    window: tuple[datetime, datetime] | None
    measures: dict[str, MeasurePair]
    mme_baseline: Decimal | None
    mme_current: Decimal | None
    pain: rules.PainChange | None
    peg: rules.PainChange | None
    phq9: rules.Phq9Outcome | None
    pcl5_meaningful: bool | None
    series_completed: bool
    recommendation: rules.Recommendation
    exposure: Exposure
    decision: CourseDecision | None

    @property
    def mme_change(self) -> Decimal | None:
        if self.mme_baseline is None or self.mme_current is None:
            return None
        return self.mme_current - self.mme_baseline

    @property
    def reassessed(self) -> bool:
        return any(pair.current is not None for pair in self.measures.values())


def course_reassessment(*, course: Course) -> Reassessment:
    """The reassessment of ``course`` as it stands now (a fixed handful of queries)."""
    chain = course_chain(course)
    anchor = None
    if len(chain) > 1:
        anchor = (
            TreatmentSession.objects.filter(course=chain[0], given_at__isnull=False)
            .order_by("given_at")
            .values_list("given_at", flat=True)
            .first()
        )
    row: Any = with_measures(Course.objects.filter(id=course.id), anchor_at=anchor).get()
    measures = {
        code: MeasurePair(
            code,
            getattr(row, f"{prefix}_baseline"),
            getattr(row, f"{prefix}_baseline_at"),
            getattr(row, f"{prefix}_current"),
            getattr(row, f"{prefix}_current_at"),
        )
        for code, prefix in MEASURES.items()
    }

    def both(code: str) -> tuple[Decimal, Decimal] | None:
        pair = measures[code]
        if pair.baseline is None or pair.current is None:
            return None
        return pair.baseline, pair.current

    pain = both("pain-nrs")
    peg = both("peg")
    phq9 = both("phq-9")
    pcl5 = both("pcl-5")
    pain_change = rules.pain_change(*pain) if pain else None
    phq9_outcome = rules.phq9_outcome(*phq9) if phq9 else None
    decision = CourseDecision.objects.filter(course=course).select_related("decided_by").first()
    series_completed = course.status in SERIES_OVER or bool(
        decision is not None and decision.series_completed
    )
    zone = ZoneInfo(course.clinic.time_zone)
    due_on = None
    window = None
    if row.last_given is not None and row.window_from is not None:
        due_on = row.last_given.astimezone(zone).date() + timedelta(
            days=course.protocol.reassessment_days
        )
        window = (row.window_from, row.window_to)
    return Reassessment(
        course=course,
        chain=chain,
        first_given=row.first_given,
        last_given=row.last_given,
        due_on=due_on,
        window=window,
        measures=measures,
        mme_baseline=row.mme_baseline,
        mme_current=row.mme_current,
        pain=pain_change,
        peg=rules.pain_change(*peg) if peg else None,
        phq9=phq9_outcome,
        pcl5_meaningful=rules.pcl5_meaningful(*pcl5) if pcl5 else None,
        series_completed=series_completed,
        recommendation=rules.recommend(
            mental_health=course.pathway == Pathway.MENTAL_HEALTH_PRIMARY,
            series_completed=series_completed,
            pain=pain_change,
            phq9=phq9_outcome,
        ),
        exposure=exposure_of(chain),
        decision=decision,
    )


def course_for_user(*, user: User, course_id: UUID) -> Course | None:
    """The course, when the user reads patients at its site; else None (→ 404)."""
    return (
        Course.objects.select_related("patient", "clinic", "protocol", "ordered_by", "evaluation")
        .filter(id=course_id, clinic_id__in=clinics_where(user, Capability.PATIENT_READ))
        .first()
    )


# --- Courses awaiting the prescriber's decision ---------------------------------------------


class DueState:
    """Where a course awaiting reassessment stands (``due_state``)."""

    DECIDE = "decide"  # the reassessment measures are in: the prescriber decides
    OPEN = "open"  # the window is open, the measures are not in yet
    NOT_YET = "not_yet"  # the window has not opened
    OVERDUE = "overdue"  # the window closed without the measures


@dataclass(frozen=True)
class DueRow:
    course: Course
    state: str
    due_on: date | None
    window_from: date | None
    window_to: date | None


def reassessments_due(*, user: User) -> QuerySet[Course]:
    """Courses awaiting reassessment at the sites where the user sees outcomes, the one due
    first on top; annotated as ``with_measures`` (the window and the reassessment values).
    Read the window and the reassessment only: without each continuation's anchor the
    baseline annotations are from the course's own first dose, not its initial series'."""
    courses = Course.objects.filter(
        status=Course.Status.AWAITING_REASSESSMENT,
        clinic_id__in=clinics_where(user, Capability.OUTCOMES_READ),
    ).select_related("patient", "clinic", "protocol")
    return with_measures(courses).order_by(F("window_from").asc(nulls_last=True), "id")


def due_state(course: Course, *, now: datetime) -> DueRow:
    """Where ``course`` (annotated by ``reassessments_due``) stands at ``now``, with its
    dates in the clinic's time zone."""
    zone = ZoneInfo(course.clinic.time_zone)
    window_from: datetime | None = getattr(course, "window_from", None)
    window_to: datetime | None = getattr(course, "window_to", None)
    last_given: datetime | None = getattr(course, "last_given", None)
    due_on = (
        (last_given + timedelta(days=course.protocol.reassessment_days)).astimezone(zone).date()
        if last_given
        else None
    )
    if getattr(course, "reassessed_at", None) is not None:
        state = DueState.DECIDE
    elif window_from is None or window_to is None:
        state = DueState.NOT_YET
    elif now > window_to:
        state = DueState.OVERDUE
    elif now >= window_from:
        state = DueState.OPEN
    else:
        state = DueState.NOT_YET
    return DueRow(
        course=course,
        state=state,
        due_on=due_on,
        window_from=window_from.astimezone(zone).date() if window_from else None,
        window_to=window_to.astimezone(zone).date() if window_to else None,
    )
