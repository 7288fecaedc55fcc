"""Migrations keep a clinic's data: a readiness check recorded before session charting's
fields and triggers arrived is still there, unchanged, after them."""

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("treatments", "0001_initial")]
AFTER = [("treatments", "0003_signed_notes_immutable")]


@pytest.mark.django_db(transaction=True)
def test_readiness_checks_survive_session_charting_migrations() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    org = old.get_model("clinics", "Organization").objects.create(name="Old", mrn_prefix="OLT")
    clinic = old.get_model("clinics", "Clinic").objects.create(
        organization=org,
        name="Old Site",
        address_line1="1 Main",
        city="Denver",
        state="CO",
        postal_code="80202",
        phone="+13035550100",
        time_zone="America/Denver",
    )
    user = old.get_model("accounts", "User").objects.create(username="old-nurse")
    items = {"oxygen": True, "naloxone": True}
    check = old.get_model("treatments", "DailyReadiness").objects.create(
        clinic=clinic,
        date=date(2026, 11, 30),
        checked_by=user,
        checked_at=timezone.now(),
        items=items,
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    kept = new.get_model("treatments", "DailyReadiness").objects.get(id=check.id)
    assert kept.items == items and kept.date == date(2026, 11, 30)
    assert new.get_model("treatments", "SessionAlert").objects.count() == 0

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
