"""Wire shapes of the session API (DESIGN §5a: units in field names, numbers as numbers)."""

from decimal import Decimal

from ninja import Schema
from pydantic import Field


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
