"""Counts, investigations, losses and returns of the ledger (mounted at /api/v1/pharmacy).

Seeing them needs LEDGER_HANDLE (nurse, prescriber with a current licence) or
LEDGER_RECONCILE (medical director) at the site; counting, reporting a loss and returning
stock need LEDGER_HANDLE; closing an investigation and recording the loss steps need
LEDGER_RECONCILE. A site or object outside the user's sites is 404; a role without the
ledger gets 403. The second person of a count or return co-signs in the same request:
``"co_sign": {"username", "password"}`` (DESIGN §5a).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for
from ketapath.accounts.services import co_signer_verify
from ketapath.clinics.models import Clinic
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import ApplicationError, FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.pharmacy import ledger, losses, stocktake
from ketapath.pharmacy.models import Count, Investigation, LedgerEntry, LossReport, Vial

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
CO_SIGN_ERRORS = {**ERRORS, 429: ErrorOut}
CO_SIGNER_ROLES = frozenset({"nurse", "prescriber", "medical_director"})

MESSAGE_SITE_NOT_FOUND = "No such site among your sites."
MESSAGE_NO_PHARMACY = "Your role does not include the controlled-substance ledger."
MESSAGE_COUNT_NOT_FOUND = "No such count at your sites."
MESSAGE_INVESTIGATION_NOT_FOUND = "No such investigation at your sites."
MESSAGE_LOSS_NOT_FOUND = "No such loss report at your sites."
MESSAGE_VIAL_NOT_FOUND = "No such vial at your sites."
MESSAGE_VIAL_ELSEWHERE = "No such vial at this site."
MESSAGE_VIAL_TWICE = "This vial is listed twice."
MESSAGE_STATUS = "Status must be open or closed."
MESSAGE_KIND_FILTER = "Kind must be shift, initial or biennial."


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def can_see(user: User, clinic_id: UUID) -> bool:
    """Whether the user sees the site's ledger (a licensed nurse or prescriber, or the
    medical director)."""
    return user.can(Capability.LEDGER_HANDLE, clinic_id) or user.can(
        Capability.LEDGER_RECONCILE, clinic_id
    )


def _site_ids(user: User, clinic: UUID | None) -> list[UUID]:
    """The sites a list covers: the one asked for (404 outside the user's sites, 403 when
    the role has no ledger there), else every site where the user sees the ledger."""
    mine = clinic_ids_for(user)
    if clinic is not None:
        if clinic not in mine:
            raise NotFound(MESSAGE_SITE_NOT_FOUND)
        if not can_see(user, clinic):
            raise Forbidden(MESSAGE_NO_PHARMACY)
        return [clinic]
    ids = sorted(c for c in mine if can_see(user, c))
    if not ids:
        raise Forbidden(MESSAGE_NO_PHARMACY)
    return ids


def _site(user: User, clinic_id: UUID) -> Clinic:
    _site_ids(user, clinic_id)
    return Clinic.objects.get(pk=clinic_id)


def _check_object_site(user: User, clinic_id: UUID, message: str) -> None:
    if clinic_id not in clinic_ids_for(user):
        raise NotFound(message)
    if not can_see(user, clinic_id):
        raise Forbidden(MESSAGE_NO_PHARMACY)


def _aware(moment: datetime | None, clinic: Clinic) -> datetime | None:
    """A time without an offset is the site's local time."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=ZoneInfo(clinic.time_zone))
    return moment


def _co_signer(
    request: HttpRequest, co_sign: "CoSignIn | None", clinic: Clinic, who: str, purpose: str
) -> User:
    return co_signer_verify(
        request=request,
        username=co_sign.username if co_sign else "",
        password=co_sign.password if co_sign else "",
        acting_user=_user(request),
        clinic=clinic,
        allowed_roles=CO_SIGNER_ROLES,
        who=who,
        purpose=purpose,
    )


