"""Demo measures for the demo patients: allergies (and, as they exist, questionnaire
responses, vitals, medications and an open safety alert).

Deterministic (a fixed seed over the patients in MRN order) and varied on purpose: some
patients were never asked about allergies, some have none, some have several; the data
include the worrying cases a clinic must see, not only tidy ones.
"""

import random
from datetime import date

from ketapath.accounts.models import User
from ketapath.clinics.models import Clinic, Organization
from ketapath.patients.models import Allergy, Patient
from ketapath.patients.selectors import patient_get_for_user
from ketapath.patients.services import allergy_add, allergy_none_known

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
    return touched
