"""Session services: the readiness gate, opening, the pre-check's hard stops and the
prescriber's override, aborting, and a closed session refusing changes."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.observations.models import Observation, SafetyAlert
from ketapath.observations.services import observations_record
from ketapath.patients.models import ConsentKind
from ketapath.patients.services import consent_withdraw
from ketapath.pharmacy.models import Vial
from ketapath.questionnaires.services import response_record
from ketapath.scheduling.models import Appointment
from ketapath.treatments import services
from ketapath.treatments.models import SESSION_STATUSES, DailyReadiness, TreatmentSession
from ketapath.treatments.tests.conftest import ALL_READY, COMPLETE, QUESTIONNAIRES_NOTE

pytestmark = pytest.mark.django_db


def test_status_values_match_the_database_constraint() -> None:
    assert list(TreatmentSession.Status.values) == SESSION_STATUSES


# --- readiness ---------------------------------------------------------------------------


def test_readiness_needs_every_item_confirmed(nurse: User, site: Clinic) -> None:
    items: dict[str, Any] = {**ALL_READY, "naloxone": False, "torch": True}
    del items["suction"]
    with pytest.raises(InvalidInput) as exc:
        services.readiness_record(user=nurse, clinic=site, items=items)
    fields = {e.field: e.rule for e in exc.value.errors}
    assert fields == {
        "items.naloxone": services.MESSAGE_READINESS_ITEM,
        "items.suction": services.MESSAGE_READINESS_ITEM,
        "items.torch": services.MESSAGE_READINESS_UNKNOWN,
    }
    assert not DailyReadiness.objects.exists()


def test_readiness_once_per_site_and_day(nurse: User, prescriber: User, site: Clinic) -> None:
    check = services.readiness_record(user=nurse, clinic=site, items=ALL_READY)
    assert check.checked_by == nurse and check.items == ALL_READY
    with pytest.raises(Conflict) as exc:
        services.readiness_record(user=prescriber, clinic=site, items=ALL_READY)
    assert exc.value.code == "already_recorded"
    assert AuditEvent.objects.filter(object_type="daily_readiness").count() == 1


def test_front_desk_and_other_site_cannot_record_readiness(
    front_desk: User, other_clinic_nurse: User, site: Clinic
) -> None:
    for user in (front_desk, other_clinic_nurse):
        with pytest.raises(Forbidden):
            services.readiness_record(user=user, clinic=site, items=ALL_READY)


# --- opening -----------------------------------------------------------------------------


def test_no_session_opens_without_todays_readiness(nurse: User, checked_in: Appointment) -> None:
    with pytest.raises(services.HardStop) as exc:
        services.session_open(user=nurse, appointment=checked_in)
    assert exc.value.code == "hard_stop" and exc.value.rule == "readiness"
    assert exc.value.extra == {"rule": "readiness", "overridable": False}
    assert not TreatmentSession.objects.exists()


def test_yesterdays_readiness_does_not_count(
    nurse: User, checked_in: Appointment, readiness: DailyReadiness
) -> None:
    DailyReadiness.objects.filter(pk=readiness.pk).update(
        date=readiness.date - __import__("datetime").timedelta(days=1)
    )
    with pytest.raises(services.HardStop):
        services.session_open(user=nurse, appointment=checked_in)


def test_session_opens_from_a_checked_in_session_appointment(
    nurse: User, checked_in: Appointment, readiness: DailyReadiness
) -> None:
    session = services.session_open(user=nurse, appointment=checked_in)
    assert session.status == "pre_check"
    assert session.course_id == checked_in.course_id
    assert session.patient_id == checked_in.patient_id
    assert session.clinic_id == checked_in.clinic_id
    assert AuditEvent.objects.filter(object_type="treatment_session", action="create").exists()
    with pytest.raises(Conflict) as exc:
        services.session_open(user=nurse, appointment=checked_in)
    assert exc.value.code == "already_open"


def test_a_booked_appointment_does_not_open(
    nurse: User, booked: list[Appointment], readiness: DailyReadiness
) -> None:
    with pytest.raises(Conflict) as exc:
        services.session_open(user=nurse, appointment=booked[1])
    assert exc.value.code == "not_checked_in"


def test_front_desk_cannot_open_a_session(
    front_desk: User, checked_in: Appointment, readiness: DailyReadiness
) -> None:
    with pytest.raises(Forbidden):
        services.session_open(user=front_desk, appointment=checked_in)


# --- pre-check ---------------------------------------------------------------------------


def test_complete_pre_check_records_baseline_vitals(nurse: User, session: TreatmentSession) -> None:
    assert "identity_confirmed" in services.pre_check_missing(session)
    services.precheck_update(user=nurse, session=session, data=COMPLETE)
    session.refresh_from_db()
    assert session.pre_check["bp_band"] == "ok"
    assert session.pain_before == COMPLETE["pain_before"]
    # The template's questionnaires before the session are not answered: say why, or enter.
    assert session.pre_check["questionnaires_missing"] == ["pain-nrs", "peg"]
    assert services.pre_check_missing(session) == ["questionnaires_note"]
    services.precheck_update(user=nurse, session=session, data=QUESTIONNAIRES_NOTE)
    session.refresh_from_db()
    assert services.pre_check_missing(session) == []
    rows = Observation.objects.filter(context_kind="session", context_id=session.id)
    assert sorted(rows.values_list("code", flat=True)) == [
        "2708-6", "72514-3", "8462-4", "8480-6", "8867-4"
    ]  # fmt: skip


def test_answered_pre_session_questionnaires_need_no_note(
    nurse: User, session: TreatmentSession
) -> None:
    response_record(
        user=nurse,
        patient=session.patient,
        clinic=session.clinic,
        instrument_code="pain-nrs",
        answers={"1": 6},
        context="pre_session",
        context_id=session.appointment_id,
    )
    services.precheck_update(user=nurse, session=session, data=COMPLETE)
    session.refresh_from_db()
    assert session.pre_check["questionnaires_missing"] == ["peg"]
    assert services.pre_check_missing(session) == ["questionnaires_note"]


def test_pre_check_merges_partial_answers(nurse: User, session: TreatmentSession) -> None:
    services.precheck_update(user=nurse, session=session, data={"identity_confirmed": True})
    services.precheck_update(user=nurse, session=session, data={"escort_name": " Sam "})
    session.refresh_from_db()
    assert session.pre_check == {
        "identity_confirmed": True,
        "escort_name": "Sam",
        "questionnaires_missing": ["pain-nrs", "peg"],
    }


def test_pre_check_bad_input_names_the_field(nurse: User, session: TreatmentSession) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.precheck_update(
            user=nurse,
            session=session,
            data={"identity_confirmed": "yes", "pregnancy_status": "maybe", "shoe_size": 9},
        )
    fields = {e.field for e in exc.value.errors}
    assert fields == {"identity_confirmed", "pregnancy_status", "shoe_size"}
    with pytest.raises(InvalidInput) as exc:
        services.precheck_update(user=nurse, session=session, data={"systolic": 120})
    assert exc.value.errors[0].field == "diastolic"
    session.refresh_from_db()
    assert session.pre_check == {}


def test_no_current_treatment_consent_is_a_hard_stop(
    nurse: User, session: TreatmentSession
) -> None:
    consent = session.patient.consents.get(kind=ConsentKind.KETAMINE_TREATMENT)
    consent_withdraw(user=nurse, consent=consent, reason="Patient withdrew")
    with pytest.raises(services.HardStop) as exc:
        services.precheck_update(user=nurse, session=session, data={"identity_confirmed": True})
    assert exc.value.rule == "consent"
    session.refresh_from_db()
    assert session.pre_check == {}


def test_an_open_safety_alert_is_a_hard_stop(
    nurse: User, prescriber: User, session: TreatmentSession, site: Clinic
) -> None:
    alert = SafetyAlert.objects.create(
        patient=session.patient,
        clinic=site,
        kind=SafetyAlert.Kind.PHQ9_ITEM9,
        source_kind="response",
        source_id=uuid4(),
        summary="Item 9 above 0",
        raised_at=timezone.now(),
    )
    with pytest.raises(services.HardStop) as exc:
        services.precheck_update(user=nurse, session=session, data={"identity_confirmed": True})
    assert exc.value.rule == "open_alert"
    SafetyAlert.objects.filter(pk=alert.pk).update(
        status=SafetyAlert.Status.CLEARED, cleared_by=prescriber, cleared_at=timezone.now()
    )
    services.precheck_update(user=nurse, session=session, data={"identity_confirmed": True})


def test_high_bp_is_a_hard_stop_that_only_a_prescriber_overrides(
    nurse: User, prescriber: User, session: TreatmentSession
) -> None:
    data = {**COMPLETE, "systolic": 162, "diastolic": 90}
    with pytest.raises(services.HardStop) as exc:
        services.precheck_update(user=nurse, session=session, data=data)
    assert exc.value.rule == "bp" and exc.value.extra["overridable"] is True
    assert not Observation.objects.filter(context_id=session.id).exists()
    with pytest.raises(Forbidden):
        services.override_add(
            user=nurse, session=session, rule="bp", reason="Patient is anxious today"
        )
    override = services.override_add(
        user=prescriber, session=session, rule="bp", reason="Rechecked, white-coat pattern"
    )
    assert override.by == prescriber
    services.precheck_update(user=nurse, session=session, data=data)
    session.refresh_from_db()
    assert session.pre_check["bp_band"] == "hard_stop"
    assert AuditEvent.objects.filter(object_type="session_override").count() == 1


def test_pregnancy_is_a_hard_stop_a_prescriber_may_override(
    nurse: User, prescriber: User, session: TreatmentSession
) -> None:
    data = {"pregnancy_status": "pregnant"}
    with pytest.raises(services.HardStop) as exc:
        services.precheck_update(user=nurse, session=session, data=data)
    assert exc.value.rule == "pregnancy"
    services.override_add(
        user=prescriber, session=session, rule="pregnancy", reason="Discussed with obstetrics"
    )
    services.precheck_update(user=nurse, session=session, data=data)


def test_a_re_review_needs_a_note(nurse: User, session: TreatmentSession) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.precheck_update(
            user=nurse, session=session, data={"history_review": "re_reviewed"}
        )
    assert exc.value.errors[0].field == "history_note"
    services.precheck_update(
        user=nurse,
        session=session,
        data={"history_review": "re_reviewed", "history_note": "New SSRI started; no change"},
    )


def test_diastolic_at_the_hold_level_stops_too(nurse: User, session: TreatmentSession) -> None:
    with pytest.raises(services.HardStop):
        services.precheck_update(
            user=nurse, session=session, data={"systolic": 130, "diastolic": 100}
        )


def test_bp_above_the_acknowledgement_level_needs_acknowledging(
    nurse: User, session: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.precheck_update(
            user=nurse, session=session, data={"systolic": 145, "diastolic": 85}
        )
    assert exc.value.errors[0].field == "bp_acknowledged"
    services.precheck_update(
        user=nurse,
        session=session,
        data={"systolic": 145, "diastolic": 85, "bp_acknowledged": True},
    )
    session.refresh_from_db()
    assert session.pre_check["bp_band"] == "acknowledge"


def test_bp_bands_follow_the_clinic_policy(
    nurse: User, director: User, session: TreatmentSession, site: Clinic
) -> None:
    policy = clinic_policy_current(clinic=site)
    policy.pk = None
    policy.version += 1
    policy.pre_dose_hold_systolic, policy.pre_dose_hold_diastolic = 150, 95
    policy.save()
    with pytest.raises(services.HardStop):
        services.precheck_update(
            user=nurse, session=session, data={"systolic": 152, "diastolic": 80}
        )


def test_override_needs_a_known_rule_and_a_reason(
    prescriber: User, director: User, session: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.override_add(user=prescriber, session=session, rule="consent", reason="short")
    assert {e.field for e in exc.value.errors} == {"rule", "reason"}
    services.override_add(user=director, session=session, rule="bp", reason="Repeat reading 150/95")


# --- abort and closed sessions -----------------------------------------------------------


def test_abort_needs_a_reason_then_locks_the_session(
    nurse: User, prescriber: User, session: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        services.session_abort(user=nurse, session=session, reason="  ")
    assert exc.value.errors[0].field == "reason"
    services.session_abort(user=nurse, session=session, reason="Patient felt unwell")
    session.refresh_from_db()
    assert session.status == "aborted" and session.aborted_by == nurse
    assert session.abort_reason == "Patient felt unwell"
    for change in (
        lambda: services.precheck_update(user=nurse, session=session, data=COMPLETE),
        lambda: services.override_add(
            user=prescriber, session=session, rule="bp", reason="A reason of some length"
        ),
        lambda: services.session_abort(user=nurse, session=session, reason="Again"),
    ):
        with pytest.raises(Conflict) as closed:
            change()
        assert closed.value.code == "session_closed"


def test_a_signed_session_refuses_changes(
    nurse: User, prescriber: User, session: TreatmentSession
) -> None:
    TreatmentSession.objects.filter(pk=session.pk).update(
        status="signed", signed_by=prescriber, signed_at=timezone.now()
    )
    session.refresh_from_db()
    with pytest.raises(Conflict):
        services.session_abort(user=nurse, session=session, reason="Too late")
    with pytest.raises(Conflict):
        services.precheck_update(user=nurse, session=session, data={"identity_confirmed": True})


def test_front_desk_cannot_document_or_abort(front_desk: User, session: TreatmentSession) -> None:
    with pytest.raises(Forbidden):
        services.precheck_update(user=front_desk, session=session, data=COMPLETE)
    with pytest.raises(Forbidden):
        services.session_abort(user=front_desk, session=session, reason="No")


# --- dose order --------------------------------------------------------------------------


def _order(user: User, session: TreatmentSession, vial: Vial, **kwargs: Any) -> Any:
    kwargs.setdefault("weight_kg", Decimal("80"))  # as at the evaluation
    return services.dose_order(user=user, session=session, vial_id=vial.id, **kwargs)


def test_dose_order_from_the_course_order(
    prescriber: User, pre_checked: TreatmentSession, vial: Vial
) -> None:
    result = _order(prescriber, pre_checked, vial)
    pre_checked.refresh_from_db()
    # 80 kg × 0.6 mg/kg = 48 mg; 50 mg/mL → 0.96 mL.
    assert (result.dose_mg, result.volume_ml) == (Decimal("48"), Decimal("0.96"))
    assert pre_checked.mg_per_kg == Decimal("0.6") and pre_checked.dose_mg == Decimal("48")
    assert pre_checked.concentration_mg_per_ml == Decimal("50")
    assert pre_checked.vial == vial and pre_checked.ordered_by == prescriber
    weight = Observation.objects.get(context_id=pre_checked.id, code="29463-7")
    assert weight.value == Decimal("80")


def test_nurse_cannot_order_the_dose(
    nurse: User, pre_checked: TreatmentSession, vial: Vial
) -> None:
    with pytest.raises(Forbidden):
        _order(nurse, pre_checked, vial)


def test_dose_order_waits_for_the_pre_check(
    prescriber: User, session: TreatmentSession, vial: Vial
) -> None:
    with pytest.raises(Conflict) as exc:
        _order(prescriber, session, vial)
    assert exc.value.code == "pre_check_incomplete"
    assert "pre_check.identity_confirmed" in {e.field for e in exc.value.errors}


def test_a_changed_mg_per_kg_needs_a_reason(
    prescriber: User, pre_checked: TreatmentSession, vial: Vial
) -> None:
    with pytest.raises(InvalidInput) as exc:
        _order(prescriber, pre_checked, vial, mg_per_kg=Decimal("0.7"))
    assert exc.value.errors[0].field == "mg_per_kg_reason"
    _order(
        prescriber,
        pre_checked,
        vial,
        mg_per_kg=Decimal("0.7"),
        mg_per_kg_reason="Partial response at 0.6 mg/kg",
    )
    pre_checked.refresh_from_db()
    assert pre_checked.mg_per_kg == Decimal("0.7")
    assert pre_checked.mg_per_kg_reason == "Partial response at 0.6 mg/kg"


def test_cap_is_a_hard_stop_a_prescriber_overrides(
    prescriber: User, pre_checked: TreatmentSession, vial: Vial
) -> None:
    # 140 kg × 0.6 = 84 mg, above the template's 80 mg cap (inside range and ceiling).
    heavy = {"weight_kg": Decimal("140"), "weight_change_confirmed": True}
    with pytest.raises(services.HardStop) as exc:
        _order(prescriber, pre_checked, vial, **heavy)
    assert exc.value.rule == "cap"
    assert not Observation.objects.filter(context_id=pre_checked.id, code="29463-7").exists()
    services.override_add(
        user=prescriber, session=pre_checked, rule="cap", reason="Large patient, tolerated 84 mg"
    )
    result = _order(prescriber, pre_checked, vial, **heavy)
    assert result.dose_mg == Decimal("84.0") and result.stops == ("cap",)


def test_range_is_a_hard_stop(prescriber: User, pre_checked: TreatmentSession, vial: Vial) -> None:
    with pytest.raises(services.HardStop) as exc:
        _order(
            prescriber,
            pre_checked,
            vial,
            mg_per_kg=Decimal("0.9"),
            mg_per_kg_reason="Trying a higher dose today",
        )
    assert exc.value.rule == "range"


def test_im_volume_above_the_site_maximum_stops(
    prescriber: User,
    pre_checked: TreatmentSession,
    enable_strength: Callable[..., Any],
    make_vials: Callable[..., list[Vial]],
) -> None:
    dilute = make_vials(1, formulation_=enable_strength(mg_per_ml="10"))[0]
    # 48 mg at 10 mg/mL is 4.8 mL, above the 2 mL default per injection site.
    with pytest.raises(services.HardStop) as exc:
        _order(prescriber, pre_checked, dilute)
    assert exc.value.rule == "im_volume" and exc.value.extra["overridable"] is False


def test_a_weight_change_over_ten_percent_needs_confirming(
    nurse: User, prescriber: User, pre_checked: TreatmentSession, vial: Vial, site: Clinic
) -> None:
    observations_record(
        user=nurse,
        patient=pre_checked.patient,
        clinic=site,
        taken_at=timezone.now() - timedelta(minutes=1),
        measurements={"body_weight": Decimal("70")},
    )
    with pytest.raises(InvalidInput) as exc:
        _order(prescriber, pre_checked, vial, weight_kg=Decimal("77.5"))
    assert exc.value.errors[0].field == "weight_change_confirmed"
    _order(prescriber, pre_checked, vial, weight_kg=Decimal("77"))  # exactly 10 %: no question
    _order(prescriber, pre_checked, vial, weight_kg=Decimal("77.5"), weight_change_confirmed=True)


def test_a_quarantined_vial_is_refused(
    prescriber: User, pre_checked: TreatmentSession, vial: Vial
) -> None:
    Vial.objects.filter(pk=vial.pk).update(status=Vial.Status.QUARANTINED)
    with pytest.raises(InvalidInput) as exc:
        _order(prescriber, pre_checked, vial)
    assert exc.value.errors[0].field == "vial"
