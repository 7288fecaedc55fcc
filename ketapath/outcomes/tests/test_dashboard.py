"""The outcomes dashboard: intention-to-treat counting, band edges, the median, MME,
drop-outs and adverse events, computed in the database in a fixed number of queries."""

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.outcomes.dashboard import outcomes_summary
from ketapath.outcomes.rules import wilson_interval
from ketapath.outcomes.tests.conftest import T0, dose, mme, respond
from ketapath.patients.models import Patient
from ketapath.scheduling.models import Course
from ketapath.treatments.models import AdverseEvent, TreatmentSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def clone(course: Course) -> Callable[..., Course]:
    """More courses like ``course`` (same evaluation and template), one per new patient."""

    def build(patient: Patient, **fields: object) -> Course:
        return Course.objects.create(
            patient=patient,
            clinic=course.clinic,
            evaluation=course.evaluation,
            protocol=course.protocol,
            pathway=course.pathway,
            ordered_mg_per_kg=course.ordered_mg_per_kg,
            ordered_by=course.ordered_by,
            ordered_at=course.ordered_at,
            **fields,
        )

    return build


def _series(
    course: Course,
    *,
    nurse: User,
    prescriber: User,
    start: datetime,
    doses: int = 3,
    baseline: int | None = 8,
    current: int | None = None,
    status: str = Course.Status.AWAITING_REASSESSMENT,
) -> Course:
    for n in range(doses):
        dose(course, start + timedelta(days=2 * n), nurse=nurse, prescriber=prescriber)
    Course.objects.filter(pk=course.pk).update(status=status)
    last = start + timedelta(days=2 * (doses - 1))
    if baseline is not None:
        respond(course.patient, "pain-nrs", baseline, start - timedelta(days=1))
    if current is not None:
        due = last + timedelta(days=course.protocol.reassessment_days)
        respond(course.patient, "pain-nrs", current, due)
    course.refresh_from_db()
    return course


def _summary(site: Clinic, group_by: str = "pathway") -> object:
    today = local_today(site.time_zone)
    return outcomes_summary(
        clinics=[site],
        date_from=today - timedelta(days=365),
        date_to=today,
        group_by=group_by,
    )


def test_intention_to_treat_and_band_edges(
    course: Course,
    clone: Callable[..., Course],
    make_patient: Callable[..., Patient],
    nurse: User,
    prescriber: User,
    site: Clinic,
) -> None:
    kw = {"nurse": nurse, "prescriber": prescriber, "start": T0}
    # 10 → 5: exactly 50 %, substantial (counts at both edges).
    _series(course, baseline=10, current=5, **kw)
    # 10 → 7: exactly 30 %, moderate.
    _series(clone(make_patient(given_name="Ann")), baseline=10, current=7, **kw)
    # 10 → 8: 20 %, minimal — not a responder.
    _series(clone(make_patient(given_name="Ben")), baseline=10, current=8, **kw)
    # 7 → 5: 28.6 %, not a responder; 7 → 4 is 42.9 %.
    _series(clone(make_patient(given_name="Cal")), baseline=7, current=4, **kw)
    # Series complete, never reassessed: counts as no response.
    _series(clone(make_patient(given_name="Dee")), baseline=9, current=None, **kw)
    # Dropped out after one dose.
    _series(
        clone(make_patient(given_name="Eve")),
        doses=1,
        baseline=6,
        status=Course.Status.STOPPED,
        **kw,
    )
    # Not started: no dose, not counted at all.
    clone(make_patient(given_name="Fay"))
    summary = _summary(site)
    (group,) = summary.groups
    assert group.key == "PAIN_SERIES"
    assert group.started == 6
    assert group.series_completed == 5
    assert group.reassessed == 4
    assert group.responders_30 == 3  # 50 %, 30 % and 42.9 %
    assert group.responders_50 == 1
    assert group.rate_30 == pytest.approx(3 / 6)
    assert group.rate_30_reassessed == pytest.approx(3 / 4)
    assert group.ci_30 == pytest.approx(wilson_interval(3, 6))
    assert group.dropouts == 1 and group.dropout_rate == pytest.approx(1 / 6)
    # Changes −50, −30, −20, −42.857…: median of four = mean of −42.857 and −30.
    assert group.median_pain_change_percent == pytest.approx((-300 / 7 - 30) / 2)
    assert summary.total.started == 6


