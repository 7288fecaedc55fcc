"""Staff shifts: who is on site at a clinic, and when.

A user's weekly shifts (weekday, local start and end) are expanded over a range of the
site's local dates, the dated exceptions applied (``off`` removes time, ``extra`` adds it),
and each on-site stretch is turned into an aware UTC interval through the site's time zone
with ``zoneinfo``. A weekly 08:00–16:00 shift is therefore 08:00 local on both sides of a
daylight-saving change, and its length in UTC follows the wall clock of that day.

Wall times that fall in a spring-forward gap (they do not exist) are moved to the instant
the clocks jump; wall times that occur twice when clocks fall back take the first
occurrence. The expansion is pure (plain values in, plain values out); the selectors below
load what it needs in a fixed number of queries.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, QuerySet

from ketapath.accounts.models import Membership, Shift, ShiftException, User
from ketapath.clinics.models import Clinic

TimeRange = tuple[time, time]
Interval = tuple[datetime, datetime]

# The credential names, as the permission checks word them (permissions.missing_credentials).
CREDENTIAL_LICENCE = "licence"
CREDENTIAL_ACLS = "ACLS certification"

# Stands for "to the end of the day" when a whole day is taken off; half-open ranges never
# reach it, so nothing of the day survives.
END_OF_DAY = time.max


# --- Pure expansion ---------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklyShift:
    weekday: int  # 0 = Monday
    starts: time
    ends: time


@dataclass(frozen=True)
class DatedException:
    """``kind`` is ``off`` or ``extra``; an ``off`` without times is the whole day."""

    date: date
    kind: str
    starts: time | None = None
    ends: time | None = None


def merge_ranges(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """Sorted ranges with overlapping or touching ones joined (08–12 and 12–17 is 08–17)."""
    merged: list[TimeRange] = []
    for starts, ends in sorted(r for r in ranges if r[0] < r[1]):
        if merged and starts <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((starts, ends))
    return merged


def subtract_range(ranges: Iterable[TimeRange], removed: TimeRange) -> list[TimeRange]:
    """``ranges`` with the half-open range ``removed`` cut out of them."""
    out: list[TimeRange] = []
    cut_from, cut_to = removed
    for starts, ends in ranges:
        if ends <= cut_from or cut_to <= starts:
            out.append((starts, ends))
            continue
        if starts < cut_from:
            out.append((starts, cut_from))
        if cut_to < ends:
            out.append((cut_to, ends))
    return out


def day_ranges(
    weekly: Iterable[TimeRange], exceptions: Iterable[DatedException]
) -> list[TimeRange]:
    """One day's on-site local ranges: the weekly ones, less the time off, plus the extras."""
    ranges = merge_ranges(weekly)
    exceptions = list(exceptions)
    for exception in exceptions:
        if exception.kind == ShiftException.Kind.OFF:
            if exception.starts is None or exception.ends is None:
                removed: TimeRange = (time.min, END_OF_DAY)
            else:
                removed = (exception.starts, exception.ends)
            ranges = subtract_range(ranges, removed)
    extras = [
        (e.starts, e.ends)
        for e in exceptions
        if e.kind == ShiftException.Kind.EXTRA and e.starts is not None and e.ends is not None
    ]
    return merge_ranges([*ranges, *extras])


