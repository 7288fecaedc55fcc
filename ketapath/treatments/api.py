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
from django.utils import timezone
from ninja import Query, Router, Status

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for
from ketapath.accounts.services import Action, audit, co_signer_verify
from ketapath.core.api import MESSAGE_FORBIDDEN, ErrorOut
from ketapath.core.errors import MESSAGE_INVALID, FieldError, Forbidden, InvalidInput, NotFound
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.scheduling.selectors import appointment_get_for_user
from ketapath.treatments import charting, selectors, services
from ketapath.treatments.models import DailyReadiness, SessionAlert, TreatmentSession
from ketapath.treatments.rules import DEFAULT_STEP_MG, DoseResult, RuleInputError, dose
from ketapath.treatments.schemas import (
    AbortIn,
    AddendumIn,
    AddendumOut,
    AdministrationIn,
    AdverseEventIn,
    AdverseEventOut,
    AlertClearIn,
    AlertOut,
    DischargeIn,
    DoseCalculateIn,
    DoseCalculateOut,
    DoseOrderIn,
    DoseOrderOut,
    OverrideIn,
    OverrideOut,
    PreCheckIn,
    RatingsIn,
    ReadinessIn,
    ReadinessOut,
    SessionFilters,
    SessionListOut,
    SessionOut,
    VitalsIn,
    VitalsOut,
)

router = Router()

PREFETCH = ("overrides__by", "alerts", "adverse_events", "addenda__author")
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MESSAGE_STATUS = "Must be one of: {choices}."
MESSAGE_APPOINTMENT_NOT_FOUND = "No such appointment among your sites."


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _reading_out(reading: selectors.Reading, tz: str) -> dict[str, Any]:
    return {"taken_at": rfc3339(reading.taken_at, tz), **reading.values}


def _alert_out(alert: SessionAlert, tz: str) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "summary": alert.summary,
        "reading_at": rfc3339(alert.reading_at, tz),
        "raised_at": rfc3339(alert.raised_at, tz),
        "open": alert.is_open,
        "cleared_by": alert.cleared_by_id,
        "cleared_at": rfc3339(alert.cleared_at, tz),
        "note": alert.note,
    }


def _session_out(
    session: TreatmentSession, readings: list[selectors.Reading] | None = None
) -> dict[str, Any]:
    tz = session.clinic.time_zone
    readings = selectors.session_readings(session) if readings is None else readings
    plan = selectors.vitals_plan(session, timezone.now(), readings)
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
        "second_check_by": session.verified_by_id,
        "second_check_at": rfc3339(session.verified_at, tz),
        "given_at": rfc3339(session.given_at, tz),
        "given_by": session.given_by_id,
        "route": session.route,
        "injection_site": session.injection_site,
        "amount_mg": session.amount_mg,
        "amount_ml": session.amount_ml,
        "infusion_minutes": session.infusion_minutes,
        "infusion_rate_mg_per_hr": session.infusion_rate_mg_per_hr,
        "draw": session.draw_entry_id,
        "pain_before": session.pain_before,
        "pain_after": session.pain_after,
        "dissociation_scale": session.dissociation_scale,
        "dissociation_score": session.dissociation_score,
        "vitals": [_reading_out(r, tz) for r in readings],
        "vitals_schedule": [
            {
                "offset_minutes": p.offset_minutes,
                "due_at": rfc3339(p.due_at, tz),
                "status": str(p.status),
                "taken_at": rfc3339(p.taken_at, tz),
            }
            for p in plan
        ],
        "alerts": [_alert_out(a, tz) for a in session.alerts.all()],
        "adverse_events": [
            {
                "id": e.id,
                "kind": e.kind,
                "severity": e.severity,
                "onset": rfc3339(e.onset, tz),
                "description": e.description,
                "action": e.action,
                "medication": e.medication,
                "recorded_by": e.recorded_by_id,
            }
            for e in session.adverse_events.all()
        ],
        "discharge": session.discharge or {},
        "discharge_kind": session.discharge_kind,
        "discharged_at": rfc3339(session.discharged_at, tz),
        "discharged_by": session.discharged_by_id,
        "completed_by": session.completed_by_id,
        "completed_at": rfc3339(session.completed_at, tz),
        "addenda": [
            {
                "id": a.id,
                "author": a.author_id,
                "author_name": a.author.display_name,
                "at": rfc3339(a.created_at, tz),
                "text": a.text,
            }
            for a in session.addenda.all()
        ],
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
    ).prefetch_related(*PREFETCH)
    page = paginate(sessions, filters.page, filters.page_size)
    readings = selectors.readings_for(list(page.items))
    audit(
        user=user,
        action=Action.SEARCH,
        clinic_id=clinic.id if clinic else None,
        object_type="treatment_session",
        detail={"via": "api", "count": page.count, "ids": [str(s.id) for s in page.items]},
    )
    return {"items": [_session_out(s, readings[s.id]) for s in page.items], "count": page.count}


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


