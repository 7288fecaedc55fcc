"""Reads for evaluations: the evaluation itself, and the measures of the other apps it
shows and proposes from (screening, baseline pain, vitals, allergies, medications).

Screening counts when it is recent: a response collected within ``RECENT_DAYS`` of the
evaluation's day. The PHQ-9 and GAD-7 ask about the last 2 weeks and the PCL-5 about the
past month (clinical.md §2.1), so a month-old screen still describes the patient; older
ones must be repeated. This window is the clinic's workflow rule, not a clinical fact.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import ClinicPolicy
from ketapath.core.capabilities import Capability
from ketapath.core.errors import NotFound
from ketapath.evaluations.catalogue import (
    CONTRAINDICATIONS,
    DEFAULT_CONTRAINDICATION_CLASSES,
)
from ketapath.evaluations.models import Addendum, ConditionEntry, Evaluation
from ketapath.evaluations.rules import ConditionFact, EvaluationFacts, ScreenFact
from ketapath.medications.selectors import MedicationSummary, current_medications_summary
from ketapath.observations.models import Observation
from ketapath.observations.selectors import latest_vitals
from ketapath.patients.models import Patient
from ketapath.patients.selectors import AllergySummary, patient_allergies, patient_get_for_user
from ketapath.questionnaires.models import Response

RECENT_DAYS = 30
SCREEN_INSTRUMENTS = {"phq9": "phq-9", "gad7": "gad-7", "pcl5": "pcl-5"}
BASELINE_INSTRUMENTS = ("pain-nrs", "peg")
# clinical.md §2.1: PHQ-9 10–14 is "moderate", the usual positive screen; GAD-7 ≥10 is a
# positive screen (Spitzer 2006).
PHQ9_POSITIVE_AT = 10
GAD7_POSITIVE_AT = 10
PHQ9_ITEM9 = "9"

MESSAGE_EVALUATION_NOT_FOUND = "No such evaluation at your sites."


def contraindication_classes(policy: ClinicPolicy) -> dict[str, str]:
    """The classes in force: the policy's reclassifications over the shipped defaults."""
    classes = dict(DEFAULT_CONTRAINDICATION_CLASSES)
    for key, value in (policy.contraindication_classes or {}).items():
        if key in classes and value in ("absolute", "relative"):
            classes[key] = value
    return classes


def evaluations_for_patient(*, patient: Patient) -> QuerySet[Evaluation]:
    return (
        Evaluation.objects.filter(patient=patient)
        .select_related("author", "signed_by", "co_signed_by", "clinic")
        .prefetch_related(
            Prefetch(
                "conditions", queryset=ConditionEntry.objects.order_by("category", "-is_primary")
            )
        )
        .order_by("-created_at")
    )


def evaluation_get_for_user(
    *, user: User, evaluation_id: UUID | str, capability: Capability = Capability.EVALUATION_READ
) -> Evaluation:
    """The evaluation if its patient is visible to the user with ``capability`` (the patient
    gate audits denials); an unknown id → NotFound."""
    try:
        eid = evaluation_id if isinstance(evaluation_id, UUID) else UUID(str(evaluation_id))
    except ValueError as exc:
        raise NotFound(MESSAGE_EVALUATION_NOT_FOUND) from exc
    patient_id = Evaluation.objects.filter(id=eid).values_list("patient_id", flat=True).first()
    if patient_id is None:
        raise NotFound(MESSAGE_EVALUATION_NOT_FOUND)
    patient = patient_get_for_user(user=user, patient_id=patient_id, capability=capability)
    evaluation = evaluations_for_patient(patient=patient).get(id=eid)
    evaluation.patient = patient  # keeps access_clinic_ids set by the gate
    return evaluation


def evaluation_addenda(*, evaluation: Evaluation) -> list[Addendum]:
    return list(evaluation.addenda.select_related("author").order_by("created_at"))


def signed_evaluation_current(*, patient: Patient, on: date) -> Evaluation | None:
    """The latest signed evaluation still valid on ``on`` (for starting a course)."""
    return (
        Evaluation.objects.filter(
            patient=patient, status=Evaluation.Status.SIGNED, valid_until__gte=on
        )
        .order_by("-signed_at")
        .first()
    )


