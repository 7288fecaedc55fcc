"""Report endpoints of the ledger (mounted at /api/v1/pharmacy): the reconciliation of a
period and a patient's dispensing log.

Order of checks (DESIGN §5a): not logged in → 401; a site or patient outside the user's
sites → 404; a role without the report → 403; then bad input → 422. The reconciliation is
the medical director's (LEDGER_RECONCILE); the dispensing log is for those who handle or
reconcile the ledger at the patient's site. Amounts are JSON numbers in mg (and mL where
a vial's contents are given); dates are the site's local dates, inclusive.
"""

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.errors import FieldError, InvalidInput
from ketapath.core.timeutils import rfc3339
from ketapath.patients.selectors import patient_get_for_user
from ketapath.pharmacy import selectors
from ketapath.pharmacy.models import Substance

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}

MESSAGE_DATE_REQUIRED = "Give the date as YYYY-MM-DD (the site's local date, included)."
MESSAGE_DATE_INVALID = "Not a date: give it as YYYY-MM-DD."
MESSAGE_DATE_ORDER = "date_to must be on or after date_from."
MESSAGE_SUBSTANCE = "Choose a substance from: {choices}."
MESSAGE_CLINIC = "Give the site as its id (a UUID)."
MESSAGE_INVALID = "The period could not be read; see errors for each field."


class ReconciliationFilters(Schema):
    clinic: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    substance: str | None = None


class CountOut(Schema):
    id: UUID
    kind: str
    counted_at: str
    counted_by: UUID
    witness: UUID


class VialLineOut(Schema):
    vial: UUID
    label: str
    lot: str
    ndc: str
    expiry: date
    mg_per_ml: Decimal
    status: str
    opening_mg: Decimal
    received_mg: Decimal
    drawn_mg: Decimal
    wasted_mg: Decimal
    lost_mg: Decimal
    returned_mg: Decimal
    closing_mg: Decimal
    closing_ml: Decimal
    counted_ml: Decimal | None
    counted_mg: Decimal | None


class ReconciliationOut(Schema):
    clinic: UUID
    dea_registration: str
    substance: str
    date_from: date
    date_to: date
    time_zone: str
    opening_mg: Decimal
    received_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    lost_mg: Decimal
    returned_mg: Decimal
    expected_closing_mg: Decimal
    counted_closing_mg: Decimal | None
    discrepancy_mg: Decimal | None
    status: str
    drawn_mg: Decimal
    drawn_not_accounted_mg: Decimal
    wasted_from_draws_mg: Decimal
    wasted_from_vials_mg: Decimal
    ledger_closing_mg: Decimal
    count: CountOut | None
    moved_after_count: int
    vials: list[VialLineOut]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _date(raw: str | None, field: str, errors: list[FieldError]) -> date | None:
    if not raw:
        errors.append(FieldError(field, MESSAGE_DATE_REQUIRED))
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError(field, MESSAGE_DATE_INVALID))
        return None


def _clinic_id(raw: str | None) -> UUID | None:
    if not raw:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidInput(MESSAGE_CLINIC, errors=[FieldError("clinic", MESSAGE_CLINIC)]) from None


def reconciliation_out(r: selectors.Reconciliation) -> dict[str, Any]:
    tz = r.clinic.time_zone
    c = r.count
    return {
        "clinic": r.clinic.id,
        "dea_registration": r.clinic.dea_registration,
        "substance": r.substance,
        "date_from": r.date_from,
        "date_to": r.date_to,
        "time_zone": tz,
        "opening_mg": r.opening_mg,
        "received_mg": r.received_mg,
        "administered_mg": r.administered_mg,
        "wasted_mg": r.wasted_mg,
        "lost_mg": r.lost_mg,
        "returned_mg": r.returned_mg,
        "expected_closing_mg": r.expected_closing_mg,
        "counted_closing_mg": r.counted_closing_mg,
        "discrepancy_mg": r.discrepancy_mg,
        "status": r.status,
        "drawn_mg": r.drawn_mg,
        "drawn_not_accounted_mg": r.drawn_not_accounted_mg,
        "wasted_from_draws_mg": r.wasted_from_draws_mg,
        "wasted_from_vials_mg": r.wasted_from_vials_mg,
        "ledger_closing_mg": r.ledger_closing_mg,
        "count": None
        if c is None
        else {
            "id": c.id,
            "kind": c.kind,
            "counted_at": rfc3339(c.counted_at, tz),
            "counted_by": c.counted_by_id,
            "witness": c.witness_id,
        },
        "moved_after_count": r.moved_after_count,
        "vials": [
            {
                "vial": v.vial_id,
                "label": v.label,
                "lot": v.lot,
                "ndc": v.ndc,
                "expiry": v.expiry,
                "mg_per_ml": v.mg_per_ml,
                "status": v.status,
                "opening_mg": v.opening_mg,
                "received_mg": v.received_mg,
                "drawn_mg": v.drawn_mg,
                "wasted_mg": v.wasted_mg,
                "lost_mg": v.lost_mg,
                "returned_mg": v.returned_mg,
                "closing_mg": v.closing_mg,
                "closing_ml": v.closing_ml,
                "counted_ml": v.counted_ml,
                "counted_mg": v.counted_mg,
            }
            for v in r.vials
        ],
    }


