from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from ketapath.accounts.models import Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [MembershipInline]
    list_display = ("username", "first_name", "last_name", "title", "is_active")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            "Credentials",
            {
                "fields": (
                    "title", "npi", "licence_type", "licence_number", "licence_state",
                    "licence_expires", "dea_number", "dea_expires", "acls_expires",
                )
            },
        ),
    )  # fmt: skip
