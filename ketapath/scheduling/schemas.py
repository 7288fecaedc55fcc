"""Wire shapes of the scheduling API."""

from datetime import date, datetime
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
    patient: UUID
    course: UUID | None
    clinician: UUID | None
    status_reason: str
    kind: str
    status: str
    sequence: int | None
    start: str
    end: str
    room: UUID
    room_name: str
    nurse: UUID | None
    prescriber: UUID | None


class ExposureOut(Schema):
    days: int
    sessions: int
    mg: Decimal


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
    cumulative_ketamine: list[ExposureOut] | None = None


class CourseListOut(Schema):
    items: list[CourseOut]
    count: int


class SlotRequest(Schema):
    earliest: date | None = Field(None, description="First possible local date")
    weekdays: list[int] | None = Field(None, description="Allowed weekdays, 0 = Monday")
    time_from: str | None = Field(None, description="Earliest local start, HH:MM")
    time_to: str | None = Field(None, description="Latest local end, HH:MM")


class SlotSessionOut(Schema):
    start: str
    end: str
    room: UUID
    room_name: str
    nurse: UUID
    nurse_name: str
    prescriber: UUID
    prescriber_name: str


class SlotProposalOut(Schema):
    sessions: list[SlotSessionOut]


class SlotProposalsOut(Schema):
    proposals: list[SlotProposalOut]
    reason: str | None


class SessionIn(Schema):
    start: datetime
    room: UUID
    nurse: UUID
    prescriber: UUID


class BookIn(Schema):
    proposal: int | None = Field(None, ge=0, description="Index of a proposal just offered")
    sessions: list[SessionIn] | None = Field(None, max_length=24)


class BookOut(Schema):
    appointments: list[AppointmentOut]


class AppointmentListOut(Schema):
    items: list[AppointmentOut]
    count: int


class RescheduleIn(Schema):
    start: datetime
    room: UUID
    nurse: UUID
    prescriber: UUID


class AppointmentPatch(Schema):
    status: str | None = Field(None, description="checked_in, no_show, cancelled or booked")
    reason: str | None = Field(None, max_length=300)
    reschedule: RescheduleIn | None = None


class ReplacementOut(Schema):
    start: str
    end: str
    room: UUID
    nurse: UUID
    prescriber: UUID


class AppointmentChangeOut(AppointmentOut):
    replacement: ReplacementOut | None = None
    course_flag: str | None = None


class SingleIn(Schema):
    kind: str = Field(description="evaluation, follow_up or behavioral_health")
    start: datetime
    minutes: int = Field(ge=10, le=240)
    room: UUID
    clinician: UUID
    clinic: UUID | None = None
