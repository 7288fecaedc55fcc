"""Shift pages: permissions on every page (anonymous, another site, the wrong role), the
roster, the week view across a clock change, and adding and removing shifts and exceptions
through the forms."""

from collections.abc import Callable
from datetime import date, time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ketapath.accounts.models import (
    MESSAGE_EXTRA_NEEDS_TIMES,
    MESSAGE_SHIFT_ORDER,
    Membership,
    Role,
    Shift,
    ShiftException,
    User,
)
from ketapath.accounts.services import MESSAGE_SHIFT_FORBIDDEN, MESSAGE_SHIFT_OVERLAP
from ketapath.accounts.shift_forms import MESSAGE_WEEKDAYS_REQUIRED
from ketapath.accounts.shift_views import MESSAGE_NO_SITE
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.forms import MESSAGE_CONFIRM_REQUIRED

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]

READ_PAGES = ["accounts:shifts", "accounts:shift_week", "accounts:shift_exceptions"]
WRITE_PAGES = ["accounts:shift_new", "accounts:shift_exception_new"]
READERS = [
    "director",
    "prescriber",
    "nurse",
    "therapist",
    "front_desk",
    "biller",
    "privacy_officer",
    "clinic_admin",
]
NOT_ADMINS = ["director", "prescriber", "nurse", "front_desk", "privacy_officer"]
DAY = date(2031, 3, 4)


@pytest.fixture
def shift(nurse: User, site: Clinic) -> Shift:
    return Shift.objects.create(user=nurse, clinic=site, weekday=0, starts=time(8), ends=time(16))


@pytest.fixture
def exception(nurse: User, site: Clinic) -> ShiftException:
    return ShiftException.objects.create(
        user=nurse, clinic=site, date=DAY, kind="off", reason="Conference"
    )


@pytest.fixture
def other_shift(other_clinic_nurse: User, other_site: Clinic) -> Shift:
    return Shift.objects.create(
        user=other_clinic_nurse, clinic=other_site, weekday=0, starts=time(8), ends=time(16)
    )


@pytest.fixture
def other_exception(other_clinic_nurse: User, other_site: Clinic) -> ShiftException:
    return ShiftException.objects.create(
        user=other_clinic_nurse, clinic=other_site, date=DAY, kind="off", reason="Leave"
    )


def object_urls(nurse: User, shift: Shift, exception: ShiftException) -> list[str]:
    return [
        reverse("accounts:shift_staff", args=[nurse.id]),
        reverse("accounts:shift_remove", args=[shift.id]),
        reverse("accounts:shift_exception_remove", args=[exception.id]),
    ]


# --- permissions ------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(
    client: Client, nurse: User, shift: Shift, exception: ShiftException
) -> None:
    urls = [reverse(name) for name in READ_PAGES + WRITE_PAGES]
    for url in urls + object_urls(nurse, shift, exception):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"
    response = client.post(reverse("accounts:shift_remove", args=[shift.id]), {"confirm": "on"})
    assert response.status_code == 302
    assert Shift.objects.get(pk=shift.pk).active


@pytest.mark.parametrize("persona", READERS)
def test_everyone_at_the_site_reads_the_shifts(
    request: pytest.FixtureRequest, client_for: ClientFor, persona: str, nurse: User, shift: Shift
) -> None:
    client = client_for(request.getfixturevalue(persona))
    for name in READ_PAGES:
        assert client.get(reverse(name)).status_code == 200
    assert client.get(reverse("accounts:shift_staff", args=[nurse.id])).status_code == 200


def test_someone_without_a_site_is_refused(
    client_for: ClientFor, nurse: User, shift: Shift, exception: ShiftException
) -> None:
    Membership.objects.filter(user=nurse).update(active=False)
    client = client_for(nurse)
    for name in READ_PAGES + WRITE_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 403
        assert MESSAGE_NO_SITE in response.content.decode()
    for url in object_urls(nurse, shift, exception):
        assert client.get(url).status_code == 404


