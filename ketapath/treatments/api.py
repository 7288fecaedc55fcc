"""The session API (issue 8): the day's readiness check at a site, sessions opened from
checked-in appointments, their pre-check, the prescriber's dose order, overrides of hard
stops and aborting, and the dose calculator (which holds no patient data).

Reading and documenting sessions needs SESSION_DOCUMENT (medical director, prescriber,
nurse); ordering the dose needs SESSION_SIGN and overriding a hard stop SESSION_SIGN or
EVALUATION_SIGN (prescriber, medical director). Front desk, billers, therapists and others
get 403; another site's session 404. A hard stop answers 409 {"code": "hard_stop", "rule",
"overridable"}.
"""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Status

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for
from ketapath.accounts.services import Action, audit
from ketapath.core.api import MESSAGE_FORBIDDEN, ErrorOut
from ketapath.core.errors import MESSAGE_INVALID, FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.scheduling.selectors import appointment_get_for_user
from ketapath.treatments import selectors, services
from ketapath.treatments.models import DailyReadiness, TreatmentSession
from ketapath.treatments.rules import DEFAULT_STEP_MG, DoseResult, RuleInputError, dose
from ketapath.treatments.schemas import (
    AbortIn,
    DoseCalculateIn,
    DoseCalculateOut,
    DoseOrderIn,
    DoseOrderOut,
    OverrideIn,
    OverrideOut,
    PreCheckIn,
    ReadinessIn,
    ReadinessOut,
    SessionFilters,
    SessionListOut,
    SessionOut,
)

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MESSAGE_STATUS = "Must be one of: {choices}."
MESSAGE_APPOINTMENT_NOT_FOUND = "No such appointment among your sites."


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _session_out(session: TreatmentSession) -> dict[str, Any]:
    tz = session.clinic.time_zone
    return {
        "id": session.id,
        "status": session.status,
        "clinic": session.clinic_id,
        "patient": session.patient_id,
        "course": session.course_id,
        "appointment": session.appointment_id,
        "starts_at": rfc3339(session.appointment.starts_at, tz),
        "room": session.appointment.room.name,
        "opened_by": session.opened_by_id,
        "opened_by_name": session.opened_by.display_name,
        "opened_at": rfc3339(session.opened_at, tz),
        "pre_check": session.pre_check or {},
        "pre_check_missing": services.pre_check_missing(session),
        "pre_check_at": rfc3339(session.pre_check_at, tz),
        "overrides": [
            {
                "id": o.id,
                "rule": o.rule,
                "reason": o.reason,
                "by": o.by_id,
                "by_name": o.by.display_name,
                "at": rfc3339(o.at, tz),
            }
            for o in session.overrides.all()
        ],
        "mg_per_kg": session.mg_per_kg,
        "weight_kg": session.weight_kg,
        "dose_mg": session.dose_mg,
        "volume_ml": session.volume_ml,
        "concentration_mg_per_ml": session.concentration_mg_per_ml,
        "mg_per_kg_reason": session.mg_per_kg_reason,
        "vial": session.vial_id,
        "ordered_by": session.ordered_by_id,
        "ordered_at": rfc3339(session.ordered_at, tz),
        "signed_by": session.signed_by_id,
        "signed_at": rfc3339(session.signed_at, tz),
        "aborted_by": session.aborted_by_id,
        "aborted_at": rfc3339(session.aborted_at, tz),
        "abort_reason": session.abort_reason,
    }


def _fresh(request: HttpRequest, session_id: UUID) -> dict[str, Any]:
    session = selectors.session_get_for_user(user=_user(request), session_id=session_id)
    return _session_out(session)


def _audit_read(request: HttpRequest, session: TreatmentSession) -> None:
    audit(
        user=_user(request),
        action=Action.READ,
        clinic_id=session.clinic_id,
        patient_id=session.patient_id,
        object_type="treatment_session",
        object_id=session.id,
        detail={"via": "api"},
    )


def _readiness_out(check: DailyReadiness) -> dict[str, Any]:
    return {
        "id": check.id,
        "clinic": check.clinic_id,
        "date": check.date,
        "checked_by": check.checked_by_id,
        "checked_by_name": check.checked_by.display_name,
        "checked_at": rfc3339(check.checked_at, check.clinic.time_zone),
        "items": check.items,
    }


@router.post(
    "/clinics/{clinic_id}/readiness",
    response={201: ReadinessOut, **ERRORS},
    summary="Record today's check of emergency equipment and rescue drugs at the site",
)
def readiness_record(
    request: HttpRequest, clinic_id: UUID, payload: ReadinessIn
) -> Status[dict[str, Any]]:
    clinic = selectors.session_clinic_for_user(user=_user(request), clinic_id=clinic_id)
    check = services.readiness_record(user=_user(request), clinic=clinic, items=payload.items)
    return Status(201, _readiness_out(check))


@router.post(
    "/appointments/{appointment_id}/session",
    response={201: SessionOut, **ERRORS},
    summary="Open the session of a checked-in session appointment (needs today's readiness check)",
)
def session_open(request: HttpRequest, appointment_id: UUID) -> Status[dict[str, Any]]:
    appointment = appointment_get_for_user(user=_user(request), appointment_id=appointment_id)
    if appointment.clinic_id not in clinic_ids_for(_user(request)):
        raise NotFound(MESSAGE_APPOINTMENT_NOT_FOUND)
    session = services.session_open(user=_user(request), appointment=appointment)
    return Status(201, _fresh(request, session.id))


