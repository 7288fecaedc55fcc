"""Protocols API (mounted at /api/v1/protocols): the site's templates; the medical
director creates, edits (a new version once approved) and approves them. Reading needs
PROTOCOL_READ (director, prescriber, nurse); writing PROTOCOL_WRITE (director)."""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Status

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinics_where
from ketapath.clinics.models import Clinic
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.pagination import paginate
from ketapath.protocols import selectors, services
from ketapath.protocols.models import ProtocolTemplate
from ketapath.protocols.schemas import ProtocolIn, ProtocolListOut, ProtocolOut, ProtocolPatch

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MESSAGE_CLINIC_REQUIRED = "Name the site: you work at several."
MESSAGE_CLINIC_NOT_YOURS = "Not one of your sites."
MESSAGE_READ_FORBIDDEN = "Your role does not read protocol templates."


class ProtocolFilters(PageParams):
    clinic: UUID | None = None
    include_history: bool = False


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _member_sites(user: User) -> set[UUID]:
    return clinics_where(user, Capability.PATIENT_READ)


def _out(t: ProtocolTemplate) -> dict[str, Any]:
    return {
        **{name: getattr(t, name) for name in services.EDITABLE_FIELDS},
        "id": t.id,
        "clinic": t.clinic_id,
        "lineage": t.lineage,
        "version": t.version,
        "status": t.status,
        "chair_minutes": t.chair_minutes,
        "approved_by": t.approved_by_id,
        "approved_at": t.approved_at,
    }


def _site(user: User, requested: UUID | None) -> Clinic:
    sites = _member_sites(user)
    if requested is not None:
        if requested not in sites:
            raise NotFound(MESSAGE_CLINIC_NOT_YOURS)
        return Clinic.objects.get(id=requested)
    if len(sites) == 1:
        return Clinic.objects.get(id=next(iter(sites)))
    raise InvalidInput(
        MESSAGE_CLINIC_REQUIRED, errors=[FieldError("clinic", MESSAGE_CLINIC_REQUIRED)]
    )


def _template(user: User, template_id: UUID, capability: Capability) -> ProtocolTemplate:
    template = selectors.protocol_get(clinic_ids=_member_sites(user), template_id=template_id)
    if not user.can(capability, template.clinic_id):
        raise Forbidden(
            services.MESSAGE_FORBIDDEN
            if capability == Capability.PROTOCOL_WRITE
            else MESSAGE_READ_FORBIDDEN
        )
    return template


@router.get("", response={200: ProtocolListOut, **ERRORS}, summary="The site's protocol templates")
def protocol_list(request: HttpRequest, filters: Query[ProtocolFilters]) -> dict[str, Any]:
    user = _user(request)
    clinic = _site(user, filters.clinic)
    if not user.can(Capability.PROTOCOL_READ, clinic.id):
        raise Forbidden(MESSAGE_READ_FORBIDDEN)
    services.protocols_ship(clinic=clinic)
    page = paginate(
        selectors.protocols_for_clinic(clinic=clinic, include_history=filters.include_history),
        filters.page,
        filters.page_size,
    )
    return {"items": [_out(t) for t in page.items], "count": page.count}


@router.post("", response={201: ProtocolOut, **ERRORS}, summary="A new template (draft)")
def protocol_create(request: HttpRequest, payload: ProtocolIn) -> Status[dict[str, Any]]:
    user = _user(request)
    clinic = _site(user, payload.clinic)
    data = payload.dict(exclude_unset=True)
    data.pop("clinic", None)
    template = services.protocol_create(user=user, clinic=clinic, data=data)
    return Status(201, _out(template))


@router.get("/{template_id}", response={200: ProtocolOut, **ERRORS})
def protocol_detail(request: HttpRequest, template_id: UUID) -> dict[str, Any]:
    return _out(_template(_user(request), template_id, Capability.PROTOCOL_READ))


@router.patch(
    "/{template_id}",
    response={200: ProtocolOut, **ERRORS},
    summary="Edit a draft in place, or write the next version of an approved template",
)
def protocol_update(
    request: HttpRequest, template_id: UUID, payload: ProtocolPatch
) -> dict[str, Any]:
    user = _user(request)
    template = _template(user, template_id, Capability.PROTOCOL_WRITE)
    return _out(
        services.protocol_update(
            user=user, template=template, data=payload.dict(exclude_unset=True)
        )
    )


@router.post(
    "/{template_id}/approve",
    response={200: ProtocolOut, **ERRORS},
    summary="Approve the latest draft (medical director only)",
)
def protocol_approve(request: HttpRequest, template_id: UUID) -> dict[str, Any]:
    user = _user(request)
    template = _template(user, template_id, Capability.PROTOCOL_WRITE)
    return _out(services.protocol_approve(user=user, template=template))
