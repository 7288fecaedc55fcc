"""Stock endpoints of the ledger (mounted at /api/v1/pharmacy): receiving deliveries,
vials and their history, draws, witnessed waste, quarantine, reversals and the strengths
the site may receive.

Order of checks (DESIGN §5a): not logged in → 401; a vial, entry or site outside the
user's sites → 404; a role at that site without the ledger → 403. Reading needs
LEDGER_HANDLE or LEDGER_RECONCILE at the vial's site; moving stock LEDGER_HANDLE (a nurse
or prescriber with a current licence); enabling strengths LEDGER_RECONCILE (the medical
director). Second people (the one counting a delivery, the waste witness) co-sign in the
same request with ``co_sign``. The reads here are shared with the stock pages.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from ketapath.accounts.models import Role, User
from ketapath.accounts.permissions import clinic_ids_for, clinics_where
from ketapath.accounts.services import Action, audit, co_signer_verify
from ketapath.clinics.models import Clinic
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.patients.models import Patient
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import (
    SCHEDULES,
    Formulation,
    LedgerEntry,
    Receipt,
    Substance,
    Vial,
    plain_number,
)

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut}

MESSAGE_PHARMACY_FORBIDDEN = (
    "Your role at this site does not include the controlled-substance ledger (a nurse, "
    "prescriber or the medical director)."
)
MESSAGE_SITE_NOT_FOUND = "No such site among yours."
MESSAGE_VIAL_NOT_FOUND = "No such vial at your sites."
MESSAGE_ENTRY_NOT_FOUND = "No such ledger entry at your sites."
MESSAGE_DRAW_NOT_FOUND = "No such draw from this vial."
MESSAGE_PATIENT_NOT_FOUND = "No such patient enrolled at the vial's site."
MESSAGE_STATUS = "Choose a status from: {choices}."
MESSAGE_SUBSTANCE = "Choose a substance from: {choices}."
MESSAGE_STRENGTH_ONE = (
    "Name the strength once: a formulation id, or its substance and concentration (mg/mL)."
)
MESSAGE_RECEIVED_FUTURE = "The time received cannot be in the future."
MESSAGE_CONCENTRATION = "Enter the concentration in mg/mL, above 0 and up to 9999."
MAX_MG_PER_ML = Decimal("9999.99")
MESSAGE_NDC = "Enter the NDC as printed on the carton: digits and hyphens."
# Who may co-sign (the person counting a delivery, the witness of waste): the roles that
# hold the ledger; the ledger then checks the co-signer's own capability and licence.
SECOND_PERSON_ROLES = frozenset({Role.NURSE, Role.PRESCRIBER, Role.MEDICAL_DIRECTOR})
SECOND_PERSON_WHO = "another nurse, prescriber or medical director"
# What is still on hand at the site (quarantined stock is counted until it is returned).
ON_HAND = (Vial.Status.IN_STOCK, Vial.Status.OPEN, Vial.Status.QUARANTINED)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# --- Access -------------------------------------------------------------------------------


def pharmacy_site_ids(user: User) -> set[UUID]:
    """Sites where the user may see the ledger."""
    return clinics_where(user, Capability.LEDGER_HANDLE) | clinics_where(
        user, Capability.LEDGER_RECONCILE
    )


def can_see_ledger(user: User, clinic_id: UUID) -> bool:
    return user.can(Capability.LEDGER_HANDLE, clinic_id) or user.can(
        Capability.LEDGER_RECONCILE, clinic_id
    )


def require_ledger_site(user: User, clinic_id: UUID, *, handle: bool = False) -> None:
    """404 outside the user's sites; 403 where the role has no ledger (or, with
    ``handle``, may not move stock)."""
    if clinic_id not in clinic_ids_for(user):
        raise NotFound(MESSAGE_SITE_NOT_FOUND)
    if handle:
        if not ledger.can_handle(user, clinic_id):
            raise Forbidden(ledger.MESSAGE_HANDLE_FORBIDDEN)
    elif not can_see_ledger(user, clinic_id):
        raise Forbidden(MESSAGE_PHARMACY_FORBIDDEN)


def vial_for_user(user: User, vial_id: UUID | str, *, handle: bool = False) -> Vial:
    vial = (
        Vial.objects.select_related("clinic", "receipt")
        .filter(id=vial_id, clinic_id__in=clinic_ids_for(user))
        .first()
    )
    if vial is None:
        raise NotFound(MESSAGE_VIAL_NOT_FOUND)
    require_ledger_site(user, vial.clinic_id, handle=handle)
    return vial


def entry_for_user(user: User, entry_id: UUID | str, *, handle: bool = False) -> LedgerEntry:
    entry = (
        LedgerEntry.objects.select_related("vial", "vial__clinic", "by", "witness", "patient")
        .filter(id=entry_id, clinic_id__in=clinic_ids_for(user))
        .first()
    )
    if entry is None:
        raise NotFound(MESSAGE_ENTRY_NOT_FOUND)
    require_ledger_site(user, entry.clinic_id, handle=handle)
    return entry


# --- Reads (shared with the pages) ----------------------------------------------------------


def vials_query(
    *,
    clinic_ids: set[UUID],
    status: str | list[str] | tuple[str, ...] | None = None,
    substance: str | None = None,
) -> QuerySet[Vial]:
    """Vials at these sites with their site and delivery loaded (no query per row)."""
    qs = Vial.objects.filter(clinic_id__in=clinic_ids).select_related("clinic", "receipt")
    if isinstance(status, str):
        qs = qs.filter(status=status)
    elif status:
        qs = qs.filter(status__in=status)
    if substance:
        qs = qs.filter(substance=substance)
    return qs.order_by("clinic__name", "substance", "label")


@dataclass(frozen=True)
class StockLine:
    """On hand of one substance and strength at a site, summed in the database."""

    substance: str
    substance_label: str
    schedule: str
    mg_per_ml: Decimal
    usable_vials: int
    usable_ml: Decimal
    usable_mg: Decimal
    quarantined_vials: int
    quarantined_ml: Decimal
    quarantined_mg: Decimal

    @property
    def total_ml(self) -> Decimal:
        return self.usable_ml + self.quarantined_ml

    @property
    def total_mg(self) -> Decimal:
        return self.usable_mg + self.quarantined_mg


def strength(mg_per_ml: Decimal) -> str:
    """A concentration as people write it: 50, 0.5, 2.25 (never 5E+1)."""
    return plain_number(mg_per_ml)


def _dec(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(ledger.CENT)


def stock_on_hand(*, clinic_id: UUID) -> list[StockLine]:
    """Per substance and strength: vials, mL and mg in use or sealed, and quarantined."""
    mg = ExpressionWrapper(
        F("balance_ml") * F("mg_per_ml"), output_field=DecimalField(max_digits=16, decimal_places=5)
    )
    usable = Q(status__in=ledger.USABLE)
    held = Q(status=Vial.Status.QUARANTINED)
    rows = (
        Vial.objects.filter(clinic_id=clinic_id, status__in=ON_HAND)
        .values("substance", "mg_per_ml")
        .annotate(
            usable_vials=Count("id", filter=usable),
            usable_ml=Sum("balance_ml", filter=usable),
            usable_mg=Sum(mg, filter=usable),
            quarantined_vials=Count("id", filter=held),
            quarantined_ml=Sum("balance_ml", filter=held),
            quarantined_mg=Sum(mg, filter=held),
        )
        .order_by("substance", "mg_per_ml")
    )
    return [
        StockLine(
            substance=r["substance"],
            substance_label=Substance(r["substance"]).label,
            schedule=SCHEDULES[Substance(r["substance"])],
            mg_per_ml=Decimal(strength(Decimal(str(r["mg_per_ml"])))),
            usable_vials=r["usable_vials"],
            usable_ml=_dec(r["usable_ml"]),
            usable_mg=_dec(r["usable_mg"]),
            quarantined_vials=r["quarantined_vials"],
            quarantined_ml=_dec(r["quarantined_ml"]),
            quarantined_mg=_dec(r["quarantined_mg"]),
        )
        for r in rows
    ]


def vial_entries(vial: Vial) -> list[LedgerEntry]:
    """Every entry of the vial in ledger order, with the people and patient loaded."""
    return list(
        LedgerEntry.objects.filter(vial=vial)
        .select_related("by", "witness", "patient")
        .order_by("at", "created_at")
    )


@dataclass(frozen=True)
class HistoryLine:
    entry: LedgerEntry
    balance_ml: Decimal
    reversed_by: UUID | None


def vial_history(vial: Vial, entries: list[LedgerEntry]) -> list[HistoryLine]:
    """The entries with the vial's balance after each (the running sum of ``ml``)."""
    reversed_by = {e.reverses_id: e.id for e in entries if e.reverses_id}
    running = Decimal("0")
    lines = []
    for e in entries:
        running += e.ml
        lines.append(HistoryLine(entry=e, balance_ml=running, reversed_by=reversed_by.get(e.id)))
    return lines


