"""Wire shapes of the protocols API (units in field names; doses as numbers)."""

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

IndicationIn = Literal["chronic_pain", "depression", "ptsd", "anxiety", "continuation"]


class ProtocolPatch(Schema):
    name: str | None = Field(None, max_length=120)
    indication: IndicationIn | None = None
    route: Literal["im", "iv"] | None = None
    sessions: int | None = Field(None, ge=1, le=24)
    min_interval_hours: int | None = Field(None, ge=0, le=672)
    window_days: int | None = Field(None, ge=1, le=180)
    mg_per_kg_min: Decimal | None = Field(None, gt=0, max_digits=5, decimal_places=3)
    mg_per_kg_max: Decimal | None = Field(None, gt=0, max_digits=5, decimal_places=3)
    cap_mg: Decimal | None = Field(None, gt=0, max_digits=6, decimal_places=1)
    dose_minutes: int | None = Field(None, ge=1, le=240)
    observation_minutes: int | None = Field(None, ge=30, le=480)
    vitals_offsets: list[int] | None = Field(None, max_length=60)
    pre_questionnaires: list[str] | None = Field(None, max_length=10)
    post_questionnaires: list[str] | None = Field(None, max_length=10)
    reassessment_days: int | None = Field(None, ge=1, le=180)
    notes: str | None = Field(None, max_length=4000)


class ProtocolIn(ProtocolPatch):
    clinic: UUID | None = Field(None, description="The site; needed when you work at several")
    name: str = Field(max_length=120)
    indication: IndicationIn
    sessions: int = Field(ge=1, le=24)
    window_days: int = Field(ge=1, le=180)
    dose_minutes: int = Field(ge=1, le=240)
    observation_minutes: int = Field(ge=30, le=480)
    reassessment_days: int = Field(ge=1, le=180)


class ProtocolOut(Schema):
    id: UUID
    clinic: UUID
    lineage: UUID
    version: int
    status: str
    name: str
    indication: str
    route: str
    sessions: int
    min_interval_hours: int
    window_days: int
    mg_per_kg_min: Decimal | None
    mg_per_kg_max: Decimal | None
    cap_mg: Decimal | None
    dose_minutes: int
    observation_minutes: int
    chair_minutes: int
    vitals_offsets: list[int]
    pre_questionnaires: list[str]
    post_questionnaires: list[str]
    reassessment_days: int
    notes: str
    approved_by: UUID | None
    approved_at: datetime | None


class ProtocolListOut(Schema):
    items: list[ProtocolOut]
    count: int
