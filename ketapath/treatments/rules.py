"""Clinical rules of a ketamine session: pure functions over plain values (Decimals, ints,
datetimes).

Every threshold here is a default from ``reference/clinical.md`` (§1.5 discharge and the
modified Aldrete score, §5 vital signs and monitoring) or the design (DESIGN §5b dose
rounding), cited where it is encoded. The clinic's own values live in
``clinics.ClinicPolicy`` and are passed in by the caller; the defaults below equal the
policy's defaults. The rules flag and block; a prescriber decides and may override a hard
stop with a reason (DESIGN §6).

Bad input raises :class:`RuleInputError` (a ``ValueError``) naming each field and its rule.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from enum import StrEnum

# --- input checking -----------------------------------------------------------------------

RULE_NOT_A_NUMBER = "Must be a number."
RULE_POSITIVE = "Must be a number greater than 0."
RULE_WHOLE_POSITIVE = "Must be a whole number greater than 0."
RULE_WHOLE_NOT_NEGATIVE = "Must be a whole number, 0 or more."
RULE_WEIGHT_SANITY = (
    "Must be between {low} and {high} kg; check the unit (kg, not lb) and the decimal point."
)
RULE_RANGE_SHAPE = "Give two numbers: the minimum and the maximum mg/kg."
RULE_RANGE_ORDER = "The minimum must not be above the maximum."
RULE_ROUNDS_TO_ZERO = "The dose rounds to 0 mg at this step; use a smaller step."
RULE_SCALE = "Out of any workable scale (10^-9 to 10^9); check the number."
RULE_ROUTE = "Must be one of: {choices}."
RULE_INFUSION_IV_ONLY = "Applies to IV sessions only."
RULE_INFUSION_REQUIRED = "Required for an IV session: the infusion's length in minutes."
RULE_ITEM_POINTS = "Must be 0, 1 or 2."
RULE_CIRCULATION_SOURCE = (
    "Give either the circulation points or the pre-dose and current systolic pressures "
    "with the scoring variant."
)
RULE_VARIANT = "Must be one of: {choices}."
RULE_THRESHOLD = "Must be a fraction between 0 and 1."


class RuleInputError(ValueError):
    """Input a rule cannot use; ``errors`` holds (field, rule) pairs, ``field`` the first."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)
        self.field, self.rule = self.errors[0]
        super().__init__("; ".join(f"{field}: {rule}" for field, rule in self.errors))


def _number(value: object, field: str, errors: list[tuple[str, str]]) -> Decimal | None:
    """``value`` as a finite Decimal, or None with an error recorded. Floats are refused:
    doses are exact (DESIGN §5 item 10). Magnitudes outside 10^-9 to 10^9 are refused as
    typing errors (an input-sanity bound, not a clinical one) so no calculation overflows."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        errors.append((field, RULE_NOT_A_NUMBER))
        return None
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        errors.append((field, RULE_NOT_A_NUMBER))
        return None
    if not number.is_finite():
        errors.append((field, RULE_NOT_A_NUMBER))
        return None
    if number and not -9 <= number.adjusted() < 9:
        errors.append((field, RULE_SCALE))
        return None
    return number


def _positive(value: object, field: str, errors: list[tuple[str, str]]) -> Decimal | None:
    number = _number(value, field, errors)
    if number is not None and not number > 0:
        errors.append((field, RULE_POSITIVE))
        return None
    return number


def _whole(value: object, field: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        rule = RULE_WHOLE_NOT_NEGATIVE if allow_zero else RULE_WHOLE_POSITIVE
        raise RuleInputError([(field, rule)])
    return value


# --- dose ---------------------------------------------------------------------------------

# DESIGN §5b: "doses use an explicit step (clinic policy, e.g. 0.5 mg) and ROUND_HALF_UP;
# the cap is checked after rounding." Equal to ClinicPolicy.dose_step_mg's default.
DEFAULT_STEP_MG = Decimal("0.5")
VOLUME_PLACES = Decimal("0.01")
MG_PER_KG_PLACES = Decimal("0.001")

# An input-sanity bound chosen here, not a clinical one: no source sets it. It catches a
# slipped decimal point (7.05 for 70.5) or a heavy patient's weight typed in pounds before
# a dose is computed from it; the prescriber's order and the stops below are the clinical
# checks.
WEIGHT_SANITY_KG = (Decimal(20), Decimal(350))

STOP_CAP = "cap"
STOP_RANGE = "range"
STOP_CEILING = "ceiling"


@dataclass(frozen=True)
class DoseResult:
    """A weight-based dose: mg rounded to the step, its volume, and the hard stops."""

    dose_mg: Decimal
    volume_ml: Decimal
    concentration_mg_per_ml: Decimal
    step_mg: Decimal
    raw_dose_mg: Decimal  # weight × mg/kg before rounding
    mg_per_kg_given: Decimal  # the rounded dose per kg, 3 decimal places (for display)
    exceeds_cap: bool
    within_range: bool
    exceeds_ceiling: bool
    stops: tuple[str, ...]  # STOP_CAP, STOP_RANGE, STOP_CEILING as they apply


def round_to_step(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded to the nearest multiple of ``step``, halves up (DESIGN §5b), with
    the step's decimal places (35.0 at a step of 0.5)."""
    return ((value / step).to_integral_value(rounding=ROUND_HALF_UP) * step).quantize(step)


