"""The series slot finder and shift expansion: pure functions over plain values.

A course under a protocol needs ``n`` sessions at least ``min_interval_hours`` apart, start
to start in elapsed hours, with the last session's local date at most the first's local date
plus ``window_days`` minus one. Every session needs, for its whole chair time (dose plus
observation), a free room, a nurse on shift below the clinic's nurse capacity, and a
prescriber on site; nurse and prescriber must hold current credentials (licence, ACLS — the
APA 2017 statement's staffing point, clinical.md §1.2). The finder proposes the earliest
series and alternatives starting on later dates, or names the constraint that prevents one.
It proposes; the front desk chooses and the booking service re-checks (DESIGN.md §6).

Times: every datetime given must be timezone-aware; every datetime returned is aware UTC.
Opening hours, closures, preferences and the window are in the clinic's local time, so the
finder is correct across daylight-saving changes (DESIGN.md §5 item 9): local times that do
not exist are skipped, ambiguous ones take their first occurrence (``fold=0``), and spacing
is measured in real elapsed time, so 24 hours after 09:00 on the day before clocks spring
forward is 10:00 local.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NURSE = "nurse"
PRESCRIBER = "prescriber"
ROOM = "room"
PATIENT = "patient"
STAFF_ROLES: frozenset[str] = frozenset({NURSE, PRESCRIBER})
BUSY_KINDS: frozenset[str] = frozenset({ROOM, NURSE, PRESCRIBER, PATIENT})

# Why no series fits, checked in this order; the first that applies is reported.
REASON_WINDOW_TOO_SHORT = (
    "The protocol's window of {window_days} days cannot hold {sessions} sessions "
    "at least {min_interval_hours} hours apart."
)
REASON_NO_OPENING_HOURS = "The clinic has no opening hours."
REASON_CLOSED = "The clinic is not open on any day in the next {horizon_days} days."
REASON_NO_OPEN_TIME = (
    "No opening hours in the next {horizon_days} days leave room for a chair time of "
    "{chair_minutes} minutes."
)
REASON_NO_PRESCRIBER = (
    "No prescriber is on site for a whole chair time of {chair_minutes} minutes during "
    "opening hours in the next {horizon_days} days."
)
REASON_PRESCRIBER_CREDENTIALS = (
    "No prescriber with current credentials (licence, ACLS) is on site during opening hours "
    "in the next {horizon_days} days."
)
REASON_NO_NURSE = (
    "No nurse is on shift for a whole chair time of {chair_minutes} minutes while a "
    "prescriber is on site in the next {horizon_days} days."
)
REASON_NURSE_CREDENTIALS = (
    "No nurse with current credentials (licence, ACLS) is on shift while a prescriber is on "
    "site in the next {horizon_days} days."
)
REASON_NURSE_CAPACITY = (
    "Every nurse on shift already watches {nurse_capacity} patient(s) at once, the most "
    "allowed, whenever a prescriber is on site in the next {horizon_days} days."
)
REASON_NO_ROOM = (
    "No room is free while a nurse and a prescriber are available in the next {horizon_days} days."
)
REASON_PATIENT_BUSY = (
    "The patient is already booked whenever a room, a nurse and a prescriber are free in "
    "the next {horizon_days} days."
)
REASON_PREFERENCES = (
    "The patient's preferences (weekdays, earliest and latest time) exclude every time a "
    "session fits in the next {horizon_days} days."
)
REASON_NO_SERIES = (
    "No series of {sessions} sessions fits within {window_days} days in the next "
    "{horizon_days} days."
)

# Input errors (ValueError).
ERROR_SESSIONS = "sessions must be at least 1."
ERROR_CHAIR_MINUTES = "chair_minutes must be more than 0."
ERROR_WINDOW_DAYS = "window_days must be at least 1."
ERROR_MIN_INTERVAL = "min_interval_hours must not be negative."
ERROR_NURSE_CAPACITY = "nurse_capacity must be at least 1."
ERROR_STEP_MINUTES = "step_minutes must be at least 1."
ERROR_HORIZON_DAYS = "horizon_days must be at least 1."
ERROR_ALTERNATIVES = "alternatives must not be negative."
ERROR_TIME_ZONE = "time_zone {time_zone!r} is not a known IANA time zone."
ERROR_NAIVE = "{what} must be a timezone-aware datetime."
ERROR_REVERSED_INTERVAL = "{what} must not end before it starts."
ERROR_ROLE = "Staff role {role!r} is not one of: nurse, prescriber."
ERROR_BUSY_KIND = "Busy kind {kind!r} is not one of: room, nurse, prescriber, patient."
ERROR_WEEKDAY = "weekday {weekday} is not between 0 (Monday) and 6 (Sunday)."


def window_last_day(first_day: date, window_days: int) -> date:
    """The last local date a series whose first session is on ``first_day`` may use: the
    window counts the first day, so it ends ``window_days - 1`` days later."""
    return first_day + timedelta(days=window_days - 1)


@dataclass(frozen=True)
class SeriesSpec:
    sessions: int  # n sessions in the series (>= 1)
    min_interval_hours: int  # elapsed hours, start to start, between consecutive sessions
    window_days: int  # last session's local date <= first's local date + window_days - 1
    chair_minutes: int  # dose plus observation; room, nurse and prescriber for this long


@dataclass(frozen=True)
class OpeningHours:
    weekday: int  # 0 = Monday; several rows per weekday allowed (a lunch break)
    opens: time
    closes: time


@dataclass(frozen=True)
class Closure:
    start_date: date  # inclusive, local dates
    end_date: date


@dataclass(frozen=True)
class Room:
    id: str
    name: str


@dataclass(frozen=True)
class Staff:
    """A nurse or prescriber with concrete aware intervals on site (see ``expand_weekly``).

    ``credentials_valid_until`` is the last local date the licence and ACLS are both
    current; ``None`` means no expiry is known, and the caller vouches that they are valid.
    """

    id: str
    name: str
    role: str  # "nurse" | "prescriber"
    shifts: tuple[tuple[datetime, datetime], ...]
    credentials_valid_until: date | None = None


@dataclass(frozen=True)
class Busy:
    """An existing, non-cancelled appointment's hold on a room, staff member or patient."""

    kind: str  # "room" | "nurse" | "prescriber" | "patient"
    id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Preferences:
    first_date: date | None = None  # earliest local date for the first session
    weekdays: frozenset[int] | None = None  # allowed local weekdays; None = any
    time_from: time | None = None  # session start not before this local time
    time_to: time | None = None  # session end not after this local time


