"""The demo's twelve months of history: series started across the year, charted and signed
with a balanced ledger, reassessed with a spread of outcomes (not only responders),
drop-outs, decisions of every kind, opioid doses that change, and diaries."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from ketapath.chart.demo_history import KETAMINE_LOT, history_patients
from ketapath.clinics.models import Organization
from ketapath.core.capabilities import Capability
from ketapath.medications.models import Medication, MmeSnapshot
from ketapath.observations.models import DiaryEntry
from ketapath.outcomes.models import CourseDecision
from ketapath.outcomes.rules import PainCategory
from ketapath.outcomes.selectors import Reassessment, course_reassessment
from ketapath.patients.models import Pathway, Patient
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import LedgerEntry, Vial
from ketapath.questionnaires.models import Response
from ketapath.scheduling.models import Course
from ketapath.treatments.models import AdverseEvent, TreatmentSession

pytestmark = pytest.mark.django_db

RESPONDED = {PainCategory.SUBSTANTIAL, PainCategory.MODERATE}
DID_NOT = {PainCategory.MINIMAL, PainCategory.NONE, PainCategory.WORSE}


def history() -> list[Patient]:
    return list(history_patients(Organization.objects.get()))


def induction_reassessments() -> list[Reassessment]:
    courses = Course.objects.filter(
        patient__in=history(), phase=Course.Phase.INDUCTION
    ).select_related("clinic", "protocol", "patient")
    return [course_reassessment(course=c) for c in courses]


def test_thirty_to_forty_five_new_patients_at_both_sites(seeded: None) -> None:
    patients = history()

    assert 30 <= len(patients) <= 45
    assert {p.preferred_clinic.name for p in patients} == {
        "Denver Ketamine Clinic",
        "Chicago Ketamine Clinic",
    }
    everyone = list(Patient.objects.all())
    names = [(p.given_name, p.family_name) for p in everyone]
    assert len(set(names)) == len(names)
    assert len({p.phone for p in everyone}) == len(everyone)
    assert {p.pathway for p in patients} == {
        Pathway.PAIN_SERIES,
        Pathway.MENTAL_HEALTH_PRIMARY,
        Pathway.BEHAVIORAL_HEALTH,
    }


def test_first_doses_span_at_least_ten_of_the_last_twelve_months(seeded: None) -> None:
    now = timezone.now()
    firsts = [r.first_given for r in induction_reassessments() if r.first_given is not None]

    assert all(now - timedelta(days=366) < f < now for f in firsts)
    months = {(f.year, f.month) for f in firsts}
    assert len(months) >= 10


def test_signed_history_sessions_balance_and_carry_their_own_times(seeded: None) -> None:
    sessions = TreatmentSession.objects.filter(patient__in=history())
    signed = sessions.filter(status=TreatmentSession.Status.SIGNED)

    assert signed.count() >= 60
    assert sessions.filter(status=TreatmentSession.Status.ABORTED).exists()
    for session in signed.select_related("draw_entry"):
        assert session.draw_entry is not None
        entry = LedgerEntry.objects.prefetch_related("outcomes__reversed_by").get(
            id=session.draw_entry.id
        )
        assert ledger.draw_account(entry).balanced
        assert entry.at.date() == session.given_at.date()
        assert session.opened_at < session.given_at < session.signed_at
        assert abs(session.created_at - session.opened_at) < timedelta(hours=1)
    # Every vial the history received was used up or its rest wasted, so none is held at
    # the day's count.
    lots = Q()
    for prefix in KETAMINE_LOT.values():
        lots |= Q(receipt__lot__startswith=prefix)
    history_vials = Vial.objects.filter(lots)
    assert history_vials.exists()
    assert not history_vials.filter(balance_ml__gt=0).exists()
    kinds = set(
        AdverseEvent.objects.filter(session__patient__in=history()).values_list("kind", flat=True)
    )
    assert {
        AdverseEvent.Kind.NAUSEA,
        AdverseEvent.Kind.HYPERTENSION,
        AdverseEvent.Kind.EMERGENCE,
    } <= kinds


def test_outcomes_spread_responders_and_non_responders(seeded: None) -> None:
    reassessed = [r for r in induction_reassessments() if r.pain is not None]
    categories = Counter(r.pain.category for r in reassessed if r.pain)

    assert len(reassessed) >= 15
    responders = sum(categories[c] for c in RESPONDED)
    assert 0.35 <= responders / len(reassessed) <= 0.6
    assert 0.15 <= categories[PainCategory.SUBSTANTIAL] / len(reassessed) <= 0.35
    assert sum(categories[c] for c in DID_NOT) >= 5
    assert categories[PainCategory.WORSE] >= 1
    # Baselines come before the first dose, reassessments from the reassessment window.
    for r in reassessed:
        pair = r.measures["pain-nrs"]
        assert pair.baseline_at is not None and r.first_given is not None
        assert pair.baseline_at < r.first_given
        assert r.window is not None and pair.current_at is not None
        assert r.window[0] <= pair.current_at < r.window[1]


def test_some_series_are_never_reassessed(seeded: None) -> None:
    completed = [r for r in induction_reassessments() if r.series_completed]

    assert any(not r.reassessed for r in completed)


def test_mental_health_pathway_has_phq9_responses_and_remissions(seeded: None) -> None:
    outcomes = [
        r.phq9
        for r in induction_reassessments()
        if r.course.pathway == Pathway.MENTAL_HEALTH_PRIMARY and r.phq9 is not None
    ]

    assert len(outcomes) >= 4
    assert any(o.response for o in outcomes)
    assert any(o.response is False for o in outcomes)
    assert any(o.remission for o in outcomes)


def test_drop_outs_and_decisions_of_every_kind(seeded: None) -> None:
    decisions = CourseDecision.objects.filter(course__patient__in=history()).select_related(
        "course", "decided_by"
    )

    assert {d.decision for d in decisions} == set(CourseDecision.Decision.values)
    dropped = [d for d in decisions if not d.series_completed]
    inductions = Course.objects.filter(patient__in=history(), phase=Course.Phase.INDUCTION)
    assert 0.08 <= len(dropped) / inductions.count() <= 0.2
    assert all(d.course.status == Course.Status.STOPPED and d.rationale for d in dropped)
    for decision in decisions:
        assert decision.decided_by.can(Capability.COURSE_ORDER, decision.course.clinic_id)
        assert decision.decided_at < timezone.now()
    continued = [d for d in decisions if d.decision == CourseDecision.Decision.CONTINUE]
    assert all(d.benefit and d.continuation_id for d in continued)
    # Some continuation sessions were charted too.
    assert TreatmentSession.objects.filter(
        course__phase=Course.Phase.CONTINUATION,
        patient__in=history(),
        status=TreatmentSession.Status.SIGNED,
    ).exists()
    # Most responders continue; non-responders stop or switch to behavioral health.
    responders = [
        r
        for r in induction_reassessments()
        if r.decision is not None and r.pain is not None and r.pain.category in RESPONDED
    ]
    assert (
        sum(r.decision.decision == "continue" for r in responders if r.decision)
        > len(responders) / 2
    )
    switched = [d for d in decisions if d.decision == CourseDecision.Decision.BEHAVIORAL_HEALTH]
    assert all(d.course.patient.pathway == Pathway.BEHAVIORAL_HEALTH for d in switched)


def test_a_couple_of_recent_series_await_the_decision(seeded: None) -> None:
    waiting = Course.objects.filter(
        patient__in=history(),
        phase=Course.Phase.INDUCTION,
        status=Course.Status.AWAITING_REASSESSMENT,
    )

    assert 1 <= waiting.count() <= 3
    assert all(not CourseDecision.objects.filter(course=c).exists() for c in waiting)


def test_opioid_doses_fall_stop_stay_and_rise(seeded: None) -> None:
    changes = [r.mme_change for r in induction_reassessments() if r.mme_change is not None]
    on_opioids = [r for r in induction_reassessments() if (r.mme_baseline or 0) > 0]

    assert any(c < 0 for c in changes)
    assert any(c > 0 for c in changes)
    assert any(c == 0 for c in changes)
    assert 0.2 <= len(on_opioids) / max(1, len(induction_reassessments())) <= 0.5
    stopped = Medication.objects.filter(patient__in=history(), opioid_key__gt="").exclude(
        stop_date=None
    )
    assert stopped.exists()
    # Snapshots carry the day of each change, not the day of seeding.
    snapshots = MmeSnapshot.objects.filter(patient__in=history())
    assert snapshots.filter(computed_at__lt=timezone.now() - timedelta(days=90)).exists()


def test_questionnaires_before_sessions_and_diaries(seeded: None) -> None:
    patients = history()
    before = Response.objects.filter(patient__in=patients, context=Response.Context.PRE_SESSION)
    again = Response.objects.filter(patient__in=patients, context=Response.Context.REASSESSMENT)

    assert before.filter(instrument="pain-nrs").count() >= 50
    assert before.filter(instrument="peg").exists()
    assert again.filter(instrument="pain-nrs").count() >= 15
    phq9 = Response.objects.filter(patient__in=patients, instrument="phq-9")
    assert all(r.answers.get("9") == 0 for r in phq9)
    diaries = DiaryEntry.objects.filter(patient__in=patients)
    assert diaries.values("patient").distinct().count() >= 5
    assert all(0 <= d.pain <= 10 for d in diaries)
