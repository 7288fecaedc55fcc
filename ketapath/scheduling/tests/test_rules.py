"""The series slot finder and shift expansion (ketapath.scheduling.rules).

Dates: 2026-04-06 is a Monday in summer time. In America/Denver and America/Chicago the
clocks spring forward at 02:00 on Sunday 2026-03-08 and fall back at 02:00 on Sunday
2026-11-01.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketapath.scheduling.rules import (
    ERROR_ALTERNATIVES,
    ERROR_BUSY_KIND,
    ERROR_CHAIR_MINUTES,
    ERROR_HORIZON_DAYS,
    ERROR_MIN_INTERVAL,
    ERROR_NAIVE,
    ERROR_NURSE_CAPACITY,
    ERROR_REVERSED_INTERVAL,
    ERROR_ROLE,
    ERROR_SESSIONS,
    ERROR_STEP_MINUTES,
    ERROR_TIME_ZONE,
    ERROR_WEEKDAY,
    ERROR_WINDOW_DAYS,
    REASON_CLOSED,
    REASON_NO_NURSE,
    REASON_NO_OPEN_TIME,
    REASON_NO_OPENING_HOURS,
    REASON_NO_PRESCRIBER,
    REASON_NO_ROOM,
    REASON_NO_SERIES,
    REASON_NURSE_CAPACITY,
    REASON_NURSE_CREDENTIALS,
    REASON_PATIENT_BUSY,
    REASON_PREFERENCES,
    REASON_PRESCRIBER_CREDENTIALS,
    REASON_WINDOW_TOO_SHORT,
    Busy,
    Closure,
    OpeningHours,
    Preferences,
    Room,
    SeriesProposal,
    SeriesSpec,
    SlotResult,
    Staff,
    expand_weekly,
    find_series,
)

DENVER = "America/Denver"
CHICAGO = "America/Chicago"
ZONES = (DENVER, CHICAGO)
MON = date(2026, 4, 6)
TUE, WED, THU, FRI = (MON + timedelta(days=i) for i in range(1, 5))
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

PAIN_SERIES = SeriesSpec(sessions=3, min_interval_hours=24, window_days=7, chair_minutes=60)
ROOM_1 = Room("r1", "Treatment 1")
ROOM_2 = Room("r2", "Treatment 2")
PATIENT = "pt1"
STAFF_ROLES = (("n1", "nurse"), ("p1", "prescriber"))


def at(tz: str, day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    """An aware local datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).replace(fold=fold)


def wall(moment: datetime, tz: str = DENVER) -> datetime:
    """The naive local wall time of an instant."""
    return moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def hours(days: Iterable[int] = range(5), opens: time = time(8), closes: time = time(17)):
    return tuple(OpeningHours(d, opens, closes) for d in days)


@cache
def shifts(
    tz: str,
    start: time = time(8),
    end: time = time(18),
    weekdays: tuple[int, ...] = tuple(range(7)),
) -> tuple[tuple[datetime, datetime], ...]:
    return expand_weekly(
        time_zone=tz,
        weekly=[(d, start, end) for d in weekdays],
        date_from=date(2026, 1, 1),
        date_to=date(2027, 1, 31),
    )


def person(
    id: str, role: str, tz: str = DENVER, name: str | None = None, valid_until: date | None = None
) -> Staff:
    return Staff(id, name or id, role, shifts(tz), valid_until)


def find(**overrides: Any) -> SlotResult:
    tz = overrides.get("time_zone", DENVER)
    kwargs: dict[str, Any] = {
        "spec": PAIN_SERIES,
        "time_zone": tz,
        "opening_hours": hours(),
        "closures": (),
        "rooms": (ROOM_1,),
        "staff": (person("n1", "nurse", tz), person("p1", "prescriber", tz)),
        "busy": (),
        "nurse_capacity": 2,
        "preferences": Preferences(),
        "now": at(tz, MON, 7),
        "patient_id": PATIENT,
    }
    kwargs.update(overrides)
    return find_series(**kwargs)


def starts(result: SlotResult, tz: str = DENVER, proposal: int = 0) -> list[datetime]:
    return [wall(s.start, tz) for s in result.proposals[proposal].sessions]


def reason(template: str, spec: SeriesSpec = PAIN_SERIES, **values: int) -> str:
    filled = {
        "sessions": spec.sessions,
        "min_interval_hours": spec.min_interval_hours,
        "window_days": spec.window_days,
        "chair_minutes": spec.chair_minutes,
        "nurse_capacity": 2,
        "horizon_days": 60,
    }
    filled.update(values)
    return template.format(**filled)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


# --- the earliest series and its alternatives ---------------------------------------------


@pytest.mark.parametrize("tz", ZONES)
def test_earliest_series_is_three_sessions_a_day_apart(tz: str) -> None:
    result = find(time_zone=tz)
    assert result.reason is None
    assert starts(result, tz) == [local(MON, 8), local(TUE, 8), local(WED, 8)]
    first = result.proposals[0].sessions[0]
    assert first.end - first.start == timedelta(minutes=60)
    assert (first.room_id, first.nurse_id, first.prescriber_id) == ("r1", "n1", "p1")


def test_two_alternatives_start_on_later_dates() -> None:
    result = find()
    assert len(result.proposals) == 3
    firsts = [starts(result, proposal=i)[0] for i in range(3)]
    assert firsts == [local(MON, 8), local(TUE, 8), local(WED, 8)]
    assert starts(result, proposal=2) == [local(WED, 8), local(THU, 8), local(FRI, 8)]


