"""Helpers: an approved template and a signed evaluation ready for a course."""

from decimal import Decimal
from typing import Any

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.evaluations import services as evaluation_services
from ketapath.evaluations.models import Evaluation
from ketapath.evaluations.tests.factories import complete_evaluation
from ketapath.patients.models import Patient
from ketapath.protocols import services as protocol_services
from ketapath.protocols.models import ProtocolTemplate

DOSE = {"mg_per_kg_min": Decimal("0.5"), "mg_per_kg_max": Decimal("0.8"), "cap_mg": Decimal("80")}


def approve(*, director: User, clinic: Clinic, name: str) -> ProtocolTemplate:
    protocol_services.protocols_ship(clinic=clinic)
    template = ProtocolTemplate.objects.get(clinic=clinic, name=name, status="draft")
    template = protocol_services.protocol_update(user=director, template=template, data=DOSE)
    return protocol_services.protocol_approve(user=director, template=template)


def signed_evaluation(
    *, prescriber: User, patient: Patient, clinic: Clinic, **overrides: Any
) -> Evaluation:
    evaluation = complete_evaluation(user=prescriber, patient=patient, clinic=clinic, **overrides)
    return evaluation_services.evaluation_sign(user=prescriber, evaluation=evaluation, accept=True)
