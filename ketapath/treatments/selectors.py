"""Reads of ketamine sessions, scoped to the user's sites and the session-note roles."""

from datetime import date
from uuid import UUID

from django.db.models import Q, QuerySet

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for, clinics_where, denial_reason
from ketapath.accounts.services import Action, audit
from ketapath.audit.models import AuditEvent
from ketapath.clinics.models import Clinic
from ketapath.core.capabilities import Capability
from ketapath.core.errors import Forbidden, NotFound
from ketapath.core.timeutils import local_day_bounds
from ketapath.treatments.models import TreatmentSession

MESSAGE_SESSION_NOT_FOUND = "No such session among your sites."
MESSAGE_CLINIC_NOT_FOUND = "No such clinic among your sites."


def _base() -> QuerySet[TreatmentSession]:
    return TreatmentSession.objects.select_related(
        "clinic", "patient", "course", "appointment", "appointment__room", "opened_by"
    )


def _deny(user: User, session_id: UUID, clinic_id: UUID | None, reason: str) -> None:
    audit(
        user=user,
        action=Action.READ,
        outcome=AuditEvent.Outcome.DENIED,
        clinic_id=clinic_id,
        object_type="treatment_session",
        object_id=session_id,
        detail={"reason": reason},
    )


def session_get_for_user(
    *,
    user: User,
    session_id: UUID | str,
    capability: Capability = Capability.SESSION_DOCUMENT,
) -> TreatmentSession:
    """The session if it is at one of the user's sites (else NotFound) and the user's role
    there allows ``capability`` (else Forbidden); denials are audited."""
    try:
        sid = session_id if isinstance(session_id, UUID) else UUID(str(session_id))
    except ValueError as exc:
        raise NotFound(MESSAGE_SESSION_NOT_FOUND) from exc
    session = _base().filter(id=sid, clinic_id__in=clinic_ids_for(user)).first()
    if session is None:
        _deny(user, sid, None, "not_at_your_sites")
        raise NotFound(MESSAGE_SESSION_NOT_FOUND)
    if session.clinic_id not in clinics_where(user, capability):
        _deny(user, sid, session.clinic_id, "role")
        raise Forbidden(denial_reason(user, capability, session.clinic_id))
    return session


def session_clinic_for_user(*, user: User, clinic_id: UUID | str) -> Clinic:
    """A site among the user's (else NotFound) where the user documents sessions (else
    Forbidden)."""
    try:
        cid = clinic_id if isinstance(clinic_id, UUID) else UUID(str(clinic_id))
    except ValueError as exc:
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND) from exc
    if cid not in clinic_ids_for(user):
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND)
    if cid not in clinics_where(user, Capability.SESSION_DOCUMENT):
        raise Forbidden(denial_reason(user, Capability.SESSION_DOCUMENT, cid))
    return Clinic.objects.get(id=cid)


def sessions_for_user(
    *,
    user: User,
    clinic: Clinic | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: str | None = None,
) -> QuerySet[TreatmentSession]:
    """Sessions at the sites where the user documents sessions (or at ``clinic``), by the
    appointment's local date (inclusive bounds), optionally of one status."""
    if clinic is not None:
        clinics = [clinic]
    else:
        clinics = list(
            Clinic.objects.filter(id__in=clinics_where(user, Capability.SESSION_DOCUMENT))
        )
    if not clinics:
        return TreatmentSession.objects.none()
    where = Q()
    for site in clinics:
        here = Q(clinic_id=site.id)
        if date_from is not None:
            here &= Q(appointment__starts_at__gte=local_day_bounds(date_from, site.time_zone)[0])
        if date_to is not None:
            here &= Q(appointment__starts_at__lt=local_day_bounds(date_to, site.time_zone)[1])
        where |= here
    sessions = _base().filter(where)
    if status:
        sessions = sessions.filter(status=status)
    return sessions.order_by("appointment__starts_at", "id")


def documenting_clinic_ids(*, user: User) -> set[UUID]:
    return clinics_where(user, Capability.SESSION_DOCUMENT)