def test_alternatives_skip_a_date_whose_series_does_not_fit() -> None:
    # Only Mon–Wed are open: within five days a series starting on Tuesday or Wednesday
    # cannot finish, so the next choice is the following Monday.
    spec = SeriesSpec(sessions=3, min_interval_hours=24, window_days=5, chair_minutes=60)
    result = find(spec=spec, opening_hours=hours(days=(0, 1, 2)))
    firsts = [starts(result, proposal=i)[0] for i in range(len(result.proposals))]
    assert firsts == [local(MON, 8), local(MON + 7 * DAY, 8), local(MON + 14 * DAY, 8)]


def test_alternatives_count_is_configurable() -> None:
    assert len(find(alternatives=0).proposals) == 1
    assert len(find(alternatives=4).proposals) == 5


def test_returned_datetimes_are_aware_utc() -> None:
    for proposal in find().proposals:
        for session in proposal.sessions:
            for moment in (session.start, session.end):
                assert moment.tzinfo is UTC
    assert find().proposals[0].sessions[0].start == datetime(2026, 4, 6, 14, tzinfo=UTC)


def test_no_session_starts_in_the_past() -> None:
    result = find(now=at(DENVER, MON, 10, 7))
    assert starts(result)[0] == local(MON, 10, 15)


def test_first_date_preference_moves_the_search_start() -> None:
    result = find(preferences=Preferences(first_date=THU))
    assert starts(result) == [local(THU, 8), local(FRI, 8), local(MON + 7 * DAY, 8)]


# --- spacing and window edges -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tuesday_opens", "tuesday_closes", "expected_second"),
    [
        (time(9), time(10), local(TUE, 9)),  # exactly 24 h later
        (time(8, 45), time(10), local(TUE, 9)),  # 08:45 is 23 h 45 min later: skipped
        (time(8, 45), time(9, 45), None),  # only 23 h 45 min later is open
    ],
)
def test_spacing_edge(tuesday_opens: time, tuesday_closes: time, expected_second: Any) -> None:
    spec = SeriesSpec(sessions=2, min_interval_hours=24, window_days=2, chair_minutes=60)
    result = find(
        spec=spec,
        opening_hours=(
            OpeningHours(0, time(9), time(10)),
            OpeningHours(1, tuesday_opens, tuesday_closes),
        ),
        horizon_days=7,
    )
    if expected_second is None:
        assert result.proposals == ()
        assert result.reason == reason(REASON_NO_SERIES, spec, horizon_days=7)
    else:
        first, second = result.proposals[0].sessions
        assert wall(second.start) == expected_second
        assert second.start - first.start == timedelta(hours=24)


@pytest.mark.parametrize(
    ("closures", "window_days", "expected"),
    [
        ((), 2, [local(MON, 9), local(TUE, 9)]),  # last date = first + window - 1
        ((Closure(TUE, TUE),), 3, [local(MON, 9), local(WED, 9)]),  # the same edge, window 3
        ((Closure(TUE, TUE),), 2, None),  # Wednesday is first + window: one day too late
    ],
)
def test_window_edge(closures: tuple[Closure, ...], window_days: int, expected: Any) -> None:
    spec = SeriesSpec(sessions=2, min_interval_hours=24, window_days=window_days, chair_minutes=60)
    result = find(
        spec=spec,
        opening_hours=hours(days=(0, 1, 2), opens=time(9), closes=time(10)),
        closures=closures,
        horizon_days=7,
    )
    if expected is None:
        assert result.proposals == ()
        assert result.reason == reason(REASON_NO_SERIES, spec, horizon_days=7)
    else:
        assert starts(result) == expected


def test_window_counts_local_dates_not_utc_dates() -> None:
    # Tuesday 20:00 in Denver is Wednesday 02:00 UTC; locally it is first + 1, inside a
    # two-day window.
    spec = SeriesSpec(sessions=2, min_interval_hours=24, window_days=2, chair_minutes=60)
    result = find(
        spec=spec,
        opening_hours=(OpeningHours(0, time(8), time(9)), OpeningHours(1, time(20), time(21))),
        staff=tuple(
            Staff(i, i, role, shifts(DENVER, time(6), time(23))) for i, role in STAFF_ROLES
        ),
        horizon_days=1,
    )
    second = result.proposals[0].sessions[1]
    assert wall(second.start) == local(TUE, 20)
    assert second.start.date() == WED


def test_window_cannot_hold_spacing() -> None:
    spec = SeriesSpec(sessions=3, min_interval_hours=48, window_days=3, chair_minutes=60)
    result = find(spec=spec)
    assert result.proposals == ()
    assert result.reason == (
        "The protocol's window of 3 days cannot hold 3 sessions at least 48 hours apart."
    )


def test_spacing_below_chair_time_still_never_overlaps() -> None:
    spec = SeriesSpec(sessions=3, min_interval_hours=0, window_days=1, chair_minutes=90)
    result = find(spec=spec)
    assert starts(result) == [local(MON, 8), local(MON, 9, 30), local(MON, 11)]


# --- closures and preferences -------------------------------------------------------------


@pytest.mark.parametrize(
    ("closure", "expected"),
    [
        (Closure(MON, TUE), [local(WED, 8), local(THU, 8), local(FRI, 8)]),
        (Closure(TUE, WED), [local(MON, 8), local(THU, 8), local(FRI, 8)]),
        (Closure(WED, WED), [local(MON, 8), local(TUE, 8), local(THU, 8)]),
    ],
)
def test_closure_pushes_the_series(closure: Closure, expected: list[datetime]) -> None:
    assert starts(find(closures=(closure,))) == expected


