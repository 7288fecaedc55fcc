"""Writes of session charting: the day's readiness check, opening a session from a
checked-in appointment, the pre-check with its hard stops, prescribers' overrides and
aborting. Every write is audited; a signed or aborted session refuses every change."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import (
    MESSAGE_INVALID,
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    invalid_from_validation_error,
)
from ketapath.core.timeutils import local_today
from ketapath.observations import rules as obs_rules
from ketapath.observations.models import Observation
from ketapath.observations.selectors import open_alerts_for_patient
from ketapath.observations.services import observations_record
from ketapath.patients.models import ConsentKind
from ketapath.patients.selectors import patient_consent_statuses
from ketapath.pharmacy.models import Substance, Vial
from ketapath.scheduling.measurement import COMPLETED
from ketapath.scheduling.messaging import course_schedule
from ketapath.scheduling.models import Appointment
from ketapath.treatments import rules
from ketapath.treatments.models import (
    READINESS_ITEMS,
    DailyReadiness,
    SessionOverride,
    TreatmentSession,
)

# Hard-stop rule names (the "rule" of a 409 hard_stop answer).
RULE_READINESS = "readiness"
RULE_CONSENT = "consent"
RULE_OPEN_ALERT = "open_alert"
RULE_BP = "bp"
RULE_PREGNANCY = "pregnancy"
# Hard stops a prescriber's override with a reason may pass. A missing consent, an open
# safety alert or a missing readiness check are resolved at their source, not overridden.
RULE_IM_VOLUME = "im_volume"
RULE_DISCHARGE = "discharge"
OVERRIDABLE_RULES = (
    RULE_BP, RULE_PREGNANCY, rules.STOP_CAP, rules.STOP_RANGE, rules.STOP_CEILING, RULE_DISCHARGE
)  # fmt: skip
OVERRIDE_REASON_MIN = 10
REASON_MAX = 500

PREGNANCY_STATUSES = ("not_applicable", "not_pregnant", "pregnant", "unknown")
HISTORY_REVIEW = ("unchanged", "re_reviewed")
BOOL_FIELDS = (
    "identity_confirmed",
    "fasting_confirmed",
    "urinary_symptoms_asked",
    "bp_acknowledged",
)
TEXT_FIELDS = {
    "escort_name": 200,
    "escort_phone": 40,
    "history_note": 1000,
    "urinary_note": 500,
    "questionnaires_note": 500,
}
PAIN_FIELD = "pain_before"
PAIN_OBSERVATION = "pain"
VITAL_FIELDS = ("systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate")
# The observations app's measurement keys for the wire names.
OBSERVATION_KEYS = {"systolic": obs_rules.SYSTOLIC, "diastolic": obs_rules.DIASTOLIC}
WEIGHT_KEY = "body_weight"
WEIGHT_CODE = obs_rules.KINDS_BY_KEY[WEIGHT_KEY].code
PRE_CHECK_FIELDS = (
    *BOOL_FIELDS,
    *TEXT_FIELDS,
    "pregnancy_status",
    "history_review",
    PAIN_FIELD,
    *VITAL_FIELDS,
)
# What the pre-check needs before a dose can be ordered.
PRE_CHECK_REQUIRED = (
    "identity_confirmed",
    "escort_name",
    "escort_phone",
    "fasting_confirmed",
    "pregnancy_status",
    "history_review",
    "urinary_symptoms_asked",
    PAIN_FIELD,
    "systolic",
    "diastolic",
)

MESSAGE_DOCUMENT_FORBIDDEN = "Your role does not allow documenting ketamine sessions here."
MESSAGE_OVERRIDE_FORBIDDEN = "Only a prescriber or the medical director may override a hard stop."
MESSAGE_CLOSED = "This session is {status}; it cannot be changed."
MESSAGE_READINESS_ITEM = "Must be confirmed (true) before sessions start."
MESSAGE_READINESS_UNKNOWN = "Not an item of the readiness check."
MESSAGE_READINESS_TWICE = "Today's readiness check at this site is already recorded."
MESSAGE_NOT_A_SESSION = "Only a ketamine-session appointment of a course opens a session."
MESSAGE_NOT_CHECKED_IN = "The patient must be checked in before the session opens."
MESSAGE_ALREADY_OPEN = "A session is already open for this appointment."
MESSAGE_STOP_READINESS = (
    "Hard stop: no readiness check of emergency equipment and rescue drugs is recorded "
    "today at this site."
)
MESSAGE_STOP_CONSENT = "Hard stop: the patient has no current ketamine treatment consent."
MESSAGE_STOP_OPEN_ALERT = (
    "Hard stop: the patient has an open safety alert; a clinician must clear it."
)
MESSAGE_STOP_BP = (
    "Hard stop: the baseline blood pressure is at or above the site's hold level; only a "
    "prescriber's override with a reason lets the session go on."
)
MESSAGE_STOP_PREGNANCY = (
    "Hard stop: pregnancy is a contraindication (clinical.md §1.1); only a prescriber's "
    "override with a reason lets the session go on."
)
MESSAGE_HISTORY_NOTE = "Say what was re-reviewed and what changed."
MESSAGE_BP_ACK = "The blood pressure is above the acknowledgement level: acknowledge it."
MESSAGE_BP_PAIR = "Give systolic and diastolic together."
MESSAGE_BOOL = "Must be true or false."
MESSAGE_TEXT = "Must be text of at most {n} characters."
MESSAGE_CHOICE = "Must be one of: {choices}."
MESSAGE_UNKNOWN_FIELD = "Not a pre-check field."
MESSAGE_WHOLE = "Must be a whole number."
MESSAGE_PAIN = "Must be a whole number from 0 (no pain) to 10 (worst imaginable)."
MESSAGE_QUESTIONNAIRES = (
    "The pre-session questionnaires are not all done ({missing}): enter them now, or say why not."
)
MESSAGE_RULE = "Must be one of the hard stops that an override passes: {choices}."
MESSAGE_REASON_SHORT = f"Give a reason of at least {OVERRIDE_REASON_MIN} characters."
MESSAGE_REASON_LONG = f"At most {REASON_MAX} characters."
MESSAGE_ABORT_REASON = "Give the reason the session is aborted."
MESSAGE_ORDER_FORBIDDEN = "Only a prescriber or the medical director may order the dose."
MESSAGE_PRE_CHECK_INCOMPLETE = "Complete the pre-check before the dose is ordered."
MESSAGE_VIAL = "Not a usable ketamine vial at this site (in stock or opened, in date)."
MESSAGE_MG_PER_KG_REASON = (
    f"A dose other than the course order needs a reason of at least {OVERRIDE_REASON_MIN} "
    "characters."
)
MESSAGE_WEIGHT_CONFIRM = (
    "Today's weight is more than {pct} % from the last one ({previous} kg): confirm it."
)
MESSAGE_STOP_DOSE = {
    rules.STOP_CAP: "Hard stop: the dose is above the protocol template's cap.",
    rules.STOP_RANGE: (
        "Hard stop: the dose, rounded to the site's step, is outside the protocol "
        "template's mg/kg range (an order at the edge of the range can round past it)."
    ),
    rules.STOP_CEILING: "Hard stop: the dose is above the site's mg/kg ceiling.",
}
MESSAGE_STOP_IM_VOLUME = (
    "Hard stop: the volume is above the site's maximum for one IM injection site; choose "
    "a more concentrated vial."
)


class HardStop(Conflict):
    """A hard stop: answers 409 {"code": "hard_stop", "rule": ...}."""

    code = "hard_stop"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message, extra={"rule": rule, "overridable": rule in OVERRIDABLE_RULES})
        self.rule = rule


def _require(user: User, capability: Capability, clinic_id: Any, message: str) -> None:
    if not user.can(capability, clinic_id):
        raise Forbidden(message)


def _require_open(session: TreatmentSession) -> None:
    if session.is_closed:
        raise Conflict(MESSAGE_CLOSED.format(status=session.status), code="session_closed")


def _audit(
    user: User, action: str, session: TreatmentSession, detail: dict[str, Any] | None = None
) -> None:
    audit(
        user=user,
        action=action,
        clinic_id=session.clinic_id,
        patient_id=session.patient_id,
        object_type="treatment_session",
        object_id=session.id,
        detail=detail,
    )


def _save(obj: Any) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise invalid_from_validation_error(exc) from exc
    obj.save()


# --- readiness --------------------------------------------------------------------------


def readiness_today(*, clinic: Clinic) -> DailyReadiness | None:
    return DailyReadiness.objects.filter(clinic=clinic, date=local_today(clinic.time_zone)).first()


def readiness_record(*, user: User, clinic: Clinic, items: dict[str, Any]) -> DailyReadiness:
    """Record today's check of emergency equipment and rescue drugs at the site; every
    item must be confirmed, once per site and local date."""
    _require(user, Capability.SESSION_DOCUMENT, clinic.id, MESSAGE_DOCUMENT_FORBIDDEN)
    keys = [key for key, _ in READINESS_ITEMS]
    errors = [
        FieldError(f"items.{key}", MESSAGE_READINESS_UNKNOWN) for key in items if key not in keys
    ]
    errors += [
        FieldError(f"items.{key}", MESSAGE_READINESS_ITEM)
        for key in keys
        if items.get(key) is not True
    ]
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    now = timezone.now()
    check = DailyReadiness(
        clinic=clinic,
        date=local_today(clinic.time_zone),
        checked_by=user,
        checked_at=now,
        items={key: True for key in keys},
    )
    try:
        with transaction.atomic():
            check.save()
    except IntegrityError as exc:
        raise Conflict(MESSAGE_READINESS_TWICE, code="already_recorded") from exc
    audit(
        user=user,
        action=Action.CREATE,
        clinic_id=clinic.id,
        object_type="daily_readiness",
        object_id=check.id,
        detail={"date": check.date.isoformat()},
    )
    return check


# --- opening ----------------------------------------------------------------------------


def session_open(*, user: User, appointment: Appointment) -> TreatmentSession:
    """Open the session of a checked-in session appointment of a course, once today's
    readiness check at its site is recorded (else a hard stop)."""
    _require(user, Capability.SESSION_DOCUMENT, appointment.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    if appointment.kind != Appointment.Kind.SESSION or appointment.course_id is None:
        raise Conflict(MESSAGE_NOT_A_SESSION, code="not_a_session")
    if appointment.status != Appointment.Status.CHECKED_IN:
        raise Conflict(MESSAGE_NOT_CHECKED_IN, code="not_checked_in")
    if TreatmentSession.objects.filter(appointment=appointment).exists():
        raise Conflict(MESSAGE_ALREADY_OPEN, code="already_open")
    if readiness_today(clinic=appointment.clinic) is None:
        raise HardStop(MESSAGE_STOP_READINESS, rule=RULE_READINESS)
    session = TreatmentSession(
        appointment=appointment,
        course_id=appointment.course_id,
        patient_id=appointment.patient_id,
        clinic_id=appointment.clinic_id,
        opened_by=user,
        opened_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            _save(session)
    except IntegrityError as exc:
        raise Conflict(MESSAGE_ALREADY_OPEN, code="already_open") from exc
    _audit(user, Action.CREATE, session, {"appointment": str(appointment.id)})
    return session


# --- pre-check --------------------------------------------------------------------------


def _clean_pre_check(data: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    clean: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, value in data.items():
        if name not in PRE_CHECK_FIELDS:
            errors.append(FieldError(name, MESSAGE_UNKNOWN_FIELD))
        elif value is None:
            clean[name] = None
        elif name in BOOL_FIELDS:
            if not isinstance(value, bool):
                errors.append(FieldError(name, MESSAGE_BOOL))
            else:
                clean[name] = value
        elif name in TEXT_FIELDS:
            limit = TEXT_FIELDS[name]
            if not isinstance(value, str) or len(value.strip()) > limit:
                errors.append(FieldError(name, MESSAGE_TEXT.format(n=limit)))
            else:
                clean[name] = value.strip()
        elif name == "pregnancy_status":
            if value not in PREGNANCY_STATUSES:
                choices = ", ".join(PREGNANCY_STATUSES)
                errors.append(FieldError(name, MESSAGE_CHOICE.format(choices=choices)))
            else:
                clean[name] = value
        elif name == "history_review":
            if value not in HISTORY_REVIEW:
                choices = ", ".join(HISTORY_REVIEW)
                errors.append(FieldError(name, MESSAGE_CHOICE.format(choices=choices)))
            else:
                clean[name] = value
        elif name == PAIN_FIELD:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
                errors.append(FieldError(name, MESSAGE_PAIN))
            else:
                clean[name] = value
        else:  # a vital sign
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(FieldError(name, MESSAGE_WHOLE))
            else:
                clean[name] = value
    has_sbp = clean.get("systolic") is not None
    has_dbp = clean.get("diastolic") is not None
    if has_sbp != has_dbp and not errors:
        errors.append(FieldError("diastolic" if has_sbp else "systolic", MESSAGE_BP_PAIR))
    return clean, errors


def _has_override(session: TreatmentSession, rule: str) -> bool:
    return session.overrides.filter(rule=rule).exists()


def _check_consent(session: TreatmentSession) -> None:
    for status in patient_consent_statuses(patient=session.patient):
        if status.kind == ConsentKind.KETAMINE_TREATMENT and status.is_current:
            return
    raise HardStop(MESSAGE_STOP_CONSENT, rule=RULE_CONSENT)


def _check_open_alerts(session: TreatmentSession) -> None:
    if open_alerts_for_patient(session.patient):
        raise HardStop(MESSAGE_STOP_OPEN_ALERT, rule=RULE_OPEN_ALERT)


def bp_band(session: TreatmentSession, systolic: int, diastolic: int) -> rules.PreDoseBp:
    policy = clinic_policy_current(clinic=session.clinic)
    return rules.pre_dose_bp(
        systolic,
        diastolic,
        hold_at=(policy.pre_dose_hold_systolic, policy.pre_dose_hold_diastolic),
        ack_above=(policy.pre_dose_ack_systolic, policy.pre_dose_ack_diastolic),
    )


def pre_session_questionnaires_missing(session: TreatmentSession) -> list[str]:
    """Instrument codes of this session's pre-session questionnaires (the template's, on
    the course's measurement schedule) not yet answered."""
    rows = course_schedule(session.course)
    return sorted(
        {
            row.item.instrument
            for row in rows
            if row.item.appointment_id == session.appointment_id and row.status != COMPLETED
        }
    )


