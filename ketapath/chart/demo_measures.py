"""Demo measures for the demo patients: allergies (and, as they exist, questionnaire
responses, vitals, medications and an open safety alert).

Deterministic (a fixed seed over the patients in MRN order) and varied on purpose: some
patients were never asked about allergies, some have none, some have several; the data
include the worrying cases a clinic must see, not only tidy ones.
"""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, Organization
from ketapath.medications.services import medication_add, pdmp_check_record
from ketapath.observations.services import observations_record
from ketapath.patients.models import Allergy, Patient
from ketapath.patients.selectors import patient_get_for_user
from ketapath.patients.services import allergy_add, allergy_none_known
from ketapath.questionnaires.services import response_record

SEED = 20261125

# (substance, reaction, severity): everyday demo entries, not clinical reference data.
ALLERGY_CHOICES = (
    ("Penicillin", "Hives", "moderate"),
    ("Sulfa drugs", "Rash", "mild"),
    ("Latex", "Contact dermatitis", "mild"),
    ("Codeine", "Nausea and vomiting", "moderate"),
    ("Shellfish", "Throat swelling", "severe"),
    ("Adhesive tape", "Skin irritation", "mild"),
    ("Morphine", "Itching", "unknown"),
)


# Medication lists (fields of medications.services.medication_add). Opioid doses give a
# spread of daily MME (CDC 2022 factors): 20, 30, 60, 90 and 100, so the 50 and 90
# MME/day flags show on some patients and not on others.
MEDICATION_SETS: tuple[tuple[dict[str, Any], ...], ...] = (
    (
        {
            "drug_name": "Oxycodone",
            "strength": "10 mg",
            "opioid_key": "oxycodone",
            "dose_mg": Decimal(10),
            "doses_per_day": Decimal(4),
            "route": "oral",
        },
        {
            "drug_name": "Gabapentin",
            "ingredient": "gabapentin",
            "strength": "300 mg",
            "dose_mg": Decimal(300),
            "doses_per_day": Decimal(3),
            "route": "oral",
        },
    ),
    (
        {
            "drug_name": "Hydrocodone/acetaminophen",
            "strength": "5/325 mg",
            "opioid_key": "hydrocodone",
            "dose_mg": Decimal(5),
            "doses_per_day": Decimal(4),
            "prn": True,
            "route": "oral",
        },
    ),
    (
        {
            "drug_name": "Fentanyl patch",
            "strength": "25 mcg/hr",
            "opioid_key": "fentanyl-transdermal",
            "dose_mcg_per_hr": Decimal(25),
            "route": "transdermal",
        },
        {
            "drug_name": "Oxycodone",
            "strength": "5 mg",
            "opioid_key": "oxycodone",
            "dose_mg": Decimal(5),
            "doses_per_day": Decimal(4),
            "prn": True,
            "route": "oral",
        },
        {
            "drug_name": "Clonazepam",
            "ingredient": "clonazepam",
            "strength": "0.5 mg",
            "dose_mg": Decimal("0.5"),
            "doses_per_day": Decimal(2),
            "route": "oral",
        },
    ),
    (
        {
            "drug_name": "Tramadol",
            "strength": "50 mg",
            "opioid_key": "tramadol",
            "dose_mg": Decimal(50),
            "doses_per_day": Decimal(3),
            "route": "oral",
        },
        {
            "drug_name": "Duloxetine",
            "ingredient": "duloxetine",
            "strength": "60 mg",
            "dose_mg": Decimal(60),
            "doses_per_day": Decimal(1),
            "route": "oral",
        },
    ),
    (
        {
            "drug_name": "Sumatriptan",
            "ingredient": "sumatriptan",
            "strength": "50 mg",
            "dose_mg": Decimal(50),
            "doses_per_day": Decimal(2),
            "prn": True,
            "route": "oral",
        },
        {
            "drug_name": "Lamotrigine",
            "ingredient": "lamotrigine",
            "strength": "100 mg",
            "dose_mg": Decimal(100),
            "doses_per_day": Decimal(2),
            "route": "oral",
        },
    ),
    (
        {
            "drug_name": "Morphine ER",
            "strength": "30 mg",
            "opioid_key": "morphine",
            "dose_mg": Decimal(30),
            "doses_per_day": Decimal(2),
            "route": "oral",
        },
        {
            "drug_name": "Hydromorphone",
            "strength": "2 mg",
            "opioid_key": "hydromorphone",
            "dose_mg": Decimal(2),
            "doses_per_day": Decimal(4),
            "prn": True,
            "route": "oral",
        },
    ),
    (),
)

# Answers by link id: a spread of bands, with partial responses and drop-outs.
PHQ9_SETS = (
    {"1": 2, "2": 2, "3": 3, "4": 3, "5": 1, "6": 2, "7": 2, "8": 1, "9": 0, "10": 2},
    {"1": 1, "2": 0, "3": 2, "4": 1, "5": 0, "6": 1, "7": 0, "8": 0, "9": 0, "10": 1},
    {"1": 3, "2": 3, "3": 3, "4": 3, "5": 2, "6": 3, "7": 2, "8": 2, "9": 0, "10": 3},
    {"1": 2, "2": 1, "3": 3, "4": 2, "5": 1, "6": 1, "7": 1, "8": 0},  # item 9 left blank
    {"1": 0, "2": 0, "3": 1, "4": 1, "5": 0, "6": 0, "7": 0, "8": 0, "9": 0, "10": 0},
)
GAD7_SETS = (
    {"1": 2, "2": 2, "3": 2, "4": 1, "5": 1, "6": 2, "7": 1},
    {"1": 1, "2": 0, "3": 1, "4": 1, "5": 0, "6": 1, "7": 0},
    {"1": 3, "2": 3, "3": 2, "4": 3, "5": 2, "6": 2, "7": 3},
)
# The one patient whose screening answers item 9 above 0: the open alert of the demo.
ITEM9_INDEX = 2
PHQ9_ITEM9 = {"1": 3, "2": 3, "3": 2, "4": 3, "5": 1, "6": 3, "7": 2, "8": 1, "9": 1, "10": 2}
PCL5_PTSD = {
    str(i): v
    for i, v in enumerate((3, 3, 2, 2, 3, 3, 2, 1, 2, 3, 2, 2, 1, 2, 2, 3, 3, 2, 3, 2), start=1)
}


