"""The privacy officer's audit trail: a filtered, sorted, paginated report and its CSV export.

The audit app sits below accounts, so the permission is checked by duck typing on the
user (``can_anywhere``) and the acting user's roles come from ``roles_at``.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from ketapath.audit.forms import DEFAULT_SORT, AuditFilterForm
from ketapath.audit.models import AuditEvent
from ketapath.audit.selectors import audit_event_list
from ketapath.audit.services import audit_record
from ketapath.core.capabilities import Capability
from ketapath.core.pagination import clamp_page, paginate
from ketapath.core.timeutils import rfc3339

MESSAGE_AUDIT_FORBIDDEN = "Only the privacy officer can read or export the audit trail."

REPORT_PAGE_SIZE = 25
REPORT_TIME_ZONE = "UTC"
CSV_HEADER = [
    "time",
    "user_id",
    "username",
    "role",
    "clinic_id",
    "patient_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "ip",
    "request_id",
]
# Spreadsheets run a cell that starts with one of these as a formula; usernames from failed
# sign-ins are typed by anyone, so such cells are prefixed with a quote (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# (sort key, column label, direction of the first click)
SORT_COLUMNS = [
    ("time", "Time (UTC)", "-"),
    ("user", "User", ""),
    ("action", "Action", ""),
    ("object", "Object", ""),
    ("patient", "Patient id", ""),
    ("outcome", "Outcome", ""),
]


def request_actor(request: HttpRequest) -> dict[str, Any]:
    """Who is asking, in the audit record's terms, read from the user by duck typing."""
    user: Any = request.user
    clinic_id: UUID | None = getattr(request, "clinic_id", None)
    return {
        "user_id": user.id,
        "username": user.get_username(),
        "role": ",".join(user.roles_at(clinic_id)),
        "clinic_id": clinic_id,
    }


def require_audit_read(request: HttpRequest, action: str) -> None:
    """Refuse (and record the refusal) unless the user may read the audit trail."""
    user: Any = request.user
    if user.can_anywhere(Capability.AUDIT_READ):
        return
    audit_record(
        action=action,
        outcome=AuditEvent.Outcome.DENIED,
        object_type="audit_event",
        **request_actor(request),
    )
    raise PermissionDenied(MESSAGE_AUDIT_FORBIDDEN)


def _query(params: dict[str, str], **changes: str | None) -> str:
    query = QueryDict(mutable=True)
    for key, value in params.items():
        if value:
            query[key] = value
    for key, change in changes.items():
        if change:
            query[key] = change
        else:
            query.pop(key, None)
    return query.urlencode()


def _sort_headers(params: dict[str, str], current: str) -> dict[str, dict[str, str]]:
    """Each sortable column's link: the first click sorts it, the next reverses it."""
    current_key = current.lstrip("-")
    descending = current.startswith("-")
    headers = {}
    for key, label, first in SORT_COLUMNS:
        if key == current_key:
            state = "descending" if descending else "ascending"
            next_sort = key if descending else f"-{key}"
        else:
            state = ""
            next_sort = f"{first}{key}"
        headers[key] = {
            "label": label,
            "state": state,
            "next": "descending" if next_sort.startswith("-") else "ascending",
            "url": "?" + _query(params, sort=next_sort, page=None),
        }
    return headers


@login_required
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    require_audit_read(request, AuditEvent.Action.SEARCH)
    form = AuditFilterForm(request.GET)
    params = {key: request.GET.get(key, "") for key in form.fields}
    number, _ = clamp_page(request.GET.get("page"), REPORT_PAGE_SIZE)
    page = None
    sort = DEFAULT_SORT
    if form.is_valid():
        filters = form.to_filters()
        sort = filters.sort
        page = paginate(
            audit_event_list(filters=filters, time_zone=REPORT_TIME_ZONE),
            number,
            REPORT_PAGE_SIZE,
        )
        audit_record(
            action=AuditEvent.Action.SEARCH,
            object_type="audit_event",
            patient_id=filters.patient,
            detail={
                "filters": form.applied(),
                "page": page.number,
                "shown": len(page.items),
                "count": page.count,
            },
            **request_actor(request),
        )
    context = {
        "form": form,
        "page": page,
        "headers": _sort_headers(params, sort),
        "querystring": _query(params, page=None),
        "export_url": reverse("audit:export") + "?" + _query(params, page=None),
        "time_zone": REPORT_TIME_ZONE,
    }
    return render(request, "audit/event_list.html", context)


class _Echo:
    """A write-only file for csv.writer: hands each formatted line back to the caller."""

    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_row(event: AuditEvent) -> list[str]:
    values: list[object] = [
        rfc3339(event.time),
        event.user_id,
        event.username,
        event.role,
        event.clinic_id,
        event.patient_id,
        event.action,
        event.object_type,
        event.object_id,
        event.outcome,
        event.ip,
        event.request_id,
    ]
    return [_cell(v) for v in values]


def _csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events:
        yield writer.writerow(csv_row(event))


@login_required
@require_GET
def event_export(request: HttpRequest) -> HttpResponseBase:
    require_audit_read(request, AuditEvent.Action.EXPORT)
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        # The report page shows each error beside its field.
        return redirect(reverse("audit:events") + "?" + request.GET.urlencode())
    filters = form.to_filters()
    # Rows written while the file streams (this export's own event among them) stay out,
    # so the recorded row count is the number of rows in the file.
    cutoff: datetime = timezone.now()
    events = audit_event_list(filters=filters, time_zone=REPORT_TIME_ZONE).filter(time__lte=cutoff)
    count = events.count()
    recorded = audit_record(
        action=AuditEvent.Action.EXPORT,
        object_type="audit_event",
        patient_id=filters.patient,
        detail={"filters": form.applied(), "rows": count, "until": rfc3339(cutoff)},
        **request_actor(request),
    )
    rows = events.exclude(id=recorded.id).iterator(chunk_size=1000)
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    stamp = cutoff.strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response
