"""/api/v1/patients: list and search, register, read, change; consents per patient."""

from typing import Any
from uuid import UUID

from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinics_where
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, InvalidInput
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.patients import selectors, services
from ketapath.patients.models import Enrolment
from ketapath.patients.schemas import (
    AllergyIn,
    AllergyListOut,
    ConsentIn,
    ConsentListOut,
    ConsentOut,
    PatientIn,
    PatientOut,
    PatientPatch,
    allergy_out,
    consent_out,
    patient_out,
)

router = Router()

MESSAGE_CLINIC_REQUIRED = "Name the registering site: you work at more than one."
MESSAGE_CLINIC_UNKNOWN = "Not one of the sites where you may register patients."
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class PatientListOut(Schema):
    items: list[PatientOut]
    count: int


class PatientFilters(PageParams):
    q: str = ""
    clinic: UUID | None = None


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _with_enrolments(patient_ids: list[UUID]) -> dict[UUID, Any]:
    from ketapath.patients.models import Patient

    patients = Patient.objects.filter(id__in=patient_ids).select_related("preferred_clinic")
    patients = patients.prefetch_related(
        Prefetch("enrolments", queryset=Enrolment.objects.select_related("clinic"))
    )
    return {p.id: p for p in patients}


def _clinic_for_write(user: User, clinic_id: UUID | None, field: str = "clinic") -> Clinic:
    allowed = clinics_where(user, Capability.PATIENT_WRITE)
    if clinic_id is None:
        if len(allowed) != 1:
            raise InvalidInput(
                MESSAGE_CLINIC_REQUIRED, errors=[FieldError(field, MESSAGE_CLINIC_REQUIRED)]
            )
        clinic_id = next(iter(allowed))
    if clinic_id not in allowed:
        raise InvalidInput(
            MESSAGE_CLINIC_UNKNOWN, errors=[FieldError(field, MESSAGE_CLINIC_UNKNOWN)]
        )
    return Clinic.objects.select_related("organization").get(id=clinic_id)


def _service_data(payload: PatientPatch, user: User) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True, exclude={"confirm_not_duplicate", "clinic"})
    if "preferred_clinic" in data:
        if data["preferred_clinic"] not in clinics_where(user, Capability.PATIENT_READ):
            raise InvalidInput(
                MESSAGE_CLINIC_UNKNOWN,
                errors=[FieldError("preferred_clinic", MESSAGE_CLINIC_UNKNOWN)],
            )
        data["preferred_clinic"] = Clinic.objects.get(id=data["preferred_clinic"])
    for key, value in list(data.items()):
        if value is None:
            data[key] = ""  # JSON null clears an optional text field
    return data


@router.get("", response={200: PatientListOut, **ERRORS})
def patient_list(request: HttpRequest, filters: Query[PatientFilters]) -> dict[str, Any]:
    user = _user(request)
    page = paginate(
        selectors.patient_list(user=user, q=filters.q, clinic_id=filters.clinic),
        filters.page,
        filters.page_size,
    )
    full = _with_enrolments([p.id for p in page.items])
    today = timezone.localdate()
    audit(
        user=user,
        action=Action.SEARCH,
        object_type="patient",
        detail={
            "q": filters.q,
            "clinic": str(filters.clinic or ""),
            "page": filters.page,
            "patients": [str(p.id) for p in page.items],
            "via": "api",
        },
    )
    return {"items": [patient_out(full[p.id], today) for p in page.items], "count": page.count}


@router.post("", response={201: PatientOut, **ERRORS})
def patient_create(request: HttpRequest, payload: PatientIn) -> Status[dict[str, Any]]:
    user = _user(request)
    clinic = _clinic_for_write(user, payload.clinic or payload.preferred_clinic)
    patient = services.patient_create(
        user=user,
        clinic=clinic,
        data=_service_data(payload, user),
        confirm_not_duplicate=payload.confirm_not_duplicate,
    )
    return Status(
        201, patient_out(_with_enrolments([patient.id])[patient.id], timezone.localdate())
    )


@router.get("/{patient_id}", response={200: PatientOut, **ERRORS})
def patient_get(request: HttpRequest, patient_id: UUID) -> dict[str, Any]:
    patient = selectors.patient_get_for_user(
        user=_user(request), patient_id=patient_id, audit_read=True
    )
    return patient_out(_with_enrolments([patient.id])[patient.id], timezone.localdate())


