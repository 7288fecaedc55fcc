"""Reading the audit trail for the privacy officer's report and export."""

import contextlib
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.db.models import Q, QuerySet

from ketapath.audit.models import AuditEvent
from ketapath.core.timeutils import local_day_bounds

SORTABLE = {
    "time": "time",
    "user": "username",
    "patient": "patient_id",
    "action": "action",
    "object": "object_type",
    "outcome": "outcome",
}


@dataclass(frozen=True)
class AuditFilters:
    date_from: date | None = None
    date_to: date | None = None
    user: str = ""
    patient: UUID | None = None
    action: str = ""
    outcome: str = ""
    sort: str = "-time"


def audit_event_list(*, filters: AuditFilters, time_zone: str = "UTC") -> QuerySet[AuditEvent]:
    """Events matching the filters; dates are local calendar days in ``time_zone``, inclusive."""
    qs = AuditEvent.objects.all()
    if filters.date_from:
        qs = qs.filter(time__gte=local_day_bounds(filters.date_from, time_zone)[0])
    if filters.date_to:
        qs = qs.filter(time__lt=local_day_bounds(filters.date_to, time_zone)[1])
    if filters.user:
        user_q = Q(username__iexact=filters.user)
        # Not every username is a UUID; only one that is can match a user id.
        with contextlib.suppress(ValueError):
            user_q |= Q(user_id=UUID(filters.user))
        qs = qs.filter(user_q)
    if filters.patient:
        qs = qs.filter(patient_id=filters.patient)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.outcome:
        qs = qs.filter(outcome=filters.outcome)
    key = filters.sort.lstrip("-")
    field = SORTABLE.get(key, "time")
    prefix = "-" if filters.sort.startswith("-") else ""
    return qs.order_by(f"{prefix}{field}", f"{prefix}id")