@dataclass(frozen=True)
class DrawState:
    """What became of a draw, net of reversals (the same sums as ``ledger.draw_account``),
    from entries already loaded."""

    draw: LedgerEntry
    drawn_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal

    @property
    def unaccounted_mg(self) -> Decimal:
        return self.drawn_mg - self.administered_mg - self.wasted_mg


def draw_states(entries: list[LedgerEntry]) -> dict[UUID, DrawState]:
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id}
    sums: dict[UUID, list[Decimal]] = {}
    for e in entries:
        if e.draw_id is None or e.id in reversed_ids or e.kind == LedgerEntry.Kind.REVERSE:
            continue
        given_wasted = sums.setdefault(e.draw_id, [Decimal("0"), Decimal("0")])
        if e.kind == LedgerEntry.Kind.ADMINISTER:
            given_wasted[0] += -e.mg
        elif e.kind == LedgerEntry.Kind.WASTE:
            given_wasted[1] += -e.mg
    out = {}
    for e in entries:
        if e.kind != LedgerEntry.Kind.DRAW:
            continue
        given, wasted = sums.get(e.id, [Decimal("0"), Decimal("0")])
        drawn = Decimal("0") if e.id in reversed_ids else -e.mg
        out[e.id] = DrawState(draw=e, drawn_mg=drawn, administered_mg=given, wasted_mg=wasted)
    return out


