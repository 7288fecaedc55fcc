"""POST /api/v1/mme/calculate: a stateless daily-MME calculator for any logged-in user.

It stores nothing and decides nothing; factors and flags follow ``reference/clinical.md``
§3.1 and §3.2 (see ``rules`` and ``catalogue``).
"""

from django.http import HttpRequest
from ninja import Router

from ketapath.core.api import ErrorOut
from ketapath.medications.catalogue import opioid_lookup
from ketapath.medications.rules import MedicationDose, MmeResult, calculate
from ketapath.medications.schemas import MmeCalculateIn, MmeResultOut

router = Router()


@router.post(
    "/mme/calculate",
    response={200: MmeResultOut, 401: ErrorOut, 422: ErrorOut},
    summary="Daily MME of a list of opioids",
)
def mme_calculate(request: HttpRequest, payload: MmeCalculateIn) -> MmeResult:
    medications = [
        MedicationDose(
            entry=opioid_lookup(med.drug, field=f"medications.{index}.drug"),
            dose_mg=med.dose_mg,
            dose_mcg=med.dose_mcg,
            dose_mcg_per_hr=med.dose_mcg_per_hr,
            doses_per_day=med.doses_per_day,
        )
        for index, med in enumerate(payload.medications)
    ]
    return calculate(medications)
