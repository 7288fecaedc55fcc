"""Medications API: the stateless MME calculator, and per patient the medication list, its
MME with history, and PDMP checks (all mounted at /api/v1/).

Factors and flags follow ``reference/clinical.md`` §3.1 and §3.2 (see ``rules`` and
``catalogue``). MME informs; it never decides eligibility. Reads need PATIENT_READ; writes
the clinical roles that draft evaluations (director, prescriber, nurse).
"""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Status

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import NotFound
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import local_today, rfc3339
from ketapath.medications import selectors, services
from ketapath.medications.catalogue import opioid_lookup
from ketapath.medications.models import Medication, MmeSnapshot, PdmpCheck
from ketapath.medications.rules import MedicationDose, MmeResult, calculate
from ketapath.medications.schemas import (
    MedicationIn,
    MedicationListOut,
    MedicationOut,
    MedicationPatch,
    MmeCalculateIn,
    MmeOut,
    MmeResultOut,
    PdmpCheckIn,
    PdmpCheckListOut,
    PdmpCheckOut,
)
from ketapath.patients.models import Patient
from ketapath.patients.selectors import (
    patient_get_for_user,
    patient_site_for_page,
)

router = Router()

MESSAGE_MEDICATION_NOT_FOUND = "No such medication for this patient."
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


@router.post(
    "/mme/calculate",
    response={200: MmeResultOut, 401: ErrorOut, 422: ErrorOut},
    summary="Daily MME of a list of opioids",
)
def mme_calculate(request: HttpRequest, payload: MmeCalculateIn) -> MmeResult:
    medications = [
        MedicationDose(
            entry=opioid_lookup(med.drug, field=f"medications.{index}.drug"),
            dose_mg=med.dose_mg,
            dose_mcg=med.dose_mcg,
            dose_mcg_per_hr=med.dose_mcg_per_hr,
            doses_per_day=med.doses_per_day,
        )
        for index, med in enumerate(payload.medications)
    ]
    return calculate(medications)


class MedicationFilters(PageParams):
    include_stopped: bool = False


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _reader(request: HttpRequest, patient_id: UUID) -> Patient:
    return patient_get_for_user(user=_user(request), patient_id=patient_id)


def _writer(request: HttpRequest, patient_id: UUID) -> tuple[Patient, Clinic]:
    patient = patient_get_for_user(
        user=_user(request), patient_id=patient_id, capability=Capability.EVALUATION_DRAFT
    )
    return patient, patient_site_for_page(patient=patient, current=None)


def _audit_read(request: HttpRequest, patient: Patient, object_type: str) -> None:
    audit(
        user=_user(request),
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type=object_type,
        detail={"via": "api"},
    )


def _medication_out(med: Medication, patient: Patient) -> dict[str, Any]:
    tz = patient.preferred_clinic.time_zone
    item = selectors.medication_daily_mme(med)
    return {
        "id": med.id,
        "drug_name": med.drug_name,
        "ingredient": med.ingredient,
        "rxnorm_ingredient": med.rxnorm_ingredient,
        "dose_form": med.dose_form,
        "strength": med.strength,
        "dose_mg": med.dose_mg,
        "dose_mcg": med.dose_mcg,
        "dose_mcg_per_hr": med.dose_mcg_per_hr,
        "doses_per_day": med.doses_per_day,
        "prn": med.prn,
        "route": med.route,
        "start_date": med.start_date,
        "stop_date": med.stop_date,
        "stop_reason": med.stop_reason,
        "prescriber": med.prescriber,
        "opioid_key": med.opioid_key,
        "active": selectors.is_active(med, local_today(tz)),
        "daily_mme": item.mme if item else None,
        "factor": item.factor if item else None,
        "factor_source": item.factor_source if item else None,
        "recorded_by": med.recorded_by_id,
        "created_at": rfc3339(med.created_at, tz),
    }


def _pdmp_out(check: PdmpCheck, tz: str) -> dict[str, Any]:
    return {
        "id": check.id,
        "checked_at": rfc3339(check.checked_at, tz),
        "checked_by": check.checked_by_id,
        "checked_by_name": check.checked_by.display_name,
        "state": check.state,
        "result": check.result,
        "note": check.note,
    }


def _history_out(snapshot: MmeSnapshot, tz: str) -> dict[str, Any]:
    return {
        "computed_at": rfc3339(snapshot.computed_at, tz),
        "total_mme": snapshot.total_mme,
        "trigger": snapshot.trigger,
        "factor_set": snapshot.factor_set,
    }