def audit_history_read(user: User, vial: Vial, entries: list[LedgerEntry], page: str) -> None:
    """A vial's history names the patients its draws were for: a read of health
    information."""
    audit(
        user=user,
        action=Action.READ,
        clinic_id=vial.clinic_id,
        object_type="vial_history",
        object_id=vial.id,
        detail={
            "page": page,
            "patients": sorted({str(e.patient_id) for e in entries if e.patient_id}),
        },
    )


# --- Output -------------------------------------------------------------------------------


def vial_out(v: Vial) -> dict[str, Any]:
    tz = v.clinic.time_zone
    return {
        "id": v.id,
        "label": v.label,
        "clinic": v.clinic_id,
        "substance": v.substance,
        "schedule": SCHEDULES[Substance(v.substance)],
        "product": v.receipt.product,
        "formulation": v.formulation_id,
        "ndc": v.ndc,
        "lot": v.lot,
        "expiry": v.expiry,
        "mg_per_ml": v.mg_per_ml,
        "volume_ml": v.volume_ml,
        "balance_ml": v.balance_ml,
        "balance_mg": v.balance_mg,
        "status": v.status,
        "opened_at": rfc3339(v.opened_at, tz),
        "beyond_use_at": rfc3339(v.beyond_use_at, tz),
        "quarantined_at": rfc3339(v.quarantined_at, tz),
        "quarantine_reason": v.quarantine_reason,
        "receipt": v.receipt_id,
    }


