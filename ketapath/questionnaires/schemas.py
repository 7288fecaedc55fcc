"""Wire shapes of the questionnaire API (DESIGN §5a)."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ninja import Schema
from pydantic import Field

from ketapath.core.timeutils import rfc3339
from ketapath.questionnaires.instruments import Instrument
from ketapath.questionnaires.models import Response
from ketapath.questionnaires.rules import ScoreResult


class AnswerOptionOut(Schema):
    value: int = Field(description="The value scored and sent back as the answer")
    label: str
    loinc: str | None = Field(description="LOINC answer code where the reference gives one")


class ItemOut(Schema):
    link_id: str
    text: str
    loinc: str | None
    min: int
    max: int
    scored: bool = Field(description="False for items never summed (PHQ-9 difficulty item)")
    options: list[AnswerOptionOut]


class BandOut(Schema):
    low: int
    high: int
    severity: str
    label: str


class InstrumentOut(Schema):
    code: str
    title: str
    code_system: str
    loinc_panel: str | None
    loinc_total: str | None
    recall: str
    lead: str
    scoring: str = Field(description='"sum" or "mean" of the scored items')
    total_min: int
    total_max: int
    bands: list[BandOut]
    licence_note: str
    loinc_notice: str
    items: list[ItemOut]


class InstrumentListOut(Schema):
    items: list[InstrumentOut]
    count: int


class ScoreIn(Schema):
    answers: dict[str, Any] = Field(
        description='Link id → chosen value, e.g. {"1": 2, "2": 0}; null or absent = unanswered'
    )


class ScoreOut(Schema):
    instrument: str
    total: Decimal | int | None = Field(description="Null when an item is missing")
    severity: str | None = Field(description="Null where the instrument has no bands")
    complete: bool
    missing: list[str]
    alerts: list[str]


class ProvisionalPtsdOut(Schema):
    cutoff: bool | None = Field(description="Total at or above the clinic's cut-off")
    dsm5_rule: bool | None = Field(description="≥1 B, ≥1 C, ≥2 D, ≥2 E items rated ≥2")


class Pcl5ClustersOut(Schema):
    B: int | None
    C: int | None
    D: int | None
    E: int | None


class Pcl5ScoreOut(ScoreOut):
    clusters: Pcl5ClustersOut
    provisional_ptsd: ProvisionalPtsdOut


def instrument_out(instrument: Instrument) -> dict[str, Any]:
    return {
        "code": instrument.code,
        "title": instrument.title,
        "code_system": instrument.code_system,
        "loinc_panel": instrument.loinc_panel,
        "loinc_total": instrument.loinc_total,
        "recall": instrument.recall,
        "lead": instrument.lead,
        "scoring": instrument.scoring,
        "total_min": instrument.total_min,
        "total_max": instrument.total_max,
        "bands": [
            {"low": b.low, "high": b.high, "severity": b.severity, "label": b.label}
            for b in instrument.bands
        ],
        "licence_note": instrument.licence_note,
        "loinc_notice": instrument.loinc_notice,
        "items": [
            {
                "link_id": item.link_id,
                "text": item.text,
                "loinc": item.loinc,
                "min": item.min,
                "max": item.max,
                "scored": item.scored,
                "options": [
                    {"value": o.value, "label": o.label, "loinc": o.loinc} for o in item.options
                ],
            }
            for item in instrument.items
        ],
    }


def score_out(result: ScoreResult) -> dict[str, Any]:
    """The score as sent; only PCL-5 carries clusters and the provisional-PTSD rules."""
    out: dict[str, Any] = {
        "instrument": result.instrument,
        "total": result.total,
        "severity": result.severity,
        "complete": result.complete,
        "missing": result.missing,
        "alerts": result.alerts,
    }
    if result.clusters is not None:
        out["clusters"] = result.clusters
    if result.provisional_ptsd is not None:
        out["provisional_ptsd"] = result.provisional_ptsd
    return out


class ResponseIn(Schema):
    instrument: str = Field(description='Instrument code, e.g. "phq-9"')
    answers: dict[str, Any] = Field(
        description="Link id → chosen value; null or absent = unanswered (stored as missing)"
    )
    context: str = Field(
        description="screening, pre_session, post_session, reassessment, follow_up or diary"
    )
    collected_at: datetime | None = Field(
        None, description="RFC 3339; without an offset, the site's local time; defaults to now"
    )
    clinic: UUID | None = Field(
        None, description="The site (one of yours where the patient is enrolled)"
    )
    context_id: UUID | None = Field(None, description="The session or visit, as a plain reference")


class ResponseOut(Schema):
    id: UUID
    patient: UUID
    clinic: UUID
    instrument: str
    answers: dict[str, int]
    total: Decimal | None = Field(description="Null when an item is missing")
    severity: str | None = Field(description="Null where the instrument has no bands")
    complete: bool
    missing: list[str]
    alerts: list[UUID] = Field(description="Ids of the safety alerts this response raised")
    alert_codes: list[str] = Field(description='Scoring alerts, e.g. "phq9_item9_unknown"')
    clusters: Pcl5ClustersOut | None = Field(None, description="PCL-5 only")
    provisional_ptsd: ProvisionalPtsdOut | None = Field(None, description="PCL-5 only")
    pcl5_cutoff: int | None = Field(None, description="PCL-5 only: the site's cut-off used")
    context: str
    context_id: UUID | None
    source: str
    collected_at: str = Field(description="RFC 3339 with the site's UTC offset")
    entered_by: UUID | None


class ResponseListOut(Schema):
    items: list[ResponseOut]
    count: int


def response_out(response: Response) -> dict[str, Any]:
    """The stored response as sent; times carry the offset of the response's site."""
    scoring = response.scoring or {}
    return {
        "id": response.id,
        "patient": response.patient_id,
        "clinic": response.clinic_id,
        "instrument": response.instrument,
        "answers": response.answers,
        "total": response.total,
        "severity": response.severity or None,
        "complete": response.complete,
        "missing": response.missing,
        "alerts": response.alert_ids,
        "alert_codes": response.alert_codes,
        "clusters": scoring.get("clusters"),
        "provisional_ptsd": scoring.get("provisional_ptsd"),
        "pcl5_cutoff": scoring.get("pcl5_cutoff"),
        "context": response.context,
        "context_id": response.context_id,
        "source": response.source,
        "collected_at": rfc3339(response.collected_at, response.clinic.time_zone),
        "entered_by": response.entered_by_id,
    }
