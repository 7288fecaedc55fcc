"""Writing audit events. Every other app records through ``audit_record``."""

from typing import Any
from uuid import UUID

from django.utils import timezone

from ketapath.audit import context
from ketapath.audit.models import AuditEvent

Action = AuditEvent.Action
Outcome = AuditEvent.Outcome


def audit_record(
    *,
    action: str,
    outcome: str = Outcome.SUCCESS,
    user_id: UUID | None = None,
    username: str = "",
    role: str = "",
    clinic_id: UUID | None = None,
    patient_id: UUID | None = None,
    object_type: str = "",
    object_id: UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; the request id and source address come from the request context."""
    ctx = context.current()
    event = AuditEvent(
        time=timezone.now(),
        user_id=user_id,
        username=username,
        role=role,
        clinic_id=clinic_id,
        patient_id=patient_id,
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        outcome=outcome,
        ip=ctx.ip,
        request_id=ctx.request_id,
        detail=detail or {},
    )
    event.save(force_insert=True)
    return event