def pre_check_missing(session: TreatmentSession) -> list[str]:
    """The pre-check items still to record (empty when the pre-check is complete)."""
    answers = session.pre_check or {}
    missing = [name for name in PRE_CHECK_REQUIRED if answers.get(name) in (None, "", False)]
    if answers.get("questionnaires_missing") and not answers.get("questionnaires_note"):
        missing.append("questionnaires_note")
    if answers.get("bp_band") == rules.PreDoseBp.ACKNOWLEDGE and not answers.get("bp_acknowledged"):
        missing.append("bp_acknowledged")
    return missing


def precheck_update(*, user: User, session: TreatmentSession, data: dict[str, Any]) -> None:
    """Record pre-check answers (merged into those already given). Refuses with a hard
    stop when the ketamine treatment consent is not current, a safety alert is open, or
    the baseline blood pressure is at the hold level without a prescriber's override;
    a pressure above the acknowledgement level needs ``bp_acknowledged``. Nothing is
    saved when any check refuses. A new baseline pressure is stored as observations."""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    if session.status != TreatmentSession.Status.PRE_CHECK:
        raise Conflict(MESSAGE_CLOSED.format(status=session.status), code="pre_check_done")
    clean, errors = _clean_pre_check(data)
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    _check_consent(session)
    _check_open_alerts(session)
    merged = {**(session.pre_check or {}), **clean}
    if merged.get("history_review") == "re_reviewed" and not merged.get("history_note"):
        raise InvalidInput(
            MESSAGE_INVALID, errors=[FieldError("history_note", MESSAGE_HISTORY_NOTE)]
        )
    if merged.get("pregnancy_status") == "pregnant" and not _has_override(session, RULE_PREGNANCY):
        raise HardStop(MESSAGE_STOP_PREGNANCY, rule=RULE_PREGNANCY)
    sbp, dbp = merged.get("systolic"), merged.get("diastolic")
    if sbp is not None and dbp is not None:
        try:
            band = bp_band(session, sbp, dbp)
        except rules.RuleInputError as exc:
            raise InvalidInput(
                MESSAGE_INVALID, errors=[FieldError(f, r) for f, r in exc.errors]
            ) from exc
        if band == rules.PreDoseBp.HARD_STOP and not _has_override(session, RULE_BP):
            raise HardStop(MESSAGE_STOP_BP, rule=RULE_BP)
        if band == rules.PreDoseBp.ACKNOWLEDGE and not merged.get("bp_acknowledged"):
            raise InvalidInput(
                MESSAGE_INVALID, errors=[FieldError("bp_acknowledged", MESSAGE_BP_ACK)]
            )
        merged["bp_band"] = str(band)
    else:
        merged.pop("bp_band", None)
    merged["questionnaires_missing"] = pre_session_questionnaires_missing(session)
    now = timezone.now()
    vitals = {
        OBSERVATION_KEYS.get(k, k): clean[k] for k in VITAL_FIELDS if clean.get(k) is not None
    }
    if clean.get(PAIN_FIELD) is not None:
        # "Pain now" at a session is an observation (observations.rules kind "pain").
        vitals[PAIN_OBSERVATION] = clean[PAIN_FIELD]
    with transaction.atomic():
        if vitals:
            observations_record(
                user=user,
                patient=session.patient,
                clinic=session.clinic,
                taken_at=now,
                measurements=vitals,
                context_kind=Observation.ContextKind.SESSION,
                context_id=session.id,
            )
        session.pre_check = merged
        session.pre_check_by = user
        session.pre_check_at = now
        session.pain_before = merged.get(PAIN_FIELD)
        session.save(
            update_fields=[
                "pre_check", "pre_check_by", "pre_check_at", "pain_before", "updated_at"
            ]
        )  # fmt: skip
        _audit(user, Action.UPDATE, session, {"pre_check": sorted(clean)})


