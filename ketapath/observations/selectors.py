"""Reads of observations and safety alerts, scoped by the caller; fixed query counts."""

from datetime import date
from uuid import UUID

from django.db.models import F, OuterRef, QuerySet, Subquery

from ketapath.accounts.models import Membership, Role, User
from ketapath.accounts.permissions import clinic_ids_for, clinics_where
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import NotFound
from ketapath.core.timeutils import local_day_bounds
from ketapath.observations.models import Observation, SafetyAlert
from ketapath.observations.rules import KINDS_BY_CODE, VITAL_KINDS
from ketapath.patients.models import Patient

MESSAGE_ALERT_NOT_FOUND = "No such safety alert at your sites."
# Seeing the alert list is for the clinical roles (those who enter questionnaires).
ALERT_VIEW_CAPABILITY = Capability.QUESTIONNAIRE_ENTER
OPEN_STATUSES = (SafetyAlert.Status.OPEN, SafetyAlert.Status.ESCALATED)


def observations_for_patient(
    *,
    patient: Patient,
    time_zone: str,
    date_from: date | None = None,
    date_to: date | None = None,
    code: str = "",
) -> QuerySet[Observation]:
    """Newest first; the date filters are inclusive clinic-local dates."""
    qs = Observation.objects.filter(patient=patient).select_related("taken_by", "clinic")
    if date_from is not None:
        qs = qs.filter(taken_at__gte=local_day_bounds(date_from, time_zone)[0])
    if date_to is not None:
        qs = qs.filter(taken_at__lt=local_day_bounds(date_to, time_zone)[1])
    if code:
        qs = qs.filter(code=code)
    return qs.order_by("-taken_at", "code", "id")


def latest_vitals(patient: Patient) -> dict[str, Observation]:
    """The newest observation of each measurement kind, keyed by kind key; one query."""
    newest = (
        Observation.objects.filter(patient_id=OuterRef("patient_id"), code=OuterRef("code"))
        .order_by("-taken_at", "-created_at")
        .values("id")[:1]
    )
    rows = (
        Observation.objects.filter(patient=patient, code__in=[k.code for k in VITAL_KINDS])
        .annotate(newest_id=Subquery(newest))
        .filter(id=F("newest_id"))
    )
    return {KINDS_BY_CODE[o.code].key: o for o in rows}


def open_alerts_for_patient(patient: Patient) -> list[SafetyAlert]:
    return list(
        SafetyAlert.objects.filter(patient=patient, status__in=OPEN_STATUSES)
        .select_related("clinic")
        .order_by("raised_at")
    )


def open_alert_count(clinic: Clinic) -> int:
    return SafetyAlert.objects.filter(clinic=clinic, status__in=OPEN_STATUSES).count()


def alerts_for_user(
    *, user: User, clinic_id: UUID | None = None, status: str = ""
) -> QuerySet[SafetyAlert]:
    """Alerts at the sites where the user may see them; open and escalated by default.

    Open and escalated alerts are oldest first (the longest wait leads); cleared ones are
    newest cleared first.
    """
    visible = clinics_where(user, ALERT_VIEW_CAPABILITY)
    if clinic_id is not None:
        visible &= {clinic_id}
    qs = SafetyAlert.objects.filter(clinic_id__in=visible).select_related(
        "patient", "clinic", "cleared_by"
    )
    if status == SafetyAlert.Status.CLEARED:
        return qs.filter(status=status).order_by("-cleared_at", "id")
    if status in (SafetyAlert.Status.OPEN, SafetyAlert.Status.ESCALATED):
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(status__in=OPEN_STATUSES)
    return qs.order_by("raised_at", "id")


def alert_get_for_user(*, user: User, alert_id: UUID | str) -> SafetyAlert:
    """An alert at one of the user's sites, else NotFound (roles are checked by callers)."""
    try:
        aid = alert_id if isinstance(alert_id, UUID) else UUID(str(alert_id))
    except ValueError as exc:
        raise NotFound(MESSAGE_ALERT_NOT_FOUND) from exc
    member_of = clinic_ids_for(user)
    alert = (
        SafetyAlert.objects.select_related("patient", "clinic", "cleared_by")
        .filter(id=aid, clinic_id__in=member_of)
        .first()
    )
    if alert is None:
        raise NotFound(MESSAGE_ALERT_NOT_FOUND)
    return alert


def medical_director_names(*, clinic: Clinic) -> list[str]:
    memberships = (
        Membership.objects.filter(clinic=clinic, role=Role.MEDICAL_DIRECTOR, active=True)
        .filter(user__is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    )
    return [m.user.display_name for m in memberships]


CLINICAL_ROLES = (Role.MEDICAL_DIRECTOR, Role.PRESCRIBER, Role.THERAPIST)


def on_call_recipients(*, clinic: Clinic) -> list[User]:
    """Who an out-of-hours alert goes to: the policy's on-call clinician while they hold a
    clinical role at the site, otherwise the site's medical directors."""
    on_call_id = clinic_policy_current(clinic=clinic).on_call_user_id
    if on_call_id is not None:
        person = User.objects.filter(
            id=on_call_id,
            is_active=True,
            memberships__clinic=clinic,
            memberships__active=True,
            memberships__role__in=CLINICAL_ROLES,
        ).first()
        if person is not None:
            return [person]
    return [
        m.user
        for m in Membership.objects.filter(clinic=clinic, role=Role.MEDICAL_DIRECTOR, active=True)
        .filter(user__is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    ]
