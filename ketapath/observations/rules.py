"""Pure rules: measurement kinds and their codes, impossible-value checks, the structured
risk assessment that clears a safety alert, and opening-hours time counting.

Codes. Vital-sign LOINC codes come from clinical.md §4.4 ("Other codes"), where systolic
8480-6 and diastolic 8462-4 are marked **(unverified)** — keep that note until they are
checked against a LOINC release. Pain 72514-3 is from clinical.md §2.1 (pain intensity
NRS). Body weight 29463-7 and body height 8302-2 are not in clinical.md; they are the
codes fixed by the HL7 FHIR vital-signs profiles (hl7.org/fhir/bodyweight.html and
hl7.org/fhir/bodyheight.html, value set observation-vitalsign-measurement). Units are
UCUM as the same profiles use them.

The range checks below reject values that cannot be a real measurement (a typing or unit
slip). They are not alert thresholds: an abnormal but possible value is stored as given.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ketapath.core.errors import FieldError


@dataclass(frozen=True)
class VitalKind:
    key: str
    code: str
    display: str
    unit: str
    label: str
    minimum: Decimal
    maximum: Decimal
    # Why the bounds mark an impossible value (shown to developers, cited in tests).
    reason: str
    whole: bool = False
    min_inclusive: bool = False


SYSTOLIC = "systolic_bp"
DIASTOLIC = "diastolic_bp"

VITAL_KINDS: tuple[VitalKind, ...] = (
    VitalKind(
        SYSTOLIC, "8480-6", "Systolic blood pressure", "mm[Hg]", "Systolic BP (mmHg)",
        Decimal(0), Decimal(300),
        "A pressure must be above 0; standard cuffs read to 300 mmHg, so more is a slip.",
        whole=True,
    ),
    VitalKind(
        DIASTOLIC, "8462-4", "Diastolic blood pressure", "mm[Hg]", "Diastolic BP (mmHg)",
        Decimal(0), Decimal(300),
        "A pressure must be above 0; standard cuffs read to 300 mmHg, so more is a slip.",
        whole=True,
    ),
    VitalKind(
        "heart_rate", "8867-4", "Heart rate", "/min", "Heart rate (beats/min)",
        Decimal(0), Decimal(300),
        "A living patient's rate is above 0; above 300 beats a minute is device artefact.",
        whole=True,
    ),
    VitalKind(
        "spo2", "2708-6", "Oxygen saturation in Arterial blood", "%", "SpO₂ (%)",
        Decimal(0), Decimal(100),
        "A saturation is a share of haemoglobin: it cannot be 0 or less, nor above 100 %.",
        whole=True,
    ),
    VitalKind(
        "respiratory_rate", "9279-1", "Respiratory rate", "/min", "Respiratory rate (/min)",
        Decimal(0), Decimal(100),
        "Breathing is counted above 0; above 100 breaths a minute is not a real count.",
        whole=True,
    ),
    VitalKind(
        "body_weight", "29463-7", "Body weight", "kg", "Weight (kg)",
        Decimal(0), Decimal(400),
        "Weight is above 0; above 400 kg is taken as a unit slip (pounds typed as kg).",
    ),
    VitalKind(
        "body_height", "8302-2", "Body height", "cm", "Height (cm)",
        Decimal(0), Decimal(275),
        "Height is above 0; the tallest person on record measured 272 cm.",
    ),
    VitalKind(
        "pain", "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        "{score}", "Pain (0–10)", Decimal(0), Decimal(10),
        "The numeric rating scale runs in whole points from 0 to 10 (clinical.md §2.1).",
        whole=True, min_inclusive=True,
    ),
)  # fmt: skip

KINDS_BY_KEY: dict[str, VitalKind] = {k.key: k for k in VITAL_KINDS}
KINDS_BY_CODE: dict[str, VitalKind] = {k.code: k for k in VITAL_KINDS}

MESSAGE_NOT_A_NUMBER = "Enter a number."
MESSAGE_TOO_PRECISE = "Use at most two decimal places."
MESSAGE_WHOLE = "Enter a whole number."
MESSAGE_UNKNOWN_CODE = "Not a measurement this system records."
MESSAGE_DUPLICATE_CODE = "Each measurement may appear once in a record."
MESSAGE_NO_MEASUREMENTS = "Enter at least one measurement."
MESSAGE_SYSTOLIC_BELOW_DIASTOLIC = "Systolic pressure cannot be lower than diastolic pressure."


def message_range(kind: VitalKind) -> str:
    low = "at least" if kind.min_inclusive else "more than"
    return f"{kind.label} must be {low} {kind.minimum} and at most {kind.maximum}."


def check_value(kind: VitalKind, raw: Any) -> tuple[Decimal | None, str | None]:
    """The value as a Decimal, or the rule it breaks."""
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None, MESSAGE_NOT_A_NUMBER
    if not value.is_finite():
        return None, MESSAGE_NOT_A_NUMBER
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        return None, MESSAGE_TOO_PRECISE
    if kind.whole and value != value.to_integral_value():
        return None, MESSAGE_WHOLE
    too_low = value < kind.minimum if kind.min_inclusive else value <= kind.minimum
    if too_low or value > kind.maximum:
        return None, message_range(kind)
    return value, None


def check_measurements(
    measurements: Mapping[str, Any],
) -> tuple[dict[str, Decimal], list[FieldError]]:
    """Check a set of measurements taken together, keyed by kind key (field names).

    Returns the parsed values and the errors, each naming its field. Systolic below
    diastolic in one record cannot be a real reading and is refused on the systolic field.
    """
    values: dict[str, Decimal] = {}
    errors: list[FieldError] = []
    for key, raw in measurements.items():
        kind = KINDS_BY_KEY.get(key)
        if kind is None:
            errors.append(FieldError(key, MESSAGE_UNKNOWN_CODE))
            continue
        value, problem = check_value(kind, raw)
        if problem is not None:
            errors.append(FieldError(key, problem))
        elif value is not None:
            values[key] = value
    if SYSTOLIC in values and DIASTOLIC in values and values[SYSTOLIC] < values[DIASTOLIC]:
        errors.append(FieldError(SYSTOLIC, MESSAGE_SYSTOLIC_BELOW_DIASTOLIC))
    if not values and not errors:
        errors.append(FieldError("measurements", MESSAGE_NO_MEASUREMENTS))
    return values, errors


# --- Clearing a safety alert -------------------------------------------------------------

RISK_LEVELS: dict[str, str] = {"low": "Low", "moderate": "Moderate", "high": "High"}
ASSESSMENT_METHODS: dict[str, str] = {
    "clinical_interview": "Clinical interview",
    "structured_screening": "Structured screening questions",
}
PLAN_MIN_LENGTH = 20

MESSAGE_ASSESSED_AT_REQUIRED = "Enter when the risk assessment was done."
MESSAGE_ASSESSED_AT_INVALID = "Enter the assessment time as a date and time."
MESSAGE_ASSESSED_AT_FUTURE = "The assessment time cannot be in the future."
MESSAGE_ASSESSED_AT_NOT_TODAY = (
    "The risk assessment must be done today (clinic time) to clear the alert."
)
MESSAGE_RISK_LEVEL = "Choose the risk level you assessed: low, moderate or high."
MESSAGE_METHOD = "Choose how you assessed the risk."
MESSAGE_FINDINGS_REQUIRED = "Describe what the assessment found."
MESSAGE_PLAN_SHORT = (
    f"Write the safety plan in at least {PLAN_MIN_LENGTH} characters: what happens next, "
    "and who does it."
)


def _parse_moment(raw: Any, zone: ZoneInfo) -> datetime | None:
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str) and raw.strip():
        try:
            moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    # A time without an offset is a wall-clock time at the clinic.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def check_assessment(
    assessment: Mapping[str, Any], plan: str, *, now: datetime, time_zone: str
) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate the clinician's same-day risk assessment and plan.

    The clinician records the risk level; the software only checks that one was chosen.
    ``assessed_at`` must fall on today's local date at the clinic and not after ``now``.
    Errors name fields as ``assessment.<name>`` and ``plan``.
    """
    zone = ZoneInfo(time_zone)
    errors: list[FieldError] = []
    raw_at = assessment.get("assessed_at")
    assessed_at = _parse_moment(raw_at, zone)
    if raw_at in (None, ""):
        errors.append(FieldError("assessment.assessed_at", MESSAGE_ASSESSED_AT_REQUIRED))
    elif assessed_at is None:
        errors.append(FieldError("assessment.assessed_at", MESSAGE_ASSESSED_AT_INVALID))
    elif assessed_at > now:
        errors.append(FieldError("assessment.assessed_at", MESSAGE_ASSESSED_AT_FUTURE))
    elif assessed_at.astimezone(zone).date() != now.astimezone(zone).date():
        errors.append(FieldError("assessment.assessed_at", MESSAGE_ASSESSED_AT_NOT_TODAY))
    risk_level = assessment.get("risk_level")
    if risk_level not in RISK_LEVELS:
        errors.append(FieldError("assessment.risk_level", MESSAGE_RISK_LEVEL))
    method = assessment.get("method")
    if method not in ASSESSMENT_METHODS:
        errors.append(FieldError("assessment.method", MESSAGE_METHOD))
    findings = assessment.get("findings")
    findings = findings.strip() if isinstance(findings, str) else ""
    if not findings:
        errors.append(FieldError("assessment.findings", MESSAGE_FINDINGS_REQUIRED))
    plan = plan.strip() if isinstance(plan, str) else ""
    if len(plan) < PLAN_MIN_LENGTH:
        errors.append(FieldError("plan", MESSAGE_PLAN_SHORT))
    if errors:
        return {}, errors
    assert assessed_at is not None
    cleaned = {
        "assessed_at": assessed_at.astimezone(zone).isoformat(),
        "risk_level": risk_level,
        "method": method,
        "findings": findings,
    }
    return cleaned, []


