"""Fixtures for observations and safety alerts."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ketapath.clinics.models import Clinic
from ketapath.observations.models import SafetyAlert
from ketapath.observations.services import safety_alert_raise
from ketapath.patients.models import Patient

GOOD_PLAN = "Follow-up call tomorrow morning; crisis line number given to the patient."


@pytest.fixture
def make_alert(site: Clinic) -> Callable[..., SafetyAlert]:
    def make(patient: Patient, clinic: Clinic | None = None, **fields: Any) -> SafetyAlert:
        alert = safety_alert_raise(
            patient=patient,
            clinic=clinic or site,
            kind=fields.pop("kind", SafetyAlert.Kind.PHQ9_ITEM9),
            source_kind="questionnaire_response",
            source_id=uuid.uuid4(),
            summary=fields.pop("summary", "PHQ-9 item 9 answered 2 (more than half the days)."),
            user=fields.pop("user", None),
        )
        if fields:
            for name, value in fields.items():
                setattr(alert, name, value)
            alert.save()
        return alert

    return make


@pytest.fixture
def alert(make_alert: Callable[..., SafetyAlert], patient: Patient) -> SafetyAlert:
    return make_alert(patient)


def assessment_now(**changes: Any) -> dict[str, Any]:
    from django.utils import timezone

    data: dict[str, Any] = {
        "assessed_at": timezone.now().isoformat(),
        "risk_level": "low",
        "method": "clinical_interview",
        "findings": "No current intent or plan; supports in place.",
    }
    data.update(changes)
    return data