@dataclass(frozen=True)
class SessionSlot:
    start: datetime  # aware UTC
    end: datetime
    room_id: str
    nurse_id: str
    prescriber_id: str


@dataclass(frozen=True)
class SeriesProposal:
    sessions: tuple[SessionSlot, ...]


@dataclass(frozen=True)
class SlotResult:
    proposals: tuple[SeriesProposal, ...]
    reason: str | None


# --- clinic-local time --------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(ERROR_TIME_ZONE.format(time_zone=time_zone)) from exc


def _us(moment: datetime, what: str = "A datetime") -> int:
    """Microseconds since the epoch: exact integers make overlap tests cheap and exact.

    Subtracting from an aware epoch fails for a naive datetime, which is the check.
    """
    try:
        return (moment - _EPOCH) // _US
    except TypeError as exc:
        raise ValueError(ERROR_NAIVE.format(what=what)) from exc


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive local wall time exists in ``zone`` (it does not in a spring-forward gap)."""
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def _resolve(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall time as an aware UTC instant.

    Ambiguous times take the first occurrence (``fold=0``). A time that does not exist is
    moved to the first valid time after it, the instant the clocks jump (02:30 on a US
    spring-forward day becomes 03:00).
    """
    if _exists(wall, zone):
        return wall.replace(tzinfo=zone).astimezone(UTC)
    # Inside a gap, fold=0 reads the wall time with the offset before the change and fold=1
    # with the offset after; the change itself lies between the two instants. Bisect for
    # the first instant whose local wall time is past ``wall``.
    a = _us(wall.replace(tzinfo=zone, fold=0), "wall")
    b = _us(wall.replace(tzinfo=zone, fold=1), "wall")
    lo, hi = min(a, b), max(a, b)
    while hi - lo > 1_000_000:
        mid = (lo + hi) // 2
        if _from_us(mid).astimezone(zone).replace(tzinfo=None) > wall:
            hi = mid
        else:
            lo = mid
    hi -= hi % 1_000_000  # clock changes happen on whole seconds
    if _from_us(hi).astimezone(zone).replace(tzinfo=None) <= wall:
        hi += 1_000_000
    return _from_us(hi)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += _DAY