def local_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a local date.

    An ambiguous time (clocks fall back) is its first occurrence. A time in a spring-forward
    gap does not exist; it becomes the instant the clocks jump, so a shift starting or ending
    inside the gap starts or ends when the day's clocks resume.
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In the gap: fold=1 reads it with the offset after the change (an instant before the
    # jump), fold=0 with the offset before (an instant after it). Narrow to the jump itself.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    # Clocks change on a whole second, the first one after ``low``.
    return low.replace(microsecond=0) + timedelta(seconds=1)


def expand_intervals(
    *,
    weekly: Sequence[WeeklyShift],
    exceptions: Sequence[DatedException],
    date_from: date,
    date_to: date,
    time_zone: str,
) -> tuple[Interval, ...]:
    """Aware UTC on-site intervals for every local date from ``date_from`` to ``date_to``
    (both included), in time order; empty when ``date_to`` is before ``date_from``."""
    zone = ZoneInfo(time_zone)
    by_weekday: dict[int, list[TimeRange]] = defaultdict(list)
    for shift in weekly:
        by_weekday[shift.weekday].append((shift.starts, shift.ends))
    by_date: dict[date, list[DatedException]] = defaultdict(list)
    for exception in exceptions:
        by_date[exception.date].append(exception)
    intervals: list[Interval] = []
    day = date_from
    while day <= date_to:
        for starts, ends in day_ranges(by_weekday.get(day.weekday(), []), by_date.get(day, [])):
            start_utc = local_to_utc(day, starts, zone)
            end_utc = local_to_utc(day, ends, zone)
            if end_utc > start_utc:  # a range wholly inside a spring-forward gap is no time
                intervals.append((start_utc, end_utc))
        day += timedelta(days=1)
    return tuple(intervals)


def credentials_valid_until(licence_expires: date | None, acls_expires: date | None) -> date | None:
    """The earlier of the two expiry dates; None when neither is set."""
    dates = [d for d in (licence_expires, acls_expires) if d is not None]
    return min(dates) if dates else None


def credentials_missing(user: User) -> tuple[str, ...]:
    """Credentials a clinician on site needs that the user does not hold at all (a licence
    number, an ACLS card); expiry is what ``credentials_valid_until`` answers."""
    missing: list[str] = []
    if not user.licence_number:
        missing.append(CREDENTIAL_LICENCE)
    if user.acls_expires is None:
        missing.append(CREDENTIAL_ACLS)
    return tuple(missing)


# --- Who is on site ---------------------------------------------------------------------


@dataclass(frozen=True)
class StaffOnSite:
    """One staff member's on-site time at a clinic over a date range.

    ``roles`` are the active role values at the clinic (``nurse``, ``prescriber``,
    ``medical_director``…). ``credentials_valid_until`` is the earlier of the licence and
    ACLS expiry dates (None when neither is set); ``credentials_missing`` names a licence or
    ACLS card the user does not hold at all, which an expiry date cannot show.
    """

    user_id: str
    name: str
    roles: frozenset[str]
    intervals: tuple[Interval, ...]
    credentials_valid_until: date | None
    credentials_missing: tuple[str, ...] = ()


def staff_on_site(*, clinic: Clinic, date_from: date, date_to: date) -> list[StaffOnSite]:
    """Everyone with an active account and an active role at ``clinic`` who is on site at
    some time between the local dates ``date_from`` and ``date_to`` (both included), by
    name. Three queries, however many staff, shifts and exceptions."""
    if date_to < date_from:
        return []
    users: dict[UUID, User] = {}
    roles: dict[UUID, set[str]] = defaultdict(set)
    memberships = Membership.objects.filter(
        clinic=clinic, active=True, user__is_active=True
    ).select_related("user")
    for membership in memberships:
        users[membership.user_id] = membership.user
        roles[membership.user_id].add(membership.role)
    weekly_rows = Shift.objects.filter(clinic=clinic, active=True).values_list(
        "user_id", "weekday", "starts", "ends"
    )
    weekly: dict[UUID, list[WeeklyShift]] = defaultdict(list)
    for user_id, weekday, starts, ends in weekly_rows:
        weekly[user_id].append(WeeklyShift(weekday, starts, ends))
    dated_rows = ShiftException.objects.filter(
        clinic=clinic, date__gte=date_from, date__lte=date_to
    ).values_list("user_id", "date", "kind", "starts", "ends")
    dated: dict[UUID, list[DatedException]] = defaultdict(list)
    for user_id, day, kind, change_starts, change_ends in dated_rows:
        dated[user_id].append(DatedException(day, kind, change_starts, change_ends))
    out: list[StaffOnSite] = []
    for user_id, user in users.items():
        if user_id not in weekly and user_id not in dated:
            continue
        intervals = expand_intervals(
            weekly=weekly.get(user_id, []),
            exceptions=dated.get(user_id, []),
            date_from=date_from,
            date_to=date_to,
            time_zone=clinic.time_zone,
        )
        if not intervals:
            continue
        out.append(
            StaffOnSite(
                user_id=str(user_id),
                name=user.display_name,
                roles=frozenset(roles[user_id]),
                intervals=intervals,
                credentials_valid_until=credentials_valid_until(
                    user.licence_expires, user.acls_expires
                ),
                credentials_missing=credentials_missing(user),
            )
        )
    out.sort(key=lambda staff: (staff.name.lower(), staff.user_id))
    return out


# --- Page reads -------------------------------------------------------------------------


def _site_memberships(clinic: Clinic) -> Prefetch:
    return Prefetch(
        "memberships",
        queryset=Membership.objects.filter(clinic=clinic, active=True).order_by("role"),
        to_attr="site_memberships",
    )


def shift_roster(*, clinic: Clinic, with_shifts: bool = True) -> QuerySet[User]:
    """The site's active staff by name, with their roles there (``site_memberships``) and,
    unless told otherwise, their active weekly shifts there (``site_shifts``) prefetched:
    three queries for a page of them."""
    ids = Membership.objects.filter(clinic=clinic, active=True).values("user_id")
    prefetches: list[Prefetch] = [_site_memberships(clinic)]
    if with_shifts:
        shifts = Shift.objects.filter(clinic=clinic, active=True).order_by("weekday", "starts")
        prefetches.append(Prefetch("shifts", queryset=shifts, to_attr="site_shifts"))
    return (
        User.objects.filter(id__in=ids, is_active=True)
        .prefetch_related(*prefetches)
        .order_by("last_name", "first_name", "username")
    )


def shift_staff_member(*, clinic: Clinic, user_id: UUID | str) -> User | None:
    """A user with an active account and an active role at the site, else None."""
    return (
        User.objects.filter(
            id=user_id,
            is_active=True,
            memberships__clinic=clinic,
            memberships__active=True,
        )
        .prefetch_related(_site_memberships(clinic))
        .distinct()
        .first()
    )


def shift_for_clinic(*, clinic: Clinic, shift_id: UUID) -> Shift | None:
    """An active weekly shift at the site, else None (a removed one cannot be removed again)."""
    return (
        Shift.objects.select_related("user", "clinic")
        .filter(clinic=clinic, id=shift_id, active=True)
        .first()
    )


def shifts_of(*, clinic: Clinic, user: User) -> list[Shift]:
    """One person's active weekly shifts at the site, Monday first."""
    return list(
        Shift.objects.filter(clinic=clinic, user=user, active=True).order_by("weekday", "starts")
    )


def shift_exceptions_for_clinic(
    *, clinic: Clinic, past: bool, today: date, user: User | None = None
) -> QuerySet[ShiftException]:
    """Exceptions from today on (nearest first) or before today (latest first), of everyone
    at the site or of one ``user``."""
    exceptions = ShiftException.objects.select_related("user").filter(clinic=clinic)
    if user is not None:
        exceptions = exceptions.filter(user=user)
    if past:
        return exceptions.filter(date__lt=today).order_by("-date", "starts", "user__last_name")
    return exceptions.filter(date__gte=today).order_by("date", "starts", "user__last_name")


def shift_exception_for_clinic(*, clinic: Clinic, exception_id: UUID) -> ShiftException | None:
    return (
        ShiftException.objects.select_related("user", "clinic")
        .filter(clinic=clinic, id=exception_id)
        .first()
    )


def shift_exceptions_between(
    *, clinic: Clinic, date_from: date, date_to: date
) -> list[ShiftException]:
    """The site's exceptions on the local dates from ``date_from`` to ``date_to``."""
    return list(
        ShiftException.objects.select_related("user")
        .filter(clinic=clinic, date__gte=date_from, date__lte=date_to)
        .order_by("date", "starts", "user__last_name")
    )
