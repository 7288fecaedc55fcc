"""Wire shapes of the session API (DESIGN §5a: units in field names, numbers as numbers)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field

from ketapath.core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


class DoseCalculateIn(Schema):
    weight_kg: Decimal = Field(description="Weight measured today, kg")
    mg_per_kg: Decimal = Field(description="Ordered dose, mg/kg")
    concentration_mg_per_ml: Decimal = Field(description="The vial's strength, mg/mL")
    cap_mg: Decimal | None = Field(None, description="The template's absolute cap, mg")
    range_mg_per_kg: list[Decimal] | None = Field(
        None, min_length=2, max_length=2, description="The template's range: [min, max] mg/kg"
    )
    ceiling_mg_per_kg: Decimal | None = Field(None, description="The site's ceiling, mg/kg")
    step_mg: Decimal | None = Field(
        None, description="Rounding step in mg, halves up; 0.5 when not given"
    )


class DoseCalculateOut(Schema):
    dose_mg: Decimal = Field(description="weight × mg/kg rounded to the step, ROUND_HALF_UP")
    volume_ml: Decimal = Field(description="dose ÷ concentration, 2 decimal places, half up")
    concentration_mg_per_ml: Decimal
    step_mg: Decimal
    raw_dose_mg: Decimal = Field(description="weight × mg/kg before rounding")
    mg_per_kg_given: Decimal = Field(description="The rounded dose per kg, 3 decimal places")
    exceeds_cap: bool = Field(description="The rounded dose is above cap_mg")
    within_range: bool = Field(description="The rounded dose is within the mg/kg range")
    exceeds_ceiling: bool = Field(description="The rounded dose is above the site ceiling")
    stops: list[str] = Field(description="Hard stops that apply: cap, range, ceiling")


class ReadinessIn(Schema):
    items: dict[str, bool] = Field(
        description="Each item of the check confirmed: oxygen, suction, bag_valve_mask, "
        "defibrillator, antiemetic, benzodiazepine, antihypertensive, naloxone"
    )


class ReadinessOut(Schema):
    id: UUID
    clinic: UUID
    date: date
    checked_by: UUID
    checked_by_name: str
    checked_at: str
    items: dict[str, bool]


class PreCheckIn(Schema):
    """Pre-check answers; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    identity_confirmed: bool | None = None
    escort_name: str | None = None
    escort_phone: str | None = None
    fasting_confirmed: bool | None = None
    pregnancy_status: str | None = Field(
        None, description="not_applicable, not_pregnant, pregnant or unknown"
    )
    history_review: str | None = Field(
        None,
        description="Contraindications, allergies and medications since the evaluation: "
        "unchanged or re_reviewed",
    )
    history_note: str | None = None
    urinary_symptoms_asked: bool | None = None
    urinary_note: str | None = None
    systolic: int | None = Field(None, description="Baseline systolic BP, mmHg")
    diastolic: int | None = Field(None, description="Baseline diastolic BP, mmHg")
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    bp_acknowledged: bool | None = Field(
        None, description="The pressure above the acknowledgement level is acknowledged"
    )


class OverrideIn(Schema):
    rule: str
    reason: str


class OverrideOut(Schema):
    id: UUID
    rule: str
    reason: str
    by: UUID
    by_name: str
    at: str


class AbortIn(Schema):
    reason: str


class SessionOut(Schema):
    id: UUID
    status: str
    clinic: UUID
    patient: UUID
    course: UUID
    appointment: UUID
    starts_at: str
    room: str
    opened_by: UUID
    opened_by_name: str
    opened_at: str
    pre_check: dict[str, Any]
    pre_check_missing: list[str]
    pre_check_at: str | None
    overrides: list[OverrideOut]
    mg_per_kg: Decimal | None
    weight_kg: Decimal | None
    dose_mg: Decimal | None
    volume_ml: Decimal | None
    concentration_mg_per_ml: Decimal | None
    mg_per_kg_reason: str
    vial: UUID | None
    ordered_by: UUID | None
    ordered_at: str | None
    second_check_by: UUID | None
    second_check_at: str | None
    given_at: str | None
    given_by: UUID | None
    route: str
    injection_site: str
    amount_mg: Decimal | None
    amount_ml: Decimal | None
    infusion_minutes: int | None
    infusion_rate_mg_per_hr: Decimal | None
    draw: UUID | None
    pain_before: int | None
    pain_after: int | None
    dissociation_scale: str
    dissociation_score: int | None
    vitals: list["ReadingOut"]
    vitals_schedule: list["VitalsDueOut"]
    alerts: list["AlertOut"]
    adverse_events: list["AdverseEventOut"]
    discharge: dict[str, Any]
    discharge_kind: str
    discharged_at: str | None
    discharged_by: UUID | None
    completed_by: UUID | None
    completed_at: str | None
    addenda: list["AddendumOut"]
    signed_by: UUID | None
    signed_at: str | None
    aborted_by: UUID | None
    aborted_at: str | None
    abort_reason: str


