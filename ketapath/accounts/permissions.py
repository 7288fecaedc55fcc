"""The one permission helper every app uses: role matrix (DESIGN §10) plus credentials.

A capability is allowed at a clinic when the user holds an active membership there whose
role grants it, and every credential the capability needs is current today at that clinic
(its local date). An expired licence, DEA registration or ACLS card removes the actions that
need it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.contrib.auth.models import AnonymousUser

from ketapath.accounts.models import Membership, Role, User
from ketapath.core.capabilities import Capability as C
from ketapath.core.timeutils import local_today

ROLE_CAPABILITIES: dict[str, frozenset[C]] = {
    Role.MEDICAL_DIRECTOR: frozenset(
        {
            C.PATIENT_READ, C.PATIENT_WRITE, C.SCHEDULE_WRITE, C.EVALUATION_READ,
            C.EVALUATION_DRAFT,
            C.EVALUATION_SIGN, C.ALERT_ACK, C.QUESTIONNAIRE_ENTER, C.LINK_SEND, C.PROTOCOL_WRITE,
            C.PROTOCOL_READ, C.SESSION_DOCUMENT, C.SESSION_SIGN, C.COURSE_ORDER,
            C.LEDGER_RECONCILE, C.OUTCOMES_READ, C.BILLING_READ, C.POLICY_WRITE,
        }
    ),
    Role.PRESCRIBER: frozenset(
        {
            C.PATIENT_READ, C.PATIENT_WRITE, C.SCHEDULE_WRITE, C.EVALUATION_READ,
            C.EVALUATION_DRAFT,
            C.EVALUATION_SIGN, C.ALERT_ACK, C.QUESTIONNAIRE_ENTER, C.LINK_SEND, C.PROTOCOL_READ,
            C.SESSION_DOCUMENT, C.SESSION_SIGN, C.COURSE_ORDER, C.LEDGER_HANDLE,
            C.OUTCOMES_READ, C.BILLING_READ,
        }
    ),
    Role.NURSE: frozenset(
        {
            C.PATIENT_READ, C.PATIENT_WRITE, C.SCHEDULE_WRITE, C.EVALUATION_READ,
            C.EVALUATION_DRAFT,
            C.QUESTIONNAIRE_ENTER, C.LINK_SEND, C.PROTOCOL_READ, C.SESSION_DOCUMENT,
            C.LEDGER_HANDLE,
            C.OUTCOMES_READ,
        }
    ),
    Role.THERAPIST: frozenset(
        {
            C.PATIENT_READ, C.EVALUATION_READ, C.QUESTIONNAIRE_ENTER, C.LINK_SEND, C.OUTCOMES_READ,
            C.BILLING_READ,
        }
    ),
    Role.FRONT_DESK: frozenset({C.PATIENT_READ, C.PATIENT_WRITE, C.SCHEDULE_WRITE, C.LINK_SEND}),
    Role.BILLER: frozenset({C.PATIENT_READ, C.BILLING_READ, C.BILLING_WRITE}),
    Role.PRIVACY_OFFICER: frozenset({C.PATIENT_READ, C.AUDIT_READ}),
    Role.CLINIC_ADMIN: frozenset({C.PATIENT_READ, C.STAFF_MANAGE}),
}  # fmt: skip

# Credentials a capability needs beyond the role.
NEEDS_LICENCE = frozenset(
    {C.EVALUATION_SIGN, C.SESSION_SIGN, C.COURSE_ORDER, C.SESSION_DOCUMENT, C.LEDGER_HANDLE}
)
NEEDS_DEA_FOR_ROLES = {C.COURSE_ORDER: {Role.PRESCRIBER, Role.MEDICAL_DIRECTOR}}
NEEDS_ACLS = frozenset({C.SESSION_DOCUMENT})


@dataclass(frozen=True)
class Grant:
    clinic_id: UUID
    role: str
    time_zone: str  # the clinic's, whose local date credentials are checked against


def _grants(user: User) -> list[Grant]:
    """Active memberships, loaded once per user object (one query per request)."""
    cached: list[Grant] | None = getattr(user, "_ketapath_grants", None)
    if cached is None:
        cached = [
            Grant(clinic_id=clinic_id, role=role, time_zone=time_zone)
            for clinic_id, role, time_zone in Membership.objects.filter(
                user=user, active=True, clinic__active=True
            ).values_list("clinic_id", "role", "clinic__time_zone")
        ]
        user._ketapath_grants = cached  # type: ignore[attr-defined]
    return cached


def forget_grants(user: User) -> None:
    if hasattr(user, "_ketapath_grants"):
        del user._ketapath_grants


def clinic_ids_for(user: User | AnonymousUser) -> set[UUID]:
    if not isinstance(user, User) or not user.is_active:
        return set()
    return {g.clinic_id for g in _grants(user)}


def roles_at(user: User | AnonymousUser, clinic_id: UUID | None) -> list[str]:
    if not isinstance(user, User):
        return []
    return sorted({g.role for g in _grants(user) if clinic_id is None or g.clinic_id == clinic_id})


def missing_credentials(user: User, capability: C, roles: Iterable[str], on: date) -> list[str]:
    """Names of the credentials the capability needs that are missing or expired on ``on``."""
    missing: list[str] = []
    if capability in NEEDS_LICENCE and not user.has_licence_on(on):
        missing.append("licence")
    if set(roles) & NEEDS_DEA_FOR_ROLES.get(capability, set()) and not user.has_dea_on(on):
        missing.append("DEA registration")
    if capability in NEEDS_ACLS and not user.has_acls_on(on):
        missing.append("ACLS certification")
    return missing


def _granting_roles(
    user: User, capability: C, clinic_id: UUID | None
) -> dict[UUID, tuple[str, list[str]]]:
    """Per clinic (``clinic_id``, or every one): its time zone and the roles there that grant
    the capability."""
    granting: dict[UUID, tuple[str, list[str]]] = {}
    for g in _grants(user):
        if (clinic_id is None or g.clinic_id == clinic_id) and capability in ROLE_CAPABILITIES.get(
            g.role, frozenset()
        ):
            granting.setdefault(g.clinic_id, (g.time_zone, []))[1].append(g.role)
    return granting


def user_can(
    user: User | AnonymousUser, capability: C, clinic_id: UUID | None, on: date | None = None
) -> bool:
    """True when a role at ``clinic_id`` (any clinic when None) grants the capability and its
    credentials are current on ``on``, by default that clinic's local today."""
    if not isinstance(user, User) or not user.is_active:
        return False
    return any(
        not missing_credentials(user, capability, roles, on or local_today(time_zone))
        for time_zone, roles in _granting_roles(user, capability, clinic_id).values()
    )


def user_can_anywhere(user: User | AnonymousUser, capability: C) -> bool:
    return user_can(user, capability, None)


def clinics_where(user: User | AnonymousUser, capability: C) -> set[UUID]:
    if not isinstance(user, User) or not user.is_active:
        return set()
    return {
        g.clinic_id
        for g in _grants(user)
        if capability in ROLE_CAPABILITIES.get(g.role, frozenset())
        and user_can(user, capability, g.clinic_id)
    }


def denial_reason(user: User, capability: C, clinic_id: UUID | None) -> str:
    """A sentence saying why the capability is refused, for the 403 message."""
    granting = _granting_roles(user, capability, clinic_id)
    if not granting:
        return f"Your role does not allow this: {capability.label.lower()}."
    missing = next(
        (
            names
            for time_zone, roles in granting.values()
            if (names := missing_credentials(user, capability, roles, local_today(time_zone)))
        ),
        [],
    )
    action = capability.label.lower()
    return f"Your {', '.join(missing)} is missing or expired, so you cannot: {action}."
