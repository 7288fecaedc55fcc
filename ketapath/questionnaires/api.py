"""GET /api/v1/questionnaires and POST /api/v1/questionnaires/{code}/score.

Both are stateless: they read the instrument registry, score answers with the pure rules,
write nothing and read no patient. Any logged-in user may call them (401 otherwise).
"""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router

from ketapath.clinics.selectors import clinic_get, clinic_policy_current
from ketapath.core.api import ErrorOut
from ketapath.core.capabilities import Capability
from ketapath.core.errors import NotFound
from ketapath.questionnaires.instruments import INSTRUMENTS, PCL5_DEFAULT_CUTOFF, get_instrument
from ketapath.questionnaires.rules import score
from ketapath.questionnaires.schemas import (
    InstrumentListOut,
    Pcl5ScoreOut,
    ScoreIn,
    ScoreOut,
    instrument_out,
    score_out,
)

router = Router()
# Paths under /api/v1/patients/{id}/ (mounted at the API root).
patient_router = Router()

MESSAGE_INSTRUMENT_NOT_FOUND = "No such questionnaire instrument."
MESSAGE_CLINIC_NOT_FOUND = "No such clinic site among yours."

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


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
