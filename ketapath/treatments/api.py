"""The session API. For now: the dose calculator (issue 8), which holds no patient data."""

from django.http import HttpRequest
from ninja import Router

from ketapath.core.api import ErrorOut
from ketapath.core.errors import MESSAGE_INVALID, FieldError, InvalidInput
from ketapath.treatments.rules import DEFAULT_STEP_MG, DoseResult, RuleInputError, dose
from ketapath.treatments.schemas import DoseCalculateIn, DoseCalculateOut

router = Router()


@router.post(
    "/dose/calculate",
    response={200: DoseCalculateOut, 401: ErrorOut, 422: ErrorOut},
    summary="A weight-based dose in mg and mL, with its hard stops",
)
def dose_calculate(request: HttpRequest, payload: DoseCalculateIn) -> DoseResult:
    try:
        return dose(
            payload.weight_kg,
            payload.mg_per_kg,
            payload.concentration_mg_per_ml,
            step_mg=DEFAULT_STEP_MG if payload.step_mg is None else payload.step_mg,
            cap_mg=payload.cap_mg,
            range_mg_per_kg=payload.range_mg_per_kg,
            ceiling_mg_per_kg=payload.ceiling_mg_per_kg,
        )
    except RuleInputError as exc:
        errors = [FieldError(field, rule) for field, rule in exc.errors]
        raise InvalidInput(MESSAGE_INVALID, errors=errors) from exc
