"""The public patient-link API at /api/v1/portal: what a phone app needs to answer a link.

No login (every operation is ``auth=None``): the token in the path and the patient's date
of birth in every request stand in for it. Every call counts towards the rate limit of
the client's address and every date given counts towards the link's lock, as on the
pages. A link that cannot be used answers 410 (expired, used, revoked) or 423 (locked)
with ``code`` set to its state, and saves nothing.
"""

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from ketapath.core.api import ErrorOut
from ketapath.core.errors import Conflict, InvalidInput
from ketapath.notifications.privacy import plain
from ketapath.portal import access, texts
from ketapath.portal.models import PatientLink
from ketapath.portal.schemas import (
    AnswersIn,
    BirthDateErrorOut,
    BirthDateIn,
    LinkOut,
    SavedOut,
)
from ketapath.portal.services import (
    STATE_OK,
    link_by_token,
    link_check_birth_date,
    link_submit_diary,
    link_submit_questionnaires,
    tries_left,
)
from ketapath.questionnaires.instruments import get_instrument

router = Router()

RESPONSES: dict[int, Any] = {
    403: BirthDateErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    410: ErrorOut,
    422: ErrorOut,
    423: ErrorOut,
    429: ErrorOut,
}

STATES_DOC = (
    'Answers 404 for an unknown or altered token; 403 with `code` "birth_date" and '
    "`tries_left` for a wrong date of birth (each one counts towards the lock); 410 with "
    '`code` "expired", "used" or "revoked" and 423 with `code` "locked" when the link '
    f"cannot be used; 429 after {access.RATE_REQUESTS} calls or {access.RATE_BIRTH_DATE} "
    f"dates of birth from one address in {access.RATE_WINDOW_SECONDS // 60} minutes."
)


def _error(status: int, detail: str, code: str, **extra: Any) -> Status[dict[str, Any]]:
    return Status(status, {"detail": detail, "code": code, "errors": [], **extra})


def _state_error(state: str) -> Status[dict[str, Any]]:
    page = texts.STATE_PAGES[state]
    return _error(page.status, f"{page.title}.", state)


def _open(
    request: HttpRequest, token: str, birth_date: date, response: HttpResponse
) -> PatientLink | Status[dict[str, Any]]:
    """The link once the date of birth matched, or the error to answer with."""
    access.add_no_store_headers(response)
    if access.rate_limited(request, birth_date=True):
        response["Retry-After"] = str(access.RATE_WINDOW_SECONDS)
        return _error(429, access.MESSAGE_RATE_LIMITED, "rate_limited")
    link = link_by_token(token)
    if link is None:
        access.audit_unknown("verify")
        return _state_error(texts.STATE_UNKNOWN)
    result = link_check_birth_date(link=link, given=birth_date)
    if result == "wrong":
        left = tries_left(link)
        return _error(403, texts.tries_text(left), "birth_date", tries_left=left)
    if result != STATE_OK:
        return _state_error(result)
    return link


def _link_out(link: PatientLink) -> dict[str, Any]:
    instruments = []
    for code in link.instruments:
        instrument = get_instrument(code)
        assert instrument is not None
        instruments.append(
            {
                "code": instrument.code,
                "title": instrument.title,
                "lead": instrument.lead,
                "items": [
                    {
                        "link_id": item.link_id,
                        "text": item.text,
                        "scored": item.scored,
                        "options": [{"value": o.value, "label": o.label} for o in item.options],
                    }
                    for item in instrument.items
                ],
            }
        )
    return {
        "purpose": link.purpose,
        "clinic": {"name": plain(link.clinic.name, "your clinic"), "phone": link.clinic.phone},
        "instruments": instruments,
        "day": link.day,
    }


@router.post(
    "/links/{token}/verify",
    auth=None,
    response={200: LinkOut, **RESPONSES},
    summary="Confirm the date of birth and read what a link asks",
    description=(
        "Checks the patient's date of birth against the link. When it matches, answers "
        "the link's purpose, the clinic's name and phone, the questionnaires it asks "
        "(items and answer options, in order; empty for a diary link) and, for a diary "
        "link, the day it asks about. Nothing about health is answered before the date "
        "matches. " + STATES_DOC
    ),
)
def link_verify(
    request: HttpRequest, token: str, payload: BirthDateIn, response: HttpResponse
) -> Status[dict[str, Any]]:
    opened = _open(request, token, payload.birth_date, response)
    if not isinstance(opened, PatientLink):
        return opened
    return Status(200, _link_out(opened))


@router.post(
    "/links/{token}/answers",
    auth=None,
    response={201: SavedOut, **RESPONSES},
    summary="Send a link's answers",
    description=(
        "Checks the date of birth again, then saves every answer of the link at once and "
        "closes the link, or saves nothing. Questionnaire links send `answers` (instrument "
        "code → link id → value); they land as questionnaire responses with source "
        '"patient_link". Diary links send `pain` (0–10), `rescue_medication`, and '
        "optionally `rescue_detail` and `note`. A PHQ-9 item 9 above 0 opens the safety "
        "alert at once; the answer then has `crisis` true and a `crisis_message` to show "
        "(988, 911 and the clinic's number): answers are not watched live. Missing or "
        'invalid answers answer 422 with one error per question (field "phq-9.9", '
        '"pain"); a diary day already saved answers 409 "diary_done". ' + STATES_DOC
    ),
)
def link_answers(
    request: HttpRequest, token: str, payload: AnswersIn, response: HttpResponse
) -> Status[dict[str, Any]]:
    opened = _open(request, token, payload.birth_date, response)
    if not isinstance(opened, PatientLink):
        return opened
    link = opened
    try:
        if link.purpose == PatientLink.Purpose.DIARY:
            link_submit_diary(
                link=link,
                pain=payload.pain,
                rescue_medication=payload.rescue_medication,
                rescue_detail=payload.rescue_detail,
                note=payload.note,
            )
            return Status(201, {"saved": 1, "crisis": False, "crisis_message": None})
        responses = link_submit_questionnaires(link=link, answers=payload.answers or {})
    except InvalidInput as exc:
        errors = [{"field": e.field, "rule": e.rule} for e in exc.errors]
        return Status(422, {"detail": exc.message, "code": exc.code, "errors": errors})
    except Conflict as exc:
        if exc.code in texts.STATE_PAGES:
            return _state_error(exc.code)
        return _error(409, exc.message, exc.code)
    crisis = texts.has_crisis(responses)
    return Status(
        201,
        {
            "saved": len(responses),
            "crisis": crisis,
            "crisis_message": texts.crisis_message(link.clinic) if crisis else None,
        },
    )
