"""Wire shapes of the evaluations API (DESIGN §5a; pathway values upper case)."""

from datetime import date
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

YesNo = Literal["yes", "no", ""]


class ConditionIn(Schema):
    category: Literal["pain", "mental_health"]
    catalogue_key: str | None = Field(
        None,
        max_length=32,
        description="A pain condition of the picklist (GET /evaluations/catalogue)",
    )
    code: str | None = Field(None, max_length=12, description="ICD-10-CM code, billable")
    is_primary: bool = False
    onset: date | None = None
    note: str | None = Field(None, max_length=300)


class ContraindicationIn(Schema):
    present: YesNo | None = None
    mitigation: str | None = Field(None, max_length=2000)


class ResolutionIn(Schema):
    resolution: Literal["confirmed", "ruled_out", ""] | None = None
    note: str | None = Field(None, max_length=2000)


class PriorTreatmentIn(Schema):
    treatment: str = Field(max_length=200)
    outcome: str = Field(max_length=32)
    note: str | None = Field(None, max_length=500)


class EvaluationPatch(Schema):
    coexisting_mh_treated: YesNo | None = Field(
        None,
        description="Is a co-existing mental-health condition (depression, PTSD) also treated?",
    )
    ready_for_ketamine: YesNo | None = None
    readiness_note: str | None = Field(None, max_length=2000)
    pain_duration_months: int | None = Field(None, ge=0, le=1200)
    pain_history: str | None = Field(None, max_length=2000)
    prior_treatments: list[PriorTreatmentIn] | None = None
    conditions: list[ConditionIn] | None = None
    screen_resolutions: dict[str, ResolutionIn] | None = None
    contraindications: dict[str, ContraindicationIn] | None = None
    alcohol_use: Literal["none", "within_limits", "hazardous", ""] | None = None
    nonmedical_drug_use: YesNo | None = None
    ketamine_use: YesNo | None = Field(
        None, description="Non-medical ketamine use, ever asked explicitly"
    )
    pcp_use: YesNo | None = Field(None, description="Phencyclidine (PCP) use, asked explicitly")
    substance_use_note: str | None = Field(None, max_length=2000)
    misuse_suspected: YesNo | None = None
    substance_use_disorder_active: YesNo | None = None
    urine_tox_result: Literal["negative", "positive", "pending", ""] | None = None
    urine_tox_date: date | None = None
    urine_tox_note: str | None = Field(None, max_length=300)
    could_be_pregnant: YesNo | None = Field(
        None, description="Asked of the patient; never inferred from sex at birth"
    )
    pregnancy_status: Literal["not_pregnant", "pregnant", "unknown", ""] | None = None
    pregnancy_method: Literal["urine_test", "serum_test", "patient_report", ""] | None = None
    pregnancy_checked_on: date | None = None
    breastfeeding: YesNo | None = None
    cardiovascular_risk: YesNo | None = None
    ecg_result: Literal["normal", "abnormal", ""] | None = None
    ecg_date: date | None = None
    ecg_note: str | None = Field(None, max_length=300)
    liver_risk: YesNo | None = None
    lft_result: Literal["normal", "abnormal", ""] | None = None
    lft_date: date | None = None
    lft_note: str | None = Field(None, max_length=300)


class EvaluationCreate(EvaluationPatch):
    clinic: UUID | None = Field(None, description="The site; needed when the patient has several")


class CoSignIn(Schema):
    username: str = Field(max_length=150)
    password: str = Field(max_length=200)


class SignIn(Schema):
    accept: bool
    pathway: (
        Literal["PAIN_SERIES", "MENTAL_HEALTH_PRIMARY", "BEHAVIORAL_HEALTH", "NOT_ELIGIBLE"] | None
    ) = None
    override_reason: str | None = Field(None, max_length=2000)
    co_sign: CoSignIn | None = None


class AddendumIn(Schema):
    text: str = Field(max_length=4000)


class ProposalOut(Schema):
    pathway: str | None
    eligibility: str
    reasons: list[str]
    blocking: list[str]
    prompts: list[str]
    precautions: list[str]
    absolute: list[str]
    series_blocked: bool


class ConditionOut(Schema):
    id: UUID
    category: str
    system: str
    code: str
    display: str
    catalogue_key: str
    is_primary: bool
    onset: date | None
    note: str
    evidence: dict[str, Any] | None


class AddendumOut(Schema):
    id: UUID
    author: UUID
    author_name: str
    text: str
    created_at: str


class EvaluationOut(Schema):
    id: UUID
    patient: UUID
    clinic: UUID
    status: str
    author: UUID
    author_name: str
    created_at: str
    updated_at: str
    proposal: ProposalOut
    pathway: str | None
    signed_by: UUID | None
    signed_by_name: str | None
    signed_at: str | None
    valid_until: date | None
    accepted_proposal: bool | None
    override_reason: str
    co_signed_by: UUID | None
    fields: dict[str, Any]
    conditions: list[ConditionOut]
    addenda: list[AddendumOut]
    measures: dict[str, Any] | None


class EvaluationListItem(Schema):
    id: UUID
    clinic: UUID
    status: str
    created_at: str
    author_name: str
    proposal: ProposalOut
    pathway: str | None
    signed_by_name: str | None
    signed_at: str | None
    valid_until: date | None


class EvaluationListOut(Schema):
    items: list[EvaluationListItem]
    count: int


class ClassesIn(Schema):
    classes: dict[str, str] = Field(
        description="Contraindication key → absolute or relative; keys left out keep their class"
    )
    reason: str = Field(max_length=300)


class ClassesOut(Schema):
    clinic: UUID
    policy_version: int
    classes: dict[str, str]
