"""Reads of the outbox for staff pages and the API."""

from uuid import UUID

from django.db.models import Exists, OuterRef, QuerySet

from ketapath.notifications.models import Message, PatientInstruction

STATUS_FILTERS = {
    "queued": [Message.Status.QUEUED, Message.Status.SENDING],
    "sent": [Message.Status.SENT],
    "failed": [Message.Status.FAILED, Message.Status.NOT_SENT],
    "cancelled": [Message.Status.CANCELLED],
}


def _superseded() -> Exists:
    """A newer message with the same key exists (a resend, a moved reminder): an earlier
    failure is no longer something to act on. Keys name their object and so their
    recipient, as ``messages_cancel`` relies on too."""
    return Exists(
        Message.objects.filter(
            dedupe_key=OuterRef("dedupe_key"), created_at__gt=OuterRef("created_at")
        ).exclude(dedupe_key="")
    )


def outbox(
    *,
    clinic_ids: list[UUID],
    patient_id: UUID | None = None,
    clinic_id: UUID | None = None,
    status: str | None = None,
) -> QuerySet[Message]:
    """Messages at the given sites, newest due first. ``status`` is one of STATUS_FILTERS:
    "failed" includes messages no allowed channel could carry. Each row carries
    ``superseded``: a newer message with the same key was queued since."""
    qs = (
        Message.objects.filter(clinic_id__in=clinic_ids)
        .select_related("patient", "recipient_user", "clinic")
        .annotate(superseded=_superseded())
    )
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    if clinic_id is not None:
        qs = qs.filter(clinic_id=clinic_id)
    if status:
        qs = qs.filter(status__in=STATUS_FILTERS[status])
    return qs.order_by("-due_at", "-created_at")


def failed_count(*, clinic_id: UUID) -> int:
    """Patient messages at the site that failed or could not be sent and were not sent
    again since (a resent link no longer counts)."""
    return (
        Message.objects.filter(
            clinic_id=clinic_id, status__in=STATUS_FILTERS["failed"], patient__isnull=False
        )
        .filter(~_superseded())
        .count()
    )


def instructions_current(*, patient_id: UUID) -> list[PatientInstruction]:
    return list(
        PatientInstruction.objects.filter(patient_id=patient_id, withdrawn_at__isnull=True)
        .select_related("written_by", "clinic")
        .order_by("written_at")
    )
