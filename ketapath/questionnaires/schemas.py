"""Wire shapes of the questionnaire API (DESIGN §5a)."""

from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field

from ketapath.questionnaires.instruments import Instrument
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