def dose(
    weight_kg: object,
    mg_per_kg: object,
    concentration_mg_per_ml: object,
    step_mg: object = DEFAULT_STEP_MG,
    cap_mg: object | None = None,
    range_mg_per_kg: Sequence[object] | None = None,
    ceiling_mg_per_kg: object | None = None,
) -> DoseResult:
    """Dose in mg = weight × mg/kg rounded to ``step_mg`` (ROUND_HALF_UP); volume in mL =
    dose ÷ concentration, 2 decimal places, half up.

    Every check uses the rounded dose, the amount that would be drawn (DESIGN §5b, issue 8):
    it exceeds the template's cap when above ``cap_mg``; it is within the range when
    min × weight ≤ dose ≤ max × weight; it exceeds the site ceiling when above ceiling ×
    weight (ClinicPolicy.dose_ceiling_mg_per_kg, clinical.md §1.3). A bound not given is not
    checked. Each failed check is a hard stop named in ``stops``.

    Numbers that are missing, not finite, not above 0, or a weight outside the input-sanity
    bound :data:`WEIGHT_SANITY_KG` raise :class:`RuleInputError` naming every such field.
    """
    errors: list[tuple[str, str]] = []
    weight = _positive(weight_kg, "weight_kg", errors)
    if weight is not None and not WEIGHT_SANITY_KG[0] <= weight <= WEIGHT_SANITY_KG[1]:
        low, high = WEIGHT_SANITY_KG
        errors.append(("weight_kg", RULE_WEIGHT_SANITY.format(low=low, high=high)))
    per_kg = _positive(mg_per_kg, "mg_per_kg", errors)
    concentration = _positive(concentration_mg_per_ml, "concentration_mg_per_ml", errors)
    step = _positive(step_mg, "step_mg", errors)
    cap = None if cap_mg is None else _positive(cap_mg, "cap_mg", errors)
    ceiling = (
        None
        if ceiling_mg_per_kg is None
        else _positive(ceiling_mg_per_kg, "ceiling_mg_per_kg", errors)
    )
    bounds = None if range_mg_per_kg is None else _range(range_mg_per_kg, errors)
    if errors:
        raise RuleInputError(errors)
    assert weight is not None and per_kg is not None
    assert concentration is not None and step is not None

    # Inputs are bounded in scale (see _number), so this precision keeps every step exact
    # enough and no operation can overflow.
    with localcontext() as context:
        context.prec = 60
        raw = weight * per_kg
        dose_mg = round_to_step(raw, step)
        if not dose_mg > 0:
            raise RuleInputError([("step_mg", RULE_ROUNDS_TO_ZERO)])
        volume_ml = (dose_mg / concentration).quantize(VOLUME_PLACES, rounding=ROUND_HALF_UP)
        given = (dose_mg / weight).quantize(MG_PER_KG_PLACES, rounding=ROUND_HALF_UP)
        exceeds_cap = cap is not None and dose_mg > cap
        within_range = bounds is None or bounds[0] * weight <= dose_mg <= bounds[1] * weight
        exceeds_ceiling = ceiling is not None and dose_mg > ceiling * weight
    stops = tuple(
        name
        for name, stopped in (
            (STOP_CAP, exceeds_cap),
            (STOP_RANGE, not within_range),
            (STOP_CEILING, exceeds_ceiling),
        )
        if stopped
    )
    return DoseResult(
        dose_mg=dose_mg,
        volume_ml=volume_ml,
        concentration_mg_per_ml=concentration,
        step_mg=step,
        raw_dose_mg=raw,
        mg_per_kg_given=given,
        exceeds_cap=exceeds_cap,
        within_range=within_range,
        exceeds_ceiling=exceeds_ceiling,
        stops=stops,
    )


