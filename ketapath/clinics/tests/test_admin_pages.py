"""Clinic admin pages: permissions on every page, forms, and bad input saving nothing."""

from collections.abc import Callable
from datetime import date, time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.clinics.forms import MESSAGE_ROW_INCOMPLETE
from ketapath.clinics.models import MESSAGE_HOURS_ORDER, Clinic, Closure, Room
from ketapath.clinics.services import (
    MESSAGE_HOURS_OVERLAP,
    MESSAGE_ROOM_NAME_TAKEN,
    MESSAGE_STAFF_MANAGE_FORBIDDEN,
)
from ketapath.clinics.views import MESSAGE_NO_SITE
from ketapath.core.validators import MESSAGE_PHONE, MESSAGE_TIME_ZONE

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]

SITE_PAGES = [
    "clinics:admin",
    "clinics:details_edit",
    "clinics:hours_edit",
    "clinics:closures",
    "clinics:closure_new",
    "clinics:room_new",
]


@pytest.fixture
def closure(site: Clinic) -> Closure:
    return Closure.objects.create(
        clinic=site, start_date=date(2031, 12, 25), end_date=date(2031, 12, 26), reason="Holiday"
    )


@pytest.fixture
def other_closure(other_site: Clinic) -> Closure:
    return Closure.objects.create(
        clinic=other_site, start_date=date(2031, 12, 25), end_date=date(2031, 12, 25), reason="X"
    )


def _object_urls(site: Clinic, closure: Closure) -> list[str]:
    room = site.rooms.get()
    return [
        reverse("clinics:room_edit", args=[room.id]),
        reverse("clinics:closure_delete", args=[closure.id]),
    ]


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("name", SITE_PAGES)
def test_anonymous_is_sent_to_login(client: Client, name: str) -> None:
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_anonymous_is_sent_to_login_from_object_pages(
    client: Client, site: Clinic, closure: Closure
) -> None:
    for url in _object_urls(site, closure):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("name", SITE_PAGES)
@pytest.mark.parametrize("persona", ["director", "nurse", "front_desk", "privacy_officer"])
def test_other_roles_get_403(
    request: pytest.FixtureRequest, client_for: ClientFor, name: str, persona: str
) -> None:
    user = request.getfixturevalue(persona)
    response = client_for(user).get(reverse(name))
    assert response.status_code == 403
    assert MESSAGE_STAFF_MANAGE_FORBIDDEN in response.content.decode()


@pytest.mark.parametrize("name", SITE_PAGES)
def test_clinic_admin_gets_200(client_for: ClientFor, clinic_admin: User, name: str) -> None:
    assert client_for(clinic_admin).get(reverse(name)).status_code == 200


def test_user_without_a_site_gets_403(client_for: ClientFor, site: Clinic) -> None:
    loner = User.objects.create_user(username="loner", password="x-long-password-1")
    response = client_for(loner).get(reverse("clinics:admin"))
    assert response.status_code == 403
    assert MESSAGE_NO_SITE in response.content.decode()


def test_object_pages_permissions(
    client_for: ClientFor, site: Clinic, closure: Closure, clinic_admin: User, nurse: User
) -> None:
    for url in _object_urls(site, closure):
        assert client_for(clinic_admin).get(url).status_code == 200
        assert client_for(nurse).get(url).status_code == 403


def test_other_sites_objects_are_404(
    client_for: ClientFor,
    other_site: Clinic,
    other_closure: Closure,
    clinic_admin: User,
    nurse: User,
) -> None:
    for url in _object_urls(other_site, other_closure):
        for user in (clinic_admin, nurse):
            assert client_for(user).get(url).status_code == 404
            assert client_for(user).post(url, {"confirm": "on", "name": "x"}).status_code == 404
    assert Closure.objects.filter(pk=other_closure.pk).exists()


def test_admin_of_another_site_cannot_manage_this_one(
    client_for: ClientFor, site: Clinic, other_site: Clinic, make_user: Any
) -> None:
    other_admin = make_user("admin2", other_site, "clinic_admin", licence_number="")
    response = client_for(other_admin).get(reverse("clinics:admin"))
    assert response.status_code == 200
    assert "Chicago Site" in response.content.decode()
    room = site.rooms.get()
    assert (
        client_for(other_admin).get(reverse("clinics:room_edit", args=[room.id])).status_code == 404
    )


# --- the hub ----------------------------------------------------------------------------