class SessionListOut(Schema):
    items: list[SessionOut]
    count: int


class SessionFilters(Schema):
    clinic: UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: str | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class DoseOrderIn(Schema):
    weight_kg: Decimal = Field(description="Weight measured on site today, kg")
    vial: UUID = Field(description="The ketamine vial the dose is drawn from")
    mg_per_kg: Decimal | None = Field(None, description="The course order's mg/kg if not given")
    mg_per_kg_reason: str | None = Field(
        None, description="Why the mg/kg differs from the course order (required then)"
    )
    weight_change_confirmed: bool = Field(
        False, description="A change of more than 10 % from the last weight is confirmed"
    )


class DoseOrderOut(Schema):
    session: SessionOut
    dose: DoseCalculateOut


class ReadingOut(Schema):
    taken_at: str
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None


class VitalsDueOut(Schema):
    offset_minutes: int
    due_at: str
    status: str = Field(description="done, due, overdue or upcoming")
    taken_at: str | None


class AlertOut(Schema):
    id: UUID
    rule: str
    summary: str
    reading_at: str
    raised_at: str
    open: bool
    cleared_by: UUID | None
    cleared_at: str | None
    note: str


class AdverseEventOut(Schema):
    id: UUID
    kind: str
    severity: str
    onset: str
    description: str
    action: str
    medication: str
    recorded_by: UUID


class AddendumOut(Schema):
    id: UUID
    author: UUID
    author_name: str
    at: str
    text: str


class CoSignIn(Schema):
    username: str = ""
    password: str = ""


class SecondCheckIn(Schema):
    dose_mg: Decimal = Field(description="The second user's own dose, recomputed from the vial")
    volume_ml: Decimal = Field(description="The second user's own volume, mL")


class AdministrationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    second_check: SecondCheckIn
    co_sign: CoSignIn = Field(description="The second user's username and password")
    injection_site: str = Field(description="Injection site (IM) or cannula site (IV)")
    given_at: datetime | None = Field(None, description="When given; now if not sent")
    amount_mg: Decimal | None = Field(
        None, description="Amount given; the ordered dose if not sent"
    )
    partial_reason: str = Field("", description="Why less than the ordered dose was given")
    infusion_minutes: int | None = Field(None, description="IV only: the infusion's length")
    infusion_rate_mg_per_hr: Decimal | None = Field(None, description="IV only: the rate")


class VitalsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    taken_at: datetime | None = Field(None, description="When taken; now if not sent")
    spo2_low_seconds: int | None = Field(
        None, description="How long the oximeter showed SpO2 below the alert level, seconds"
    )


class VitalsOut(Schema):
    session: SessionOut
    alerts_raised: list[AlertOut]


class AlertClearIn(Schema):
    note: str


class AdverseEventIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(
        description="nausea_vomiting, hypertension, emergence_agitation, excess_sedation, "
        "respiratory_depression or other"
    )
    severity: str = Field(description="mild, moderate or severe")
    onset: datetime
    action: str
    description: str = ""
    medication: str = Field("", description="Any medication given: name, dose, route, time")


class RatingsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    pain_after: int | None = Field(None, description="0–10 before discharge")
    dissociation_scale: str | None = Field(None, description="clinician_0_4 or cadss_6")
    dissociation_score: int | None = Field(None, description="0–4, or the CADSS-6 total 0–24")


class DischargeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    activity: int | None = Field(None, description="Aldrete activity 0–2")
    respiration: int | None = Field(None, description="Aldrete respiration 0–2")
    consciousness: int | None = Field(None, description="Aldrete consciousness 0–2")
    spo2_points: int | None = Field(None, description="Aldrete oxygen saturation 0–2")
    systolic: int | None = Field(
        None, description="Systolic now; the circulation item is scored against the pre-dose"
    )
    spo2_room_air: bool | None = None
    mental_status_baseline: bool | None = None
    gait_steady: bool | None = None
    nausea_controlled: bool | None = None
    escort_present: bool | None = None
    escort_name: str = ""
    aftercare_acknowledged: bool | None = None
    leave_now: bool = Field(True, description="False: criteria met, waiting (status ready)")
    against_medical_advice: bool = False
    ama_note: str = Field("", description="Against medical advice: what was said, to whom")


class AddendumIn(Schema):
    text: str


SessionOut.model_rebuild()
SessionListOut.model_rebuild()
DoseOrderOut.model_rebuild()