def _range(
    value: Sequence[object], errors: list[tuple[str, str]]
) -> tuple[Decimal, Decimal] | None:
    if isinstance(value, str | bytes) or len(value) != 2:
        errors.append(("range_mg_per_kg", RULE_RANGE_SHAPE))
        return None
    before = len(errors)
    low = _positive(value[0], "range_mg_per_kg.0", errors)
    high = _positive(value[1], "range_mg_per_kg.1", errors)
    if len(errors) > before or low is None or high is None:
        return None
    if low > high:
        errors.append(("range_mg_per_kg", RULE_RANGE_ORDER))
        return None
    return low, high


# --- weight, IM volume --------------------------------------------------------------------

# Issue 8: "weight in kg measured on site today (a change of more than 10 % from the last
# needs confirming)". From the issue, not clinical.md.
DEFAULT_WEIGHT_CHANGE = Decimal("0.10")
FRACTION_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class WeightChange:
    fraction: Decimal  # (today − previous) ÷ previous, signed, 4 decimal places
    needs_confirming: bool


def weight_change(
    previous_kg: object, today_kg: object, threshold: object = DEFAULT_WEIGHT_CHANGE
) -> WeightChange:
    """How far today's weight is from the last one, as a signed fraction; a change of more
    than ``threshold`` (default 10 %, issue 8) either way needs confirming. Exactly the
    threshold does not. The comparison is exact: |today − previous| > threshold × previous.
    """
    errors: list[tuple[str, str]] = []
    previous = _positive(previous_kg, "previous_kg", errors)
    today = _positive(today_kg, "today_kg", errors)
    limit = _positive(threshold, "threshold", errors)
    if limit is not None and limit >= 1:
        errors.append(("threshold", RULE_THRESHOLD))
    if errors:
        raise RuleInputError(errors)
    assert previous is not None and today is not None and limit is not None
    change = today - previous
    fraction = (change / previous).quantize(FRACTION_PLACES, rounding=ROUND_HALF_UP)
    return WeightChange(fraction=fraction, needs_confirming=abs(change) > limit * previous)


def im_volume_ok(volume_ml: object, max_ml_per_site: object) -> bool:
    """True when an IM injection of ``volume_ml`` fits one site: at most the clinic's
    ``ClinicPolicy.im_max_ml_per_site`` (not in clinical.md; see that setting's help)."""
    errors: list[tuple[str, str]] = []
    volume = _positive(volume_ml, "volume_ml", errors)
    limit = _positive(max_ml_per_site, "max_ml_per_site", errors)
    if errors:
        raise RuleInputError(errors)
    assert volume is not None and limit is not None
    return volume <= limit


# --- blood pressure before the dose -------------------------------------------------------


class PreDoseBp(StrEnum):
    OK = "ok"
    ACKNOWLEDGE = "acknowledge"
    HARD_STOP = "hard_stop"


# clinical.md §5, "Suggested configurable defaults" (clinical sign-off required; not
# guideline values): "Pre-dose hold / ask prescriber: SBP ≥160 or DBP ≥100; or SBP above
# 140 / DBP above 90 triggers a risk acknowledgement". The 140/90 level is the "elevated"
# baseline of the Spravato label, attributed to APA 2017 (§1.2, §1.4, §5; unverified).
PRE_DOSE_HOLD_AT = (160, 100)
PRE_DOSE_ACK_ABOVE = (140, 90)


def pre_dose_bp(
    systolic: int,
    diastolic: int,
    hold_at: tuple[int, int] = PRE_DOSE_HOLD_AT,
    ack_above: tuple[int, int] = PRE_DOSE_ACK_ABOVE,
) -> PreDoseBp:
    """The pre-dose blood pressure band (clinical.md §5): a hard stop when systolic ≥
    hold_at[0] or diastolic ≥ hold_at[1] (only a prescriber's override with a reason passes
    it); an acknowledgement when systolic > ack_above[0] or diastolic > ack_above[1];
    otherwise ok."""
    sbp = _whole(systolic, "systolic")
    dbp = _whole(diastolic, "diastolic")
    if sbp >= hold_at[0] or dbp >= hold_at[1]:
        return PreDoseBp.HARD_STOP
    if sbp > ack_above[0] or dbp > ack_above[1]:
        return PreDoseBp.ACKNOWLEDGE
    return PreDoseBp.OK