def _renamed(exc: ApplicationError, names: dict[str, str]) -> ApplicationError:
    exc.errors = [FieldError(names.get(e.field, e.field), e.rule) for e in exc.errors]
    return exc


# --- Schemas ------------------------------------------------------------------------------


class CoSignIn(Schema):
    username: str
    password: str


class CountLineIn(Schema):
    vial: UUID
    counted_ml: Decimal = Field(description="mL counted in the vial (0 or more)")


class CountIn(Schema):
    clinic: UUID
    kind: str = Field(description="shift, initial or biennial")
    lines: list[CountLineIn]
    co_sign: CoSignIn | None = Field(None, description="The second counter")
    at: datetime | None = Field(None, description="When counted; now when left out")
    timing: str = Field("", description="Inventories: opening or close (of business)")
    note: str = ""


class CountFilters(PageParams):
    clinic: UUID | None = None
    kind: str | None = None


class CountLineOut(Schema):
    vial: UUID
    vial_label: str
    substance: str
    lot: str
    mg_per_ml: Decimal
    vial_status: str
    expected_ml: Decimal
    expected_mg: Decimal
    counted_ml: Decimal
    counted_mg: Decimal
    difference_ml: Decimal
    difference_mg: Decimal
    investigation: UUID | None


class InvestigationBrief(Schema):
    id: UUID
    vial: UUID
    vial_label: str
    difference_ml: Decimal
    difference_mg: Decimal
    status: str


class CountOut(Schema):
    id: UUID
    clinic: UUID
    kind: str
    counted_at: str
    counted_by: UUID
    counted_by_name: str
    witness: UUID
    witness_name: str
    timing: str
    note: str
    lines: list[CountLineOut]
    investigations: list[InvestigationBrief]


class CountListOut(Schema):
    items: list[CountOut]
    count: int


class InvestigationFilters(PageParams):
    clinic: UUID | None = None
    status: str | None = None


class InvestigationOut(Schema):
    id: UUID
    clinic: UUID
    status: str
    opened_at: str
    count: UUID
    count_kind: str
    counted_at: str
    counted_by_name: str
    witness_name: str
    vial: UUID
    vial_label: str
    substance: str
    mg_per_ml: Decimal
    expected_ml: Decimal
    counted_ml: Decimal
    difference_ml: Decimal
    difference_mg: Decimal
    explanation: str
    closed_by: UUID | None
    closed_by_name: str | None
    closed_at: str | None


class InvestigationListOut(Schema):
    items: list[InvestigationOut]
    count: int


class CloseIn(Schema):
    explanation: str


class LossItemIn(Schema):
    vial: UUID
    ml: Decimal = Field(description="mL lost from the vial")


class LossIn(Schema):
    clinic: UUID
    kind: str = Field(description="theft, significant_loss or in_transit")
    discovered_at: datetime
    description: str
    items: list[LossItemIn]
    police_report: str = ""


class LossItemOut(Schema):
    entry: UUID
    vial: UUID
    vial_label: str
    substance: str
    lot: str
    mg_per_ml: Decimal
    ml: Decimal
    mg: Decimal


class LossOut(Schema):
    id: UUID
    clinic: UUID
    kind: str
    discovered_at: str
    description: str
    police_report: str
    reported_by: UUID
    reported_by_name: str
    notice_due: date
    notice_sent_at: str | None
    notice_reference: str
    notice_state: str = Field(description="due, due_today, overdue or done")
    form_106_due: date
    form_106_submitted_at: str | None
    form_106_reference: str
    form_106_state: str = Field(description="due, due_today, overdue or done")
    items: list[LossItemOut]


class LossListOut(Schema):
    items: list[LossOut]
    count: int


class ClinicFilter(PageParams):
    clinic: UUID | None = None


class NoticeIn(Schema):
    sent_at: datetime
    reference: str = Field(description="How it was sent and any acknowledgement")


