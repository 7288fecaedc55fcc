"""Writes of a session after the dose order: the independent second check and the
administration through the controlled-substance ledger, vitals with in-session alerts,
adverse events, clinician ratings (pain, dissociation), discharge, completion by the nurse,
the prescriber's signature, addenda, and the course's move to reassessment.

Every write is audited. A signed or aborted session refuses every change (409) except an
addendum to a signed note. Thresholds come from the site's ClinicPolicy; the rules are
pure functions in :mod:`ketapath.treatments.rules`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.models import ClinicPolicy
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.capabilities import Capability
from ketapath.core.errors import MESSAGE_INVALID, Conflict, FieldError, InvalidInput
from ketapath.observations.models import Observation
from ketapath.observations.services import observations_record
from ketapath.pharmacy import ledger
from ketapath.pharmacy.models import LedgerEntry
from ketapath.scheduling.models import Appointment, Course
from ketapath.treatments import rules
from ketapath.treatments.models import (
    AdverseEvent,
    SessionAddendum,
    SessionAlert,
    TreatmentSession,
)
from ketapath.treatments.services import (
    MESSAGE_DOCUMENT_FORBIDDEN,
    OBSERVATION_KEYS,
    PAIN_OBSERVATION,
    REASON_MAX,
    RULE_DISCHARGE,
    VITAL_FIELDS,
    HardStop,
    _audit,
    _require,
    _require_open,
    _save,
)

Status = TreatmentSession.Status

RULE_LEDGER = "ledger"
RULE_OPEN_SESSION_ALERT = "open_session_alert"

# Dissociation (issue 8; clinical.md §1.5 "CADSS", a sum of items each 0–4): a clinician's
# global 0–4 rating, or the CADSS-6 total of six items each 0–4, so 0–24. No item text is
# stored or shown (the CADSS is copyright, clinical.md §1.5 licences).
DISSOCIATION_SCALES = {"clinician_0_4": 4, "cadss_6": 24}
PAIN_MAX = 10  # the 0–10 numeric rating scale (clinical.md §2.1)

CO_SIGN_ROLES = frozenset({"medical_director", "prescriber", "nurse"})

MESSAGE_NOT_ORDERED = "The prescriber's dose order comes first."
MESSAGE_ALREADY_GIVEN = "The dose is already recorded as given."
MESSAGE_SECOND_CHECK_DIFFERS = (
    "The second check does not match the order ({dose_mg} mg = {volume_ml} mL at "
    "{concentration} mg/mL); recompute from the vial before giving."
)
MESSAGE_SECOND_CHECKER = (
    "The second check needs another licensed user who documents sessions at this site "
    "(licence and ACLS current)."
)
MESSAGE_ROUTE_SITE = "Name the injection or cannula site."
MESSAGE_IV_RATE = "Required for an IV session: the infusion rate in mg/hr."
MESSAGE_AMOUNT_OVER = "Cannot give more than the ordered dose ({dose_mg} mg)."
MESSAGE_AMOUNT_STEP = (
    "At {concentration} mg/mL the ledger measures {step} mg steps (0.01 mL): give a "
    "multiple of {step} mg so the rest can be wasted exactly."
)
MESSAGE_PARTIAL_WITNESS = (
    "A partial dose wastes the rest: the second checker must also be able to witness "
    "waste (a nurse or prescriber who handles the ledger)."
)
LEDGER_ML = Decimal("0.01")
MESSAGE_PARTIAL_REASON = "Say why less than the ordered dose was given (at least 5 characters)."
MESSAGE_GIVEN_AT_FUTURE = "Cannot be in the future."
MESSAGE_GIVEN_AT_BEFORE_ORDER = "Cannot be before the dose order."
MESSAGE_NUMBER = "Must be a number greater than 0."
MESSAGE_VITALS_NONE = "Give at least one measurement."
MESSAGE_VITALS_STATUS = "Vitals are recorded from the pre-check until discharge."
MESSAGE_TAKEN_AT_BEFORE = "Cannot be before the session opened."
MESSAGE_SPO2_SECONDS = "Must be a whole number of seconds, 0 or more, with an SpO₂ value."
MESSAGE_ALERT_CLEARED = "This alert is already cleared."
MESSAGE_ALERT_NOTE = "Say what was done (at least 5 characters)."
MESSAGE_AE_KIND = "Must be one of: {choices}."
MESSAGE_AE_ONSET = "Must be a time during the session, not in the future."
MESSAGE_AE_ACTION = "Say what was done (at least 5 characters)."
MESSAGE_AE_STATUS = "Adverse events are recorded once the dose is given."
MESSAGE_PAIN = f"Must be a whole number from 0 to {PAIN_MAX}."
MESSAGE_DISSOCIATION_SCALE = "Must be one of: clinician_0_4, cadss_6."
MESSAGE_DISSOCIATION_SCORE = "Must be a whole number from 0 to {high} on this scale."
MESSAGE_RATING_NONE = "Give pain_after or a dissociation rating."
MESSAGE_NOT_DOSED = "The dose has not been given yet."
MESSAGE_DISCHARGE_STATUS = "The patient is already discharged."
MESSAGE_STOP_DISCHARGE = (
    "Hard stop: the discharge criteria are not all met; the patient stays, or a "
    "prescriber overrides with a reason, or the patient leaves against medical advice."
)
MESSAGE_AMA_NOTE = (
    "Record what the patient was told, who was informed and who they left with "
    "(at least 20 characters)."
)
MESSAGE_BOOL = "Must be true or false."
MESSAGE_COMPLETE_STATUS = "The patient must be discharged before the note is completed."
MESSAGE_COMPLETE_MISSING = "Record these before completing the note."
MESSAGE_ALREADY_COMPLETE = "The note is already completed."
MESSAGE_SIGN_FORBIDDEN = "Only a prescriber or the medical director signs a session note."
MESSAGE_SIGN_NOT_COMPLETE = "The nurse completes the note before the prescriber signs it."
MESSAGE_STOP_LEDGER = (
    "Hard stop: the ledger does not balance for this session's draw (drawn {drawn} mg, "
    "given {given} mg, wasted {wasted} mg); record the waste, witnessed, before signing."
)
MESSAGE_STOP_OPEN_SESSION_ALERT = (
    "Hard stop: an in-session alert is still open; a clinician clears it with a note."
)
MESSAGE_ADDENDUM_STATUS = "Addenda are added to a signed note; until then, edit the note."
MESSAGE_ADDENDUM_TEXT = "Write the addendum (5 to 4000 characters)."

AMA_NOTE_MIN = 20


def plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent: 50.000 → "50", 0.960 → "0.96"."""
    return format(value.normalize(), "f")


