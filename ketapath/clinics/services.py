"""Writes for clinic sites: details, opening hours, closures, rooms, and the versioned policy.

Each service checks the acting user's capability at the site (by duck typing: clinics
cannot import accounts), validates, saves atomically and writes its audit event.
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ketapath.audit.models import AuditEvent
from ketapath.audit.services import audit_record
from ketapath.clinics.models import (
    MESSAGE_CLOSURE_ORDER,
    MESSAGE_HOURS_ORDER,
    Clinic,
    ClinicPolicy,
    Closure,
    OpeningHours,
    Organization,
    Room,
)
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    validation_error_to_fields,
)
from ketapath.core.validators import normalize_phone

Action = AuditEvent.Action

MESSAGE_CLINIC_INVALID = "The site's details are not valid."
MESSAGE_HOURS_INVALID = "The opening hours are not valid."
MESSAGE_HOURS_OVERLAP = "Opening hours on the same weekday cannot overlap."
MESSAGE_HOURS_WEEKDAY = "The weekday is a number from 0 (Monday) to 6 (Sunday)."
MESSAGE_CLOSURE_INVALID = "The closure is not valid."
MESSAGE_ROOM_INVALID = "The room is not valid."
MESSAGE_ROOM_NAME_TAKEN = "A room with this name already exists at this site."
MESSAGE_POLICY_INVALID = "The policy change is not valid."
MESSAGE_POLICY_REASON = "Give the reason for this policy change."
MESSAGE_POLICY_NOT_EDITABLE = "This setting does not exist or cannot be changed."
MESSAGE_POLICY_NO_CHANGE = "Nothing changed: every value equals the policy in force."
MESSAGE_POLICY_CONFLICT = "Someone else changed the policy at the same time; reload and retry."
MESSAGE_POLICY_FORBIDDEN = "Only the medical director of this site may change its policy."
MESSAGE_STAFF_MANAGE_FORBIDDEN = (
    "Only a clinic admin of this site may change its details, hours, closures and rooms."
)

# The site details a clinic admin may change (the organisation and active flag are not theirs).
CLINIC_FIELDS = (
    "name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "time_zone",
    "dea_registration",
)

POLICY_V1_REASON = "Cited defaults when the site was created."


class Actor(Protocol):
    """The acting staff user, as lower apps see it (accounts.User satisfies this)."""

    @property
    def id(self) -> Any: ...

    @property
    def username(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    def can(self, capability: Capability, clinic_id: UUID | None) -> bool: ...

    def roles_at(self, clinic_id: UUID | None) -> list[str]: ...


def _audit(
    *,
    user: Actor | None,
    clinic: Clinic,
    action: str,
    object_type: str,
    object_id: UUID,
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit a site change with the actor's roles at that site (no actor: a system seed)."""
    audit_record(
        action=action,
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else "system",
        role=",".join(user.roles_at(clinic.id)) if user is not None else "",
        clinic_id=clinic.id,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )


def _require_staff_manage(user: Actor, clinic: Clinic) -> None:
    if not user.can(Capability.STAFF_MANAGE, clinic.id):
        raise Forbidden(MESSAGE_STAFF_MANAGE_FORBIDDEN)