@pytest.mark.parametrize(
    ("preferences", "expected"),
    [
        (Preferences(weekdays=frozenset({0, 2, 4})), [local(MON, 8), local(WED, 8), local(FRI, 8)]),
        (Preferences(time_from=time(13)), [local(MON, 13), local(TUE, 13), local(WED, 13)]),
        (
            Preferences(time_from=time(10, 30), time_to=time(12)),
            [local(MON, 10, 30), local(TUE, 10, 30), local(WED, 10, 30)],
        ),
        (Preferences(time_to=time(9)), [local(MON, 8), local(TUE, 8), local(WED, 8)]),
    ],
)
def test_preferences(preferences: Preferences, expected: list[datetime]) -> None:
    spec = SeriesSpec(sessions=3, min_interval_hours=24, window_days=7, chair_minutes=60)
    assert starts(find(spec=spec, preferences=preferences)) == expected


def test_time_to_bounds_the_session_end() -> None:
    result = find(preferences=Preferences(time_from=time(11), time_to=time(11, 45)))
    assert result.proposals == ()
    assert result.reason == reason(REASON_PREFERENCES)


def test_weekday_preference_applies_to_every_session() -> None:
    # Mondays only: three Mondays do not fit in 7 days.
    result = find(preferences=Preferences(weekdays=frozenset({0})))
    assert result.proposals == ()
    assert result.reason == reason(REASON_NO_SERIES)


# --- daylight-saving changes --------------------------------------------------------------


@pytest.mark.parametrize("tz", ZONES)
def test_spring_forward_skips_a_local_time_that_does_not_exist(tz: str) -> None:
    spec = SeriesSpec(sessions=1, min_interval_hours=24, window_days=1, chair_minutes=30)
    night = tuple(
        Staff(i, i, role, ((at(tz, SPRING_FORWARD, 0), at(tz, SPRING_FORWARD, 6)),))
        for i, role in STAFF_ROLES
    )
    result = find(
        time_zone=tz,
        spec=spec,
        opening_hours=(OpeningHours(6, time(2, 30), time(4)),),
        staff=night,
        now=at(tz, SPRING_FORWARD - DAY, 12),
        horizon_days=2,
        alternatives=0,
    )
    session = result.proposals[0].sessions[0]
    # 02:30 does not exist that night; the first real time on the grid is 03:00 daylight time.
    assert wall(session.start, tz) == local(SPRING_FORWARD, 3)
    assert session.start.astimezone(ZoneInfo(tz)).utcoffset() == at(tz, MON, 3).utcoffset()


@pytest.mark.parametrize("tz", ZONES)
def test_spring_forward_grid_never_lands_in_the_gap(tz: str) -> None:
    # Every 45 minutes from 01:00 on 2026-03-08: 01:00, 01:45, (02:30 does not exist), 03:15,
    # 04:00. Read as standard time, 02:30 would pose as 03:30 daylight time, a time off the
    # grid that the patient's booking leaves free; it must not be offered.
    spec = SeriesSpec(sessions=1, min_interval_hours=24, window_days=1, chair_minutes=30)
    night = tuple(
        Staff(i, i, role, ((at(tz, SPRING_FORWARD, 0), at(tz, SPRING_FORWARD, 6)),))
        for i, role in STAFF_ROLES
    )
    busy = (Busy("patient", PATIENT, at(tz, SPRING_FORWARD, 1), at(tz, SPRING_FORWARD, 3, 30)),)
    result = find(
        time_zone=tz,
        spec=spec,
        opening_hours=(OpeningHours(6, time(1), time(5)),),
        staff=night,
        busy=busy,
        now=at(tz, SPRING_FORWARD - DAY, 12),
        step_minutes=45,
        horizon_days=2,
        alternatives=0,
    )
    session = result.proposals[0].sessions[0]
    assert wall(session.start, tz) == local(SPRING_FORWARD, 4)
    assert session.start - at(tz, SPRING_FORWARD, 1) == timedelta(hours=2)  # real hours


@pytest.mark.parametrize("tz", ZONES)
def test_series_across_spring_forward_keeps_elapsed_hours(tz: str) -> None:
    spec = SeriesSpec(sessions=2, min_interval_hours=24, window_days=2, chair_minutes=60)
    result = find(
        time_zone=tz,
        spec=spec,
        opening_hours=hours(days=range(7), opens=time(9), closes=time(17)),
        now=at(tz, SPRING_FORWARD - DAY, 8),
    )
    first, second = result.proposals[0].sessions
    assert wall(first.start, tz) == local(SPRING_FORWARD - DAY, 9)
    assert second.start - first.start == timedelta(hours=24)
    # 24 real hours after 09:00 standard time is 10:00 daylight time, not 09:00.
    assert wall(second.start, tz) == local(SPRING_FORWARD, 10)


@pytest.mark.parametrize("tz", ZONES)
def test_series_across_fall_back_keeps_elapsed_hours(tz: str) -> None:
    spec = SeriesSpec(sessions=2, min_interval_hours=24, window_days=2, chair_minutes=60)
    result = find(
        time_zone=tz,
        spec=spec,
        opening_hours=hours(days=range(7), opens=time(8), closes=time(17)),
        now=at(tz, FALL_BACK - DAY, 8, 50),
    )
    first, second = result.proposals[0].sessions
    assert wall(first.start, tz) == local(FALL_BACK - DAY, 9)
    assert second.start - first.start == timedelta(hours=24)
    # 24 real hours after 09:00 daylight time is 08:00 standard time.
    assert wall(second.start, tz) == local(FALL_BACK, 8)