class Form106In(Schema):
    submitted_at: datetime
    reference: str = Field(description="The Form 106 confirmation number")


class ReturnIn(Schema):
    vial: UUID
    receiving_party: str = Field(description="The reverse distributor (name, DEA number)")
    reference: str = Field(description="Their form or invoice reference")
    reason: str
    co_sign: CoSignIn | None = Field(None, description="The witness")


class ReturnOut(Schema):
    id: UUID
    clinic: UUID
    vial: UUID
    vial_label: str
    vial_status: str
    substance: str
    lot: str
    mg_per_ml: Decimal
    ml: Decimal
    mg: Decimal
    at: str
    by: UUID
    witness: UUID
    receiving_party: str
    reference: str
    reason: str


# --- Shapes -------------------------------------------------------------------------------


def count_out(count: Count) -> dict[str, Any]:
    tz = count.clinic.time_zone
    lines = sorted(count.lines.all(), key=lambda line: line.vial.label)
    out_lines = []
    investigations = []
    for line in lines:
        vial = line.vial
        inv: Investigation | None = getattr(line, "investigation", None)
        diff = line.difference_ml
        out_lines.append(
            {
                "vial": vial.id,
                "vial_label": vial.label,
                "substance": vial.substance,
                "lot": vial.lot,
                "mg_per_ml": vial.mg_per_ml,
                "vial_status": vial.status,
                "expected_ml": line.expected_ml,
                "expected_mg": ledger.mg_of(line.expected_ml, vial.mg_per_ml),
                "counted_ml": line.counted_ml,
                "counted_mg": ledger.mg_of(line.counted_ml, vial.mg_per_ml),
                "difference_ml": diff,
                "difference_mg": ledger.mg_of(diff, vial.mg_per_ml),
                "investigation": inv.id if inv else None,
            }
        )
        if inv is not None:
            investigations.append(
                {
                    "id": inv.id,
                    "vial": vial.id,
                    "vial_label": vial.label,
                    "difference_ml": diff,
                    "difference_mg": ledger.mg_of(diff, vial.mg_per_ml),
                    "status": inv.status,
                }
            )
    return {
        "id": count.id,
        "clinic": count.clinic_id,
        "kind": count.kind,
        "counted_at": rfc3339(count.counted_at, tz),
        "counted_by": count.counted_by_id,
        "counted_by_name": count.counted_by.display_name,
        "witness": count.witness_id,
        "witness_name": count.witness.display_name,
        "timing": count.timing,
        "note": count.note,
        "lines": out_lines,
        "investigations": investigations,
    }


def investigation_out(inv: Investigation) -> dict[str, Any]:
    tz = inv.clinic.time_zone
    line = inv.count_line
    count = line.count
    vial = line.vial
    return {
        "id": inv.id,
        "clinic": inv.clinic_id,
        "status": inv.status,
        "opened_at": rfc3339(inv.opened_at, tz),
        "count": count.id,
        "count_kind": count.kind,
        "counted_at": rfc3339(count.counted_at, tz),
        "counted_by_name": count.counted_by.display_name,
        "witness_name": count.witness.display_name,
        "vial": vial.id,
        "vial_label": vial.label,
        "substance": vial.substance,
        "mg_per_ml": vial.mg_per_ml,
        "expected_ml": line.expected_ml,
        "counted_ml": line.counted_ml,
        "difference_ml": line.difference_ml,
        "difference_mg": ledger.mg_of(line.difference_ml, vial.mg_per_ml),
        "explanation": inv.explanation,
        "closed_by": inv.closed_by_id,
        "closed_by_name": inv.closed_by.display_name if inv.closed_by else None,
        "closed_at": rfc3339(inv.closed_at, tz),
    }


