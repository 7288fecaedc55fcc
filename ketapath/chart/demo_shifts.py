"""Demo staff shifts: weekly rosters for the clinicians of both demo sites, and a few dated
exceptions next week.

Within each site's opening hours, with some variety: a director who keeps Fridays for
administration, a nurse with a lunch break on Wednesdays, a part-time nurse and a
prescriber who is in Chicago on Tuesdays and Thursdays only. Everything goes through the
accounts services as the site's clinic admin would enter it, so the audit trail is real.
``seed_shifts`` runs only while the organisation has no shifts at all.
"""

from dataclasses import dataclass
from datetime import date, time, timedelta

from ketapath.accounts.models import Shift, ShiftException, User
from ketapath.accounts.services import shift_add, shift_exception_add
from ketapath.clinics.models import Clinic, Organization

DENVER = "Denver Ketamine Clinic"
CHICAGO = "Chicago Ketamine Clinic"
MON, TUE, WED, THU, FRI, SAT = range(6)
WEEKDAYS = (MON, TUE, WED, THU, FRI)


@dataclass(frozen=True)
class WeeklySpec:
    username: str
    weekdays: tuple[int, ...]
    starts: time
    ends: time


@dataclass(frozen=True)
class ExceptionSpec:
    """``day`` counts from the Monday of next week (5 = next Saturday)."""

    username: str
    day: int
    kind: str
    reason: str
    starts: time | None = None
    ends: time | None = None


@dataclass(frozen=True)
class SiteShifts:
    site: str
    admin: str  # the clinic admin who enters them
    weekly: tuple[WeeklySpec, ...]
    exceptions: tuple[ExceptionSpec, ...]


SITE_SHIFTS: tuple[SiteShifts, ...] = (
    SiteShifts(
        site=DENVER,
        admin="admin",
        weekly=(
            WeeklySpec("director", (MON, TUE, WED, THU), time(9), time(17)),
            WeeklySpec("prescriber", WEEKDAYS, time(8), time(16)),
            WeeklySpec("nurse", (MON, TUE, THU, FRI), time(8), time(17)),
            WeeklySpec("nurse", (WED,), time(8), time(12)),
            WeeklySpec("nurse", (WED,), time(13), time(17)),
        ),
        exceptions=(
            ExceptionSpec("director", WED, ShiftException.Kind.OFF, "Conference"),
            ExceptionSpec(
                "prescriber", SAT, ShiftException.Kind.EXTRA, "Saturday clinic", time(9), time(13)
            ),
            ExceptionSpec(
                "nurse", SAT, ShiftException.Kind.EXTRA, "Saturday clinic", time(9), time(13)
            ),
        ),
    ),
    SiteShifts(
        site=CHICAGO,
        admin="admin2",
        weekly=(
            WeeklySpec("director2", WEEKDAYS, time(8), time(17)),
            WeeklySpec("prescriber2", (TUE, THU), time(8), time(17)),
            WeeklySpec("nurse2", (MON, TUE, WED, THU), time(8), time(14)),
        ),
        exceptions=(
            ExceptionSpec(
                "director2", FRI, ShiftException.Kind.OFF, "Board meeting", time(12), time(17)
            ),
        ),
    ),
)


def shifts_present(organization: Organization) -> bool:
    return Shift.objects.filter(clinic__organization=organization).exists()


def next_monday(today: date) -> date:
    """The Monday of the week after ``today``'s."""
    return today + timedelta(days=7 - today.weekday())


def seed_shifts(
    *, organization: Organization, clinics: dict[str, Clinic], users: dict[str, User], today: date
) -> int:
    """Create the demo rosters and exceptions; answers how many rows were made."""
    created = 0
    monday = next_monday(today)
    for spec in SITE_SHIFTS:
        clinic = clinics[spec.site]
        assert clinic.organization_id == organization.id
        admin = users[spec.admin]
        for weekly in spec.weekly:
            for weekday in weekly.weekdays:
                shift_add(
                    actor=admin,
                    user=users[weekly.username],
                    clinic=clinic,
                    weekday=weekday,
                    starts=weekly.starts,
                    ends=weekly.ends,
                )
                created += 1
        for exception in spec.exceptions:
            shift_exception_add(
                actor=admin,
                user=users[exception.username],
                clinic=clinic,
                date=monday + timedelta(days=exception.day),
                kind=exception.kind,
                reason=exception.reason,
                starts=exception.starts,
                ends=exception.ends,
            )
            created += 1
    return created
