"""GET /api/v1/clinics, GET /api/v1/clinics/{id}, GET|PUT|PATCH /api/v1/clinics/{id}/policy.

A user sees the sites where they hold an active membership; any other site answers 404.
Only the site's medical director may change its policy (403 for every other role).
"""

from datetime import date
from typing import Any, cast
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from ketapath.clinics.forms import policy_setting_meta
from ketapath.clinics.models import Clinic, ClinicPolicy
from ketapath.clinics.selectors import (
    clinic_get,
    clinic_ids_for_user,
    clinic_policy_current,
    clinics_with_details,
)
from ketapath.clinics.services import Actor, clinic_policy_update
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.errors import NotFound
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339

router = Router()

MESSAGE_CLINIC_NOT_FOUND = "No such clinic site among yours."


class OpeningHoursOut(Schema):
    weekday: int = Field(description="0 = Monday … 6 = Sunday")
    opens: str = Field(description="Local time HH:MM")
    closes: str = Field(description="Local time HH:MM")


class RoomOut(Schema):
    id: UUID
    name: str
    kind: str
    active: bool


class ClosureOut(Schema):
    id: UUID
    start_date: date
    end_date: date
    reason: str


class ClinicOut(Schema):
    id: UUID
    name: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    phone: str = Field(description="E.164, e.g. +13035550100")
    time_zone: str = Field(description="IANA time zone of the site")
    dea_registration: str
    opening_hours: list[OpeningHoursOut]
    rooms: list[RoomOut]
    closures: list[ClosureOut]


class ClinicListOut(Schema):
    items: list[ClinicOut]
    count: int


class PolicyOut(Schema):
    id: UUID | None = Field(description="Null while no version has been saved")
    clinic: UUID
    version: int
    fields: dict[str, Any] = Field(description="Every editable setting and its value")
    help: dict[str, str] = Field(description="Each setting's meaning and cited default")
    reason: str
    changed_by_name: str
    changed_at: str | None = Field(description="RFC 3339 with the site's UTC offset")


class PolicyChangeIn(Schema):
    changes: dict[str, Any] = Field(description="Setting name → new value")
    reason: str = Field("", max_length=300)


def _user_clinic(request: HttpRequest, clinic_id: UUID, *, details: bool = False) -> Clinic:
    """The site if the user works there, else 404 (before any role check)."""
    if clinic_id not in clinic_ids_for_user(user_id=request.user.pk):
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND)
    clinic = (
        clinics_with_details(clinic_ids={clinic_id}).first()
        if details
        else clinic_get(clinic_id=clinic_id)
    )
    if clinic is None:
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND)
    return clinic


def _clinic_out(clinic: Clinic) -> dict[str, Any]:
    return {
        "id": clinic.id,
        "name": clinic.name,
        "address_line1": clinic.address_line1,
        "address_line2": clinic.address_line2,
        "city": clinic.city,
        "state": clinic.state,
        "postal_code": clinic.postal_code,
        "phone": clinic.phone,
        "time_zone": clinic.time_zone,
        "dea_registration": clinic.dea_registration,
        "opening_hours": [
            {"weekday": h.weekday, "opens": f"{h.opens:%H:%M}", "closes": f"{h.closes:%H:%M}"}
            for h in clinic.opening_hours.all()
        ],
        "rooms": [
            {"id": r.id, "name": r.name, "kind": r.kind, "active": r.active}
            for r in clinic.rooms.all()
        ],
        "closures": [
            {"id": c.id, "start_date": c.start_date, "end_date": c.end_date, "reason": c.reason}
            for c in clinic.closures.all()
        ],
    }


def _policy_out(clinic: Clinic, policy: ClinicPolicy) -> dict[str, Any]:
    saved = not policy._state.adding
    return {
        "id": policy.id if saved else None,
        "clinic": clinic.id,
        "version": policy.version,
        "fields": {name: getattr(policy, name) for name in ClinicPolicy.EDITABLE_FIELDS},
        "help": {name: policy_setting_meta(name)[1] for name in ClinicPolicy.EDITABLE_FIELDS},
        "reason": policy.change_reason,
        "changed_by_name": policy.changed_by_name,
        "changed_at": rfc3339(policy.created_at, clinic.time_zone) if saved else None,
    }


@router.get("", response={200: ClinicListOut, 401: ErrorOut})
def clinic_list(request: HttpRequest, filters: PageParams = Query(...)) -> dict[str, Any]:  # noqa: B008
    ids = clinic_ids_for_user(user_id=request.user.pk)
    page = paginate(clinics_with_details(clinic_ids=ids), filters.page, filters.page_size)
    return {"items": [_clinic_out(c) for c in page.items], "count": page.count}


@router.get("/{clinic_id}", response={200: ClinicOut, 401: ErrorOut, 404: ErrorOut})
def clinic_detail(request: HttpRequest, clinic_id: UUID) -> dict[str, Any]:
    return _clinic_out(_user_clinic(request, clinic_id, details=True))


@router.get("/{clinic_id}/policy", response={200: PolicyOut, 401: ErrorOut, 404: ErrorOut})
def policy_detail(request: HttpRequest, clinic_id: UUID) -> dict[str, Any]:
    clinic = _user_clinic(request, clinic_id)
    return _policy_out(clinic, clinic_policy_current(clinic=clinic))


@router.api_operation(
    ["PUT", "PATCH"],
    "/{clinic_id}/policy",
    response={
        200: PolicyOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
)
def policy_change(request: HttpRequest, clinic_id: UUID, payload: PolicyChangeIn) -> dict[str, Any]:
    """Write the next policy version with ``changes`` applied; medical director only."""
    clinic = _user_clinic(request, clinic_id)
    policy = clinic_policy_update(
        user=cast(Actor, request.user),
        clinic=clinic,
        changes=payload.changes,
        reason=payload.reason,
    )
    return _policy_out(clinic, policy)
