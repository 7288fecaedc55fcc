"""Wire shapes of the public patient-link API (DESIGN §5a)."""

from datetime import date
from typing import Any

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from ketapath.core.api import ErrorOut


class BirthDateIn(Schema):
    birth_date: date = Field(description="The patient's date of birth, YYYY-MM-DD")


class AnswersIn(BirthDateIn):
    answers: dict[str, dict[str, Any]] | None = Field(
        None,
        description=(
            "Questionnaire links: instrument code → link id → the chosen option's value, "
            'e.g. {"phq-9": {"1": 0, "2": 1, …}}. Every scored item needs an answer.'
        ),
    )
    pain: StrictInt | None = Field(None, description="Diary links: pain today, 0–10")
    rescue_medication: StrictBool | None = Field(
        None, description="Diary links: whether extra (rescue) medicine was needed"
    )
    rescue_detail: str = Field("", description="Diary links: what was taken (optional)")
    note: str = Field("", description="Diary links: a note for the clinic (optional)")


class ClinicOut(Schema):
    name: str
    phone: str = Field(description="E.164, e.g. +13035550100")


class OptionOut(Schema):
    value: int
    label: str


class QuestionOut(Schema):
    link_id: str
    text: str
    scored: bool = Field(description="False for an optional item (the PHQ-9 difficulty item)")
    options: list[OptionOut]


class LinkInstrumentOut(Schema):
    code: str
    title: str
    lead: str
    items: list[QuestionOut]


class LinkOut(Schema):
    purpose: str = Field(description='"questionnaires" or "diary"')
    clinic: ClinicOut
    instruments: list[LinkInstrumentOut] = Field(description="Empty for a diary link")
    day: date | None = Field(description="Diary links: the day asked about (the site's date)")


class BirthDateErrorOut(ErrorOut):
    tries_left: int = Field(description="Wrong dates still allowed before the link locks")


class SavedOut(Schema):
    saved: int = Field(description="Questionnaire responses (or diary entries) saved")
    crisis: bool = Field(description="An answer raised the PHQ-9 item 9 safety alert")
    crisis_message: str | None = Field(
        description="What to show the patient when crisis is true (988, 911, the clinic)"
    )