@pytest.mark.parametrize("tz", ZONES)
def test_fall_back_ambiguous_time_takes_the_first_occurrence(tz: str) -> None:
    spec = SeriesSpec(sessions=1, min_interval_hours=24, window_days=1, chair_minutes=30)
    night = tuple(
        Staff(i, i, role, ((at(tz, FALL_BACK, 0), at(tz, FALL_BACK, 6)),))
        for i, role in STAFF_ROLES
    )
    result = find(
        time_zone=tz,
        spec=spec,
        opening_hours=(OpeningHours(6, time(1, 30), time(3)),),
        staff=night,
        now=at(tz, FALL_BACK - DAY, 12),
        horizon_days=2,
        alternatives=0,
    )
    session = result.proposals[0].sessions[0]
    first_occurrence = at(tz, FALL_BACK, 1, 30, fold=0).astimezone(UTC)
    second_occurrence = at(tz, FALL_BACK, 1, 30, fold=1).astimezone(UTC)
    assert session.start == first_occurrence == second_occurrence - HOUR
    daylight = at(tz, FALL_BACK - DAY, 12).utcoffset()
    assert session.start.astimezone(ZoneInfo(tz)).utcoffset() == daylight


# --- staff, rooms and the patient ---------------------------------------------------------


@pytest.mark.parametrize(
    ("prescribers", "expected"),
    [
        ((), REASON_NO_PRESCRIBER),
        # On site only 08:00–08:30 each day: never for a whole 60-minute chair time.
        ((Staff("p1", "p1", "prescriber", shifts(DENVER, time(8), time(8, 30))),),
         REASON_NO_PRESCRIBER),
        ((person("p1", "prescriber", valid_until=MON - DAY),), REASON_PRESCRIBER_CREDENTIALS),
    ],
)  # fmt: skip
def test_no_prescriber_on_site(prescribers: tuple[Staff, ...], expected: str) -> None:
    result = find(staff=(person("n1", "nurse"), *prescribers))
    assert result.proposals == ()
    assert result.reason == reason(expected)


@pytest.mark.parametrize(
    ("nurses", "expected"),
    [
        ((), REASON_NO_NURSE),
        ((person("n1", "nurse", valid_until=MON - DAY),), REASON_NURSE_CREDENTIALS),
    ],
)
def test_no_nurse_on_shift(nurses: tuple[Staff, ...], expected: str) -> None:
    result = find(staff=(person("p1", "prescriber"), *nurses))
    assert result.proposals == ()
    assert result.reason == reason(expected)


def test_credentials_are_checked_on_each_session_date() -> None:
    # Ann's credentials lapse after Monday; Ben covers the rest of the series.
    staff = (
        person("n1", "nurse"),
        person("ann", "prescriber", name="Ann", valid_until=MON),
        person("ben", "prescriber", name="Ben"),
    )
    sessions = find(staff=staff).proposals[0].sessions
    assert [s.prescriber_id for s in sessions] == ["ann", "ben", "ben"]


def test_credentials_valid_on_the_last_date() -> None:
    staff = (person("n1", "nurse", valid_until=WED), person("p1", "prescriber", valid_until=WED))
    result = find(staff=staff)
    assert starts(result) == [local(MON, 8), local(TUE, 8), local(WED, 8)]
    assert len(result.proposals) == 1  # a Tuesday start would need Thursday


def _nurse_busy(nurse: str, *spans: tuple[int, int, int, int]) -> tuple[Busy, ...]:
    return tuple(
        Busy("nurse", nurse, at(DENVER, MON, h1, m1), at(DENVER, MON, h2, m2))
        for h1, m1, h2, m2 in spans
    )


@pytest.mark.parametrize(
    ("nurses", "busy", "capacity", "expected_start", "expected_nurse"),
    [
        # One nurse already watching a patient 08:00–09:00, capacity 1: wait until 09:00.
        (("alice",), _nurse_busy("alice", (8, 0, 9, 0)), 1, local(MON, 9), "alice"),
        # A second nurse is free at 08:00.
        (("alice", "bea"), _nurse_busy("alice", (8, 0, 9, 0)), 1, local(MON, 8), "bea"),
        # Capacity 2 lets Alice take a second patient at once.
        (("alice",), _nurse_busy("alice", (8, 0, 9, 0)), 2, local(MON, 8), "alice"),
        # Two back-to-back patients never overlap: peak load 1 < 2, so 08:00 fits.
        (("alice",), _nurse_busy("alice", (8, 0, 8, 30), (8, 30, 9, 0)), 2, local(MON, 8), "alice"),
        # Two overlapping patients 08:30–09:00: full until 09:00.
        (("alice",), _nurse_busy("alice", (8, 0, 9, 0), (8, 30, 9, 30)), 2, local(MON, 9), "alice"),
    ],
)
def test_nurse_capacity(
    nurses: tuple[str, ...],
    busy: tuple[Busy, ...],
    capacity: int,
    expected_start: datetime,
    expected_nurse: str,
) -> None:
    staff = (*(person(n, "nurse") for n in nurses), person("p1", "prescriber"))
    result = find(staff=staff, busy=busy, nurse_capacity=capacity)
    first = result.proposals[0].sessions[0]
    assert (wall(first.start), first.nurse_id) == (expected_start, expected_nurse)