@router.get(
    "/reconciliation",
    response={200: ReconciliationOut, **ERRORS},
    summary="Reconciliation of a period (medical director)",
    description=(
        "One substance (default ketamine) at one site over the site's local dates date_from "
        "to date_to, inclusive. expected_closing_mg = opening_mg + received_mg - "
        "administered_mg - wasted_mg - lost_mg - returned_mg; discrepancy_mg = "
        "expected_closing_mg - counted_closing_mg (positive: less counted than expected). "
        "counted_closing_mg is the last count in the period that covered every vial holding "
        "the substance, null without one (discrepancy_mg too). drawn_not_accounted_mg: drawn "
        "in the period and not yet recorded as administered or wasted. Administration and "
        "waste of a draw count in the period of the draw, a reversal in the period of the "
        "entry it corrects. Records are kept at least two years (21 CFR 1304.04(a))."
    ),
)
def reconciliation(request: HttpRequest, filters: Query[ReconciliationFilters]) -> dict[str, Any]:
    user = _user(request)
    clinic = selectors.clinic_for_reconciliation(user=user, clinic_id=_clinic_id(filters.clinic))
    errors: list[FieldError] = []
    date_from = _date(filters.date_from, "date_from", errors)
    date_to = _date(filters.date_to, "date_to", errors)
    substance = filters.substance or Substance.KETAMINE
    if substance not in Substance.values:
        message = MESSAGE_SUBSTANCE.format(choices=", ".join(Substance.values))
        errors.append(FieldError("substance", message))
    if date_from and date_to and date_to < date_from:
        errors.append(FieldError("date_to", MESSAGE_DATE_ORDER))
    if errors or date_from is None or date_to is None:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    report = selectors.reconciliation(
        clinic=clinic, substance=substance, date_from=date_from, date_to=date_to
    )
    audit(
        user=user,
        action=Action.READ,
        clinic_id=clinic.id,
        object_type="reconciliation",
        detail={
            "source": "api",
            "substance": substance,
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
        },
    )
    return reconciliation_out(report)


class PersonOut(Schema):
    id: UUID
    name: str


class DispensingVialOut(Schema):
    id: UUID
    label: str
    lot: str
    ndc: str
    mg_per_ml: Decimal


class DispensingLineOut(Schema):
    id: UUID
    at: str
    clinic: UUID
    session: UUID | None
    vial: DispensingVialOut
    drawn_ml: Decimal
    drawn_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    unaccounted_mg: Decimal
    status: str
    by: PersonOut
    administered_by: list[PersonOut]
    wasted_by: list[PersonOut]
    witnesses: list[PersonOut]


class DispensingLogOut(Schema):
    items: list[DispensingLineOut]
    count: int


def _person(u: User) -> dict[str, Any]:
    return {"id": u.id, "name": u.display_name}


def dispensing_line_out(line: selectors.DispensingLine) -> dict[str, Any]:
    d = line.draw
    return {
        "id": d.id,
        "at": rfc3339(d.at, d.clinic.time_zone),
        "clinic": d.clinic_id,
        "session": d.session_id,
        "vial": {
            "id": d.vial.id,
            "label": d.vial.label,
            "lot": d.vial.lot,
            "ndc": d.vial.ndc,
            "mg_per_ml": d.vial.mg_per_ml,
        },
        "drawn_ml": -d.ml,
        "drawn_mg": line.account.drawn_mg,
        "administered_mg": line.account.administered_mg,
        "wasted_mg": line.account.wasted_mg,
        "unaccounted_mg": line.account.unaccounted_mg,
        "status": line.status,
        "by": _person(d.by),
        "administered_by": [_person(u) for u in line.administered_by],
        "wasted_by": [_person(u) for u in line.wasted_by],
        "witnesses": [_person(u) for u in line.witnesses],
    }


@router.get(
    "/patients/{patient_id}/dispensing-log",
    response={200: DispensingLogOut, **ERRORS},
    summary="A patient's dispensing log",
    description=(
        "The draws of controlled substances for this patient at the sites where you handle "
        "or reconcile the ledger, newest first, each with what was administered and wasted "
        "(net of reversals) and what is unaccounted. status: accounted, open or reversed."
    ),
)
def dispensing_log(
    request: HttpRequest, patient_id: UUID, params: Query[PageParams]
) -> dict[str, Any]:
    user = _user(request)
    patient = patient_get_for_user(user=user, patient_id=patient_id)
    sites = selectors.dispensing_log_sites(user=user, patient=patient)
    page = selectors.dispensing_log(
        patient=patient, clinic_ids=sites, page=params.page, page_size=params.page_size
    )
    audit(
        user=user,
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id
        if patient.preferred_clinic_id in sites
        else next(iter(sorted(sites))),
        object_type="dispensing_log",
        object_id=patient.id,
        detail={"source": "api", "page": page.number, "shown": len(page.items)},
    )
    return {"items": [dispensing_line_out(line) for line in page.items], "count": page.count}