def entry_out(
    e: LedgerEntry, tz: str, *, balance_ml: Decimal | None, reversed_by: UUID | None
) -> dict[str, Any]:
    return {
        "id": e.id,
        "vial": e.vial_id,
        "at": rfc3339(e.at, tz),
        "kind": e.kind,
        "substance": e.substance,
        "ml": e.ml,
        "mg": e.mg,
        "by": e.by_id,
        "by_name": e.by.display_name,
        "witness": e.witness_id,
        "witness_name": e.witness.display_name if e.witness_id and e.witness else None,
        "session": e.session_id,
        "patient": e.patient_id,
        "draw": e.draw_id,
        "reason": e.reason,
        "reverses": e.reverses_id,
        "reversed_by": reversed_by,
        "receiving_party": e.receiving_party,
        "reference": e.reference,
        "balance_ml": balance_ml,
    }


def _posted_out(entry: LedgerEntry) -> dict[str, Any]:
    """A just-posted entry with the vial's balance after it."""
    vial = Vial.objects.select_related("clinic").get(pk=entry.vial_id)
    fresh = LedgerEntry.objects.select_related("by", "witness").get(pk=entry.pk)
    return entry_out(fresh, vial.clinic.time_zone, balance_ml=vial.balance_ml, reversed_by=None)


def receipt_out(r: Receipt) -> dict[str, Any]:
    tz = r.clinic.time_zone
    return {
        "id": r.id,
        "clinic": r.clinic_id,
        "formulation": r.formulation_id,
        "substance": r.formulation.substance,
        "schedule": SCHEDULES[Substance(r.formulation.substance)],
        "ndc": r.ndc,
        "product": r.product,
        "lot": r.lot,
        "expiry": r.expiry,
        "mg_per_ml": r.mg_per_ml,
        "volume_ml": r.volume_ml,
        "vials": r.vials,
        "total_mg": ledger.mg_of(r.volume_ml * r.vials, r.mg_per_ml),
        "supplier": r.supplier,
        "invoice": r.invoice,
        "received_at": rfc3339(r.received_at, tz),
        "received_by": r.received_by_id,
        "counted_by": r.counted_by_id,
    }


def formulation_out(f: Formulation) -> dict[str, Any]:
    return {
        "id": f.id,
        "clinic": f.clinic_id,
        "substance": f.substance,
        "schedule": f.schedule,
        "mg_per_ml": f.mg_per_ml,
        "enabled": f.enabled,
        "changed_by": f.changed_by_id,
        "changed_at": rfc3339(f.changed_at, f.clinic.time_zone),
    }


# --- Schemas ------------------------------------------------------------------------------


class CoSignIn(Schema):
    username: str = Field(max_length=150)
    password: str = Field(max_length=200)


class StrengthIn(Schema):
    substance: str = Field(max_length=16)
    mg_per_ml: Decimal


class ReceiveIn(Schema):
    clinic: UUID
    formulation: UUID | StrengthIn | None = Field(
        None, description="A formulation id, or {substance, mg_per_ml} of an enabled strength"
    )
    substance: str | None = Field(None, max_length=16)
    mg_per_ml: Decimal | None = None
    ndc: str = Field(max_length=13)
    product: str = Field(max_length=200)
    lot: str = Field(max_length=40)
    expiry: date
    volume_ml: Decimal = Field(description="Volume of one vial")
    vials: int = Field(description="Number of vials delivered")
    supplier: str = Field(max_length=200)
    invoice: str = Field(max_length=80)
    received_at: datetime | None = Field(None, description="Defaults to now")
    co_sign: CoSignIn | None = Field(None, description="The second person counting")


class DrawIn(Schema):
    vial: UUID
    ml: Decimal
    session: UUID
    patient: UUID | None = None


class WasteIn(Schema):
    vial: UUID
    ml: Decimal
    reason: str = Field(max_length=300)
    co_sign: CoSignIn | None = Field(None, description="The witness")
    draw: UUID | None = Field(None, description="Waste what this draw left in the syringe")


class ReasonIn(Schema):
    reason: str = Field(max_length=300)


class FormulationIn(Schema):
    clinic: UUID
    substance: str = Field(max_length=16)
    mg_per_ml: Decimal
    enabled: bool = True


class VialFilters(PageParams):
    clinic: UUID | None = None
    status: str | None = None
    substance: str | None = None