@dataclass(frozen=True)
class Measures:
    """What the evaluation reads from the measures apps, each with its date."""

    screens: dict[str, Response | None]  # "phq9" | "gad7" | "pcl5" → latest recent response
    baseline_pain: Response | None
    peg: Response | None
    vitals: dict[str, Observation]
    allergies: AllergySummary
    medications: MedicationSummary
    since: datetime


def evaluation_measures(*, evaluation: Evaluation, now: datetime | None = None) -> Measures:
    """The recent screening and baseline responses, latest vitals, allergies and
    medications of the patient, in a fixed number of queries."""
    patient = evaluation.patient
    now = now or timezone.now()
    since = (evaluation.signed_at or now) - timedelta(days=RECENT_DAYS)
    until = evaluation.signed_at or now
    wanted = (*SCREEN_INSTRUMENTS.values(), *BASELINE_INSTRUMENTS)
    latest: dict[str, Response] = {}
    for response in Response.objects.filter(
        patient=patient, instrument__in=wanted, collected_at__gte=since, collected_at__lte=until
    ).order_by("-collected_at", "-created_at"):
        latest.setdefault(response.instrument, response)
    return Measures(
        screens={key: latest.get(code) for key, code in SCREEN_INSTRUMENTS.items()},
        baseline_pain=latest.get("pain-nrs"),
        peg=latest.get("peg"),
        vitals=latest_vitals(patient),
        allergies=patient_allergies(patient=patient),
        medications=current_medications_summary(patient, clinic=evaluation.clinic),
        since=since,
    )


def _screen_summary(label: str, response: Response | None, tz: str) -> str:
    if response is None:
        return f"{label}: not done in the last {RECENT_DAYS} days"
    day = timezone.localtime(response.collected_at, timezone=_zone(tz)).strftime("%-d %b %Y")
    if response.total is None:
        return f"{label}: incomplete ({len(response.missing)} items unanswered), {day}"
    total = int(response.total) if response.total == int(response.total) else response.total
    band = f" ({response.severity.replace('_', ' ')})" if response.severity else ""
    return f"{label} {total}{band}, {day}"


def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def screen_facts(
    *, measures: Measures, resolutions: dict[str, dict[str, str]], tz: str
) -> tuple[ScreenFact, ...]:
    """PHQ-9, GAD-7, PCL-5 and PHQ-9 item 9 as screening facts (positive or not) with the
    clinician's resolution of each positive one."""

    def fact(key: str, done: bool, positive: bool, summary: str) -> ScreenFact:
        resolution = resolutions.get(key) or {}
        return ScreenFact(
            key=key,
            done=done,
            positive=positive,
            summary=summary,
            resolution=str(resolution.get("resolution") or ""),
            resolution_note=str(resolution.get("note") or ""),
        )

    phq9 = measures.screens["phq9"]
    gad7 = measures.screens["gad7"]
    pcl5 = measures.screens["pcl5"]
    facts = [
        fact(
            "phq9",
            bool(phq9 and phq9.complete),
            bool(phq9 and phq9.total is not None and phq9.total >= PHQ9_POSITIVE_AT),
            _screen_summary("PHQ-9", phq9, tz),
        ),
        fact(
            "gad7",
            bool(gad7 and gad7.complete),
            bool(gad7 and gad7.total is not None and gad7.total >= GAD7_POSITIVE_AT),
            _screen_summary("GAD-7", gad7, tz),
        ),
        fact(
            "pcl5",
            bool(pcl5 and pcl5.complete),
            bool(pcl5 and any((pcl5.scoring or {}).get("provisional_ptsd", {}).values())),
            _screen_summary("PCL-5", pcl5, tz),
        ),
    ]
    if phq9 is not None:
        item9 = (phq9.answers or {}).get(PHQ9_ITEM9)
        unknown = item9 is None
        positive = item9 is None or int(item9) > 0
        summary = (
            "PHQ-9 item 9 unanswered (unknown)" if unknown else f"PHQ-9 item 9 answered {item9}"
        )
        facts.append(fact("phq9_item9", True, positive, summary))
    return tuple(facts)