# --- in-session alerts --------------------------------------------------------------------

ALERT_BP_HIGH = "bp_high"
ALERT_HR_HIGH = "hr_high"
ALERT_HR_LOW = "hr_low"
ALERT_SPO2_LOW = "spo2_low"
ALERT_SPO2_CRITICAL = "spo2_critical"
ALERT_RR_LOW = "rr_low"


@dataclass(frozen=True)
class VitalsThresholds:
    """In-session alert limits. Defaults: clinical.md §5 "Suggested configurable defaults"
    (not guideline values; clinical sign-off required) — SBP ≥180 or DBP ≥110 (the
    hypertensive-urgency level, §5); HR above 120 or below 50 (no published ketamine
    threshold: a gap, common local values, unverified); SpO₂ below 92 % sustained for more
    than 30 s, critical below 90 % (the modified Aldrete SpO₂ levels, §1.5); RR below 8.
    Each equals the ClinicPolicy setting of the same meaning."""

    systolic_at: int = 180
    diastolic_at: int = 110
    hr_above: int = 120
    hr_below: int = 50
    spo2_below: int = 92
    spo2_critical_below: int = 90
    spo2_seconds: int = 30
    rr_below: int = 8


@dataclass(frozen=True)
class VitalsReading:
    """One set of vitals; a value not measured is None. ``spo2`` holds the oximeter's
    (time, SpO₂ %) samples, so that a low saturation can be judged as sustained."""

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    spo2: Sequence[tuple[datetime, int]] = ()


def spo2_sustained_low(samples: Sequence[tuple[datetime, int]], below: int, seconds: int) -> bool:
    """True when consecutive samples (in time order) stay below ``below`` for more than
    ``seconds``, measured from the first low sample of a run to its last (clinical.md §5:
    "sustained for more than 30 s"). A sample at or above ``below`` ends a run."""
    run_start: datetime | None = None
    limit = timedelta(seconds=seconds)
    for taken_at, value in sorted(samples, key=lambda sample: sample[0]):
        if value < below:
            run_start = taken_at if run_start is None else run_start
            if taken_at - run_start > limit:
                return True
        else:
            run_start = None
    return False


def in_session_alerts(
    reading: VitalsReading, thresholds: VitalsThresholds | None = None
) -> list[str]:
    """The alerts a reading raises during a session (clinical.md §5): ``bp_high`` (SBP ≥ or
    DBP ≥ its limit), ``hr_high`` (above), ``hr_low`` (below), ``spo2_low`` (below, sustained
    for more than the seconds), ``spo2_critical`` (any sample below the critical level, at
    once: a reading that low is not left to wait), ``rr_low`` (below). Without
    ``thresholds`` the clinical.md §5 defaults apply."""
    alerts: list[str] = []
    t = thresholds or VitalsThresholds()
    if (reading.systolic is not None and reading.systolic >= t.systolic_at) or (
        reading.diastolic is not None and reading.diastolic >= t.diastolic_at
    ):
        alerts.append(ALERT_BP_HIGH)
    if reading.heart_rate is not None and reading.heart_rate > t.hr_above:
        alerts.append(ALERT_HR_HIGH)
    if reading.heart_rate is not None and reading.heart_rate < t.hr_below:
        alerts.append(ALERT_HR_LOW)
    if spo2_sustained_low(reading.spo2, t.spo2_below, t.spo2_seconds):
        alerts.append(ALERT_SPO2_LOW)
    if any(value < t.spo2_critical_below for _, value in reading.spo2):
        alerts.append(ALERT_SPO2_CRITICAL)
    if reading.respiratory_rate is not None and reading.respiratory_rate < t.rr_below:
        alerts.append(ALERT_RR_LOW)
    return alerts


# --- vitals schedule ----------------------------------------------------------------------

ROUTE_IM = "im"
ROUTE_IV = "iv"
ROUTES = (ROUTE_IM, ROUTE_IV)

# clinical.md §5 "Frequency, IM: baseline, then every 10–15 min for the first 40–60 min
# (peak effect), then every 15 min until discharge"; issue 8 takes every 10 minutes to 60 so
# the peak at 30–40 minutes is covered. "Frequency, IV: every 10 min during the infusion,
# every 15 min until discharge" (the Emory series, Riva-Posse et al. 2018, §5).
IM_EARLY_EVERY = 10
IM_EARLY_UNTIL = 60
IV_DURING_EVERY = 10
AFTER_EVERY = 15