CO_SIGN_ROLES = frozenset({"medical_director", "prescriber", "nurse"})
CO_SIGN_WHO = "The second checker"


def _get(request: HttpRequest, session_id: UUID) -> TreatmentSession:
    return selectors.session_get_for_user(user=_user(request), session_id=session_id)


@router.post(
    "/sessions/{session_id}/administration",
    response={200: SessionOut, **ERRORS},
    summary="The independent second check (co-signed) and the administration, drawn "
    "through the ledger",
)
def session_administration(
    request: HttpRequest, session_id: UUID, payload: AdministrationIn
) -> dict[str, Any]:
    session = _get(request, session_id)
    user = _user(request)
    second = co_signer_verify(
        request=request,
        username=payload.co_sign.username,
        password=payload.co_sign.password,
        acting_user=user,
        clinic=session.clinic,
        allowed_roles=CO_SIGN_ROLES,
        who=CO_SIGN_WHO,
        purpose="session_second_check",
        patient_id=session.patient_id,
    )
    charting.administration_record(
        user=user,
        second=second,
        session=session,
        check=charting.SecondCheck(
            dose_mg=payload.second_check.dose_mg, volume_ml=payload.second_check.volume_ml
        ),
        injection_site=payload.injection_site,
        given_at=payload.given_at,
        amount_mg=payload.amount_mg,
        partial_reason=payload.partial_reason,
        infusion_minutes=payload.infusion_minutes,
        infusion_rate_mg_per_hr=payload.infusion_rate_mg_per_hr,
    )
    return _fresh(request, session.id)


@router.post(
    "/sessions/{session_id}/vitals",
    response={201: VitalsOut, **ERRORS},
    summary="A set of vitals; out-of-range readings raise in-session alerts",
)
def session_vitals(
    request: HttpRequest, session_id: UUID, payload: VitalsIn
) -> Status[dict[str, Any]]:
    session = _get(request, session_id)
    values = payload.dict(exclude={"taken_at", "spo2_low_seconds"})
    result = charting.vitals_record(
        user=_user(request),
        session=session,
        values=values,
        taken_at=payload.taken_at,
        spo2_low_seconds=payload.spo2_low_seconds,
    )
    tz = session.clinic.time_zone
    return Status(
        201,
        {
            "session": _fresh(request, session.id),
            "alerts_raised": [_alert_out(a, tz) for a in result.alerts],
        },
    )


@router.post(
    "/sessions/{session_id}/alerts/{alert_id}/clear",
    response={200: AlertOut, **ERRORS},
    summary="Clear an in-session alert with a note of what was done",
)
def session_alert_clear(
    request: HttpRequest, session_id: UUID, alert_id: UUID, payload: AlertClearIn
) -> dict[str, Any]:
    session = _get(request, session_id)
    alert = session.alerts.filter(id=alert_id).first()
    if alert is None:
        raise NotFound("No such alert in this session.")
    cleared = charting.session_alert_clear(user=_user(request), alert=alert, note=payload.note)
    return _alert_out(cleared, session.clinic.time_zone)


