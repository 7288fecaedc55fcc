"""Reads of clinic sites, their hours, rooms and policy."""

from uuid import UUID

from django.db.models import Prefetch, QuerySet

from ketapath.clinics.models import Clinic, ClinicPolicy, Closure, OpeningHours, Room


def clinic_policy_current(*, clinic: Clinic) -> ClinicPolicy:
    """The policy in force: the highest version, or the cited defaults if none was saved."""
    policy = clinic.policies.order_by("-version").first()
    return policy if policy is not None else ClinicPolicy(clinic=clinic, version=0)


def clinic_policy_history(*, clinic: Clinic) -> QuerySet[ClinicPolicy]:
    return clinic.policies.order_by("-version")


def clinics_with_details(*, clinic_ids: set[UUID]) -> QuerySet[Clinic]:
    """Sites with opening hours, active rooms and current closures prefetched."""
    return (
        Clinic.objects.filter(id__in=clinic_ids)
        .select_related("organization")
        .prefetch_related(
            Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens")),
            Prefetch("rooms", queryset=Room.objects.order_by("name")),
            Prefetch("closures", queryset=Closure.objects.order_by("start_date")),
        )
        .order_by("name")
    )
