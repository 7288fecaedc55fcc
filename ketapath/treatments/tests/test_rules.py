"""Session rules against reference/clinical.md §1.5 and §5 and DESIGN §5b."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ketapath.clinics.models import ClinicPolicy
from ketapath.treatments.rules import (
    ALDRETE_THRESHOLD,
    ALERT_BP_HIGH,
    ALERT_HR_HIGH,
    ALERT_HR_LOW,
    ALERT_RR_LOW,
    ALERT_SPO2_CRITICAL,
    ALERT_SPO2_LOW,
    CIRCULATION_MMHG_20,
    CIRCULATION_PERCENT_20,
    DEFAULT_STEP_MG,
    MIN_OBSERVATION_MINUTES,
    PRE_DOSE_ACK_ABOVE,
    PRE_DOSE_HOLD_AT,
    RULE_CIRCULATION_SOURCE,
    RULE_INFUSION_IV_ONLY,
    RULE_INFUSION_REQUIRED,
    RULE_ITEM_POINTS,
    RULE_NOT_A_NUMBER,
    RULE_POSITIVE,
    RULE_RANGE_ORDER,
    RULE_RANGE_SHAPE,
    RULE_ROUNDS_TO_ZERO,
    RULE_ROUTE,
    RULE_SCALE,
    RULE_THRESHOLD,
    RULE_VARIANT,
    RULE_WEIGHT_SANITY,
    RULE_WHOLE_POSITIVE,
    STOP_CAP,
    STOP_CEILING,
    STOP_RANGE,
    AldreteScore,
    PreDoseBp,
    RuleInputError,
    VitalsReading,
    VitalsStatus,
    VitalsThresholds,
    aldrete,
    circulation_points,
    discharge_ready,
    dose,
    im_volume_ok,
    in_session_alerts,
    minimum_observation_met,
    pre_dose_bp,
    round_to_step,
    vitals_due,
    vitals_schedule,
    weight_change,
)

D = Decimal
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _errors(exc: pytest.ExceptionInfo[RuleInputError]) -> dict[str, str]:
    return dict(exc.value.errors)


# --- dose -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "mg_per_kg", "concentration", "step", "dose_mg", "volume_ml"),
    [
        # Exact: 70 × 0.5 = 35.
        ("70", "0.5", "50", "0.5", "35.0", "0.70"),
        # A quarter over a step of 0.5 rounds half up: 35.25 → 35.5; just under stays.
        ("70.5", "0.5", "50", "0.5", "35.5", "0.71"),
        ("70.48", "0.5", "50", "0.5", "35.0", "0.70"),
        ("70.3", "0.5", "50", "0.5", "35.0", "0.70"),
        # Three quarters: 35.75 → 36.0; 35.7 → 35.5.
        ("71.5", "0.5", "50", "0.5", "36.0", "0.72"),
        ("71.4", "0.5", "50", "0.5", "35.5", "0.71"),
        # Step 1 mg: the half rounds up (not to even): 35.5 → 36, 36.5 → 37.
        ("71", "0.5", "100", "1", "36", "0.36"),
        ("73", "0.5", "100", "1", "37", "0.37"),
        ("70.5", "0.5", "100", "1", "35", "0.35"),
        # Step 0.1: 83.3 × 0.75 = 62.475 → 62.5.
        ("83.3", "0.75", "100", "0.1", "62.5", "0.63"),
        # Volume: 2 decimal places, half up (12.5 ÷ 100 = 0.125 → 0.13, not 0.12).
        ("25", "0.5", "100", "0.5", "12.5", "0.13"),
        ("70", "0.5", "30", "0.5", "35.0", "1.17"),
        ("20", "0.25", "10", "0.5", "5.0", "0.50"),
        ("350", "1", "100", "0.5", "350.0", "3.50"),
    ],
)
def test_dose_table(
    weight: str, mg_per_kg: str, concentration: str, step: str, dose_mg: str, volume_ml: str
) -> None:
    result = dose(D(weight), D(mg_per_kg), D(concentration), D(step))
    assert (result.dose_mg, result.volume_ml) == (D(dose_mg), D(volume_ml))
    assert str(result.dose_mg) == dose_mg
    assert result.raw_dose_mg == D(weight) * D(mg_per_kg)
    assert result.concentration_mg_per_ml == D(concentration)
    assert result.stops == ()


def test_step_defaults_to_half_a_milligram_as_the_policy() -> None:
    assert dose(D("70.5"), D("0.5"), D(50)).dose_mg == D("35.5")
    assert D("0.5") == DEFAULT_STEP_MG
    assert ClinicPolicy._meta.get_field("dose_step_mg").default == DEFAULT_STEP_MG


def test_mg_per_kg_given_is_the_rounded_dose_per_kg() -> None:
    assert dose(D("70.5"), D("0.5"), D(50)).mg_per_kg_given == D("0.504")


@pytest.mark.parametrize(
    ("weight", "cap", "exceeds"),
    [
        ("70", "35", False),  # exactly at the cap
        ("70", "34.9", True),
        # Raw 35.25 is under a cap of 35.3, but the rounded 35.5 is over it.
        ("70.5", "35.3", True),
        # Raw 35.15 is over a cap of 35.1, but the dose given (35.0) is under it.
        ("70.3", "35.1", False),
    ],
)
def test_cap_is_checked_after_rounding(weight: str, cap: str, exceeds: bool) -> None:
    result = dose(D(weight), D("0.5"), D(50), D("0.5"), cap_mg=D(cap))
    assert result.exceeds_cap is exceeds
    assert (STOP_CAP in result.stops) is exceeds


@pytest.mark.parametrize(
    ("weight", "mg_per_kg", "within"),
    [
        ("70", "0.5", True),  # at the top: 35 = 0.5 × 70
        ("70", "0.4", True),  # at the bottom: 28
        ("70", "0.3", False),
        ("70", "0.6", False),
        # Rounded up past the top: 35.25 → 35.5 > 0.5 × 70.5.
        ("70.5", "0.5", False),
        # Rounded down under the bottom: 0.4 × 70.3 = 28.12 → 28.0.
        ("70.3", "0.4", False),
    ],
)
def test_range_is_checked_on_the_rounded_dose(weight: str, mg_per_kg: str, within: bool) -> None:
    result = dose(D(weight), D(mg_per_kg), D(50), D("0.5"), range_mg_per_kg=(D("0.4"), D("0.5")))
    assert result.within_range is within
    assert (STOP_RANGE in result.stops) is not within


@pytest.mark.parametrize(
    ("weight", "exceeds"),
    [
        ("70", False),  # 70 mg at a ceiling of 1 mg/kg
        ("70.5", False),  # 70.5 exactly
        ("70.3", True),  # 70.3 → 70.5 > 70.3
    ],
)
def test_ceiling_is_checked_on_the_rounded_dose(weight: str, exceeds: bool) -> None:
    result = dose(D(weight), D(1), D(100), D("0.5"), ceiling_mg_per_kg=D(1))
    assert result.exceeds_ceiling is exceeds
    assert (STOP_CEILING in result.stops) is exceeds


def test_every_stop_is_listed_in_order() -> None:
    result = dose(
        D(80),
        D("1.2"),
        D(100),
        D("0.5"),
        cap_mg=D(90),
        range_mg_per_kg=[D("0.5"), D("1.0")],
        ceiling_mg_per_kg=D(1),
    )
    assert result.dose_mg == D("96.0")
    assert result.stops == (STOP_CAP, STOP_RANGE, STOP_CEILING)


def test_bounds_not_given_are_not_checked() -> None:
    result = dose(D(80), D("5"), D(100))
    assert (result.exceeds_cap, result.within_range, result.exceeds_ceiling) == (
        False,
        True,
        False,
    )


@pytest.mark.parametrize("field", ["weight_kg", "mg_per_kg", "concentration_mg_per_ml", "step_mg"])
@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (D(0), RULE_POSITIVE),
        (D(-1), RULE_POSITIVE),
        (D("NaN"), RULE_NOT_A_NUMBER),
        (D("Infinity"), RULE_NOT_A_NUMBER),
        ("seventy", RULE_NOT_A_NUMBER),
        (70.5, RULE_NOT_A_NUMBER),  # floats are not exact
        (None, RULE_NOT_A_NUMBER),
        (True, RULE_NOT_A_NUMBER),
        (D("1e12"), RULE_SCALE),
        (D("1e-12"), RULE_SCALE),
    ],
)
def test_bad_numbers_raise_naming_the_field(field: str, value: Any, rule: str) -> None:
    args: dict[str, Any] = {
        "weight_kg": D(70),
        "mg_per_kg": D("0.5"),
        "concentration_mg_per_ml": D(50),
        "step_mg": D("0.5"),
        field: value,
    }
    with pytest.raises(RuleInputError) as exc:
        dose(**args)
    assert _errors(exc) == {field: rule}
    assert exc.value.field == field
    assert isinstance(exc.value, ValueError)
    assert field in str(exc.value)


@pytest.mark.parametrize("field", ["cap_mg", "ceiling_mg_per_kg"])
@pytest.mark.parametrize(("value", "rule"), [(D(0), RULE_POSITIVE), ("x", RULE_NOT_A_NUMBER)])
def test_bad_optional_bounds_raise_naming_the_field(field: str, value: Any, rule: str) -> None:
    with pytest.raises(RuleInputError) as exc:
        dose(D(70), D("0.5"), D(50), **{field: value})
    assert _errors(exc) == {field: rule}


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(RuleInputError) as exc:
        dose(D(0), "x", D(-5), D(0))
    assert list(_errors(exc)) == ["weight_kg", "mg_per_kg", "concentration_mg_per_ml", "step_mg"]


@pytest.mark.parametrize(("weight", "ok"), [("19.99", False), ("20", True), ("350", True)])
def test_weight_sanity_bound(weight: str, ok: bool) -> None:
    if ok:
        assert dose(D(weight), D("0.5"), D(50)).dose_mg > 0
        return
    with pytest.raises(RuleInputError) as exc:
        dose(D(weight), D("0.5"), D(50))
    assert _errors(exc) == {"weight_kg": RULE_WEIGHT_SANITY.format(low=20, high=350)}


def test_weight_above_the_sanity_bound_is_refused() -> None:
    with pytest.raises(RuleInputError) as exc:
        dose(D("350.01"), D("0.5"), D(50))
    assert exc.value.field == "weight_kg"


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ([D("0.5")], {"range_mg_per_kg": RULE_RANGE_SHAPE}),
        ([D("0.5"), D("0.6"), D("0.7")], {"range_mg_per_kg": RULE_RANGE_SHAPE}),
        ("0.5", {"range_mg_per_kg": RULE_RANGE_SHAPE}),
        ([D(0), D("0.5")], {"range_mg_per_kg.0": RULE_POSITIVE}),
        ([D("0.5"), "x"], {"range_mg_per_kg.1": RULE_NOT_A_NUMBER}),
        ([D("0.6"), D("0.5")], {"range_mg_per_kg": RULE_RANGE_ORDER}),
    ],
)
def test_bad_range_raises(value: Any, errors: dict[str, str]) -> None:
    with pytest.raises(RuleInputError) as exc:
        dose(D(70), D("0.5"), D(50), range_mg_per_kg=value)
    assert _errors(exc) == errors


def test_a_dose_that_rounds_to_zero_is_refused() -> None:
    with pytest.raises(RuleInputError) as exc:
        dose(D(20), D("0.01"), D(50), D(1))
    assert _errors(exc) == {"step_mg": RULE_ROUNDS_TO_ZERO}


weights = st.decimals(min_value=20, max_value=350, places=2)
per_kg = st.decimals(min_value=D("0.05"), max_value=D("2"), places=3)
steps = st.sampled_from([D("0.1"), D("0.25"), D("0.5"), D(1), D("2.5")])
strengths = st.sampled_from([D(10), D(50), D(100)])


@given(weights, per_kg, steps, strengths)
def test_dose_is_the_nearest_step_with_halves_up(
    weight: Decimal, mg_per_kg: Decimal, step: Decimal, concentration: Decimal
) -> None:
    assume(weight * mg_per_kg >= step / 2)
    result = dose(weight, mg_per_kg, concentration, step)
    raw = weight * mg_per_kg
    assert result.dose_mg % step == 0
    assert abs(result.dose_mg - raw) <= step / 2
    if abs(result.dose_mg - raw) == step / 2:
        assert result.dose_mg > raw
    assert abs(result.volume_ml * concentration - result.dose_mg) <= concentration / 200


@given(weights, per_kg, steps, st.decimals(min_value=1, max_value=500, places=1))
def test_cap_flag_matches_the_rounded_dose(
    weight: Decimal, mg_per_kg: Decimal, step: Decimal, cap: Decimal
) -> None:
    assume(weight * mg_per_kg >= step / 2)
    result = dose(weight, mg_per_kg, D(100), step, cap_mg=cap)
    assert result.exceeds_cap is (result.dose_mg > cap)
    assert (STOP_CAP in result.stops) is result.exceeds_cap


@given(weights, weights, per_kg)
def test_dose_never_falls_as_weight_rises(a: Decimal, b: Decimal, mg_per_kg: Decimal) -> None:
    low, high = sorted((a, b))
    assert dose(low, mg_per_kg, D(50)).dose_mg <= dose(high, mg_per_kg, D(50)).dose_mg


def test_round_to_step() -> None:
    assert round_to_step(D("35.25"), D("0.5")) == D("35.5")
    assert round_to_step(D("35.24"), D("0.5")) == D("35.0")
    assert round_to_step(D("35.75"), D("0.5")) == D("36.0")


# --- weight change, IM volume ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "today", "fraction", "confirm"),
    [
        ("70", "77", "0.1000", False),  # exactly 10 % more
        ("70", "77.01", "0.1001", True),  # just over
        ("70", "63", "-0.1000", False),  # exactly 10 % less
        ("70", "62.99", "-0.1001", True),
        ("80", "80", "0.0000", False),
        ("60", "66.1", "0.1017", True),
    ],
)
def test_weight_change(previous: str, today: str, fraction: str, confirm: bool) -> None:
    result = weight_change(D(previous), D(today))
    assert result.fraction == D(fraction)
    assert result.needs_confirming is confirm


def test_weight_change_threshold_is_exact_beyond_display_rounding() -> None:
    # 10.00004 % shows as 0.1000 but is more than 10 %.
    assert weight_change(D("100000"), D("110000.04")).needs_confirming is True
    assert weight_change(D(70), D(74), threshold=D("0.05")).needs_confirming is True


@pytest.mark.parametrize(
    ("args", "errors"),
    [
        ((D(0), D(70)), {"previous_kg": RULE_POSITIVE}),
        ((D(70), "x"), {"today_kg": RULE_NOT_A_NUMBER}),
        ((D(70), D(70), D(0)), {"threshold": RULE_POSITIVE}),
        ((D(70), D(70), D(1)), {"threshold": RULE_THRESHOLD}),
    ],
)
def test_weight_change_bad_input(args: tuple[Any, ...], errors: dict[str, str]) -> None:
    with pytest.raises(RuleInputError) as exc:
        weight_change(*args)
    assert _errors(exc) == errors


@pytest.mark.parametrize(("volume", "ok"), [("1.99", True), ("2.00", True), ("2.01", False)])
def test_im_volume_per_site(volume: str, ok: bool) -> None:
    assert im_volume_ok(D(volume), D("2.0")) is ok


def test_im_volume_bad_input() -> None:
    with pytest.raises(RuleInputError) as exc:
        im_volume_ok(D(0), D(-1))
    assert _errors(exc) == {"volume_ml": RULE_POSITIVE, "max_ml_per_site": RULE_POSITIVE}


# --- blood pressure before the dose -----------------------------------------------------------


@pytest.mark.parametrize(
    ("systolic", "diastolic", "band"),
    [
        (120, 80, PreDoseBp.OK),
        (140, 90, PreDoseBp.OK),  # "above 140/90": at it is fine
        (141, 90, PreDoseBp.ACKNOWLEDGE),
        (140, 91, PreDoseBp.ACKNOWLEDGE),
        (159, 99, PreDoseBp.ACKNOWLEDGE),
        (160, 80, PreDoseBp.HARD_STOP),  # "≥160"
        (130, 100, PreDoseBp.HARD_STOP),  # "≥100"
        (200, 120, PreDoseBp.HARD_STOP),
    ],
)
def test_pre_dose_bp_bands(systolic: int, diastolic: int, band: PreDoseBp) -> None:
    assert pre_dose_bp(systolic, diastolic) == band
    assert pre_dose_bp(systolic, diastolic) == band.value


def test_pre_dose_bp_defaults_are_the_policy_defaults() -> None:
    def default(name: str) -> Any:
        return ClinicPolicy._meta.get_field(name).default

    hold = (default("pre_dose_hold_systolic"), default("pre_dose_hold_diastolic"))
    ack = (default("pre_dose_ack_systolic"), default("pre_dose_ack_diastolic"))
    assert (PRE_DOSE_HOLD_AT, PRE_DOSE_ACK_ABOVE) == (hold, ack) == ((160, 100), (140, 90))


def test_pre_dose_bp_uses_the_clinic_thresholds() -> None:
    assert pre_dose_bp(150, 80, hold_at=(150, 95), ack_above=(130, 85)) == PreDoseBp.HARD_STOP
    assert pre_dose_bp(131, 80, hold_at=(150, 95), ack_above=(130, 85)) == PreDoseBp.ACKNOWLEDGE


@pytest.mark.parametrize(
    ("systolic", "diastolic", "field"), [(0, 80, "systolic"), (120, "80", "diastolic")]
)
def test_pre_dose_bp_bad_input(systolic: Any, diastolic: Any, field: str) -> None:
    with pytest.raises(RuleInputError) as exc:
        pre_dose_bp(systolic, diastolic)
    assert _errors(exc) == {field: RULE_WHOLE_POSITIVE}


# --- in-session alerts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reading", "alerts"),
    [
        (VitalsReading(systolic=179, diastolic=109), []),
        (VitalsReading(systolic=180, diastolic=90), [ALERT_BP_HIGH]),
        (VitalsReading(systolic=150, diastolic=110), [ALERT_BP_HIGH]),
        (VitalsReading(heart_rate=120), []),
        (VitalsReading(heart_rate=121), [ALERT_HR_HIGH]),
        (VitalsReading(heart_rate=50), []),
        (VitalsReading(heart_rate=49), [ALERT_HR_LOW]),
        (VitalsReading(respiratory_rate=8), []),
        (VitalsReading(respiratory_rate=7), [ALERT_RR_LOW]),
        (VitalsReading(spo2=[(T0, 90)]), []),
        (VitalsReading(spo2=[(T0, 89)]), [ALERT_SPO2_CRITICAL]),
        (VitalsReading(), []),
    ],
)
def test_each_alert_at_its_edge(reading: VitalsReading, alerts: list[str]) -> None:
    assert in_session_alerts(reading) == alerts
    assert in_session_alerts(reading, VitalsThresholds()) == alerts


def _spo2(*points: tuple[int, int]) -> list[tuple[datetime, int]]:
    return [(T0 + timedelta(seconds=seconds), value) for seconds, value in points]


@pytest.mark.parametrize(
    ("samples", "alerts"),
    [
        # Below 92 for exactly 30 s is not "more than 30 s".
        (_spo2((0, 91), (30, 91)), []),
        (_spo2((0, 91), (15, 90), (31, 91)), [ALERT_SPO2_LOW]),
        # At 92 is not below; a normal sample ends the run.
        (_spo2((0, 92), (40, 92)), []),
        (_spo2((0, 91), (20, 93), (40, 91)), []),
        # Out of order samples are put in time order.
        (_spo2((45, 91), (0, 91), (20, 91)), [ALERT_SPO2_LOW]),
        # Critical at once, and low as well once sustained.
        (_spo2((0, 89)), [ALERT_SPO2_CRITICAL]),
        (_spo2((0, 91), (35, 88)), [ALERT_SPO2_LOW, ALERT_SPO2_CRITICAL]),
    ],
)
def test_spo2_sustained_and_critical(
    samples: list[tuple[datetime, int]], alerts: list[str]
) -> None:
    assert in_session_alerts(VitalsReading(spo2=samples)) == alerts


def test_alerts_use_the_clinic_thresholds() -> None:
    strict = VitalsThresholds(
        systolic_at=170,
        diastolic_at=100,
        hr_above=110,
        hr_below=55,
        spo2_below=94,
        spo2_critical_below=91,
        spo2_seconds=10,
        rr_below=10,
    )
    reading = VitalsReading(
        systolic=170,
        diastolic=80,
        heart_rate=111,
        respiratory_rate=9,
        spo2=_spo2((0, 93), (11, 90)),
    )
    assert in_session_alerts(reading, strict) == [
        ALERT_BP_HIGH,
        ALERT_HR_HIGH,
        ALERT_SPO2_LOW,
        ALERT_SPO2_CRITICAL,
        ALERT_RR_LOW,
    ]
    assert in_session_alerts(reading) == []


def test_alert_defaults_are_the_policy_defaults() -> None:
    def default(name: str) -> Any:
        return ClinicPolicy._meta.get_field(name).default

    assert VitalsThresholds() == VitalsThresholds(
        systolic_at=default("alert_systolic"),
        diastolic_at=default("alert_diastolic"),
        hr_above=default("alert_hr_high"),
        hr_below=default("alert_hr_low"),
        spo2_below=default("alert_spo2"),
        spo2_critical_below=default("alert_spo2_critical"),
        spo2_seconds=default("alert_spo2_seconds"),
        rr_below=default("alert_rr_low"),
    )


# --- vitals schedule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "until", "infusion", "offsets"),
    [
        ("im", 120, None, [0, 10, 20, 30, 40, 50, 60, 75, 90, 105, 120]),
        ("im", 100, None, [0, 10, 20, 30, 40, 50, 60, 75, 90]),
        ("im", 60, None, [0, 10, 20, 30, 40, 50, 60]),
        ("im", 35, None, [0, 10, 20, 30]),
        ("im", 0, None, [0]),
        # The Emory schedule: a 40-minute infusion, every 10 during, every 15 after.
        ("iv", 120, 40, [0, 10, 20, 30, 40, 55, 70, 85, 100, 115]),
        # The end of an infusion between 10-minute marks is a reading; 15s count from it.
        ("iv", 90, 45, [0, 10, 20, 30, 40, 45, 60, 75, 90]),
        ("iv", 30, 40, [0, 10, 20, 30]),
    ],
)
def test_vitals_schedule(route: str, until: int, infusion: int | None, offsets: list[int]) -> None:
    assert vitals_schedule(route, until, infusion) == offsets


@pytest.mark.parametrize(
    ("args", "errors"),
    [
        (("sc", 60), {"route": RULE_ROUTE.format(choices="im, iv")}),
        (("iv", 60), {"infusion_minutes": RULE_INFUSION_REQUIRED}),
        (("im", 60, 40), {"infusion_minutes": RULE_INFUSION_IV_ONLY}),
        (("iv", 60, 0), {"infusion_minutes": RULE_WHOLE_POSITIVE}),
    ],
)
def test_vitals_schedule_bad_input(args: tuple[Any, ...], errors: dict[str, str]) -> None:
    with pytest.raises(RuleInputError) as exc:
        vitals_schedule(*args)
    assert _errors(exc) == errors


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_vitals_due_and_overdue() -> None:
    offsets = [0, 10, 20, 30, 40]
    readings = [_at(-5), _at(11), _at(27)]  # baseline before the dose; 10 late-ish; 30 early
    result = vitals_due(offsets, T0, readings, now=_at(33), grace_minutes=5)
    assert [(r.offset_minutes, r.status) for r in result] == [
        (0, VitalsStatus.DONE),
        (10, VitalsStatus.DONE),
        (20, VitalsStatus.OVERDUE),  # nothing from 15 to 25, and now is past 25
        (30, VitalsStatus.DONE),  # 27 is within its slot (from 25)
        (40, VitalsStatus.UPCOMING),
    ]
    assert result[0].taken_at == _at(-5)
    assert result[3].taken_at == _at(27)
    assert result[2].due_at == _at(20)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (4.9, VitalsStatus.UPCOMING),
        (5, VitalsStatus.DUE),  # due − grace
        (15, VitalsStatus.DUE),  # due + grace
        (15.01, VitalsStatus.OVERDUE),
    ],
)
def test_vitals_due_edges(now: float, status: VitalsStatus) -> None:
    result = vitals_due([0, 10], T0, [_at(0)], now=_at(now), grace_minutes=5)
    assert result[1].status == status


def test_a_late_reading_meets_its_slot_and_the_last_slot_stays_open() -> None:
    result = vitals_due([0, 10], T0, [_at(0), _at(40)], now=_at(60), grace_minutes=2)
    assert [r.status for r in result] == [VitalsStatus.DONE, VitalsStatus.DONE]
    assert result[1].taken_at == _at(40)


# --- Aldrete, discharge, minimum observation ------------------------------------------------------


@pytest.mark.parametrize(
    ("pre", "now", "variant", "points"),
    [
        (130, 130, CIRCULATION_MMHG_20, 2),
        (130, 150, CIRCULATION_MMHG_20, 2),  # +20 is within ±20
        (130, 110, CIRCULATION_MMHG_20, 2),
        (130, 151, CIRCULATION_MMHG_20, 1),
        (130, 180, CIRCULATION_MMHG_20, 1),  # +50 is within ±20–50
        (130, 80, CIRCULATION_MMHG_20, 1),
        (130, 181, CIRCULATION_MMHG_20, 0),
        (130, 79, CIRCULATION_MMHG_20, 0),
        (150, 180, CIRCULATION_PERCENT_20, 2),  # +20 %
        (150, 120, CIRCULATION_PERCENT_20, 2),  # −20 %
        (150, 181, CIRCULATION_PERCENT_20, 1),
        (150, 224, CIRCULATION_PERCENT_20, 1),  # +49.3 %
        (150, 225, CIRCULATION_PERCENT_20, 0),  # +50 %
        (150, 75, CIRCULATION_PERCENT_20, 0),  # −50 %
        # The variants differ: +25 mm Hg from 150 is 1 point in mm Hg, 2 in per cent.
        (150, 175, CIRCULATION_MMHG_20, 1),
        (150, 175, CIRCULATION_PERCENT_20, 2),
    ],
)
def test_circulation_item(pre: int, now: int, variant: str, points: int) -> None:
    assert circulation_points(pre, now, variant) == points


def test_circulation_bad_variant() -> None:
    with pytest.raises(RuleInputError) as exc:
        circulation_points(130, 130, "sbp_band")
    assert _errors(exc) == {"variant": RULE_VARIANT.format(choices="mmhg_20, percent_20")}


def test_aldrete_item_by_item() -> None:
    score = aldrete(activity=2, respiration=1, consciousness=2, spo2_points=1, circulation=0)
    assert score == AldreteScore(
        total=6,
        items={"activity": 2, "respiration": 1, "circulation": 0, "consciousness": 2, "spo2": 1},
    )
    full = aldrete(
        activity=2,
        respiration=2,
        consciousness=2,
        spo2_points=2,
        pre_sbp=130,
        now_sbp=155,
        variant=CIRCULATION_MMHG_20,
    )
    assert full.items["circulation"] == 1
    assert full.total == 9
    percent = aldrete(
        activity=2,
        respiration=2,
        consciousness=2,
        spo2_points=2,
        pre_sbp=130,
        now_sbp=155,
        variant=CIRCULATION_PERCENT_20,
    )
    assert (percent.items["circulation"], percent.total) == (2, 10)


@pytest.mark.parametrize("item", ["activity", "respiration", "consciousness", "spo2_points"])
@pytest.mark.parametrize("value", [-1, 3, True, "2"])
def test_aldrete_items_are_0_1_or_2(item: str, value: Any) -> None:
    args: dict[str, Any] = {
        "activity": 2,
        "respiration": 2,
        "consciousness": 2,
        "spo2_points": 2,
        "circulation": 2,
        item: value,
    }
    with pytest.raises(RuleInputError) as exc:
        aldrete(**args)
    assert _errors(exc) == {item: RULE_ITEM_POINTS}


@pytest.mark.parametrize(
    "circulation",
    [
        {},
        {"pre_sbp": 130, "now_sbp": 140},
        {"circulation": 2, "pre_sbp": 130, "now_sbp": 140, "variant": CIRCULATION_MMHG_20},
    ],
)
def test_aldrete_needs_one_circulation_source(circulation: dict[str, Any]) -> None:
    with pytest.raises(RuleInputError) as exc:
        aldrete(activity=2, respiration=2, consciousness=2, spo2_points=2, **circulation)
    assert _errors(exc) == {"circulation": RULE_CIRCULATION_SOURCE}


def _score(**items: int) -> AldreteScore:
    points = {"activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2, "spo2": 2}
    points.update(items)
    return AldreteScore(total=sum(points.values()), items=points)


def test_discharge_threshold() -> None:
    assert ALDRETE_THRESHOLD == 9 == ClinicPolicy._meta.get_field("aldrete_threshold").default
    assert discharge_ready(_score()) is True
    assert discharge_ready(_score(respiration=1)) is True  # 9
    assert discharge_ready(_score(respiration=1, spo2=1)) is False  # 8
    assert discharge_ready(_score(respiration=1, spo2=1), threshold=8) is True
    # The "≥8 with no item at 0" variant (clinical.md §1.5).
    assert discharge_ready(_score(activity=0), threshold=8) is True
    assert discharge_ready(_score(activity=0), threshold=8, no_zero_items=True) is False


@given(
    st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)
)
def test_aldrete_total_is_the_sum_of_its_items(a: int, r: int, c: int, k: int, s: int) -> None:
    score = aldrete(activity=a, respiration=r, consciousness=k, spo2_points=s, circulation=c)
    assert 0 <= score.total == a + r + c + k + s <= 10
    assert list(score.items) == ["activity", "respiration", "circulation", "consciousness", "spo2"]


@pytest.mark.parametrize(
    ("elapsed", "minutes", "met"),
    [
        (timedelta(minutes=59, seconds=59), 60, False),
        (timedelta(minutes=60), 60, True),
        (timedelta(minutes=61), 60, True),
        (timedelta(minutes=89), 90, False),
        (timedelta(minutes=90), 90, True),
    ],
)
def test_minimum_observation(elapsed: timedelta, minutes: int, met: bool) -> None:
    assert minimum_observation_met(T0, T0 + elapsed, minutes) is met


def test_minimum_observation_default_is_60_as_the_policy() -> None:
    assert MIN_OBSERVATION_MINUTES == 60
    assert ClinicPolicy._meta.get_field("min_observation_minutes").default == 60
    assert minimum_observation_met(T0, _at(60)) is True
    assert minimum_observation_met(T0, _at(59)) is False
