"""Migrations keep a clinic's data: open safety alerts survive the routing fields."""

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("observations", "0001_initial")]
AFTER = [("observations", "0002_alert_routing_and_diary")]


@pytest.mark.django_db(transaction=True)
def test_open_alerts_survive_and_are_not_marked_routed():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    org = old.get_model("clinics", "Organization").objects.create(name="Old", mrn_prefix="OLA")
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
    patient = old.get_model("patients", "Patient").objects.create(
        organization=org,
        mrn="OLA000001",
        given_name="Ann",
        family_name="Old",
        birth_date=date(1980, 1, 2),
        sex_at_birth="female",
        preferred_clinic=clinic,
    )
    alert = old.get_model("observations", "SafetyAlert").objects.create(
        patient=patient,
        clinic=clinic,
        kind="phq9_item9",
        source_kind="questionnaire_response",
        source_id=patient.id,
        summary="PHQ-9 item 9 above 0",
        status="open",
        raised_at=timezone.now(),
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    kept = new.get_model("observations", "SafetyAlert").objects.get(id=alert.id)
    assert kept.status == "open"
    assert kept.summary == "PHQ-9 item 9 above 0"
    assert kept.routed_at is None and kept.routed_to == ""
    assert new.get_model("observations", "DiaryEntry").objects.count() == 0

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
