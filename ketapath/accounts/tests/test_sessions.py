"""Session lifetime (idle and absolute timeouts) and the site switcher."""

import time
from collections.abc import Callable

from django.conf import settings
from django.test import Client
from django.urls import reverse

from ketapath.accounts.middleware import (
    MESSAGE_ABSOLUTE,
    MESSAGE_IDLE,
    SESSION_CLINIC,
    SESSION_LAST_SEEN,
    SESSION_STARTED,
)
from ketapath.accounts.models import Membership, Role, User
from ketapath.accounts.views import MESSAGE_NOT_YOUR_SITE
from ketapath.clinics.models import Clinic

ME_URL = "/api/v1/auth/me"
TODAY_URL = "/"
IDLE_TEXT = MESSAGE_IDLE.format(minutes=settings.SESSION_IDLE_MINUTES)
ABSOLUTE_TEXT = MESSAGE_ABSOLUTE.format(hours=settings.SESSION_ABSOLUTE_HOURS)


def _set_times(client: Client, *, started_ago: float, last_seen_ago: float) -> None:
    session = client.session
    now = time.time()
    session[SESSION_STARTED] = now - started_ago
    session[SESSION_LAST_SEEN] = now - last_seen_ago
    session.save()


def _assert_signed_out_with(client: Client, response: object, text: str) -> None:
    assert response.status_code == 302  # type: ignore[attr-defined]
    location = response["Location"]  # type: ignore[index]
    assert location == f"{reverse('accounts:login')}?next={TODAY_URL}"
    assert "_auth_user_id" not in client.session
    page = client.get(location)
    assert page.status_code == 200
    assert text in page.content.decode()
    assert client.get(ME_URL).status_code == 401


def test_settings_match_the_policy() -> None:
    assert settings.SESSION_IDLE_MINUTES == 15
    assert settings.SESSION_ABSOLUTE_HOURS == 12
    assert settings.SESSION_COOKIE_HTTPONLY


def test_idle_for_16_minutes_signs_out(client_for: Callable[[User], Client], nurse: User) -> None:
    client = client_for(nurse)
    _set_times(client, started_ago=20 * 60, last_seen_ago=16 * 60)
    _assert_signed_out_with(client, client.get(TODAY_URL), IDLE_TEXT)


def test_idle_for_14_minutes_still_works_and_renews(
    client_for: Callable[[User], Client], nurse: User
) -> None:
    client = client_for(nurse)
    _set_times(client, started_ago=20 * 60, last_seen_ago=14 * 60)
    before = time.time()
    assert client.get(ME_URL).status_code == 200
    assert client.session[SESSION_LAST_SEEN] >= before
    assert client.session["_auth_user_id"] == str(nurse.pk)