class FormulationFilters(PageParams):
    clinic: UUID | None = None
    substance: str | None = None
    enabled: bool | None = None


class VialOut(Schema):
    id: UUID
    label: str
    clinic: UUID
    substance: str
    schedule: str
    product: str
    formulation: UUID
    ndc: str
    lot: str
    expiry: date
    mg_per_ml: Decimal
    volume_ml: Decimal
    balance_ml: Decimal
    balance_mg: Decimal
    status: str
    opened_at: str | None
    beyond_use_at: str | None
    quarantined_at: str | None
    quarantine_reason: str
    receipt: UUID


class VialListOut(Schema):
    items: list[VialOut]
    count: int


class EntryOut(Schema):
    id: UUID
    vial: UUID
    at: str
    kind: str
    substance: str
    ml: Decimal
    mg: Decimal
    by: UUID
    by_name: str
    witness: UUID | None
    witness_name: str | None
    session: UUID | None
    patient: UUID | None
    draw: UUID | None
    reason: str
    reverses: UUID | None
    reversed_by: UUID | None
    receiving_party: str
    reference: str
    balance_ml: Decimal | None = Field(description="The vial's balance after this entry")


class VialDetailOut(VialOut):
    history: list[EntryOut]


class ReceiptOut(Schema):
    id: UUID
    clinic: UUID
    formulation: UUID
    substance: str
    schedule: str
    ndc: str
    product: str
    lot: str
    expiry: date
    mg_per_ml: Decimal
    volume_ml: Decimal
    vials: int
    total_mg: Decimal
    supplier: str
    invoice: str
    received_at: str
    received_by: UUID
    counted_by: UUID


class ReceiveOut(Schema):
    receipt: ReceiptOut
    vials: list[VialOut]


class FormulationOut(Schema):
    id: UUID
    clinic: UUID
    substance: str
    schedule: str
    mg_per_ml: Decimal
    enabled: bool
    changed_by: UUID
    changed_at: str


class FormulationListOut(Schema):
    items: list[FormulationOut]
    count: int


# --- Helpers shared with the pages ----------------------------------------------------------


def check_status(status: str | None) -> None:
    if status and status not in Vial.Status.values:
        message = MESSAGE_STATUS.format(choices=", ".join(Vial.Status.values))
        raise InvalidInput(message, errors=[FieldError("status", message)])


def check_substance(substance: str | None) -> None:
    if substance and substance not in Substance.values:
        message = MESSAGE_SUBSTANCE.format(choices=", ".join(Substance.values))
        raise InvalidInput(message, errors=[FieldError("substance", message)])


def second_person(
    request: HttpRequest,
    *,
    user: User,
    clinic: Clinic,
    co_sign: dict[str, str] | None,
    purpose: str,
) -> User:
    """The co-signer checked in this request (same authentication and lockout as login)."""
    return co_signer_verify(
        request=request,
        username=(co_sign or {}).get("username", ""),
        password=(co_sign or {}).get("password", ""),
        acting_user=user,
        clinic=clinic,
        allowed_roles=SECOND_PERSON_ROLES,
        who=SECOND_PERSON_WHO,
        purpose=purpose,
    )


def strength_for_receipt(
    *, clinic: Clinic, formulation_id: UUID | None, substance: str | None, mg_per_ml: object
) -> Formulation:
    """The strength a delivery names; one the director has not enabled at the site is
    refused by name."""
    if formulation_id is not None:
        found = Formulation.objects.filter(id=formulation_id, clinic=clinic).first()
        if found is None:
            message = "No such strength at this site; the medical director enables strengths."
            raise InvalidInput(message, errors=[FieldError("formulation", message)])
        return found
    if not substance or mg_per_ml is None:
        raise InvalidInput(
            MESSAGE_STRENGTH_ONE, errors=[FieldError("formulation", MESSAGE_STRENGTH_ONE)]
        )
    check_substance(substance)
    conc = check_concentration(mg_per_ml, "formulation")
    found = Formulation.objects.filter(clinic=clinic, substance=substance, mg_per_ml=conc).first()
    if found is None:
        raise _not_enabled(substance, conc)
    return found


