"""Reads for staff management: the staff of one site, and each credential's status."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from django.db.models import Prefetch, Q, QuerySet

from ketapath.accounts.models import Membership, User

# A credential expiring within this many days is flagged so it can be renewed in time.
EXPIRY_WARNING_DAYS = 30


def _site_memberships(clinic_id: UUID) -> Prefetch:
    return Prefetch(
        "memberships",
        queryset=Membership.objects.filter(clinic_id=clinic_id, active=True).order_by("role"),
        to_attr="site_memberships",
    )


def staff_for_clinic(*, clinic_id: UUID, search: str = "") -> QuerySet[User]:
    """Everyone who holds or held a membership at the site, with their roles there
    (``site_memberships``, active ones only) prefetched; two queries however many."""
    ids = Membership.objects.filter(clinic_id=clinic_id).values("user_id")
    users = User.objects.filter(id__in=ids)
    search = search.strip()
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(email__icontains=search)
        )
    return users.prefetch_related(_site_memberships(clinic_id)).order_by(
        "last_name", "first_name", "username"
    )


def staff_member_for_clinic(*, clinic_id: UUID | None, user_id: UUID) -> User | None:
    """The staff member if they hold (or held) a membership at the site, else None."""
    if clinic_id is None:
        return None
    return (
        User.objects.filter(id=user_id, memberships__clinic_id=clinic_id)
        .prefetch_related(_site_memberships(clinic_id))
        .distinct()
        .first()
    )


@dataclass(frozen=True)
class CredentialStatus:
    """One credential's state on a day: ``current``, ``expiring``, ``expired`` or ``none``."""

    name: str
    state: str
    expires: date | None

    @property
    def word(self) -> str:
        return {
            "current": "Current",
            "expiring": f"Expires within {EXPIRY_WARNING_DAYS} days",
            "expired": "Expired",
            "missing_expiry": "No expiry date",
            "none": "None",
        }[self.state]

    @property
    def badge(self) -> str:
        return {
            "current": "badge-ok",
            "expiring": "badge-warn",
            "expired": "badge-danger",
            "missing_expiry": "badge-danger",
            "none": "badge-neutral",
        }[self.state]


def _status(
    name: str, held: bool, expires: date | None, today: date, *, needs_expiry: bool
) -> CredentialStatus:
    if not held:
        return CredentialStatus(name, "none", expires)
    if expires is None:
        return CredentialStatus(name, "missing_expiry" if needs_expiry else "current", None)
    if expires < today:
        return CredentialStatus(name, "expired", expires)
    if expires <= today + timedelta(days=EXPIRY_WARNING_DAYS):
        return CredentialStatus(name, "expiring", expires)
    return CredentialStatus(name, "current", expires)


def credential_statuses(user: User, today: date) -> list[CredentialStatus]:
    """Licence, DEA registration and ACLS card, judged as the permission checks judge them:
    a licence without an expiry date is current; a DEA number needs its expiry date."""
    return [
        _status(
            "Licence", bool(user.licence_number), user.licence_expires, today, needs_expiry=False
        ),
        _status("DEA", bool(user.dea_number), user.dea_expires, today, needs_expiry=True),
        _status("ACLS", user.acls_expires is not None, user.acls_expires, today, needs_expiry=True),
    ]


def staff_with_roles(*, clinic_id: UUID, roles: Iterable[str]) -> list[tuple[User, list[str]]]:
    """Active staff holding any of ``roles`` at the site, by name, each with those roles
    (one query)."""
    held: dict[UUID, list[str]] = {}
    people: dict[UUID, User] = {}
    memberships = (
        Membership.objects.filter(
            clinic_id=clinic_id, active=True, user__is_active=True, role__in=list(roles)
        )
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username", "role")
    )
    for m in memberships:
        people.setdefault(m.user_id, m.user)
        held.setdefault(m.user_id, []).append(m.role)
    return [(person, held[uid]) for uid, person in people.items()]
