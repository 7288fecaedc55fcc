"""Wire shapes of the scheduling API."""

from datetime import date
from decimal import Decimal
from uuid import UUID

from ninja import Schema
from pydantic import Field


class CourseIn(Schema):
    evaluation: UUID
    ordered_mg_per_kg: Decimal = Field(gt=0, max_digits=5, decimal_places=3)
    clinic: UUID | None = Field(None, description="The site; needed when the patient has several")


class ProtocolSummary(Schema):
    id: UUID
    name: str
    version: int
    indication: str
    route: str
    sessions: int
    min_interval_hours: int
    window_days: int
    chair_minutes: int
    mg_per_kg_min: Decimal | None
    mg_per_kg_max: Decimal | None
    cap_mg: Decimal | None
    reassessment_days: int


class AppointmentOut(Schema):
    id: UUID
    kind: str
    status: str
    sequence: int | None
    start: str
    end: str
    room: UUID
    room_name: str
    nurse: UUID | None
    prescriber: UUID | None


class CourseOut(Schema):
    id: UUID
    patient: UUID
    clinic: UUID
    evaluation: UUID
    pathway: str
    phase: str
    parent: UUID | None
    status: str
    pain_measures_added: bool
    ordered_mg_per_kg: Decimal
    ordered_by: UUID
    ordered_at: str
    flag: str
    protocol: ProtocolSummary
    appointments: list[AppointmentOut]
    window_ends: date | None


class CourseListOut(Schema):
    items: list[CourseOut]
    count: int
