"""``staff_on_site``: who is on site when, in UTC, with roles and credentials, over the
daylight-saving changes of 2026 at the Denver site, in a fixed number of queries."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ketapath.accounts.models import Membership, Role, Shift, ShiftException, User
from ketapath.accounts.shifts import CREDENTIAL_ACLS, CREDENTIAL_LICENCE, staff_on_site
from ketapath.clinics.models import Clinic

pytestmark = pytest.mark.django_db

MARCH_WEEK = (date(2026, 3, 2), date(2026, 3, 15))  # clocks go forward on Sunday 8 March
NOVEMBER_WEEK = (date(2026, 10, 26), date(2026, 11, 8))  # and back on Sunday 1 November


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(
    user: User, clinic: Clinic, weekdays: range | tuple[int, ...], starts: int, ends: int
) -> None:
    for weekday in weekdays:
        Shift.objects.create(
            user=user, clinic=clinic, weekday=weekday, starts=time(starts), ends=time(ends)
        )


def by_name(staff: list[Any]) -> dict[str, Any]:
    return {person.name.split(",")[0]: person for person in staff}


def test_weekday_shifts_stay_at_eight_local_across_the_spring_change(
    nurse: User, site: Clinic
) -> None:
    weekly(nurse, site, range(5), 8, 16)

    (person,) = staff_on_site(clinic=site, date_from=MARCH_WEEK[0], date_to=MARCH_WEEK[1])

    assert person.user_id == str(nurse.id)
    assert person.name == nurse.display_name
    assert person.roles == {"nurse"}
    assert len(person.intervals) == 10
    # Friday 6 March in MST (UTC-7), Monday 9 March in MDT (UTC-6).
    assert (utc(2026, 3, 6, 15), utc(2026, 3, 6, 23)) in person.intervals
    assert (utc(2026, 3, 9, 14), utc(2026, 3, 9, 22)) in person.intervals
    for start, end in person.intervals:
        assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
        assert start.astimezone(site_zone(site)).hour == 8
        assert end - start == timedelta(hours=8)


def test_weekday_shifts_stay_at_eight_local_across_the_autumn_change(
    nurse: User, site: Clinic
) -> None:
    weekly(nurse, site, range(5), 8, 16)

    (person,) = staff_on_site(clinic=site, date_from=NOVEMBER_WEEK[0], date_to=NOVEMBER_WEEK[1])

    # Friday 30 October in MDT (UTC-6), Monday 2 November in MST (UTC-7).
    assert (utc(2026, 10, 30, 14), utc(2026, 10, 30, 22)) in person.intervals
    assert (utc(2026, 11, 2, 15), utc(2026, 11, 2, 23)) in person.intervals
    assert {start.astimezone(site_zone(site)).hour for start, _ in person.intervals} == {8}


def test_a_sunday_shift_on_the_change_days(nurse: User, site: Clinic) -> None:
    weekly(nurse, site, (6,), 8, 16)

    (spring,) = staff_on_site(clinic=site, date_from=date(2026, 3, 8), date_to=date(2026, 3, 8))
    (autumn,) = staff_on_site(clinic=site, date_from=date(2026, 11, 1), date_to=date(2026, 11, 1))

    assert spring.intervals == ((utc(2026, 3, 8, 14), utc(2026, 3, 8, 22)),)
    assert autumn.intervals == ((utc(2026, 11, 1, 15), utc(2026, 11, 1, 23)),)


def test_exceptions_are_applied(nurse: User, prescriber: User, site: Clinic) -> None:
    weekly(nurse, site, range(5), 8, 16)
    weekly(prescriber, site, (1, 3), 9, 17)
    monday = date(2026, 3, 9)
    ShiftException.objects.create(user=nurse, clinic=site, date=monday, kind="off", reason="Leave")
    ShiftException.objects.create(
        user=nurse,
        clinic=site,
        date=monday + timedelta(days=1),
        kind="off",
        starts=time(12),
        ends=time(13),
        reason="Appointment",
    )
    ShiftException.objects.create(
        user=prescriber,
        clinic=site,
        date=monday + timedelta(days=5),
        kind="extra",
        starts=time(9),
        ends=time(13),
        reason="Saturday clinic",
    )

    staff = by_name(
        staff_on_site(clinic=site, date_from=monday, date_to=monday + timedelta(days=6))
    )

    assert staff["Nurse Tester"].intervals[:3] == (
        (utc(2026, 3, 10, 14), utc(2026, 3, 10, 18)),
        (utc(2026, 3, 10, 19), utc(2026, 3, 10, 22)),
        (utc(2026, 3, 11, 14), utc(2026, 3, 11, 22)),
    )
    assert len(staff["Nurse Tester"].intervals) == 5
    assert staff["Prescriber Tester"].intervals == (
        (utc(2026, 3, 10, 15), utc(2026, 3, 10, 23)),
        (utc(2026, 3, 12, 15), utc(2026, 3, 12, 23)),
        (utc(2026, 3, 14, 15), utc(2026, 3, 14, 19)),
    )


def test_only_active_staff_shifts_and_the_sites_own(
    nurse: User,
    prescriber: User,
    director: User,
    other_clinic_nurse: User,
    site: Clinic,
    other_site: Clinic,
) -> None:
    weekly(nurse, site, (0,), 8, 16)
    Shift.objects.create(
        user=nurse, clinic=site, weekday=1, starts=time(8), ends=time(16), active=False
    )
    weekly(prescriber, site, (0,), 8, 16)
    Membership.objects.filter(user=prescriber).update(active=False)
    weekly(director, site, (0,), 8, 16)
    director.is_active = False
    director.save()
    weekly(other_clinic_nurse, other_site, (0,), 8, 16)

    staff = staff_on_site(clinic=site, date_from=MARCH_WEEK[0], date_to=MARCH_WEEK[1])

    assert [person.user_id for person in staff] == [str(nurse.id)]
    assert len(staff[0].intervals) == 2  # two Mondays, no Tuesdays
    assert staff_on_site(clinic=site, date_from=MARCH_WEEK[1], date_to=MARCH_WEEK[0]) == []


def test_roles_and_credentials(make_user: Callable[..., User], site: Clinic) -> None:
    both = make_user(
        "both",
        site,
        Role.MEDICAL_DIRECTOR,
        Role.PRESCRIBER,
        licence_expires=date(2027, 5, 1),
        acls_expires=date(2026, 12, 31),
    )
    no_expiry = make_user("noexpiry", site, Role.NURSE, licence_expires=None, acls_expires=None)
    unlicensed = make_user("desk", site, Role.FRONT_DESK, licence_number="", acls_expires=None)
    for user in (both, no_expiry, unlicensed):
        weekly(user, site, (0,), 8, 16)

    june_first = date(2026, 6, 1)
    on_site = staff_on_site(clinic=site, date_from=june_first, date_to=june_first)
    staff = {person.user_id: person for person in on_site}

    assert staff[str(both.id)].roles == {"medical_director", "prescriber"}
    assert staff[str(both.id)].credentials_valid_until == date(2026, 12, 31)
    assert staff[str(both.id)].credentials_missing == ()
    assert staff[str(no_expiry.id)].credentials_valid_until is None
    assert staff[str(no_expiry.id)].credentials_missing == (CREDENTIAL_ACLS,)
    assert staff[str(unlicensed.id)].credentials_missing == (CREDENTIAL_LICENCE, CREDENTIAL_ACLS)


def test_the_number_of_queries_does_not_grow_with_the_staff(
    make_user: Callable[..., User], site: Clinic
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            staff_on_site(clinic=site, date_from=MARCH_WEEK[0], date_to=MARCH_WEEK[1])
        return len(queries)

    def hire(name: str) -> None:
        user = make_user(name, site, Role.NURSE, Role.PRESCRIBER)
        weekly(user, site, range(5), 8, 16)
        ShiftException.objects.create(
            user=user, clinic=site, date=date(2026, 3, 9), kind="off", reason="x"
        )

    hire("first")
    few = count()
    for index in range(8):
        hire(f"more{index}")
    assert count() == few == 3
    assert len(staff_on_site(clinic=site, date_from=MARCH_WEEK[0], date_to=MARCH_WEEK[1])) == 9


def site_zone(site: Clinic) -> ZoneInfo:
    return ZoneInfo(site.time_zone)