@router.patch("/{patient_id}", response={200: PatientOut, **ERRORS})
def patient_update(request: HttpRequest, patient_id: UUID, payload: PatientPatch) -> dict[str, Any]:
    user = _user(request)
    patient = selectors.patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.PATIENT_WRITE
    )
    services.patient_update(
        user=user,
        patient=patient,
        data=_service_data(payload, user),
        confirm_not_duplicate=payload.confirm_not_duplicate,
    )
    return patient_out(_with_enrolments([patient.id])[patient.id], timezone.localdate())


@router.get("/{patient_id}/consents", response={200: ConsentListOut, **ERRORS})
def consent_list(
    request: HttpRequest, patient_id: UUID, filters: Query[PageParams]
) -> dict[str, Any]:
    user = _user(request)
    patient = selectors.patient_get_for_user(user=user, patient_id=patient_id)
    tz = patient.preferred_clinic.time_zone
    page = paginate(selectors.patient_consents(patient=patient), filters.page, filters.page_size)
    statuses = selectors.patient_consent_statuses(patient=patient)
    audit(
        user=user,
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="consent",
        detail={"via": "api"},
    )
    return {
        "items": [consent_out(c, tz) for c in page.items],
        "count": page.count,
        "status": [
            {
                "kind": s.kind,
                "state": s.state,
                "consent": s.consent.id if s.consent else None,
                "current_version": s.current_document.version if s.current_document else None,
            }
            for s in statuses
        ],
    }


@router.post("/{patient_id}/consents", response={201: ConsentOut, **ERRORS})
def consent_create(
    request: HttpRequest, patient_id: UUID, payload: ConsentIn
) -> Status[dict[str, Any]]:
    user = _user(request)
    patient = selectors.patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.PATIENT_WRITE
    )
    clinic = selectors.patient_site_for_api(patient=patient, requested=payload.clinic)
    consent = services.consent_record(
        user=user,
        patient=patient,
        clinic=clinic,
        kind=payload.kind,
        signed_by_name=payload.signed_by_name,
        signer_relation=payload.signer_relation,
        signed_at=payload.signed_at,
    )
    consent = selectors.patient_consents(patient=patient).get(id=consent.id)
    return Status(201, consent_out(consent, patient.preferred_clinic.time_zone))


MESSAGE_ALLERGY_FIELDS = "Send substance and severity, or none_known: true."


def _allergy_list(patient: Any) -> dict[str, Any]:
    summary = selectors.patient_allergies(patient=patient, include_removed=True)
    tz = patient.preferred_clinic.time_zone
    return {
        "status": summary.status,
        "none_known_at": rfc3339(patient.no_known_allergies_at, tz),
        "items": [allergy_out(a, tz) for a in summary.allergies],
        "count": len(summary.allergies),
    }


@router.get("/{patient_id}/allergies", response={200: AllergyListOut, **ERRORS})
def allergy_list(request: HttpRequest, patient_id: UUID) -> dict[str, Any]:
    user = _user(request)
    patient = selectors.patient_get_for_user(user=user, patient_id=patient_id)
    audit(
        user=user,
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="allergy",
        detail={"via": "api"},
    )
    return _allergy_list(patient)


@router.post("/{patient_id}/allergies", response={201: AllergyListOut, **ERRORS})
def allergy_create(
    request: HttpRequest, patient_id: UUID, payload: AllergyIn
) -> Status[dict[str, Any]]:
    user = _user(request)
    patient = selectors.patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.PATIENT_WRITE
    )
    if payload.none_known:
        if payload.substance or payload.severity:
            raise InvalidInput(
                MESSAGE_ALLERGY_FIELDS, errors=[FieldError("none_known", MESSAGE_ALLERGY_FIELDS)]
            )
        services.allergy_none_known(user=user, patient=patient)
    else:
        missing = [f for f in ("substance", "severity") if not getattr(payload, f)]
        if missing:
            raise InvalidInput(
                MESSAGE_ALLERGY_FIELDS,
                errors=[FieldError(f, MESSAGE_ALLERGY_FIELDS) for f in missing],
            )
        services.allergy_add(
            user=user,
            patient=patient,
            substance=payload.substance or "",
            reaction=payload.reaction,
            severity=payload.severity or "",
        )
    return Status(201, _allergy_list(patient))
