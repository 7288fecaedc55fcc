"""Pure rules: impossible values, the clearing assessment, opening-hours minutes."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ketapath.core.errors import FieldError
from ketapath.observations import rules

DENVER = ZoneInfo("America/Denver")


def _errors(measurements: dict[str, object]) -> list[FieldError]:
    return rules.check_measurements(measurements)[1]


def test_normal_vitals_pass() -> None:
    values, errors = rules.check_measurements(
        {"systolic_bp": "128", "diastolic_bp": 82, "spo2": "97", "body_weight": "81.5",
         "pain": 0, "heart_rate": 72, "respiratory_rate": 14, "body_height": "172.4"}
    )  # fmt: skip
    assert errors == []
    assert values["body_weight"] == Decimal("81.5")
    assert values["pain"] == Decimal(0)


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("spo2", 101),
        ("spo2", 0),
        ("body_weight", "400.01"),
        ("body_weight", 0),
        ("body_height", 276),
        ("heart_rate", 301),
        ("heart_rate", 0),
        ("respiratory_rate", 101),
        ("systolic_bp", 301),
        ("diastolic_bp", -5),
        ("pain", 11),
        ("pain", -1),
    ],
)
def test_impossible_values_name_the_field(key: str, raw: object) -> None:
    kind = rules.KINDS_BY_KEY[key]
    assert _errors({key: raw}) == [FieldError(key, rules.message_range(kind))]


def test_spo2_message_is_clear() -> None:
    assert rules.message_range(rules.KINDS_BY_KEY["spo2"]) == (
        "SpO₂ (%) must be more than 0 and at most 100."
    )


def test_weight_boundary_is_allowed() -> None:
    assert _errors({"body_weight": 400}) == []


def test_systolic_below_diastolic_in_one_record() -> None:
    assert _errors({"systolic_bp": 80, "diastolic_bp": 90}) == [
        FieldError("systolic_bp", rules.MESSAGE_SYSTOLIC_BELOW_DIASTOLIC)
    ]
    # Alone, each is checked only against its own bounds.
    assert _errors({"systolic_bp": 80}) == []


def test_not_numbers_whole_and_precision() -> None:
    assert _errors({"heart_rate": "fast"}) == [FieldError("heart_rate", rules.MESSAGE_NOT_A_NUMBER)]
    assert _errors({"heart_rate": "72.5"}) == [FieldError("heart_rate", rules.MESSAGE_WHOLE)]
    assert _errors({"pain": "3.5"}) == [FieldError("pain", rules.MESSAGE_WHOLE)]
    assert _errors({"body_weight": "80.123"}) == [
        FieldError("body_weight", rules.MESSAGE_TOO_PRECISE)
    ]
    assert _errors({"spo2": "NaN"}) == [FieldError("spo2", rules.MESSAGE_NOT_A_NUMBER)]


def test_nothing_given() -> None:
    assert _errors({}) == [FieldError("measurements", rules.MESSAGE_NO_MEASUREMENTS)]


def test_codes_are_the_cited_ones() -> None:
    assert {k.key: k.code for k in rules.VITAL_KINDS} == {
        "systolic_bp": "8480-6",
        "diastolic_bp": "8462-4",
        "heart_rate": "8867-4",
        "spo2": "2708-6",
        "respiratory_rate": "9279-1",
        "body_weight": "29463-7",
        "body_height": "8302-2",
        "pain": "72514-3",
    }


# --- assessment -----------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=DENVER)
PLAN = "Follow-up call tomorrow by Dr Ames; crisis line given."


def _assessment(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "assessed_at": "2026-11-25T14:30",
        "risk_level": "low",
        "method": "clinical_interview",
        "findings": "Passive thoughts last week, none now; protective factors present.",
    }
    data.update(changes)
    return data


def _check(plan: str = PLAN, **changes: object) -> list[FieldError]:
    return rules.check_assessment(
        _assessment(**changes), plan, now=NOW, time_zone="America/Denver"
    )[1]


def test_valid_assessment_is_cleaned() -> None:
    cleaned, errors = rules.check_assessment(
        _assessment(), PLAN, now=NOW, time_zone="America/Denver"
    )
    assert errors == []
    assert cleaned["assessed_at"] == "2026-11-25T14:30:00-07:00"
    assert cleaned["risk_level"] == "low"


def test_same_day_rule_uses_clinic_day() -> None:
    assert _check(assessed_at="2026-11-24T23:59") == [
        FieldError("assessment.assessed_at", rules.MESSAGE_ASSESSED_AT_NOT_TODAY)
    ]
    # 06:00 UTC on the 25th is still the 24th in Denver.
    assert _check(assessed_at="2026-11-25T06:00:00+00:00") == [
        FieldError("assessment.assessed_at", rules.MESSAGE_ASSESSED_AT_NOT_TODAY)
    ]
    assert _check(assessed_at="2026-11-25T15:30") == [
        FieldError("assessment.assessed_at", rules.MESSAGE_ASSESSED_AT_FUTURE)
    ]
    assert _check(assessed_at="") == [
        FieldError("assessment.assessed_at", rules.MESSAGE_ASSESSED_AT_REQUIRED)
    ]
    assert _check(assessed_at="yesterday") == [
        FieldError("assessment.assessed_at", rules.MESSAGE_ASSESSED_AT_INVALID)
    ]


def test_risk_method_findings_and_plan_required() -> None:
    assert _check(risk_level="none") == [
        FieldError("assessment.risk_level", rules.MESSAGE_RISK_LEVEL)
    ]
    assert _check(method="") == [FieldError("assessment.method", rules.MESSAGE_METHOD)]
    assert _check(findings="  ") == [
        FieldError("assessment.findings", rules.MESSAGE_FINDINGS_REQUIRED)
    ]
    assert _check(plan="Acknowledged") == [FieldError("plan", rules.MESSAGE_PLAN_SHORT)]


# --- opening-hours minutes ---------------------------------------------------------------


@dataclass
class Hours:
    weekday: int
    opens: time
    closes: time


@dataclass
class Closure:
    start_date: date
    end_date: date


WEEKDAYS_8_TO_17 = [Hours(d, time(8), time(17)) for d in range(5)]


def _at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=DENVER)


def test_same_day_inside_hours() -> None:
    # Wednesday 25 November 2026
    minutes = rules.opening_minutes_between(
        _at(2026, 11, 25, 9), _at(2026, 11, 25, 13, 30), WEEKDAYS_8_TO_17, [], "America/Denver"
    )
    assert minutes == 270


def test_before_opening_and_after_closing_do_not_count() -> None:
    minutes = rules.opening_minutes_between(
        _at(2026, 11, 25, 6), _at(2026, 11, 25, 20), WEEKDAYS_8_TO_17, [], DENVER
    )
    assert minutes == 9 * 60


def test_across_a_weekend() -> None:
    # Friday 4 December 16:00 → Monday 7 December 10:00: 60 + 120 minutes.
    minutes = rules.opening_minutes_between(
        _at(2026, 12, 4, 16), _at(2026, 12, 7, 10), WEEKDAYS_8_TO_17, [], "America/Denver"
    )
    assert minutes == 180


def test_closure_days_count_nothing() -> None:
    # Wednesday 25 16:00 → Monday 30 09:00, closed Thursday 26 and Friday 27 (Thanksgiving).
    closures = [Closure(date(2026, 11, 26), date(2026, 11, 27))]
    minutes = rules.opening_minutes_between(
        _at(2026, 11, 25, 16), _at(2026, 11, 30, 9), WEEKDAYS_8_TO_17, closures, "America/Denver"
    )
    assert minutes == 120
    without = rules.opening_minutes_between(
        _at(2026, 11, 25, 16), _at(2026, 11, 30, 9), WEEKDAYS_8_TO_17, [], "America/Denver"
    )
    assert without == 120 + 2 * 9 * 60


def test_dst_fall_back_day_counts_real_minutes() -> None:
    # Sunday 1 November 2026, Denver falls back at 02:00: 00:00–05:00 lasts 6 real hours.
    hours = [Hours(6, time(0), time(5))]
    start = _at(2026, 10, 31, 12)
    end = _at(2026, 11, 2, 12)
    assert rules.opening_minutes_between(start, end, hours, [], "America/Denver") == 360


def test_dst_spring_forward_day_counts_real_minutes() -> None:
    # Sunday 8 March 2026, Denver springs forward at 02:00: 00:00–05:00 lasts 4 real hours.
    hours = [Hours(6, time(0), time(5))]
    start = _at(2026, 3, 7, 12)
    end = _at(2026, 3, 9, 12)
    assert rules.opening_minutes_between(start, end, hours, [], "America/Denver") == 240


def test_weekday_hours_around_dst_change() -> None:
    # Friday 30 October 16:00 MDT → Monday 2 November 09:00 MST: 60 + 60 minutes.
    minutes = rules.opening_minutes_between(
        _at(2026, 10, 30, 16), _at(2026, 11, 2, 9), WEEKDAYS_8_TO_17, [], "America/Denver"
    )
    assert minutes == 120


def test_end_before_start_is_zero_and_split_days() -> None:
    assert (
        rules.opening_minutes_between(
            _at(2026, 11, 25, 12), _at(2026, 11, 25, 9), WEEKDAYS_8_TO_17, [], DENVER
        )
        == 0
    )
    split = [Hours(2, time(8), time(12)), Hours(2, time(13), time(17))]
    assert (
        rules.opening_minutes_between(
            _at(2026, 11, 25, 7), _at(2026, 11, 25, 18), split, [], DENVER
        )
        == 480
    )
    # Start given in UTC, same instant rules apply.
    assert (
        rules.opening_minutes_between(
            _at(2026, 11, 25, 9).astimezone(ZoneInfo("UTC")),
            _at(2026, 11, 25, 9) + timedelta(minutes=45),
            WEEKDAYS_8_TO_17,
            [],
            DENVER,
        )
        == 45
    )
