"""Benchmark: the series slot finder as the site's calendar fills up.

Builds one site (America/Denver, open weekdays 08:00–18:00) with 10 rooms and 20 staff
(10 nurses, 10 prescribers on weekday shifts 08:00–18:00), then a month of existing
appointments of 60–120 minutes for other patients, each holding a room, a nurse and a
prescriber (plus that patient). For each calendar size it times ``find_series`` — the earliest
series and two alternatives — and prints the median milliseconds, the first session's local
date, and the ratio between the largest and the smallest calendar: a finder whose cost grows
with the bookings shows a ratio well above 1. "no fit" asks for Sundays only, so every open
time in the 60-day horizon is examined before the reason is given: the slowest path.

    .venv/bin/python bench/slot_finder.py                  # 0, 200, 800 and 1600 appointments
    .venv/bin/python bench/slot_finder.py 0 400 3200
"""

import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ketapath.scheduling.rules import (  # noqa: E402
    Busy,
    OpeningHours,
    Preferences,
    Room,
    SeriesSpec,
    SlotResult,
    Staff,
    expand_weekly,
    find_series,
)

TIME_ZONE = "America/Denver"
ZONE = ZoneInfo(TIME_ZONE)
START = date(2026, 4, 6)  # a Monday
NOW = datetime.combine(START, dtime(7), tzinfo=ZONE)
REPEATS = 25
NURSE_CAPACITY = 2
OPENING = tuple(OpeningHours(d, dtime(8), dtime(18)) for d in range(5))
ROOMS = tuple(Room(f"room-{i:02d}", f"Treatment {i:02d}") for i in range(1, 11))
SHIFTS = expand_weekly(
    time_zone=TIME_ZONE,
    weekly=[(d, dtime(8), dtime(18)) for d in range(5)],
    date_from=START,
    date_to=START + timedelta(days=120),
)
NURSES = tuple(Staff(f"nurse-{i:02d}", f"Nurse {i:02d}", "nurse", SHIFTS) for i in range(1, 11))
PRESCRIBERS = tuple(
    Staff(f"prescriber-{i:02d}", f"Prescriber {i:02d}", "prescriber", SHIFTS) for i in range(1, 11)
)
SCENARIOS = {
    "3 sessions, 24 h, 7 days": (SeriesSpec(3, 24, 7, 90), Preferences()),
    "6 sessions, 48 h, 21 days": (SeriesSpec(6, 48, 21, 120), Preferences()),
    "no fit (Sundays only)": (SeriesSpec(3, 24, 7, 90), Preferences(weekdays=frozenset({6}))),
}


def bookings(count: int, seed: int = 5) -> tuple[Busy, ...]:
    """``count`` appointments on the weekdays of the month from START, each holding a room,
    a nurse, a prescriber and another patient; rooms and staff are drawn at random, so a busy
    calendar also has double bookings, which only make the search harder."""
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not secrets
    weekdays = [d for i in range(30) if (d := START + timedelta(days=i)).weekday() < 5]
    rows: list[Busy] = []
    for n in range(count):
        day = rng.choice(weekdays)
        local_start = datetime.combine(day, dtime(8), tzinfo=ZONE) + timedelta(
            minutes=15 * rng.randrange(0, 33)
        )
        start = local_start.astimezone(UTC)  # stored in UTC, as the database returns them
        end = start + timedelta(minutes=rng.choice((60, 90, 120)))
        rows += [
            Busy("room", rng.choice(ROOMS).id, start, end),
            Busy("nurse", rng.choice(NURSES).id, start, end),
            Busy("prescriber", rng.choice(PRESCRIBERS).id, start, end),
            Busy("patient", f"other-{n}", start, end),
        ]
    return tuple(rows)


def run(spec: SeriesSpec, preferences: Preferences, busy: tuple[Busy, ...]) -> SlotResult:
    return find_series(
        spec=spec,
        time_zone=TIME_ZONE,
        opening_hours=OPENING,
        closures=(),
        rooms=ROOMS,
        staff=NURSES + PRESCRIBERS,
        busy=busy,
        nurse_capacity=NURSE_CAPACITY,
        preferences=preferences,
        now=NOW,
        patient_id="patient-under-test",
    )


def measure(
    spec: SeriesSpec, preferences: Preferences, busy: tuple[Busy, ...]
) -> tuple[float, str]:
    result = run(spec, preferences, busy)  # warm up
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run(spec, preferences, busy)
        times.append(time.perf_counter() - start)
    if result.proposals:
        first = result.proposals[0].sessions[0].start.astimezone(ZONE)
        found = f"{first:%b %d} +{len(result.proposals) - 1}"
    else:
        found = "none"
    return statistics.median(times) * 1000, found


def main(sizes: list[int]) -> None:
    calendars = {size: bookings(size) for size in sizes}
    print(f"site: {len(ROOMS)} rooms, {len(NURSES)} nurses, {len(PRESCRIBERS)} prescribers; "
          f"median of {REPEATS} runs; cell = ms, earliest first session +alternatives")  # fmt: skip
    header = "".join(f"{f'{s} appts / {len(calendars[s])} rows':>26}" for s in sizes)
    print(f"{'scenario':<27}{header}{'ratio':>9}")
    for name, (spec, preferences) in SCENARIOS.items():
        cells = {size: measure(spec, preferences, calendars[size]) for size in sizes}
        row = "".join(f"{f'{ms:7.2f} ms  {found}':>26}" for ms, found in cells.values())
        ratio = cells[sizes[-1]][0] / cells[sizes[0]][0]
        print(f"{name:<27}{row}{ratio:>8.2f}x")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [0, 200, 800, 1600])