def expand_weekly(
    *,
    time_zone: str,
    weekly: Iterable[tuple[int, time, time]],
    date_from: date,
    date_to: date,
    off_dates: Iterable[date] = (),
    extra: Iterable[tuple[date, time, time]] = (),
) -> tuple[tuple[datetime, datetime], ...]:
    """Weekly local shifts plus dated exceptions as concrete aware UTC intervals, sorted.

    ``weekly`` rows are (weekday, start, end) with 0 = Monday; they apply on each local date
    from ``date_from`` to ``date_to`` inclusive except ``off_dates``. ``extra`` rows are
    (date, start, end) shifts added on that date (also on an off date: a replaced shift);
    those outside the date range are left out. An end at or before the start runs past
    midnight into the next day. Times keep their local wall-clock meaning across
    daylight-saving changes; a start or end that does not exist that day is moved to the
    first valid time after it, and an ambiguous one takes its first occurrence.
    """
    zone = _zone(time_zone)
    off = frozenset(off_dates)
    by_weekday: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in weekly:
        if not 0 <= weekday <= 6:
            raise ValueError(ERROR_WEEKDAY.format(weekday=weekday))
        by_weekday.setdefault(weekday, []).append((start, end))
    rows: list[tuple[date, time, time]] = [
        (day, start, end)
        for day in _days(date_from, date_to)
        if day not in off
        for start, end in by_weekday.get(day.weekday(), ())
    ]
    rows.extend(row for row in extra if date_from <= row[0] <= date_to)
    intervals: set[tuple[datetime, datetime]] = set()
    for day, start, end in rows:
        end_day = day if end > start else day + _DAY
        begin = _resolve(datetime.combine(day, start), zone)
        finish = _resolve(datetime.combine(end_day, end), zone)
        if finish > begin:
            intervals.add((begin, finish))
    return tuple(sorted(intervals))


# --- indexes over busy intervals and shifts -----------------------------------------------


