"""The second person of a co-signature (DESIGN §5a): checked like a login, locked out like
a login, and audited on every attempt."""

from collections.abc import Callable

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.test import Client, RequestFactory

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import (
    MESSAGE_CO_SIGN_BAD_CREDENTIALS,
    MESSAGE_CO_SIGN_LOCKED_OUT,
    MESSAGE_CO_SIGN_MISSING,
    MESSAGE_CO_SIGN_NOT_ALLOWED,
    MESSAGE_CO_SIGN_SELF,
    co_signer_verify,
)
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.conftest import PASSWORD
from ketapath.core.errors import ApplicationError, FieldError, InvalidInput
from ketapath.patients.models import Patient

pytestmark = pytest.mark.django_db

DIRECTORS = frozenset({Role.MEDICAL_DIRECTOR})
PURPOSE = "evaluation_override"


def fresh_request() -> HttpRequest:
    """One request per attempt, as in the API: the lockout marks the request it refuses."""
    return RequestFactory().post("/api/v1/evaluations/sign")


def verify(
    acting: User, clinic: Clinic, username: str, password: str, patient: Patient | None = None
) -> User:
    return co_signer_verify(
        request=fresh_request(),
        username=username,
        password=password,
        acting_user=acting,
        clinic=clinic,
        allowed_roles=DIRECTORS,
        who="a medical director",
        purpose=PURPOSE,
        patient_id=patient.id if patient else None,
    )


def test_the_director_co_signs_and_it_is_audited(
    prescriber: User, director: User, site: Clinic, patient: Patient
) -> None:
    assert verify(prescriber, site, " director ", PASSWORD, patient) == director
    event = AuditEvent.objects.get(object_type="co_signature")
    assert (event.user_id, event.action, event.outcome) == (director.id, "create", "success")
    assert (event.clinic_id, event.patient_id) == (site.id, patient.id)
    assert event.detail == {"purpose": PURPOSE, "for": "prescriber"}
    assert event.role == Role.MEDICAL_DIRECTOR


@pytest.mark.parametrize(("username", "password"), [("", PASSWORD), ("director", ""), ("  ", "")])
def test_missing_credentials(
    prescriber: User, director: User, site: Clinic, username: str, password: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        verify(prescriber, site, username, password)
    assert exc.value.errors == [FieldError("co_sign", MESSAGE_CO_SIGN_MISSING)]
    assert not AuditEvent.objects.filter(action="login_failed").exists()


def test_bad_password_is_audited_as_a_failed_login_via_co_sign(
    prescriber: User, director: User, site: Clinic, patient: Patient
) -> None:
    with pytest.raises(InvalidInput) as exc:
        verify(prescriber, site, "director", "not-the-password", patient)
    assert exc.value.message == MESSAGE_CO_SIGN_BAD_CREDENTIALS
    assert exc.value.errors == [FieldError("co_sign.password", MESSAGE_CO_SIGN_BAD_CREDENTIALS)]
    event = AuditEvent.objects.get(action="login_failed")
    assert (event.username, event.user_id, event.outcome) == ("director", None, "denied")
    assert (event.clinic_id, event.patient_id) == (site.id, patient.id)
    assert event.detail == {"via": "co_sign", "purpose": PURPOSE}
    assert not AuditEvent.objects.filter(object_type="co_signature").exists()


def test_unknown_and_inactive_co_signers_are_bad_credentials(
    prescriber: User, director: User, site: Clinic
) -> None:
    with pytest.raises(InvalidInput) as unknown:
        verify(prescriber, site, "nobody", PASSWORD)
    assert [e.field for e in unknown.value.errors] == ["co_sign.password"]
    User.objects.filter(pk=director.pk).update(is_active=False)
    with pytest.raises(InvalidInput) as inactive:
        verify(prescriber, site, "director", PASSWORD)
    assert inactive.value.errors == [
        FieldError("co_sign.password", MESSAGE_CO_SIGN_BAD_CREDENTIALS)
    ]
    assert AuditEvent.objects.filter(action="login_failed", detail__via="co_sign").count() == 2


def test_the_acting_user_cannot_co_sign(director: User, site: Clinic) -> None:
    for username in ("director", "Director"):
        with pytest.raises(InvalidInput) as exc:
            verify(director, site, username, PASSWORD)
        assert exc.value.errors == [FieldError("co_sign.username", MESSAGE_CO_SIGN_SELF)]
    # Refused before the password is tried: no failure counts against the account.
    assert not AuditEvent.objects.filter(action="login_failed").exists()


def test_the_co_signer_needs_the_role_at_this_clinic(
    prescriber: User,
    make_user: Callable[..., User],
    site: Clinic,
    other_site: Clinic,
) -> None:
    make_user("prescriber2", site, Role.PRESCRIBER)
    make_user("chicago_director", other_site, Role.MEDICAL_DIRECTOR)
    rule = MESSAGE_CO_SIGN_NOT_ALLOWED.format(who="a medical director")
    for username in ("prescriber2", "chicago_director"):
        with pytest.raises(InvalidInput) as exc:
            verify(prescriber, site, username, PASSWORD)
        assert exc.value.errors == [FieldError("co_sign.username", rule)]
    denied = AuditEvent.objects.filter(object_type="co_signature", outcome="denied")
    assert sorted(e.username for e in denied) == ["chicago_director", "prescriber2"]


def test_lockout_after_the_failure_limit_even_with_the_right_password(
    prescriber: User, director: User, site: Clinic
) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    outcomes: list[tuple[int, str]] = []
    for _ in range(limit):
        with pytest.raises(ApplicationError) as exc:
            verify(prescriber, site, "director", "not-the-password")
        outcomes.append((exc.value.status, exc.value.code))
    assert outcomes[:-1] == [(422, "invalid")] * (limit - 1)
    assert outcomes[-1] == (429, "locked_out")

    with pytest.raises(ApplicationError) as locked:
        verify(prescriber, site, "director", PASSWORD)
    assert (locked.value.status, locked.value.code) == (429, "locked_out")
    assert locked.value.message == MESSAGE_CO_SIGN_LOCKED_OUT.format(
        minutes=round(settings.AXES_COOLOFF_TIME * 60)
    )
    assert not AuditEvent.objects.filter(object_type="co_signature").exists()

    failed = AuditEvent.objects.filter(action="login_failed", username="director")
    assert all(e.outcome == "denied" and e.detail["via"] == "co_sign" for e in failed)
    assert failed.filter(detail__reason="locked_out").count() == 2
    assert failed.count() == limit + 1


def test_co_sign_lockout_locks_the_login_page_too(
    prescriber: User, director: User, site: Clinic, client: Client
) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        with pytest.raises(ApplicationError):
            verify(prescriber, site, "director", "not-the-password")
    response = client.post("/accounts/login/", {"username": "director", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_co_signer(
    prescriber: User, director: User, make_user: Callable[..., User], site: Clinic
) -> None:
    second = make_user("director2", site, Role.MEDICAL_DIRECTOR)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        with pytest.raises(ApplicationError):
            verify(prescriber, site, "director", "not-the-password")
    assert verify(prescriber, site, "director2", PASSWORD) == second


def test_a_success_resets_the_failure_count(prescriber: User, director: User, site: Clinic) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        with pytest.raises(InvalidInput):
            verify(prescriber, site, "director", "not-the-password")
    assert verify(prescriber, site, "director", PASSWORD) == director
    for _ in range(limit - 1):
        with pytest.raises(InvalidInput):
            verify(prescriber, site, "director", "not-the-password")
    assert verify(prescriber, site, "director", PASSWORD) == director