@router.get(
    "/patients/{patient_id}/medications",
    response={200: MedicationListOut, **ERRORS},
    summary="The patient's medications (active only unless include_stopped=true)",
)
def medication_list(
    request: HttpRequest, patient_id: UUID, filters: Query[MedicationFilters]
) -> dict[str, Any]:
    patient = _reader(request, patient_id)
    page = paginate(
        selectors.medications_for_patient(patient=patient, include_stopped=filters.include_stopped),
        filters.page,
        filters.page_size,
    )
    _audit_read(request, patient, "medication")
    return {"items": [_medication_out(m, patient) for m in page.items], "count": page.count}


@router.post(
    "/patients/{patient_id}/medications",
    response={201: MedicationOut, **ERRORS},
    summary="Add a medication; writes an MME snapshot",
)
def medication_create(
    request: HttpRequest, patient_id: UUID, payload: MedicationIn
) -> Status[dict[str, Any]]:
    patient, clinic = _writer(request, patient_id)
    data = {k: v for k, v in payload.dict().items() if v is not None}
    med = services.medication_add(user=_user(request), patient=patient, clinic=clinic, data=data)
    return Status(201, _medication_out(med, patient))


@router.patch(
    "/patients/{patient_id}/medications/{medication_id}",
    response={200: MedicationOut, **ERRORS},
    summary="Edit or stop a medication (a stop_date stops it); writes an MME snapshot",
)
def medication_update(
    request: HttpRequest, patient_id: UUID, medication_id: UUID, payload: MedicationPatch
) -> dict[str, Any]:
    patient, clinic = _writer(request, patient_id)
    med = selectors.medication_for_patient(patient=patient, medication_id=medication_id)
    if med is None:
        raise NotFound(MESSAGE_MEDICATION_NOT_FOUND)
    services.medication_update(
        user=_user(request), medication=med, clinic=clinic, data=payload.dict(exclude_unset=True)
    )
    return _medication_out(med, patient)


@router.get(
    "/patients/{patient_id}/mme",
    response={200: MmeOut, **ERRORS},
    summary="Current daily MME with flags, and the newest 100 snapshots",
)
def mme_current(request: HttpRequest, patient_id: UUID) -> dict[str, Any]:
    patient = _reader(request, patient_id)
    summary = selectors.current_medications_summary(patient)
    history = selectors.mme_history(patient=patient)
    _audit_read(request, patient, "mme")
    tz = patient.preferred_clinic.time_zone
    return {
        "total_mme": summary.total_mme,
        "flags": list(summary.flags),
        "naloxone_prompt": summary.naloxone_prompt,
        "caution_at": summary.caution_at,
        "high_at": summary.high_at,
        "factor_set": summary.factor_set,
        "items": [
            {
                "medication": row.medication.id,
                "drug": row.mme.drug,
                "mme": row.mme.mme,
                "factor": row.mme.factor,
                "factor_source": row.mme.factor_source,
            }
            for row in summary.rows
            if row.mme is not None
        ],
        "excluded": [
            {
                "medication": row.medication.id,
                "drug": row.excluded.drug,
                "reason": row.excluded.reason,
            }
            for row in summary.rows
            if row.excluded is not None
        ],
        "history": [_history_out(s, tz) for s in history],
    }


@router.get(
    "/patients/{patient_id}/pdmp-checks",
    response={200: PdmpCheckListOut, **ERRORS},
    summary="PDMP checks, newest first",
)
def pdmp_check_list(
    request: HttpRequest, patient_id: UUID, filters: Query[PageParams]
) -> dict[str, Any]:
    patient = _reader(request, patient_id)
    page = paginate(
        selectors.pdmp_checks_for_patient(patient=patient), filters.page, filters.page_size
    )
    _audit_read(request, patient, "pdmp_check")
    tz = patient.preferred_clinic.time_zone
    return {"items": [_pdmp_out(c, tz) for c in page.items], "count": page.count}


@router.post(
    "/patients/{patient_id}/pdmp-checks",
    response={201: PdmpCheckOut, **ERRORS},
    summary="Record a PDMP check",
)
def pdmp_check_create(
    request: HttpRequest, patient_id: UUID, payload: PdmpCheckIn
) -> Status[dict[str, Any]]:
    patient, clinic = _writer(request, patient_id)
    check = services.pdmp_check_record(
        user=_user(request),
        patient=patient,
        clinic=clinic,
        state=payload.state,
        result=payload.result,
        note=payload.note,
        checked_at=payload.checked_at,
    )
    return Status(201, _pdmp_out(check, patient.preferred_clinic.time_zone))