@dataclass
class _Intervals:
    """Intervals of one resource sorted by start, for overlap queries by bisection."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    longest: int = 0

    def overlapping(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """Intervals meeting [start, end), half-open. An interval that ends after ``start``
        began after ``start - longest``, so only that slice of the sorted starts is read."""
        lo = bisect_right(self.starts, start - self.longest)
        hi = bisect_left(self.starts, end)
        for i in range(lo, hi):
            if self.ends[i] > start:
                yield self.starts[i], self.ends[i]

    def any_overlap(self, start: int, end: int) -> bool:
        ends = self.ends
        for i in range(bisect_right(self.starts, start - self.longest), len(self.starts)):
            if self.starts[i] >= end:
                return False
            if ends[i] > start:
                return True
        return False


def _index(pairs: Iterable[tuple[int, int]]) -> _Intervals:
    ordered = sorted(pairs)
    return _Intervals(
        starts=[s for s, _ in ordered],
        ends=[e for _, e in ordered],
        longest=max((e - s for s, e in ordered), default=0),
    )


def _merged(pairs: Iterable[tuple[int, int]]) -> _Intervals:
    """Shifts merged where they overlap or touch, so back-to-back shifts cover a session."""
    merged: list[list[int]] = []
    for start, end in sorted(pairs):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return _index((s, e) for s, e in merged)


def _covers(shifts: _Intervals, start: int, end: int) -> bool:
    i = bisect_right(shifts.starts, start) - 1
    return i >= 0 and shifts.ends[i] >= end


def _peak_load(intervals: Sequence[tuple[int, int]], start: int, end: int) -> int:
    """The most intervals that overlap at one instant of [start, end), half-open."""
    events: list[tuple[int, int]] = []
    for s, e in intervals:
        events.append((max(s, start), 1))
        events.append((min(e, end), -1))
    # At equal times an end sorts before a start: [a, b) and [b, c) never overlap.
    events.sort()
    load = peak = 0
    for _, delta in events:
        load += delta
        peak = max(peak, load)
    return peak


# --- the finder ---------------------------------------------------------------------------

# How far a candidate got through the constraints; the furthest stage reached by any open
# time in the horizon names the reason when no series fits.
_STAGE_PRESCRIBER = 0  # no prescriber on site
_STAGE_NURSE = 1  # no nurse on shift
_STAGE_CAPACITY = 2  # every nurse on shift at capacity
_STAGE_ROOM = 3  # no room free
_STAGE_PATIENT = 4  # the patient is booked
_STAGE_FITS = 5


@dataclass(frozen=True)
class _Candidate:
    start: int  # microseconds since the epoch, UTC
    end: int
    day: date  # local date
    preferred: bool  # within the weekday and time preferences


@dataclass(frozen=True)
class _Fit:
    stage: int
    expired: bool  # the stage failed only for lack of current credentials
    room_id: str = ""
    nurse_id: str = ""
    prescriber_id: str = ""


@dataclass(frozen=True)
class _Person:
    id: str
    name: str
    shifts: _Intervals
    valid_until: date | None


def _validate(
    spec: SeriesSpec, nurse_capacity: int, step_minutes: int, horizon_days: int, alternatives: int
) -> None:
    checks = (
        (spec.sessions >= 1, ERROR_SESSIONS),
        (spec.chair_minutes > 0, ERROR_CHAIR_MINUTES),
        (spec.window_days >= 1, ERROR_WINDOW_DAYS),
        (spec.min_interval_hours >= 0, ERROR_MIN_INTERVAL),
        (nurse_capacity >= 1, ERROR_NURSE_CAPACITY),
        (step_minutes >= 1, ERROR_STEP_MINUTES),
        (horizon_days >= 1, ERROR_HORIZON_DAYS),
        (alternatives >= 0, ERROR_ALTERNATIVES),
    )
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


class _Finder:
    """One search: lazily built candidate times per local date and memoised fits."""

    def __init__(
        self,
        *,
        spec: SeriesSpec,
        zone: ZoneInfo,
        opening_hours: Iterable[OpeningHours],
        closures: Iterable[Closure],
        rooms: Iterable[Room],
        staff: Iterable[Staff],
        busy: Iterable[Busy],
        nurse_capacity: int,
        preferences: Preferences,
        now: int,
        patient_id: str | None,
        step_minutes: int,
    ) -> None:
        self.spec = spec
        self.zone = zone
        self.now = now
        self.chair = spec.chair_minutes * 60_000_000
        self.step = timedelta(minutes=step_minutes)
        self.step_us = step_minutes * 60_000_000
        self.capacity = nurse_capacity
        self.preferences = preferences
        self.hours: dict[int, list[tuple[time, time]]] = {}
        for row in opening_hours:
            if not 0 <= row.weekday <= 6:
                raise ValueError(ERROR_WEEKDAY.format(weekday=row.weekday))
            if row.opens < row.closes:
                self.hours.setdefault(row.weekday, []).append((row.opens, row.closes))
        for rows in self.hours.values():
            rows.sort()
        self.closures = [(c.start_date, c.end_date) for c in closures]
        self.rooms = sorted(rooms, key=lambda r: (r.name, r.id))

        by_resource: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for hold in busy:
            if hold.kind not in BUSY_KINDS:
                raise ValueError(ERROR_BUSY_KIND.format(kind=hold.kind))
            if hold.kind == PATIENT and hold.id != patient_id:
                continue  # other patients' appointments hold rooms and staff through their rows
            start = _us(hold.start, "Busy.start")
            end = _us(hold.end, "Busy.end")
            if end < start:
                raise ValueError(ERROR_REVERSED_INTERVAL.format(what="A busy interval"))
            if end == start:
                continue  # holds nothing (a local time inside a clock change can do this)
            by_resource.setdefault((hold.kind, hold.id), []).append((start, end))
        self.busy = {key: _index(pairs) for key, pairs in by_resource.items()}
        self.no_busy = _Intervals()
        self.patient = self.busy.get((PATIENT, patient_id)) if patient_id else None

        self.people: dict[str, list[_Person]] = {NURSE: [], PRESCRIBER: []}
        for person in staff:
            if person.role not in STAFF_ROLES:
                raise ValueError(ERROR_ROLE.format(role=person.role))
            pairs: list[tuple[int, int]] = []
            for shift_start, shift_end in person.shifts:
                s = _us(shift_start, "A shift start")
                e = _us(shift_end, "A shift end")
                if e < s:
                    raise ValueError(ERROR_REVERSED_INTERVAL.format(what="A shift"))
                if e > s:
                    pairs.append((s, e))
            self.people[person.role].append(
                _Person(person.id, person.name, _merged(pairs), person.credentials_valid_until)
            )
        self.candidates: dict[date, list[_Candidate]] = {}
        self.fits: dict[int, _Fit] = {}
        self.ranked: dict[tuple[str, date], list[_Person]] = {}

    def closed(self, day: date) -> bool:
        return any(start <= day <= end for start, end in self.closures)

    def open_day(self, day: date) -> bool:
        return day.weekday() in self.hours and not self.closed(day)

    def on(self, day: date) -> list[_Candidate]:
        """Open times on a local date, sorted: a ``step`` grid in wall-clock time from each
        opening row's start, with the whole chair time inside that row, not in the past."""
        found = self.candidates.get(day)
        if found is not None:
            return found
        found = []
        if self.open_day(day):
            prefs = self.preferences
            weekday_ok = prefs.weekdays is None or day.weekday() in prefs.weekdays
            seen: set[int] = set()
            for opens, closes in self.hours[day.weekday()]:
                first_wall = datetime.combine(day, opens)
                last_wall = datetime.combine(day, closes)
                row_start = _us(_resolve(first_wall, self.zone))
                row_end = _us(_resolve(last_wall, self.zone))
                # Most rows see no clock change: one UTC offset from opening to closing, so
                # each grid time is the opening instant plus whole steps. Rows that span a
                # change convert every wall time, skipping those that do not exist.
                steady = (
                    _exists(first_wall, self.zone)
                    and _exists(last_wall, self.zone)
                    and first_wall.replace(tzinfo=self.zone).utcoffset()
                    == last_wall.replace(tzinfo=self.zone).utcoffset()
                )
                wall, k = first_wall, 0
                while wall < last_wall:
                    if steady:
                        start = row_start + k * self.step_us
                    elif _exists(wall, self.zone):
                        start = _us(wall.replace(tzinfo=self.zone))
                    else:
                        start = -1
                    end = start + self.chair
                    fits_row = start >= 0 and row_start <= start and end <= row_end
                    if fits_row and start >= self.now and start not in seen:
                        seen.add(start)
                        preferred = weekday_ok and self.preferred(wall, end)
                        found.append(_Candidate(start, end, day, preferred))
                    wall += self.step
                    k += 1
            found.sort(key=lambda c: c.start)
        self.candidates[day] = found
        return found

    def preferred(self, wall: datetime, end: int) -> bool:
        prefs = self.preferences
        if prefs.time_from is not None and wall.time() < prefs.time_from:
            return False
        if prefs.time_to is not None:  # the real end, which a clock change can move
            end_local = _from_us(end).astimezone(self.zone)
            if end_local.date() != wall.date() or end_local.time() > prefs.time_to:
                return False
        return True

    def by_load(self, role: str, day: date) -> list[_Person]:
        """Staff of a role, fewest existing bookings starting that local date first, then by
        name, so a series does not pile onto one nurse or prescriber."""
        key = (role, day)
        ranked = self.ranked.get(key)
        if ranked is None:
            begin = _us(_resolve(datetime.combine(day, time.min), self.zone), "day")
            end = _us(_resolve(datetime.combine(day + _DAY, time.min), self.zone), "day")

            def load(person: _Person) -> int:
                starts = self.busy_of(role, person.id).starts
                return bisect_left(starts, end) - bisect_left(starts, begin)

            ranked = sorted(self.people[role], key=lambda p: (load(p), p.name, p.id))
            self.ranked[key] = ranked
        return ranked

    def fit(self, c: _Candidate) -> _Fit:
        """Whether one session fits at ``c``, and with which room, nurse and prescriber.

        The answer does not depend on the other sessions of a proposal: they never overlap
        this one (see ``series``), so they add no load to its room, nurse or patient.
        """
        found = self.fits.get(c.start)
        if found is None:
            found = self._fit(c)
            self.fits[c.start] = found
        return found

    def _fit(self, c: _Candidate) -> _Fit:
        prescriber, expired = self.on_site(PRESCRIBER, c)
        if prescriber is None:
            return _Fit(_STAGE_PRESCRIBER, expired)
        nurse = None
        on_shift = current = False
        for person in self.by_load(NURSE, c.day):
            if not _covers(person.shifts, c.start, c.end):
                continue
            on_shift = True
            if person.valid_until is not None and c.day > person.valid_until:
                continue
            current = True
            if self.below_capacity(person.id, c):
                nurse = person
                break
        if nurse is None:
            if not current:
                return _Fit(_STAGE_NURSE, on_shift)
            return _Fit(_STAGE_CAPACITY, False)
        room = next((r for r in self.rooms if self.room_free(r.id, c)), None)
        if room is None:
            return _Fit(_STAGE_ROOM, False)
        if self.patient is not None and self.patient.any_overlap(c.start, c.end):
            return _Fit(_STAGE_PATIENT, False)
        return _Fit(_STAGE_FITS, False, room.id, nurse.id, prescriber.id)

    def on_site(self, role: str, c: _Candidate) -> tuple[_Person | None, bool]:
        """The first staff member of ``role`` on site with current credentials, and whether
        someone on site was turned away for expired credentials."""
        expired = False
        for person in self.by_load(role, c.day):
            if _covers(person.shifts, c.start, c.end):
                if person.valid_until is None or c.day <= person.valid_until:
                    return person, expired
                expired = True
        return None, expired

    def room_free(self, room_id: str, c: _Candidate) -> bool:
        return not self.busy_of(ROOM, room_id).any_overlap(c.start, c.end)

    def busy_of(self, kind: str, resource_id: str) -> _Intervals:
        return self.busy.get((kind, resource_id), self.no_busy)

    def below_capacity(self, nurse_id: str, c: _Candidate) -> bool:
        """Whether the nurse watches fewer than ``capacity`` patients at every instant of
        the chair time. Counting overlapping bookings would be quick but refuses a nurse
        whose back-to-back patients never overlap, so the peak load is counted instead."""
        overlapping = list(self.busy_of(NURSE, nurse_id).overlapping(c.start, c.end))
        if len(overlapping) < self.capacity:
            return True
        return _peak_load(overlapping, c.start, c.end) < self.capacity

    def series(self, first: _Candidate) -> tuple[_Candidate, ...] | None:
        """The series that starts at ``first`` and takes each next session at the earliest
        fitting time at least the spacing later, or None when the window cannot hold it.

        Greedy earliest is optimal for existence: if any series s1 < … < sn starts at
        ``first``, by induction the greedy session g_i <= s_i (g_i is the earliest fitting
        time at or after g_(i-1) + spacing <= s_(i-1) + spacing <= s_i), so g_n falls on or
        before s_n's local date, inside the window. The step is at least the chair time as
        well as the spacing, since a patient cannot sit two sessions at once; so sessions of
        one proposal never overlap, and whether a time fits is the same whatever came before.
        """
        gap = max(self.spec.min_interval_hours * 3_600_000_000, self.chair)
        last_day = window_last_day(first.day, self.spec.window_days)
        chosen = [first]
        while len(chosen) < self.spec.sessions:
            earliest = chosen[-1].start + gap
            nxt = self.first_fit(earliest, last_day)
            if nxt is None:
                return None
            chosen.append(nxt)
        return tuple(chosen)

    def first_fit(self, earliest: int, last_day: date) -> _Candidate | None:
        day = _from_us(earliest).astimezone(self.zone).date()
        while day <= last_day:
            times = self.on(day)
            i = bisect_left(times, earliest, key=lambda c: c.start)
            for c in times[i:]:
                if c.preferred and self.fit(c).stage == _STAGE_FITS:
                    return c
            day += _DAY
        return None

    def slot(self, c: _Candidate) -> SessionSlot:
        fit = self.fit(c)
        return SessionSlot(
            start=_from_us(c.start),
            end=_from_us(c.end),
            room_id=fit.room_id,
            nurse_id=fit.nurse_id,
            prescriber_id=fit.prescriber_id,
        )


