"""The pure shift expansion: ranges, exceptions, and wall-clock times across daylight-saving
changes (America/Denver: clocks go forward on 2026-03-08 at 02:00 and back on 2026-11-01
at 02:00)."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ketapath.accounts.shifts import (
    DatedException,
    WeeklyShift,
    credentials_valid_until,
    day_ranges,
    expand_intervals,
    local_to_utc,
    merge_ranges,
    subtract_range,
)

DENVER = ZoneInfo("America/Denver")
SPRING_FORWARD = date(2026, 3, 8)  # a Sunday
FALL_BACK = date(2026, 11, 1)  # a Sunday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_merge_joins_overlapping_and_touching_ranges_and_drops_empty_ones() -> None:
    ranges = [(time(13), time(17)), (time(8), time(12)), (time(12), time(13)), (time(9), time(9))]
    assert merge_ranges(ranges) == [(time(8), time(17))]
    assert merge_ranges([(time(8), time(10)), (time(11), time(12))]) == [
        (time(8), time(10)),
        (time(11), time(12)),
    ]


@pytest.mark.parametrize(
    ("removed", "expected"),
    [
        ((time(12), time(13)), [(time(8), time(12)), (time(13), time(17))]),  # middle
        ((time(6), time(10)), [(time(10), time(17))]),  # the start
        ((time(15), time(20)), [(time(8), time(15))]),  # the end
        ((time(6), time(20)), []),  # all of it
        ((time(17), time(18)), [(time(8), time(17))]),  # touching only
    ],
)
def test_subtract_range(removed: tuple[time, time], expected: list[tuple[time, time]]) -> None:
    assert subtract_range([(time(8), time(17))], removed) == expected


def test_a_whole_day_off_removes_every_shift_that_day_and_an_extra_adds_time() -> None:
    weekly = [(time(8), time(12)), (time(13), time(17))]
    day = date(2026, 6, 1)
    assert day_ranges(weekly, [DatedException(day, "off")]) == []
    assert day_ranges(weekly, [DatedException(day, "off", time(10), time(14))]) == [
        (time(8), time(10)),
        (time(14), time(17)),
    ]
    # An extra shift that runs on from the weekly one joins it.
    assert day_ranges(weekly, [DatedException(day, "extra", time(17), time(19))]) == [
        (time(8), time(12)),
        (time(13), time(19)),
    ]
    # Time off and an extra shift the same day: off the usual hours, in for the extra.
    assert day_ranges(
        weekly,
        [DatedException(day, "off"), DatedException(day, "extra", time(18), time(20))],
    ) == [(time(18), time(20))]


def test_local_to_utc_on_ordinary_days_and_both_sides_of_a_change() -> None:
    assert local_to_utc(date(2026, 3, 6), time(8), DENVER) == utc(2026, 3, 6, 15)  # MST, -7
    assert local_to_utc(date(2026, 3, 9), time(8), DENVER) == utc(2026, 3, 9, 14)  # MDT, -6
    assert local_to_utc(date(2026, 10, 30), time(8), DENVER) == utc(2026, 10, 30, 14)  # MDT
    assert local_to_utc(date(2026, 11, 2), time(8), DENVER) == utc(2026, 11, 2, 15)  # MST


def test_a_time_in_the_spring_forward_gap_becomes_the_instant_the_clocks_jump() -> None:
    # 02:00-03:00 does not exist on 2026-03-08 in Denver; the jump is 02:00 MST = 09:00 UTC.
    jump = utc(2026, 3, 8, 9)
    assert local_to_utc(SPRING_FORWARD, time(2), DENVER) == jump
    assert local_to_utc(SPRING_FORWARD, time(2, 30), DENVER) == jump
    assert local_to_utc(SPRING_FORWARD, time(2, 59, 59), DENVER) == jump
    assert local_to_utc(SPRING_FORWARD, time(3), DENVER) == jump
    assert local_to_utc(SPRING_FORWARD, time(1, 59), DENVER) == utc(2026, 3, 8, 8, 59)


def test_an_ambiguous_time_when_clocks_fall_back_is_its_first_occurrence() -> None:
    # 01:00-02:00 happens twice on 2026-11-01: first in MDT (-6), then in MST (-7).
    assert local_to_utc(FALL_BACK, time(1, 30), DENVER) == utc(2026, 11, 1, 7, 30)
    assert local_to_utc(FALL_BACK, time(2), DENVER) == utc(2026, 11, 1, 9)


def test_a_weekly_shift_is_the_same_local_time_across_the_spring_change() -> None:
    # Every day 08:00-16:00 from Saturday 7 to Monday 9 March 2026.
    weekly = [WeeklyShift(day, time(8), time(16)) for day in range(7)]
    intervals = expand_intervals(
        weekly=weekly,
        exceptions=[],
        date_from=date(2026, 3, 7),
        date_to=date(2026, 3, 9),
        time_zone="America/Denver",
    )
    assert intervals == (
        (utc(2026, 3, 7, 15), utc(2026, 3, 7, 23)),  # MST
        (utc(2026, 3, 8, 14), utc(2026, 3, 8, 22)),  # MDT from 02:00 that morning
        (utc(2026, 3, 9, 14), utc(2026, 3, 9, 22)),
    )
    for start, end in intervals:
        assert start.astimezone(DENVER).time() == time(8)
        assert end.astimezone(DENVER).time() == time(16)
        assert start.tzinfo is UTC


def test_a_weekly_shift_is_the_same_local_time_across_the_autumn_change() -> None:
    weekly = [WeeklyShift(day, time(8), time(16)) for day in range(7)]
    intervals = expand_intervals(
        weekly=weekly,
        exceptions=[],
        date_from=date(2026, 10, 31),
        date_to=date(2026, 11, 2),
        time_zone="America/Denver",
    )
    assert intervals == (
        (utc(2026, 10, 31, 14), utc(2026, 10, 31, 22)),  # MDT
        (utc(2026, 11, 1, 15), utc(2026, 11, 1, 23)),  # MST from 02:00 that morning
        (utc(2026, 11, 2, 15), utc(2026, 11, 2, 23)),
    )


def test_a_night_shift_over_the_change_lasts_what_the_wall_clock_says() -> None:
    # 00:00-06:00 is five hours on the spring-forward night and seven on the fall-back one.
    sunday = [WeeklyShift(6, time(0), time(6))]
    (spring,) = expand_intervals(
        weekly=sunday,
        exceptions=[],
        date_from=SPRING_FORWARD,
        date_to=SPRING_FORWARD,
        time_zone="America/Denver",
    )
    (autumn,) = expand_intervals(
        weekly=sunday,
        exceptions=[],
        date_from=FALL_BACK,
        date_to=FALL_BACK,
        time_zone="America/Denver",
    )
    assert (spring[1] - spring[0]).total_seconds() == 5 * 3600
    assert (autumn[1] - autumn[0]).total_seconds() == 7 * 3600


def test_a_shift_wholly_inside_the_gap_is_no_time_at_all() -> None:
    sunday = [WeeklyShift(6, time(2, 15), time(2, 45))]
    assert (
        expand_intervals(
            weekly=sunday,
            exceptions=[],
            date_from=SPRING_FORWARD,
            date_to=SPRING_FORWARD,
            time_zone="America/Denver",
        )
        == ()
    )


def test_exceptions_apply_only_on_their_date_and_the_range_is_inclusive() -> None:
    weekly = [WeeklyShift(0, time(8), time(16))]  # Mondays
    mondays = (date(2026, 6, 1), date(2026, 6, 8), date(2026, 6, 15))
    intervals = expand_intervals(
        weekly=weekly,
        exceptions=[
            DatedException(mondays[1], "off"),
            DatedException(date(2026, 6, 13), "extra", time(9), time(13)),  # a Saturday
        ],
        date_from=mondays[0],
        date_to=mondays[2],
        time_zone="America/Chicago",
    )
    assert intervals == (
        (utc(2026, 6, 1, 13), utc(2026, 6, 1, 21)),
        (utc(2026, 6, 13, 14), utc(2026, 6, 13, 18)),
        (utc(2026, 6, 15, 13), utc(2026, 6, 15, 21)),
    )


def test_an_empty_or_reversed_range_has_no_intervals() -> None:
    weekly = [WeeklyShift(day, time(8), time(16)) for day in range(7)]
    kwargs = {"weekly": weekly, "exceptions": [], "time_zone": "America/Denver"}
    assert expand_intervals(date_from=date(2026, 6, 2), date_to=date(2026, 6, 1), **kwargs) == ()


def test_credentials_valid_until_is_the_earlier_expiry() -> None:
    assert credentials_valid_until(date(2027, 5, 1), date(2026, 12, 1)) == date(2026, 12, 1)
    assert credentials_valid_until(None, date(2026, 12, 1)) == date(2026, 12, 1)
    assert credentials_valid_until(date(2027, 5, 1), None) == date(2027, 5, 1)
    assert credentials_valid_until(None, None) is None
