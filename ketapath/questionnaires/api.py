"""GET /api/v1/questionnaires and POST /api/v1/questionnaires/{code}/score; a patient's
responses at /api/v1/patients/{id}/questionnaire-responses.

The first two are stateless: they read the instrument registry, score answers with the
pure rules, write nothing and read no patient. Any logged-in user may call them (401
otherwise). The responses need QUESTIONNAIRE_ENTER at one of the patient's sites.
"""

from datetime import date
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Status

from ketapath.accounts.models import User
from ketapath.accounts.services import Action, audit
from ketapath.clinics.selectors import clinic_get, clinic_policy_current
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, InvalidInput, NotFound
from ketapath.core.pagination import paginate
from ketapath.patients.selectors import (
    MESSAGE_SITE_NOT_ALLOWED,
    patient_get_for_user,
    patient_site_for_api,
)
from ketapath.questionnaires import selectors, services
from ketapath.questionnaires.instruments import INSTRUMENTS, PCL5_DEFAULT_CUTOFF, get_instrument
from ketapath.questionnaires.rules import score
from ketapath.questionnaires.schemas import (
    InstrumentListOut,
    Pcl5ScoreOut,
    ResponseIn,
    ResponseListOut,
    ResponseOut,
    ScoreIn,
    ScoreOut,
    instrument_out,
    response_out,
    score_out,
)

router = Router()
# Paths under /api/v1/patients/{id}/ (mounted at the API root).
patient_router = Router()

MESSAGE_INSTRUMENT_NOT_FOUND = "No such questionnaire instrument."
MESSAGE_CLINIC_NOT_FOUND = "No such clinic site among yours."

MESSAGE_CLINIC_NOT_ENTERABLE = MESSAGE_SITE_NOT_ALLOWED  # the shared rule, under its old name
MESSAGE_DATE_ORDER = "date_from must be on or before date_to."

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
PATIENT_ERRORS: dict[int, type[ErrorOut]] = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
}


@router.get("", response={200: InstrumentListOut, 401: ErrorOut}, summary="List instruments")
def instrument_list(request: HttpRequest) -> dict[str, Any]:
    """Every instrument with its items, answer options, LOINC codes and bands."""
    items = [instrument_out(instrument) for instrument in INSTRUMENTS.values()]
    return {"items": items, "count": len(items)}


def _pcl5_cutoff(request: HttpRequest, clinic_id: UUID | None) -> int:
    """The site's PCL-5 cut-off when a site of the user's is named, else the default 33."""
    if clinic_id is None:
        return PCL5_DEFAULT_CUTOFF
    # Outside the user's sites (or no such site) is indistinguishable: 404 (DESIGN §5a).
    if not request.user.can(Capability.PATIENT_READ, clinic_id):  # type: ignore[union-attr]
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND)
    clinic = clinic_get(clinic_id=clinic_id)
    if clinic is None:
        raise NotFound(MESSAGE_CLINIC_NOT_FOUND)
    return clinic_policy_current(clinic=clinic).pcl5_provisional_cutoff


@router.post(
    "/{code}/score",
    response={200: Pcl5ScoreOut | ScoreOut, **ERRORS},
    summary="Score answers without storing them",
)
def instrument_score(
    request: HttpRequest, code: str, payload: ScoreIn, clinic: UUID | None = None
) -> dict[str, Any]:
    """Total, severity, missing items and alerts; PCL-5 adds clusters and provisional PTSD.

    ``clinic`` (one of the user's sites) selects that site's PCL-5 cut-off policy.
    """
    instrument = get_instrument(code)
    if instrument is None:
        raise NotFound(MESSAGE_INSTRUMENT_NOT_FOUND)
    cutoff = _pcl5_cutoff(request, clinic)
    return score_out(score(instrument, payload.answers, pcl5_cutoff=cutoff))


class ResponseFilters(PageParams):
    instrument: str = ""
    date_from: date | None = None
    date_to: date | None = None


@patient_router.post(
    "/patients/{patient_id}/questionnaire-responses",
    response={201: ResponseOut, **PATIENT_ERRORS},
    summary="Record a questionnaire response",
)
def response_create(
    request: HttpRequest, patient_id: UUID, payload: ResponseIn
) -> Status[dict[str, Any]]:
    """Score and store the answers; a PHQ-9 item 9 above 0 opens a safety alert with it."""
    user: User = request.user  # type: ignore[assignment]
    patient = patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.QUESTIONNAIRE_ENTER
    )
    response = services.response_record(
        user=user,
        patient=patient,
        clinic=patient_site_for_api(patient=patient, requested=payload.clinic),
        instrument_code=payload.instrument,
        answers=payload.answers,
        context=payload.context,
        collected_at=payload.collected_at,
        context_id=payload.context_id,
    )
    return Status(201, response_out(response))


@patient_router.get(
    "/patients/{patient_id}/questionnaire-responses",
    response={200: ResponseListOut, **PATIENT_ERRORS},
    summary="List a patient's questionnaire responses",
)
def response_list(
    request: HttpRequest, patient_id: UUID, filters: Query[ResponseFilters]
) -> dict[str, Any]:
    """Newest first; ``date_from``/``date_to`` are inclusive dates at the preferred site."""
    user: User = request.user  # type: ignore[assignment]
    patient = patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.QUESTIONNAIRE_ENTER
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidInput(MESSAGE_DATE_ORDER, errors=[FieldError("date_to", MESSAGE_DATE_ORDER)])
    page = paginate(
        selectors.response_list(
            patient=patient,
            time_zone=patient.preferred_clinic.time_zone,
            instrument=filters.instrument,
            date_from=filters.date_from,
            date_to=filters.date_to,
        ),
        filters.page,
        filters.page_size,
    )
    audit(
        user=user,
        action=Action.READ,
        clinic_id=patient.preferred_clinic_id,
        patient_id=patient.id,
        object_type="questionnaire_response",
        detail={"via": "api", "page": filters.page, "responses": [str(r.id) for r in page.items]},
    )
    return {"items": [response_out(r) for r in page.items], "count": page.count}
