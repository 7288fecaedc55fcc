"""Reads for protocol templates."""

from uuid import UUID

from django.db.models import QuerySet

from ketapath.clinics.models import Clinic
from ketapath.core.errors import NotFound
from ketapath.protocols.models import ProtocolTemplate

MESSAGE_NOT_FOUND = "No such protocol template at your sites."


def protocols_for_clinic(
    *, clinic: Clinic, include_history: bool = False
) -> QuerySet[ProtocolTemplate]:
    """The site's templates: the latest version of each (or every version)."""
    qs = ProtocolTemplate.objects.filter(clinic=clinic).select_related("approved_by", "clinic")
    if not include_history:
        # A lineage has at most one draft and one approved version; both are shown (the
        # approved one in force, the draft being prepared).
        qs = qs.exclude(status=ProtocolTemplate.Status.SUPERSEDED)
    return qs.order_by("name", "-version")


def protocol_versions(*, template: ProtocolTemplate) -> QuerySet[ProtocolTemplate]:
    return (
        ProtocolTemplate.objects.filter(lineage=template.lineage)
        .select_related("approved_by", "created_by")
        .order_by("-version")
    )


def protocol_get(*, clinic_ids: set[UUID], template_id: UUID) -> ProtocolTemplate:
    template = (
        ProtocolTemplate.objects.select_related("clinic", "approved_by")
        .filter(id=template_id, clinic_id__in=clinic_ids)
        .first()
    )
    if template is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    return template


def approved_protocol(*, clinic: Clinic, indication: str) -> ProtocolTemplate | None:
    """The approved template of an indication at the site (the first by name)."""
    return (
        ProtocolTemplate.objects.filter(
            clinic=clinic, indication=indication, status=ProtocolTemplate.Status.APPROVED
        )
        .order_by("name")
        .first()
    )