def _errors(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidInput(MESSAGE_INVALID, errors=errors)


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


def _whole_in(value: object, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _thresholds(policy: ClinicPolicy) -> rules.VitalsThresholds:
    return rules.VitalsThresholds(
        systolic_at=policy.alert_systolic,
        diastolic_at=policy.alert_diastolic,
        hr_above=policy.alert_hr_high,
        hr_below=policy.alert_hr_low,
        spo2_below=policy.alert_spo2,
        spo2_critical_below=policy.alert_spo2_critical,
        spo2_seconds=policy.alert_spo2_seconds,
        rr_below=policy.alert_rr_low,
    )


def _audit_child(user: User, session: TreatmentSession, kind: str, obj: Any, detail: dict) -> None:
    audit(
        user=user,
        action=Action.CREATE,
        clinic_id=session.clinic_id,
        patient_id=session.patient_id,
        object_type=kind,
        object_id=obj.id,
        detail={"session": str(session.id), **detail},
    )


# --- second check and administration -------------------------------------------------------


@dataclass(frozen=True)
class SecondCheck:
    """The second user's own figures, recomputed from the vial in hand."""

    dose_mg: object
    volume_ml: object


def administration_record(
    *,
    user: User,
    second: User,
    session: TreatmentSession,
    check: SecondCheck,
    injection_site: str,
    given_at: datetime | None = None,
    amount_mg: object | None = None,
    partial_reason: str = "",
    infusion_minutes: int | None = None,
    infusion_rate_mg_per_hr: object | None = None,
) -> TreatmentSession:
    """The independent second check and the administration, in one transaction.

    ``second`` (already authenticated by the caller, DESIGN §5a) must be another user who
    documents sessions here; their recomputed mg and mL must equal the order's, or nothing
    is recorded. The ordered volume is drawn from the order's vial through the ledger and
    what was given is recorded against the draw; a partial dose wastes the rest, witnessed
    by the second user. IV needs the infusion's minutes and rate. The session becomes
    ``dosed``."""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    if session.dose_mg is None or session.vial_id is None:
        raise Conflict(MESSAGE_NOT_ORDERED, code="not_ordered")
    if session.status != Status.PRE_CHECK or session.draw_entry_id is not None:
        raise Conflict(MESSAGE_ALREADY_GIVEN, code="already_given")
    errors: list[FieldError] = []
    if second.pk == user.pk or not second.can(Capability.SESSION_DOCUMENT, session.clinic_id):
        errors.append(FieldError("co_sign", MESSAGE_SECOND_CHECKER))
    assert session.volume_ml is not None and session.concentration_mg_per_ml is not None
    their_dose, their_volume = _decimal(check.dose_mg), _decimal(check.volume_ml)
    if their_dose is None:
        errors.append(FieldError("second_check.dose_mg", MESSAGE_NUMBER))
    if their_volume is None:
        errors.append(FieldError("second_check.volume_ml", MESSAGE_NUMBER))
    if (
        their_dose is not None
        and their_volume is not None
        and (their_dose != session.dose_mg or their_volume != session.volume_ml)
    ):
        message = MESSAGE_SECOND_CHECK_DIFFERS.format(
            dose_mg=plain(session.dose_mg),
            volume_ml=plain(session.volume_ml),
            concentration=plain(session.concentration_mg_per_ml),
        )
        errors.append(FieldError("second_check", message))
    site = " ".join((injection_site or "").split())
    if not site or len(site) > 60:
        errors.append(FieldError("injection_site", MESSAGE_ROUTE_SITE))
    now = timezone.now()
    at = given_at or now
    if at > now + timedelta(minutes=1):
        errors.append(FieldError("given_at", MESSAGE_GIVEN_AT_FUTURE))
    elif session.ordered_at is not None and at < session.ordered_at:
        errors.append(FieldError("given_at", MESSAGE_GIVEN_AT_BEFORE_ORDER))
    # What the syringe holds: the ordered volume at the vial's strength, as the ledger
    # counts it (0.01 mL, 0.01 mg). At most strengths this is the ordered dose; where the
    # volume had to be rounded it differs by less than half a step, and the record keeps it.
    drawn_mg = ledger.mg_of(session.volume_ml, session.concentration_mg_per_ml)
    given = drawn_mg if amount_mg is None else _decimal(amount_mg)
    reason = " ".join((partial_reason or "").split())
    given_ml: Decimal | None = None
    if given is None:
        errors.append(FieldError("amount_mg", MESSAGE_NUMBER))
    elif given > drawn_mg:
        errors.append(FieldError("amount_mg", MESSAGE_AMOUNT_OVER.format(dose_mg=plain(drawn_mg))))
    else:
        given_ml = given / session.concentration_mg_per_ml
        if given < drawn_mg and given_ml != given_ml.quantize(LEDGER_ML):
            step = plain(LEDGER_ML * session.concentration_mg_per_ml)
            errors.append(
                FieldError(
                    "amount_mg",
                    MESSAGE_AMOUNT_STEP.format(
                        step=step, concentration=plain(session.concentration_mg_per_ml)
                    ),
                )
            )
        elif given < drawn_mg and len(reason) < 5:
            errors.append(FieldError("partial_reason", MESSAGE_PARTIAL_REASON))
        elif given < drawn_mg and not ledger.can_handle(second, session.clinic_id):
            errors.append(FieldError("co_sign", MESSAGE_PARTIAL_WITNESS))
    route = session.course.protocol.route
    rate: Decimal | None = None
    if route == rules.ROUTE_IV:
        if _whole_in(infusion_minutes, 1, 240) is None:
            errors.append(FieldError("infusion_minutes", rules.RULE_INFUSION_REQUIRED))
        rate = _decimal(infusion_rate_mg_per_hr)
        if rate is None:
            errors.append(FieldError("infusion_rate_mg_per_hr", MESSAGE_IV_RATE))
    elif infusion_minutes is not None or infusion_rate_mg_per_hr is not None:
        errors.append(FieldError("infusion_minutes", rules.RULE_INFUSION_IV_ONLY))
    _errors(errors)
    assert given is not None and given_ml is not None and session.vial is not None
    with transaction.atomic():
        draw = ledger.draw(
            user=user,
            vial=session.vial,
            ml=session.volume_ml,
            session_id=session.id,
            patient=session.patient,
            at=at,
        )
        ledger.administer(user=user, draw_entry=draw, mg=given, at=at)
        if given < drawn_mg:
            assert given_ml is not None
            ledger.waste(
                user=user,
                witness=second,
                vial=session.vial,
                ml=session.volume_ml - given_ml,
                reason=f"Partial dose: {reason}",
                draw_entry=draw,
                at=at,
            )
        session.verified_by = second
        session.verified_at = now
        session.verified_dose_mg = their_dose
        session.verified_volume_ml = their_volume
        session.given_at = at
        session.given_by = user
        session.route = route
        session.injection_site = site
        session.amount_mg = given
        session.amount_ml = given_ml.quantize(rules.VOLUME_PLACES, rounding=ROUND_HALF_UP)
        session.infusion_minutes = infusion_minutes if route == rules.ROUTE_IV else None
        session.infusion_rate_mg_per_hr = rate
        session.draw_entry = draw
        session.status = Status.DOSED
        _save(session)
        _audit(
            user,
            Action.UPDATE,
            session,
            {
                "administration": {
                    "amount_mg": str(given),
                    "verified_by": str(second.id),
                    "draw": str(draw.id),
                }
            },
        )
    return session


# --- vitals and in-session alerts ----------------------------------------------------------

VITALS_OPEN = (Status.PRE_CHECK, Status.DOSED, Status.MONITORING, Status.READY)


@dataclass(frozen=True)
class VitalsResult:
    observations: list[Observation]
    alerts: list[SessionAlert]


ALERT_SUMMARIES = {
    rules.ALERT_BP_HIGH: "Blood pressure {systolic}/{diastolic} mmHg at or above the alert level",
    rules.ALERT_HR_HIGH: "Heart rate {heart_rate}/min above the alert level",
    rules.ALERT_HR_LOW: "Heart rate {heart_rate}/min below the alert level",
    rules.ALERT_SPO2_LOW: "SpO₂ {spo2} % below the alert level, sustained",
    rules.ALERT_SPO2_CRITICAL: "SpO₂ {spo2} % below the critical level",
    rules.ALERT_RR_LOW: "Respiratory rate {respiratory_rate}/min below the alert level",
}


def _spo2_samples(session: TreatmentSession) -> list[tuple[datetime, int]]:
    rows = Observation.objects.filter(
        context_kind=Observation.ContextKind.SESSION,
        context_id=session.id,
        code="2708-6",
    ).values_list("taken_at", "value")
    return [(at, int(value)) for at, value in rows]


def vitals_record(
    *,
    user: User,
    session: TreatmentSession,
    values: dict[str, Any],
    taken_at: datetime | None = None,
    spo2_low_seconds: int | None = None,
) -> VitalsResult:
    """A set of vitals in the session (as observations with the session as context).

    Out-of-range readings (the site's policy, clinical.md §5) open in-session alerts in
    the same transaction. A saturation below the alert level counts as sustained when the
    monitor showed it for more than the policy's seconds (``spo2_low_seconds``) or when
    consecutive readings of the session stay low for longer. The first reading after the
    dose moves the session from dosed to monitoring."""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    errors: list[FieldError] = []
    if session.status not in VITALS_OPEN:
        raise Conflict(MESSAGE_VITALS_STATUS, code="session_not_monitoring")
    clean = {k: v for k, v in values.items() if v is not None}
    if not clean:
        errors.append(FieldError("systolic", MESSAGE_VITALS_NONE))
    if ("systolic" in clean) != ("diastolic" in clean):
        errors.append(
            FieldError("diastolic" if "systolic" in clean else "systolic", "Give both together.")
        )
    now = timezone.now()
    at = taken_at or now
    if at < session.opened_at:
        errors.append(FieldError("taken_at", MESSAGE_TAKEN_AT_BEFORE))
    if spo2_low_seconds is not None and (
        _whole_in(spo2_low_seconds, 0, 3600) is None or "spo2" not in clean
    ):
        errors.append(FieldError("spo2_low_seconds", MESSAGE_SPO2_SECONDS))
    _errors(errors)
    policy = clinic_policy_current(clinic=session.clinic)
    thresholds = _thresholds(policy)
    with transaction.atomic():
        created = observations_record(
            user=user,
            patient=session.patient,
            clinic=session.clinic,
            taken_at=at,
            measurements={OBSERVATION_KEYS.get(k, k): v for k, v in clean.items()},
            context_kind=Observation.ContextKind.SESSION,
            context_id=session.id,
        )
        samples = _spo2_samples(session)
        reading = rules.VitalsReading(
            systolic=clean.get("systolic"),
            diastolic=clean.get("diastolic"),
            heart_rate=clean.get("heart_rate"),
            respiratory_rate=clean.get("respiratory_rate"),
            spo2=samples if "spo2" in clean else (),
        )
        names = rules.in_session_alerts(reading, thresholds)
        if spo2_low_seconds and rules.ALERT_SPO2_LOW not in names:
            # The monitor's own duration: the low run began that long before this reading.
            value = int(clean["spo2"])
            run = [(at - timedelta(seconds=spo2_low_seconds), value), (at, value)]
            if rules.spo2_sustained_low(run, thresholds.spo2_below, thresholds.spo2_seconds):
                names.append(rules.ALERT_SPO2_LOW)
        # A sustained-low run seen again is the same alert while one is still open.
        open_rules = set(
            session.alerts.filter(cleared_at__isnull=True).values_list("rule", flat=True)
        )
        alerts: list[SessionAlert] = []
        for name in names:
            if name in open_rules:
                continue
            alert = SessionAlert(
                session=session,
                rule=name,
                summary=ALERT_SUMMARIES[name].format(**{k: clean.get(k) for k in VITAL_FIELDS}),
                reading_at=at,
                raised_at=now,
                raised_by=user,
            )
            _save(alert)
            _audit_child(user, session, "session_alert", alert, {"rule": name})
            alerts.append(alert)
        if session.status == Status.DOSED and session.given_at and at >= session.given_at:
            session.status = Status.MONITORING
            session.save(update_fields=["status", "updated_at"])
    return VitalsResult(created, alerts)


def session_alert_clear(*, user: User, alert: SessionAlert, note: str) -> SessionAlert:
    """A clinician in the session clears an in-session alert with a note of what was done."""
    session = alert.session
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    text = " ".join((note or "").split())
    if len(text) < 5 or len(text) > 1000:
        _errors([FieldError("note", MESSAGE_ALERT_NOTE)])
    with transaction.atomic():
        locked = SessionAlert.objects.select_for_update().get(id=alert.id)
        if locked.cleared_at is not None:
            raise Conflict(MESSAGE_ALERT_CLEARED, code="already_cleared")
        locked.cleared_at = timezone.now()
        locked.cleared_by = user
        locked.note = text
        locked.save(update_fields=["cleared_at", "cleared_by", "note", "updated_at"])
        _audit(user, Action.UPDATE, session, {"alert_cleared": str(locked.id)})
    return locked


# --- adverse events and ratings ------------------------------------------------------------


def adverse_event_record(
    *,
    user: User,
    session: TreatmentSession,
    kind: str,
    severity: str,
    onset: datetime,
    action: str,
    description: str = "",
    medication: str = "",
) -> AdverseEvent:
    """An adverse event during the session: kind, severity, onset, the action taken and
    any medication given (name, dose, route, time as the clinician writes it)."""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    if session.given_at is None:
        raise Conflict(MESSAGE_AE_STATUS, code="not_dosed")
    errors: list[FieldError] = []
    if kind not in AdverseEvent.Kind.values:
        choices = ", ".join(AdverseEvent.Kind.values)
        errors.append(FieldError("kind", MESSAGE_AE_KIND.format(choices=choices)))
    if severity not in AdverseEvent.Severity.values:
        choices = ", ".join(AdverseEvent.Severity.values)
        errors.append(FieldError("severity", MESSAGE_AE_KIND.format(choices=choices)))
    now = timezone.now()
    if onset is None or onset < session.opened_at or onset > now + timedelta(minutes=1):
        errors.append(FieldError("onset", MESSAGE_AE_ONSET))
    action_text = (action or "").strip()
    if len(action_text) < 5:
        errors.append(FieldError("action", MESSAGE_AE_ACTION))
    if len(description or "") > 500:
        errors.append(FieldError("description", "At most 500 characters."))
    if len(medication or "") > 200:
        errors.append(FieldError("medication", "At most 200 characters."))
    _errors(errors)
    event = AdverseEvent(
        session=session,
        kind=kind,
        severity=severity,
        onset=onset,
        description=(description or "").strip(),
        action=action_text,
        medication=(medication or "").strip(),
        recorded_by=user,
    )
    _save(event)
    _audit_child(user, session, "adverse_event", event, {"kind": kind, "severity": severity})
    return event


def ratings_record(
    *,
    user: User,
    session: TreatmentSession,
    pain_after: int | None = None,
    dissociation_scale: str | None = None,
    dissociation_score: int | None = None,
) -> TreatmentSession:
    """Pain 0–10 before discharge and dissociation as a clinician 0–4 rating or a CADSS-6
    total (0–24), once the dose is given. (Pain before the dose is part of the pre-check.)"""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    if session.given_at is None:
        raise Conflict(MESSAGE_NOT_DOSED, code="not_dosed")
    errors: list[FieldError] = []
    fields: list[str] = []
    if pain_after is not None:
        if _whole_in(pain_after, 0, PAIN_MAX) is None:
            errors.append(FieldError("pain_after", MESSAGE_PAIN))
        session.pain_after = pain_after
        fields.append("pain_after")
    if dissociation_scale is not None or dissociation_score is not None:
        high = DISSOCIATION_SCALES.get(dissociation_scale or "")
        if high is None:
            errors.append(FieldError("dissociation_scale", MESSAGE_DISSOCIATION_SCALE))
        elif _whole_in(dissociation_score, 0, high) is None:
            errors.append(
                FieldError("dissociation_score", MESSAGE_DISSOCIATION_SCORE.format(high=high))
            )
        session.dissociation_scale = dissociation_scale or ""
        session.dissociation_score = dissociation_score
        session.dissociation_at = timezone.now()
        fields += ["dissociation_scale", "dissociation_score", "dissociation_at"]
    if not fields:
        errors.append(FieldError("pain_after", MESSAGE_RATING_NONE))
    _errors(errors)
    with transaction.atomic():
        if pain_after is not None:
            observations_record(
                user=user,
                patient=session.patient,
                clinic=session.clinic,
                taken_at=timezone.now(),
                measurements={PAIN_OBSERVATION: pain_after},
                context_kind=Observation.ContextKind.SESSION,
                context_id=session.id,
            )
        session.save(update_fields=[*fields, "updated_at"])
    _audit(user, Action.UPDATE, session, {"ratings": fields})
    return session


# --- discharge ---------------------------------------------------------------------------------

DISCHARGE_CHECKS = (
    "spo2_room_air",
    "mental_status_baseline",
    "gait_steady",
    "nausea_controlled",
    "escort_present",
    "aftercare_acknowledged",
)
DISCHARGE_LABELS = {
    "aldrete": "Modified Aldrete score at or above the site's threshold",
    "spo2_room_air": "SpO₂ above 92 % on room air",
    "mental_status_baseline": "Back to baseline mental status",
    "gait_steady": "Steady gait",
    "nausea_controlled": "Nausea controlled",
    "escort_present": "Escort present",
    "aftercare_acknowledged": "After-care instructions acknowledged",
    "observation_time": "Minimum observation time after the dose",
    "alerts_cleared": "In-session alerts cleared",
}
DISCHARGE_ITEM_FIELDS = ("activity", "respiration", "consciousness", "spo2_points")


@dataclass(frozen=True)
class DischargeAssessment:
    aldrete: rules.AldreteScore
    threshold: int
    unmet: list[str]
    observation_ends_at: datetime


def discharge_assess(
    session: TreatmentSession, data: dict[str, Any], now: datetime
) -> DischargeAssessment:
    """Score the discharge criteria (clinical.md §1.5, §5): the modified Aldrete score with
    its circulation item against the pre-dose systolic pressure (the site's variant), the
    five clinical checks, the escort, after-care, the minimum observation time since the
    dose and no open in-session alert. Raises InvalidInput naming each bad field."""
    errors: list[FieldError] = []
    for name in (*DISCHARGE_CHECKS,):
        if not isinstance(data.get(name), bool):
            errors.append(FieldError(name, MESSAGE_BOOL))
    points: dict[str, int] = {}
    for name in DISCHARGE_ITEM_FIELDS:
        value = _whole_in(data.get(name), 0, 2)
        if value is None:
            errors.append(FieldError(name, rules.RULE_ITEM_POINTS))
        else:
            points[name] = value
    now_sbp = data.get("systolic")
    if _whole_in(now_sbp, 1, 300) is None:
        errors.append(FieldError("systolic", "The systolic pressure now, mmHg (1–300)."))
    pre_sbp = (session.pre_check or {}).get("systolic")
    if pre_sbp is None:
        errors.append(FieldError("systolic", "No pre-dose systolic pressure is recorded."))
    _errors(errors)
    policy = clinic_policy_current(clinic=session.clinic)
    score = rules.aldrete(
        activity=points["activity"],
        respiration=points["respiration"],
        consciousness=points["consciousness"],
        spo2_points=points["spo2_points"],
        pre_sbp=pre_sbp,
        now_sbp=now_sbp,
        variant=policy.aldrete_circulation,
    )
    unmet: list[str] = []
    if not rules.discharge_ready(score, policy.aldrete_threshold):
        unmet.append("aldrete")
    unmet += [name for name in DISCHARGE_CHECKS if data.get(name) is not True]
    assert session.given_at is not None
    minutes = policy.min_observation_minutes
    if not rules.minimum_observation_met(session.given_at, now, minutes):
        unmet.append("observation_time")
    if session.alerts.filter(cleared_at__isnull=True).exists():
        unmet.append("alerts_cleared")
    return DischargeAssessment(
        score, policy.aldrete_threshold, unmet, session.given_at + timedelta(minutes=minutes)
    )


def discharge_record(
    *,
    user: User,
    session: TreatmentSession,
    data: dict[str, Any],
    leave_now: bool = True,
    against_medical_advice: bool = False,
    ama_note: str = "",
) -> DischargeAssessment | None:
    """Record the discharge assessment. When every criterion is met the patient leaves
    (``discharged``) or, with ``leave_now`` false, waits ready (``ready``). An unmet
    criterion is a hard stop (rule ``discharge``) unless a prescriber has overridden it
    with a reason. Leaving against medical advice is its own path: a note of what the
    patient was told and who was informed, no criteria required."""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    if session.given_at is None:
        raise Conflict(MESSAGE_NOT_DOSED, code="not_dosed")
    if session.status == Status.DISCHARGED:
        raise Conflict(MESSAGE_DISCHARGE_STATUS, code="already_discharged")
    now = timezone.now()
    if against_medical_advice:
        note = " ".join((ama_note or "").split())
        if len(note) < AMA_NOTE_MIN or len(note) > 2000:
            _errors([FieldError("ama_note", MESSAGE_AMA_NOTE)])
        with transaction.atomic():
            session.discharge = {"against_medical_advice": True, "ama_note": note}
            session.discharge_kind = "against_advice"
            _discharged(user, session, now)
        return None
    assessment = discharge_assess(session, data, now)
    overridden = session.overrides.filter(rule=RULE_DISCHARGE).exists()
    if assessment.unmet and not overridden:
        raise HardStopUnmet(assessment.unmet)
    record = {
        "aldrete": assessment.aldrete.items,
        "aldrete_total": assessment.aldrete.total,
        "aldrete_threshold": assessment.threshold,
        "systolic": data.get("systolic"),
        **{name: data.get(name) for name in DISCHARGE_CHECKS},
        "escort_name": " ".join(str(data.get("escort_name") or "").split())[:200],
        "unmet": assessment.unmet,
        "assessed_at": now.isoformat(),
        "assessed_by": str(user.id),
    }
    with transaction.atomic():
        session.discharge = record
        if leave_now:
            session.discharge_kind = "override" if assessment.unmet else "criteria_met"
            _discharged(user, session, now)
        else:
            session.status = Status.READY
            session.save(update_fields=["discharge", "status", "updated_at"])
            _audit(user, Action.UPDATE, session, {"discharge_assessed": record["aldrete_total"]})
    return assessment


class HardStopUnmet(HardStop):
    def __init__(self, unmet: list[str]) -> None:
        super().__init__(MESSAGE_STOP_DISCHARGE, rule=RULE_DISCHARGE)
        self.extra["unmet"] = unmet
        self.extra["overridable"] = True


def _discharged(user: User, session: TreatmentSession, now: datetime) -> None:
    session.status = Status.DISCHARGED
    session.discharged_at = now
    session.discharged_by = user
    session.save(
        update_fields=[
            "discharge", "discharge_kind", "status", "discharged_at", "discharged_by", "updated_at"
        ]
    )  # fmt: skip
    _audit(user, Action.UPDATE, session, {"discharged": session.discharge_kind})
    # The visit is over: the appointment is completed (its check-in time kept).
    Appointment.objects.filter(
        id=session.appointment_id, status=Appointment.Status.CHECKED_IN
    ).update(status=Appointment.Status.COMPLETED, updated_at=now)


# --- complete, sign, addenda -------------------------------------------------------------------


def completion_missing(session: TreatmentSession) -> list[str]:
    missing = []
    if session.pain_before is None:
        missing.append("pain_before")
    if session.discharge_kind != "against_advice":
        if session.pain_after is None:
            missing.append("pain_after")
        if session.dissociation_score is None:
            missing.append("dissociation_score")
    return missing


def session_complete(*, user: User, session: TreatmentSession) -> TreatmentSession:
    """The nurse's completion of the note after discharge: pain before and after and the
    dissociation rating must be recorded (pain before only, when the patient left against
    medical advice)."""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    _require_open(session)
    if session.status != Status.DISCHARGED:
        raise Conflict(MESSAGE_COMPLETE_STATUS, code="not_discharged")
    if session.completed_at is not None:
        raise Conflict(MESSAGE_ALREADY_COMPLETE, code="already_completed")
    missing = completion_missing(session)
    if missing:
        _errors([FieldError(name, MESSAGE_COMPLETE_MISSING) for name in missing])
    session.completed_by = user
    session.completed_at = timezone.now()
    session.save(update_fields=["completed_by", "completed_at", "updated_at"])
    _audit(user, Action.UPDATE, session, {"completed": True})
    return session


def ledger_imbalance(session: TreatmentSession) -> ledger.DrawAccount | None:
    """The draw's account when it does not balance (None when it does or nothing was
    drawn)."""
    if session.draw_entry_id is None:
        return None
    entry = LedgerEntry.objects.prefetch_related("outcomes__reversed_by").get(
        id=session.draw_entry_id
    )
    account = ledger.draw_account(entry)
    return None if account.balanced else account


def session_sign(*, user: User, session: TreatmentSession) -> TreatmentSession:
    """The prescriber's signature: the note must be completed, every in-session alert
    cleared and the ledger balanced for the session's draw (drawn = given + wasted). A
    signed note is immutable. The last session of the series moves the course to
    ``awaiting_reassessment``."""
    _require(user, Capability.SESSION_SIGN, session.clinic_id, MESSAGE_SIGN_FORBIDDEN)
    _require_open(session)
    if session.completed_at is None:
        raise Conflict(MESSAGE_SIGN_NOT_COMPLETE, code="not_completed")
    if session.alerts.filter(cleared_at__isnull=True).exists():
        raise HardStop(MESSAGE_STOP_OPEN_SESSION_ALERT, rule=RULE_OPEN_SESSION_ALERT)
    account = ledger_imbalance(session)
    if account is not None:
        raise HardStop(
            MESSAGE_STOP_LEDGER.format(
                drawn=account.drawn_mg, given=account.administered_mg, wasted=account.wasted_mg
            ),
            rule=RULE_LEDGER,
        )
    now = timezone.now()
    with transaction.atomic():
        locked = TreatmentSession.objects.select_for_update().get(id=session.id)
        if locked.is_closed:
            raise Conflict(
                f"This session is {locked.status}; it cannot be changed.", code="session_closed"
            )
        session.status = Status.SIGNED
        session.signed_by = user
        session.signed_at = now
        session.save(update_fields=["status", "signed_by", "signed_at", "updated_at"])
        _audit(user, Action.UPDATE, session, {"signed": True})
        course_progress(user=user, session=session)
    return session


def course_progress(*, user: User, session: TreatmentSession) -> bool:
    """After a signed session: when no other session of the series is still to come (booked
    or checked in without a closed session), the course moves to awaiting_reassessment.
    Answers whether it moved."""
    course = Course.objects.select_for_update().get(id=session.course_id)
    if course.status not in (Course.Status.SCHEDULED, Course.Status.IN_PROGRESS):
        return False
    remaining = (
        Appointment.objects.filter(
            course=course,
            kind=Appointment.Kind.SESSION,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN],
        )
        .exclude(id=session.appointment_id)
        .exclude(treatment_session__status__in=[Status.SIGNED, Status.ABORTED])
        .exists()
    )
    if remaining:
        return False
    previous = course.status
    course.status = Course.Status.AWAITING_REASSESSMENT
    course.save(update_fields=["status", "updated_at"])
    audit(
        user=user,
        action=Action.UPDATE,
        clinic_id=course.clinic_id,
        patient_id=course.patient_id,
        object_type="course",
        object_id=course.id,
        detail={
            "status": {"from": previous, "to": course.status},
            "after_session": str(session.id),
        },
    )
    return True


def addendum_add(*, user: User, session: TreatmentSession, text: str) -> SessionAddendum:
    """An addendum to a signed note (author and time kept); the original stays as it was."""
    _require(user, Capability.SESSION_DOCUMENT, session.clinic_id, MESSAGE_DOCUMENT_FORBIDDEN)
    if session.status != Status.SIGNED:
        raise Conflict(MESSAGE_ADDENDUM_STATUS, code="not_signed")
    body = (text or "").strip()
    if not 5 <= len(body) <= 4000:
        _errors([FieldError("text", MESSAGE_ADDENDUM_TEXT)])
    addendum = SessionAddendum(session=session, author=user, text=body)
    _save(addendum)
    _audit_child(user, session, "session_addendum", addendum, {})
    return addendum


__all__ = [
    "REASON_MAX",
    "RULE_DISCHARGE",
    "addendum_add",
    "administration_record",
    "adverse_event_record",
    "discharge_record",
    "ratings_record",
    "session_alert_clear",
    "session_complete",
    "session_sign",
    "vitals_record",
]
