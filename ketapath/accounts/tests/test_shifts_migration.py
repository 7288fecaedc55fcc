"""The shifts migration adds its tables and leaves existing staff and roles as they were."""

from datetime import time

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0001_initial")]
AFTER = [("accounts", "0002_shifts")]


@pytest.mark.django_db(transaction=True)
def test_staff_and_roles_survive_and_shifts_start_empty() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    org = old.get_model("clinics", "Organization").objects.create(name="Old", mrn_prefix="OLD")
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
    user = old.get_model("accounts", "User").objects.create(
        username="kept", first_name="Kept", licence_number="RN-1"
    )
    old.get_model("accounts", "Membership").objects.create(user=user, clinic=clinic, role="nurse")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    kept = new.get_model("accounts", "User").objects.get(pk=user.pk)
    assert (kept.username, kept.first_name, kept.licence_number) == ("kept", "Kept", "RN-1")
    membership = new.get_model("accounts", "Membership").objects.get(user_id=user.pk)
    assert (membership.role, membership.active) == ("nurse", True)
    shift_model = new.get_model("accounts", "Shift")
    assert not shift_model.objects.exists()
    assert not new.get_model("accounts", "ShiftException").objects.exists()
    shift = shift_model.objects.create(
        user_id=user.pk, clinic_id=clinic.pk, weekday=0, starts=time(8), ends=time(16)
    )
    assert shift.active is True

    # Leave the database fully migrated for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