def _not_enabled(substance: str, conc: Decimal) -> InvalidInput:
    message = ledger.MESSAGE_NOT_ENABLED.format(
        substance=Substance(substance).label, conc=strength(conc)
    )
    return InvalidInput(message, errors=[FieldError("formulation", message)])


def require_enabled(formulation: Formulation) -> None:
    """Refuse a strength the director has not enabled (or has disabled) before anything
    else is checked, with the strength written plainly."""
    if not formulation.enabled:
        raise _not_enabled(formulation.substance, formulation.mg_per_ml)


def check_concentration(mg_per_ml: object, field: str = "mg_per_ml") -> Decimal:
    """A concentration above 0 that the ledger can store (two decimals, up to 9999.99)."""
    try:
        conc = Decimal(str(mg_per_ml)).quantize(ledger.CENT)
    except (ArithmeticError, ValueError):
        conc = Decimal("0")
    if conc <= 0 or conc > MAX_MG_PER_ML:
        raise InvalidInput(MESSAGE_CONCENTRATION, errors=[FieldError(field, MESSAGE_CONCENTRATION)])
    return conc


def check_received_at(received_at: datetime | None, tz: str) -> datetime | None:
    if received_at is None:
        return None
    if timezone.is_naive(received_at):
        received_at = received_at.replace(tzinfo=ZoneInfo(tz))
    if received_at > timezone.now():
        raise InvalidInput(
            MESSAGE_RECEIVED_FUTURE, errors=[FieldError("received_at", MESSAGE_RECEIVED_FUTURE)]
        )
    return received_at


def check_ndc(ndc: str) -> str:
    ndc = ndc.strip()
    if ndc and not all(c.isdigit() or c == "-" for c in ndc):
        raise InvalidInput(MESSAGE_NDC, errors=[FieldError("ndc", MESSAGE_NDC)])
    return ndc


def patient_at_site(patient_id: UUID | None, clinic_id: UUID) -> Patient | None:
    if patient_id is None:
        return None
    patient = Patient.objects.filter(id=patient_id, enrolments__clinic_id=clinic_id).first()
    if patient is None:
        raise InvalidInput(
            MESSAGE_PATIENT_NOT_FOUND, errors=[FieldError("patient", MESSAGE_PATIENT_NOT_FOUND)]
        )
    return patient


def draw_of_vial(draw_id: UUID | None, vial: Vial) -> LedgerEntry | None:
    if draw_id is None:
        return None
    found = (
        LedgerEntry.objects.filter(id=draw_id, vial=vial, kind=LedgerEntry.Kind.DRAW)
        .select_related("patient", "vial")
        .first()
    )
    if found is None:
        raise InvalidInput(
            MESSAGE_DRAW_NOT_FOUND, errors=[FieldError("draw", MESSAGE_DRAW_NOT_FOUND)]
        )
    return found


# --- Endpoints ------------------------------------------------------------------------------


@router.get(
    "/vials",
    response={200: VialListOut, **ERRORS},
    summary="Vials at your sites",
    description="Filter by site, status (in_stock, open, quarantined, empty, returned, lost) "
    "and substance. Balances in mL and mg with the concentration.",
)
def vial_list(request: HttpRequest, filters: Query[VialFilters]) -> dict[str, Any]:
    user = _user(request)
    if filters.clinic is not None:
        require_ledger_site(user, filters.clinic)
        sites = {filters.clinic}
    else:
        sites = pharmacy_site_ids(user)
        if not sites:
            raise Forbidden(MESSAGE_PHARMACY_FORBIDDEN)
    check_status(filters.status)
    check_substance(filters.substance)
    page = paginate(
        vials_query(clinic_ids=sites, status=filters.status, substance=filters.substance),
        filters.page,
        filters.page_size,
    )
    return {"items": [vial_out(v) for v in page.items], "count": page.count}