def test_every_nurse_at_capacity() -> None:
    busy = tuple(
        Busy("nurse", "n1", at(DENVER, MON + i * DAY, 8), at(DENVER, MON + i * DAY, 17))
        for i in range(7)
    )
    result = find(busy=busy, nurse_capacity=1, horizon_days=7)
    assert result.proposals == ()
    assert result.reason == reason(REASON_NURSE_CAPACITY, nurse_capacity=1, horizon_days=7)


def test_nurse_with_fewest_bookings_that_day_is_chosen() -> None:
    staff = (person("alice", "nurse", name="Alice"), person("bea", "nurse", name="Bea"),
             person("p1", "prescriber"))  # fmt: skip
    busy = (Busy("nurse", "alice", at(DENVER, MON, 14), at(DENVER, MON, 15)),)
    sessions = find(staff=staff, busy=busy).proposals[0].sessions
    assert [s.nurse_id for s in sessions] == ["bea", "alice", "alice"]


@pytest.mark.parametrize(
    ("rooms", "expected_start", "expected_room"),
    [
        ((ROOM_1,), local(MON, 10), "r1"),
        ((ROOM_2, ROOM_1), local(MON, 8), "r2"),  # Treatment 1 is busy, Treatment 2 is free
    ],
)
def test_room_busy(rooms: tuple[Room, ...], expected_start: datetime, expected_room: str) -> None:
    busy = (Busy("room", "r1", at(DENVER, MON, 8), at(DENVER, MON, 10)),)
    first = find(rooms=rooms, busy=busy).proposals[0].sessions[0]
    assert (wall(first.start), first.room_id) == (expected_start, expected_room)


def test_rooms_are_chosen_by_name() -> None:
    first = find(rooms=(ROOM_2, ROOM_1)).proposals[0].sessions[0]
    assert first.room_id == "r1"


def test_no_room_free() -> None:
    busy = tuple(
        Busy("room", "r1", at(DENVER, MON + i * DAY, 0), at(DENVER, MON + i * DAY, 23))
        for i in range(7)
    )
    result = find(busy=busy, horizon_days=7)
    assert result.proposals == ()
    assert result.reason == reason(REASON_NO_ROOM, horizon_days=7)


def test_patient_already_booked() -> None:
    busy = (
        Busy("patient", PATIENT, at(DENVER, MON, 8), at(DENVER, MON, 12)),
        Busy("patient", "someone-else", at(DENVER, MON, 12), at(DENVER, MON, 13)),
    )
    result = find(busy=busy)
    assert starts(result)[0] == local(MON, 12)


def test_patient_booked_at_every_time() -> None:
    busy = (Busy("patient", PATIENT, at(DENVER, MON, 0), at(DENVER, MON + 7 * DAY, 0)),)
    result = find(busy=busy, horizon_days=7)
    assert result.proposals == ()
    assert result.reason == reason(REASON_PATIENT_BUSY, horizon_days=7)


def test_an_empty_busy_interval_holds_nothing() -> None:
    # 02:00–03:00 on the spring-forward night is no time at all.
    busy = (
        Busy("room", "r1", at(DENVER, MON, 8), at(DENVER, MON, 8)),
        Busy("room", "r1", at(DENVER, SPRING_FORWARD, 2), at(DENVER, SPRING_FORWARD, 3)),
    )
    assert starts(find(busy=busy))[0] == local(MON, 8)


def test_busy_overlap_is_half_open() -> None:
    # A room booked until 09:00 is free from 09:00; one booked from 09:00 frees 08:00–09:00.
    busy = (
        Busy("room", "r1", at(DENVER, MON, 7), at(DENVER, MON, 8, 45)),
        Busy("room", "r1", at(DENVER, MON, 9, 45), at(DENVER, MON, 12)),
    )
    assert starts(find(busy=busy))[0] == local(MON, 8, 45)


# --- reasons in order ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # The window is reported before anything else, even a clinic with no hours.
        (
            {"spec": SeriesSpec(3, 96, 7, 60), "opening_hours": ()},
            REASON_WINDOW_TOO_SHORT.format(window_days=7, sessions=3, min_interval_hours=96),
        ),
        ({"opening_hours": ()}, REASON_NO_OPENING_HOURS),
        ({"opening_hours": (OpeningHours(0, time(9), time(9)),)}, REASON_NO_OPENING_HOURS),
        ({"closures": (Closure(MON, MON + 59 * DAY),)}, reason(REASON_CLOSED)),
        ({"spec": SeriesSpec(3, 24, 7, 600)}, reason(REASON_NO_OPEN_TIME, chair_minutes=600)),
        # Neither prescriber nor nurse: the prescriber is named first.
        ({"staff": ()}, reason(REASON_NO_PRESCRIBER)),
        ({"staff": (person("p1", "prescriber"),), "rooms": ()}, reason(REASON_NO_NURSE)),
        ({"rooms": ()}, reason(REASON_NO_ROOM)),
    ],
)
def test_reason_order(overrides: dict[str, Any], expected: str) -> None:
    result = find(**overrides)
    assert result.proposals == ()
    assert result.reason == expected


