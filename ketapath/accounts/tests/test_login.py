"""Signing in and out: the login page, its audit trail, lockout and password hashing."""

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from ketapath.accounts.forms import LoginForm
from ketapath.accounts.models import User
from ketapath.accounts.views import MESSAGE_LOCKED_OUT, MESSAGE_SIGNED_OUT
from ketapath.audit.models import AuditEvent
from ketapath.conftest import PASSWORD

LOGIN_URL = "/accounts/login/"
INVALID_LOGIN = LoginForm.error_messages["invalid_login"] % {"username": "username"}
LOCKED_TEXT = MESSAGE_LOCKED_OUT.format(minutes=round(settings.AXES_COOLOFF_TIME * 60))


def _post_login(client: Client, username: str, password: str, **extra: str) -> object:
    return client.post(LOGIN_URL, {"username": username, "password": password, **extra})


def test_login_page_renders(client: Client, db: None) -> None:
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'type="password"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_good_credentials_go_to_today_and_are_audited(client: Client, nurse: User) -> None:
    response = _post_login(client, "nurse", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("chart:today") == "/"
    assert client.session["_auth_user_id"] == str(nurse.pk)
    assert {"ketapath_started", "ketapath_last_seen"} <= set(client.session.keys())
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN)
    assert (event.user_id, event.username, event.outcome) == (nurse.id, "nurse", "success")
    assert event.role == "nurse"
    assert event.ip == "127.0.0.1"


def test_login_follows_a_safe_next_only(client: Client, nurse: User) -> None:
    response = _post_login(client, "nurse", PASSWORD, next="/patients/")
    assert response["Location"] == "/patients/"
    client.post(reverse("accounts:logout"))
    response = _post_login(client, "nurse", PASSWORD, next="https://evil.example/")
    assert response["Location"] == "/"


def test_signed_in_user_visiting_login_goes_to_today(
    client_for: Callable[[User], Client], nurse: User
) -> None:
    response = client_for(nurse).get(LOGIN_URL)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_wrong_password_shows_form_error_and_is_audited(client: Client, nurse: User) -> None:
    response = _post_login(client, "nurse", "wrong-password-123")
    assert response.status_code == 200
    assert escape(INVALID_LOGIN) in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.outcome == AuditEvent.Outcome.DENIED
    assert event.username == "nurse"
    assert event.user_id is None
    assert "wrong-password" not in str(event.detail)


def _normalised(html: str, username: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return html.replace(f'value="{username}"', 'value="?"')


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client: Client, nurse: User) -> None:
    wrong = _post_login(Client(), "nurse", "wrong-password-123")
    unknown = _post_login(Client(), "nobody-here", "wrong-password-123")
    assert wrong.status_code == unknown.status_code == 200
    assert _normalised(wrong.content.decode(), "nurse") == _normalised(
        unknown.content.decode(), "nobody-here"
    )
    assert AuditEvent.objects.filter(action="login_failed", username="nobody-here").exists()


def test_inactive_user_cannot_sign_in(client: Client, nurse: User) -> None:
    User.objects.filter(pk=nurse.pk).update(is_active=False)
    response = _post_login(client, "nurse", PASSWORD)
    assert response.status_code == 200
    assert escape(INVALID_LOGIN) in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only_and_audited(client_for: Callable[[User], Client], nurse: User) -> None:
    client = client_for(nurse)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("accounts:logout"), follow=True)
    assert response.redirect_chain[0] == (reverse("accounts:login"), 302)
    assert MESSAGE_SIGNED_OUT in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGOUT)
    assert (event.user_id, event.outcome) == (nurse.id, "success")


# Lockout (django-axes, by username) ----------------------------------------------------------


def _fail(client: Client, username: str, times: int) -> list[int]:
    return [_post_login(client, username, "wrong-password-123").status_code for _ in range(times)]


def test_lockout_after_the_failure_limit(client: Client, nurse: User) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    statuses = _fail(client, "nurse", limit)
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert statuses[-1] == 429
    # While locked, even the right password is refused, with the lockout message.
    response = _post_login(client, "nurse", PASSWORD)
    assert response.status_code == 429
    assert LOCKED_TEXT in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).exists()
    locked = AuditEvent.objects.filter(action="login_failed", detail__reason="locked_out")
    assert locked.exists()
    assert all(e.outcome == "denied" for e in locked)


def test_lockout_is_per_username_not_per_address(
    client: Client, nurse: User, prescriber: User
) -> None:
    _fail(client, "nurse", settings.AXES_FAILURE_LIMIT)
    response = _post_login(client, "prescriber", PASSWORD)
    assert response.status_code == 302


def test_a_successful_login_resets_the_count(client: Client, nurse: User) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    _fail(client, "nurse", limit - 1)
    assert _post_login(client, "nurse", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    assert _fail(client, "nurse", limit - 1) == [200] * (limit - 1)
    assert _post_login(client, "nurse", PASSWORD).status_code == 302


# Password hashing --------------------------------------------------------------------------


def test_argon2_is_the_production_hasher() -> None:
    """Outside tests Argon2 comes first (tests put a fast hasher in front)."""
    root = Path(settings.BASE_DIR)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"KETAPATH_TESTING", "PYTEST_CURRENT_TEST", "PYTEST_VERSION"}
    }
    env.update({"SECRET_KEY": "x" * 50, "DEBUG": "0"})
    code = "import config.settings as s; print(s.TESTING); print(s.PASSWORD_HASHERS[0])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "django.contrib.auth.hashers.Argon2PasswordHasher"]


def test_argon2_is_configured_in_tests_too() -> None:
    assert "django.contrib.auth.hashers.Argon2PasswordHasher" in settings.PASSWORD_HASHERS


def test_user_with_an_argon2_hash_signs_in(client: Client, nurse: User) -> None:
    encoded = make_password(PASSWORD, hasher="argon2")
    assert encoded.startswith("argon2$argon2id$")
    assert identify_hasher(encoded).algorithm == "argon2"
    assert check_password(PASSWORD, encoded)
    assert not check_password("wrong-password-123", encoded)
    User.objects.filter(pk=nurse.pk).update(password=encoded)
    assert _post_login(client, "nurse", PASSWORD).status_code == 302


def test_passwords_are_never_stored_in_clear(nurse: User) -> None:
    stored = User.objects.get(pk=nurse.pk).password
    assert PASSWORD not in stored
    assert check_password(PASSWORD, stored)


@pytest.mark.parametrize("password", ["short", "password1234", "123456789012"])
def test_weak_passwords_are_rejected_by_the_validators(password: str, nurse: User) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_password(password, nurse)