# --- overrides and abort ----------------------------------------------------------------


def override_add(
    *, user: User, session: TreatmentSession, rule: str, reason: str
) -> SessionOverride:
    """A prescriber's or the medical director's override of one hard stop, with a reason
    of at least ten characters; the client then retries the refused step."""
    if not (
        user.can(Capability.SESSION_SIGN, session.clinic_id)
        or user.can(Capability.EVALUATION_SIGN, session.clinic_id)
    ):
        raise Forbidden(MESSAGE_OVERRIDE_FORBIDDEN)
    _require_open(session)
    errors: list[FieldError] = []
    if rule not in OVERRIDABLE_RULES:
        choices = ", ".join(OVERRIDABLE_RULES)
        errors.append(FieldError("rule", MESSAGE_RULE.format(choices=choices)))
    reason = (reason or "").strip()
    if len(reason) < OVERRIDE_REASON_MIN:
        errors.append(FieldError("reason", MESSAGE_REASON_SHORT))
    elif len(reason) > REASON_MAX:
        errors.append(FieldError("reason", MESSAGE_REASON_LONG))
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    override = SessionOverride(
        session=session, rule=rule, reason=reason, by=user, at=timezone.now()
    )
    _save(override)
    audit(
        user=user,
        action=Action.CREATE,
        clinic_id=session.clinic_id,
        patient_id=session.patient_id,
        object_type="session_override",
        object_id=override.id,
        detail={"session": str(session.id), "rule": rule},
    )
    return override


