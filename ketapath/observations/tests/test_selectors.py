"""Selectors the chart uses: latest vitals, open alerts, open alert count."""

from collections.abc import Callable
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.observations import selectors, services
from ketapath.observations.models import SafetyAlert
from ketapath.observations.tests.conftest import GOOD_PLAN, assessment_now
from ketapath.patients.models import Patient


def test_latest_vitals_one_query(
    nurse: User, patient: Patient, site: Clinic, make_patient: Callable[..., Patient]
) -> None:
    now = timezone.now()
    services.observations_record(
        user=nurse, patient=patient, clinic=site, taken_at=now - timedelta(days=2),
        measurements={"heart_rate": 90, "body_weight": "80"},
    )  # fmt: skip
    services.observations_record(
        user=nurse, patient=patient, clinic=site, taken_at=now - timedelta(hours=1),
        measurements={"heart_rate": 72, "spo2": 97},
    )  # fmt: skip
    services.observations_record(
        user=nurse, patient=make_patient(), clinic=site, taken_at=now,
        measurements={"heart_rate": 110},
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        latest = selectors.latest_vitals(patient)
    assert len(queries) == 1
    assert set(latest) == {"heart_rate", "body_weight", "spo2"}
    assert latest["heart_rate"].value == 72
    assert latest["body_weight"].value == 80


def test_open_alerts_and_count(
    prescriber: User,
    patient: Patient,
    site: Clinic,
    other_site: Clinic,
    make_alert: Callable[..., SafetyAlert],
    make_patient: Callable[..., Patient],
) -> None:
    first = make_alert(patient)
    escalated = make_alert(
        patient, status=SafetyAlert.Status.ESCALATED, escalated_at=timezone.now()
    )
    done = make_alert(patient)
    services.safety_alert_clear(
        user=prescriber, alert=done, assessment=assessment_now(), plan=GOOD_PLAN
    )
    make_alert(make_patient(clinic=other_site), clinic=other_site)
    assert [a.id for a in selectors.open_alerts_for_patient(patient)] == [first.id, escalated.id]
    assert selectors.open_alert_count(site) == 2
    assert selectors.open_alert_count(other_site) == 1
