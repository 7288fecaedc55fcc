"""Wire shapes of the session API (DESIGN §5a: units in field names, numbers as numbers)."""

from datetime import date
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