def test_hub_shows_details_hours_closures_and_rooms(
    client_for: ClientFor, site: Clinic, closure: Closure, clinic_admin: User
) -> None:
    Room.objects.create(clinic=site, name="Consult B", kind=Room.Kind.CONSULT, active=False)
    page = client_for(clinic_admin).get(reverse("clinics:admin")).content.decode()
    assert "Denver Site" in page
    assert "(303) 555-0100" in page
    assert "America/Denver" in page
    assert "08:00\u201317:00" in page
    assert "Closed" in page  # the weekend
    assert "Holiday" in page
    assert "Treatment 1" in page and "Consult B" in page
    assert "Inactive" in page
    assert reverse("accounts:staff_list") in page


def test_hub_query_count_does_not_grow_with_rooms_and_closures(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(clinic_admin)
    client.get(reverse("clinics:admin"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("clinics:admin"))
    for n in range(8):
        Room.objects.create(clinic=site, name=f"Room {n}")
        Closure.objects.create(
            clinic=site, start_date=date(2032, 1, n + 1), end_date=date(2032, 1, n + 1), reason="x"
        )
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("clinics:admin"))
    assert len(many) == len(few)


# --- site details -----------------------------------------------------------------------


def _details(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Denver Site",
        "address_line1": "100 Main St",
        "address_line2": "",
        "city": "Denver",
        "state": "co",
        "postal_code": "80202",
        "phone": "(303) 555-0177",
        "time_zone": "America/Denver",
        "dea_registration": "BS1234563",
    }
    data.update(overrides)
    return data


def test_details_form_shows_the_phone_in_national_form(
    client_for: ClientFor, clinic_admin: User
) -> None:
    response = client_for(clinic_admin).get(reverse("clinics:details_edit"))
    assert response.context["form"].initial["phone"] == "(303) 555-0100"


def test_details_form_saves_and_normalises(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    response = client_for(clinic_admin).post(reverse("clinics:details_edit"), _details())
    assert response.status_code == 302
    assert response["Location"] == reverse("clinics:admin")
    site.refresh_from_db()
    assert site.phone == "+13035550177"
    assert site.state == "CO"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"time_zone": "Europe/Atlantis"}, MESSAGE_TIME_ZONE), ({"phone": "12"}, MESSAGE_PHONE)],
)
def test_details_form_bad_input_shows_the_rule_and_saves_nothing(
    client_for: ClientFor,
    site: Clinic,
    clinic_admin: User,
    overrides: dict[str, str],
    message: str,
) -> None:
    response = client_for(clinic_admin).post(
        reverse("clinics:details_edit"), _details(name="Renamed", **overrides)
    )
    assert response.status_code == 200
    form = response.context["form"]
    field = next(iter(overrides))
    assert form.errors[field] == [message]
    site.refresh_from_db()
    assert site.name == "Denver Site"
    assert not AuditEvent.objects.filter(object_type="clinic").exists()


def test_details_form_refused_to_other_roles_on_post(
    client_for: ClientFor, site: Clinic, director: User
) -> None:
    response = client_for(director).post(reverse("clinics:details_edit"), _details(name="X"))
    assert response.status_code == 403
    site.refresh_from_db()
    assert site.name == "Denver Site"


# --- opening hours ----------------------------------------------------------------------


def _hours_post(rows: list[tuple[str, str, str, bool]], initial: int) -> dict[str, str]:
    data = {
        "hours-TOTAL_FORMS": str(len(rows)),
        "hours-INITIAL_FORMS": str(initial),
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "1000",
    }
    for i, (weekday, opens, closes, delete) in enumerate(rows):
        data[f"hours-{i}-weekday"] = weekday
        data[f"hours-{i}-opens"] = opens
        data[f"hours-{i}-closes"] = closes
        if delete:
            data[f"hours-{i}-DELETE"] = "on"
    return data


def test_hours_page_lists_current_rows_and_blank_rows(
    client_for: ClientFor, clinic_admin: User
) -> None:
    response = client_for(clinic_admin).get(reverse("clinics:hours_edit"))
    formset = response.context["formset"]
    assert len(formset.forms) == 5 + 3
    page = response.content.decode()
    assert 'name="hours-0-DELETE"' in page
    assert 'value="08:00"' in page