def _at(day: date, hour: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour, 15), tzinfo=ZoneInfo(tz))


def measures_present(organization: Organization) -> bool:
    return Allergy.objects.filter(patient__organization=organization).exists() or (
        Patient.objects.filter(
            organization=organization, no_known_allergies_at__isnull=False
        ).exists()
    )


def seed_measures(
    *, organization: Organization, clinics: dict[str, Clinic], users: dict[str, User], today: date
) -> int:
    """Record allergy status for the demo patients; returns how many patients were touched."""
    rng = random.Random(SEED)  # noqa: S311 - fictional demo data
    nurses = {
        clinic.id: users["nurse" if i == 0 else "nurse2"]
        for i, clinic in enumerate(clinics.values())
    }
    touched = 0
    patients = Patient.objects.filter(organization=organization).order_by("mrn")
    for index, plain in enumerate(patients):
        nurse = nurses[plain.preferred_clinic_id]
        patient = patient_get_for_user(user=nurse, patient_id=plain.id)
        roll = index % 8
        if roll in (0, 3):
            continue  # not yet asked: the banner must say so
        if roll in (1, 5):
            allergy_none_known(user=nurse, patient=patient)
        else:
            for substance, reaction, severity in rng.sample(ALLERGY_CHOICES, k=1 + (roll == 6)):
                allergy_add(
                    user=nurse,
                    patient=patient,
                    substance=substance,
                    reaction=reaction,
                    severity=severity,
                )
        touched += 1
        _seed_clinical_measures(patient, nurse, users, index, today, rng)
    return touched


def _seed_clinical_measures(
    patient: Patient,
    nurse: User,
    users: dict[str, User],
    index: int,
    today: date,
    rng: random.Random,
) -> None:
    """Screening questionnaires, vitals, medications and a PDMP check for most patients;
    some were never screened (new referrals) and one screening raises the item-9 alert."""
    clinic = patient.preferred_clinic
    tz = clinic.time_zone
    prescriber = users["prescriber" if nurse.username == "nurse" else "prescriber2"]
    if index % 9 == 4:
        return  # referred, not yet seen: nothing measured
    screened = today - timedelta(days=20 + index % 30)
    collected = _at(screened, 9 + index % 6, tz)
    if index == ITEM9_INDEX:
        # Screened this morning: the alert is open and not yet overdue when the demo starts.
        collected = timezone.now() - timedelta(hours=1)
    phq9 = PHQ9_ITEM9 if index == ITEM9_INDEX else PHQ9_SETS[index % len(PHQ9_SETS)]
    response_record(
        user=nurse,
        patient=patient,
        clinic=clinic,
        instrument_code="phq-9",
        answers=phq9,
        context="screening",
        collected_at=collected,
    )
    if index % 3 != 1:
        response_record(
            user=nurse,
            patient=patient,
            clinic=clinic,
            instrument_code="gad-7",
            answers=GAD7_SETS[index % len(GAD7_SETS)],
            context="screening",
            collected_at=collected,
        )
    if index % 7 == 3:
        response_record(
            user=nurse,
            patient=patient,
            clinic=clinic,
            instrument_code="pcl-5",
            answers=PCL5_PTSD,
            context="screening",
            collected_at=collected,
        )
    pain = 5 + index % 5
    response_record(
        user=nurse,
        patient=patient,
        clinic=clinic,
        instrument_code="peg",
        answers={"1": pain, "2": max(0, pain - 1), "3": min(10, pain + 1)},
        context="screening",
        collected_at=collected,
    )
    response_record(
        user=nurse,
        patient=patient,
        clinic=clinic,
        instrument_code="pain-nrs",
        answers={"1": pain},
        context="screening",
        collected_at=collected,
    )
    systolic = 112 + rng.randint(0, 38)
    observations_record(
        user=nurse,
        patient=patient,
        clinic=clinic,
        taken_at=collected,
        measurements={
            "systolic_bp": systolic,
            "diastolic_bp": systolic - 40 - rng.randint(0, 10),
            "heart_rate": 62 + rng.randint(0, 30),
            "spo2": 95 + rng.randint(0, 4),
            "respiratory_rate": 12 + rng.randint(0, 6),
            "body_weight": Decimal(55 + rng.randint(0, 50)),
            "body_height": Decimal(155 + rng.randint(0, 35)),
            "pain": pain,
        },
    )
    for med in MEDICATION_SETS[index % len(MEDICATION_SETS)]:
        medication_add(
            user=prescriber,
            patient=patient,
            clinic=clinic,
            data={
                **med,
                "start_date": today - timedelta(days=90 + index),
                "prescriber": patient.referring_provider_name or "Outside prescriber",
            },
        )
    if index % 2 == 0:
        pdmp_check_record(
            user=prescriber,
            patient=patient,
            clinic=clinic,
            state=clinic.state,
            result="no_concerns" if index % 10 else "concerns_noted",
            checked_at=collected + timedelta(hours=1),
            note="" if index % 10 else "Two prescribers in the last 90 days.",
        )
