"""Migrations keep a clinic's data: existing policy versions survive and get the new
setting's cited default."""

from datetime import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("clinics", "0001_initial")]
AFTER = [("clinics", "0002_policy_pcl5_cutoff")]


def _old_site(apps: Any, *, prefix: str, name: str) -> Any:
    """An organisation and one Denver site in a historical state of the models."""
    org = apps.get_model("clinics", "Organization").objects.create(name="Old", mrn_prefix=prefix)
    return apps.get_model("clinics", "Clinic").objects.create(
        organization=org,
        name=name,
        address_line1="1 Main",
        city="Denver",
        state="CO",
        postal_code="80202",
        phone="+13035550100",
        time_zone="America/Denver",
    )


@pytest.mark.django_db(transaction=True)
def test_policy_rows_survive_and_get_the_pcl5_default():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    clinic = _old_site(old, prefix="OLD", name="Old Site")
    old.get_model("clinics", "OpeningHours").objects.create(
        clinic=clinic, weekday=0, opens=time(8), closes=time(17)
    )
    old.get_model("clinics", "ClinicPolicy").objects.create(
        clinic=clinic, version=1, treatment_consent_months=9, change_reason="Before the upgrade"
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    policy = new.get_model("clinics", "ClinicPolicy").objects.get(clinic_id=clinic.id)
    assert policy.version == 1
    assert policy.treatment_consent_months == 9
    assert policy.change_reason == "Before the upgrade"
    assert policy.pcl5_provisional_cutoff == 33

    # Leave the database fully migrated for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_policy_rows_survive_and_get_the_evaluation_and_dosing_defaults():
    before = [("clinics", "0003_policy_alerts_and_mme")]
    after = [("clinics", "0005_policy_dose_ceiling_and_nurse_ratio")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    clinic = _old_site(old, prefix="OLE", name="Old Site 2")
    old.get_model("clinics", "ClinicPolicy").objects.create(
        clinic=clinic, version=1, mme_caution_at=40, change_reason="Before evaluations"
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    policy = new.get_model("clinics", "ClinicPolicy").objects.get(clinic_id=clinic.id)
    assert (policy.version, policy.mme_caution_at) == (1, 40)
    assert policy.change_reason == "Before evaluations"
    assert policy.evaluation_valid_days == 90
    assert policy.contraindication_classes == {}
    assert policy.dose_ceiling_mg_per_kg == Decimal("1.00")
    assert policy.nurse_patients_at_once == 1

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_policy_rows_survive_and_get_the_message_and_link_defaults():
    before = [("clinics", "0005_policy_dose_ceiling_and_nurse_ratio")]
    after = [("clinics", "0006_policy_messages_and_links")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    clinic = _old_site(old, prefix="OLM", name="Old Site 3")
    old.get_model("clinics", "ClinicPolicy").objects.create(
        clinic=clinic, version=1, nurse_patients_at_once=2, change_reason="Before messages"
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    policy = new.get_model("clinics", "ClinicPolicy").objects.get(clinic_id=clinic.id)
    assert policy.nurse_patients_at_once == 2
    assert policy.change_reason == "Before messages"
    assert policy.reminder_lead_hours == 48
    assert policy.link_lifetime_hours == 72
    assert policy.link_birth_date_tries == 5
    assert policy.pre_session_questionnaire_hours == 24
    assert policy.follow_up_weeks == "1,4,12"
    assert (policy.fasting_food_hours, policy.fasting_clear_liquid_hours) == (6, 2)
    assert policy.on_call_user_id is None

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_policy_rows_survive_and_get_the_vial_beyond_use_default():
    before = [("clinics", "0006_policy_messages_and_links")]
    after = [("clinics", "0007_policy_vial_beyond_use")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    clinic = _old_site(old, prefix="OLV", name="Old Site 4")
    old.get_model("clinics", "ClinicPolicy").objects.create(
        clinic=clinic, version=1, reminder_lead_hours=24, change_reason="Before the ledger"
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    policy = new.get_model("clinics", "ClinicPolicy").objects.get(clinic_id=clinic.id)
    assert policy.reminder_lead_hours == 24
    assert policy.vial_beyond_use_days == 28

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_policy_rows_survive_and_get_the_session_threshold_defaults():
    before = [("clinics", "0007_policy_vial_beyond_use")]
    after = [("clinics", "0008_policy_session_thresholds")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    clinic = _old_site(old, prefix="OLS", name="Old Site 5")
    old.get_model("clinics", "ClinicPolicy").objects.create(
        clinic=clinic,
        version=1,
        dose_ceiling_mg_per_kg=Decimal("0.75"),
        vial_beyond_use_days=14,
        change_reason="Before sessions",
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    policy = new.get_model("clinics", "ClinicPolicy").objects.get(clinic_id=clinic.id)
    assert (policy.version, policy.change_reason) == (1, "Before sessions")
    assert policy.dose_ceiling_mg_per_kg == Decimal("0.75")
    assert policy.vial_beyond_use_days == 14
    assert policy.dose_step_mg == Decimal("0.5")
    assert policy.im_max_ml_per_site == Decimal("2.0")
    assert (policy.pre_dose_hold_systolic, policy.pre_dose_hold_diastolic) == (160, 100)
    assert (policy.pre_dose_ack_systolic, policy.pre_dose_ack_diastolic) == (140, 90)
    assert (policy.alert_systolic, policy.alert_diastolic) == (180, 110)
    assert (policy.alert_hr_high, policy.alert_hr_low) == (120, 50)
    assert (policy.alert_spo2, policy.alert_spo2_critical, policy.alert_spo2_seconds) == (
        92,
        90,
        30,
    )
    assert policy.alert_rr_low == 8
    assert (policy.aldrete_threshold, policy.aldrete_circulation) == (9, "mmhg_20")
    assert policy.min_observation_minutes == 60

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