def test_hours_add_and_remove_rows_without_javascript(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    rows = [
        ("0", "08:00", "12:00", False),  # Monday shortened
        ("1", "08:00", "17:00", True),  # Tuesday removed
        ("2", "08:00", "17:00", False),
        ("3", "08:00", "17:00", False),
        ("4", "08:00", "17:00", False),
        ("0", "13:00", "17:00", False),  # new: Monday afternoon
        ("5", "09:00", "12:00", False),  # new: Saturday
        ("", "", "", False),  # blank row ignored
    ]
    response = client_for(clinic_admin).post(reverse("clinics:hours_edit"), _hours_post(rows, 5))
    assert response.status_code == 302
    saved = [
        (h.weekday, h.opens, h.closes) for h in site.opening_hours.order_by("weekday", "opens")
    ]
    assert saved == [
        (0, time(8), time(12)),
        (0, time(13), time(17)),
        (2, time(8), time(17)),
        (3, time(8), time(17)),
        (4, time(8), time(17)),
        (5, time(9), time(12)),
    ]


@pytest.mark.parametrize(
    ("rows", "row_index", "field", "message"),
    [
        ([("0", "17:00", "08:00", False), ("", "", "", False)], 0, "closes", MESSAGE_HOURS_ORDER),
        (
            [("0", "08:00", "12:00", False), ("0", "11:00", "15:00", False)],
            1,
            "__all__",
            MESSAGE_HOURS_OVERLAP,
        ),
        ([("0", "08:00", "", False)], 0, "__all__", MESSAGE_ROW_INCOMPLETE),
    ],
)
def test_hours_bad_input_names_the_row_and_saves_nothing(
    client_for: ClientFor,
    site: Clinic,
    clinic_admin: User,
    rows: list[tuple[str, str, str, bool]],
    row_index: int,
    field: str,
    message: str,
) -> None:
    response = client_for(clinic_admin).post(reverse("clinics:hours_edit"), _hours_post(rows, 0))
    assert response.status_code == 200
    formset = response.context["formset"]
    assert formset.forms[row_index].errors[field] == [message]
    assert message in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert site.opening_hours.count() == 5
    assert not AuditEvent.objects.filter(object_type="opening_hours").exists()


# --- closures ---------------------------------------------------------------------------


def test_closure_add_list_and_delete_with_confirmation(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    client = client_for(clinic_admin)
    response = client.post(
        reverse("clinics:closure_new"),
        {"start_date": "2031-07-04", "end_date": "2031-07-04", "reason": "Independence Day"},
    )
    assert response.status_code == 302
    closure = site.closures.get()
    assert "Independence Day" in client.get(reverse("clinics:closures")).content.decode()
    url = reverse("clinics:closure_delete", args=[closure.id])
    confirm = client.get(url)
    assert "Delete this closure?" in confirm.content.decode()
    # Without ticking the confirmation nothing is deleted.
    response = client.post(url, {})
    assert response.status_code == 200
    assert response.context["form"].errors["confirm"]
    assert site.closures.exists()
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302
    assert not site.closures.exists()


def test_closure_with_end_before_start_is_refused(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    from ketapath.clinics.models import MESSAGE_CLOSURE_ORDER

    response = client_for(clinic_admin).post(
        reverse("clinics:closure_new"),
        {"start_date": "2031-07-05", "end_date": "2031-07-04", "reason": "Holiday"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["end_date"] == [MESSAGE_CLOSURE_ORDER]
    assert not site.closures.exists()


def test_closures_list_separates_past_and_coming(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    Closure.objects.create(
        clinic=site, start_date=date(2001, 1, 1), end_date=date(2001, 1, 1), reason="Long ago"
    )
    Closure.objects.create(
        clinic=site, start_date=date(2099, 1, 1), end_date=date(2099, 1, 1), reason="Far ahead"
    )
    client = client_for(clinic_admin)
    coming = client.get(reverse("clinics:closures")).content.decode()
    past = client.get(reverse("clinics:closures") + "?show=past").content.decode()
    assert "Far ahead" in coming and "Long ago" not in coming
    assert "Long ago" in past and "Far ahead" not in past


# --- rooms ------------------------------------------------------------------------------


def test_room_add_and_deactivate(client_for: ClientFor, site: Clinic, clinic_admin: User) -> None:
    client = client_for(clinic_admin)
    response = client.post(
        reverse("clinics:room_new"), {"name": "Consult A", "kind": "consult", "active": "on"}
    )
    assert response.status_code == 302
    room = site.rooms.get(name="Consult A")
    assert room.active
    response = client.post(
        reverse("clinics:room_edit", args=[room.id]), {"name": "Consult A", "kind": "consult"}
    )
    assert response.status_code == 302
    room.refresh_from_db()
    assert room.active is False


def test_duplicate_room_name_is_refused_beside_the_field(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    response = client_for(clinic_admin).post(
        reverse("clinics:room_new"), {"name": "Treatment 1", "kind": "treatment", "active": "on"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [MESSAGE_ROOM_NAME_TAKEN]
    assert site.rooms.count() == 1
