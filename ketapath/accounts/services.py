"""Writes for staff accounts: tokens, users, memberships, shifts; and the audit helper every
app uses."""

import hashlib
import secrets
from datetime import date, time, timedelta
from typing import Any
from uuid import UUID

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import ApiToken, Membership, Shift, ShiftException, User
from ketapath.accounts.permissions import forget_grants, roles_at
from ketapath.audit.models import AuditEvent
from ketapath.audit.services import audit_record
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import (
    ApplicationError,
    FieldError,
    Forbidden,
    InvalidInput,
    invalid_from_validation_error,
    validation_error_to_fields,
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


# --- Shifts ------------------------------------------------------------------------------

MESSAGE_SHIFT_FORBIDDEN = "Only a clinic admin of this site may change its staff shifts."
MESSAGE_SHIFT_INVALID = "The shift is not valid."
MESSAGE_SHIFT_EXCEPTION_INVALID = "The shift exception is not valid."
MESSAGE_SHIFT_NOT_STAFF = "This person has no active role at this site, so no shifts here."
MESSAGE_SHIFT_OVERLAP = "This overlaps their {weekday} shift {starts}–{ends} at this site."
MESSAGE_SHIFT_EXCEPTION_OVERLAP = "This overlaps their {kind} on {date} ({when}) at this site."
WHOLE_DAY = "whole day"


def _require_shift_manage(actor: User, clinic: Clinic) -> None:
    if not actor.can(Capability.STAFF_MANAGE, clinic.id):
        raise Forbidden(MESSAGE_SHIFT_FORBIDDEN)


def _require_site_staff(user: User, clinic: Clinic, message: str) -> None:
    """Shifts are for people who work at the site: an active account with an active role."""
    at_site = Membership.objects.filter(user=user, clinic=clinic, active=True).exists()
    if not user.is_active or not at_site:
        raise InvalidInput(message, errors=[FieldError("user", MESSAGE_SHIFT_NOT_STAFF)])


def _clean(instance: Shift | ShiftException, message: str) -> None:
    try:
        instance.full_clean(exclude=["user", "clinic"])
    except ValidationError as exc:
        raise InvalidInput(message, errors=validation_error_to_fields(exc)) from exc


def _lock_staff(user: User) -> None:
    """Serialise changes to one person's shifts, so two overlapping ones cannot both pass."""
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


def _overlap_field(starts: time, other_starts: time) -> str:
    """The field the clash is reported on: the start when it falls inside the other range."""
    return "starts" if other_starts <= starts else "ends"


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def _shift_detail(shift: Shift) -> dict[str, Any]:
    return {
        "user": str(shift.user_id),
        "username": shift.user.username,
        "weekday": shift.weekday,
        "starts": _hhmm(shift.starts),
        "ends": _hhmm(shift.ends),
    }


def _exception_detail(exception: ShiftException) -> dict[str, Any]:
    return {
        "user": str(exception.user_id),
        "username": exception.user.username,
        "date": exception.date.isoformat(),
        "kind": exception.kind,
        "starts": _hhmm(exception.starts),
        "ends": _hhmm(exception.ends),
        "reason": exception.reason,
    }


def shift_add(
    *, actor: User, user: User, clinic: Clinic, weekday: int, starts: time, ends: time
) -> Shift:
    """Give ``user`` a weekly shift at ``clinic`` (weekday 0 = Monday, local times, ending the
    same day). Refused when it overlaps another of their active shifts there on that weekday,
    or when they hold no active role at the site; audited."""
    _require_shift_manage(actor, clinic)
    _require_site_staff(user, clinic, MESSAGE_SHIFT_INVALID)
    shift = Shift(user=user, clinic=clinic, weekday=weekday, starts=starts, ends=ends)
    _clean(shift, MESSAGE_SHIFT_INVALID)
    with transaction.atomic():
        _lock_staff(user)
        others = Shift.objects.filter(user=user, clinic=clinic, weekday=weekday, active=True)
        for other in others.order_by("starts"):
            if starts < other.ends and other.starts < ends:
                rule = MESSAGE_SHIFT_OVERLAP.format(
                    weekday=other.get_weekday_display(),
                    starts=_hhmm(other.starts),
                    ends=_hhmm(other.ends),
                )
                raise InvalidInput(
                    MESSAGE_SHIFT_INVALID,
                    errors=[FieldError(_overlap_field(starts, other.starts), rule)],
                )
        shift.save(force_insert=True)
        audit(
            user=actor,
            action=Action.CREATE,
            clinic_id=clinic.id,
            object_type="shift",
            object_id=shift.id,
            detail=_shift_detail(shift),
        )
    return shift


def shift_remove(*, actor: User, shift: Shift) -> Shift:
    """Take a weekly shift off the roster. The row stays, inactive, as the record of who was
    rostered; removing it again changes nothing. Audited."""
    _require_shift_manage(actor, shift.clinic)
    if not shift.active:
        return shift
    with transaction.atomic():
        shift.active = False
        shift.save(update_fields=["active", "updated_at"])
        audit(
            user=actor,
            action=Action.UPDATE,
            clinic_id=shift.clinic_id,
            object_type="shift",
            object_id=shift.id,
            detail={**_shift_detail(shift), "active": [True, False]},
        )
    return shift


def _exception_when(exception: ShiftException) -> str:
    if exception.starts is None or exception.ends is None:
        return WHOLE_DAY
    return f"{exception.starts:%H:%M}–{exception.ends:%H:%M}"


def _exception_clash(new: ShiftException, other: ShiftException) -> str | None:
    """The field a clash between two exceptions of one kind on one day is reported on (a
    whole day clashes with anything that day), else None."""
    if new.starts is None or new.ends is None or other.starts is None or other.ends is None:
        return "date"
    if new.starts < other.ends and other.starts < new.ends:
        return _overlap_field(new.starts, other.starts)
    return None


def shift_exception_add(
    *,
    actor: User,
    user: User,
    clinic: Clinic,
    date: date,
    kind: str,
    reason: str,
    starts: time | None = None,
    ends: time | None = None,
) -> ShiftException:
    """Record a dated change to ``user``'s shifts at ``clinic`` on a local date: time off
    (without times, the whole day) or an extra shift (times required). Refused when it
    overlaps another exception of the same kind for them that day; audited."""
    _require_shift_manage(actor, clinic)
    _require_site_staff(user, clinic, MESSAGE_SHIFT_EXCEPTION_INVALID)
    exception = ShiftException(
        user=user,
        clinic=clinic,
        date=date,
        kind=kind,
        starts=starts,
        ends=ends,
        reason=(reason or "").strip(),
    )
    _clean(exception, MESSAGE_SHIFT_EXCEPTION_INVALID)
    with transaction.atomic():
        _lock_staff(user)
        same_day = ShiftException.objects.filter(user=user, clinic=clinic, date=date, kind=kind)
        for other in same_day.order_by("starts"):
            field = _exception_clash(exception, other)
            if field is not None:
                rule = MESSAGE_SHIFT_EXCEPTION_OVERLAP.format(
                    kind=other.get_kind_display().lower(),
                    date=other.date.isoformat(),
                    when=_exception_when(other),
                )
                raise InvalidInput(
                    MESSAGE_SHIFT_EXCEPTION_INVALID, errors=[FieldError(field, rule)]
                )
        exception.save(force_insert=True)
        audit(
            user=actor,
            action=Action.CREATE,
            clinic_id=clinic.id,
            object_type="shift_exception",
            object_id=exception.id,
            detail=_exception_detail(exception),
        )
    return exception


def shift_exception_remove(*, actor: User, exception: ShiftException) -> None:
    """Delete a dated exception (the weekly shifts apply that day again); audited with what
    it was."""
    _require_shift_manage(actor, exception.clinic)
    with transaction.atomic():
        exception_id, detail = exception.id, _exception_detail(exception)
        exception.delete()
        audit(
            user=actor,
            action=Action.DELETE,
            clinic_id=exception.clinic_id,
            object_type="shift_exception",
            object_id=exception_id,
            detail=detail,
        )
