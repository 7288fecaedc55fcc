"""The patient's medication list, the MME snapshot written on every change, PDMP checks.

Doses are Decimals with the unit in the field name (DESIGN §5 item 10). An as-needed
medication is recorded at its maximum prescribed daily count (issue 3, item 6), so the
daily MME of an as-needed opioid is its highest prescribed daily amount.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from ketapath.clinics.models import Clinic
from ketapath.core.models import BaseModel
from ketapath.medications.catalogue import OPIOIDS
from ketapath.patients.models import Patient

OPIOID_KEY_CHOICES = [(entry.key, entry.key) for entry in OPIOIDS]


class Route(models.TextChoices):
    ORAL = "oral", "Oral"
    SUBLINGUAL = "sublingual", "Sublingual"
    BUCCAL = "buccal", "Buccal"
    TRANSDERMAL = "transdermal", "Transdermal"
    NASAL = "nasal", "Nasal"
    INHALED = "inhaled", "Inhaled"
    TOPICAL = "topical", "Topical"
    RECTAL = "rectal", "Rectal"
    SUBCUTANEOUS = "subcutaneous", "Subcutaneous"
    INTRAMUSCULAR = "intramuscular", "Intramuscular"
    INTRAVENOUS = "intravenous", "Intravenous"
    OTHER = "other", "Other"


class Medication(BaseModel):
    """One prescription on the patient's list, from this clinic or an outside prescriber.

    It is active on a day from ``start_date`` up to the day before ``stop_date``: the stop
    date is the first day the patient no longer takes it.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="medications")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    drug_name = models.CharField("drug (as prescribed)", max_length=200)
    ingredient = models.CharField(max_length=120)
    # NULL, not "", means "no code known": several ingredients have none in clinical.md.
    rxnorm_ingredient = models.CharField(  # noqa: DJ001
        "RxNorm ingredient (RxCUI)", max_length=12, null=True, blank=True
    )
    dose_form = models.CharField(max_length=80, blank=True)
    strength = models.CharField(max_length=60, blank=True)
    dose_mg = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    dose_mcg = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    dose_mcg_per_hr = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    doses_per_day = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    prn = models.BooleanField("as needed", default=False)
    route = models.CharField(max_length=20, choices=Route.choices, default=Route.ORAL)
    start_date = models.DateField()
    stop_date = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=300, blank=True)
    prescriber = models.CharField(max_length=200)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # NULL for a non-opioid: the dose-unit constraint reads "opioid_key IS NULL".
    opioid_key = models.CharField(  # noqa: DJ001
        max_length=40, choices=OPIOID_KEY_CHOICES, null=True, blank=True
    )

    class Meta:
        ordering = ["ingredient", "start_date"]
        indexes = [models.Index(fields=["patient", "stop_date"], name="med_patient_stop")]
        constraints = [
            models.CheckConstraint(
                condition=Q(stop_date__isnull=True) | Q(stop_date__gte=F("start_date")),
                name="med_stop_on_or_after_start",
            ),
            models.CheckConstraint(
                condition=Q(opioid_key__isnull=True)
                | Q(dose_mg__isnull=False, dose_mcg__isnull=True, dose_mcg_per_hr__isnull=True)
                | Q(dose_mg__isnull=True, dose_mcg__isnull=False, dose_mcg_per_hr__isnull=True)
                | Q(dose_mg__isnull=True, dose_mcg__isnull=True, dose_mcg_per_hr__isnull=False),
                name="med_opioid_one_dose_unit",
            ),
            models.CheckConstraint(
                condition=(Q(dose_mg__isnull=True) | Q(dose_mg__gt=0))
                & (Q(dose_mcg__isnull=True) | Q(dose_mcg__gt=0))
                & (Q(dose_mcg_per_hr__isnull=True) | Q(dose_mcg_per_hr__gt=0))
                & (Q(doses_per_day__isnull=True) | Q(doses_per_day__gt=0)),
                name="med_doses_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.drug_name} {self.strength}".strip()

    @property
    def is_opioid(self) -> bool:
        return self.opioid_key is not None


class MmeSnapshot(BaseModel):
    """The patient's daily MME as computed after one change to the medication list.

    Computed with ``rules.calculate`` over the opioids active on that day, with the flag
    thresholds of the clinic policy then in force (clinical.md §3.1). It records the
    figure for charting and review; MME never decides eligibility.
    """

    class Trigger(models.TextChoices):
        MEDICATION_ADDED = "medication_added", "Medication added"
        MEDICATION_EDITED = "medication_edited", "Medication edited"
        MEDICATION_STOPPED = "medication_stopped", "Medication stopped"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="mme_snapshots")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    computed_at = models.DateTimeField(db_index=True)
    computed_for = models.DateField(help_text="The day whose active opioids were counted.")
    total_mme = models.DecimalField(max_digits=9, decimal_places=1)
    factor_set = models.CharField(max_length=60)
    caution_at = models.PositiveSmallIntegerField()
    high_at = models.PositiveSmallIntegerField()
    policy_version = models.PositiveIntegerField()
    items = models.JSONField(default=list)
    flags = models.JSONField(default=list)
    excluded = models.JSONField(default=list)
    trigger = models.CharField(max_length=30, choices=Trigger.choices)
    medication = models.ForeignKey(
        Medication, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-computed_at", "-created_at"]
        indexes = [models.Index(fields=["patient", "-computed_at"], name="mme_patient_time")]
        constraints = [
            models.CheckConstraint(condition=Q(total_mme__gte=0), name="mme_total_not_negative")
        ]


class PdmpCheck(BaseModel):
    """A look-up in a state's prescription drug monitoring program, and what it showed."""

    class Result(models.TextChoices):
        NO_CONCERNS = "no_concerns", "No concerns"
        CONCERNS_NOTED = "concerns_noted", "Concerns noted"
        NOT_AVAILABLE = "not_available", "Not available"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pdmp_checks")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField()
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=2)
    result = models.CharField(max_length=20, choices=Result.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(result__in=["no_concerns", "concerns_noted", "not_available"]),
                name="pdmp_result_valid",
            )
        ]