def _yes(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def evaluation_facts(
    *, evaluation: Evaluation, measures: Measures, policy: ClinicPolicy
) -> EvaluationFacts:
    """The plain facts ``rules.propose`` decides from, read off the evaluation and the
    measures apps."""
    conditions = list(evaluation.conditions.all())
    answers = evaluation.contraindications or {}
    classes = contraindication_classes(policy)
    present = {key: str((answers.get(key) or {}).get("present") or "") for key in classes}
    return EvaluationFacts(
        coexisting_mh_treated=_yes(evaluation.coexisting_mh_treated),
        ready_for_ketamine=_yes(evaluation.ready_for_ketamine),
        pain_conditions=tuple(
            ConditionFact(code=c.code, display=c.display, is_primary=c.is_primary)
            for c in conditions
            if c.category == ConditionEntry.Category.PAIN
        ),
        pain_duration_months=evaluation.pain_duration_months,
        mh_diagnoses=tuple(
            ConditionFact(code=c.code, display=c.display, is_primary=c.is_primary)
            for c in conditions
            if c.category == ConditionEntry.Category.MENTAL_HEALTH
        ),
        contraindications=present,
        mitigations={key: str((answers.get(key) or {}).get("mitigation") or "") for key in classes},
        contraindication_classes=classes,
        contraindication_labels={c.key: c.label for c in CONTRAINDICATIONS},
        screens=screen_facts(
            measures=measures,
            resolutions=evaluation.screen_resolutions or {},
            tz=evaluation.clinic.time_zone,
        ),
        allergies_answered=measures.allergies.status != "not_asked",
        substance_screen_done=bool(
            evaluation.alcohol_use
            and evaluation.nonmedical_drug_use
            and evaluation.ketamine_use
            and evaluation.pcp_use
            and evaluation.misuse_suspected
        ),
        misuse_suspected=evaluation.misuse_suspected == "yes",
        urine_tox_recorded=bool(evaluation.urine_tox_result and evaluation.urine_tox_date),
        substance_use_active=evaluation.substance_use_disorder_active == "yes",
        could_be_pregnant=_yes(evaluation.could_be_pregnant),
        pregnancy_status=(
            evaluation.pregnancy_status
            if evaluation.pregnancy_status != "not_pregnant"
            or (evaluation.pregnancy_method and evaluation.pregnancy_checked_on)
            else ""
        ),
        breastfeeding=_yes(evaluation.breastfeeding),
        baseline_pain_recorded=measures.baseline_pain is not None
        and measures.baseline_pain.total is not None,
        peg_recorded=measures.peg is not None and measures.peg.total is not None,
        blood_pressure_recorded="systolic_bp" in measures.vitals
        and "diastolic_bp" in measures.vitals,
        weight_recorded="body_weight" in measures.vitals,
        cardiovascular_risk=evaluation.cardiovascular_risk == "yes"
        or present.get("cardiovascular_disease") == "yes",
        ecg_recorded=bool(evaluation.ecg_result and evaluation.ecg_date),
        liver_risk=evaluation.liver_risk == "yes" or present.get("liver_disease") == "yes",
        lft_recorded=bool(evaluation.lft_result and evaluation.lft_date),
    )


def measures_snapshot(measures: Measures) -> dict[str, object]:
    """The measures behind a signed proposal, as plain JSON, kept on the evaluation."""

    def response(r: Response | None) -> dict[str, object] | None:
        if r is None:
            return None
        return {
            "id": str(r.id),
            "instrument": r.instrument,
            "total": _num(r.total),
            "severity": r.severity,
            "collected_at": r.collected_at.isoformat(),
        }

    return {
        "screens": {key: response(r) for key, r in measures.screens.items()},
        "baseline_pain": response(measures.baseline_pain),
        "peg": response(measures.peg),
        "vitals": {
            key: {"value": _num(o.value), "unit": o.unit, "taken_at": o.taken_at.isoformat()}
            for key, o in measures.vitals.items()
        },
        "allergies": measures.allergies.status,
        "total_mme": _num(measures.medications.total_mme),
        "mme_flags": list(measures.medications.flags),
        "factor_set": measures.medications.factor_set,
    }


def _num(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == int(value) else float(value)