@router.post(
    "/vials",
    response={201: ReceiveOut, **ERRORS},
    summary="Receive a delivery, counted by a second person",
    description="One vial per physical vial, each with a full balance. Only a strength the "
    "medical director enabled at the site can be received. `co_sign` is the second person "
    "counting (another nurse or prescriber with a current licence).",
)
def vial_receive(request: HttpRequest, payload: ReceiveIn) -> Status[dict[str, Any]]:
    user = _user(request)
    require_ledger_site(user, payload.clinic, handle=True)
    clinic = Clinic.objects.get(id=payload.clinic)
    named = payload.formulation
    if isinstance(named, StrengthIn):
        if payload.substance or payload.mg_per_ml is not None:
            raise InvalidInput(
                MESSAGE_STRENGTH_ONE, errors=[FieldError("formulation", MESSAGE_STRENGTH_ONE)]
            )
        formulation = strength_for_receipt(
            clinic=clinic,
            formulation_id=None,
            substance=named.substance,
            mg_per_ml=named.mg_per_ml,
        )
    else:
        if named is not None and (payload.substance or payload.mg_per_ml is not None):
            raise InvalidInput(
                MESSAGE_STRENGTH_ONE, errors=[FieldError("formulation", MESSAGE_STRENGTH_ONE)]
            )
        formulation = strength_for_receipt(
            clinic=clinic,
            formulation_id=named,
            substance=payload.substance,
            mg_per_ml=payload.mg_per_ml,
        )
    require_enabled(formulation)
    ndc = check_ndc(payload.ndc)
    received_at = check_received_at(payload.received_at, clinic.time_zone)
    counted_by = second_person(
        request,
        user=user,
        clinic=clinic,
        co_sign=payload.co_sign.dict() if payload.co_sign else None,
        purpose="controlled_substance_receipt",
    )
    receipt = ledger.receive(
        user=user,
        counted_by=counted_by,
        clinic=clinic,
        delivery=ledger.Delivery(
            formulation=formulation,
            ndc=ndc,
            product=payload.product,
            lot=payload.lot,
            expiry=payload.expiry,
            volume_ml=payload.volume_ml,
            vials=payload.vials,
            supplier=payload.supplier,
            invoice=payload.invoice,
            received_at=received_at,
        ),
    )
    receipt = Receipt.objects.select_related("clinic", "formulation").get(pk=receipt.pk)
    vials = vials_query(clinic_ids={clinic.id}).filter(receipt=receipt)
    return Status(201, {"receipt": receipt_out(receipt), "vials": [vial_out(v) for v in vials]})


@router.get(
    "/vials/{vial_id}",
    response={200: VialDetailOut, **ERRORS},
    summary="A vial with its history",
    description="Every ledger entry of the vial in order with the running balance in mL "
    "(`balance_ml`). Reading it is audited: draws name the patient.",
)
def vial_detail(request: HttpRequest, vial_id: UUID) -> dict[str, Any]:
    user = _user(request)
    vial = vial_for_user(user, vial_id)
    entries = vial_entries(vial)
    audit_history_read(user, vial, entries, "api")
    tz = vial.clinic.time_zone
    return {
        **vial_out(vial),
        "history": [
            entry_out(h.entry, tz, balance_ml=h.balance_ml, reversed_by=h.reversed_by)
            for h in vial_history(vial, entries)
        ],
    }


@router.post(
    "/vials/{vial_id}/quarantine",
    response={200: VialOut, **ERRORS},
    summary="Set a vial aside with a reason",
    description="A quarantined vial keeps its balance and stays in inventories, but cannot "
    "be drawn; it leaves only by return or disposal.",
)
def vial_quarantine(request: HttpRequest, vial_id: UUID, payload: ReasonIn) -> dict[str, Any]:
    user = _user(request)
    vial = vial_for_user(user, vial_id, handle=True)
    ledger.quarantine(user=user, vial=vial, reason=payload.reason)
    return vial_out(vials_query(clinic_ids={vial.clinic_id}).get(pk=vial.pk))