def session_abort(*, user: User, session: TreatmentSession, reason: str) -> TreatmentSession:
    """Abort the session with a reason at any stage before it is signed."""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(MESSAGE_INVALID, errors=[FieldError("reason", MESSAGE_ABORT_REASON)])
    if len(reason) > REASON_MAX:
        raise InvalidInput(MESSAGE_INVALID, errors=[FieldError("reason", MESSAGE_REASON_LONG)])
    previous = session.status
    session.status = TreatmentSession.Status.ABORTED
    session.aborted_at = timezone.now()
    session.aborted_by = user
    session.abort_reason = reason
    session.save(update_fields=["status", "aborted_at", "aborted_by", "abort_reason", "updated_at"])
    _audit(user, Action.UPDATE, session, {"aborted_from": previous})
    return session


# --- dose order ---------------------------------------------------------------------------


def _previous_weight(session: TreatmentSession) -> Decimal | None:
    """The patient's last weight recorded outside this session, if any."""
    row = (
        Observation.objects.filter(patient=session.patient, code=WEIGHT_CODE)
        .exclude(context_kind=Observation.ContextKind.SESSION, context_id=session.id)
        .order_by("-taken_at")
        .values_list("value", flat=True)
        .first()
    )
    return None if row is None else Decimal(row)


