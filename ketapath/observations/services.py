"""Writes: record observations; raise, clear and escalate safety alerts (all audited).

Recording vitals does not raise safety alerts in this slice: session alert thresholds
arrive with session charting. Alerts are raised today by the questionnaire engine
(PHQ-9 item 9) through ``safety_alert_raise``.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketapath.accounts.models import Role, User
from ketapath.accounts.services import Action, Outcome, audit
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import (
    MESSAGE_INVALID,
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    invalid_from_validation_error,
)
from ketapath.notifications.privacy import plain
from ketapath.notifications.services import message_queue, public_url
from ketapath.observations import rules
from ketapath.observations.models import Observation, SafetyAlert
from ketapath.observations.selectors import medical_director_names, on_call_recipients
from ketapath.patients.models import Pathway, Patient

MESSAGE_WRITE_ROLE = "Your role does not allow recording measurements at this site."
MESSAGE_TAKEN_AT_FUTURE = "The time taken cannot be in the future."
MESSAGE_CONTEXT_KIND = "Choose where the measurements were taken."
MESSAGE_CLEAR_ROLE = (
    "Only a prescriber or medical director at this site may clear this alert "
    "(a therapist may for a behavioral-health patient)."
)
MESSAGE_ALREADY_CLEARED = "This alert was already cleared."
ESCALATION_USERNAME = "system:escalation"


def can_record(user: User, clinic_id: UUID) -> bool:
    """Nurses, prescribers and medical directors: both capabilities at the site."""
    return user.can(Capability.PATIENT_WRITE, clinic_id) and user.can(
        Capability.QUESTIONNAIRE_ENTER, clinic_id
    )


def can_clear(user: User, alert: SafetyAlert) -> bool:
    if user.can(Capability.ALERT_ACK, alert.clinic_id):
        return True
    return (
        Role.THERAPIST in user.roles_at(alert.clinic_id)
        and alert.patient.pathway == Pathway.BEHAVIORAL_HEALTH
    )


def observations_record(
    *,
    user: User,
    patient: Patient,
    clinic: Clinic,
    taken_at: datetime,
    measurements: Mapping[str, Any],
    context_kind: str = Observation.ContextKind.CLINIC_VISIT,
    context_id: UUID | None = None,
) -> list[Observation]:
    """Store measurements taken together (keyed by kind key, see ``rules.VITAL_KINDS``).

    Impossible values are refused with the field named; nothing is saved unless all pass.
    Does not raise safety alerts (session alert thresholds come with session charting).
    """
    if not can_record(user, clinic.id):
        raise Forbidden(MESSAGE_WRITE_ROLE)
    values, errors = rules.check_measurements(measurements)
    if taken_at > timezone.now():
        errors.append(FieldError("taken_at", MESSAGE_TAKEN_AT_FUTURE))
    if context_kind not in Observation.ContextKind.values:
        errors.append(FieldError("context_kind", MESSAGE_CONTEXT_KIND))
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    created: list[Observation] = []
    with transaction.atomic():
        for key, value in values.items():
            kind = rules.KINDS_BY_KEY[key]
            obs = Observation(
                patient=patient,
                clinic=clinic,
                code=kind.code,
                display=kind.display,
                value=value,
                unit=kind.unit,
                taken_at=taken_at,
                taken_by=user,
                context_kind=context_kind,
                context_id=context_id,
            )
            try:
                obs.full_clean()
            except ValidationError as exc:
                raise invalid_from_validation_error(exc) from exc
            obs.save()
            created.append(obs)
        audit(
            user=user,
            action=Action.CREATE,
            clinic_id=clinic.id,
            patient_id=patient.id,
            object_type="observation",
            object_id=created[0].id,
            detail={"ids": [str(o.id) for o in created], "codes": [o.code for o in created]},
        )
    return created


def safety_alert_raise(
    *,
    patient: Patient,
    clinic: Clinic,
    kind: str,
    source_kind: str,
    source_id: UUID,
    summary: str,
    user: User | None,
) -> SafetyAlert:
    """Open an alert in the caller's transaction (no commit of its own), audited."""
    alert = SafetyAlert(
        patient=patient,
        clinic=clinic,
        kind=kind,
        source_kind=source_kind,
        source_id=source_id,
        summary=summary,
        status=SafetyAlert.Status.OPEN,
        raised_at=timezone.now(),
        raised_by=user,
    )
    try:
        alert.full_clean()
    except ValidationError as exc:
        raise invalid_from_validation_error(exc) from exc
    recipients = _out_of_hours_recipients(alert)
    if recipients:
        alert.routed_at = alert.raised_at
        alert.routed_to = "; ".join(p.display_name for p in recipients)[:500]
    alert.save()
    for person in recipients:
        _notify_on_call(alert, person)
    detail = {"kind": kind, "source_kind": source_kind, "source_id": str(source_id)}
    if recipients:
        detail["routed_out_of_hours_to"] = alert.routed_to
    audit(
        user=user,
        action=Action.CREATE,
        clinic_id=clinic.id,
        patient_id=patient.id,
        object_type="safety_alert",
        object_id=alert.id,
        detail=detail,
        username="" if user else "system",
    )
    return alert