@router.get(
    "/sessions",
    response={200: SessionListOut, **ERRORS},
    summary="Sessions at your sites by the appointment's local date, optionally of one status",
)
def session_list(request: HttpRequest, filters: Query[SessionFilters]) -> dict[str, Any]:
    user = _user(request)
    if filters.status and filters.status not in TreatmentSession.Status.values:
        choices = ", ".join(TreatmentSession.Status.values)
        raise InvalidInput(
            MESSAGE_INVALID, errors=[FieldError("status", MESSAGE_STATUS.format(choices=choices))]
        )
    clinic = (
        selectors.session_clinic_for_user(user=user, clinic_id=filters.clinic)
        if filters.clinic
        else None
    )
    if clinic is None and not selectors.documenting_clinic_ids(user=user):
        raise Forbidden(MESSAGE_FORBIDDEN)
    sessions = selectors.sessions_for_user(
        user=user,
        clinic=clinic,
        date_from=filters.date_from,
        date_to=filters.date_to,
        status=filters.status,
    ).prefetch_related("overrides__by")
    page = paginate(sessions, filters.page, filters.page_size)
    audit(
        user=user,
        action=Action.SEARCH,
        clinic_id=clinic.id if clinic else None,
        object_type="treatment_session",
        detail={"via": "api", "count": page.count, "ids": [str(s.id) for s in page.items]},
    )
    return {"items": [_session_out(s) for s in page.items], "count": page.count}


@router.get("/sessions/{session_id}", response={200: SessionOut, **ERRORS})
def session_detail(request: HttpRequest, session_id: UUID) -> dict[str, Any]:
    session = selectors.session_get_for_user(user=_user(request), session_id=session_id)
    _audit_read(request, session)
    return _session_out(session)


@router.patch(
    "/sessions/{session_id}/pre-check",
    response={200: SessionOut, **ERRORS},
    summary="Record pre-check answers; hard stops: consent, open_alert, bp",
)
def session_pre_check(
    request: HttpRequest, session_id: UUID, payload: PreCheckIn
) -> dict[str, Any]:
    session = selectors.session_get_for_user(user=_user(request), session_id=session_id)
    services.precheck_update(
        user=_user(request), session=session, data=payload.dict(exclude_unset=True)
    )
    return _fresh(request, session.id)


@router.post(
    "/sessions/{session_id}/overrides",
    response={201: OverrideOut, **ERRORS},
    summary="A prescriber's override of a hard stop, with a reason; then retry the step",
)
def session_override(
    request: HttpRequest, session_id: UUID, payload: OverrideIn
) -> Status[dict[str, Any]]:
    session = selectors.session_get_for_user(user=_user(request), session_id=session_id)
    override = services.override_add(
        user=_user(request), session=session, rule=payload.rule, reason=payload.reason
    )
    return Status(
        201,
        {
            "id": override.id,
            "rule": override.rule,
            "reason": override.reason,
            "by": override.by_id,
            "by_name": override.by.display_name,
            "at": rfc3339(override.at, session.clinic.time_zone),
        },
    )


@router.post(
    "/sessions/{session_id}/dose-order",
    response={200: DoseOrderOut, **ERRORS},
    summary="The prescriber's dose order; hard stops: cap, range, ceiling (overridable), im_volume",
)
def session_dose_order(
    request: HttpRequest, session_id: UUID, payload: DoseOrderIn
) -> dict[str, Any]:
    session = selectors.session_get_for_user(user=_user(request), session_id=session_id)
    result = services.dose_order(
        user=_user(request),
        session=session,
        weight_kg=payload.weight_kg,
        vial_id=payload.vial,
        mg_per_kg=payload.mg_per_kg,
        mg_per_kg_reason=payload.mg_per_kg_reason or "",
        weight_change_confirmed=payload.weight_change_confirmed,
    )
    return {"session": _fresh(request, session.id), "dose": result}


@router.post(
    "/sessions/{session_id}/abort",
    response={200: SessionOut, **ERRORS},
    summary="Abort the session with a reason, at any stage before signing",
)
def session_abort(request: HttpRequest, session_id: UUID, payload: AbortIn) -> dict[str, Any]:
    session = selectors.session_get_for_user(user=_user(request), session_id=session_id)
    services.session_abort(user=_user(request), session=session, reason=payload.reason)
    return _fresh(request, session.id)


@router.post(
    "/dose/calculate",
    response={200: DoseCalculateOut, 401: ErrorOut, 422: ErrorOut},
    summary="A weight-based dose in mg and mL, with its hard stops",
)
def dose_calculate(request: HttpRequest, payload: DoseCalculateIn) -> DoseResult:
    try:
        return dose(
            payload.weight_kg,
            payload.mg_per_kg,
            payload.concentration_mg_per_ml,
            step_mg=DEFAULT_STEP_MG if payload.step_mg is None else payload.step_mg,
            cap_mg=payload.cap_mg,
            range_mg_per_kg=payload.range_mg_per_kg,
            ceiling_mg_per_kg=payload.ceiling_mg_per_kg,
        )
    except RuleInputError as exc:
        errors = [FieldError(field, rule) for field, rule in exc.errors]
        raise InvalidInput(MESSAGE_INVALID, errors=errors) from exc
