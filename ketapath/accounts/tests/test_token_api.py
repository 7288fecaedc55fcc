"""Bearer tokens: issue, use, expiry, revocation, deactivation; session auth and CSRF."""

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone

from ketapath.accounts.api import MESSAGE_BAD_CREDENTIALS
from ketapath.accounts.models import ApiToken, Membership, Role, User
from ketapath.accounts.services import user_save
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.conftest import PASSWORD
from ketapath.core.api import MESSAGE_UNAUTHENTICATED

TOKEN_URL = "/api/v1/auth/token"
ME_URL = "/api/v1/auth/me"
UNAUTHENTICATED = {"detail": MESSAGE_UNAUTHENTICATED, "code": "unauthenticated", "errors": []}
BAD_CREDENTIALS = {"detail": MESSAGE_BAD_CREDENTIALS, "code": "invalid_credentials", "errors": []}


def _issue(client: Client, username: str, password: str) -> object:
    return client.post(
        TOKEN_URL, {"username": username, "password": password}, content_type="application/json"
    )


def _bearer(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def issued(client: Client, nurse: User) -> str:
    response = _issue(client, "nurse", PASSWORD)
    assert response.status_code == 200  # type: ignore[attr-defined]
    return str(response.json()["token"])  # type: ignore[attr-defined]


def test_good_credentials_issue_a_token(client: Client, nurse: User) -> None:
    before = timezone.now()
    response = _issue(client, "nurse", PASSWORD)
    assert response.status_code == 200  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"token", "expires_at"}
    token = ApiToken.objects.get(user=nurse)
    assert body["expires_at"] == token.expires_at.isoformat()
    lifetime = token.expires_at - before
    assert timedelta(hours=settings.API_TOKEN_HOURS) - timedelta(minutes=1) < lifetime
    assert lifetime <= timedelta(hours=settings.API_TOKEN_HOURS) + timedelta(minutes=1)
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_ISSUED)
    assert (event.user_id, event.object_id) == (nurse.id, str(token.id))


def test_only_the_sha256_hash_is_stored(issued: str, nurse: User) -> None:
    token = ApiToken.objects.get(user=nurse)
    assert token.token_hash == hashlib.sha256(issued.encode()).hexdigest()
    for row in ApiToken.objects.values():
        assert issued not in " ".join(str(v) for v in row.values())
    for row in AuditEvent.objects.values():
        assert issued not in " ".join(str(v) for v in row.values())


def test_the_token_authenticates_and_me_answers(issued: str, nurse: User, site: Clinic) -> None:
    response = _bearer(issued).get(ME_URL)
    assert response.status_code == 200
    assert response.json() == {
        "id": str(nurse.id),
        "username": "nurse",
        "name": nurse.display_name,
        "clinics": [{"clinic": str(site.id), "roles": ["nurse"]}],
    }
    assert ApiToken.objects.get(user=nurse).last_used_at is not None


def test_me_lists_each_site_with_its_roles(
    api_client: Callable[[User], Client], nurse: User, site: Clinic, other_site: Clinic
) -> None:
    Membership.objects.create(user=nurse, clinic=site, role=Role.THERAPIST)
    Membership.objects.create(user=nurse, clinic=other_site, role=Role.NURSE)
    Membership.objects.create(user=nurse, clinic=other_site, role=Role.BILLER, active=False)
    clinics = api_client(nurse).get(ME_URL).json()["clinics"]
    assert sorted((c["clinic"], tuple(c["roles"])) for c in clinics) == sorted(
        [(str(site.id), ("nurse", "therapist")), (str(other_site.id), ("nurse",))]
    )


@pytest.mark.parametrize(("username", "password"), [("nurse", "wrong-pass-1234"),
                                                     ("nobody", PASSWORD)])  # fmt: skip
def test_wrong_credentials_are_401(
    client: Client, nurse: User, username: str, password: str
) -> None:
    response = _issue(client, username, password)
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json() == BAD_CREDENTIALS  # type: ignore[attr-defined]
    assert not ApiToken.objects.exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert (event.username, event.outcome) == (username, "denied")