def _usable_vial(session: TreatmentSession, vial_id: Any) -> Vial | None:
    now = timezone.now()
    vial = Vial.objects.filter(
        id=vial_id,
        clinic_id=session.clinic_id,
        substance=Substance.KETAMINE,
        status__in=[Vial.Status.IN_STOCK, Vial.Status.OPEN],
        expiry__gte=local_today(session.clinic.time_zone),
    ).first()
    if vial is None or (vial.beyond_use_at is not None and vial.beyond_use_at <= now):
        return None
    return vial


def dose_order(
    *,
    user: User,
    session: TreatmentSession,
    weight_kg: Decimal,
    vial_id: Any,
    mg_per_kg: Decimal | None = None,
    mg_per_kg_reason: str = "",
    weight_change_confirmed: bool = False,
) -> rules.DoseResult:
    """The prescriber's dose order for this session: mg/kg from the course order unless
    changed with a reason, today's weight (a change of more than 10 % from the last one
    needs confirming), the dose rounded to the policy step and checked against the
    template's cap and range and the site's ceiling — each a hard stop only a prescriber's
    override passes — and the volume from the chosen vial; an IM volume above the site's
    maximum per injection site stops. Today's weight is stored as an observation."""
    _require(user, Capability.SESSION_SIGN, session.clinic_id, MESSAGE_ORDER_FORBIDDEN)
    _require_open(session)
    if session.status != TreatmentSession.Status.PRE_CHECK:
        raise Conflict(MESSAGE_CLOSED.format(status=session.status), code="already_dosed")
    missing = pre_check_missing(session)
    if missing:
        raise Conflict(
            MESSAGE_PRE_CHECK_INCOMPLETE,
            code="pre_check_incomplete",
            errors=[FieldError(f"pre_check.{name}", "Required.") for name in missing],
        )
    course = session.course
    template = course.protocol
    errors: list[FieldError] = []
    ordered = course.ordered_mg_per_kg
    per_kg = ordered if mg_per_kg is None else mg_per_kg
    reason = (mg_per_kg_reason or "").strip()
    changed = per_kg != ordered
    if changed and len(reason) < OVERRIDE_REASON_MIN:
        errors.append(FieldError("mg_per_kg_reason", MESSAGE_MG_PER_KG_REASON))
    elif len(reason) > REASON_MAX:
        errors.append(FieldError("mg_per_kg_reason", MESSAGE_REASON_LONG))
    vial = _usable_vial(session, vial_id)
    if vial is None:
        errors.append(FieldError("vial", MESSAGE_VIAL))
    policy = clinic_policy_current(clinic=session.clinic)
    low, high = template.mg_per_kg_min, template.mg_per_kg_max
    bounds = (low, high) if low is not None and high is not None else None
    result: rules.DoseResult | None = None
    try:
        result = rules.dose(
            weight_kg,
            per_kg,
            vial.mg_per_ml if vial is not None else Decimal(1),
            step_mg=policy.dose_step_mg,
            cap_mg=template.cap_mg,
            range_mg_per_kg=bounds,
            ceiling_mg_per_kg=policy.dose_ceiling_mg_per_kg,
        )
    except rules.RuleInputError as exc:
        errors += [FieldError(f, r) for f, r in exc.errors]
    previous = _previous_weight(session)
    if not errors and previous is not None and not weight_change_confirmed:
        change = rules.weight_change(previous, weight_kg)
        if change.needs_confirming:
            pct = int(rules.DEFAULT_WEIGHT_CHANGE * 100)
            errors.append(
                FieldError(
                    "weight_change_confirmed",
                    MESSAGE_WEIGHT_CONFIRM.format(pct=pct, previous=previous),
                )
            )
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)
    assert result is not None and vial is not None
    overridden = set(session.overrides.values_list("rule", flat=True))
    for stop in result.stops:
        if stop not in overridden:
            raise HardStop(MESSAGE_STOP_DOSE[stop], rule=stop)
    if template.route == rules.ROUTE_IM and not rules.im_volume_ok(
        result.volume_ml, policy.im_max_ml_per_site
    ):
        raise HardStop(MESSAGE_STOP_IM_VOLUME, rule=RULE_IM_VOLUME)
    now = timezone.now()
    with transaction.atomic():
        observations_record(
            user=user,
            patient=session.patient,
            clinic=session.clinic,
            taken_at=now,
            measurements={WEIGHT_KEY: weight_kg},
            context_kind=Observation.ContextKind.SESSION,
            context_id=session.id,
        )
        session.mg_per_kg = per_kg
        session.mg_per_kg_reason = reason if changed else ""
        session.weight_kg = weight_kg
        session.dose_mg = result.dose_mg
        session.volume_ml = result.volume_ml
        session.concentration_mg_per_ml = result.concentration_mg_per_ml
        session.vial = vial
        session.ordered_by = user
        session.ordered_at = now
        _save(session)
        _audit(
            user,
            Action.UPDATE,
            session,
            {
                "dose_order": {
                    "dose_mg": str(result.dose_mg),
                    "volume_ml": str(result.volume_ml),
                    "stops_overridden": list(result.stops),
                }
            },
        )
    return result
