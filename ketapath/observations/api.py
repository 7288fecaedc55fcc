"""/api/v1: a patient's observations, and the safety alerts of the user's sites.

POST /patients/{patient_id}/observations takes measurements taken together::

    {"taken_at": "2026-11-25T09:30", "context_kind": "clinic_visit",
     "measurements": [{"code": "8480-6", "value": 128}, {"code": "8462-4", "value": 82}]}

Codes are LOINC (``rules.VITAL_KINDS``); units are fixed per code. Recording vitals does
not raise safety alerts in this slice.
"""

from datetime import date
from uuid import UUID
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import MESSAGE_INVALID, FieldError, Forbidden, InvalidInput
from ketapath.core.pagination import paginate
from ketapath.observations import rules, selectors, services
from ketapath.observations.models import SafetyAlert
from ketapath.observations.schemas import (
    AlertClearIn,
    AlertListOut,
    AlertOut,
    ObservationListOut,
    ObservationsIn,
    alert_out,
    observation_out,
)
from ketapath.patients.models import Patient
from ketapath.patients.selectors import (
    patient_get_for_user,
    patient_site_for_api,
    patient_site_for_page,
)

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MESSAGE_ALERT_LIST_ROLE = "Your role does not allow seeing safety alerts."


class ObservationFilters(PageParams):
    date_from: date | None = None
    date_to: date | None = None
    code: str = ""


class AlertFilters(PageParams):
    clinic: UUID | None = None
    status: str = ""


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _display_zone(patient: Patient) -> str:
    """Dates filter and show in the patient's preferred site's zone (else a site of theirs)."""
    return patient_site_for_page(patient=patient, current=None).time_zone


@router.get("/patients/{patient_id}/observations", response={200: ObservationListOut, **ERRORS})
def observation_list(
    request: HttpRequest, patient_id: UUID, filters: Query[ObservationFilters]
) -> dict[str, object]:
    user = _user(request)
    patient = patient_get_for_user(user=user, patient_id=patient_id, audit_read=True)
    tz = _display_zone(patient)
    qs = selectors.observations_for_patient(
        patient=patient,
        time_zone=tz,
        date_from=filters.date_from,
        date_to=filters.date_to,
        code=filters.code,
    )
    page = paginate(qs, filters.page, filters.page_size)
    return {"items": [observation_out(o) for o in page.items], "count": page.count}


@router.post("/patients/{patient_id}/observations", response={201: ObservationListOut, **ERRORS})
def observation_create(
    request: HttpRequest, patient_id: UUID, payload: ObservationsIn
) -> Status[dict[str, object]]:
    user = _user(request)
    patient = patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.PATIENT_WRITE
    )
    clinic = patient_site_for_api(patient=patient, requested=payload.clinic)
    measurements: dict[str, object] = {}
    errors: list[FieldError] = []
    for index, m in enumerate(payload.measurements):
        kind = rules.KINDS_BY_CODE.get(m.code)
        if kind is None:
            errors.append(FieldError(f"measurements.{index}.code", rules.MESSAGE_UNKNOWN_CODE))
        elif kind.key in measurements:
            errors.append(FieldError(f"measurements.{index}.code", rules.MESSAGE_DUPLICATE_CODE))
        else:
            measurements[kind.key] = m.value
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    taken_at = payload.taken_at
    if taken_at.tzinfo is None:
        taken_at = taken_at.replace(tzinfo=ZoneInfo(clinic.time_zone))
    try:
        created = services.observations_record(
            user=user,
            patient=patient,
            clinic=clinic,
            taken_at=taken_at,
            measurements=measurements,
            context_kind=payload.context_kind,
            context_id=payload.context_id,
        )
    except InvalidInput as exc:
        # Name the measurement by its LOINC code, as the client sent it.
        for e in exc.errors:
            kind = rules.KINDS_BY_KEY.get(e.field)
            if kind is not None:
                exc.errors[exc.errors.index(e)] = FieldError(f"measurements.{kind.code}", e.rule)
        raise
    for o in created:
        o.clinic = clinic
    return Status(201, {"items": [observation_out(o) for o in created], "count": len(created)})


@router.get("/alerts", response={200: AlertListOut, **ERRORS})
def alert_list(request: HttpRequest, filters: Query[AlertFilters]) -> dict[str, object]:
    user = _user(request)
    if not user.can_anywhere(selectors.ALERT_VIEW_CAPABILITY):
        raise Forbidden(MESSAGE_ALERT_LIST_ROLE)
    if filters.status and filters.status not in SafetyAlert.Status.values:
        rule = "Use open, escalated or cleared."
        raise InvalidInput(MESSAGE_INVALID, errors=[FieldError("status", rule)])
    qs = selectors.alerts_for_user(user=user, clinic_id=filters.clinic, status=filters.status)
    page = paginate(qs, filters.page, filters.page_size)
    now = timezone.now()
    audit(
        user=user,
        action=Action.READ,
        clinic_id=filters.clinic,
        object_type="safety_alert",
        detail={"patients": sorted({str(a.patient_id) for a in page.items})},
    )
    return {"items": [alert_out(a, now) for a in page.items], "count": page.count}


@router.post("/alerts/{alert_id}/clear", response={200: AlertOut, **ERRORS})
def alert_clear(request: HttpRequest, alert_id: UUID, payload: AlertClearIn) -> dict[str, object]:
    user = _user(request)
    alert = selectors.alert_get_for_user(user=user, alert_id=alert_id)
    cleared = services.safety_alert_clear(
        user=user, alert=alert, assessment=payload.assessment, plan=payload.plan
    )
    return alert_out(cleared)