def test_idle_api_session_answers_401(client_for: Callable[[User], Client], nurse: User) -> None:
    client = client_for(nurse)
    _set_times(client, started_ago=20 * 60, last_seen_ago=16 * 60)
    response = client.get(ME_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "_auth_user_id" not in client.session


def test_absolute_limit_of_12_hours(client_for: Callable[[User], Client], nurse: User) -> None:
    client = client_for(nurse)
    _set_times(client, started_ago=12 * 3600 + 60, last_seen_ago=30)
    _assert_signed_out_with(client, client.get(TODAY_URL), ABSOLUTE_TEXT)


def test_just_under_12_hours_still_works(client_for: Callable[[User], Client], nurse: User) -> None:
    client = client_for(nurse)
    _set_times(client, started_ago=12 * 3600 - 60, last_seen_ago=30)
    assert client.get(ME_URL).status_code == 200


def test_a_session_without_a_start_time_starts_counting(client: Client, nurse: User) -> None:
    """A session opened by another login (e.g. Django's admin) still gets both timeouts."""
    client.force_login(nurse)
    assert SESSION_STARTED not in client.session
    before = time.time()
    assert client.get(ME_URL).status_code == 200
    assert client.session[SESSION_STARTED] >= before
    session = client.session
    session[SESSION_STARTED] = time.time() - 13 * 3600
    session.save()
    assert client.get(ME_URL).status_code == 401


def test_login_page_starts_the_clocks(client: Client, nurse: User) -> None:
    from ketapath.conftest import PASSWORD

    before = time.time()
    client.post(reverse("accounts:login"), {"username": "nurse", "password": PASSWORD})
    assert client.session[SESSION_STARTED] >= before
    assert client.session[SESSION_LAST_SEEN] >= before


# Site switcher ----------------------------------------------------------------------------


def _current_clinic(client: Client) -> object:
    return client.get("/api/v1/health").wsgi_request.clinic_id  # type: ignore[attr-defined]


def test_default_site_is_the_first_by_name(
    client_for: Callable[[User], Client], nurse: User, site: Clinic, other_site: Clinic
) -> None:
    Membership.objects.create(user=nurse, clinic=other_site, role=Role.NURSE)
    # "Chicago Site" sorts before "Denver Site".
    assert _current_clinic(client_for(nurse)) == other_site.id


def test_switch_to_a_site_you_belong_to(
    client_for: Callable[[User], Client], nurse: User, site: Clinic, other_site: Clinic
) -> None:
    Membership.objects.create(user=nurse, clinic=other_site, role=Role.NURSE)
    client = client_for(nurse)
    response = client.post(
        reverse("accounts:switch_clinic"), {"clinic": str(site.id), "next": "/patients/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/patients/"
    assert client.session[SESSION_CLINIC] == str(site.id)
    assert _current_clinic(client) == site.id
    client.post(reverse("accounts:switch_clinic"), {"clinic": str(other_site.id)})
    assert _current_clinic(client) == other_site.id


def test_switch_to_another_site_is_refused(
    client_for: Callable[[User], Client], nurse: User, site: Clinic, other_site: Clinic
) -> None:
    client = client_for(nurse)
    assert _current_clinic(client) == site.id
    response = client.post(
        reverse("accounts:switch_clinic"), {"clinic": str(other_site.id), "next": "/"}
    )
    assert response.status_code == 302
    assert SESSION_CLINIC not in client.session
    assert _current_clinic(client) == site.id
    messages = [str(m) for m in response.wsgi_request._messages]  # type: ignore[attr-defined]
    assert messages == [MESSAGE_NOT_YOUR_SITE]


def test_switch_to_a_site_with_an_inactive_membership_is_refused(
    client_for: Callable[[User], Client], nurse: User, site: Clinic, other_site: Clinic
) -> None:
    Membership.objects.create(user=nurse, clinic=other_site, role=Role.NURSE, active=False)
    client = client_for(nurse)
    client.post(reverse("accounts:switch_clinic"), {"clinic": str(other_site.id)})
    assert _current_clinic(client) == site.id


def test_switch_never_redirects_off_site(
    client_for: Callable[[User], Client], nurse: User, site: Clinic
) -> None:
    response = client_for(nurse).post(
        reverse("accounts:switch_clinic"),
        {"clinic": str(site.id), "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


def test_switch_is_post_only_and_needs_login(
    client: Client, client_for: Callable[[User], Client], nurse: User, site: Clinic
) -> None:
    assert client_for(nurse).get(reverse("accounts:switch_clinic")).status_code == 405
    response = client.post(reverse("accounts:switch_clinic"), {"clinic": str(site.id)})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_a_stale_choice_falls_back_to_a_current_site(
    client_for: Callable[[User], Client], nurse: User, site: Clinic, other_site: Clinic
) -> None:
    membership = Membership.objects.create(user=nurse, clinic=other_site, role=Role.NURSE)
    client = client_for(nurse)
    client.post(reverse("accounts:switch_clinic"), {"clinic": str(other_site.id)})
    assert _current_clinic(client) == other_site.id
    Membership.objects.filter(pk=membership.pk).update(active=False)
    assert _current_clinic(client) == site.id
