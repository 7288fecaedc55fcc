"""Staff management pages: permissions, list with credential badges, create, edit,
deactivate and reactivate, each audited (role changes as privilege changes)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import ApiToken, Membership, Role, User
from ketapath.accounts.services import api_token_issue
from ketapath.accounts.staff_forms import MESSAGE_PASSWORD_MISMATCH, MESSAGE_ROLE_REQUIRED
from ketapath.accounts.staff_views import (
    MESSAGE_SELF_ADMIN_ROLE,
    MESSAGE_SELF_DEACTIVATE,
    MESSAGE_STAFF_FORBIDDEN,
    MESSAGE_SUPERUSER,
)
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.core.validators import MESSAGE_DEA_CHECK, MESSAGE_NPI

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], Client]
NEW_PASSWORD = "quiet-meadow-lantern-42"


def _new_staff(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "username": "rnjones",
        "first_name": "Riley",
        "last_name": "Jones",
        "title": "RN",
        "email": "riley@example.org",
        "roles": ["nurse"],
        "licence_type": "RN",
        "licence_number": "RN-778",
        "licence_state": "co",
        "licence_expires": "2031-06-30",
        "dea_number": "",
        "dea_expires": "",
        "acls_expires": "2030-01-31",
        "npi": "1234567893",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    data.update(overrides)
    return data


def _edit_data(user: User, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "title": user.title,
        "email": user.email,
        "roles": list(
            Membership.objects.filter(user=user, active=True).values_list("role", flat=True)
        ),
        "licence_type": user.licence_type,
        "licence_number": user.licence_number,
        "licence_state": user.licence_state,
        "licence_expires": user.licence_expires.isoformat() if user.licence_expires else "",
        "dea_number": user.dea_number,
        "dea_expires": user.dea_expires.isoformat() if user.dea_expires else "",
        "acls_expires": user.acls_expires.isoformat() if user.acls_expires else "",
        "npi": user.npi,
        "password1": "",
        "password2": "",
    }
    data.update(overrides)
    return data


# --- permissions ------------------------------------------------------------------------


def _pages(member: User) -> list[str]:
    return [
        reverse("accounts:staff_list"),
        reverse("accounts:staff_new"),
        reverse("accounts:staff_edit", args=[member.id]),
        reverse("accounts:staff_deactivate", args=[member.id]),
    ]


def test_anonymous_is_sent_to_login(client: Client, nurse: User) -> None:
    for url in _pages(nurse):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("persona", ["director", "prescriber", "front_desk", "privacy_officer"])
def test_other_roles_get_403(
    request: pytest.FixtureRequest, client_for: ClientFor, nurse: User, persona: str
) -> None:
    client = client_for(request.getfixturevalue(persona))
    for url in _pages(nurse):
        response = client.get(url)
        assert response.status_code == 403
        assert MESSAGE_STAFF_FORBIDDEN in response.content.decode()
    assert client.post(reverse("accounts:staff_new"), _new_staff()).status_code == 403
    assert not User.objects.filter(username="rnjones").exists()


def test_clinic_admin_gets_200(client_for: ClientFor, clinic_admin: User, nurse: User) -> None:
    client = client_for(clinic_admin)
    for url in _pages(nurse):
        assert client.get(url).status_code == 200


def test_staff_of_another_site_are_404(
    client_for: ClientFor, clinic_admin: User, nurse: User, other_clinic_nurse: User
) -> None:
    admin = client_for(clinic_admin)
    other_pages = [
        reverse("accounts:staff_edit", args=[other_clinic_nurse.id]),
        reverse("accounts:staff_deactivate", args=[other_clinic_nurse.id]),
        reverse("accounts:staff_reactivate", args=[other_clinic_nurse.id]),
    ]
    for url in other_pages:
        assert admin.get(url).status_code in {404, 405}
        assert (
            admin.post(url, {"confirm": "on", **_edit_data(other_clinic_nurse)}).status_code == 404
        )
        # 404 comes before the role check.
        assert client_for(nurse).post(url, {}).status_code == 404
    other_clinic_nurse.refresh_from_db()
    assert other_clinic_nurse.is_active
    listing = admin.get(reverse("accounts:staff_list")).content.decode()
    assert "Nurse2" not in listing and "Nurse Tester" in listing


def test_superusers_are_not_managed_here(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    root = User.objects.create_superuser(username="root", password="root-password-long")
    Membership.objects.create(user=root, clinic=site, role=Role.NURSE)
    response = client_for(clinic_admin).post(
        reverse("accounts:staff_edit", args=[root.id]),
        _edit_data(root, password1=NEW_PASSWORD, password2=NEW_PASSWORD),
    )
    assert response.status_code == 403
    assert MESSAGE_SUPERUSER in response.content.decode()
    root.refresh_from_db()
    assert not root.check_password(NEW_PASSWORD)


# --- list -------------------------------------------------------------------------------


def test_list_shows_roles_and_credential_badges_by_word(
    client_for: ClientFor, site: Clinic, clinic_admin: User, make_user: Callable[..., User]
) -> None:
    today = local_today(site.time_zone)
    make_user(
        "expiring",
        site,
        Role.NURSE,
        Role.FRONT_DESK,
        licence_expires=today + timedelta(days=10),
        dea_expires=today - timedelta(days=1),
        acls_expires=None,
    )
    response = client_for(clinic_admin).get(reverse("accounts:staff_list"))
    assert response.status_code == 200
    row = next(r for r in response.context["rows"] if r.user.username == "expiring")
    assert row.roles == ["Front desk", "Nurse"]
    assert [(c.name, c.state) for c in row.credentials] == [
        ("Licence", "expiring"),
        ("DEA", "expired"),
        ("ACLS", "none"),
    ]
    page = response.content.decode()
    assert "Expires within 30 days" in page
    assert 'class="badge badge-warn"' in page
    assert 'class="badge badge-danger">Expired' in page
    assert 'class="badge badge-ok">Current' in page


def test_list_is_paginated_and_queries_do_not_grow(
    client_for: ClientFor, site: Clinic, clinic_admin: User, make_user: Callable[..., User]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(clinic_admin)
    client.get(reverse("accounts:staff_list"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("accounts:staff_list"))
    for n in range(30):
        make_user(f"staff{n:02d}", site, Role.NURSE)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("accounts:staff_list"))
    assert len(many) == len(few)
    assert response.context["page"].count == 31
    assert len(response.context["rows"]) == 25
    second = client.get(reverse("accounts:staff_list") + "?page=2")
    assert len(second.context["rows"]) == 6


def test_list_search(client_for: ClientFor, clinic_admin: User, nurse: User, biller: User) -> None:
    response = client_for(clinic_admin).get(reverse("accounts:staff_list") + "?q=bill")
    assert [r.user.username for r in response.context["rows"]] == ["biller"]


# --- create -----------------------------------------------------------------------------


def test_create_staff_member_with_roles_and_audit(
    client_for: ClientFor, site: Clinic, clinic_admin: User
) -> None:
    response = client_for(clinic_admin).post(
        reverse("accounts:staff_new"), _new_staff(roles=["nurse", "front_desk"])
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    user = User.objects.get(username="rnjones")
    assert user.check_password(NEW_PASSWORD)
    assert user.licence_state == "CO"
    assert user.npi == "1234567893"
    assert set(
        Membership.objects.filter(user=user, clinic=site).values_list("role", flat=True)
    ) == {
        "nurse",
        "front_desk",
    }
    created = AuditEvent.objects.get(action=AuditEvent.Action.CREATE, object_type="user")
    privilege = AuditEvent.objects.get(action=AuditEvent.Action.PRIVILEGE_CHANGE)
    for event in (created, privilege):
        assert event.object_id == str(user.id)
        assert event.user_id == clinic_admin.id
        assert event.clinic_id == site.id
    assert privilege.detail == {"before": [], "after": ["front_desk", "nurse"]}
    assert client_for(user).get("/clinic/policy/").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"roles": []}, "roles", MESSAGE_ROLE_REQUIRED),
        ({"password2": "something-else-entirely"}, "password2", MESSAGE_PASSWORD_MISMATCH),
        ({"password1": "short", "password2": "short"}, "password1", None),
        ({"password1": "12345678901234", "password2": "12345678901234"}, "password1", None),
        ({"dea_number": "AB1234567", "dea_expires": "2031-01-01"}, "dea_number", MESSAGE_DEA_CHECK),
        ({"npi": "1234567890"}, "npi", MESSAGE_NPI),
        ({"username": "nurse"}, "username", "A user with that username already exists."),
    ],
)
def test_create_bad_input_saves_nothing(
    client_for: ClientFor,
    clinic_admin: User,
    nurse: User,
    overrides: dict[str, Any],
    field: str,
    message: str | None,
) -> None:
    before = User.objects.count()
    response = client_for(clinic_admin).post(reverse("accounts:staff_new"), _new_staff(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    if message is None:  # Django's password validators speak for themselves.
        assert errors
    else:
        assert message in errors
    assert User.objects.count() == before
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PRIVILEGE_CHANGE).exists()


# --- edit -------------------------------------------------------------------------------


def test_edit_changes_roles_credentials_and_password(
    client_for: ClientFor, site: Clinic, clinic_admin: User, nurse: User, other_site: Clinic
) -> None:
    Membership.objects.create(user=nurse, clinic=other_site, role=Role.NURSE)
    response = client_for(clinic_admin).post(
        reverse("accounts:staff_edit", args=[nurse.id]),
        _edit_data(
            nurse,
            roles=["prescriber"],
            acls_expires="2032-02-29",
            password1=NEW_PASSWORD,
            password2=NEW_PASSWORD,
        ),
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.acls_expires.isoformat() == "2032-02-29"
    assert nurse.check_password(NEW_PASSWORD)
    active = set(Membership.objects.filter(user=nurse, active=True).values_list("clinic", "role"))
    # Roles at the other site are untouched.
    assert active == {(site.id, "prescriber"), (other_site.id, "nurse")}
    privilege = AuditEvent.objects.get(action=AuditEvent.Action.PRIVILEGE_CHANGE)
    assert privilege.detail == {"before": ["nurse"], "after": ["prescriber"]}
    assert privilege.role == "clinic_admin"


def test_edit_without_password_keeps_it(
    client_for: ClientFor, clinic_admin: User, nurse: User
) -> None:
    from ketapath.conftest import PASSWORD

    response = client_for(clinic_admin).post(
        reverse("accounts:staff_edit", args=[nurse.id]), _edit_data(nurse, title="RN, BSN")
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.title == "RN, BSN"
    assert nurse.check_password(PASSWORD)
    # Same roles: no privilege change recorded.
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PRIVILEGE_CHANGE).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE, object_type="user").exists()


def test_admin_cannot_drop_their_own_admin_role(client_for: ClientFor, clinic_admin: User) -> None:
    response = client_for(clinic_admin).post(
        reverse("accounts:staff_edit", args=[clinic_admin.id]),
        _edit_data(clinic_admin, roles=["front_desk"], first_name="Changed"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["roles"] == [MESSAGE_SELF_ADMIN_ROLE]
    clinic_admin.refresh_from_db()
    assert clinic_admin.first_name == "Admin"
    assert Membership.objects.get(user=clinic_admin).role == "clinic_admin"


def test_edit_bad_input_saves_nothing(
    client_for: ClientFor, clinic_admin: User, nurse: User
) -> None:
    response = client_for(clinic_admin).post(
        reverse("accounts:staff_edit", args=[nurse.id]),
        _edit_data(nurse, first_name="Changed", username="biller-or-anything", npi="99"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["npi"] == [MESSAGE_NPI]
    nurse.refresh_from_db()
    assert (nurse.first_name, nurse.username) == ("Nurse", "nurse")


# --- deactivate / reactivate ------------------------------------------------------------


def test_deactivate_needs_confirmation_then_stops_sign_in_and_tokens(
    client_for: ClientFor, site: Clinic, clinic_admin: User, nurse: User
) -> None:
    raw, _ = api_token_issue(user=nurse)
    url = reverse("accounts:staff_deactivate", args=[nurse.id])
    admin = client_for(clinic_admin)
    response = admin.post(url, {})
    assert response.status_code == 200
    assert response.context["form"].errors["confirm"]
    nurse.refresh_from_db()
    assert nurse.is_active
    response = admin.post(url, {"confirm": "on"})
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert not nurse.is_active
    assert not ApiToken.objects.filter(user=nurse, revoked_at__isnull=True).exists()
    assert (
        Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/v1/clinics").status_code == 401
    )
    assert not Membership.objects.filter(user=nurse, active=True).exists()
    privilege = AuditEvent.objects.get(action=AuditEvent.Action.PRIVILEGE_CHANGE)
    assert privilege.detail == {"before": ["nurse"], "after": []}
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.UPDATE, object_type="user", object_id=str(nurse.id)
    ).exists()
    # Still listed as a former member of the site, marked deactivated.
    listing = admin.get(reverse("accounts:staff_list")).content.decode()
    assert "Deactivated" in listing

    response = admin.post(reverse("accounts:staff_reactivate", args=[nurse.id]))
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.is_active
    # Roles are given back deliberately, not restored silently.
    assert not Membership.objects.filter(user=nurse, active=True).exists()


def test_admin_cannot_deactivate_themselves(client_for: ClientFor, clinic_admin: User) -> None:
    url = reverse("accounts:staff_deactivate", args=[clinic_admin.id])
    response = client_for(clinic_admin).post(url, {"confirm": "on"})
    assert response.status_code == 403
    assert MESSAGE_SELF_DEACTIVATE in response.content.decode()
    clinic_admin.refresh_from_db()
    assert clinic_admin.is_active


def test_reactivate_is_post_only(client_for: ClientFor, clinic_admin: User, nurse: User) -> None:
    url = reverse("accounts:staff_reactivate", args=[nurse.id])
    assert client_for(clinic_admin).get(url).status_code == 405