def vitals_schedule(
    route: str, minutes_until_discharge: int, infusion_minutes: int | None = None
) -> list[int]:
    """Minutes after the dose at which vitals are due, up to ``minutes_until_discharge``
    inclusive (clinical.md §5, issue 8).

    IM: 0, then every 10 minutes to 60, then every 15 (0, 10, …, 60, 75, 90, …).
    IV: every 10 minutes from 0 during the infusion, then every 15 minutes from its end (the
    end itself is a reading when it falls between two 10-minute marks): a 40-minute
    infusion gives 0, 10, 20, 30, 40, 55, 70, …
    """
    if route not in ROUTES:
        raise RuleInputError([("route", RULE_ROUTE.format(choices=", ".join(ROUTES)))])
    until = _whole(minutes_until_discharge, "minutes_until_discharge", allow_zero=True)
    if route == ROUTE_IM:
        if infusion_minutes is not None:
            raise RuleInputError([("infusion_minutes", RULE_INFUSION_IV_ONLY)])
        early = list(range(0, min(IM_EARLY_UNTIL, until) + 1, IM_EARLY_EVERY))
        return early + list(range(IM_EARLY_UNTIL + AFTER_EVERY, until + 1, AFTER_EVERY))
    if infusion_minutes is None:
        raise RuleInputError([("infusion_minutes", RULE_INFUSION_REQUIRED)])
    infusion = _whole(infusion_minutes, "infusion_minutes")
    during = list(range(0, min(infusion, until) + 1, IV_DURING_EVERY))
    if infusion <= until and during[-1] != infusion:
        during.append(infusion)
    return during + list(range(infusion + AFTER_EVERY, until + 1, AFTER_EVERY))


class VitalsStatus(StrEnum):
    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"


@dataclass(frozen=True)
class VitalsDue:
    offset_minutes: int
    due_at: datetime
    status: VitalsStatus
    taken_at: datetime | None  # the reading that met it, when done


def vitals_due(
    offsets: Sequence[int],
    dose_at: datetime,
    reading_times: Sequence[datetime],
    now: datetime,
    grace_minutes: int,
) -> list[VitalsDue]:
    """Each scheduled reading's state at ``now``.

    A scheduled reading's slot runs from its due time less the grace to the next one's due
    time less the grace (the first slot is open before the dose: the baseline may be taken
    at pre-check; the last is open after). The earliest reading in its slot meets it (done).
    Without one it is upcoming before due − grace, due until due + grace inclusive, and
    overdue after.
    """
    grace = timedelta(minutes=_whole(grace_minutes, "grace_minutes", allow_zero=True))
    ordered = sorted({_whole(o, "offsets", allow_zero=True) for o in offsets})
    times = sorted(reading_times)
    due_times = [dose_at + timedelta(minutes=offset) for offset in ordered]
    out: list[VitalsDue] = []
    for index, (offset, due_at) in enumerate(zip(ordered, due_times, strict=True)):
        opens = None if index == 0 else due_at - grace
        closes = due_times[index + 1] - grace if index + 1 < len(due_times) else None
        taken = next(
            (t for t in times if (opens is None or t >= opens) and (closes is None or t < closes)),
            None,
        )
        if taken is not None:
            status = VitalsStatus.DONE
        elif now < due_at - grace:
            status = VitalsStatus.UPCOMING
        elif now <= due_at + grace:
            status = VitalsStatus.DUE
        else:
            status = VitalsStatus.OVERDUE
        out.append(VitalsDue(offset, due_at, status, taken))
    return out


# --- discharge: modified Aldrete, minimum observation ---------------------------------------

ITEMS = ("activity", "respiration", "circulation", "consciousness", "spo2")

# clinical.md §1.5: the circulation item is written as ±20 mm Hg of the pre-procedure level
# (the table there) or ±20 % of baseline; the variant is a clinic setting
# (ClinicPolicy.aldrete_circulation).
CIRCULATION_MMHG_20 = "mmhg_20"
CIRCULATION_PERCENT_20 = "percent_20"
CIRCULATION_VARIANTS = (CIRCULATION_MMHG_20, CIRCULATION_PERCENT_20)

# clinical.md §1.5: "The usual discharge threshold is ≥9" (conflict: some use ≥8 with no item
# at 0); equal to ClinicPolicy.aldrete_threshold's default.
ALDRETE_THRESHOLD = 9


@dataclass(frozen=True)
class AldreteScore:
    total: int
    items: dict[str, int]  # ITEMS → points 0–2


