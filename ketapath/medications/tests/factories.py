"""Helpers for medication tests: add medications through the service, as pages do."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.core.timeutils import local_today
from ketapath.medications.models import Medication
from ketapath.medications.services import medication_add
from ketapath.patients.models import Patient


def days_ago(clinic: Clinic, n: int) -> date:
    """The clinic's local date ``n`` days before its today."""
    return local_today(clinic.time_zone) - timedelta(days=n)


def add(user: User, patient: Patient, clinic: Clinic, drug: str, **fields: Any) -> Medication:
    data: dict[str, Any] = {
        "drug_name": drug,
        "start_date": days_ago(clinic, 30),
        "prescriber": "Dr. Outside",
    }
    data.update(
        {
            k: Decimal(str(v)) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in fields.items()
        }
    )
    return medication_add(user=user, patient=patient, clinic=clinic, data=data)


def oxycodone(
    user: User, patient: Patient, clinic: Clinic, mg: int = 10, per_day: int = 2
) -> Medication:
    return add(
        user,
        patient,
        clinic,
        "Oxycodone ER",
        opioid_key="oxycodone",
        dose_mg=mg,
        doses_per_day=per_day,
    )
