"""The per-patient timeline and progress report API (mounted at /api/v1/).

``GET /patients/{id}/timeline`` answers the measures as series of (time, value) points and
the sessions as markers; times carry the UTC offset of the patient's site, values are JSON
numbers. ``GET /patients/{id}/report.pdf`` answers the progress report and records its
release as a disclosure (recipient and purpose in the query). Both need PATIENT_READ at a
site where the patient is enrolled: not logged in 401, another site's patient 404, a role
without it 403.
"""

from decimal import Decimal
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.core.api import ErrorOut
from ketapath.core.capabilities import Capability
from ketapath.core.timeutils import rfc3339
from ketapath.outcomes import report
from ketapath.outcomes.timeline import Timeline, patient_timeline
from ketapath.patients.models import Patient
from ketapath.patients.selectors import patient_get_for_user

router = Router()

# A patient's measures over time are outcome data: the clinical roles that see outcomes at
# the patient's site (DESIGN §10: director, prescriber, nurse, therapist), not the front desk
# or billing, who read demographics only.
TIMELINE_CAPABILITY = Capability.OUTCOMES_READ
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class PointOut(Schema):
    time: str
    value: Decimal


class SeriesOut(Schema):
    measure: str
    label: str
    unit: str
    step: bool = Field(description="True when each value holds until the next (MME).")
    points: list[PointOut]


class SessionMarkerOut(Schema):
    id: UUID
    time: str = Field(description="When the dose was given, else when the session opened.")
    course: UUID
    course_label: str
    status: str
    given: bool
    amount_mg: Decimal | None
    pain_before: int | None
    pain_after: int | None


class TimelineOut(Schema):
    time_zone: str
    series: list[SeriesOut]
    sessions: list[SessionMarkerOut]


class ReportParams(Schema):
    recipient: str = Field(report.RECIPIENT_PATIENT, description="patient or referring_physician")
    recipient_name: str = Field("", description="The referring physician's name (optional).")
    purpose: str = Field(report.DEFAULT_PURPOSE, description="Why the report is released.")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _reader(request: HttpRequest, patient_id: UUID) -> Patient:
    return patient_get_for_user(
        user=_user(request), patient_id=patient_id, capability=TIMELINE_CAPABILITY
    )


def timeline_out(timeline: Timeline) -> dict[str, Any]:
    tz = timeline.time_zone
    return {
        "time_zone": tz,
        "series": [
            {
                "measure": s.measure,
                "label": s.label,
                "unit": s.unit,
                "step": s.step,
                "points": [{"time": rfc3339(p.time, tz), "value": p.value} for p in s.points],
            }
            for s in timeline.series
        ],
        "sessions": [
            {
                "id": m.id,
                "time": rfc3339(m.time, tz),
                "course": m.course,
                "course_label": m.course_label,
                "status": m.status,
                "given": m.given,
                "amount_mg": m.amount_mg,
                "pain_before": m.pain_before,
                "pain_after": m.pain_after,
            }
            for m in timeline.sessions
        ],
    }


@router.get(
    "/patients/{patient_id}/timeline",
    response={200: TimelineOut, **ERRORS},
    summary="The patient's measures over time and the ketamine sessions",
)
def timeline_get(request: HttpRequest, patient_id: UUID) -> dict[str, Any]:
    patient = _reader(request, patient_id)
    timeline = patient_timeline(patient=patient)
    audit(
        user=_user(request),
        action=Action.READ,
        patient_id=patient.id,
        clinic_id=patient.preferred_clinic_id,
        object_type="outcome_timeline",
        object_id=patient.id,
        detail={"via": "api"},
    )
    return timeline_out(timeline)


@router.get(
    "/patients/{patient_id}/report.pdf",
    response={200: None, **ERRORS},
    summary="The progress report (PDF); records its release as a disclosure",
    openapi_extra={
        "responses": {200: {"description": "The PDF", "content": {"application/pdf": {}}}}
    },
)
def report_pdf(request: HttpRequest, patient_id: UUID, params: Query[ReportParams]) -> HttpResponse:
    patient = _reader(request, patient_id)
    pdf = report.report_release(
        user=_user(request),
        patient=patient,
        recipient=params.recipient,
        recipient_name=params.recipient_name,
        purpose=params.purpose,
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = report.report_filename(patient, timezone.now(), patient.preferred_clinic.time_zone)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
