"""Staff send a patient a link now (POST /api/v1/patients/{id}/links, mounted in
config/api.py beside the outbox endpoints).

The link is made at once and its message queued due now; the link's token is made only
when the outbox sends the message, so neither the address nor the token is ever in the
answer, in the stored message or in front of staff. Needs LINK_SEND at the site.
"""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema, Status

from ketapath.accounts.models import User
from ketapath.core.api import ErrorOut
from ketapath.core.capabilities import Capability
from ketapath.core.timeutils import rfc3339
from ketapath.patients.selectors import patient_get_for_user, patient_site_for_api
from ketapath.portal.services import link_send

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class LinkIn(Schema):
    purpose: str
    instruments: list[str] | None = None
    clinic: UUID | None = None


class LinkOut(Schema):
    id: UUID
    clinic: UUID
    purpose: str
    instruments: list[str]
    expires_at: str
    message: UUID | None


@router.post(
    "/patients/{patient_id}/links",
    response={201: LinkOut, **ERRORS},
    summary="Send the patient a questionnaire or daily check-in link now; the answer never "
    "holds the link's address",
)
def patient_link_send(
    request: HttpRequest, patient_id: UUID, payload: LinkIn
) -> Status[dict[str, Any]]:
    user: User = request.user  # type: ignore[assignment]
    patient = patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.LINK_SEND
    )
    clinic = patient_site_for_api(patient=patient, requested=payload.clinic)
    link = link_send(
        user=user,
        patient=patient,
        clinic=clinic,
        purpose=payload.purpose,
        instruments=payload.instruments,
    )
    return Status(
        201,
        {
            "id": link.id,
            "clinic": link.clinic_id,
            "purpose": link.purpose,
            "instruments": link.instruments,
            "expires_at": rfc3339(link.expires_at, clinic.time_zone),
            "message": link.message_id,
        },
    )
