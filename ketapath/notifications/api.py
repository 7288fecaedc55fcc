"""Outbox API (mounted at /api/v1/): the messages of the user's sites, sending a link
message again, and prescribers' pre-session instructions.

Reading needs PATIENT_READ at the message's site, resending LINK_SEND, writing and
withdrawing instructions EVALUATION_SIGN (DESIGN §10). A message or instruction outside the
user's sites is 404. Bodies are the stored text: where a personal link goes they hold a
placeholder, because the link is made only when the message is sent.
"""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from ketapath.accounts.models import User
from ketapath.accounts.permissions import clinic_ids_for, clinics_where
from ketapath.accounts.services import Action, audit
from ketapath.core.api import ErrorOut, PageParams
from ketapath.core.capabilities import Capability
from ketapath.core.errors import FieldError, InvalidInput, NotFound
from ketapath.core.pagination import paginate
from ketapath.core.timeutils import rfc3339
from ketapath.notifications import selectors, services
from ketapath.notifications.models import Message, PatientInstruction
from ketapath.notifications.rendering import KINDS
from ketapath.patients.selectors import patient_get_for_user, patient_site_for_api

router = Router()

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MESSAGE_STATUS = "Status must be one of: " + ", ".join(selectors.STATUS_FILTERS) + "."
MESSAGE_MESSAGE_NOT_FOUND = "No such message at your sites."
MESSAGE_INSTRUCTION_NOT_FOUND = "No such instruction at your sites."


class OutboxFilters(PageParams):
    patient: UUID | None = None
    clinic: UUID | None = None
    status: str | None = None


class MessageOut(Schema):
    id: UUID
    clinic: UUID
    patient: UUID | None
    recipient_user: UUID | None
    channel: str | None
    kind: str
    kind_label: str
    due_at: str
    sent_at: str | None
    status: str
    status_reason: str
    attempts: int
    last_error: str
    superseded: bool
    subject: str
    body: str


class MessageListOut(Schema):
    items: list[MessageOut]
    count: int


class InstructionIn(Schema):
    text: str
    clinic: UUID | None = None


class InstructionOut(Schema):
    id: UUID
    patient: UUID
    clinic: UUID
    text: str
    written_by: UUID
    written_by_name: str
    written_at: str
    withdrawn_at: str | None
    withdrawn_by: UUID | None


class InstructionListOut(Schema):
    items: list[InstructionOut]
    count: int


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def message_out(message: Message) -> dict[str, Any]:
    tz = message.clinic.time_zone
    return {
        "id": message.id,
        "clinic": message.clinic_id,
        "patient": message.patient_id,
        "recipient_user": message.recipient_user_id,
        "channel": message.channel or None,
        "kind": message.kind,
        "kind_label": KINDS.get(message.kind, message.kind),
        "due_at": rfc3339(message.due_at, tz),
        "sent_at": rfc3339(message.sent_at, tz),
        "status": message.status,
        "status_reason": message.status_reason,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "superseded": bool(getattr(message, "superseded", False)),
        "subject": message.subject,
        "body": message.body,
    }


def instruction_out(instruction: PatientInstruction) -> dict[str, Any]:
    tz = instruction.clinic.time_zone
    return {
        "id": instruction.id,
        "patient": instruction.patient_id,
        "clinic": instruction.clinic_id,
        "text": instruction.text,
        "written_by": instruction.written_by_id,
        "written_by_name": instruction.written_by.display_name,
        "written_at": rfc3339(instruction.written_at, tz),
        "withdrawn_at": rfc3339(instruction.withdrawn_at, tz),
        "withdrawn_by": instruction.withdrawn_by_id,
    }


def message_for_user(*, user: User, message_id: UUID) -> Message:
    """A message at one of the user's sites, else NotFound."""
    message = selectors.outbox(clinic_ids=list(clinic_ids_for(user))).filter(id=message_id).first()
    if message is None:
        raise NotFound(MESSAGE_MESSAGE_NOT_FOUND)
    return message