def _out_of_hours_recipients(alert: SafetyAlert) -> list[User]:
    """Outside opening hours (or on a closure day) nobody is watching the Alerts page, so
    the alert is routed to the site's on-call clinician (the policy's ``on_call_user_id``;
    without one, or if that person no longer holds a clinical role at the site, the
    medical directors). In hours the alert shows at once on the Alerts page and the chart,
    and escalates if it waits (``safety_alerts_escalate``)."""
    clinic = alert.clinic
    hours = list(clinic.opening_hours.all())
    closures = list(clinic.closures.all())
    if rules.is_open_at(alert.raised_at, hours, closures, clinic.time_zone):
        return []
    return on_call_recipients(clinic=clinic)


def _notify_on_call(alert: SafetyAlert, person: User) -> None:
    """A message that says an alert waits, and nothing about the patient."""
    clinic = alert.clinic
    zone = ZoneInfo(clinic.time_zone)
    message_queue(
        clinic=clinic,
        kind="staff_alert",
        context={
            "first_name": person.first_name or person.display_name,
            "clinic_name": plain(clinic.name, "your clinic"),
            "when": alert.raised_at.astimezone(zone).strftime("%a %d %b, %H:%M %Z"),
            "alerts_url": public_url(reverse("observations:alerts")),
        },
        due_at=alert.raised_at,
        recipient_user=person,
        dedupe_key=f"staff_alert:{alert.id}:{person.id}",
        about_kind="safety_alert",
        about_id=alert.id,
    )


def safety_alert_clear(
    *, user: User, alert: SafetyAlert, assessment: dict[str, Any], plan: str
) -> SafetyAlert:
    """Clear an alert with the clinician's same-day structured risk assessment.

    403 for a role that may not clear, 409 if already cleared, 422 naming the field for an
    invalid assessment or a plan under ``rules.PLAN_MIN_LENGTH`` characters. The risk
    level is the clinician's; the software records it and never derives it.
    """
    if not can_clear(user, alert):
        audit(
            user=user,
            action=Action.UPDATE,
            outcome=Outcome.DENIED,
            clinic_id=alert.clinic_id,
            patient_id=alert.patient_id,
            object_type="safety_alert",
            object_id=alert.id,
            detail={"reason": "role", "change": "clear"},
        )
        raise Forbidden(MESSAGE_CLEAR_ROLE)
    now = timezone.now()
    cleaned, errors = rules.check_assessment(
        assessment if isinstance(assessment, dict) else {},
        plan,
        now=now,
        time_zone=alert.clinic.time_zone,
    )
    with transaction.atomic():
        locked = SafetyAlert.objects.select_for_update().get(id=alert.id)
        if locked.status == SafetyAlert.Status.CLEARED:
            raise Conflict(MESSAGE_ALREADY_CLEARED, code="already_cleared")
        if errors:
            raise InvalidInput(MESSAGE_INVALID, errors=errors)
        previous = locked.status
        locked.status = SafetyAlert.Status.CLEARED
        locked.cleared_by = user
        locked.cleared_at = now
        locked.assessment = cleaned
        locked.plan = plan.strip()
        try:
            locked.full_clean()
        except ValidationError as exc:
            raise invalid_from_validation_error(exc) from exc
        locked.save()
        audit(
            user=user,
            action=Action.UPDATE,
            clinic_id=locked.clinic_id,
            patient_id=locked.patient_id,
            object_type="safety_alert",
            object_id=locked.id,
            detail={
                "change": "clear",
                "from": previous,
                "risk_level": cleaned["risk_level"],
                "method": cleaned["method"],
            },
        )
    locked.patient = alert.patient
    locked.clinic = alert.clinic
    return locked


def safety_alerts_escalate(*, now: datetime) -> list[SafetyAlert]:
    """Escalate open alerts that have waited the policy's minutes of opening hours.

    Time counts only inside the site's opening hours and outside its closures
    (``rules.opening_minutes_between``). The alert names the site's medical directors.
    Run every 5 minutes by ``tasks.escalate_safety_alerts``.
    """
    escalated: list[SafetyAlert] = []
    open_alerts = (
        SafetyAlert.objects.filter(status=SafetyAlert.Status.OPEN, raised_at__lt=now)
        .select_related("clinic")
        .order_by("clinic_id", "raised_at")
    )
    by_clinic: dict[UUID, list[SafetyAlert]] = {}
    for alert in open_alerts:
        by_clinic.setdefault(alert.clinic_id, []).append(alert)
    for alerts in by_clinic.values():
        clinic = alerts[0].clinic
        limit = clinic_policy_current(clinic=clinic).alert_escalation_minutes
        hours = list(clinic.opening_hours.all())
        closures = list(clinic.closures.all())
        due = [
            a
            for a in alerts
            if rules.opening_minutes_between(a.raised_at, now, hours, closures, clinic.time_zone)
            >= limit
        ]
        if not due:
            continue
        directors = "; ".join(medical_director_names(clinic=clinic))
        with transaction.atomic():
            for alert in due:
                locked = SafetyAlert.objects.select_for_update().get(id=alert.id)
                if locked.status != SafetyAlert.Status.OPEN:
                    continue
                locked.status = SafetyAlert.Status.ESCALATED
                locked.escalated_at = now
                locked.escalated_to = directors
                locked.save(update_fields=["status", "escalated_at", "escalated_to", "updated_at"])
                audit(
                    user=None,
                    username=ESCALATION_USERNAME,
                    action=Action.UPDATE,
                    clinic_id=clinic.id,
                    patient_id=locked.patient_id,
                    object_type="safety_alert",
                    object_id=locked.id,
                    detail={
                        "change": "escalate",
                        "after_opening_minutes": limit,
                        "escalated_to": directors,
                    },
                )
                escalated.append(locked)
    return escalated