def test_zero_baseline_is_never_a_responder_and_median_of_odd_count(
    course: Course,
    clone: Callable[..., Course],
    make_patient: Callable[..., Patient],
    nurse: User,
    prescriber: User,
    site: Clinic,
) -> None:
    kw = {"nurse": nurse, "prescriber": prescriber, "start": T0}
    _series(course, baseline=0, current=0, **kw)
    _series(clone(make_patient(given_name="Gil")), baseline=6, current=3, **kw)
    _series(clone(make_patient(given_name="Hal")), baseline=4, current=5, **kw)
    _series(clone(make_patient(given_name="Ida")), baseline=8, current=8, **kw)
    (group,) = _summary(site).groups
    assert group.reassessed == 4
    assert group.responders_30 == 1
    assert group.low_baseline == 1
    # −50, +25, 0 (the zero baseline has no percentage): the median is 0.
    assert group.median_pain_change_percent == pytest.approx(0)


def test_phq9_mme_and_adverse_events(
    course: Course,
    clone: Callable[..., Course],
    make_patient: Callable[..., Patient],
    nurse: User,
    prescriber: User,
    site: Clinic,
) -> None:
    kw = {"nurse": nurse, "prescriber": prescriber, "start": T0}
    first = _series(course, baseline=8, current=4, **kw)
    second = _series(clone(make_patient(given_name="Jo")), baseline=8, current=8, **kw)
    third = _series(clone(make_patient(given_name="Kim")), baseline=8, current=None, **kw)
    due = T0 + timedelta(days=4 + course.protocol.reassessment_days)
    # PHQ-9: 20 → 4 (response and remission); 12 → 7 (neither); 8 → 2 (baseline < 10).
    for c, before, after in ((first, 20, 4), (second, 12, 7), (third, 8, 2)):
        respond(c.patient, "phq-9", before, T0 - timedelta(days=3))
        respond(c.patient, "phq-9", after, due)
    # MME: 60 → 30 (reduced), 40 → 0 (stopped); the third takes no opioid.
    mme(first.patient, T0 - timedelta(days=10), 60, by=prescriber)
    mme(first.patient, due - timedelta(days=2), 30, by=prescriber)
    mme(second.patient, T0 - timedelta(days=10), 40, by=prescriber)
    mme(second.patient, due - timedelta(days=2), 0, by=prescriber)
    session = TreatmentSession.objects.filter(course=first).first()
    assert session is not None
    AdverseEvent.objects.create(
        session=session,
        kind=AdverseEvent.Kind.NAUSEA,
        severity=AdverseEvent.Severity.MILD,
        onset=session.given_at or timezone.now(),
        recorded_by=nurse,
    )
    (group,) = _summary(site).groups
    assert group.phq9_eligible == 2
    assert group.phq9_responders == 1 and group.phq9_remitted == 1
    assert group.phq9_response_rate == pytest.approx(0.5)
    assert group.opioid_users == 2 and group.opioid_reduced == 2
    assert group.mean_mme_change == pytest.approx(-35)
    assert group.adverse_event_series == 1
    assert group.adverse_event_rate == pytest.approx(1 / 3)


def test_period_and_group_by_condition(
    course: Course,
    clone: Callable[..., Course],
    make_patient: Callable[..., Patient],
    nurse: User,
    prescriber: User,
    site: Clinic,
) -> None:
    _series(course, nurse=nurse, prescriber=prescriber, start=T0, baseline=8, current=3)
    old = clone(make_patient(given_name="Lou"))
    _series(old, nurse=nurse, prescriber=prescriber, start=T0 - timedelta(days=400))
    summary = _summary(site, group_by="condition")
    assert [g.started for g in summary.groups] == [1]
    primary = course.evaluation.conditions.get(category="pain", is_primary=True)
    assert summary.groups[0].key == primary.display
    today = local_today(site.time_zone)
    narrow = outcomes_summary(clinics=[site], date_from=today, date_to=today, group_by="pathway")
    assert narrow.groups == [] and narrow.total.started == 0


def test_query_count_does_not_grow_with_patients(
    course: Course,
    clone: Callable[..., Course],
    make_patient: Callable[..., Patient],
    nurse: User,
    prescriber: User,
    site: Clinic,
) -> None:
    kw = {"nurse": nurse, "prescriber": prescriber, "start": T0}
    _series(course, baseline=8, current=3, **kw)
    with CaptureQueriesContext(connection) as few:
        _summary(site)
    for n in range(6):
        c = _series(clone(make_patient(given_name=f"Pat{n}")), baseline=8, current=n, **kw)
        mme(c.patient, T0 - timedelta(days=5), Decimal(20 + n), by=prescriber)
    with CaptureQueriesContext(connection) as many:
        summary = _summary(site)
    assert summary.total.started == 7
    assert len(many) == len(few) == 2
