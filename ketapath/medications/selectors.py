"""Reads of the medication list, its MME and PDMP checks, each in a fixed number of queries.

MME figures follow ``reference/clinical.md`` §3.1 (via ``rules.calculate``); they inform
the clinician and never decide eligibility.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet

from ketapath.clinics.models import Clinic
from ketapath.clinics.selectors import clinic_policy_current
from ketapath.core.timeutils import local_today
from ketapath.medications.catalogue import BY_KEY
from ketapath.medications.models import Medication, MmeSnapshot, PdmpCheck
from ketapath.medications.rules import (
    FLAG_CAUTION,
    ExcludedItem,
    Flag,
    ListedMedication,
    MedicationDose,
    MmeItem,
    MmeResult,
    calculate,
    interaction_flags,
)
from ketapath.patients.models import Patient

# GET /patients/{id}/mme returns at most this many snapshots, newest first.
MME_HISTORY_LIMIT = 100


def _active_q(on: date) -> Q:
    return Q(start_date__lte=on) & (Q(stop_date__isnull=True) | Q(stop_date__gt=on))


def medications_for_patient(
    *, patient: Patient, include_stopped: bool = False, on: date | None = None
) -> QuerySet[Medication]:
    """The patient's medications, active ones only unless ``include_stopped``."""
    qs = Medication.objects.filter(patient=patient).select_related("recorded_by")
    if not include_stopped:
        qs = qs.filter(_active_q(on or _today(patient)))
    return qs.order_by("ingredient", "start_date", "id")


def active_medications(*, patient: Patient, on: date) -> list[Medication]:
    return list(medications_for_patient(patient=patient, on=on))


def medication_for_patient(*, patient: Patient, medication_id: UUID) -> Medication | None:
    return (
        Medication.objects.select_related("patient", "clinic")
        .filter(patient=patient, id=medication_id)
        .first()
    )


def _today(patient: Patient) -> date:
    return local_today(patient.preferred_clinic.time_zone)


def is_active(medication: Medication, on: date) -> bool:
    started = medication.start_date <= on
    return started and (medication.stop_date is None or medication.stop_date > on)


@dataclass(frozen=True)
class MedicationMme:
    """The MME result of a list of opioid medications, with each item's medication."""

    result: MmeResult
    by_medication: dict[UUID, MmeItem]
    excluded: dict[UUID, ExcludedItem]

    def items_json(self) -> list[dict[str, Any]]:
        return [
            {
                "medication": str(med_id),
                "drug": item.drug,
                "mme": str(item.mme),
                "factor": str(item.factor),
                "factor_source": item.factor_source,
            }
            for med_id, item in self.by_medication.items()
        ]

    def excluded_json(self) -> list[dict[str, Any]]:
        return [
            {"medication": str(med_id), "drug": item.drug, "reason": item.reason}
            for med_id, item in self.excluded.items()
        ]


def medication_mme(
    medications: Iterable[Medication], *, caution_at: int | Decimal, high_at: int | Decimal
) -> MedicationMme:
    """Daily MME per opioid medication and in total (rules.calculate, §3.1)."""
    opioids = [m for m in medications if m.opioid_key]
    doses = [
        MedicationDose(
            entry=BY_KEY[m.opioid_key or ""],
            dose_mg=m.dose_mg,
            dose_mcg=m.dose_mcg,
            dose_mcg_per_hr=m.dose_mcg_per_hr,
            doses_per_day=m.doses_per_day,
        )
        for m in opioids
    ]
    result = calculate(doses, caution_at=caution_at, high_at=high_at)
    items = iter(result.items)
    excluded_items = iter(result.excluded)
    by_medication: dict[UUID, MmeItem] = {}
    excluded: dict[UUID, ExcludedItem] = {}
    for med, dose in zip(opioids, doses, strict=True):
        if dose.entry.excluded:
            excluded[med.id] = next(excluded_items)
        else:
            by_medication[med.id] = next(items)
    return MedicationMme(result=result, by_medication=by_medication, excluded=excluded)


def _listed(medications: Iterable[Medication]) -> list[ListedMedication]:
    return [
        ListedMedication(id=str(m.id), ingredient=m.ingredient, is_opioid=m.is_opioid)
        for m in medications
    ]


@dataclass(frozen=True)
class MedicationRow:
    medication: Medication
    mme: MmeItem | None
    excluded: ExcludedItem | None
    flag_kinds: tuple[str, ...]


@dataclass(frozen=True)
class MedicationSummary:
    """The chart's view of the current list: active medications with their daily MME, the
    total and its flags under the clinic policy, and the interaction flags."""

    rows: list[MedicationRow]
    total_mme: Decimal
    flags: tuple[str, ...]
    naloxone_prompt: bool
    factor_set: str
    caution_at: int
    high_at: int
    interaction_flags: list[Flag]
    on: date

    @property
    def medications(self) -> list[Medication]:
        return [row.medication for row in self.rows]


def current_medications_summary(
    patient: Patient, *, on: date | None = None, clinic: Clinic | None = None
) -> MedicationSummary:
    """Active medications, total MME, MME flags and interaction flags, in two queries
    (the list and the policy) whatever the length of the list.

    The flags use the policy of ``clinic`` (the patient's preferred site by default). MME
    informs; it never decides eligibility (clinical.md §3.1).
    """
    clinic = clinic or patient.preferred_clinic
    day = on or local_today(clinic.time_zone)
    meds = active_medications(patient=patient, on=day)
    policy = clinic_policy_current(clinic=clinic)
    mme = medication_mme(meds, caution_at=policy.mme_caution_at, high_at=policy.mme_high_at)
    flags = interaction_flags(_listed(meds))
    rows = [
        MedicationRow(
            medication=m,
            mme=mme.by_medication.get(m.id),
            excluded=mme.excluded.get(m.id),
            flag_kinds=tuple(f.kind for f in flags if str(m.id) in f.medication_ids),
        )
        for m in meds
    ]
    return MedicationSummary(
        rows=rows,
        total_mme=mme.result.total_mme,
        flags=mme.result.flags,
        naloxone_prompt=FLAG_CAUTION in mme.result.flags,
        factor_set=mme.result.factor_set,
        caution_at=policy.mme_caution_at,
        high_at=policy.mme_high_at,
        interaction_flags=flags,
        on=day,
    )


def medication_daily_mme(medication: Medication) -> MmeItem | None:
    """One opioid's daily MME (None for a non-opioid or an excluded drug)."""
    if not medication.opioid_key or BY_KEY[medication.opioid_key].excluded:
        return None
    return medication_mme([medication], caution_at=0, high_at=0).by_medication[medication.id]


def mme_history(*, patient: Patient, limit: int = MME_HISTORY_LIMIT) -> list[MmeSnapshot]:
    """The newest ``limit`` MME snapshots, newest first."""
    return list(MmeSnapshot.objects.filter(patient=patient).order_by("-computed_at")[:limit])


def pdmp_checks_for_patient(*, patient: Patient) -> QuerySet[PdmpCheck]:
    """PDMP checks, newest first."""
    return (
        PdmpCheck.objects.filter(patient=patient)
        .select_related("checked_by", "clinic")
        .order_by("-checked_at", "-created_at")
    )
