"""API shapes for observations and safety alerts."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.utils import timezone
from ninja import Schema

from ketapath.core.timeutils import rfc3339
from ketapath.observations.models import Observation, SafetyAlert


class MeasurementIn(Schema):
    code: str
    value: Decimal | float | int | str


class ObservationsIn(Schema):
    """Measurements taken together. Each measurement names its LOINC ``code`` (see
    GET-able codes in the docs: 8480-6, 8462-4, 8867-4, 2708-6, 9279-1, 29463-7, 8302-2,
    72514-3). ``taken_at`` without an offset is clinic-local time. ``clinic`` is needed
    only when the patient is enrolled at more than one of your sites."""

    taken_at: datetime
    context_kind: str = Observation.ContextKind.CLINIC_VISIT
    context_id: UUID | None = None
    clinic: UUID | None = None
    measurements: list[MeasurementIn]


class ObservationOut(Schema):
    id: UUID
    patient: UUID
    clinic: UUID
    code: str
    display: str
    value: Decimal
    unit: str
    taken_at: str
    taken_by: str
    context_kind: str
    context_id: UUID | None


class ObservationListOut(Schema):
    items: list[ObservationOut]
    count: int


def observation_out(o: Observation) -> dict[str, Any]:
    return {
        "id": o.id,
        "patient": o.patient_id,
        "clinic": o.clinic_id,
        "code": o.code,
        "display": o.display,
        "value": o.value,
        "unit": o.unit,
        "taken_at": rfc3339(o.taken_at, o.clinic.time_zone),
        "taken_by": o.taken_by.display_name,
        "context_kind": o.context_kind,
        "context_id": o.context_id,
    }


class AlertPatientOut(Schema):
    id: UUID
    name: str
    mrn: str


class AlertOut(Schema):
    id: UUID
    clinic: UUID
    patient: AlertPatientOut
    kind: str
    summary: str
    status: str
    raised_at: str
    age_minutes: int
    escalated_at: str | None
    escalated_to: str
    cleared_by: str | None
    cleared_at: str | None
    assessment: dict[str, Any]
    plan: str


class AlertListOut(Schema):
    items: list[AlertOut]
    count: int


class AlertClearIn(Schema):
    assessment: dict[str, Any]
    plan: str


def alert_age_minutes(alert: SafetyAlert, now: datetime | None = None) -> int:
    """Minutes the alert has waited (until it was cleared)."""
    end = alert.cleared_at or now or timezone.now()
    return max(0, int((end - alert.raised_at).total_seconds() // 60))


def alert_out(alert: SafetyAlert, now: datetime | None = None) -> dict[str, Any]:
    tz = alert.clinic.time_zone
    return {
        "id": alert.id,
        "clinic": alert.clinic_id,
        "patient": {
            "id": alert.patient.id,
            "name": alert.patient.display_name,
            "mrn": alert.patient.mrn,
        },
        "kind": alert.kind,
        "summary": alert.summary,
        "status": alert.status,
        "raised_at": rfc3339(alert.raised_at, tz),
        "age_minutes": alert_age_minutes(alert, now),
        "escalated_at": rfc3339(alert.escalated_at, tz),
        "escalated_to": alert.escalated_to,
        "cleared_by": alert.cleared_by.display_name if alert.cleared_by else None,
        "cleared_at": rfc3339(alert.cleared_at, tz),
        "assessment": alert.assessment,
        "plan": alert.plan,
    }