def _jsonable(value: Any) -> Any:
    """Audit details are JSON: times, dates and Decimals become strings."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def _full_clean(instance: Any, message: str, exclude: Iterable[str] = ()) -> None:
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        raise InvalidInput(message, errors=validation_error_to_fields(exc)) from exc


def _clean_clinic(clinic: Clinic) -> None:
    """Normalise the phone (E.164), trim and upper-case codes, then run every validator."""
    errors: list[FieldError] = []
    for name in ("name", "address_line1", "address_line2", "city", "postal_code", "time_zone"):
        setattr(clinic, name, (getattr(clinic, name) or "").strip())
    clinic.state = (clinic.state or "").strip().upper()
    clinic.dea_registration = (clinic.dea_registration or "").strip().upper()
    phone = (clinic.phone or "").strip()
    if phone:
        try:
            clinic.phone = normalize_phone(phone)
        except ValidationError as exc:
            errors.append(FieldError("phone", exc.messages[0]))
    try:
        clinic.full_clean(exclude=["phone"] if errors else [])
    except ValidationError as exc:
        errors.extend(validation_error_to_fields(exc))
    if errors:
        raise InvalidInput(MESSAGE_CLINIC_INVALID, errors=errors)


def clinic_create(
    *,
    organization: Organization,
    name: str,
    address_line1: str,
    city: str,
    state: str,
    postal_code: str,
    phone: str,
    time_zone: str,
    address_line2: str = "",
    dea_registration: str = "",
    user: Actor | None = None,
) -> Clinic:
    """Create a site with policy version 1 at the cited defaults; audited (``user`` None for
    the demo seed and management commands)."""
    clinic = Clinic(
        organization=organization,
        name=name,
        address_line1=address_line1,
        address_line2=address_line2,
        city=city,
        state=state,
        postal_code=postal_code,
        phone=phone,
        time_zone=time_zone,
        dea_registration=dea_registration,
    )
    _clean_clinic(clinic)
    with transaction.atomic():
        clinic.save(force_insert=True)
        policy = ClinicPolicy(
            clinic=clinic,
            version=1,
            change_reason=POLICY_V1_REASON,
            changed_by_id=user.id if user is not None else None,
            changed_by_name=user.display_name if user is not None else "system",
        )
        policy.full_clean()
        policy.save(force_insert=True)
        _audit(
            user=user,
            clinic=clinic,
            action=Action.CREATE,
            object_type="clinic",
            object_id=clinic.id,
            detail={"name": clinic.name},
        )
    return clinic


def clinic_update(*, user: Actor, clinic: Clinic, data: dict[str, Any]) -> Clinic:
    """Change a site's details (``CLINIC_FIELDS`` only); audited with each old and new value."""
    _require_staff_manage(user, clinic)
    unknown = sorted(set(data) - set(CLINIC_FIELDS))
    if unknown:
        raise InvalidInput(
            MESSAGE_CLINIC_INVALID,
            errors=[FieldError(f, "This field cannot be changed here.") for f in unknown],
        )
    before = {name: getattr(clinic, name) for name in CLINIC_FIELDS}
    for name, value in data.items():
        setattr(clinic, name, value)
    try:
        _clean_clinic(clinic)
    except InvalidInput:
        # The caller's object must not keep the rejected values.
        for name, value in before.items():
            setattr(clinic, name, value)
        raise
    changed = {
        name: [before[name], getattr(clinic, name)]
        for name in CLINIC_FIELDS
        if before[name] != getattr(clinic, name)
    }
    if not changed:
        return clinic
    with transaction.atomic():
        clinic.save(update_fields=[*changed, "updated_at"])
        _audit(
            user=user,
            clinic=clinic,
            action=Action.UPDATE,
            object_type="clinic",
            object_id=clinic.id,
            detail=changed,
        )
    return clinic


def _hours_label(weekday: int, opens: time, closes: time) -> str:
    return f"{OpeningHours.Weekday(weekday).label} {opens:%H:%M}-{closes:%H:%M}"