@router.post(
    "/sessions/{session_id}/adverse-events",
    response={201: AdverseEventOut, **ERRORS},
    summary="An adverse event: kind, severity, onset, action and any medication given",
)
def session_adverse_event(
    request: HttpRequest, session_id: UUID, payload: AdverseEventIn
) -> Status[dict[str, Any]]:
    session = _get(request, session_id)
    event = charting.adverse_event_record(
        user=_user(request),
        session=session,
        kind=payload.kind,
        severity=payload.severity,
        onset=payload.onset,
        action=payload.action,
        description=payload.description,
        medication=payload.medication,
    )
    return Status(
        201,
        {
            "id": event.id,
            "kind": event.kind,
            "severity": event.severity,
            "onset": rfc3339(event.onset, session.clinic.time_zone),
            "description": event.description,
            "action": event.action,
            "medication": event.medication,
            "recorded_by": event.recorded_by_id,
        },
    )


@router.post(
    "/sessions/{session_id}/ratings",
    response={200: SessionOut, **ERRORS},
    summary="Pain 0–10 before discharge and dissociation (clinician 0–4 or CADSS-6 total)",
)
def session_ratings(request: HttpRequest, session_id: UUID, payload: RatingsIn) -> dict[str, Any]:
    session = _get(request, session_id)
    charting.ratings_record(
        user=_user(request),
        session=session,
        pain_after=payload.pain_after,
        dissociation_scale=payload.dissociation_scale,
        dissociation_score=payload.dissociation_score,
    )
    return _fresh(request, session.id)


@router.post(
    "/sessions/{session_id}/discharge",
    response={200: SessionOut, **ERRORS},
    summary="The discharge assessment; unmet criteria are a hard stop (rule discharge, "
    "with the unmet list); against medical advice is its own path",
)
def session_discharge(
    request: HttpRequest, session_id: UUID, payload: DischargeIn
) -> dict[str, Any]:
    session = _get(request, session_id)
    charting.discharge_record(
        user=_user(request),
        session=session,
        data=payload.dict(exclude={"leave_now", "against_medical_advice", "ama_note"}),
        leave_now=payload.leave_now,
        against_medical_advice=payload.against_medical_advice,
        ama_note=payload.ama_note,
    )
    return _fresh(request, session.id)


@router.post(
    "/sessions/{session_id}/complete",
    response={200: SessionOut, **ERRORS},
    summary="The nurse completes the note after discharge",
)
def session_complete(request: HttpRequest, session_id: UUID) -> dict[str, Any]:
    session = _get(request, session_id)
    charting.session_complete(user=_user(request), session=session)
    return _fresh(request, session.id)


@router.post(
    "/sessions/{session_id}/sign",
    response={200: SessionOut, **ERRORS},
    summary="The prescriber signs; hard stops: ledger (draw = given + wasted), open_session_alert",
)
def session_sign(request: HttpRequest, session_id: UUID) -> dict[str, Any]:
    session = _get(request, session_id)
    charting.session_sign(user=_user(request), session=session)
    return _fresh(request, session.id)


@router.post(
    "/sessions/{session_id}/addenda",
    response={201: AddendumOut, **ERRORS},
    summary="An addendum to a signed note; the original stays as it was",
)
def session_addendum(
    request: HttpRequest, session_id: UUID, payload: AddendumIn
) -> Status[dict[str, Any]]:
    session = _get(request, session_id)
    addendum = charting.addendum_add(user=_user(request), session=session, text=payload.text)
    return Status(
        201,
        {
            "id": addendum.id,
            "author": addendum.author_id,
            "author_name": addendum.author.display_name,
            "at": rfc3339(addendum.created_at, session.clinic.time_zone),
            "text": addendum.text,
        },
    )


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
