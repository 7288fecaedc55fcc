"""Wire shapes of the medications API (DESIGN §5a: units in field names, numbers as numbers)."""

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

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


_ROUTES = (
    "oral, sublingual, buccal, transdermal, nasal, inhaled, topical, rectal, subcutaneous, "
    "intramuscular, intravenous, other"
)


class MedicationPatch(Schema):
    """Fields of a medication a clinician may set; a PATCH sends only those it changes."""

    drug_name: str | None = Field(None, max_length=200, description="Drug as prescribed")
    ingredient: str | None = Field(
        None,
        max_length=120,
        description="Ingredient, lowercase; set from the catalogue for opioids",
    )
    rxnorm_ingredient: str | None = Field(
        None, max_length=12, description="RxNorm ingredient RxCUI"
    )
    dose_form: str | None = Field(None, max_length=80)
    strength: str | None = Field(None, max_length=60, description='As written, e.g. "10 mg"')
    dose_mg: Decimal | None = Field(None, description="mg per dose")
    dose_mcg: Decimal | None = Field(None, description="mcg per dose (mucosal fentanyl forms)")
    dose_mcg_per_hr: Decimal | None = Field(
        None, description="Patch strength (transdermal fentanyl)"
    )
    doses_per_day: Decimal | None = Field(
        None, description="Doses per day; as-needed: the maximum prescribed per day"
    )
    prn: bool | None = Field(None, description="As needed")
    route: str | None = Field(None, description=_ROUTES)
    start_date: date | None = None
    stop_date: date | None = Field(None, description="First day the medication is not taken")
    stop_reason: str | None = Field(None, max_length=300)
    prescriber: str | None = Field(None, max_length=200)
    opioid_key: str | None = Field(
        None, max_length=40, description="Opioid catalogue key; null for a non-opioid"
    )


class MedicationIn(MedicationPatch):
    drug_name: str = Field(max_length=200, description="Drug as prescribed")
    start_date: date
    prescriber: str = Field(max_length=200)


class MedicationOut(Schema):
    id: UUID
    drug_name: str
    ingredient: str
    rxnorm_ingredient: str | None
    dose_form: str
    strength: str
    dose_mg: Decimal | None
    dose_mcg: Decimal | None
    dose_mcg_per_hr: Decimal | None
    doses_per_day: Decimal | None
    prn: bool
    route: str
    start_date: date
    stop_date: date | None
    stop_reason: str
    prescriber: str
    opioid_key: str | None
    active: bool
    daily_mme: Decimal | None = Field(description="Opioids only; null when excluded or not one")
    factor: Decimal | None
    factor_source: str | None
    recorded_by: UUID
    created_at: str = Field(description="RFC 3339 in the clinic's offset")


class MedicationListOut(Schema):
    items: list[MedicationOut]
    count: int


class MmeSnapshotItemOut(Schema):
    medication: UUID
    drug: str
    mme: Decimal
    factor: Decimal
    factor_source: str


class MmeExcludedOut(Schema):
    medication: UUID
    drug: str
    reason: str


class MmeHistoryOut(Schema):
    computed_at: str
    total_mme: Decimal
    trigger: str
    factor_set: str


class MmeOut(Schema):
    total_mme: Decimal = Field(description="Daily MME today, one decimal place")
    flags: list[str] = Field(description="mme_ge_50 / mme_ge_90: at or above the policy values")
    naloxone_prompt: bool = Field(description="True at or above the caution threshold")
    caution_at: int
    high_at: int
    factor_set: str
    items: list[MmeSnapshotItemOut]
    excluded: list[MmeExcludedOut]
    history: list[MmeHistoryOut] = Field(description="The newest 100 snapshots, newest first")


class PdmpCheckIn(Schema):
    state: str = Field(max_length=2, description="Two-letter state code, e.g. CO")
    result: str = Field(description="no_concerns, concerns_noted or not_available")
    note: str = Field("", max_length=2000)
    checked_at: datetime | None = Field(None, description="Defaults to now")


class PdmpCheckOut(Schema):
    id: UUID
    checked_at: str
    checked_by: UUID
    checked_by_name: str
    state: str
    result: str
    note: str


class PdmpCheckListOut(Schema):
    items: list[PdmpCheckOut]
    count: int
