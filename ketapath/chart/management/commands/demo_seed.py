"""``manage.py demo_seed``: load the fictional demo clinics, staff and patients."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ketapath.chart.demo import DEMO_PASSWORD, ORGANIZATION_NAME, DemoLogin, seed_demo
from ketapath.chart.demo_messages import demo_live_link
from ketapath.clinics.models import Organization

MESSAGE_NOT_DEBUG = (
    "demo_seed adds fictional patients and staff logins with a published password, so it "
    "runs only with DEBUG=1. Pass --force to seed this database anyway."
)
MESSAGE_NOTHING_CHANGED = "Demo data already present; nothing changed."


def format_logins(logins: list[DemoLogin]) -> str:
    """The demo logins as a plain-text table, one row per account."""
    header = ("Username", "Role", "Site", "Name")
    rows = [header, *((x.username, x.role, x.site, x.name) for x in logins)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Create the demo organisation, its two sites, staff logins and patients (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Seed even though DEBUG is off.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(MESSAGE_NOT_DEBUG)
        result = seed_demo()
        if not result.changed:
            self.stdout.write(MESSAGE_NOTHING_CHANGED)
        elif result.organization_created or result.patients_created or result.users_created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {ORGANIZATION_NAME}: {result.sites_created} sites, "
                    f"{result.users_created} staff logins, {result.patients_created} patients."
                )
            )
        else:
            self.stdout.write("Restored the missing parts of the demo data.")
        if result.passwords_reset:
            self.stdout.write(f"Reset {result.passwords_reset} demo passwords.")
        self.stdout.write("")
        self.stdout.write(format_logins(result.logins))
        self.stdout.write("")
        self.stdout.write(f"Password for every demo login: {DEMO_PASSWORD}")
        organization = Organization.objects.filter(name=ORGANIZATION_NAME).first()
        live = demo_live_link(organization) if organization else None
        if live is not None:
            self.stdout.write("")
            self.stdout.write(
                f"A patient link (what {live.patient_name} got from {live.clinic_name}; it "
                f"works once, for 72 hours):"
            )
            self.stdout.write(f"  {live.url}")
            self.stdout.write(f"  Date of birth to enter: {live.birth_date:%Y-%m-%d}")