@router.post(
    "/draws",
    response={201: EntryOut, **ERRORS},
    summary="Draw from a vial for a session",
    description="An expired or past-use vial is refused (409, code `vial_unusable`) and moved "
    "to quarantine. Opening a sealed vial starts its beyond-use date.",
)
def draw_create(request: HttpRequest, payload: DrawIn) -> Status[dict[str, Any]]:
    user = _user(request)
    vial = vial_for_user(user, payload.vial, handle=True)
    patient = patient_at_site(payload.patient, vial.clinic_id)
    entry = ledger.draw(
        user=user, vial=vial, ml=payload.ml, session_id=payload.session, patient=patient
    )
    return Status(201, _posted_out(entry))


@router.post(
    "/waste",
    response={201: EntryOut, **ERRORS},
    summary="Waste, witnessed at the time",
    description="From the vial (a residue) or, with `draw`, what a draw left in the syringe. "
    "`co_sign` is the witness: another licensed nurse or prescriber at the site, never the "
    "person wasting.",
)
def waste_create(request: HttpRequest, payload: WasteIn) -> Status[dict[str, Any]]:
    user = _user(request)
    vial = vial_for_user(user, payload.vial, handle=True)
    draw_entry = draw_of_vial(payload.draw, vial)
    witness = second_person(
        request,
        user=user,
        clinic=vial.clinic,
        co_sign=payload.co_sign.dict() if payload.co_sign else None,
        purpose="controlled_substance_waste",
    )
    entry = ledger.waste(
        user=user,
        witness=witness,
        vial=vial,
        ml=payload.ml,
        reason=payload.reason,
        draw_entry=draw_entry,
    )
    return Status(201, _posted_out(entry))


@router.post(
    "/entries/{entry_id}/reverse",
    response={201: EntryOut, **ERRORS},
    summary="Correct an entry with a reversing entry and a reason",
    description="The original stays; a reversal cannot itself be reversed.",
)
def entry_reverse(
    request: HttpRequest, entry_id: UUID, payload: ReasonIn
) -> Status[dict[str, Any]]:
    user = _user(request)
    entry = entry_for_user(user, entry_id, handle=True)
    reversal = ledger.reverse(user=user, entry=entry, reason=payload.reason)
    return Status(201, _posted_out(reversal))


@router.get(
    "/formulations",
    response={200: FormulationListOut, **ERRORS},
    summary="Strengths at your sites, enabled or not",
)
def formulation_list(request: HttpRequest, filters: Query[FormulationFilters]) -> dict[str, Any]:
    user = _user(request)
    if filters.clinic is not None:
        require_ledger_site(user, filters.clinic)
        sites = {filters.clinic}
    else:
        sites = pharmacy_site_ids(user)
        if not sites:
            raise Forbidden(MESSAGE_PHARMACY_FORBIDDEN)
    check_substance(filters.substance)
    qs = Formulation.objects.filter(clinic_id__in=sites).select_related("clinic")
    if filters.substance:
        qs = qs.filter(substance=filters.substance)
    if filters.enabled is not None:
        qs = qs.filter(enabled=filters.enabled)
    page = paginate(
        qs.order_by("clinic__name", "substance", "mg_per_ml"), filters.page, filters.page_size
    )
    return {"items": [formulation_out(f) for f in page.items], "count": page.count}


@router.post(
    "/formulations",
    response={200: FormulationOut, 201: FormulationOut, **ERRORS},
    summary="Enable or disable a strength (medical director)",
    description="201 when the strength is new at the site, 200 when it changes.",
)
def formulation_set(request: HttpRequest, payload: FormulationIn) -> Status[dict[str, Any]]:
    user = _user(request)
    require_ledger_site(user, payload.clinic)
    clinic = Clinic.objects.get(id=payload.clinic)
    check_substance(payload.substance)
    conc = check_concentration(payload.mg_per_ml)
    existed = Formulation.objects.filter(
        clinic=clinic, substance=payload.substance, mg_per_ml=conc
    ).exists()
    formulation = ledger.formulation_set(
        user=user,
        clinic=clinic,
        substance=payload.substance,
        mg_per_ml=conc,
        enabled=payload.enabled,
    )
    formulation = Formulation.objects.select_related("clinic").get(pk=formulation.pk)
    return Status(200 if existed else 201, formulation_out(formulation))