# --- input validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"spec": SeriesSpec(0, 24, 7, 60)}, ERROR_SESSIONS),
        ({"spec": SeriesSpec(3, 24, 7, 0)}, ERROR_CHAIR_MINUTES),
        ({"spec": SeriesSpec(3, 24, 0, 60)}, ERROR_WINDOW_DAYS),
        ({"spec": SeriesSpec(3, -1, 7, 60)}, ERROR_MIN_INTERVAL),
        ({"nurse_capacity": 0}, ERROR_NURSE_CAPACITY),
        ({"step_minutes": 0}, ERROR_STEP_MINUTES),
        ({"horizon_days": 0}, ERROR_HORIZON_DAYS),
        ({"alternatives": -1}, ERROR_ALTERNATIVES),
        ({"time_zone": "Mars/Olympus"}, ERROR_TIME_ZONE.format(time_zone="Mars/Olympus")),
        ({"now": datetime(2026, 4, 6, 7)}, ERROR_NAIVE.format(what="now")),
        ({"opening_hours": (OpeningHours(7, time(8), time(9)),)}, ERROR_WEEKDAY.format(weekday=7)),
        ({"staff": (Staff("x", "x", "porter", ()),)}, ERROR_ROLE.format(role="porter")),
        (
            {"busy": (Busy("desk", "d", at(DENVER, MON, 8), at(DENVER, MON, 9)),)},
            ERROR_BUSY_KIND.format(kind="desk"),
        ),
        (
            {"busy": (Busy("room", "r1", at(DENVER, MON, 9), at(DENVER, MON, 8)),)},
            ERROR_REVERSED_INTERVAL.format(what="A busy interval"),
        ),
        (
            {"staff": (Staff("n", "n", "nurse", ((at(DENVER, MON, 9), at(DENVER, MON, 8)),)),)},
            ERROR_REVERSED_INTERVAL.format(what="A shift"),
        ),
    ],
)
def test_invalid_input(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        find(**overrides)
    assert str(exc.value) == message


# --- expand_weekly ------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    ("before", "after"),
    [(date(2026, 3, 2), date(2026, 3, 9)), (date(2026, 10, 26), date(2026, 11, 2))],
)
def test_expand_weekly_keeps_local_hours_across_dst(tz: str, before: date, after: date) -> None:
    intervals = expand_weekly(
        time_zone=tz, weekly=[(0, time(8), time(16))], date_from=before, date_to=after
    )
    assert [(wall(s, tz), wall(e, tz)) for s, e in intervals] == [
        (local(before, 8), local(before, 16)),
        (local(after, 8), local(after, 16)),
    ]
    # The same wall-clock hours are a different UTC time after the change.
    assert intervals[0][0].time() != intervals[1][0].time()
    assert all(s.tzinfo is UTC and e - s == timedelta(hours=8) for s, e in intervals)


def test_expand_weekly_with_off_dates_and_extra_shifts() -> None:
    intervals = expand_weekly(
        time_zone=DENVER,
        weekly=[(0, time(8), time(16)), (2, time(12), time(20))],
        date_from=date(2026, 3, 2),
        date_to=date(2026, 3, 15),
        off_dates=[date(2026, 3, 4), date(2026, 3, 9)],
        extra=[
            (date(2026, 3, 9), time(10), time(14)),  # a replaced Monday shift
            (SPRING_FORWARD, time(2, 30), time(6)),  # starts in the gap: moved to 03:00
            (date(2026, 3, 13), time(22), time(6)),  # overnight into Saturday
            (date(2026, 3, 20), time(8), time(16)),  # outside the range: left out
        ],
    )
    assert [(wall(s), wall(e)) for s, e in intervals] == [
        (local(date(2026, 3, 2), 8), local(date(2026, 3, 2), 16)),
        (local(SPRING_FORWARD, 3), local(SPRING_FORWARD, 6)),
        (local(date(2026, 3, 9), 10), local(date(2026, 3, 9), 14)),
        (local(date(2026, 3, 11), 12), local(date(2026, 3, 11), 20)),
        (local(date(2026, 3, 13), 22), local(date(2026, 3, 14), 6)),
    ]
    assert intervals[1][0] == datetime(2026, 3, 8, 9, tzinfo=UTC)  # 03:00 MDT, three real hours
    assert intervals[1][1] - intervals[1][0] == timedelta(hours=3)


def test_expand_weekly_ambiguous_start_takes_first_occurrence() -> None:
    ((start, end),) = expand_weekly(
        time_zone=DENVER,
        weekly=[(6, time(1, 30), time(3))],
        date_from=FALL_BACK,
        date_to=FALL_BACK,
    )
    assert start == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)  # 01:30 MDT
    assert end - start == timedelta(hours=2, minutes=30)


def test_expand_weekly_rejects_a_bad_weekday() -> None:
    with pytest.raises(ValueError, match="weekday 9"):
        expand_weekly(time_zone=DENVER, weekly=[(9, time(8), time(9))], date_from=MON, date_to=MON)


# --- properties over random small calendars -----------------------------------------------


def _overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _covered(shift_list: Sequence[tuple[datetime, datetime]], s: datetime, e: datetime) -> bool:
    """Whether the union of shifts covers [s, e)."""
    cursor = s
    for start, end in sorted(shift_list):
        if start <= cursor < end:
            cursor = end
        if cursor >= e:
            return True
    return cursor >= e


def _peak(intervals: Sequence[tuple[datetime, datetime]], s: datetime, e: datetime) -> int:
    points = [s, *(a for a, _ in intervals if s < a < e)]
    return max(sum(1 for a, b in intervals if a <= p < b) for p in points)