def loss_out(report: LossReport) -> dict[str, Any]:
    tz = report.clinic.time_zone
    notice, form_106 = losses.loss_steps(report)
    return {
        "id": report.id,
        "clinic": report.clinic_id,
        "kind": report.kind,
        "discovered_at": rfc3339(report.discovered_at, tz),
        "description": report.description,
        "police_report": report.police_report,
        "reported_by": report.reported_by_id,
        "reported_by_name": report.reported_by.display_name,
        "notice_due": report.notice_due,
        "notice_sent_at": rfc3339(report.notice_sent_at, tz),
        "notice_reference": report.notice_reference,
        "notice_state": notice.state,
        "form_106_due": report.form_106_due,
        "form_106_submitted_at": rfc3339(report.form_106_submitted_at, tz),
        "form_106_reference": report.form_106_reference,
        "form_106_state": form_106.state,
        "items": [
            {
                "entry": e.id,
                "vial": e.vial_id,
                "vial_label": e.vial.label,
                "substance": e.substance,
                "lot": e.vial.lot,
                "mg_per_ml": e.vial.mg_per_ml,
                "ml": -e.ml,
                "mg": -e.mg,
            }
            for e in report.entries.all()
        ],
    }


def return_out(entry: LedgerEntry, vial: Vial) -> dict[str, Any]:
    assert entry.witness_id is not None
    return {
        "id": entry.id,
        "clinic": entry.clinic_id,
        "vial": vial.id,
        "vial_label": vial.label,
        "vial_status": vial.status,
        "substance": vial.substance,
        "lot": vial.lot,
        "mg_per_ml": vial.mg_per_ml,
        "ml": -entry.ml,
        "mg": -entry.mg,
        "at": rfc3339(entry.at, vial.clinic.time_zone),
        "by": entry.by_id,
        "witness": entry.witness_id,
        "receiving_party": entry.receiving_party,
        "reference": entry.reference,
        "reason": entry.reason,
    }


def _count(user: User, count_id: UUID) -> Count:
    count = stocktake.count_with_lines(clinic_ids=list(clinic_ids_for(user)), count_id=count_id)
    if count is None:
        raise NotFound(MESSAGE_COUNT_NOT_FOUND)
    _check_object_site(user, count.clinic_id, MESSAGE_COUNT_NOT_FOUND)
    return count


def _investigation(user: User, investigation_id: UUID) -> Investigation:
    inv = (
        stocktake.investigations_for(clinic_ids=list(clinic_ids_for(user)))
        .filter(id=investigation_id)
        .first()
    )
    if inv is None:
        raise NotFound(MESSAGE_INVESTIGATION_NOT_FOUND)
    _check_object_site(user, inv.clinic_id, MESSAGE_INVESTIGATION_NOT_FOUND)
    return inv


def _loss(user: User, report_id: UUID) -> LossReport:
    report = losses.loss_report_with_entries(
        clinic_ids=list(clinic_ids_for(user)), report_id=report_id
    )
    if report is None:
        raise NotFound(MESSAGE_LOSS_NOT_FOUND)
    _check_object_site(user, report.clinic_id, MESSAGE_LOSS_NOT_FOUND)
    return report


def _require_handle(user: User, clinic_id: UUID) -> None:
    if not ledger.can_handle(user, clinic_id):
        raise Forbidden(ledger.MESSAGE_HANDLE_FORBIDDEN)


# --- Counts -------------------------------------------------------------------------------


@router.post(
    "/counts",
    response={201: CountOut, **CO_SIGN_ERRORS},
    summary="Record a shift count or an inventory, entered in mL by two people; every line "
    "that differs from the ledger opens an investigation",
)
def count_create(request: HttpRequest, payload: CountIn) -> Status[dict[str, Any]]:
    user = _user(request)
    clinic = _site(user, payload.clinic)
    _require_handle(user, clinic.id)
    lines: dict[UUID, object] = {}
    index_of: dict[str, str] = {}
    errors: list[FieldError] = []
    for index, line in enumerate(payload.lines):
        if line.vial in lines:
            errors.append(FieldError(f"lines.{index}.vial", MESSAGE_VIAL_TWICE))
            continue
        lines[line.vial] = line.counted_ml
        index_of[f"lines.{line.vial}"] = f"lines.{index}.counted_ml"
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)
    witness = _co_signer(
        request, payload.co_sign, clinic, "a licensed nurse or prescriber", "count"
    )
    try:
        count = stocktake.count_record(
            user=user,
            witness=witness,
            clinic=clinic,
            kind=payload.kind,
            lines=lines,
            at=_aware(payload.at, clinic),
            timing=payload.timing,
            note=payload.note,
        )
    except ApplicationError as exc:
        raise _renamed(exc, index_of) from None
    return Status(201, count_out(_count(user, count.id)))


