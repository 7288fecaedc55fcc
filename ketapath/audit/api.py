"""GET /api/v1/audit/events: the audit trail for the privacy officer, filtered and paginated."""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema

from ketapath.audit.forms import AuditFilterForm
from ketapath.audit.models import AuditEvent
from ketapath.audit.selectors import audit_event_list
from ketapath.audit.services import audit_record
from ketapath.audit.views import MESSAGE_AUDIT_FORBIDDEN, REPORT_TIME_ZONE, request_actor
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import MESSAGE_INVALID, Forbidden, InvalidInput
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339

router = Router()


class AuditQuery(Schema):
    """Filters arrive as text and are checked by the report's form, so the page and the API
    give the same rule for the same mistake."""

    date_from: str = ""
    date_to: str = ""
    user: str = ""
    patient: str = ""
    action: str = ""
    outcome: str = ""
    sort: str = ""


class AuditEventOut(Schema):
    id: UUID
    time: str
    user: str
    user_id: UUID | None
    role: str
    clinic_id: UUID | None
    patient: UUID | None
    action: str
    object_type: str
    object_id: str
    outcome: str
    ip: str | None
    request_id: str


class AuditEventListOut(Schema):
    items: list[AuditEventOut]
    count: int


def _item(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "time": rfc3339(event.time, REPORT_TIME_ZONE),
        "user": event.username,
        "user_id": event.user_id,
        "role": event.role,
        "clinic_id": event.clinic_id,
        "patient": event.patient_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "ip": event.ip,
        "request_id": event.request_id,
    }


@router.get(
    "/events",
    response={200: AuditEventListOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary="List audit events (privacy officer)",
)
def event_list(
    request: HttpRequest,
    query: Query[AuditQuery],
    filters: Query[PageParams],
) -> dict[str, Any]:
    """Dates are inclusive UTC calendar days; ``sort`` is a column, ``-`` first for descending."""
    user: Any = request.user
    if not user.can_anywhere(Capability.AUDIT_READ):
        audit_record(
            action=AuditEvent.Action.SEARCH,
            outcome=AuditEvent.Outcome.DENIED,
            object_type="audit_event",
            detail={"via": "api"},
            **request_actor(request),
        )
        raise Forbidden(MESSAGE_AUDIT_FORBIDDEN)
    form = AuditFilterForm(query.model_dump())
    if not form.is_valid():
        raise InvalidInput(MESSAGE_INVALID, errors=form.field_errors())
    wanted = form.to_filters()
    page = paginate(
        audit_event_list(filters=wanted, time_zone=REPORT_TIME_ZONE),
        filters.page,
        filters.page_size,
    )
    audit_record(
        action=AuditEvent.Action.SEARCH,
        object_type="audit_event",
        patient_id=wanted.patient,
        detail={
            "via": "api",
            "filters": form.applied(),
            "page": page.number,
            "shown": len(page.items),
            "count": page.count,
        },
        **request_actor(request),
    )
    return {"items": [_item(e) for e in page.items], "count": page.count}