@st.composite
def calendars(draw: st.DrawFn, daytime_only: bool = False) -> dict[str, Any]:
    tz = draw(st.sampled_from(ZONES))
    base = draw(st.sampled_from([date(2026, 3, 5), date(2026, 4, 6), date(2026, 10, 29)]))
    first_hour, last_hour = (6, 20) if daytime_only else (0, 22)
    minutes = st.sampled_from([0, 15, 30, 45])

    def local_span(draw_hour_range: tuple[int, int]) -> tuple[time, time]:
        h = draw(st.integers(*draw_hour_range))
        m = draw(minutes)
        length = draw(st.integers(1, 10 * 4)) * 15
        end_minutes = min(h * 60 + m + length, 23 * 60 + 45)
        return time(h, m), time(end_minutes // 60, end_minutes % 60)

    opening = []
    for weekday in draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)):
        opens, closes = local_span((first_hour, last_hour))
        opening.append(OpeningHours(weekday, opens, closes))
    closures = [
        Closure(base + timedelta(days=d), base + timedelta(days=d + n))
        for d, n in draw(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 2)), max_size=2))
    ]
    rooms = [Room(f"r{i}", f"Room {i}") for i in range(draw(st.integers(1, 2)))]
    staff = []
    for role, count in (
        ("nurse", draw(st.integers(1, 2))),
        ("prescriber", draw(st.integers(1, 2))),
    ):
        for i in range(count):
            weekly = []
            for weekday in draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)):
                start, end = local_span((first_hour, last_hour))
                weekly.append((weekday, start, end))
            valid = draw(st.one_of(st.none(), st.integers(0, 25)))
            staff.append(
                Staff(
                    f"{role}{i}",
                    f"{role} {i}",
                    role,
                    expand_weekly(
                        time_zone=tz, weekly=weekly, date_from=base - DAY, date_to=base + 40 * DAY
                    ),
                    None if valid is None else base + timedelta(days=valid),
                )
            )
    ids = {"room": [r.id for r in rooms], "patient": [PATIENT, "other"],
           "nurse": [p.id for p in staff if p.role == "nurse"],
           "prescriber": [p.id for p in staff if p.role == "prescriber"]}  # fmt: skip
    busy = []
    for kind, offset, length in draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(ids)), st.integers(0, 20 * 96), st.integers(1, 12)),
            max_size=25,
        )
    ):
        # Real elapsed minutes (as stored, in UTC), given back in the clinic's zone.
        start = at(tz, base, 0).astimezone(UTC) + timedelta(minutes=15 * offset)
        end = start + timedelta(minutes=15 * length)
        who = draw(st.sampled_from(ids[kind]))
        busy.append(Busy(kind, who, start.astimezone(ZoneInfo(tz)), end.astimezone(ZoneInfo(tz))))
    weekdays = draw(st.one_of(st.none(), st.frozensets(st.integers(0, 6), min_size=1)))
    time_from = draw(st.one_of(st.none(), st.sampled_from([time(7), time(9), time(12)])))
    time_to = draw(st.one_of(st.none(), st.sampled_from([time(12), time(16), time(21)])))
    return {
        "spec": SeriesSpec(
            sessions=draw(st.integers(1, 4)),
            min_interval_hours=draw(st.sampled_from([0, 2, 23, 24, 48])),
            window_days=draw(st.integers(1, 10)),
            chair_minutes=draw(st.sampled_from([30, 60, 90, 120])),
        ),
        "time_zone": tz,
        "opening_hours": tuple(opening),
        "closures": tuple(closures),
        "rooms": tuple(rooms),
        "staff": tuple(staff),
        "busy": tuple(busy),
        "nurse_capacity": draw(st.integers(1, 2)),
        "preferences": Preferences(weekdays=weekdays, time_from=time_from, time_to=time_to),
        "now": at(tz, base, draw(st.integers(0, 23))),
        "patient_id": PATIENT,
        "step_minutes": draw(st.sampled_from([15, 30, 60])),
        "horizon_days": 10,
        "alternatives": 2,
    }


def _check_proposal(proposal: SeriesProposal, cal: dict[str, Any]) -> None:
    zone = ZoneInfo(cal["time_zone"])
    spec: SeriesSpec = cal["spec"]
    prefs: Preferences = cal["preferences"]
    staff = {p.id: p for p in cal["staff"]}
    busy: list[Busy] = cal["busy"]
    sessions = proposal.sessions
    assert len(sessions) == spec.sessions
    first_day = sessions[0].start.astimezone(zone).date()
    assert sessions[-1].start.astimezone(zone).date() <= first_day + timedelta(
        days=spec.window_days - 1
    )
    for previous, current in pairwise(sessions):
        assert current.start - previous.start >= timedelta(hours=spec.min_interval_hours)
        assert not _overlaps((previous.start, previous.end), (current.start, current.end))
    for s in sessions:
        span = (s.start, s.end)
        assert s.start.tzinfo is UTC and s.end - s.start == timedelta(minutes=spec.chair_minutes)
        assert s.start >= cal["now"]
        start_local, end_local = s.start.astimezone(zone), s.end.astimezone(zone)
        day = start_local.date()
        # The start is a real local time, and the first occurrence if ambiguous.
        assert datetime.combine(day, start_local.time(), tzinfo=zone).astimezone(UTC) == s.start
        assert end_local.date() == day
        assert any(
            row.weekday == day.weekday() and row.opens <= start_local.time()
            and end_local.time() <= row.closes
            for row in cal["opening_hours"]
        )  # fmt: skip
        assert not any(c.start_date <= day <= c.end_date for c in cal["closures"])
        assert prefs.weekdays is None or day.weekday() in prefs.weekdays
        assert prefs.time_from is None or start_local.time() >= prefs.time_from
        assert prefs.time_to is None or end_local.time() <= prefs.time_to
        for who in (s.nurse_id, s.prescriber_id):
            member = staff[who]
            assert _covered(member.shifts, s.start, s.end)
            valid = member.credentials_valid_until
            assert valid is None or day <= valid
        assert staff[s.nurse_id].role == "nurse" and staff[s.prescriber_id].role == "prescriber"
        assert not any(
            _overlaps(span, (b.start, b.end))
            for b in busy
            if (b.kind, b.id) in {("room", s.room_id), ("patient", PATIENT)}
        )
        nurse_load = [(b.start, b.end) for b in busy if (b.kind, b.id) == ("nurse", s.nurse_id)]
        nurse_load = [i for i in nurse_load if _overlaps(span, i)]
        assert not nurse_load or _peak(nurse_load, s.start, s.end) < cal["nurse_capacity"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars())
