"""Django admin for clinic data: read-mostly. Day-to-day changes go through the clinic admin
pages and the services, which validate and audit them; the policy is never edited here
because every change must become a new, audited version."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ketapath.clinics.models import (
    Clinic,
    ClinicPolicy,
    Closure,
    OpeningHours,
    Organization,
    Room,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable and searchable; no adding, changing or deleting here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OpeningHoursInline(ReadOnlyInline):
    model = OpeningHours
    fields = ("weekday", "opens", "closes")


class RoomInline(ReadOnlyInline):
    model = Room
    fields = ("name", "kind", "active")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """The one clinic model edited here: its name and MRN prefix have no page of their own.
    The MRN counter is read-only so numbers are never reused."""

    list_display = ("name", "mrn_prefix", "mrn_next")
    search_fields = ("name",)
    readonly_fields = ("id", "mrn_next", "created_at", "updated_at")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Clinic)
class ClinicAdmin(ReadOnlyAdmin):
    list_display = ("name", "organization", "city", "state", "time_zone", "active")
    list_filter = ("active", "organization", "time_zone")
    search_fields = ("name", "city", "dea_registration")
    list_select_related = ("organization",)
    inlines = (OpeningHoursInline, RoomInline)


@admin.register(OpeningHours)
class OpeningHoursAdmin(ReadOnlyAdmin):
    list_display = ("clinic", "weekday", "opens", "closes")
    list_filter = ("clinic", "weekday")
    list_select_related = ("clinic",)


@admin.register(Closure)
class ClosureAdmin(ReadOnlyAdmin):
    list_display = ("clinic", "start_date", "end_date", "reason")
    list_filter = ("clinic",)
    date_hierarchy = "start_date"
    list_select_related = ("clinic",)


@admin.register(Room)
class RoomAdmin(ReadOnlyAdmin):
    list_display = ("name", "clinic", "kind", "active")
    list_filter = ("clinic", "kind", "active")
    search_fields = ("name",)
    list_select_related = ("clinic",)


@admin.register(ClinicPolicy)
class ClinicPolicyAdmin(ReadOnlyAdmin):
    list_display = ("clinic", "version", "changed_by_name", "created_at", "change_reason")
    list_filter = ("clinic",)
    list_select_related = ("clinic",)
    ordering = ("clinic__name", "-version")