@router.get(
    "/counts",
    response={200: CountListOut, **ERRORS},
    summary="Counts and inventories of your sites (or ?clinic=), newest first, with lines",
)
def count_list(request: HttpRequest, filters: Query[CountFilters]) -> dict[str, Any]:
    ids = _site_ids(_user(request), filters.clinic)
    rows = stocktake.counts_with_lines(clinic_ids=ids)
    if filters.kind:
        if filters.kind not in Count.Kind.values:
            raise InvalidInput(
                MESSAGE_KIND_FILTER, errors=[FieldError("kind", MESSAGE_KIND_FILTER)]
            )
        rows = rows.filter(kind=filters.kind)
    page = paginate(rows, filters.page, filters.page_size)
    return {"items": [count_out(c) for c in page.items], "count": page.count}


@router.get("/counts/{count_id}", response={200: CountOut, **ERRORS})
def count_detail(request: HttpRequest, count_id: UUID) -> dict[str, Any]:
    return count_out(_count(_user(request), count_id))


# --- Investigations ------------------------------------------------------------------------


@router.get(
    "/investigations",
    response={200: InvestigationListOut, **ERRORS},
    summary="Investigations opened by count differences, open ones first",
)
def investigation_list(
    request: HttpRequest, filters: Query[InvestigationFilters]
) -> dict[str, Any]:
    ids = _site_ids(_user(request), filters.clinic)
    if filters.status and filters.status not in Investigation.Status.values:
        raise InvalidInput(MESSAGE_STATUS, errors=[FieldError("status", MESSAGE_STATUS)])
    rows = stocktake.investigations_for(clinic_ids=ids, status=filters.status)
    page = paginate(rows, filters.page, filters.page_size)
    return {"items": [investigation_out(i) for i in page.items], "count": page.count}


@router.get("/investigations/{investigation_id}", response={200: InvestigationOut, **ERRORS})
def investigation_detail(request: HttpRequest, investigation_id: UUID) -> dict[str, Any]:
    return investigation_out(_investigation(_user(request), investigation_id))


@router.post(
    "/investigations/{investigation_id}/close",
    response={200: InvestigationOut, **ERRORS},
    summary="The medical director closes an investigation with an explanation",
)
def investigation_close(
    request: HttpRequest, investigation_id: UUID, payload: CloseIn
) -> dict[str, Any]:
    user = _user(request)
    inv = _investigation(user, investigation_id)
    stocktake.investigation_close(user=user, investigation=inv, explanation=payload.explanation)
    return investigation_out(_investigation(user, investigation_id))


# --- Losses -------------------------------------------------------------------------------


