"""Services: recording observations; raising, clearing and escalating safety alerts."""

import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic, ClinicPolicy, Closure, OpeningHours
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.observations import rules, services
from ketapath.observations.models import Observation, SafetyAlert
from ketapath.observations.tests.conftest import GOOD_PLAN, assessment_now
from ketapath.patients.models import Pathway, Patient

DENVER = ZoneInfo("America/Denver")


def test_record_stores_each_measurement_with_code_and_unit(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    taken = timezone.now() - timedelta(minutes=5)
    created = services.observations_record(
        user=nurse,
        patient=patient,
        clinic=site,
        taken_at=taken,
        measurements={"systolic_bp": "128", "diastolic_bp": "82", "body_weight": "81.5"},
    )
    by_code = {o.code: o for o in Observation.objects.filter(patient=patient)}
    assert len(created) == 3
    assert by_code["8480-6"].unit == "mm[Hg]"
    assert by_code["29463-7"].value == Decimal("81.5")
    assert by_code["29463-7"].unit == "kg"
    assert by_code["8462-4"].taken_by == nurse
    event = AuditEvent.objects.get(object_type="observation")
    assert event.patient_id == patient.id
    assert event.action == AuditEvent.Action.CREATE
    # Vitals do not raise alerts in this slice.
    assert not SafetyAlert.objects.exists()


def test_record_refuses_impossible_values_saving_nothing(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.observations_record(
            user=nurse,
            patient=patient,
            clinic=site,
            taken_at=timezone.now(),
            measurements={"heart_rate": "70", "spo2": "101"},
        )
    assert [(e.field, e.rule) for e in exc.value.errors] == [
        ("spo2", rules.message_range(rules.KINDS_BY_KEY["spo2"]))
    ]
    assert not Observation.objects.exists()


def test_record_refuses_future_time_and_bad_context(
    nurse: User, patient: Patient, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.observations_record(
            user=nurse,
            patient=patient,
            clinic=site,
            taken_at=timezone.now() + timedelta(hours=1),
            measurements={"heart_rate": "70"},
            context_kind="party",
        )
    assert {e.field for e in exc.value.errors} == {"taken_at", "context_kind"}


@pytest.mark.parametrize("persona", ["therapist", "front_desk", "biller"])
def test_record_role_refused(
    persona: str, request: pytest.FixtureRequest, patient: Patient, site: Clinic
) -> None:
    user = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        services.observations_record(
            user=user,
            patient=patient,
            clinic=site,
            taken_at=timezone.now(),
            measurements={"heart_rate": "70"},
        )


def test_raise_is_audited_and_joins_caller_transaction(
    patient: Patient, site: Clinic, nurse: User
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        services.safety_alert_raise(
            patient=patient,
            clinic=site,
            kind=SafetyAlert.Kind.PHQ9_ITEM9,
            source_kind="questionnaire_response",
            source_id=uuid.uuid4(),
            summary="Item 9 above zero.",
            user=nurse,
        )
        raise RuntimeError("caller fails after raising")
    assert not SafetyAlert.objects.exists()
    source = uuid.uuid4()
    alert = services.safety_alert_raise(
        patient=patient,
        clinic=site,
        kind=SafetyAlert.Kind.PHQ9_ITEM9,
        source_kind="questionnaire_response",
        source_id=source,
        summary="Item 9 above zero.",
        user=nurse,
    )
    assert alert.status == SafetyAlert.Status.OPEN
    event = AuditEvent.objects.get(object_type="safety_alert", object_id=str(alert.id))
    assert event.action == AuditEvent.Action.CREATE
    assert event.patient_id == patient.id
    assert event.detail["source_id"] == str(source)


def test_prescriber_and_director_clear(
    prescriber: User, director: User, make_alert: Callable[..., SafetyAlert], patient: Patient
) -> None:
    for user in (prescriber, director):
        alert = make_alert(patient)
        cleared = services.safety_alert_clear(
            user=user, alert=alert, assessment=assessment_now(), plan=GOOD_PLAN
        )
        cleared.refresh_from_db()
        assert cleared.status == SafetyAlert.Status.CLEARED
        assert cleared.cleared_by == user
        assert cleared.cleared_at is not None
        assert cleared.assessment["risk_level"] == "low"
        assert cleared.plan == GOOD_PLAN
        event = AuditEvent.objects.filter(
            object_id=str(alert.id), action=AuditEvent.Action.UPDATE
        ).get()
        assert event.detail["change"] == "clear"
        assert event.outcome == AuditEvent.Outcome.SUCCESS


def test_nurse_cannot_clear(nurse: User, alert: SafetyAlert) -> None:
    with pytest.raises(Forbidden) as exc:
        services.safety_alert_clear(
            user=nurse, alert=alert, assessment=assessment_now(), plan=GOOD_PLAN
        )
    assert exc.value.message == services.MESSAGE_CLEAR_ROLE
    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.OPEN
    assert AuditEvent.objects.filter(
        object_id=str(alert.id), outcome=AuditEvent.Outcome.DENIED
    ).exists()


def test_therapist_only_for_behavioral_health(
    therapist: User, make_alert: Callable[..., SafetyAlert], make_patient: Callable[..., Patient]
) -> None:
    pain = make_patient(pathway=Pathway.PAIN_SERIES)
    with pytest.raises(Forbidden):
        services.safety_alert_clear(
            user=therapist, alert=make_alert(pain), assessment=assessment_now(), plan=GOOD_PLAN
        )
    behavioral = make_patient(pathway=Pathway.BEHAVIORAL_HEALTH)
    cleared = services.safety_alert_clear(
        user=therapist, alert=make_alert(behavioral), assessment=assessment_now(), plan=GOOD_PLAN
    )
    assert cleared.status == SafetyAlert.Status.CLEARED


def test_clear_twice_conflicts(prescriber: User, alert: SafetyAlert) -> None:
    services.safety_alert_clear(
        user=prescriber, alert=alert, assessment=assessment_now(), plan=GOOD_PLAN
    )
    with pytest.raises(Conflict):
        services.safety_alert_clear(
            user=prescriber, alert=alert, assessment=assessment_now(), plan=GOOD_PLAN
        )


def test_one_word_plan_and_yesterday_refused(prescriber: User, alert: SafetyAlert) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.safety_alert_clear(
            user=prescriber, alert=alert, assessment=assessment_now(), plan="OK"
        )
    assert [(e.field, e.rule) for e in exc.value.errors] == [("plan", rules.MESSAGE_PLAN_SHORT)]
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    with pytest.raises(InvalidInput) as exc:
        services.safety_alert_clear(
            user=prescriber,
            alert=alert,
            assessment=assessment_now(assessed_at=yesterday),
            plan=GOOD_PLAN,
        )
    assert [(e.field, e.rule) for e in exc.value.errors] == [
        ("assessment.assessed_at", rules.MESSAGE_ASSESSED_AT_NOT_TODAY)
    ]
    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.OPEN


def _local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=DENVER)


def test_escalate_counts_opening_hours(
    site: Clinic, director: User, make_alert: Callable[..., SafetyAlert], patient: Patient
) -> None:
    # Policy: 240 opening minutes. Raised Friday 4 Dec 2026 15:00 (Denver; open 08–17).
    alert = make_alert(patient, raised_at=_local(2026, 12, 4, 15))
    # Friday 15:00 → Monday 09:59 is 120 + 119 minutes: not yet.
    assert services.safety_alerts_escalate(now=_local(2026, 12, 7, 9, 59)) == []
    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.OPEN
    # Monday 10:00: 240 minutes.
    escalated = services.safety_alerts_escalate(now=_local(2026, 12, 7, 10))
    assert [a.id for a in escalated] == [alert.id]
    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.ESCALATED
    assert alert.escalated_at == _local(2026, 12, 7, 10)
    assert alert.escalated_to == director.display_name
    event = AuditEvent.objects.get(object_id=str(alert.id), action=AuditEvent.Action.UPDATE)
    assert event.username == services.ESCALATION_USERNAME
    assert event.detail["change"] == "escalate"
    # Already escalated alerts are not escalated again.
    assert services.safety_alerts_escalate(now=_local(2026, 12, 8, 10)) == []


def test_escalate_skips_closures_and_follows_policy(
    site: Clinic, make_alert: Callable[..., SafetyAlert], patient: Patient, director: User
) -> None:
    ClinicPolicy.objects.create(clinic=site, version=2, alert_escalation_minutes=60)
    Closure.objects.create(
        clinic=site, start_date=_local(2026, 11, 26, 0).date(),
        end_date=_local(2026, 11, 27, 0).date(), reason="Thanksgiving",
    )  # fmt: skip
    alert = make_alert(patient, raised_at=_local(2026, 11, 25, 16, 30))
    # 30 minutes Wednesday; Thursday and Friday closed; weekend closed.
    assert services.safety_alerts_escalate(now=_local(2026, 11, 28, 12)) == []
    assert services.safety_alerts_escalate(now=_local(2026, 11, 30, 8, 29)) == []
    assert [a.id for a in services.safety_alerts_escalate(now=_local(2026, 11, 30, 8, 30))] == [
        alert.id
    ]


def test_escalate_with_no_director_and_weekend_hours(
    site: Clinic, make_alert: Callable[..., SafetyAlert], patient: Patient
) -> None:
    OpeningHours.objects.create(clinic=site, weekday=5, opens=time(9), closes=time(13))
    alert = make_alert(patient, raised_at=_local(2026, 12, 4, 16))
    # Friday 16–17 (60) + Saturday 09–12 (180) = 240.
    assert [a.id for a in services.safety_alerts_escalate(now=_local(2026, 12, 5, 12))] == [
        alert.id
    ]
    alert.refresh_from_db()
    assert alert.escalated_to == ""


def test_cleared_escalated_alert(
    prescriber: User, make_alert: Callable[..., SafetyAlert], patient: Patient
) -> None:
    alert = make_alert(patient, status=SafetyAlert.Status.ESCALATED, escalated_at=timezone.now())
    cleared = services.safety_alert_clear(
        user=prescriber, alert=alert, assessment=assessment_now(), plan=GOOD_PLAN
    )
    assert cleared.status == SafetyAlert.Status.CLEARED


def test_task_runs_escalation(
    make_alert: Callable[..., SafetyAlert], patient: Patient, site: Clinic
) -> None:
    from ketapath.observations.tasks import escalate_safety_alerts

    make_alert(patient, raised_at=timezone.now() - timedelta(days=30))
    assert escalate_safety_alerts.delay().get() == 1


def test_constraint_cleared_needs_clearer(alert: SafetyAlert) -> None:
    from django.db import IntegrityError

    alert.status = SafetyAlert.Status.CLEARED
    with pytest.raises(IntegrityError), transaction.atomic():
        alert.save()
