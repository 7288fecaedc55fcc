"""Helpers that build a complete evaluation: the measures it reads and the answers it needs."""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic
from ketapath.evaluations import services
from ketapath.evaluations.models import Evaluation
from ketapath.observations.services import observations_record
from ketapath.patients.models import Patient
from ketapath.patients.services import allergy_none_known
from ketapath.questionnaires.services import response_record


def answers(count: int, value: int = 0) -> dict[str, int]:
    return {str(i): value for i in range(1, count + 1)}


def record_measures(
    *,
    user: User,
    patient: Patient,
    clinic: Clinic,
    phq9: dict[str, int] | None = None,
    gad7: dict[str, int] | None = None,
    pcl5: dict[str, int] | None = None,
    pain: int | None = 7,
    days_ago: int = 1,
) -> None:
    """Screening, baseline pain, PEG, blood pressure, weight and "no known allergies"."""
    when = timezone.now() - timedelta(days=days_ago)
    # Below every positive screen by default, with PHQ-9 item 9 answered 0.
    defaults = {"phq-9": {**answers(8, 1), "9": 0}, "gad-7": answers(7, 1), "pcl-5": answers(20, 1)}
    for code, given in (("phq-9", phq9), ("gad-7", gad7), ("pcl-5", pcl5)):
        response_record(
            user=user,
            patient=patient,
            clinic=clinic,
            instrument_code=code,
            answers=defaults[code] if given is None else given,
            context="screening",
            collected_at=when,
        )
    if pain is not None:
        response_record(
            user=user,
            patient=patient,
            clinic=clinic,
            instrument_code="pain-nrs",
            answers={"1": pain},
            context="screening",
            collected_at=when,
        )
        response_record(
            user=user,
            patient=patient,
            clinic=clinic,
            instrument_code="peg",
            answers={"1": pain, "2": 6, "3": 6},
            context="screening",
            collected_at=when,
        )
    observations_record(
        user=user,
        patient=patient,
        clinic=clinic,
        taken_at=when,
        measurements={
            "systolic_bp": 128,
            "diastolic_bp": 82,
            "heart_rate": 72,
            "body_weight": 80,
            "body_height": 175,
        },
    )
    allergy_none_known(user=user, patient=patient)


def complete_answers(**overrides: Any) -> dict[str, Any]:
    """Answers that leave nothing blocking and propose PAIN_SERIES."""
    data: dict[str, Any] = {
        "coexisting_mh_treated": "no",
        "ready_for_ketamine": "yes",
        "pain_duration_months": 36,
        "pain_history": "Daily migraine for three years.",
        "prior_treatments": [
            {"treatment": "Topiramate", "outcome": "not_tolerated", "note": "Word-finding"},
            {"treatment": "OnabotulinumtoxinA", "outcome": "partial", "note": ""},
        ],
        "conditions": [
            {"category": "pain", "catalogue_key": "migraine", "code": "G43.709"},
        ],
        "contraindications": {key: {"present": "no"} for key in services.catalogue_keys()},
        "alcohol_use": "within_limits",
        "nonmedical_drug_use": "no",
        "ketamine_use": "no",
        "pcp_use": "no",
        "misuse_suspected": "no",
        "substance_use_disorder_active": "no",
        "could_be_pregnant": "no",
        "cardiovascular_risk": "no",
        "liver_risk": "no",
    }
    data.update(overrides)
    return data


def complete_evaluation(
    *, user: User, patient: Patient, clinic: Clinic, **overrides: Any
) -> Evaluation:
    record_measures(user=user, patient=patient, clinic=clinic)
    evaluation = services.evaluation_start(user=user, patient=patient, clinic=clinic)
    return services.evaluation_update(
        user=user, evaluation=evaluation, data=complete_answers(**overrides)
    )