@pytest.mark.parametrize("persona", NOT_ADMINS)
def test_only_the_clinic_admin_changes_shifts(
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    persona: str,
    nurse: User,
    shift: Shift,
    exception: ShiftException,
) -> None:
    client = client_for(request.getfixturevalue(persona))
    urls = [reverse(name) for name in WRITE_PAGES] + object_urls(nurse, shift, exception)[1:]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403
        assert MESSAGE_SHIFT_FORBIDDEN in response.content.decode()
    posted = {"user": str(nurse.id), "weekdays": ["1"], "starts": "08:00", "ends": "16:00"}
    assert client.post(reverse("accounts:shift_new"), posted).status_code == 403
    remove = reverse("accounts:shift_remove", args=[shift.id])
    assert client.post(remove, {"confirm": "on"}).status_code == 403
    remove = reverse("accounts:shift_exception_remove", args=[exception.id])
    assert client.post(remove, {"confirm": "on"}).status_code == 403
    assert Shift.objects.filter(active=True).count() == 1
    assert ShiftException.objects.count() == 1
    # Readers see no controls for changing shifts.
    page = client.get(reverse("accounts:shifts")).content.decode()
    assert reverse("accounts:shift_new") not in page
    assert reverse("accounts:shift_exception_remove", args=[exception.id]) not in page


@pytest.mark.parametrize("persona", ["clinic_admin", "nurse"])
def test_another_sites_shifts_and_staff_are_404(
    request: pytest.FixtureRequest,
    client_for: ClientFor,
    persona: str,
    other_clinic_nurse: User,
    other_shift: Shift,
    other_exception: ShiftException,
) -> None:
    client = client_for(request.getfixturevalue(persona))
    for url in object_urls(other_clinic_nurse, other_shift, other_exception):
        assert client.get(url).status_code == 404
        assert client.post(url, {"confirm": "on"}).status_code in (404, 405)
    assert Shift.objects.get(pk=other_shift.pk).active
    assert ShiftException.objects.filter(pk=other_exception.pk).exists()