def opening_hours_set(
    *, user: Actor, clinic: Clinic, hours: Sequence[tuple[int, time, time]]
) -> list[OpeningHours]:
    """Replace the site's weekly hours with ``hours`` (weekday 0 = Monday, opens, closes).

    Errors name the row by its position: ``hours.<i>.closes`` for closing before opening,
    ``hours.<i>`` for an overlap with another row on the same weekday. All or nothing.
    """
    _require_staff_manage(user, clinic)
    errors: list[FieldError] = []
    by_day: dict[int, list[tuple[int, time, time]]] = {}
    for index, (weekday, opens, closes) in enumerate(hours):
        if weekday not in OpeningHours.Weekday.values:
            errors.append(FieldError(f"hours.{index}.weekday", MESSAGE_HOURS_WEEKDAY))
            continue
        if closes <= opens:
            errors.append(FieldError(f"hours.{index}.closes", MESSAGE_HOURS_ORDER))
            continue
        by_day.setdefault(weekday, []).append((index, opens, closes))
    for rows in by_day.values():
        rows.sort(key=lambda row: row[1])
        latest_close: time | None = None
        for index, opens, closes in rows:
            if latest_close is not None and opens < latest_close:
                errors.append(FieldError(f"hours.{index}", MESSAGE_HOURS_OVERLAP))
            latest_close = closes if latest_close is None else max(latest_close, closes)
    if errors:
        raise InvalidInput(MESSAGE_HOURS_INVALID, errors=errors)
    rows_new = [
        OpeningHours(clinic=clinic, weekday=weekday, opens=opens, closes=closes)
        for weekday, opens, closes in sorted(hours)
    ]
    for row in rows_new:
        _full_clean(row, MESSAGE_HOURS_INVALID, exclude=["clinic"])
    with transaction.atomic():
        existing = list(OpeningHours.objects.filter(clinic=clinic).order_by("weekday", "opens"))
        before = [_hours_label(r.weekday, r.opens, r.closes) for r in existing]
        after = [_hours_label(r.weekday, r.opens, r.closes) for r in rows_new]
        OpeningHours.objects.filter(clinic=clinic).delete()
        created = OpeningHours.objects.bulk_create(rows_new)
        if before != after:
            _audit(
                user=user,
                clinic=clinic,
                action=Action.UPDATE,
                object_type="opening_hours",
                object_id=clinic.id,
                detail={"hours": [before, after]},
            )
    return created


def closure_create(
    *, user: Actor, clinic: Clinic, start_date: date, end_date: date, reason: str
) -> Closure:
    """Record days the site is closed (first and last day inclusive, local dates)."""
    _require_staff_manage(user, clinic)
    closure = Closure(
        clinic=clinic, start_date=start_date, end_date=end_date, reason=(reason or "").strip()
    )
    if start_date and end_date and end_date < start_date:
        raise InvalidInput(
            MESSAGE_CLOSURE_INVALID, errors=[FieldError("end_date", MESSAGE_CLOSURE_ORDER)]
        )
    _full_clean(closure, MESSAGE_CLOSURE_INVALID)
    with transaction.atomic():
        closure.save(force_insert=True)
        _audit(
            user=user,
            clinic=clinic,
            action=Action.CREATE,
            object_type="closure",
            object_id=closure.id,
            detail={
                "start_date": _jsonable(start_date),
                "end_date": _jsonable(end_date),
                "reason": closure.reason,
            },
        )
    return closure


def closure_delete(*, user: Actor, closure: Closure) -> None:
    """Remove a closure (the site opens on those days again); audited with what it was."""
    clinic = closure.clinic
    _require_staff_manage(user, clinic)
    with transaction.atomic():
        closure_id = closure.id
        detail = {
            "start_date": _jsonable(closure.start_date),
            "end_date": _jsonable(closure.end_date),
            "reason": closure.reason,
        }
        closure.delete()
        _audit(
            user=user,
            clinic=clinic,
            action=Action.DELETE,
            object_type="closure",
            object_id=closure_id,
            detail=detail,
        )


def _clean_room(room: Room) -> None:
    room.name = (room.name or "").strip()
    if (
        room.name
        and Room.objects.filter(clinic_id=room.clinic_id, name__iexact=room.name)
        .exclude(pk=room.pk)
        .exists()
    ):
        raise InvalidInput(
            MESSAGE_ROOM_INVALID, errors=[FieldError("name", MESSAGE_ROOM_NAME_TAKEN)]
        )
    _full_clean(room, MESSAGE_ROOM_INVALID)


