"""Reads of clinic sites, their hours, rooms and policy."""

from dataclasses import dataclass
from datetime import date
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


def clinic_ids_for_user(*, user_id: UUID | None) -> set[UUID]:
    """Active sites where the user holds an active membership.

    Memberships belong to accounts (a higher app); the reverse relation lets this app ask
    without importing it.
    """
    if user_id is None:
        return set()
    return set(
        Clinic.objects.filter(
            active=True, memberships__user_id=user_id, memberships__active=True
        ).values_list("id", flat=True)
    )


def clinic_get(*, clinic_id: UUID | str | None) -> Clinic | None:
    if clinic_id is None:
        return None
    return Clinic.objects.select_related("organization").filter(id=clinic_id).first()


@dataclass(frozen=True)
class AdminOverview:
    clinic: Clinic
    hours: list[OpeningHours]
    rooms: list[Room]
    upcoming_closures: list[Closure]
    upcoming_closure_count: int


ADMIN_HUB_CLOSURES = 10


def clinic_admin_overview(*, clinic_id: UUID, today: date) -> AdminOverview | None:
    """One site with its hours, rooms and the next closures (the admin hub); four queries."""
    clinic = (
        Clinic.objects.filter(id=clinic_id)
        .select_related("organization")
        .prefetch_related(
            Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens")),
            Prefetch("rooms", queryset=Room.objects.order_by("name")),
        )
        .first()
    )
    if clinic is None:
        return None
    upcoming = closures_for_clinic(clinic=clinic, past=False, today=today)
    return AdminOverview(
        clinic=clinic,
        hours=list(clinic.opening_hours.all()),
        rooms=list(clinic.rooms.all()),
        upcoming_closures=list(upcoming[:ADMIN_HUB_CLOSURES]),
        upcoming_closure_count=upcoming.count(),
    )


def opening_hours_for_clinic(*, clinic: Clinic) -> list[OpeningHours]:
    return list(OpeningHours.objects.filter(clinic=clinic).order_by("weekday", "opens"))


def closures_for_clinic(*, clinic: Clinic, past: bool, today: date) -> QuerySet[Closure]:
    """Closures still to come (ending today or later) or already over, nearest first."""
    if past:
        return clinic.closures.filter(end_date__lt=today).order_by("-start_date")
    return clinic.closures.filter(end_date__gte=today).order_by("start_date")


def closure_for_clinic(*, clinic: Clinic, closure_id: UUID) -> Closure | None:
    return Closure.objects.select_related("clinic").filter(clinic=clinic, id=closure_id).first()


def room_for_clinic(*, clinic: Clinic, room_id: UUID) -> Room | None:
    return Room.objects.select_related("clinic").filter(clinic=clinic, id=room_id).first()


def clinic_policy_version(*, clinic: Clinic, version: int) -> ClinicPolicy | None:
    return clinic.policies.filter(version=version).first()