def test_a_staff_member_of_another_site_cannot_be_chosen(
    client_for: ClientFor, clinic_admin: User, other_clinic_nurse: User
) -> None:
    client = client_for(clinic_admin)
    for name in WRITE_PAGES:
        url = f"{reverse(name)}?user={other_clinic_nurse.id}"
        assert client.get(url).status_code == 404
        assert client.get(f"{reverse(name)}?user=not-a-uuid").status_code == 404
    response = client.post(
        reverse("accounts:shift_new"),
        {"user": str(other_clinic_nurse.id), "weekdays": ["0"], "starts": "08:00", "ends": "9:00"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Shift.objects.exists()


# --- the roster and the week --------------------------------------------------------------


def test_the_roster_shows_each_person_by_weekday(
    client_for: ClientFor, clinic_admin: User, nurse: User, prescriber: User, site: Clinic
) -> None:
    Shift.objects.create(user=nurse, clinic=site, weekday=2, starts=time(8), ends=time(12))
    Shift.objects.create(user=nurse, clinic=site, weekday=2, starts=time(13), ends=time(17))
    Shift.objects.create(
        user=prescriber, clinic=site, weekday=3, starts=time(9), ends=time(10), active=False
    )
    response = client_for(clinic_admin).get(reverse("accounts:shifts"))
    assert response.status_code == 200
    rows = {row.user.username: row for row in response.context["rows"]}
    assert [[f"{s.starts:%H}-{s.ends:%H}" for s in day] for day in rows["nurse"].days] == [
        [],
        [],
        ["08-12", "13-17"],
        [],
        [],
        [],
        [],
    ]
    assert all(day == [] for day in rows["prescriber"].days)  # the removed shift is gone
    assert rows["nurse"].credentials is not None
    assert rows["nurse"].credentials.word == "Current"
    assert rows["admin"].credentials is None  # not a clinical role
    page = response.content.decode()
    assert "08:00–12:00" in page and "13:00–17:00" in page
    assert response.context["site_hours"][0] == "08:00–17:00"
    assert response.context["site_hours"][6] == ""


def test_the_roster_query_count_does_not_grow_with_the_staff(
    client_for: ClientFor, clinic_admin: User, make_user: Callable[..., User], site: Clinic
) -> None:
    client = client_for(clinic_admin)

    def hire(name: str) -> None:
        user = make_user(name, site, Role.NURSE)
        for weekday in range(5):
            Shift.objects.create(
                user=user, clinic=site, weekday=weekday, starts=time(8), ends=time(16)
            )
        ShiftException.objects.create(user=user, clinic=site, date=DAY, kind="off", reason="x")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("accounts:shifts")).status_code == 200
        return len(captured)

    hire("one")
    few = queries()
    for index in range(6):
        hire(f"more{index}")
    assert queries() == few


def test_the_week_shows_local_times_across_the_clock_change(
    client_for: ClientFor, nurse: User, site: Clinic
) -> None:
    for weekday in range(7):
        Shift.objects.create(
            user=nurse, clinic=site, weekday=weekday, starts=time(8), ends=time(16)
        )
    ShiftException.objects.create(
        user=nurse, clinic=site, date=date(2026, 3, 4), kind="off", reason="Conference"
    )
    response = client_for(nurse).get(reverse("accounts:shift_week"), {"week": "2026-03-05"})
    assert response.status_code == 200
    assert response.context["monday"] == date(2026, 3, 2)
    (row,) = response.context["page"].items
    assert row.days == [["08:00–16:00"], ["08:00–16:00"], [], *[["08:00–16:00"]] * 4]
    page = response.content.decode()
    assert "Clocks change on Sunday 8 March (MST to MDT)" in page
    assert "Conference" in page
    quiet = client_for(nurse).get(reverse("accounts:shift_week"), {"week": "2026-03-16"})
    assert "Clocks change" not in quiet.content.decode()
    # A bad date shows the current week rather than failing.
    assert client_for(nurse).get(reverse("accounts:shift_week"), {"week": "x"}).status_code == 200


def test_the_shifts_are_in_the_navigation_and_on_the_admin_hub(
    client_for: ClientFor, clinic_admin: User, nurse: User
) -> None:
    page = client_for(nurse).get(reverse("chart:today")).content.decode()
    assert f'href="{reverse("accounts:shifts")}"' in page
    hub = client_for(clinic_admin).get(reverse("clinics:admin")).content.decode()
    assert f'href="{reverse("accounts:shifts")}"' in hub


# --- adding and removing --------------------------------------------------------------------


def test_the_admin_adds_monday_to_friday_at_once(
    client_for: ClientFor, clinic_admin: User, nurse: User
) -> None:
    client = client_for(clinic_admin)
    response = client.post(
        reverse("accounts:shift_new"),
        {
            "user": str(nurse.id),
            "weekdays": ["0", "1", "2", "3", "4"],
            "starts": "08:00",
            "ends": "16:30",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("accounts:shifts")
    shifts = Shift.objects.filter(user=nurse).order_by("weekday")
    assert [(s.weekday, s.starts, s.ends) for s in shifts] == [
        (day, time(8), time(16, 30)) for day in range(5)
    ]
    assert "now works Monday, Tuesday, Wednesday, Thursday and Friday, 08:00–16:30" in (
        response.content.decode()
    )
    assert AuditEvent.objects.filter(object_type="shift", action="create").count() == 5


def test_one_clashing_weekday_saves_none_and_shows_the_clash_beside_the_field(
    client_for: ClientFor, clinic_admin: User, nurse: User, shift: Shift
) -> None:
    response = client_for(clinic_admin).post(
        reverse("accounts:shift_new"),
        {"user": str(nurse.id), "weekdays": ["6", "0"], "starts": "15:00", "ends": "18:00"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    rule = MESSAGE_SHIFT_OVERLAP.format(weekday="Monday", starts="08:00", ends="16:00")
    assert form.errors["starts"] == [rule]
    assert "Nothing was saved" in response.content.decode()
    assert Shift.objects.count() == 1  # Sunday was not kept either


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"weekdays": ["0"], "starts": "16:00", "ends": "08:00"}, "ends", MESSAGE_SHIFT_ORDER),
        ({"starts": "08:00", "ends": "16:00"}, "weekdays", MESSAGE_WEEKDAYS_REQUIRED),
        ({"weekdays": ["0"], "starts": "8 o'clock", "ends": "16:00"}, "starts", None),
    ],
)
def test_bad_shifts_show_the_error_beside_the_field(
    client_for: ClientFor,
    clinic_admin: User,
    nurse: User,
    data: dict[str, object],
    field: str,
    rule: str | None,
) -> None:
    response = client_for(clinic_admin).post(
        reverse("accounts:shift_new"), {"user": str(nurse.id), **data}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    if rule is not None:
        assert errors[field] == [rule]
    assert not Shift.objects.exists()


def test_the_add_form_fills_in_the_staff_member_and_returns_to_their_page(
    client_for: ClientFor, clinic_admin: User, nurse: User
) -> None:
    client = client_for(clinic_admin)
    back = reverse("accounts:shift_staff", args=[nurse.id])
    response = client.get(reverse("accounts:shift_new"), {"user": str(nurse.id), "next": back})
    assert response.context["form"].initial["user"] == str(nurse.id)
    response = client.post(
        reverse("accounts:shift_new"),
        {
            "user": str(nurse.id),
            "weekdays": ["5"],
            "starts": "09:00",
            "ends": "13:00",
            "next": back,
        },
    )
    assert response["Location"] == back
    response = client.post(
        reverse("accounts:shift_new"),
        {
            "user": str(nurse.id),
            "weekdays": ["6"],
            "starts": "09:00",
            "ends": "13:00",
            "next": "https://elsewhere.example/",
        },
    )
    assert response["Location"] == reverse("accounts:shifts")


def test_removing_a_shift_asks_for_confirmation(
    client_for: ClientFor, clinic_admin: User, nurse: User, shift: Shift
) -> None:
    client = client_for(clinic_admin)
    url = reverse("accounts:shift_remove", args=[shift.id])
    page = client.get(url).content.decode()
    assert "Remove this weekly shift?" in page and "Monday" in page
    response = client.post(url, {})
    assert response.status_code == 200
    assert MESSAGE_CONFIRM_REQUIRED in response.content.decode()
    assert Shift.objects.get(pk=shift.pk).active

    back = reverse("accounts:shift_staff", args=[nurse.id])
    response = client.post(url, {"confirm": "on", "next": back})
    assert response["Location"] == back
    assert not Shift.objects.get(pk=shift.pk).active
    assert client.get(url).status_code == 404  # already removed


def test_the_admin_records_a_day_off_and_an_extra_shift(
    client_for: ClientFor, clinic_admin: User, nurse: User
) -> None:
    client = client_for(clinic_admin)
    url = reverse("accounts:shift_exception_new")
    response = client.post(
        url, {"user": str(nurse.id), "date": "2031-03-04", "kind": "off", "reason": "Conference"}
    )
    assert response["Location"] == reverse("accounts:shifts")
    response = client.post(
        url,
        {
            "user": str(nurse.id),
            "date": "2031-03-08",
            "kind": "extra",
            "starts": "09:00",
            "reason": "Saturday clinic",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["ends"] == [MESSAGE_EXTRA_NEEDS_TIMES]
    client.post(
        url,
        {
            "user": str(nurse.id),
            "date": "2031-03-08",
            "kind": "extra",
            "starts": "09:00",
            "ends": "13:00",
            "reason": "Saturday clinic",
        },
    )
    saved = ShiftException.objects.order_by("date")
    assert [(e.date, e.kind, e.starts, e.ends) for e in saved] == [
        (date(2031, 3, 4), "off", None, None),
        (date(2031, 3, 8), "extra", time(9), time(13)),
    ]
    listing = client.get(reverse("accounts:shift_exceptions")).content.decode()
    assert "Whole day" in listing and "09:00–13:00" in listing
    past = client.get(reverse("accounts:shift_exceptions"), {"show": "past"})
    assert past.context["page"].count == 0


def test_removing_an_exception(
    client_for: ClientFor, clinic_admin: User, exception: ShiftException
) -> None:
    client = client_for(clinic_admin)
    url = reverse("accounts:shift_exception_remove", args=[exception.id])
    assert "Conference" in client.get(url).content.decode()
    response = client.post(url, {"confirm": "on"})
    assert response["Location"] == reverse("accounts:shift_exceptions")
    assert not ShiftException.objects.exists()
    assert AuditEvent.objects.filter(object_type="shift_exception", action="delete").exists()


def test_a_persons_page_lists_their_shifts_and_exceptions(
    client_for: ClientFor, nurse: User, shift: Shift, exception: ShiftException
) -> None:
    response = client_for(nurse).get(reverse("accounts:shift_staff", args=[nurse.id]))
    assert response.context["shifts"] == [shift]
    assert response.context["page"].items == [exception]
    assert response.context["can_edit"] is False
    assert reverse("accounts:shift_remove", args=[shift.id]) not in response.content.decode()
