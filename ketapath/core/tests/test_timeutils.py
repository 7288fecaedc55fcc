"""Clinic-local time helpers: day bounds across DST, RFC 3339, ages."""

from datetime import UTC, date, datetime, timedelta

from ketapath.core.timeutils import age_on, is_valid_time_zone, local_day_bounds, rfc3339, to_local


def test_day_bounds_in_utc_and_denver() -> None:
    assert local_day_bounds(date(2025, 3, 1), "UTC") == (
        datetime(2025, 3, 1, tzinfo=UTC),
        datetime(2025, 3, 2, tzinfo=UTC),
    )
    start, end = local_day_bounds(date(2025, 1, 15), "America/Denver")
    assert (start, end) == (
        datetime(2025, 1, 15, 7, tzinfo=UTC),
        datetime(2025, 1, 16, 7, tzinfo=UTC),
    )


def test_day_bounds_on_the_spring_forward_day_are_23_hours() -> None:
    start, end = local_day_bounds(date(2025, 3, 9), "America/Denver")
    assert end - start == timedelta(hours=23)
    start, end = local_day_bounds(date(2025, 11, 2), "America/Denver")
    assert end - start == timedelta(hours=25)


def test_rfc3339() -> None:
    moment = datetime(2025, 3, 1, 23, 30, 5, tzinfo=UTC)
    assert rfc3339(moment) == "2025-03-01T23:30:05+00:00"
    assert rfc3339(moment, "America/Denver") == "2025-03-01T16:30:05-07:00"
    assert rfc3339(None) is None
    assert to_local(moment, "America/Chicago").hour == 17


def test_age_on_birthday_boundaries() -> None:
    born = date(1980, 5, 17)
    assert age_on(born, date(2025, 5, 16)) == 44
    assert age_on(born, date(2025, 5, 17)) == 45


def test_time_zone_names() -> None:
    assert is_valid_time_zone("America/Denver")
    assert not is_valid_time_zone("Mountain Time")