def find_series(
    *,
    spec: SeriesSpec,
    time_zone: str,
    opening_hours: Iterable[OpeningHours],
    closures: Iterable[Closure],
    rooms: Iterable[Room],
    staff: Iterable[Staff],
    busy: Iterable[Busy],
    nurse_capacity: int,
    preferences: Preferences,
    now: datetime,
    patient_id: str | None = None,
    step_minutes: int = 15,
    horizon_days: int = 60,
    alternatives: int = 2,
) -> SlotResult:
    """The earliest series of ``spec.sessions`` sessions that fits, then up to
    ``alternatives`` more, each starting on a later local date than the one before.

    First sessions are sought on local dates from the later of today (in ``time_zone``, at
    ``now``) and ``preferences.first_date``, for ``horizon_days`` days; later sessions may
    run past the horizon as far as the window allows. Weekday and time preferences apply to
    every session. Each session gets the first free room by name, and the nurse and the
    prescriber with the fewest existing bookings that local date, then by name. Prescribers
    have no capacity limit: one on site covers every chair. When nothing fits, ``proposals``
    is empty and ``reason`` is one of the ``REASON_*`` sentences, filled in.
    """
    _validate(spec, nurse_capacity, step_minutes, horizon_days, alternatives)
    zone = _zone(time_zone)
    now_us = _us(now, "now")
    finder = _Finder(
        spec=spec,
        zone=zone,
        opening_hours=opening_hours,
        closures=closures,
        rooms=rooms,
        staff=staff,
        busy=busy,
        nurse_capacity=nurse_capacity,
        preferences=preferences,
        now=now_us,
        patient_id=patient_id,
        step_minutes=step_minutes,
    )
    values = {
        "sessions": spec.sessions,
        "min_interval_hours": spec.min_interval_hours,
        "window_days": spec.window_days,
        "chair_minutes": spec.chair_minutes,
        "nurse_capacity": nurse_capacity,
        "horizon_days": horizon_days,
    }
    if (spec.sessions - 1) * spec.min_interval_hours > spec.window_days * 24:
        return SlotResult((), REASON_WINDOW_TOO_SHORT.format(**values))

    today = now.astimezone(zone).date()
    first_day = max(today, preferences.first_date or today)
    days = list(_days(first_day, first_day + timedelta(days=horizon_days - 1)))
    proposals: list[SeriesProposal] = []
    preferred_fit = False
    for day in days:
        if len(proposals) > alternatives:
            break
        # Only the earliest fitting time of a day needs trying: a later first session on
        # the same date has the same window end and, by the argument in ``series``, every
        # greedy session no earlier, so it cannot fit where the earliest did not.
        first = next(
            (c for c in finder.on(day) if c.preferred and finder.fit(c).stage == _STAGE_FITS),
            None,
        )
        if first is None:
            continue
        preferred_fit = True
        found = finder.series(first)
        if found is not None:
            proposals.append(SeriesProposal(tuple(finder.slot(c) for c in found)))
    if proposals:
        return SlotResult(tuple(proposals), None)
    if preferred_fit:  # single sessions fit, only the spacing and the window do not
        return SlotResult((), REASON_NO_SERIES.format(**values))
    return SlotResult((), _reason(finder, days, values))