def test_inactive_user_gets_no_token(client: Client, nurse: User) -> None:
    User.objects.filter(pk=nurse.pk).update(is_active=False)
    response = _issue(client, "nurse", PASSWORD)
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert not ApiToken.objects.exists()


def test_missing_fields_are_422(client: Client, db: None) -> None:
    response = client.post(TOKEN_URL, {"username": "nurse"}, content_type="application/json")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["password"]


def test_token_requests_are_locked_out_too(client: Client, nurse: User) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _issue(client, "nurse", "wrong-pass-1234")
    response = _issue(client, "nurse", PASSWORD)
    assert response.status_code == 429  # type: ignore[attr-defined]
    assert response.json()["code"] == "locked_out"  # type: ignore[attr-defined]
    assert not ApiToken.objects.exists()


def test_expired_token_is_401(issued: str, nurse: User) -> None:
    ApiToken.objects.filter(user=nurse).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _bearer(issued).get(ME_URL)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert response["WWW-Authenticate"] == 'Bearer realm="ketapath"'


def test_revoked_token_is_401(issued: str, nurse: User) -> None:
    client = _bearer(issued)
    assert client.delete(TOKEN_URL).status_code == 204
    assert ApiToken.objects.get(user=nurse).revoked_at is not None
    assert client.get(ME_URL).status_code == 401


def test_revoking_one_token_leaves_the_others(
    issued: str, api_client: Callable[[User], Client], nurse: User
) -> None:
    other = api_client(nurse)
    assert _bearer(issued).delete(TOKEN_URL).status_code == 204
    assert other.get(ME_URL).status_code == 200


def test_deactivated_users_token_is_401(issued: str, nurse: User) -> None:
    client = _bearer(issued)
    assert client.get(ME_URL).status_code == 200
    User.objects.filter(pk=nurse.pk).update(is_active=False)
    assert client.get(ME_URL).status_code == 401


def test_deactivation_through_the_service_revokes_tokens(
    issued: str, nurse: User, clinic_admin: User, site: Clinic
) -> None:
    nurse.is_active = False
    user_save(user=nurse, actor=clinic_admin, clinic=site)
    assert ApiToken.objects.get(user=nurse).revoked_at is not None
    assert _bearer(issued).get(ME_URL).status_code == 401


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer ", "Basic abc", "Token x"])
def test_bad_authorization_headers_are_401(db: None, header: str) -> None:
    response = Client(headers={"Authorization": header}).get(ME_URL)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


# Session cookie on the API -------------------------------------------------------------


def test_session_cookie_works_for_reads(client_for: Callable[[User], Client], nurse: User) -> None:
    assert client_for(nurse).get(ME_URL).json()["username"] == "nurse"


def _csrf_session_client(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_session_cookie_unsafe_method_without_csrf_is_refused(
    api_client: Callable[[User], Client], nurse: User
) -> None:
    api_client(nurse)  # a live token that must survive
    client = _csrf_session_client(nurse)
    events_before = AuditEvent.objects.count()
    response = client.delete(TOKEN_URL)
    # Ninja's session auth runs Django's CSRF check and answers 403 when it fails.
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert AuditEvent.objects.count() == events_before
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_session_cookie_unsafe_method_with_csrf_is_accepted(nurse: User) -> None:
    client = _csrf_session_client(nurse)
    secret = _get_new_csrf_string()
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    response = client.delete(TOKEN_URL, HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 204


def test_bearer_token_needs_no_csrf(issued: str) -> None:
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {issued}"})
    assert client.delete(TOKEN_URL).status_code == 204


def test_token_issue_needs_no_csrf(nurse: User) -> None:
    response = _issue(Client(enforce_csrf_checks=True), "nurse", PASSWORD)
    assert response.status_code == 200  # type: ignore[attr-defined]


def test_me_anonymous_is_401(client: Client, db: None) -> None:
    response = client.get(ME_URL)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
