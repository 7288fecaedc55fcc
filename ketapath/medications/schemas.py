"""Wire shapes of the medications API (DESIGN §5a: units in field names, numbers as numbers)."""

from decimal import Decimal

from ninja import Schema
from pydantic import Field


class MedicationDoseIn(Schema):
    drug: str = Field(
        description=(
            "Catalogue key (codeine, hydrocodone, hydromorphone, methadone, morphine, "
            "oxycodone, oxymorphone, tapentadol, tramadol, fentanyl-transdermal, "
            "fentanyl-buccal, buprenorphine, …) or RxNorm ingredient code"
        ),
        max_length=64,
    )
    dose_mg: Decimal | None = Field(None, gt=0, description="mg per dose (mg-dosed opioids)")
    dose_mcg: Decimal | None = Field(
        None, gt=0, description="mcg per dose (buccal, film, oral or nasal spray fentanyl)"
    )
    dose_mcg_per_hr: Decimal | None = Field(
        None, gt=0, description="Patch strength in mcg/hr (transdermal fentanyl only)"
    )
    doses_per_day: Decimal | None = Field(
        None,
        gt=0,
        description="Doses per day; for as-needed opioids the maximum prescribed per day",
    )


class MmeCalculateIn(Schema):
    medications: list[MedicationDoseIn] = Field(max_length=50)


class MmeItemOut(Schema):
    drug: str = Field(description="Catalogue key")
    mme: Decimal = Field(description="Daily MME, one decimal place, ROUND_HALF_UP")
    factor: Decimal
    factor_source: str = Field(description="cdc_2022 or cdc_2016_analytic (an estimate)")


class ExcludedOut(Schema):
    drug: str
    reason: str


class MmeResultOut(Schema):
    total_mme: Decimal = Field(description="Daily MME, one decimal place, ROUND_HALF_UP")
    items: list[MmeItemOut]
    excluded: list[ExcludedOut]
    flags: list[str] = Field(description="mme_ge_50 and mme_ge_90 as they apply")
    factor_set: str = Field(description="Version of the conversion factors used")