# --- Opening-hours time ------------------------------------------------------------------


class HoursLike(Protocol):
    weekday: int
    opens: time
    closes: time


class ClosureLike(Protocol):
    start_date: date
    end_date: date


def opening_minutes_between(
    start: datetime,
    end: datetime,
    hours: Iterable[HoursLike],
    closures: Iterable[ClosureLike],
    tz: str | ZoneInfo,
) -> int:
    """Whole minutes between two moments that fall inside the site's opening hours.

    Hours are wall-clock times in the site's zone (0 = Monday); closure days count
    nothing. Differences are taken in UTC so a day with a DST change counts its real
    length (aware datetimes sharing one tzinfo subtract as wall-clock time otherwise).
    """
    if end <= start:
        return 0
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    by_day: dict[int, list[tuple[time, time]]] = {}
    for h in hours:
        by_day.setdefault(int(h.weekday), []).append((h.opens, h.closes))
    closed = [(c.start_date, c.end_date) for c in closures]
    utc = ZoneInfo("UTC")
    start_utc, end_utc = start.astimezone(utc), end.astimezone(utc)
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    seconds = 0.0
    while day <= last:
        if not any(first <= day <= final for first, final in closed):
            for opens, closes in by_day.get(day.weekday(), []):
                lo = datetime.combine(day, opens, tzinfo=zone).astimezone(utc)
                hi = datetime.combine(day, closes, tzinfo=zone).astimezone(utc)
                lo, hi = max(lo, start_utc), min(hi, end_utc)
                if hi > lo:
                    seconds += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return int(seconds // 60)


def is_open_at(
    moment: datetime,
    hours: Iterable[HoursLike],
    closures: Iterable[ClosureLike],
    tz: str | ZoneInfo,
) -> bool:
    """Whether the site is open at ``moment`` (inside its hours, not on a closure day)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    local = moment.astimezone(zone)
    day = local.date()
    if any(c.start_date <= day <= c.end_date for c in closures):
        return False
    wall = local.time().replace(tzinfo=None)
    return any(int(h.weekday) == day.weekday() and h.opens <= wall < h.closes for h in hours)
