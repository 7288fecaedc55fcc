"""The demo rosters: each site's clinicians have weekly shifts within opening hours, next
week has its exceptions, and a second seed adds nothing."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from ketapath.accounts.models import Shift, ShiftException
from ketapath.accounts.shifts import staff_on_site
from ketapath.audit.models import AuditEvent
from ketapath.chart import demo, demo_shifts
from ketapath.chart.demo import CHICAGO, DENVER, seed_demo
from ketapath.clinics.models import Clinic, OpeningHours

pytestmark = pytest.mark.django_db

DENVER_ZONE = ZoneInfo("America/Denver")
TODAY = date(2026, 3, 4)  # a Wednesday; next week starts on Monday 9 March


def weekly(site: str) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for shift in Shift.objects.filter(clinic__name=site, active=True).select_related("user"):
        out.setdefault(shift.user.username, []).append(
            (shift.weekday, f"{shift.starts:%H:%M}-{shift.ends:%H:%M}")
        )
    return {username: sorted(rows) for username, rows in out.items()}


def test_the_site_names_match_the_demo() -> None:
    assert (demo_shifts.DENVER, demo_shifts.CHICAGO) == (demo.DENVER, demo.CHICAGO)


def test_clinicians_get_weekly_shifts_within_opening_hours() -> None:
    result = seed_demo(today=TODAY)

    assert result.shifts_seeded == Shift.objects.count() + ShiftException.objects.count()
    denver, chicago = weekly(DENVER), weekly(CHICAGO)
    # The second Chicago nurse's and the therapists' shifts come with the demo scheduling.
    assert set(denver) == {"director", "prescriber", "nurse", "therapist"}
    assert set(chicago) == {"director2", "prescriber2", "nurse2", "nurse3", "therapist2"}
    assert [day for day, _ in chicago["prescriber2"]] == [1, 3]  # Tuesdays and Thursdays
    assert [day for day, _ in chicago["nurse2"]] == [0, 1, 2, 3]  # part time
    assert (2, "08:00-12:00") in denver["nurse"] and (2, "13:00-17:00") in denver["nurse"]
    for shift in Shift.objects.select_related("clinic"):
        hours = OpeningHours.objects.filter(clinic=shift.clinic, weekday=shift.weekday)
        assert any(h.opens <= shift.starts and shift.ends <= h.closes for h in hours), shift
    assert AuditEvent.objects.filter(object_type="shift", action="create").count() == 37


def test_next_week_has_a_day_off_and_an_extra_saturday() -> None:
    seed_demo(today=TODAY)
    denver = Clinic.objects.get(name=DENVER)
    monday = date(2026, 3, 9)

    staff = {
        person.name.split(",")[0]: person
        for person in staff_on_site(
            clinic=denver, date_from=monday, date_to=monday + timedelta(days=6)
        )
    }

    def days(name: str) -> set[date]:
        return {start.astimezone(DENVER_ZONE).date() for start, _ in staff[name].intervals}

    assert days("Elena Marquez") == {monday, monday + timedelta(days=1), monday + timedelta(days=3)}
    saturday = monday + timedelta(days=5)
    assert saturday in days("Rachel Lindqvist")
    assert saturday in days("Samuel Okafor")


def test_a_second_seed_adds_no_shifts() -> None:
    seed_demo(today=TODAY)
    before = (Shift.objects.count(), ShiftException.objects.count())

    again = seed_demo(today=TODAY + timedelta(days=3))

    assert again.shifts_seeded == 0
    assert (Shift.objects.count(), ShiftException.objects.count()) == before