def circulation_points(pre_sbp: int, now_sbp: int, variant: str) -> int:
    """The modified Aldrete circulation item from the pre-dose and current systolic pressure.

    ``mmhg_20`` (clinical.md §1.5 table, Aldrete 1995 as reproduced in Kim et al. 2015):
    2 within ±20 mm Hg, 1 within ±20–50 mm Hg, 0 when it differs by more than 50.
    ``percent_20`` (§1.5 names ±20 % of baseline as a variant; the 1- and 0-point bands are
    those of the original score, Aldrete & Kroulik, Anesth Analg 1970;49:924, not in
    clinical.md): 2 within ±20 %, 1 under ±50 %, 0 at 50 % or more.
    """
    pre = _whole(pre_sbp, "pre_sbp")
    now = _whole(now_sbp, "now_sbp")
    if variant not in CIRCULATION_VARIANTS:
        choices = ", ".join(CIRCULATION_VARIANTS)
        raise RuleInputError([("variant", RULE_VARIANT.format(choices=choices))])
    difference = abs(now - pre)
    if variant == CIRCULATION_MMHG_20:
        return 2 if difference <= 20 else 1 if difference <= 50 else 0
    # Exact in integers: difference ÷ pre ≤ 20 % ⇔ 100 × difference ≤ 20 × pre.
    return 2 if 100 * difference <= 20 * pre else 1 if 100 * difference < 50 * pre else 0


def _points(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1, 2):
        raise RuleInputError([(field, RULE_ITEM_POINTS)])
    return value


def aldrete(
    *,
    activity: int,
    respiration: int,
    consciousness: int,
    spo2_points: int,
    circulation: int | None = None,
    pre_sbp: int | None = None,
    now_sbp: int | None = None,
    variant: str | None = None,
) -> AldreteScore:
    """The modified Aldrete score (clinical.md §1.5; Aldrete 1995), 0–10, item by item.

    Activity: 2 moves 4 limbs, 1 moves 2, 0 none. Respiration: 2 breathes deeply and coughs,
    1 dyspnoea or shallow breathing, 0 apnoeic. Consciousness: 2 fully awake, 1 arousable on
    calling, 0 not responding. SpO₂: 2 above 92 % on room air, 1 needs O₂ to stay above
    90 %, 0 below 90 % even with O₂. Circulation: given as points, or computed by
    :func:`circulation_points` from the pre-dose and current systolic pressure and the
    clinic's variant.
    """
    items = {
        "activity": _points(activity, "activity"),
        "respiration": _points(respiration, "respiration"),
        "consciousness": _points(consciousness, "consciousness"),
        "spo2": _points(spo2_points, "spo2_points"),
    }
    computed = pre_sbp is not None or now_sbp is not None or variant is not None
    if circulation is not None and not computed:
        items["circulation"] = _points(circulation, "circulation")
    elif circulation is None and pre_sbp is not None and now_sbp is not None and variant:
        items["circulation"] = circulation_points(pre_sbp, now_sbp, variant)
    else:
        raise RuleInputError([("circulation", RULE_CIRCULATION_SOURCE)])
    ordered = {name: items[name] for name in ITEMS}
    return AldreteScore(total=sum(ordered.values()), items=ordered)


def discharge_ready(
    score: AldreteScore, threshold: int = ALDRETE_THRESHOLD, no_zero_items: bool = False
) -> bool:
    """True when the Aldrete total is at or above ``threshold`` (default 9, clinical.md
    §1.5) and, when ``no_zero_items`` is set (the "≥8 with no item at 0" variant of §1.5),
    no item scored 0. The other discharge criteria (escort, mental status, gait, minimum
    observation) are checked separately."""
    if score.total < threshold:
        return False
    return not (no_zero_items and any(points == 0 for points in score.items.values()))


# clinical.md §5 "Minimum observation: 60 min after IM/IV ketamine before discharge
# assessment (unverified local practice)"; the medical director confirms it
# (ClinicPolicy.min_observation_minutes). Esketamine needs 120 by its label (§1.4, §5).
MIN_OBSERVATION_MINUTES = 60


def minimum_observation_met(
    dose_at: datetime, now: datetime, minutes: int = MIN_OBSERVATION_MINUTES
) -> bool:
    """True once ``minutes`` have passed since the dose (at exactly that moment included).
    The 60-minute default is unverified local practice (clinical.md §5)."""
    return now - dose_at >= timedelta(minutes=_whole(minutes, "minutes", allow_zero=True))
