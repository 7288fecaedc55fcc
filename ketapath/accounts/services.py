"""Writes for staff accounts: tokens, users, memberships; and the audit helper every app uses."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any
from uuid import UUID

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import ApiToken, Membership, User
from ketapath.accounts.permissions import forget_grants, roles_at
from ketapath.audit.models import AuditEvent
from ketapath.audit.services import audit_record
from ketapath.clinics.models import Clinic
from ketapath.core.errors import (
    ApplicationError,
    FieldError,
    InvalidInput,
    invalid_from_validation_error,
)

Action = AuditEvent.Action
Outcome = AuditEvent.Outcome


def audit(
    *,
    user: User | AnonymousUser | None,
    action: str,
    outcome: str = Outcome.SUCCESS,
    clinic_id: UUID | None = None,
    patient_id: UUID | None = None,
    object_type: str = "",
    object_id: UUID | str | None = None,
    detail: dict[str, Any] | None = None,
    username: str = "",
) -> AuditEvent:
    """Record an audit event for a staff user, with the roles they hold at the clinic."""
    staff = user if isinstance(user, User) else None
    return audit_record(
        action=action,
        outcome=outcome,
        user_id=staff.id if staff else None,
        username=staff.username if staff else username,
        role=",".join(roles_at(staff, clinic_id)) if staff else "",
        clinic_id=clinic_id,
        patient_id=patient_id,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_issue(*, user: User) -> tuple[str, ApiToken]:
    """Create a bearer token; the raw value is returned once and only its hash is kept."""
    raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        token_hash=_hash_token(raw),
        expires_at=timezone.now() + timedelta(hours=settings.API_TOKEN_HOURS),
    )
    audit(user=user, action=Action.TOKEN_ISSUED, object_type="api_token", object_id=token.id)
    return raw, token


def api_token_user(*, raw: str) -> User | None:
    """The active user behind a current (unexpired, unrevoked) token, else None."""
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=_hash_token(raw), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def api_token_revoke(*, raw: str) -> bool:
    return bool(
        ApiToken.objects.filter(token_hash=_hash_token(raw), revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def user_save(*, user: User, actor: User, clinic: Clinic, password: str | None = None) -> User:
    """Validate and save a staff user (new or edited) and audit it against ``clinic``."""
    creating = user._state.adding
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        raise invalid_from_validation_error(exc) from exc
    with transaction.atomic():
        if password is not None:
            user.set_password(password)
        elif creating:
            user.set_unusable_password()
        user.save()
        if not user.is_active:
            # A deactivated user's tokens stop working at once.
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        audit(
            user=actor,
            action=Action.CREATE if creating else Action.UPDATE,
            clinic_id=clinic.id,
            object_type="user",
            object_id=user.id,
        )
    return user


def membership_set_roles(
    *, user: User, clinic: Clinic, roles: set[str], actor: User
) -> list[Membership]:
    """Make the user's active roles at ``clinic`` exactly ``roles``; audited as a privilege
    change."""
    with transaction.atomic():
        current = {m.role: m for m in Membership.objects.filter(user=user, clinic=clinic)}
        before = {r for r, m in current.items() if m.active}
        for role, membership in current.items():
            active = role in roles
            if membership.active != active:
                membership.active = active
                membership.save(update_fields=["active", "updated_at"])
        for role in roles - set(current):
            Membership.objects.create(user=user, clinic=clinic, role=role)
        if before != roles:
            audit(
                user=actor,
                action=Action.PRIVILEGE_CHANGE,
                clinic_id=clinic.id,
                object_type="user",
                object_id=user.id,
                detail={"before": sorted(before), "after": sorted(roles)},
            )
    forget_grants(user)
    return list(Membership.objects.filter(user=user, clinic=clinic, active=True))


MESSAGE_CO_SIGN_MISSING = "A co-signature is needed: the co-signer's username and password."
MESSAGE_CO_SIGN_BAD_CREDENTIALS = "The co-signer's username or password is not correct."
MESSAGE_CO_SIGN_LOCKED_OUT = (
    "The co-signer's account is locked after too many failed attempts; try again in "
    "{minutes} minutes."
)
MESSAGE_CO_SIGN_SELF = "The co-signer must be another person, not the user acting."
MESSAGE_CO_SIGN_NOT_ALLOWED = "The co-signer must be {who} at this clinic."


def co_signer_verify(
    *,
    request: Any,
    username: str,
    password: str,
    acting_user: User,
    clinic: Clinic,
    allowed_roles: frozenset[str],
    who: str,
    purpose: str,
    patient_id: UUID | None = None,
) -> User:
    """The second person of a co-signature (DESIGN §5a), checked in the same request.

    The password goes through the same authentication and lockout as a login, so guessing a
    co-signer's password locks their account exactly as guessing it at the login page would.
    The co-signer must hold one of ``allowed_roles`` at ``clinic`` and never be the acting
    user. Answers the co-signer; every attempt is audited.
    """
    username = (username or "").strip()
    if not username or not password:
        raise InvalidInput(
            MESSAGE_CO_SIGN_MISSING, errors=[FieldError("co_sign", MESSAGE_CO_SIGN_MISSING)]
        )
    if username.lower() == acting_user.username.lower():
        raise InvalidInput(
            MESSAGE_CO_SIGN_SELF, errors=[FieldError("co_sign.username", MESSAGE_CO_SIGN_SELF)]
        )
    co_signer = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        audit(
            user=None,
            username=username,
            action=Action.LOGIN_FAILED,
            outcome=Outcome.DENIED,
            clinic_id=clinic.id,
            patient_id=patient_id,
            detail={"reason": "locked_out", "via": "co_sign", "purpose": purpose},
        )
        raise ApplicationError(
            MESSAGE_CO_SIGN_LOCKED_OUT.format(minutes=round(settings.AXES_COOLOFF_TIME * 60)),
            code="locked_out",
            status=429,
        )
    if not isinstance(co_signer, User) or not co_signer.is_active:
        audit(
            user=None,
            username=username,
            action=Action.LOGIN_FAILED,
            outcome=Outcome.DENIED,
            clinic_id=clinic.id,
            patient_id=patient_id,
            detail={"via": "co_sign", "purpose": purpose},
        )
        raise InvalidInput(
            MESSAGE_CO_SIGN_BAD_CREDENTIALS,
            errors=[FieldError("co_sign.password", MESSAGE_CO_SIGN_BAD_CREDENTIALS)],
        )
    if co_signer.pk == acting_user.pk:
        raise InvalidInput(
            MESSAGE_CO_SIGN_SELF, errors=[FieldError("co_sign.username", MESSAGE_CO_SIGN_SELF)]
        )
    if not allowed_roles.intersection(roles_at(co_signer, clinic.id)):
        message = MESSAGE_CO_SIGN_NOT_ALLOWED.format(who=who)
        audit(
            user=co_signer,
            action=Action.CREATE,
            outcome=Outcome.DENIED,
            clinic_id=clinic.id,
            patient_id=patient_id,
            object_type="co_signature",
            detail={"purpose": purpose, "for": acting_user.username},
        )
        raise InvalidInput(message, errors=[FieldError("co_sign.username", message)])
    # A correct co-signature counts as a successful login for the lockout: django-axes
    # resets the failure count only on a real login, so do it here as the login page would.
    axes_reset(username=co_signer.username)
    audit(
        user=co_signer,
        action=Action.CREATE,
        clinic_id=clinic.id,
        patient_id=patient_id,
        object_type="co_signature",
        detail={"purpose": purpose, "for": acting_user.username},
    )
    return co_signer