@router.post(
    "/losses",
    response={201: LossOut, **ERRORS},
    summary="Report a theft or significant loss; answers the due dates of the DEA notice "
    "(next business day) and of Form 106 (45 days)",
)
def loss_create(request: HttpRequest, payload: LossIn) -> Status[dict[str, Any]]:
    user = _user(request)
    clinic = _site(user, payload.clinic)
    _require_handle(user, clinic.id)
    vials = {
        v.id: v for v in Vial.objects.filter(clinic=clinic, id__in=[i.vial for i in payload.items])
    }
    errors = [
        FieldError(f"items.{index}.vial", MESSAGE_VIAL_ELSEWHERE)
        for index, item in enumerate(payload.items)
        if item.vial not in vials
    ]
    if errors:
        raise InvalidInput(errors[0].rule, errors=errors)
    discovered_at = _aware(payload.discovered_at, clinic)
    assert discovered_at is not None
    report = losses.loss_report_create(
        user=user,
        clinic=clinic,
        kind=payload.kind,
        discovered_at=discovered_at,
        description=payload.description,
        items=[(vials[i.vial], i.ml) for i in payload.items],
        police_report=payload.police_report,
    )
    return Status(201, loss_out(_loss(user, report.id)))


@router.get("/losses", response={200: LossListOut, **ERRORS}, summary="Loss reports, newest first")
def loss_list(request: HttpRequest, filters: Query[ClinicFilter]) -> dict[str, Any]:
    ids = _site_ids(_user(request), filters.clinic)
    page = paginate(
        losses.loss_reports_with_entries(clinic_ids=ids), filters.page, filters.page_size
    )
    return {"items": [loss_out(r) for r in page.items], "count": page.count}


@router.get("/losses/{report_id}", response={200: LossOut, **ERRORS})
def loss_detail(request: HttpRequest, report_id: UUID) -> dict[str, Any]:
    return loss_out(_loss(_user(request), report_id))


@router.post(
    "/losses/{report_id}/notice",
    response={200: LossOut, **ERRORS},
    summary="The medical director records the written notice sent to the DEA Field Division Office",
)
def loss_notice(request: HttpRequest, report_id: UUID, payload: NoticeIn) -> dict[str, Any]:
    user = _user(request)
    report = _loss(user, report_id)
    try:
        losses.loss_notice_record(
            user=user,
            report=report,
            sent_at=_aware(payload.sent_at, report.clinic),  # type: ignore[arg-type]
            reference=payload.reference,
        )
    except ApplicationError as exc:
        raise _renamed(exc, {"at": "sent_at"}) from None
    return loss_out(_loss(user, report_id))


@router.post(
    "/losses/{report_id}/form-106",
    response={200: LossOut, **ERRORS},
    summary="The medical director records DEA Form 106 as submitted",
)
def loss_form_106(request: HttpRequest, report_id: UUID, payload: Form106In) -> dict[str, Any]:
    user = _user(request)
    report = _loss(user, report_id)
    try:
        losses.loss_form_106_record(
            user=user,
            report=report,
            submitted_at=_aware(payload.submitted_at, report.clinic),  # type: ignore[arg-type]
            reference=payload.reference,
        )
    except ApplicationError as exc:
        raise _renamed(exc, {"at": "submitted_at"}) from None
    return loss_out(_loss(user, report_id))


# --- Returns ------------------------------------------------------------------------------


@router.post(
    "/returns",
    response={201: ReturnOut, **CO_SIGN_ERRORS},
    summary="Return a vial's whole remaining balance to a reverse distributor, witnessed",
)
def return_create(request: HttpRequest, payload: ReturnIn) -> Status[dict[str, Any]]:
    user = _user(request)
    vial = (
        Vial.objects.select_related("clinic")
        .filter(id=payload.vial, clinic_id__in=clinic_ids_for(user))
        .first()
    )
    if vial is None:
        raise NotFound(MESSAGE_VIAL_NOT_FOUND)
    _check_object_site(user, vial.clinic_id, MESSAGE_VIAL_NOT_FOUND)
    _require_handle(user, vial.clinic_id)
    witness = _co_signer(
        request, payload.co_sign, vial.clinic, "a licensed nurse or prescriber", "return"
    )
    entry = losses.return_record(
        user=user,
        witness=witness,
        vial=vial,
        receiving_party=payload.receiving_party,
        reference=payload.reference,
        reason=payload.reason,
    )
    vial.refresh_from_db()
    return Status(201, return_out(entry, vial))
