"""Who may see the audit trail: the privacy officer only, on the page, the export and the API."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketapath.accounts.models import User
from ketapath.audit.models import AuditEvent
from ketapath.audit.views import MESSAGE_AUDIT_FORBIDDEN

OTHER_ROLES = [
    "director",
    "prescriber",
    "nurse",
    "therapist",
    "front_desk",
    "biller",
    "clinic_admin",
    "other_clinic_nurse",
]
PAGES = ["audit:events", "audit:export"]
API_URL = "/api/v1/audit/events"


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client: Client, name: str, db: Any) -> None:
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"
    assert not AuditEvent.objects.filter(object_type="audit_event").exists()


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_are_refused_and_the_refusal_is_audited(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], Client],
    name: str,
    role: str,
) -> None:
    user: User = request.getfixturevalue(role)
    response = client_for(user).get(reverse(name))
    assert response.status_code == 403
    assert MESSAGE_AUDIT_FORBIDDEN in response.content.decode()
    event = AuditEvent.objects.get(user_id=user.id, object_type="audit_event")
    assert event.outcome == AuditEvent.Outcome.DENIED
    expected = AuditEvent.Action.SEARCH if name == "audit:events" else AuditEvent.Action.EXPORT
    assert event.action == expected


@pytest.mark.parametrize("name", PAGES)
def test_privacy_officer_may_read_and_export(
    client_for: Callable[[User], Client], privacy_officer: User, name: str
) -> None:
    response = client_for(privacy_officer).get(reverse(name))
    assert response.status_code == 200


def test_report_answers_get_only(
    client_for: Callable[[User], Client], privacy_officer: User
) -> None:
    response = client_for(privacy_officer).post(reverse("audit:events"))
    assert response.status_code == 405


def test_api_anonymous_is_401(client: Client, db: Any) -> None:
    response = client.get(API_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "WWW-Authenticate" in response


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_api_other_roles_are_403(
    request: pytest.FixtureRequest, api_client: Callable[[User], Client], role: str
) -> None:
    user: User = request.getfixturevalue(role)
    response = api_client(user).get(API_URL)
    assert response.status_code == 403
    assert response.json() == {
        "detail": MESSAGE_AUDIT_FORBIDDEN,
        "code": "forbidden",
        "errors": [],
    }
    denied = AuditEvent.objects.get(user_id=user.id, object_type="audit_event")
    assert denied.outcome == AuditEvent.Outcome.DENIED


def test_api_privacy_officer_is_200(
    api_client: Callable[[User], Client], privacy_officer: User
) -> None:
    response = api_client(privacy_officer).get(API_URL)
    assert response.status_code == 200
    assert set(response.json()) == {"items", "count"}


def test_api_session_of_privacy_officer_works_for_reads(
    client_for: Callable[[User], Client], privacy_officer: User
) -> None:
    response = client_for(privacy_officer).get(API_URL)
    assert response.status_code == 200


def test_inactive_privacy_officer_is_refused(
    client_for: Callable[[User], Client], privacy_officer: User
) -> None:
    client = client_for(privacy_officer)
    User.objects.filter(pk=privacy_officer.pk).update(is_active=False)
    # Django's ModelBackend drops an inactive user's session: back to the login page.
    response = client.get(reverse("audit:events"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
