"""Reads of questionnaire responses; the caller has already scoped the patient to the user."""

from datetime import date
from uuid import UUID

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from ketapath.core.timeutils import local_day_bounds
from ketapath.patients.models import Patient
from ketapath.questionnaires.models import Response


def response_list(
    *,
    patient: Patient,
    time_zone: str,
    instrument: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Response]:
    """The patient's responses, newest first; dates are inclusive local dates in ``time_zone``."""
    qs = Response.objects.filter(patient=patient).select_related("clinic", "entered_by")
    if instrument:
        qs = qs.filter(instrument=instrument)
    if date_from is not None:
        qs = qs.filter(collected_at__gte=local_day_bounds(date_from, time_zone)[0])
    if date_to is not None:
        qs = qs.filter(collected_at__lt=local_day_bounds(date_to, time_zone)[1])
    return qs.order_by("-collected_at", "-created_at", "id")


def response_get(*, patient: Patient, response_id: UUID) -> Response | None:
    """One response of the patient, or None."""
    return (
        Response.objects.select_related("clinic", "entered_by")
        .filter(patient=patient, id=response_id)
        .first()
    )


def latest_scores(*, patient: Patient) -> dict[str, Response]:
    """The latest response of each instrument the patient has answered, in one query."""
    ranked = Response.objects.filter(patient=patient).annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("instrument")],
            order_by=[F("collected_at").desc(), F("created_at").desc()],
        )
    )
    return {
        response.instrument: response
        for response in ranked.filter(rank=1).select_related("clinic").order_by("instrument")
    }