def instruction_for_user(*, user: User, instruction_id: UUID) -> PatientInstruction:
    """An instruction for a patient of the user's sites, else NotFound."""
    instruction = (
        PatientInstruction.objects.select_related("clinic", "written_by").filter(id=instruction_id)
    ).first()
    if instruction is None:
        raise NotFound(MESSAGE_INSTRUCTION_NOT_FOUND)
    instruction.patient = patient_get_for_user(user=user, patient_id=instruction.patient_id)
    return instruction


@router.get(
    "/outbox",
    response={200: MessageListOut, **ERRORS},
    summary="Messages at your sites, newest due first; status is queued, sent, failed "
    "(failed or not sent) or cancelled",
)
def outbox_list(request: HttpRequest, filters: Query[OutboxFilters]) -> dict[str, Any]:
    user = _user(request)
    if filters.status is not None and filters.status not in selectors.STATUS_FILTERS:
        raise InvalidInput(MESSAGE_STATUS, errors=[FieldError("status", MESSAGE_STATUS)])
    sites = clinics_where(user, Capability.PATIENT_READ)
    page = paginate(
        selectors.outbox(
            clinic_ids=sorted(sites),
            patient_id=filters.patient,
            clinic_id=filters.clinic,
            status=filters.status,
        ),
        filters.page,
        filters.page_size,
    )
    audit(
        user=user,
        action=Action.READ,
        clinic_id=filters.clinic if filters.clinic in sites else None,
        patient_id=filters.patient,
        object_type="message_list",
        detail={
            "source": "api",
            "status": filters.status or "all",
            "patients": sorted({str(m.patient_id) for m in page.items if m.patient_id}),
        },
    )
    return {"items": [message_out(m) for m in page.items], "count": page.count}


@router.post(
    "/messages/{message_id}/resend",
    response={201: MessageOut, **ERRORS},
    summary="Send a questionnaire or check-in link message again now, with a fresh link",
)
def message_resend(request: HttpRequest, message_id: UUID) -> Status[dict[str, Any]]:
    user = _user(request)
    message = message_for_user(user=user, message_id=message_id)
    new = services.message_resend(user=user, message=message)
    return Status(201, message_out(new))


@router.get(
    "/patients/{patient_id}/instructions",
    response={200: InstructionListOut, **ERRORS},
    summary="A patient's current pre-session instructions, oldest first",
)
def instruction_list(
    request: HttpRequest, patient_id: UUID, params: Query[PageParams]
) -> dict[str, Any]:
    user = _user(request)
    patient = patient_get_for_user(user=user, patient_id=patient_id)
    rows = selectors.instructions_current(patient_id=patient.id)
    start = (params.page - 1) * params.page_size
    shown = rows[start : start + params.page_size]
    audit(
        user=user,
        action=Action.READ,
        patient_id=patient.id,
        object_type="patient_instruction",
        detail={"source": "api", "count": len(shown)},
    )
    return {"items": [instruction_out(i) for i in shown], "count": len(rows)}


@router.post(
    "/patients/{patient_id}/instructions",
    response={201: InstructionOut, **ERRORS},
    summary="A prescriber's pre-session instruction for this patient, carried by reminders",
)
def instruction_create(
    request: HttpRequest, patient_id: UUID, payload: InstructionIn
) -> Status[dict[str, Any]]:
    user = _user(request)
    patient = patient_get_for_user(
        user=user, patient_id=patient_id, capability=Capability.EVALUATION_SIGN
    )
    clinic = patient_site_for_api(patient=patient, requested=payload.clinic)
    instruction = services.instruction_add(
        user=user, patient=patient, clinic=clinic, text=payload.text
    )
    return Status(201, instruction_out(instruction))


@router.post(
    "/instructions/{instruction_id}/withdraw",
    response={200: InstructionOut, **ERRORS},
    summary="Withdraw a pre-session instruction; reminders queued after this leave it out",
)
def instruction_withdraw(request: HttpRequest, instruction_id: UUID) -> dict[str, Any]:
    user = _user(request)
    instruction = instruction_for_user(user=user, instruction_id=instruction_id)
    instruction = services.instruction_withdraw(user=user, instruction=instruction)
    return instruction_out(instruction)
