"""The reassessment of a course: which responses are the baseline and the reassessment,
the change and category, MME, the proposal, and the prescriber's decision."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.notifications.models import Message
from ketapath.outcomes import services
from ketapath.outcomes.models import CourseDecision
from ketapath.outcomes.rules import PainCategory, Proposal
from ketapath.outcomes.selectors import (
    REASSESSMENT_EARLY_DAYS,
    REASSESSMENT_LATE_DAYS,
    course_reassessment,
)
from ketapath.outcomes.tests.conftest import T0, dose, mme, respond
from ketapath.patients.models import Pathway
from ketapath.questionnaires.models import Response
from ketapath.scheduling.models import Appointment, Course

pytestmark = pytest.mark.django_db

LAST = T0 + timedelta(days=4)


def due(course: Course) -> timedelta:
    return timedelta(days=course.protocol.reassessment_days)


def test_baseline_is_the_last_rating_before_the_first_dose(
    series: Callable[..., Course],
) -> None:
    course = series()
    patient = course.patient
    respond(patient, "pain-nrs", 9, T0 - timedelta(days=20))
    respond(patient, "pain-nrs", 8, T0 - timedelta(hours=1))
    # After the first dose: never the baseline.
    respond(patient, "pain-nrs", 2, T0 + timedelta(hours=1))
    r = course_reassessment(course=course)
    assert r.measures["pain-nrs"].baseline == Decimal(8)
    assert r.measures["pain-nrs"].baseline_at == T0 - timedelta(hours=1)


def test_current_is_the_reassessment_not_a_rating_just_after_a_dose(
    series: Callable[..., Course],
) -> None:
    course = series()
    patient = course.patient
    respond(patient, "pain-nrs", 8, T0 - timedelta(days=1))
    # Just after the last dose, even as a follow-up: too early for the reassessment.
    respond(patient, "pain-nrs", 1, LAST + timedelta(hours=2))
    respond(
        patient, "pain-nrs", 2, LAST + timedelta(hours=3), context=Response.Context.POST_SESSION
    )
    r = course_reassessment(course=course)
    assert r.measures["pain-nrs"].current is None
    assert r.recommendation.code == Proposal.AWAITING_MEASURES
    respond(patient, "pain-nrs", 5, LAST + due(course), context=Response.Context.REASSESSMENT)
    respond(patient, "pain-nrs", 3, LAST + due(course) + timedelta(days=2))
    r = course_reassessment(course=course)
    assert r.measures["pain-nrs"].current == Decimal(5)
    assert r.pain is not None
    assert r.pain.change.points == Decimal(-3)
    assert r.pain.change.percent == Decimal("-37.5")
    assert r.pain.category == PainCategory.MODERATE
    assert r.recommendation.code == Proposal.CONTINUE


def test_the_reassessment_window_edges(series: Callable[..., Course]) -> None:
    course = series()
    patient = course.patient
    respond(patient, "pain-nrs", 8, T0 - timedelta(days=1))
    opens = LAST + due(course) - timedelta(days=REASSESSMENT_EARLY_DAYS)
    closes = opens + timedelta(days=REASSESSMENT_EARLY_DAYS + REASSESSMENT_LATE_DAYS)
    respond(patient, "pain-nrs", 1, opens - timedelta(seconds=1))
    respond(patient, "pain-nrs", 7, closes)
    assert course_reassessment(course=course).measures["pain-nrs"].current is None
    respond(patient, "pain-nrs", 6, opens)
    assert course_reassessment(course=course).measures["pain-nrs"].current == Decimal(6)


def test_no_percent_from_a_baseline_of_zero_and_a_low_baseline_is_flagged(
    series: Callable[..., Course],
) -> None:
    course = series()
    respond(course.patient, "pain-nrs", 0, T0 - timedelta(days=1))
    respond(course.patient, "pain-nrs", 0, LAST + due(course))
    r = course_reassessment(course=course)
    assert r.pain is not None
    assert r.pain.change.percent is None
    assert r.pain.category == PainCategory.NOT_COMPUTABLE
    assert r.pain.low_baseline
    assert r.recommendation.code == Proposal.STOP


def test_non_responder_is_proposed_stop_and_incomplete_answers_do_not_count(
    series: Callable[..., Course],
) -> None:
    course = series()
    patient = course.patient
    respond(patient, "pain-nrs", 8, T0 - timedelta(days=1))
    respond(patient, "pain-nrs", 1, T0 - timedelta(hours=2), complete=False)
    respond(patient, "pain-nrs", 7, LAST + due(course))
    r = course_reassessment(course=course)
    assert r.measures["pain-nrs"].baseline == Decimal(8)
    assert r.pain is not None and r.pain.category == PainCategory.MINIMAL
    assert r.recommendation.code == Proposal.STOP
    assert "behavioral health" in r.recommendation.reason


def test_mental_health_measures_and_mme(series: Callable[..., Course], prescriber: User) -> None:
    course = series()
    Course.objects.filter(pk=course.pk).update(pathway=Pathway.MENTAL_HEALTH_PRIMARY)
    course.refresh_from_db()
    patient = course.patient
    at = LAST + due(course)
    for code, before, after in (
        ("pain-nrs", 6, 5),
        ("phq-9", 18, 8),
        ("pcl-5", 50, 38),
        ("gad-7", 14, 9),
    ):
        respond(patient, code, before, T0 - timedelta(days=2))
        respond(patient, code, after, at)
    mme(patient, T0 - timedelta(days=30), 60, by=prescriber)
    mme(patient, at - timedelta(days=1), 30, by=prescriber)
    mme(patient, at + timedelta(days=5), 0, by=prescriber)  # after the reassessment
    r = course_reassessment(course=course)
    assert r.phq9 is not None and r.phq9.response is True and r.phq9.remission is False
    assert r.pcl5_meaningful is True
    assert r.measures["gad-7"].change is not None
    assert r.measures["gad-7"].change.points == Decimal(-5)
    assert r.mme_baseline == Decimal(60) and r.mme_current == Decimal(30)
    assert r.mme_change == Decimal(-30)
    # Pain fell 17 % only, but the PHQ-9 response proposes continuing on this pathway.
    assert r.recommendation.code == Proposal.CONTINUE


def test_decision_continue_creates_the_continuation_and_keeps_the_figures(
    series: Callable[..., Course], prescriber: User, nurse: User
) -> None:
    course = series()
    respond(course.patient, "pain-nrs", 8, T0 - timedelta(days=1))
    respond(course.patient, "pain-nrs", 3, LAST + due(course))
    record = services.course_decide(
        user=prescriber,
        course=course,
        decision="continue",
        rationale="Substantial relief lasting two weeks.",
        benefit="Pain 8 → 3; back at work part time.",
    )
    course.refresh_from_db()
    assert course.status == Course.Status.CONTINUED
    assert course.decision == "continue"
    continuation = record.continuation
    assert continuation is not None
    assert continuation.phase == Course.Phase.CONTINUATION
    assert continuation.parent_id == course.id
    assert continuation.status == Course.Status.PLANNED
    assert record.exposure_sessions == 3 and record.exposure_mg == Decimal(126)
    assert record.reassessment["pain_category"] == "substantial"
    assert record.recommendation == "continue"
    assert AuditEvent.objects.filter(object_type="course_decision", object_id=record.id).exists()
    # The continuation's own reassessment keeps the baseline before treatment 1 and counts
    # the exposure of the whole chain.
    dose(continuation, LAST + due(course) + timedelta(days=3), nurse=nurse, prescriber=prescriber)
    r = course_reassessment(course=continuation)
    assert r.measures["pain-nrs"].baseline == Decimal(8)
    assert r.exposure.sessions == 4 and r.exposure.mg == Decimal(168)
    with pytest.raises(Conflict) as twice:
        services.course_decide(
            user=prescriber, course=course, decision="stop", rationale="Changed my mind."
        )
    assert twice.value.code == "already_decided"


def test_decision_rules(series: Callable[..., Course], prescriber: User, nurse: User) -> None:
    course = series()
    with pytest.raises(Forbidden):
        services.course_decide(user=nurse, course=course, decision="stop", rationale="x")
    with pytest.raises(InvalidInput) as bad:
        services.course_decide(user=prescriber, course=course, decision="pause", rationale=" ")
    fields = {e.field: e.rule for e in bad.value.errors}
    assert fields == {
        "decision": services.MESSAGE_DECISION_INVALID,
        "rationale": services.MESSAGE_RATIONALE_REQUIRED,
    }
    with pytest.raises(InvalidInput) as no_benefit:
        services.course_decide(
            user=prescriber, course=course, decision="continue", rationale="Responded."
        )
    assert no_benefit.value.errors[0].field == "benefit"
    assert not CourseDecision.objects.exists()
    assert Course.objects.get(pk=course.pk).status == Course.Status.AWAITING_REASSESSMENT


def test_stop_mid_series_is_a_course_stopped_early(
    course: Course, prescriber: User, nurse: User
) -> None:
    dose(course, T0, nurse=nurse, prescriber=prescriber)
    first = course.appointments.get()
    later = [
        Appointment.objects.create(
            clinic=course.clinic,
            patient=course.patient,
            kind=Appointment.Kind.SESSION,
            course=course,
            sequence=sequence,
            starts_at=timezone.now() + timedelta(days=sequence),
            ends_at=timezone.now() + timedelta(days=sequence, hours=1),
            room=first.room,
            nurse=nurse,
            prescriber=prescriber,
            booked_by=nurse,
        )
        for sequence in (2, 3)
    ]
    Course.objects.filter(pk=course.pk).update(
        status=Course.Status.IN_PROGRESS, flag="No replacement slot for session 2."
    )
    course.refresh_from_db()
    with pytest.raises(Conflict) as early:
        services.course_decide(
            user=prescriber, course=course, decision="continue", rationale="x", benefit="y"
        )
    assert early.value.code == "not_reassessable"
    record = services.course_decide(
        user=prescriber,
        course=course,
        decision="behavioral_health",
        rationale="Could not tolerate the dissociation; prefers therapy.",
    )
    course.refresh_from_db()
    assert course.status == Course.Status.STOPPED
    assert course.flag == ""
    assert record.series_completed is False
    # The sessions still booked are cancelled with the decision as the reason, and the
    # patient is told; the session already given stays as it was.
    for appointment in later:
        appointment.refresh_from_db()
        assert appointment.status == Appointment.Status.CANCELLED
        assert "behavioral health" in appointment.status_reason
    first.refresh_from_db()
    assert first.status == Appointment.Status.COMPLETED
    assert Message.objects.filter(patient=course.patient, kind="appointment_cancelled").count() == 2
    event = AuditEvent.objects.get(object_type="course_decision", object_id=record.id)
    assert sorted(event.detail["cancelled_appointments"]) == sorted(str(a.id) for a in later)
    course.patient.refresh_from_db()
    assert course.patient.pathway == Pathway.BEHAVIORAL_HEALTH


def test_after_the_series_stop_completes_the_course(
    series: Callable[..., Course], prescriber: User
) -> None:
    course = series()
    services.course_decide(
        user=prescriber, course=course, decision="stop", rationale="No meaningful change."
    )
    course.refresh_from_db()
    assert course.status == Course.Status.COMPLETED