def _reason(finder: _Finder, days: Sequence[date], values: dict[str, int]) -> str:
    """The first constraint, in the documented order, that no open time in the horizon gets
    past, when no session fits within the preferences."""
    if not finder.hours:
        return REASON_NO_OPENING_HOURS.format(**values)
    if not any(finder.open_day(day) for day in days):
        return REASON_CLOSED.format(**values)
    times = [c for day in days for c in finder.on(day)]
    if not times:
        return REASON_NO_OPEN_TIME.format(**values)
    stage, expired = _STAGE_PRESCRIBER, False
    for c in times:
        fit = finder.fit(c)
        if fit.stage > stage:
            stage, expired = fit.stage, fit.expired
        elif fit.stage == stage:
            expired = expired or fit.expired
        if stage == _STAGE_FITS:
            break  # a session fits here but no preferred time: the preferences exclude it
    if stage == _STAGE_PRESCRIBER:
        template = REASON_PRESCRIBER_CREDENTIALS if expired else REASON_NO_PRESCRIBER
    elif stage == _STAGE_NURSE:
        template = REASON_NURSE_CREDENTIALS if expired else REASON_NO_NURSE
    elif stage == _STAGE_CAPACITY:
        template = REASON_NURSE_CAPACITY
    elif stage == _STAGE_ROOM:
        template = REASON_NO_ROOM
    elif stage == _STAGE_PATIENT:
        template = REASON_PATIENT_BUSY
    else:
        template = REASON_PREFERENCES
    return template.format(**values)