def test_every_proposal_keeps_every_rule(cal: dict[str, Any]) -> None:
    result = find_series(**cal)
    assert (result.reason is None) == bool(result.proposals)
    assert len(result.proposals) <= cal["alternatives"] + 1
    zone = ZoneInfo(cal["time_zone"])
    first_days = [p.sessions[0].start.astimezone(zone).date() for p in result.proposals]
    assert first_days == sorted(set(first_days))  # each alternative starts on a later date
    for proposal in result.proposals:
        _check_proposal(proposal, cal)


def _oracle_first_starts(cal: dict[str, Any]) -> list[datetime]:
    """First-session starts of the proposals, found by exhaustive search over every fitting
    time (not only the earliest of each day) with a plain, independent fit test."""
    zone = ZoneInfo(cal["time_zone"])
    spec: SeriesSpec = cal["spec"]
    prefs: Preferences = cal["preferences"]
    busy: list[Busy] = cal["busy"]
    chair = timedelta(minutes=spec.chair_minutes)
    today = cal["now"].astimezone(zone).date()
    last_first = today + timedelta(days=cal["horizon_days"] - 1)
    last_any = last_first + timedelta(days=spec.window_days - 1)

    def holds(kind: str, who: str) -> list[tuple[datetime, datetime]]:
        return [(b.start, b.end) for b in busy if (b.kind, b.id) == (kind, who)]

    def fits(s: datetime, day: date) -> bool:
        e = s + chair
        ok_staff = {}
        for role in ("nurse", "prescriber"):
            ok_staff[role] = [
                p for p in cal["staff"] if p.role == role and _covered(p.shifts, s, e)
                and (p.credentials_valid_until is None or day <= p.credentials_valid_until)
            ]  # fmt: skip
        nurse_ok = any(
            not (load := [i for i in holds("nurse", n.id) if _overlaps((s, e), i)])
            or _peak(load, s, e) < cal["nurse_capacity"]
            for n in ok_staff["nurse"]
        )
        room_ok = any(
            not any(_overlaps((s, e), i) for i in holds("room", r.id)) for r in cal["rooms"]
        )
        patient_ok = not any(_overlaps((s, e), i) for i in holds("patient", PATIENT))
        return bool(ok_staff["prescriber"]) and nurse_ok and room_ok and patient_ok

    times: list[tuple[datetime, date]] = []
    day = today
    while day <= last_any:
        closed = any(c.start_date <= day <= c.end_date for c in cal["closures"])
        for row in cal["opening_hours"]:
            if closed or row.weekday != day.weekday():
                continue
            wall_time = datetime.combine(day, row.opens)
            while wall_time.time() < row.closes and wall_time.date() == day:
                s = wall_time.replace(tzinfo=zone).astimezone(UTC)
                end_local = (s + chair).astimezone(zone)
                in_row = end_local.date() == day and end_local.time() <= row.closes
                preferred = (
                    (prefs.weekdays is None or day.weekday() in prefs.weekdays)
                    and (prefs.time_from is None or wall_time.time() >= prefs.time_from)
                    and (prefs.time_to is None or end_local.time() <= prefs.time_to)
                )
                if in_row and preferred and s >= cal["now"] and fits(s, day):
                    times.append((s, day))
                wall_time += timedelta(minutes=cal["step_minutes"])
        day += DAY
    times = sorted(set(times))
    gap = max(timedelta(hours=spec.min_interval_hours), chair)
    memo: dict[tuple[int, int, date], bool] = {}

    def can_follow(i: int, remaining: int, last: date) -> bool:
        if remaining == 0:
            return True
        key = (i, remaining, last)
        if key not in memo:
            memo[key] = any(
                times[j][0] >= times[i][0] + gap and times[j][1] <= last
                and can_follow(j, remaining - 1, last)
                for j in range(i + 1, len(times))
            )  # fmt: skip
        return memo[key]

    firsts: list[datetime] = []
    after = today - DAY
    for i, (s, day) in enumerate(times):
        if len(firsts) > cal["alternatives"] or day > last_first:
            break
        if day <= after:
            continue
        if can_follow(i, spec.sessions - 1, day + timedelta(days=spec.window_days - 1)):
            firsts.append(s)
            after = day
    return firsts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars(daytime_only=True))
def test_proposals_match_an_exhaustive_search(cal: dict[str, Any]) -> None:
    cal["step_minutes"] = 60
    cal["horizon_days"] = 6
    result = find_series(**cal)
    assert [p.sessions[0].start for p in result.proposals] == _oracle_first_starts(cal)
