"""Session charting after the dose order: the second check and administration through the
ledger, vitals and in-session alerts, adverse events, ratings, discharge, completion,
signing (the ledger check), immutability, addenda and the course's move to reassessment."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.core.errors import Conflict, Forbidden, InvalidInput
from ketapath.core.timeutils import local_today
from ketapath.observations.models import Observation
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import LedgerEntry, Vial
from ketapath.scheduling.models import Appointment, Course
from ketapath.treatments import charting, selectors, services
from ketapath.treatments.models import SessionAlert, SignedNoteLocked, TreatmentSession

WEIGHT = Decimal("80")  # the evaluation's weight: no change to confirm


def _backdate(session: TreatmentSession, minutes: int) -> None:
    """Open, pre-check and order the session ``minutes`` ago (the services stamp now)."""
    then = timezone.now() - timedelta(minutes=minutes)
    TreatmentSession.objects.filter(id=session.id).update(
        opened_at=then, pre_check_at=then, ordered_at=then
    )
    Observation.objects.filter(context_kind="session", context_id=session.id).update(taken_at=then)
    session.refresh_from_db()


def _order(prescriber: User, session: TreatmentSession, vial: Vial) -> None:
    services.dose_order(user=prescriber, session=session, weight_kg=WEIGHT, vial_id=vial.id)
    session.refresh_from_db()


def _give(
    nurse: User,
    second: User,
    session: TreatmentSession,
    *,
    minutes_ago: int = 0,
    amount_mg: object | None = None,
    partial_reason: str = "",
) -> TreatmentSession:
    assert session.dose_mg is not None and session.volume_ml is not None
    return charting.administration_record(
        user=nurse,
        second=second,
        session=session,
        check=charting.SecondCheck(dose_mg=session.dose_mg, volume_ml=session.volume_ml),
        injection_site="Left deltoid",
        given_at=timezone.now() - timedelta(minutes=minutes_ago),
        amount_mg=amount_mg,
        partial_reason=partial_reason,
    )


@pytest.fixture
def ordered(prescriber: User, pre_checked: TreatmentSession, vial: Vial) -> TreatmentSession:
    _backdate(pre_checked, 90)
    _order(prescriber, pre_checked, vial)
    TreatmentSession.objects.filter(id=pre_checked.id).update(
        ordered_at=timezone.now() - timedelta(minutes=85)
    )
    pre_checked.refresh_from_db()
    return pre_checked


@pytest.fixture
def dosed(nurse: User, second_nurse: User, ordered: TreatmentSession) -> TreatmentSession:
    """Given 70 minutes ago: past the 60-minute minimum observation."""
    return _give(nurse, second_nurse, ordered, minutes_ago=70)


GOOD_DISCHARGE = {
    "activity": 2,
    "respiration": 2,
    "consciousness": 2,
    "spo2_points": 2,
    "systolic": 130,
    "spo2_room_air": True,
    "mental_status_baseline": True,
    "gait_steady": True,
    "nausea_controlled": True,
    "escort_present": True,
    "escort_name": "Sam Driver",
    "aftercare_acknowledged": True,
}


@pytest.fixture
def discharged(nurse: User, dosed: TreatmentSession) -> TreatmentSession:
    charting.ratings_record(
        user=nurse,
        session=dosed,
        pain_after=3,
        dissociation_scale="clinician_0_4",
        dissociation_score=1,
    )
    charting.discharge_record(user=nurse, session=dosed, data=GOOD_DISCHARGE)
    dosed.refresh_from_db()
    return dosed


@pytest.fixture
def completed(nurse: User, discharged: TreatmentSession) -> TreatmentSession:
    return charting.session_complete(user=nurse, session=discharged)


# --- the second check and administration ----------------------------------------------------


def test_administration_draws_and_gives_through_the_ledger(
    nurse: User, second_nurse: User, ordered: TreatmentSession, vial: Vial
) -> None:
    before = Vial.objects.get(id=vial.id).balance_ml
    session = _give(nurse, second_nurse, ordered, minutes_ago=5)
    session.refresh_from_db()
    assert session.status == "dosed"
    assert session.verified_by == second_nurse and session.given_by == nurse
    assert session.amount_mg == Decimal("48.0") and session.amount_ml == Decimal("0.96")
    assert session.route == "im" and session.injection_site == "Left deltoid"
    assert session.draw_entry is not None
    assert session.draw_entry.session_id == session.id
    assert ledger.draw_account(session.draw_entry).balanced
    assert Vial.objects.get(id=vial.id).balance_ml == before - Decimal("0.96")


def test_second_check_must_be_another_person(
    nurse: User, ordered: TreatmentSession, vial: Vial
) -> None:
    with pytest.raises(InvalidInput) as exc:
        _give(nurse, nurse, ordered)
    assert [e.field for e in exc.value.errors] == ["co_sign"]
    assert not LedgerEntry.objects.filter(session_id=ordered.id).exists()


def test_second_check_needs_a_user_who_documents_sessions(
    nurse: User, front_desk: User, ordered: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        _give(nurse, front_desk, ordered)
    assert exc.value.errors[0].field == "co_sign"


def test_second_check_figures_must_match_the_order(
    nurse: User, second_nurse: User, ordered: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        charting.administration_record(
            user=nurse,
            second=second_nurse,
            session=ordered,
            check=charting.SecondCheck(dose_mg="48.0", volume_ml="9.6"),  # a slipped point
            injection_site="Left deltoid",
        )
    assert [e.field for e in exc.value.errors] == ["second_check"]
    assert "48 mg = 0.96 mL at 50 mg/mL" in exc.value.errors[0].rule
    ordered.refresh_from_db()
    assert ordered.status == "pre_check" and ordered.draw_entry_id is None


def test_administration_needs_the_order_first(
    nurse: User, second_nurse: User, pre_checked: TreatmentSession
) -> None:
    with pytest.raises(Conflict) as exc:
        charting.administration_record(
            user=nurse,
            second=second_nurse,
            session=pre_checked,
            check=charting.SecondCheck(dose_mg="1", volume_ml="1"),
            injection_site="Left deltoid",
        )
    assert exc.value.code == "not_ordered"


def test_partial_dose_wastes_the_rest_witnessed_by_the_second_user(
    nurse: User, second_nurse: User, ordered: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        _give(nurse, second_nurse, ordered, amount_mg="30")
    assert [e.field for e in exc.value.errors] == ["partial_reason"]
    session = _give(
        nurse, second_nurse, ordered, amount_mg="30", partial_reason="Patient asked to stop"
    )
    assert session.draw_entry is not None
    account = ledger.draw_account(session.draw_entry)
    assert account.administered_mg == Decimal("30") and account.wasted_mg == Decimal("18.0")
    assert account.balanced
    waste = LedgerEntry.objects.get(draw=session.draw_entry, kind="waste")
    assert waste.witness == second_nurse


def test_a_partial_dose_is_given_in_steps_the_ledger_can_waste_exactly(
    nurse: User, second_nurse: User, ordered: TreatmentSession
) -> None:
    """At 50 mg/mL the ledger's 0.01 mL is 0.5 mg: 30.3 mg would leave 17.7 mg, which no
    waste entry can record, and the note could never be signed."""
    with pytest.raises(InvalidInput) as exc:
        _give(nurse, second_nurse, ordered, amount_mg="30.3", partial_reason="Asked to stop")
    assert exc.value.errors[0].field == "amount_mg"
    assert "0.5 mg steps" in exc.value.errors[0].rule
    assert not LedgerEntry.objects.filter(session_id=ordered.id).exists()


def test_a_partial_dose_needs_a_second_checker_who_can_witness_waste(
    nurse: User, director: User, ordered: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        _give(nurse, director, ordered, amount_mg="30", partial_reason="Asked to stop")
    assert exc.value.errors[0].field == "co_sign"
    assert not LedgerEntry.objects.filter(session_id=ordered.id).exists()


def test_more_than_the_order_cannot_be_given(
    nurse: User, second_nurse: User, ordered: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        _give(nurse, second_nurse, ordered, amount_mg="50")
    assert exc.value.errors[0].field == "amount_mg"


def test_iv_needs_rate_and_minutes_and_im_refuses_them(
    nurse: User, second_nurse: User, ordered: TreatmentSession
) -> None:
    with pytest.raises(InvalidInput) as exc:
        charting.administration_record(
            user=nurse,
            second=second_nurse,
            session=ordered,
            check=charting.SecondCheck(dose_mg="48.0", volume_ml="0.96"),
            injection_site="Left deltoid",
            infusion_minutes=40,
        )
    assert exc.value.errors[0].field == "infusion_minutes"


def test_front_desk_cannot_give(
    front_desk: User, second_nurse: User, ordered: TreatmentSession
) -> None:
    with pytest.raises(Forbidden):
        _give(front_desk, second_nurse, ordered)


# --- vitals and in-session alerts --------------------------------------------------------------


def test_first_reading_after_the_dose_starts_monitoring(
    nurse: User, dosed: TreatmentSession
) -> None:
    result = charting.vitals_record(
        user=nurse,
        session=dosed,
        values={"systolic": 134, "diastolic": 84, "heart_rate": 80, "spo2": 97},
    )
    dosed.refresh_from_db()
    assert dosed.status == "monitoring"
    assert result.alerts == []
    readings = selectors.session_readings(dosed)
    assert readings[-1].values == {"systolic": 134, "diastolic": 84, "heart_rate": 80, "spo2": 97}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"systolic": 180, "diastolic": 90}, ["bp_high"]),
        ({"systolic": 150, "diastolic": 110}, ["bp_high"]),
        ({"systolic": 179, "diastolic": 109}, []),
        ({"heart_rate": 121}, ["hr_high"]),
        ({"heart_rate": 120}, []),
        ({"heart_rate": 49}, ["hr_low"]),
        ({"heart_rate": 50}, []),
        ({"spo2": 89}, ["spo2_critical"]),
        ({"spo2": 91}, []),  # one low reading is not yet sustained
        ({"respiratory_rate": 7}, ["rr_low"]),
        ({"respiratory_rate": 8}, []),
    ],
)
def test_out_of_range_readings_raise_in_session_alerts(
    nurse: User, dosed: TreatmentSession, values: dict, expected: list[str]
) -> None:
    result = charting.vitals_record(user=nurse, session=dosed, values=values)
    assert [a.rule for a in result.alerts] == expected
    assert list(dosed.alerts.values_list("rule", flat=True)) == expected


def test_low_spo2_sustained_by_the_monitor_or_by_readings(
    nurse: User, dosed: TreatmentSession
) -> None:
    short = charting.vitals_record(
        user=nurse, session=dosed, values={"spo2": 91}, spo2_low_seconds=30
    )
    assert short.alerts == []  # 30 s is not more than 30 s
    longer = charting.vitals_record(
        user=nurse, session=dosed, values={"spo2": 91}, spo2_low_seconds=31
    )
    assert [a.rule for a in longer.alerts] == ["spo2_low"]


def test_consecutive_low_readings_are_sustained(nurse: User, dosed: TreatmentSession) -> None:
    now = timezone.now()
    charting.vitals_record(
        user=nurse, session=dosed, values={"spo2": 91}, taken_at=now - timedelta(minutes=2)
    )
    second = charting.vitals_record(user=nurse, session=dosed, values={"spo2": 90}, taken_at=now)
    assert [a.rule for a in second.alerts] == ["spo2_low"]


def test_an_open_alert_is_not_raised_twice_and_stays_until_cleared(
    nurse: User, dosed: TreatmentSession
) -> None:
    charting.vitals_record(user=nurse, session=dosed, values={"heart_rate": 130})
    again = charting.vitals_record(user=nurse, session=dosed, values={"heart_rate": 128})
    assert again.alerts == []
    alert = dosed.alerts.get()
    with pytest.raises(InvalidInput) as exc:
        charting.session_alert_clear(user=nurse, alert=alert, note="ok")
    assert exc.value.errors[0].field == "note"
    charting.session_alert_clear(user=nurse, alert=alert, note="Settled with reassurance; HR 96.")
    alert.refresh_from_db()
    assert not alert.is_open and alert.cleared_by == nurse
    with pytest.raises(Conflict):
        charting.session_alert_clear(user=nurse, alert=alert, note="Cleared a second time")


def test_vitals_bad_input_saves_nothing(nurse: User, dosed: TreatmentSession) -> None:
    with pytest.raises(InvalidInput) as exc:
        charting.vitals_record(user=nurse, session=dosed, values={"systolic": 400, "diastolic": 80})
    assert exc.value.errors[0].field == "systolic_bp"
    with pytest.raises(InvalidInput) as exc:
        charting.vitals_record(user=nurse, session=dosed, values={"systolic": 120})
    assert exc.value.errors[0].field == "diastolic"
    assert selectors.session_readings(dosed)[-1].values.get("systolic") != 400
    assert not SessionAlert.objects.filter(session=dosed).exists()


def test_vitals_schedule_shows_overdue_readings(nurse: User, dosed: TreatmentSession) -> None:
    plan = selectors.vitals_plan(dosed, timezone.now())
    # Given 70 minutes ago with only the baseline at pre-check: 0 met, later ones overdue.
    statuses = {p.offset_minutes: str(p.status) for p in plan}
    assert statuses[0] == "done"
    assert statuses[10] == "overdue" and statuses[60] == "overdue"
    summary = selectors.vitals_summary(plan)
    assert summary.overdue >= 6


# --- adverse events and ratings ----------------------------------------------------------------


def test_adverse_event_recorded_and_validated(nurse: User, dosed: TreatmentSession) -> None:
    with pytest.raises(InvalidInput) as exc:
        charting.adverse_event_record(
            user=nurse,
            session=dosed,
            kind="headache",
            severity="awful",
            onset=timezone.now() + timedelta(hours=1),
            action="",
        )
    assert [e.field for e in exc.value.errors] == ["kind", "severity", "onset", "action"]
    event = charting.adverse_event_record(
        user=nurse,
        session=dosed,
        kind="nausea_vomiting",
        severity="mild",
        onset=timezone.now() - timedelta(minutes=20),
        action="Ondansetron given; settled in 15 minutes.",
        medication="Ondansetron 4 mg ODT",
    )
    assert dosed.adverse_events.get() == event


def test_ratings_validate_scale_and_range(nurse: User, dosed: TreatmentSession) -> None:
    with pytest.raises(InvalidInput) as exc:
        charting.ratings_record(
            user=nurse, session=dosed, dissociation_scale="clinician_0_4", dissociation_score=5
        )
    assert exc.value.errors[0].field == "dissociation_score"
    charting.ratings_record(
        user=nurse, session=dosed, dissociation_scale="cadss_6", dissociation_score=12
    )
    with pytest.raises(InvalidInput):
        charting.ratings_record(user=nurse, session=dosed, pain_after=11)
    dosed.refresh_from_db()
    assert dosed.dissociation_scale == "cadss_6" and dosed.dissociation_score == 12


def test_ratings_after_the_dose_only(nurse: User, ordered: TreatmentSession) -> None:
    with pytest.raises(Conflict):
        charting.ratings_record(user=nurse, session=ordered, pain_after=2)


# --- discharge ---------------------------------------------------------------------------------


def test_discharge_when_every_criterion_is_met(nurse: User, discharged: TreatmentSession) -> None:
    assert discharged.status == "discharged" and discharged.discharge_kind == "criteria_met"
    assert discharged.discharge["aldrete_total"] == 10
    assert discharged.discharge["unmet"] == []
    appointment = Appointment.objects.get(id=discharged.appointment_id)
    assert appointment.status == "completed" and appointment.checked_in_at is not None


def test_discharge_waits_when_ready_but_not_leaving(nurse: User, dosed: TreatmentSession) -> None:
    charting.discharge_record(user=nurse, session=dosed, data=GOOD_DISCHARGE, leave_now=False)
    dosed.refresh_from_db()
    assert dosed.status == "ready" and dosed.discharged_at is None


def test_unmet_criteria_are_a_hard_stop_naming_them(nurse: User, dosed: TreatmentSession) -> None:
    data = {**GOOD_DISCHARGE, "escort_present": False, "consciousness": 1, "systolic": 100}
    # Pre-dose systolic 128: 100 is 28 below → circulation 1; total 8 < 9.
    with pytest.raises(charting.HardStopUnmet) as exc:
        charting.discharge_record(user=nurse, session=dosed, data=data)
    assert exc.value.rule == "discharge"
    assert exc.value.extra["unmet"] == ["aldrete", "escort_present"]
    dosed.refresh_from_db()
    assert dosed.status == "dosed"


def test_minimum_observation_time_holds_discharge(
    nurse: User, second_nurse: User, ordered: TreatmentSession
) -> None:
    session = _give(nurse, second_nurse, ordered, minutes_ago=30)
    with pytest.raises(charting.HardStopUnmet) as exc:
        charting.discharge_record(user=nurse, session=session, data=GOOD_DISCHARGE)
    assert exc.value.extra["unmet"] == ["observation_time"]


def test_open_alert_holds_discharge(nurse: User, dosed: TreatmentSession) -> None:
    charting.vitals_record(user=nurse, session=dosed, values={"respiratory_rate": 6})
    with pytest.raises(charting.HardStopUnmet) as exc:
        charting.discharge_record(user=nurse, session=dosed, data=GOOD_DISCHARGE)
    assert exc.value.extra["unmet"] == ["alerts_cleared"]


def test_prescriber_override_passes_unmet_discharge(
    nurse: User, prescriber: User, dosed: TreatmentSession
) -> None:
    with pytest.raises(Forbidden):
        services.override_add(
            user=nurse, session=dosed, rule="discharge", reason="Nurse cannot override this"
        )
    services.override_add(
        user=prescriber,
        session=dosed,
        rule="discharge",
        reason="Escort waiting in the car park; walked out with staff.",
    )
    data = {**GOOD_DISCHARGE, "escort_present": False}
    charting.discharge_record(user=nurse, session=dosed, data=data)
    dosed.refresh_from_db()
    assert dosed.discharge_kind == "override"
    assert dosed.discharge["unmet"] == ["escort_present"]


def test_against_medical_advice_is_its_own_path(nurse: User, dosed: TreatmentSession) -> None:
    with pytest.raises(InvalidInput) as exc:
        charting.discharge_record(
            user=nurse, session=dosed, data={}, against_medical_advice=True, ama_note="left"
        )
    assert exc.value.errors[0].field == "ama_note"
    charting.discharge_record(
        user=nurse,
        session=dosed,
        data={},
        against_medical_advice=True,
        ama_note="Told of the risks of driving; Dr Ortiz informed; left with partner.",
    )
    dosed.refresh_from_db()
    assert dosed.status == "discharged" and dosed.discharge_kind == "against_advice"
    # Completion then needs only the pain rating taken before the dose.
    assert charting.completion_missing(dosed) == []


def test_aldrete_bad_items_name_the_field(nurse: User, dosed: TreatmentSession) -> None:
    with pytest.raises(InvalidInput) as exc:
        charting.discharge_record(
            user=nurse, session=dosed, data={**GOOD_DISCHARGE, "activity": 3, "gait_steady": "y"}
        )
    assert {e.field for e in exc.value.errors} == {"activity", "gait_steady"}


# --- complete, sign, immutability, addenda -------------------------------------------------------


def test_complete_needs_ratings(nurse: User, dosed: TreatmentSession) -> None:
    charting.discharge_record(user=nurse, session=dosed, data=GOOD_DISCHARGE)
    dosed.refresh_from_db()
    with pytest.raises(InvalidInput) as exc:
        charting.session_complete(user=nurse, session=dosed)
    assert [e.field for e in exc.value.errors] == ["pain_after", "dissociation_score"]


def test_a_nurse_cannot_sign(nurse: User, completed: TreatmentSession) -> None:
    with pytest.raises(Forbidden):
        charting.session_sign(user=nurse, session=completed)


def test_sign_needs_completion(prescriber: User, discharged: TreatmentSession) -> None:
    with pytest.raises(Conflict) as exc:
        charting.session_sign(user=prescriber, session=discharged)
    assert exc.value.code == "not_completed"


def test_sign_checks_the_ledger(prescriber: User, nurse: User, completed: TreatmentSession) -> None:
    """A draw whose administration was reversed no longer balances: signing stops."""
    assert completed.draw_entry is not None
    given = LedgerEntry.objects.get(draw=completed.draw_entry, kind="administer")
    ledger.reverse(user=nurse, entry=given, reason="Recorded against the wrong draw")
    with pytest.raises(services.HardStop) as exc:
        charting.session_sign(user=prescriber, session=completed)
    assert exc.value.rule == "ledger"
    assert "given 0 mg" in exc.value.message
    completed.refresh_from_db()
    assert completed.status == "discharged"


def test_signing_locks_the_note_and_moves_the_last_session_of_the_series(
    prescriber: User, nurse: User, completed: TreatmentSession
) -> None:
    # The other sessions of the series are cancelled: this one is the last.
    Appointment.objects.filter(course=completed.course, kind="session").exclude(
        id=completed.appointment_id
    ).update(status="cancelled", status_reason="Patient moved away")
    charting.session_sign(user=prescriber, session=completed)
    completed.refresh_from_db()
    assert completed.status == "signed" and completed.signed_by == prescriber
    assert Course.objects.get(id=completed.course_id).status == "awaiting_reassessment"
    today = local_today(completed.clinic.time_zone)
    due = selectors.reassessments_due(clinic=completed.clinic, today=today)
    assert [r.course.id for r in due] == [completed.course_id]
    assert due[0].due_on - due[0].last_session_on == timedelta(days=7)
    # Immutable: every change is refused.
    for change in (
        lambda: charting.vitals_record(user=nurse, session=completed, values={"heart_rate": 70}),
        lambda: charting.ratings_record(user=nurse, session=completed, pain_after=1),
        lambda: services.session_abort(user=nurse, session=completed, reason="Too late now"),
        lambda: charting.session_sign(user=prescriber, session=completed),
    ):
        with pytest.raises(Conflict):
            change()


def test_signing_an_earlier_session_keeps_the_course_in_progress(
    prescriber: User, completed: TreatmentSession
) -> None:
    charting.session_sign(user=prescriber, session=completed)
    assert Course.objects.get(id=completed.course_id).status == "in_progress"


def test_sign_stops_on_an_open_in_session_alert(
    prescriber: User, nurse: User, completed: TreatmentSession
) -> None:
    SessionAlert.objects.create(
        session=completed,
        rule="hr_high",
        summary="Heart rate 130/min above the alert level",
        reading_at=timezone.now(),
        raised_at=timezone.now(),
        raised_by=nurse,
    )
    with pytest.raises(services.HardStop) as exc:
        charting.session_sign(user=prescriber, session=completed)
    assert exc.value.rule == "open_session_alert"


def test_addenda_only_on_signed_notes_and_keep_the_original(
    prescriber: User, nurse: User, completed: TreatmentSession
) -> None:
    with pytest.raises(Conflict):
        charting.addendum_add(user=nurse, session=completed, text="Too early for an addendum")
    charting.session_sign(user=prescriber, session=completed)
    before = TreatmentSession.objects.filter(id=completed.id).values().get()
    addendum = charting.addendum_add(
        user=nurse, session=completed, text="Patient phoned at 18:00: home safely, no nausea."
    )
    assert addendum.author == nurse
    after = TreatmentSession.objects.filter(id=completed.id).values().get()
    assert before == after
    with pytest.raises(InvalidInput):
        charting.addendum_add(user=nurse, session=completed, text="  ")


def test_a_signed_note_refuses_a_save_below_the_services(
    prescriber: User, completed: TreatmentSession
) -> None:
    charting.session_sign(user=prescriber, session=completed)
    completed.pain_after = 0
    with pytest.raises(SignedNoteLocked):
        completed.save()
    assert TreatmentSession.objects.get(id=completed.id).pain_after == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL")
def test_postgresql_refuses_raw_changes_to_a_signed_note(
    prescriber: User, nurse: User, completed: TreatmentSession
) -> None:
    charting.session_sign(user=prescriber, session=completed)
    addendum = charting.addendum_add(user=nurse, session=completed, text="Home safely, called.")
    for sql, key in (
        ("UPDATE treatments_treatmentsession SET pain_after = 0 WHERE id = %s", completed.id),
        ("DELETE FROM treatments_treatmentsession WHERE id = %s", completed.id),
        ("UPDATE treatments_sessionaddendum SET text = 'x' WHERE id = %s", addendum.id),
    ):
        with (
            pytest.raises(DatabaseError, match=r"immutable|as written"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [key])
    assert TreatmentSession.objects.get(id=completed.id).pain_after == 3