def _save_room(room: Room, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            room.save(**kwargs)
    except IntegrityError as exc:
        # Two admins naming a room at the same moment: the constraint decides.
        raise Conflict(
            MESSAGE_ROOM_NAME_TAKEN, errors=[FieldError("name", MESSAGE_ROOM_NAME_TAKEN)]
        ) from exc


def room_create(*, user: Actor, clinic: Clinic, name: str, kind: str, active: bool = True) -> Room:
    """Add a room; its name is unique at the site regardless of letter case."""
    _require_staff_manage(user, clinic)
    room = Room(clinic=clinic, name=name, kind=kind, active=active)
    _clean_room(room)
    with transaction.atomic():
        _save_room(room, force_insert=True)
        _audit(
            user=user,
            clinic=clinic,
            action=Action.CREATE,
            object_type="room",
            object_id=room.id,
            detail={"name": room.name, "kind": room.kind, "active": room.active},
        )
    return room


def room_update(*, user: Actor, room: Room, name: str, kind: str, active: bool) -> Room:
    """Rename, re-class, activate or deactivate a room; audited with old and new values."""
    clinic = room.clinic
    _require_staff_manage(user, clinic)
    old_name, old_kind, old_active = room.name, room.kind, room.active
    before: dict[str, Any] = {"name": old_name, "kind": old_kind, "active": old_active}
    room.name, room.kind, room.active = name, kind, active
    try:
        _clean_room(room)
    except InvalidInput:
        # The caller's object must not keep the rejected values.
        room.name, room.kind, room.active = old_name, old_kind, old_active
        raise
    after: dict[str, Any] = {"name": room.name, "kind": room.kind, "active": room.active}
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changed:
        return room
    with transaction.atomic():
        _save_room(room, update_fields=[*changed, "updated_at"])
        _audit(
            user=user,
            clinic=clinic,
            action=Action.UPDATE,
            object_type="room",
            object_id=room.id,
            detail=changed,
        )
    return room


def clinic_policy_update(
    *, user: Actor, clinic: Clinic, changes: dict[str, Any], reason: str
) -> ClinicPolicy:
    """Write the next policy version: the values in force with ``changes`` applied.

    Only the medical director of the site may do this. Earlier versions are kept; the audit
    event's detail maps each changed field to ``[old, new]``.
    """
    if not user.can(Capability.POLICY_WRITE, clinic.id):
        raise Forbidden(MESSAGE_POLICY_FORBIDDEN)
    errors: list[FieldError] = [
        FieldError(name, MESSAGE_POLICY_NOT_EDITABLE)
        for name in sorted(changes)
        if name not in ClinicPolicy.EDITABLE_FIELDS + ClinicPolicy.STRUCTURED_FIELDS
    ]
    reason = (reason or "").strip()
    if not reason:
        errors.append(FieldError("reason", MESSAGE_POLICY_REASON))
    if errors:
        raise InvalidInput(MESSAGE_POLICY_INVALID, errors=errors)
    with transaction.atomic():
        # Serialise concurrent changes of one site's policy so versions never collide.
        Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
        current = clinic_policy_current(clinic=clinic)
        policy = ClinicPolicy(clinic=clinic, version=current.version + 1)
        for name in ClinicPolicy.EDITABLE_FIELDS + ClinicPolicy.STRUCTURED_FIELDS:
            setattr(policy, name, getattr(current, name))
        for name, value in changes.items():
            setattr(policy, name, value)
        policy.change_reason = reason
        policy.changed_by_id = user.id
        policy.changed_by_name = user.display_name
        try:
            policy.full_clean()
        except ValidationError as exc:
            raise InvalidInput(
                MESSAGE_POLICY_INVALID, errors=validation_error_to_fields(exc)
            ) from exc
        diff = {
            name: [_jsonable(getattr(current, name)), _jsonable(getattr(policy, name))]
            for name in ClinicPolicy.EDITABLE_FIELDS + ClinicPolicy.STRUCTURED_FIELDS
            if getattr(current, name) != getattr(policy, name)
        }
        if not diff:
            raise InvalidInput(
                MESSAGE_POLICY_NO_CHANGE, errors=[FieldError("changes", MESSAGE_POLICY_NO_CHANGE)]
            )
        try:
            with transaction.atomic():
                policy.save(force_insert=True)
        except IntegrityError as exc:
            raise Conflict(MESSAGE_POLICY_CONFLICT) from exc
        _audit(
            user=user,
            clinic=clinic,
            action=Action.UPDATE,
            object_type="clinic_policy",
            object_id=policy.id,
            detail=diff,
        )
    return policy
